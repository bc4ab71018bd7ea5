// Real images through the real binary, as a user runs them: `vitbench infer --image ... [--json]`
// and `vitbench attention`.
//
// How infer --image is checked: every file's model input is computed here, apart from the CLI
// (pixels known by construction, or decoded and resized by imaging/ whose pixels test_decode and
// test_resize hold against PIL; rescale and normalize written out from HF's formulas), saved as a
// .npy, and run through `infer --input`. Both runs use the same backend on what must be the same
// float32 tensor, so their logits must agree. Tolerance: 1e-6 relative to the largest logit. The
// logits are saved as float32 (6e-8 relative rounding) and an input off by one ulp would move them
// by about the model's gain times 6e-8; the smallest real mistake, one grey level in one pixel,
// moves them by far more, and OneGreyLevelIsVisible proves that the bound sees it.
#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/metrics.h"
#include "core/model_loader.h"
#include "core/npy.h"
#include "core/taps.h"
#include "imaging/decode.h"
#include "imaging/encode.h"
#include "imaging/heatmap.h"
#include "imaging/resize.h"
#include "reference/vit.h"
#include "tests/cli/cli_runner.h"
#include "tests/file_bytes.h"
#include "tests/imaging/expected_maps.h"
#include "tests/imaging/fixtures.h"

namespace vitbench::testing {
namespace {

namespace fs = std::filesystem;
using imaging::RgbImage;
using nlohmann::json;

constexpr size_t kSize = 16;           // the model's image_size
constexpr double kLogitTolerance = 1e-6;  // see the top of the file

// The commands' small model with one layer more and 16 px images (16 patches of 4 px).
core::Config images_model_config() {
  core::Config c = small_config();
  c.num_layers = 3;
  c.image_size = kSize;
  c.validate("test");
  return c;
}

// Every sample differs from its neighbours, so a swapped channel, a flipped row or an
// off-by-one column changes the input.
RgbImage pattern(size_t w, size_t h, unsigned salt = 0) {
  RgbImage image(w, h);
  for (size_t y = 0; y < h; ++y) {
    for (size_t x = 0; x < w; ++x) {
      image.at(x, y)[0] = uint8_t(10 + 15 * x + y + salt);
      image.at(x, y)[1] = uint8_t(200 - 11 * y + x);
      image.at(x, y)[2] = uint8_t(7 * x * y + 3 + 5 * salt);
    }
  }
  return image;
}

std::string ppm(const RgbImage& image) {
  std::string out = "P6\n" + std::to_string(image.width) + " " + std::to_string(image.height) + "\n255\n";
  out.append(image.pixels.begin(), image.pixels.end());
  return out;
}

std::string pgm(const std::vector<uint8_t>& gray, size_t w, size_t h) {
  std::string out = "P5\n" + std::to_string(w) + " " + std::to_string(h) + "\n255\n";
  out.append(gray.begin(), gray.end());
  return out;
}

// 24-bit BI_RGB BMP written by hand: rows bottom-up, padded to 4 bytes, samples B, G, R.
std::string bmp24(const RgbImage& image) {
  const size_t row = (image.width * 3 + 3) / 4 * 4;
  std::string s(54 + row * image.height, '\0');
  auto put = [&](size_t at, uint32_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) s[at + i] = char(v >> (8 * i));
  };
  s[0] = 'B';
  s[1] = 'M';
  put(2, uint32_t(s.size()), 4);
  put(10, 54, 4);
  put(14, 40, 4);
  put(18, uint32_t(image.width), 4);
  put(22, uint32_t(image.height), 4);
  put(26, 1, 2);
  put(28, 24, 2);
  put(34, uint32_t(row * image.height), 4);
  for (size_t y = 0; y < image.height; ++y) {
    for (size_t x = 0; x < image.width; ++x) {
      const uint8_t* p = image.at(x, image.height - 1 - y);
      const size_t at = 54 + y * row + x * 3;
      s[at] = char(p[2]);
      s[at + 1] = char(p[1]);
      s[at + 2] = char(p[0]);
    }
  }
  return s;
}

struct Normalisation {
  double rescale = 1.0 / 255.0;
  std::array<double, 3> mean{0.5, 0.5, 0.5}, std{0.5, 0.5, 0.5};
};

// HF's rescale and normalize, transcribed: the uint8 pixel times the factor in float64, stored as
// float32; then (x - float32(mean)) / float32(std) in float32.
core::Tensor to_input(const std::vector<RgbImage>& views, const Normalisation& n = {}) {
  core::Tensor t({views.size(), 3, kSize, kSize});
  size_t i = 0;
  for (const RgbImage& v : views) {
    EXPECT_EQ(v.width, kSize);
    EXPECT_EQ(v.height, kSize);
    for (size_t c = 0; c < 3; ++c) {
      for (size_t y = 0; y < kSize; ++y) {
        for (size_t x = 0; x < kSize; ++x) {
          const float scaled = static_cast<float>(double(v.at(x, y)[c]) * n.rescale);
          t[i++] = (scaled - static_cast<float>(n.mean[c])) / static_cast<float>(n.std[c]);
        }
      }
    }
  }
  return t;
}

class ImagesCli : public ::testing::Test {
 protected:
  void SetUp() override {
    model_dir_ = dir_ / "model";
    fs::create_directories(model_dir_);
    model_ = {images_model_config(), core::generate_weights(images_model_config(), 3)};
    core::save_model_folder(model_, model_dir_, core::NameScheme::HuggingFace);
  }

