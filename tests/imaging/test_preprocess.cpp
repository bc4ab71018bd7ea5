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

core::Config model_config(size_t image_size = 16) {
  core::Config c;
  c.name = "small";
  c.hidden_size = 12;
  c.num_layers = 2;
  c.num_heads = 3;
  c.intermediate_size = 20;
  c.image_size = image_size;
  c.patch_size = 4;
  c.num_labels = 5;
  c.labels = {"ant", "bee", "cat", "dog", "eel"};
  c.validate("test");
  return c;
}

core::Tensor preprocess(const std::string& image, const imaging::PreprocessConfig& cfg,
                        const core::Config& model) {
  const std::string path = fixture_path(image);
  return imaging::views_to_tensor({imaging::model_view(imaging::read_image_file(path), cfg, model, path)},
                                  cfg);
}

TEST(Preprocess, MatchesTransformersForEveryOption) {
  const core::Config model = model_config();
  size_t cases = 0;
  // The manifest must outlive the loop (a temporary's member would dangle).
  const nlohmann::json manifest = fixture_manifest();
  for (const auto& item : manifest["preprocess"]) {
    const std::string name = item["name"];
    SCOPED_TRACE(name);
    ASSERT_EQ(item["image_size"], 16);
    const imaging::PreprocessConfig cfg =
        item["preprocessor"].is_null()
            ? imaging::default_preprocess_config(model)
            : imaging::parse_preprocess_config(item["preprocessor"], model, name);
    const core::Tensor actual = preprocess(item["image"], cfg, model);
    const core::Tensor expected = core::read_npy_float32(fixture_path(item["expected"]));
    ASSERT_EQ(actual.shape(), (core::Shape{1, 3, 16, 16}));
    ASSERT_EQ(expected.shape(), (core::Shape{3, 16, 16}));
    size_t differ = 0;
    for (size_t i = 0; i < expected.size(); ++i) {
      if (std::bit_cast<uint32_t>(actual[i]) != std::bit_cast<uint32_t>(expected[i])) {
        if (differ++ < 3) ADD_FAILURE() << "element " << i << ": " << actual[i] << " vs " << expected[i];
      }
    }
    EXPECT_EQ(differ, 0u);
    ++cases;
  }
  EXPECT_EQ(cases, 9u);
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
