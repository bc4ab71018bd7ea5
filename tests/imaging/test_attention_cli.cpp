// The user's view of `vitbench attention`, through the real binary. The attention maps of every backend `vitbench backends` lists are compared with maps
// computed here from the reference's attention probabilities, so a backend that tapped the wrong
// layer, head or axis fails here as soon as it is registered.
#include <cmath>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/model_loader.h"
#include "core/npy.h"
#include "core/taps.h"
#include "imaging/decode.h"
#include "imaging/encode.h"
#include "imaging/preprocess.h"
#include "reference/vit.h"
#include "tests/cli/cli_runner.h"
#include "tests/imaging/expected_maps.h"
#include "tests/imaging/fixtures.h"

namespace vitbench::testing {
namespace {

namespace fs = std::filesystem;

core::Config small_config() {
  core::Config c;
  c.name = "small";
  c.hidden_size = 12;
  c.num_layers = 3;
  c.num_heads = 3;
  c.intermediate_size = 20;
  c.image_size = 16;
  c.patch_size = 4;
  c.num_labels = 5;
  c.labels = {"ant", "bee", "cat", "dog", "eel"};
  c.layer_norm_eps = 1e-6;
  c.validate("test");
  return c;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

class ImagingCli : public ::testing::Test {
 protected:
  void SetUp() override {
    model_dir_ = dir_ / "model";
    fs::create_directories(model_dir_);
    model_ = {small_config(), core::generate_weights(small_config(), 3)};
    core::save_model_folder(model_, model_dir_, core::NameScheme::HuggingFace);
    // A 30x20 picture with structure, so the maps are not flat.
    imaging::RgbImage picture(30, 20);
    for (size_t y = 0; y < 20; ++y) {
      for (size_t x = 0; x < 30; ++x) {
        picture.at(x, y)[0] = uint8_t(8 * x);
        picture.at(x, y)[1] = uint8_t(12 * y);
        picture.at(x, y)[2] = (x / 5 + y / 5) % 2 ? 230 : 20;
      }
    }
    image_ = dir_ / "picture.png";
    std::ofstream(image_, std::ios::binary) << imaging::encode_png(picture);
    other_image_ = fixture_path("smooth_q90.jpg");
  }

  // The reference's attention probabilities on the CLI's input, for every layer.
  std::vector<core::TensorD> reference_probs() const {
    const core::Tensor images = imaging::load_images_for_model({image_}, model_.config, model_dir_);
    core::Taps taps;
    for (size_t l = 0; l < model_.config.num_layers; ++l) taps.request(core::tap::attn_probs(l));
    reference::forward(model_, images, &taps);
    std::vector<core::TensorD> out;
    for (size_t l = 0; l < model_.config.num_layers; ++l) out.push_back(taps.get(core::tap::attn_probs(l)));
    return out;
  }

  CliResult attention(const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"attention", "--model", model_dir_, "--image", image_};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_cli(args, dir_);
  }

  void expect_refused(const CliResult& r, const std::string& problem) {
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find(problem), std::string::npos) << r.err;
    EXPECT_EQ(lines(r.err).size(), 1u) << r.err;
    EXPECT_FALSE(fs::exists(dir_ / "out.png"));
  }