  // Logits [N, 5] from `infer` with these arguments (and --output), which must succeed.
  core::TensorD logits_of(std::vector<std::string> args, const std::string& model = "") {
    const std::string out = dir_ / "logits.npy";
    fs::remove(out);
    args.insert(args.begin(), {"infer", "--model", model.empty() ? model_dir_ : model, "--output", out});
    const CommandResult r = run_cli(args, dir_);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    if (r.exit_code != 0) return core::TensorD({1, 5}, NAN);
    const core::NpyArray a = core::read_npy(out);
    EXPECT_EQ(a.dtype, core::NpyDtype::Float32);
    return a.values;
  }

  // Logits of `infer --input` on `images`, saved here.
  core::TensorD logits_of_tensor(const core::Tensor& images, const std::string& model = "") {
    const std::string path = dir_ / "images.npy";
    core::write_npy(path, images);
    return logits_of({"--input", path}, model);
  }

  static void expect_same_logits(const core::TensorD& actual, const core::TensorD& expected) {
    ASSERT_EQ(actual.shape(), expected.shape());
    const core::Comparison c = core::compare(actual.span(), expected.span(), 5);
    EXPECT_LE(c.max_rel_error, kLogitTolerance) << core::summarize(c);
  }

  // The contract for a bad image: exit 2, one line naming the file, no output left.
  void expect_refused(const CommandResult& r, const std::string& file, const std::string& problem,
                      const std::string& output) {
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_EQ(r.err.rfind("vitbench: error: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
    EXPECT_NE(r.err.find(file), std::string::npos) << "should name " << file << ": " << r.err;
    EXPECT_NE(r.err.find(problem), std::string::npos) << "should say " << problem << ": " << r.err;
    EXPECT_FALSE(fs::exists(output)) << output << " must not be left behind";
  }

  TempDir dir_;
  std::string model_dir_;
  core::Model model_;
};

TEST_F(ImagesCli, EveryFormatGivesTheLogitsOfItsTensor) {
  const RgbImage rgb = pattern(kSize, kSize);
  // At the model's size the default resize keeps every pixel (PIL skips an axis that keeps its
  // size), so the input is known exactly from the pixels.
  struct Case {
    std::string file;
    std::string bytes;
    RgbImage pixels;  // what the model must see
  };
  std::vector<Case> cases;
  cases.push_back({"rgb.png", imaging::encode_png(rgb), rgb});

  // RGBA: alpha dropped, not composited; transparent pixels keep their colour.
  std::vector<uint8_t> rgba;
  for (size_t i = 0; i < kSize * kSize; ++i) {
    rgba.insert(rgba.end(), rgb.pixels.begin() + 3 * i, rgb.pixels.begin() + 3 * i + 3);
    rgba.push_back(uint8_t(i % 3 == 0 ? 0 : 17 * i));
  }
  cases.push_back({"rgba.png", imaging::encode_png(kSize, kSize, 4, rgba.data()), rgb});

  cases.push_back({"rgb.ppm", ppm(rgb), rgb});
  cases.push_back({"rgb.bmp", bmp24(rgb), rgb});

  // Gray: expanded to R = G = B, in a PGM and in a gray PNG.
  std::vector<uint8_t> gray(kSize * kSize);
  RgbImage expanded(kSize, kSize);
  for (size_t i = 0; i < gray.size(); ++i) {
    gray[i] = uint8_t(30 + 13 * i % 200);
    std::fill_n(expanded.pixels.begin() + 3 * i, 3, gray[i]);
  }
  cases.push_back({"gray.pgm", pgm(gray, kSize, kSize), expanded});
  cases.push_back({"gray.png", imaging::encode_png(kSize, kSize, 1, gray.data()), expanded});

  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    write_bytes(dir_ / c.file, c.bytes);
    expect_same_logits(logits_of({"--image", dir_ / c.file}), logits_of_tensor(to_input({c.pixels})));
  }

  // JPEG is lossy, so its pixels come from the decoder (held to PIL's by test_decode), and the
  // 40x30 picture is resized to 16x16 with the default bilinear filter (held to PIL's by
  // test_resize). Baseline, progressive and gray JPEGs.
  for (const char* name : {"smooth_q90.jpg", "smooth_progressive.jpg", "smooth_gray.jpg"}) {
    SCOPED_TRACE(name);
    const RgbImage decoded = imaging::read_image_file(fixture_path(name));
    ASSERT_EQ(decoded.width, 40u);
    const RgbImage view = imaging::resize(decoded, kSize, kSize, imaging::Resample::Bilinear);
    expect_same_logits(logits_of({"--image", fixture_path(name)}), logits_of_tensor(to_input({view})));
  }
}

TEST_F(ImagesCli, OneGreyLevelIsVisible) {
  // The tolerance above must be able to fail: one level in one pixel's red is a real
  // preprocessing mistake, and it must exceed the bound.
  const RgbImage rgb = pattern(kSize, kSize);
  write_bytes(dir_ / "rgb.png", imaging::encode_png(rgb));
  RgbImage off = rgb;
  off.at(5, 9)[0] += 1;
  const core::TensorD good = logits_of({"--image", dir_ / "rgb.png"});
  const core::TensorD bad = logits_of_tensor(to_input({off}));
  const core::Comparison c = core::compare(good.span(), bad.span());
  EXPECT_GT(c.max_rel_error, 10 * kLogitTolerance) << core::summarize(c);
}

TEST_F(ImagesCli, PreprocessorConfigInTheModelFolderIsHonoured) {
  // A 20x18 picture, not resized, centre-cropped to 16x16 (corner at (2, 1): floor of half the
  // excess), normalised with other means and stds: every step's effect known by hand.
  const RgbImage picture = pattern(20, 18, 9);
  write_bytes(dir_ / "p.png", imaging::encode_png(picture));
  const std::string with_config = dir_ / "model_pp";
  fs::copy(model_dir_, with_config);
  const json pp = {{"do_resize", false},       {"do_center_crop", true},
                   {"crop_size", kSize},       {"rescale_factor", 0.0039},
                   {"image_mean", {0.4, 0.5, 0.6}}, {"image_std", {0.2, 0.25, 0.3}}};
  write_bytes(with_config + "/preprocessor_config.json", pp.dump());

  RgbImage cropped(kSize, kSize);
  for (size_t y = 0; y < kSize; ++y) {
    for (size_t x = 0; x < kSize; ++x) std::copy_n(picture.at(x + 2, y + 1), 3, cropped.at(x, y));
  }
  Normalisation n;
  n.rescale = 0.0039;
  n.mean = {0.4, 0.5, 0.6};
  n.std = {0.2, 0.25, 0.3};
  const core::TensorD honoured = logits_of({"--image", dir_ / "p.png"}, with_config);
  expect_same_logits(honoured, logits_of_tensor(to_input({cropped}, n), with_config));

  // Without the file the same picture is resized with the defaults: a different input, and
  // logits that differ well beyond the tolerance.
  const core::TensorD defaults = logits_of({"--image", dir_ / "p.png"});
  expect_same_logits(defaults, logits_of_tensor(to_input({imaging::resize(picture, kSize, kSize,
                                                                          imaging::Resample::Bilinear)})));
  EXPECT_GT(core::compare(honoured.span(), defaults.span()).max_rel_error, 1e-3);

  // A key that would change the algorithm in a way not implemented is refused, naming the file.
  write_bytes(with_config + "/preprocessor_config.json", json{{"resample", 1}}.dump());
  const CommandResult r = run_cli({"infer", "--model", with_config, "--image", dir_ / "p.png", "--output",
                               dir_ / "out.npy"},
                              dir_);
  expect_refused(r, "preprocessor_config.json", "Lanczos", dir_ / "out.npy");
}

TEST_F(ImagesCli, TimmFolderIsPreprocessedAsTimmEvaluates) {
  // The same model saved as timm saves it: timm's tensor names and timm's config.json, whose
  // pretrained_cfg asks for crop_pct 0.84 (the shorter side to floor(16 / 0.84) = 19 px), a centre
  // crop and other means and stds. A 19x19 picture is not resized, and torchvision's crop of 16
  // from 19 starts at round(1.5) = 2 on both axes, where HF's would start at 1.
  const std::string timm_dir = dir_ / "timm";
  fs::create_directories(timm_dir);
  core::save_model_folder(model_, timm_dir, core::NameScheme::Timm);
  const json config = {
      {"architecture", "vit_base_patch4_16"},
      {"num_classes", 5},
      {"label_names", model_.config.labels},
      {"model_args", {{"embed_dim", 12}, {"num_heads", 3}}},
      {"pretrained_cfg",
       {{"input_size", {3, kSize, kSize}}, {"interpolation", "bicubic"}, {"crop_pct", 0.84},
        {"crop_mode", "center"}, {"mean", {0.4, 0.5, 0.6}}, {"std", {0.2, 0.25, 0.3}}}}};
  write_bytes(timm_dir + "/config.json", config.dump());
  const RgbImage picture = pattern(19, 19, 5);
  write_bytes(dir_ / "p.png", imaging::encode_png(picture));

  RgbImage cropped(kSize, kSize);
  for (size_t y = 0; y < kSize; ++y) {
    for (size_t x = 0; x < kSize; ++x) std::copy_n(picture.at(x + 2, y + 2), 3, cropped.at(x, y));
  }
  Normalisation n;
  n.mean = {0.4, 0.5, 0.6};
  n.std = {0.2, 0.25, 0.3};
  const core::Tensor input = to_input({cropped}, n);
  const core::TensorD by_tensor = logits_of_tensor(input, timm_dir);
  expect_same_logits(logits_of({"--image", dir_ / "p.png"}, timm_dir), by_tensor);
  // The timm folder is the HuggingFace one's twin: the same logits for the same tensor.
  expect_same_logits(by_tensor, logits_of_tensor(input));
}

TEST_F(ImagesCli, JsonIsOneDocumentConsistentWithTheLogits) {
  write_bytes(dir_ / "a.png", imaging::encode_png(pattern(kSize, kSize)));
  write_bytes(dir_ / "b.ppm", ppm(pattern(23, 31, 40)));
  const std::vector<std::string> files = {dir_ / "a.png", dir_ / "b.ppm"};
  const CommandResult r = run_cli({"infer", "--model", model_dir_, "--image", files[0], files[1], "--json",
                               "--top", "3", "--threads", "2", "--output", dir_ / "logits.npy"},
                              dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j;
  ASSERT_NO_THROW(j = json::parse(r.out)) << "stdout must be the JSON document alone:\n" << r.out;
  EXPECT_EQ(j["model"], model_dir_);
  EXPECT_EQ(j["backend"], "reference");
  EXPECT_EQ(j["threads"], 2);
  EXPECT_EQ(j["logits_npy"], dir_ / "logits.npy");
  const core::TensorD logits = core::read_npy(dir_ / "logits.npy").values;
  ASSERT_EQ(logits.shape(), (core::Shape{2, 5}));
  ASSERT_EQ(j["images"].size(), 2u);
  for (size_t n = 0; n < 2; ++n) {
    SCOPED_TRACE(n);
    const json& image = j["images"][n];
    EXPECT_EQ(image["input"], files[n]);
    const json& top = image["top"];
    ASSERT_EQ(top.size(), 3u);
    // Softmax of the saved float32 logits, in float64, computed here.
    double z = 0;
    for (size_t k = 0; k < 5; ++k) z += std::exp(logits[n * 5 + k]);
    std::vector<bool> seen(5, false);
    for (size_t rank = 0; rank < 3; ++rank) {
      const json& t = top[rank];
      EXPECT_EQ(t["rank"], rank + 1);
      const size_t k = t["class"];
      ASSERT_LT(k, 5u);
      EXPECT_FALSE(seen[k]);
      seen[k] = true;
      EXPECT_EQ(t["label"], model_.config.labels[k]);
      const double p = t["probability"], logit = t["logit"];
      EXPECT_GT(p, 0);
      EXPECT_LE(p, 1);
      // The JSON carries the float64 logits; the .npy the same rounded to float32 (2^-24
      // relative), and the softmax moves by at most twice that difference times the logits'
      // size: 1e-6 covers it, while another class's probability is off by percents.
      EXPECT_NEAR(logit, logits[n * 5 + k], 1e-6 * std::max(1.0, std::abs(logit)));
      EXPECT_NEAR(p, std::exp(logits[n * 5 + k]) / z, 1e-6);
      if (rank > 0) {
        EXPECT_GE(top[rank - 1]["logit"].get<double>(), logit);
        EXPECT_GE(top[rank - 1]["probability"].get<double>(), p);
      }
    }
    // Ranked first is the largest logit of the row.
    double best = logits[n * 5];
    for (size_t k = 1; k < 5; ++k) best = std::max(best, logits[n * 5 + k]);
    EXPECT_EQ(float(top[0]["logit"].get<double>()), float(best));
  }

  // All five classes: the probabilities of a row sum to 1.
  const CommandResult all = run_cli({"infer", "--model", model_dir_, "--image", files[0], "--json"}, dir_);
  ASSERT_EQ(all.exit_code, 0) << all.err;
  const json every = json::parse(all.out);
  ASSERT_EQ(every["images"][0]["top"].size(), 5u);  // the default top 5 (all the labels here)
  double sum = 0;
  for (const json& t : every["images"][0]["top"]) sum += t["probability"].get<double>();
  EXPECT_NEAR(sum, 1.0, 1e-12);
  EXPECT_FALSE(every.contains("logits_npy"));

  // Every backend keeps stdout to the JSON alone (no library chatter), and ranks the same way: the
  // top logit leads the runner-up by far more than float32 rounding can move either.
  const CommandResult listed = run_cli({"backends"}, dir_);
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  for (const std::string& backend : lines_of(listed.out)) {
    SCOPED_TRACE(backend);
    const CommandResult b = run_cli({"infer", "--model", model_dir_, "--image", files[0], files[1], "--json",
                                 "--backend", backend, "--threads", "2"},
                                dir_);
    ASSERT_EQ(b.exit_code, 0) << b.err;
    json other;
    ASSERT_NO_THROW(other = json::parse(b.out)) << b.out;
    EXPECT_EQ(other["backend"], backend);
    for (size_t n = 0; n < 2; ++n) {
      ASSERT_GT(j["images"][n]["top"][0]["logit"].get<double>() - j["images"][n]["top"][1]["logit"].get<double>(),
                1e-3);
      EXPECT_EQ(other["images"][n]["top"][0]["class"], j["images"][n]["top"][0]["class"]);
    }
  }

  // Without --json, the same classes for people: each image named, then its ranked labels.
  const CommandResult text = run_cli({"infer", "--model", model_dir_, "--image", files[0], files[1]}, dir_);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("image 0: " + files[0]), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("image 1: " + files[1]), std::string::npos) << text.out;
  const std::string first = "1. " + j["images"][1]["top"][0]["label"].get<std::string>();
  EXPECT_NE(text.out.find(first, text.out.find("image 1:")), std::string::npos) << text.out;
}

TEST_F(ImagesCli, ABatchGivesEachImageItsOwnLogits) {
  write_bytes(dir_ / "a.png", imaging::encode_png(pattern(kSize, kSize)));
  write_bytes(dir_ / "b.bmp", bmp24(pattern(29, 21, 77)));
  const std::vector<std::string> files = {dir_ / "a.png", dir_ / "b.bmp", fixture_path("smooth_q90.jpg"),
                                          dir_ / "a.png"};
  // The reference is float64 and treats each image alone, so exact; the optimized backends run the
  // batch through other GEMM shapes, which may round differently in float32 (1e-5 relative: a few
  // hundred ulps through three blocks, far below a mixed-up row).
  for (const std::string backend : {"reference", "hwy"}) {
    SCOPED_TRACE(backend);
    std::vector<std::string> args = {"--backend", backend, "--image"};
    args.insert(args.end(), files.begin(), files.end());
    const core::TensorD batch = logits_of(args);
    ASSERT_EQ(batch.shape(), (core::Shape{4, 5}));
    for (size_t n = 0; n < files.size(); ++n) {
      SCOPED_TRACE(files[n]);
      const core::TensorD one = logits_of({"--backend", backend, "--image", files[n]});
      const std::span<const double> row(batch.data() + n * 5, 5);
      const core::Comparison c = core::compare(row, one.span());
      EXPECT_LE(c.max_rel_error, backend == "reference" ? 0.0 : 1e-5) << core::summarize(c);
    }
    // Different pictures give different rows (the batch is not one image repeated).
    EXPECT_GT(core::compare({batch.data(), 5}, {batch.data() + 5, 5}).max_rel_error, 1e-3);
  }
}

TEST_F(ImagesCli, BadImagesAreRefusedInOneLineLeavingNothing) {
  const std::string good = dir_ / "good.png";
  const std::string png = imaging::encode_png(pattern(kSize, kSize));
  write_bytes(good, png);
  std::string corrupt = png;
  corrupt[png.size() / 2] = char(corrupt[png.size() / 2] ^ 0x5a);
  write_bytes(dir_ / "corrupt.png", corrupt);
  write_bytes(dir_ / "truncated.png", png.substr(0, png.size() / 2));
  write_bytes(dir_ / "empty.jpg", "");
  write_bytes(dir_ / "anim.gif", std::string("GIF89a\x10\x00\x10\x00\x80\x00\x00", 13) + std::string(40, '\x11'));
  std::string jpeg = read_bytes(fixture_path("smooth_q90.jpg"));
  write_bytes(dir_ / "truncated.jpg", jpeg.substr(0, jpeg.size() * 2 / 3));

  const std::vector<std::pair<std::string, std::string>> bad = {
      {dir_ / "corrupt.png", "corrupt PNG"},
      {dir_ / "truncated.png", "truncated PNG"},
      {dir_ / "truncated.jpg", "truncated"},
      {dir_ / "empty.jpg", "empty"},
      {dir_ / "anim.gif", "unsupported image format: GIF"},
      {fixture_path("gray16.png"), "16-bit PNG is not supported"},
      {fixture_path("rgb16.png"), "16-bit PNG is not supported"},
      {dir_ / "missing.png", "cannot open"},
  };
  const std::string out_npy = dir_ / "out.npy", out_png = dir_ / "out.png";
  for (const auto& [file, problem] : bad) {
    SCOPED_TRACE(file);
    // Last in a batch after a good file: nothing of the batch is run or written.
    expect_refused(run_cli({"infer", "--model", model_dir_, "--image", good, file, "--output", out_npy}, dir_),
                   file, problem, out_npy);
    expect_refused(run_cli({"infer", "--model", model_dir_, "--image", file, "--json"}, dir_), file, problem,
                   out_npy);
    expect_refused(run_cli({"attention", "--model", model_dir_, "--image", file, "-o", out_png, "--npy"}, dir_),
                   file, problem, out_png);
    EXPECT_FALSE(fs::exists(dir_ / "out.npy"));
  }

  // --image with --input or --batch: which to use is unclear, so both are refused up front.
  core::write_npy(dir_ / "x.npy", core::generate_images(model_.config, 1, 2));
  for (const auto& other : std::vector<std::vector<std::string>>{
           {"--input", dir_ / "x.npy"}, {"--batch", "3"}, {"--input-seed", "4"}}) {
    std::vector<std::string> args = {"infer", "--model", model_dir_, "--image", good};
    args.insert(args.end(), other.begin(), other.end());
    args.insert(args.end(), {"--output", out_npy});
    expect_refused(run_cli(args, dir_), other[0], "excludes", out_npy);
  }
}

// The reference's attention probabilities on the CLI's input, for every layer.
std::vector<core::TensorD> reference_probs(const core::Model& model, const core::Tensor& images) {
  core::Taps taps;
  for (size_t l = 0; l < model.config.num_layers; ++l) taps.request(core::tap::attn_probs(l));
  reference::forward(model, images, &taps);
  std::vector<core::TensorD> out;
  for (size_t l = 0; l < model.config.num_layers; ++l) out.push_back(taps.get(core::tap::attn_probs(l)));
  return out;
}

TEST_F(ImagesCli, EveryBackendsAttentionMapsMatchTheReference) {
  const RgbImage picture = pattern(kSize, kSize, 21);
  write_bytes(dir_ / "p.png", imaging::encode_png(picture));
  const std::vector<core::TensorD> probs = reference_probs(model_, to_input({picture}));
  std::vector<const core::TensorD*> layers;
  for (const auto& p : probs) layers.push_back(&p);

  struct Case {
    std::vector<std::string> args;
    std::vector<double> expected;
  };
  const std::vector<Case> cases = {
      {{}, expected_class_map(probs[2], 0, std::nullopt)},  // default: last layer, mean of heads
      {{"--layer", "0", "--head", "2"}, expected_class_map(probs[0], 0, 2)},
      {{"--layer", "1", "--head", "0"}, expected_class_map(probs[1], 0, 0)},
      {{"--layer", "1"}, expected_class_map(probs[1], 0, std::nullopt)},
      {{"--rollout"}, expected_rollout(layers, 0)},
      {{"--rollout", "--layer", "1"}, expected_rollout({layers[0], layers[1]}, 0)},
  };
  // The maps must differ from case to case, or matching them would prove nothing.
  EXPECT_GT(core::compare(cases[0].expected, cases[3].expected).max_rel_error, 1e-2);
  EXPECT_GT(core::compare(cases[1].expected, cases[2].expected).max_rel_error, 1e-2);

  const CommandResult listed = run_cli({"backends"}, dir_);
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  const std::vector<std::string> backends = lines_of(listed.out);
  ASSERT_GE(backends.size(), 2u);
  ASSERT_EQ(backends[0], "reference");
  for (const Case& c : cases) {
    std::optional<core::TensorD> reference_map;
    for (const std::string& backend : backends) {
      std::vector<std::string> args = {"attention", "--model", model_dir_, "--image", dir_ / "p.png", "-o",
                                       dir_ / "out.png", "--npy", dir_ / "map.npy", "--backend", backend,
                                       "--threads", "2"};
      args.insert(args.end(), c.args.begin(), c.args.end());
      std::string what = backend;
      for (const auto& a : c.args) what += " " + a;
      SCOPED_TRACE(what);
      fs::remove(dir_ / "map.npy");
      const CommandResult r = run_cli(args, dir_);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      const core::NpyArray map = core::read_npy(dir_ / "map.npy");
      ASSERT_EQ(map.values.shape(), (core::Shape{4, 4}));
      if (backend == "reference") {
        // Against the in-process recomputation: the same float64 numbers summed in another order,
        // so equal to 1e-14 absolute on values near 1/16 (a wrong layer or head is off by 1e-2).
        const core::Comparison cmp = core::compare(map.values.span(), c.expected);
        EXPECT_LE(cmp.max_abs_error, 1e-14) << core::summarize(cmp);
        reference_map = map.values;
        continue;
      }
      // A float32 backend against the reference's map: 1e-4 relative to the largest value.
      // Probabilities carry float32 rounding (6e-8) through softmaxes of logits of size ~3 and
      // three small blocks, staying below 1e-5; rollout only averages and multiplies row-
      // stochastic matrices, which does not grow errors. A wrong layer, head or axis is off by
      // tens of percent.
      ASSERT_TRUE(reference_map);
      const core::Comparison cmp = core::compare(map.values.span(), reference_map->span());
      EXPECT_LE(cmp.max_rel_error, 1e-4) << core::summarize(cmp);
    }
  }
}

TEST_F(ImagesCli, AttentionDrawsOverThePictureAtItsSize) {
  // A wide and a tall picture: the heatmap keeps each one's shape, enlarged by a whole factor to
  // at least 384 px on the longer side (imaging/heatmap.h).
  for (const auto& [w, h] : {std::pair<size_t, size_t>{30, 20}, {20, 30}, {500, 400}}) {
    SCOPED_TRACE(std::to_string(w) + "x" + std::to_string(h));
    write_bytes(dir_ / "p.png", imaging::encode_png(pattern(w, h, 3)));
    fs::remove(dir_ / "out.png");
    const CommandResult r = run_cli({"attention", "--model", model_dir_, "--image", dir_ / "p.png", "-o",
                                 dir_ / "out.png", "--npy"},
                                dir_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("over the " + std::to_string(w) + "x" + std::to_string(h) + " image"), std::string::npos)
        << r.out;
    const size_t longest = std::max(w, h);
    const size_t zoom = longest < imaging::kMinDisplay ? (imaging::kMinDisplay + longest - 1) / longest : 1;
    const RgbImage png = imaging::read_image_file(dir_ / "out.png");
    // The picture, plus a colour bar with its labels to the right, a title above and margins.
    EXPECT_GE(png.width, zoom * w + 60);
    EXPECT_LE(png.width, std::max<size_t>(zoom * w + 200, 720));
    EXPECT_GE(png.height, zoom * h + 30);
    EXPECT_LE(png.height, zoom * h + 100);
    // `--npy` alone puts the map beside the PNG.
    EXPECT_EQ(core::read_npy(dir_ / "out.npy").values.shape(), (core::Shape{4, 4}));
  }
}

TEST_F(ImagesCli, AttentionRefusesBadRequestsInOneLine) {
  write_bytes(dir_ / "p.png", imaging::encode_png(pattern(kSize, kSize)));
  const std::string out = dir_ / "out.png";
  auto attention = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"attention", "--model", model_dir_, "--image", dir_ / "p.png", "-o", out};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_cli(args, dir_);
  };
  expect_refused(attention({"--layer", "3"}), "--layer", "layer 3 does not exist (the model has 3 layers", out);
  expect_refused(attention({"--layer", "-1"}), "--layer", "", out);
  expect_refused(attention({"--layer", "x"}), "--layer", "", out);
  expect_refused(attention({"--head", "3"}), "--head", "head 3 does not exist", out);
  expect_refused(attention({"--head", "-2"}), "--head", "", out);
  expect_refused(attention({"--head", "1", "--rollout"}), "--rollout", "excludes", out);
  expect_refused(attention({"--rollout", "--layer", "9"}), "--layer", "layer 9 does not exist", out);
  expect_refused(attention({"--backend", "nope"}), "--backend", "unknown backend", out);
  expect_refused(attention({"--npy", dir_ / "no/such/map.npy"}), "no/such", "does not exist", out);
  const std::string deep = dir_ / "no/such/folder/out.png";
  expect_refused(run_cli({"attention", "--model", model_dir_, "--image", dir_ / "p.png", "-o", deep}, dir_),
                 "no/such/folder", "does not exist", deep);
  // --npy alone next to an -o that is already .npy would write both to one file.
  expect_refused(run_cli({"attention", "--model", model_dir_, "--image", dir_ / "p.png", "-o", dir_ / "m.npy",
                          "--npy"},
                         dir_),
                 "m.npy", "overwrite", dir_ / "m.npy");
}

