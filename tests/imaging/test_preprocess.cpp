// Preprocessing, one case per option of preprocessor_config.json, against make_fixtures.py's
// transcription of transformers' steps (PIL resize, HF center_crop, rescale and normalize in
// numpy float32). Tolerance: none, bit for bit. The pixels are the same integers (resize is
// PIL-exact, see test_resize.cpp), and rescale and normalize are the same float32 operations in
// the same order, which IEEE arithmetic rounds identically; a difference of one ulp would mean we
// changed the order or the precision of a step.
#include <bit>
#include <filesystem>
#include <functional>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/npy.h"
#include "imaging/decode.h"
#include "imaging/preprocess.h"
#include "tests/cli/cli_runner.h"
#include "tests/imaging/fixtures.h"

namespace vitbench::testing {
namespace {

using nlohmann::json;

// The shared small model (tests/small_config.h) at `image_size`.
core::Config model_config(size_t image_size = 16) {
  core::Config c = small_config();
  c.image_size = image_size;
  c.validate("test");
  return c;
}

core::Tensor preprocess(const std::string& image, const imaging::PreprocessConfig& cfg,
                        const core::Config& model) {
  const std::string path = fixture_path(image);
  return imaging::views_to_tensor({imaging::model_view(imaging::read_image_file(path), cfg, model, path)},
                                  cfg);
}

// Runs every case of the manifest's list `cases` through the config `config_of` makes of it and
// compares the result with the fixture bit for bit; returns how many cases ran.
size_t expect_fixture_cases(const char* cases,
                            const std::function<imaging::PreprocessConfig(const json&)>& config_of) {
  const core::Config model = model_config();
  size_t count = 0;
  // The manifest must outlive the loop (a temporary's member would dangle).
  const json manifest = fixture_manifest();
  for (const auto& item : manifest[cases]) {
    SCOPED_TRACE(item["name"].get<std::string>());
    EXPECT_EQ(item["image_size"], 16);
    const core::Tensor actual = preprocess(item["image"], config_of(item), model);
    const core::Tensor expected = core::read_npy_float32(fixture_path(item["expected"]));
    EXPECT_EQ(actual.shape(), (core::Shape{1, 3, 16, 16}));
    EXPECT_EQ(expected.shape(), (core::Shape{3, 16, 16}));
    if (actual.size() != expected.size()) continue;
    size_t differ = 0;
    for (size_t i = 0; i < expected.size(); ++i) {
      if (std::bit_cast<uint32_t>(actual[i]) != std::bit_cast<uint32_t>(expected[i])) {
        if (differ++ < 3) ADD_FAILURE() << "element " << i << ": " << actual[i] << " vs " << expected[i];
      }
    }
    EXPECT_EQ(differ, 0u);
    ++count;
  }
  return count;
}

TEST(Preprocess, MatchesTransformersForEveryOption) {
  const core::Config model = model_config();
  EXPECT_EQ(expect_fixture_cases("preprocess",
                                 [&](const json& item) {
                                   return item["preprocessor"].is_null()
                                              ? imaging::default_preprocess_config(model)
                                              : imaging::parse_preprocess_config(
                                                    item["preprocessor"], model, item["name"]);
                                 }),
            9u);
}

// timm's eval transform, one case per option of pretrained_cfg, against make_fixtures.py's
// transcription of torchvision's steps. Bit for bit, as above: the same integers after PIL's
// resize and the crop, then the same float32 division and normalization.
TEST(Preprocess, MatchesTimmForEveryOption) {
  const core::Config model = model_config();
  EXPECT_EQ(expect_fixture_cases("timm_preprocess",
                                 [&](const json& item) {
                                   return imaging::parse_timm_data_config(item["pretrained_cfg"],
                                                                          model, item["name"]);
                                 }),
            7u);
}

// timm's ToTensor divides by 255 in float32 where HF rounds the float64 product x * (1 / 255) to
// float32: one code path serves both only because the two agree on every 8-bit value.
TEST(Preprocess, TorchvisionsDivisionIsHuggingFacesRescaleForEveryByte) {
  for (int p = 0; p < 256; ++p) {
    const auto divided = static_cast<float>(p) / 255.0f;
    const auto rescaled = static_cast<float>(static_cast<double>(p) * (1.0 / 255.0));
    ASSERT_EQ(std::bit_cast<uint32_t>(divided), std::bit_cast<uint32_t>(rescaled)) << p;
  }
}

TEST(Preprocess, TimmDefaultsAreResolveDataConfigs) {
  const imaging::PreprocessConfig d =
      imaging::parse_timm_data_config(json::object(), model_config(224), "timm");
  EXPECT_EQ(d.crop_rounding, imaging::CropRounding::Torchvision);
  EXPECT_TRUE(d.resize_shortest_edge);
  EXPECT_EQ(d.shortest_edge, 256u);  // floor(224 / 0.875)
  EXPECT_EQ(d.resample, imaging::Resample::Bicubic);
  EXPECT_TRUE(d.do_center_crop);
  EXPECT_EQ(d.crop_height, 224u);
  EXPECT_EQ(d.crop_width, 224u);
  EXPECT_EQ(d.image_mean, (std::array<double, 3>{0.485, 0.456, 0.406}));
  EXPECT_EQ(d.image_std, (std::array<double, 3>{0.229, 0.224, 0.225}));
  // crop_pct 0.9 at 224 px: floor(248.88...) = 248.
  EXPECT_EQ(imaging::parse_timm_data_config({{"crop_pct", 0.9}}, model_config(224), "t").shortest_edge,
            248u);
}

TEST(Preprocess, DefaultsAreViTImageProcessors) {
  const imaging::PreprocessConfig d = imaging::default_preprocess_config(model_config(224));
  EXPECT_TRUE(d.do_resize);
  EXPECT_FALSE(d.resize_shortest_edge);
  EXPECT_EQ(d.resize_height, 224u);
  EXPECT_EQ(d.resize_width, 224u);
  EXPECT_EQ(d.resample, imaging::Resample::Bilinear);
  EXPECT_FALSE(d.do_center_crop);
  EXPECT_TRUE(d.do_rescale);
  EXPECT_EQ(d.rescale_factor, 1.0 / 255.0);
  EXPECT_TRUE(d.do_normalize);
  EXPECT_EQ(d.image_mean, (std::array<double, 3>{0.5, 0.5, 0.5}));
  EXPECT_EQ(d.image_std, (std::array<double, 3>{0.5, 0.5, 0.5}));
}

class LoadImages : public ::testing::Test {
 protected:
  TempDir dir_;
};

TEST_F(LoadImages, FolderFilePresetAndBatchOrder) {
  const core::Config model = model_config();
  const std::vector<std::string> paths = {fixture_path("noise_37x23.png"), fixture_path("pixel_1x1.png"),
                                          fixture_path("noise_37x23.png")};
  // No file: the defaults; a preset name: the defaults.
  const core::Tensor by_default = imaging::load_images_for_model(paths, model, dir_.path().string());
  ASSERT_EQ(by_default.shape(), (core::Shape{3, 3, 16, 16}));
  const core::Tensor by_preset = imaging::load_images_for_model(paths, model, "vit-ti16");
  EXPECT_EQ(std::vector<float>(by_default.data(), by_default.data() + by_default.size()),
            std::vector<float>(by_preset.data(), by_preset.data() + by_preset.size()));
  // One batch, in the order given: rows 0 and 2 are the same file, row 1 the flat 1x1 image.
  const size_t plane = 3 * 16 * 16;
  const core::Tensor single = preprocess("noise_37x23.png", imaging::default_preprocess_config(model), model);
  for (size_t i = 0; i < plane; ++i) {
    ASSERT_EQ(by_default[i], single[i]);
    ASSERT_EQ(by_default[2 * plane + i], single[i]);
    ASSERT_EQ(by_default[plane + i], by_default[plane + (i / 256) * 256]);  // flat per channel
  }

  // With a preprocessor_config.json, it is honoured.
  const json cfg = {{"do_normalize", false}, {"do_rescale", false}, {"resample", 3}};
  std::ofstream(dir_ / "preprocessor_config.json") << cfg.dump();
  const core::Tensor raw = imaging::load_images_for_model({paths[1]}, model, dir_.path().string());
  const imaging::RgbImage pixel = imaging::read_image_file(paths[1]);
  for (size_t c = 0; c < 3; ++c) EXPECT_EQ(raw[c * 256 + 17], float(pixel.pixels[c])) << c;
}

TEST_F(LoadImages, TimmFolderFollowsItsPretrainedCfgUnlessAPreprocessorConfigIsThere) {
  const core::Config model = model_config();
  const json timm_config = {
      {"architecture", "vit_base_patch4_16"},
      {"num_classes", 5},
      {"pretrained_cfg", {{"input_size", {3, 16, 16}}, {"crop_pct", 0.84}, {"mean", {0.5, 0.4, 0.3}}}}};
  std::ofstream(dir_ / "config.json") << timm_config.dump();
  const imaging::PreprocessConfig cfg = imaging::preprocess_config_for_model(dir_.path(), model);
  EXPECT_EQ(cfg.crop_rounding, imaging::CropRounding::Torchvision);
  EXPECT_EQ(cfg.shortest_edge, 19u);
  EXPECT_EQ(cfg.image_mean, (std::array<double, 3>{0.5, 0.4, 0.3}));
  EXPECT_EQ(cfg.source, dir_.file("config.json") + ": pretrained_cfg");
  // timm's older single-dict config.json: the same keys at the top level.
  json single = timm_config;
  for (const auto& [key, value] : timm_config["pretrained_cfg"].items()) single[key] = value;
  single.erase("pretrained_cfg");
  std::ofstream(dir_ / "config.json") << single.dump();
  const imaging::PreprocessConfig legacy = imaging::preprocess_config_for_model(dir_.path(), model);
  EXPECT_EQ(legacy.shortest_edge, 19u);
  EXPECT_EQ(legacy.image_mean, (std::array<double, 3>{0.5, 0.4, 0.3}));
  EXPECT_EQ(legacy.source, dir_.file("config.json"));
  // A HuggingFace config.json: ViTImageProcessor's defaults.
  std::ofstream(dir_ / "config.json") << json{{"hidden_size", 12}}.dump();
  EXPECT_EQ(imaging::preprocess_config_for_model(dir_.path(), model).crop_rounding,
            imaging::CropRounding::HuggingFace);
  // preprocessor_config.json, when present, is what transformers would use.
  std::ofstream(dir_ / "config.json") << timm_config.dump();
  std::ofstream(dir_ / "preprocessor_config.json") << json{{"resample", 3}}.dump();
  const imaging::PreprocessConfig hf = imaging::preprocess_config_for_model(dir_.path(), model);
  EXPECT_EQ(hf.crop_rounding, imaging::CropRounding::HuggingFace);
  EXPECT_EQ(hf.source, dir_.file("preprocessor_config.json"));
}

void expect_error(const std::function<void()>& f, const std::string& where, const std::string& problem) {
  try {
    f();
    ADD_FAILURE() << "accepted; expected \"" << problem << "\"";
  } catch (const core::Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind(where + ": ", 0), 0u) << m;
    EXPECT_NE(m.find(problem), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

TEST(Preprocess, BadConfigsAreRefusedByName) {
  const core::Config model = model_config();
  const std::vector<std::pair<json, std::string>> bad = {
      {json::array(), "expected a JSON object"},
      {{{"resample", 1}}, "1 (Lanczos) is not supported"},
      {{{"resample", 0}}, "0 (nearest) is not supported"},
      {{{"resample", "bilinear"}}, "\"resample\" must be an integer"},
      {{{"size", {{"longest_edge", 224}}}}, "longest_edge"},
      {{{"size", "big"}}, "\"size\" must be an integer or {\"height\", \"width\"}"},
      {{{"size", {{"height", 0}, {"width", 16}}}}, "\"size.height\" must be an integer in [1, 16384]"},
      {{{"crop_size", {{"height", 16}}}}, "\"crop_size\" must be an integer or"},
      {{{"do_resize", "yes"}}, "\"do_resize\" must be true or false"},
      {{{"image_std", {0.5, 0.0, 0.5}}}, "zero entry"},
      {{{"image_mean", {0.5, 0.5}}}, "\"image_mean\" must be a number or a list of 3 numbers"},
      {{{"rescale_factor", "1/255"}}, "\"rescale_factor\" must be a finite number"},
      {{{"crop_pct", 0.875}}, "\"crop_pct\" is not supported"},
      {{{"do_flip_channel_order", true}}, "\"do_flip_channel_order\" is not supported"},
  };
  for (const auto& [j, problem] : bad) {
    expect_error([&] { imaging::parse_preprocess_config(j, model, "m/preprocessor_config.json"); },
                 "m/preprocessor_config.json", problem);
  }
  // Keys that change nothing here are accepted: crop_pct null, do_pad false, unknown keys.
  EXPECT_NO_THROW(imaging::parse_preprocess_config(
      {{"crop_pct", nullptr}, {"do_pad", false}, {"image_processor_type", "ViTImageProcessor"}}, model, "m"));
}

TEST(Preprocess, TimmOptionsItCannotFollowAreRefusedByName) {
  const core::Config model = model_config();
  const std::vector<std::pair<json, std::string>> bad = {
      {json::array(), "expected a JSON object"},
      {{{"interpolation", "nearest"}}, "\"interpolation\" \"nearest\" is not supported"},
      {{{"crop_mode", "border"}}, "\"crop_mode\" \"border\" is not supported"},
      {{{"crop_border_pixels", 4}}, "\"crop_border_pixels\" is not supported"},
      {{{"crop_pct", 0}}, "\"crop_pct\" must be a number in (0.01, 100]"},
      {{{"crop_pct", "0.9"}}, "\"crop_pct\" must be a number"},
      {{{"input_size", {3, 16, 20}}}, "non-square \"input_size\" with crop_mode \"center\""},
      {{{"input_size", {16, 16}}}, "\"input_size\" must be [channels, height, width]"},
      {{{"std", {0.5, 0, 0.5}}}, "zero entry"},
      {{{"mean", "imagenet"}}, "\"mean\" must be a number or a list of 3 numbers"},
  };
  for (const auto& [j, problem] : bad) {
    expect_error([&] { imaging::parse_timm_data_config(j, model, "m/config.json: pretrained_cfg"); },
                 "m/config.json: pretrained_cfg", problem);
  }
  // What timm reads as "nothing to do": no border to trim, null crop settings.
  EXPECT_NO_THROW(imaging::parse_timm_data_config(
      {{"crop_border_pixels", 0}, {"crop_pct", nullptr}, {"crop_mode", nullptr}, {"tag", "x"}}, model, "m"));
}

TEST(Preprocess, SizeMismatchNamesImageAndSource) {
  const core::Config model = model_config();
  // The shortest edge alone keeps the aspect ratio: 37x23 becomes 25x16, not square.
  const auto cfg = imaging::parse_preprocess_config({{"size", {{"shortest_edge", 16}}}}, model, "m/pp.json");
  const std::string path = fixture_path("noise_37x23.png");
  expect_error([&] { imaging::model_view(imaging::read_image_file(path), cfg, model, path); }, path,
               "turns this 37x23 image into 25x16, but the model expects 16x16 (preprocessing: m/pp.json)");
}

TEST(Preprocess, RefusesModelsThatAreNotRgb) {
  core::Config gray = model_config();
  gray.num_channels = 1;
  expect_error([&] { imaging::load_images_for_model({fixture_path("pixel_1x1.png")}, gray, ""); }, "small",
               "3-channel (RGB) model");
}

TEST_F(LoadImages, BadFileInABatchIsNamed) {
  const std::string bad = dir_ / "broken.png";
  std::ofstream(bad) << "not an image";
  expect_error([&] { imaging::load_images_for_model({fixture_path("pixel_1x1.png"), bad}, model_config(), ""); },
               bad, "not a PNG, JPEG, BMP or PPM/PGM image");
}

}  // namespace
}  // namespace vitbench::testing