  TempDir dir_;
  std::string model_dir_, image_, other_image_;
  core::Model model_;
};

TEST_F(ImagingCli, EveryBackendsMapsMatchTheReference) {
  const CliResult listed = run_cli({"backends"}, dir_);
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  const std::vector<std::string> backends = lines(listed.out);
  ASSERT_FALSE(backends.empty());

  const std::vector<core::TensorD> probs = reference_probs();
  std::vector<const core::TensorD*> layers;
  for (const auto& p : probs) layers.push_back(&p);

  struct Case {
    std::vector<std::string> args;
    std::vector<double> expected;
  };
  const std::vector<Case> cases = {
      {{}, expected_class_map(probs[2], 0, std::nullopt)},  // default: last layer, mean of heads
      {{"--layer", "0", "--head", "2"}, expected_class_map(probs[0], 0, 2)},
      {{"--layer", "1"}, expected_class_map(probs[1], 0, std::nullopt)},
      {{"--rollout"}, expected_rollout(layers, 0)},
      {{"--rollout", "--layer", "1"}, expected_rollout({layers[0], layers[1]}, 0)},
  };
  for (const std::string& backend : backends) {
    for (const Case& c : cases) {
      std::vector<std::string> args = {"-o", dir_ / "out.png", "--npy", dir_ / "map.npy", "--backend", backend,
                                        "--threads", "2"};
      args.insert(args.end(), c.args.begin(), c.args.end());
      std::string what = backend;
      for (const auto& a : c.args) what += " " + a;
      SCOPED_TRACE(what);
      const CliResult r = attention(args);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      EXPECT_NE(r.out.find("heatmap written to"), std::string::npos) << r.out;

      const core::NpyArray map = core::read_npy(dir_ / "map.npy");
      ASSERT_EQ(map.values.shape(), (core::Shape{4, 4}));
      // The reference (float64, bit-identical for any thread count) must agree exactly up to the
      // summation order of the two computations (1e-14 absolute on values ~1/16). A float32 backend
      // is held to 1e-4 relative to the largest value: float32 rounding (6e-8) through three small
      // blocks stays below 1e-5, while a wrong layer, head or transposition is off by tens of percent.
      const core::Comparison cmp = core::compare(map.values.span(), c.expected);
      const double tolerance = backend == "reference" ? 1e-14 / cmp.max_abs_expected : 1e-4;
      EXPECT_LE(cmp.max_rel_error, tolerance) << core::summarize(cmp);

      const imaging::RgbImage png = imaging::read_image_file(dir_ / "out.png");
      EXPECT_GE(png.width, imaging::kMinDisplay);
      EXPECT_GE(png.height, imaging::kMinDisplay);
    }
  }
}

TEST_F(ImagingCli, AttentionRefusesBadRequestsInOneLine) {
  expect_refused(attention({"-o", dir_ / "out.png", "--layer", "3"}), "--layer: layer 3 does not exist (the model has 3 layers");
  expect_refused(attention({"-o", dir_ / "out.png", "--head", "3"}), "--head: head 3 does not exist");
  expect_refused(attention({"-o", dir_ / "out.png", "--head", "1", "--rollout"}), "excludes");
  expect_refused(attention({"-o", dir_ / "no/such/folder/out.png"}), "does not exist");
  expect_refused(attention({"-o", dir_ / "out.png", "--backend", "nope"}), "unknown backend");
  expect_refused(run_cli({"attention", "--model", model_dir_, "--image", fixture_path("gray16.png"), "-o",
                          dir_ / "out.png"},
                         dir_),
                 "gray16.png: 16-bit PNG is not supported");
  std::ofstream(dir_ / "empty.jpg").close();
  expect_refused(run_cli({"attention", "--model", model_dir_, "--image", dir_ / "empty.jpg", "-o", dir_ / "out.png"},
                         dir_),
                 "empty.jpg: the image file is empty");
}

TEST_F(ImagingCli, PresetWorksOnAOnePixelImage) {
  // The README's claim: presets work (synthetic weights), and a 1x1 image is upscaled, not refused.
  const CliResult r = run_cli({"attention", "--model", "vit-ti16@32", "--image", fixture_path("pixel_1x1.png"), "-o",
                               dir_ / "out.png", "--rollout"},
                              dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir_ / "out.png"));
}

// The README's pictures are what the CLI draws today (docs/images/README.md has the commands).
// One level of tolerance: the float64 map may differ in its last bits between compilers or CPUs
// (contracted multiply-adds), which can flip the rounding of a colour; a change in the drawing or
// the maps shows as far more.
TEST_F(ImagingCli, ReadmePicturesAreReproducible) {
  const std::string docs = std::string(VITBENCH_SOURCE_DIR) + "/docs/images/";
  for (const auto& [name, extra] : {std::pair<std::string, std::string>{"demo_attention.png", ""},
                                    std::pair<std::string, std::string>{"demo_rollout.png", "--rollout"}}) {
    std::vector<std::string> args = {"attention", "--model", "vit-ti16", "--image", docs + "demo_scene.png",
                                     "-o", dir_ / name};
    if (!extra.empty()) args.push_back(extra);
    const CliResult r = run_cli(args, dir_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const imaging::RgbImage made = imaging::read_image_file(dir_ / name);
    const imaging::RgbImage committed = imaging::read_image_file(docs + name);
    ASSERT_EQ(made.width, committed.width) << name;
    ASSERT_EQ(made.height, committed.height) << name;
    EXPECT_LE(max_abs_difference(made, committed), 1) << name << ": regenerate it (docs/images/README.md)";
  }
}

}  // namespace
}  // namespace vitbench::testing