TEST_F(ImagesCli, PresetWorksOnAOnePixelImage) {
  // Presets work (synthetic weights), and a 1x1 image is upscaled, not refused.
  const CommandResult r = run_cli({"attention", "--model", "vit-ti16@32", "--image", fixture_path("pixel_1x1.png"),
                               "-o", dir_ / "out.png", "--rollout"},
                              dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir_ / "out.png"));
}

// The README's pictures are what the CLI draws today (docs/images/README.md has the commands).
// One level of tolerance: the float64 map may differ in its last bits between compilers or CPUs
// (contracted multiply-adds), which can flip the rounding of a colour; a change in the drawing or
// the maps shows as far more.
TEST_F(ImagesCli, ReadmePicturesAreReproducible) {
  const std::string docs = std::string(VITBENCH_SOURCE_DIR) + "/docs/images/";
  for (const auto& [name, extra] : {std::pair<std::string, std::string>{"demo_attention.png", ""},
                                    std::pair<std::string, std::string>{"demo_rollout.png", "--rollout"}}) {
    std::vector<std::string> args = {"attention", "--model", "vit-ti16", "--image", docs + "demo_scene.png",
                                     "-o", dir_ / name};
    if (!extra.empty()) args.push_back(extra);
    const CommandResult r = run_cli(args, dir_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const RgbImage made = imaging::read_image_file(dir_ / name);
    const RgbImage committed = imaging::read_image_file(docs + name);
    ASSERT_EQ(made.width, committed.width) << name;
    ASSERT_EQ(made.height, committed.height) << name;
    EXPECT_LE(max_abs_difference(made, committed), 1) << name << ": regenerate it (docs/images/README.md)";
  }
}

}  // namespace
}  // namespace vitbench::testing
