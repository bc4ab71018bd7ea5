// The user's view of `vitbench infer --image ... [--json]`, through the real binary: image files
// decoded and preprocessed as one batch, the top classes named by id2label, with probabilities
// that match the reference's logits on the same batch.
#include <cmath>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/model_loader.h"
#include "imaging/encode.h"
#include "imaging/preprocess.h"
#include "reference/vit.h"
#include "tests/cli/cli_runner.h"
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

class InferImagesCli : public ::testing::Test {
 protected:
  void SetUp() override {
    model_dir_ = dir_ / "model";
    fs::create_directories(model_dir_);
    model_ = {small_config(), core::generate_weights(small_config(), 3)};
    core::save_model_folder(model_, model_dir_, core::NameScheme::HuggingFace);
    // A 30x20 picture with structure, unlike the JPEG fixture beside it.
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

  TempDir dir_;
  std::string model_dir_, image_, other_image_;
  core::Model model_;
};

TEST_F(InferImagesCli, InferRunsImageFilesAsOneBatchAndPrintsJson) {
  const CliResult r = run_cli({"infer", "--model", model_dir_, "--image", image_, other_image_, "--json", "--top", "3"},
                              dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);  // stdout is the JSON document alone
  ASSERT_EQ(j["images"].size(), 2u);
  EXPECT_EQ(j["images"][0]["input"], image_);
  EXPECT_EQ(j["images"][1]["input"], other_image_);

  // Expected: the reference on the same batch, softmax by hand.
  const core::Tensor images = imaging::load_images_for_model({image_, other_image_}, model_.config, model_dir_);
  const core::TensorD logits = reference::forward(model_, images);
  for (size_t n = 0; n < 2; ++n) {
    const auto& top = j["images"][n]["top"];
    ASSERT_EQ(top.size(), 3u);
    double z = 0;
    for (size_t k = 0; k < 5; ++k) z += std::exp(logits[n * 5 + k]);
    for (size_t r2 = 0; r2 < 3; ++r2) {
      const size_t k = top[r2]["class"];
      EXPECT_EQ(top[r2]["label"], model_.config.labels[k]);
      // The JSON carries float64 printed in full: only the softmax's summation order differs.
      EXPECT_NEAR(top[r2]["probability"].get<double>(), std::exp(logits[n * 5 + k]) / z, 1e-12);
      if (r2) EXPECT_GE(top[r2 - 1]["logit"].get<double>(), top[r2]["logit"].get<double>());
    }
  }

  const CliResult text = run_cli({"infer", "--model", model_dir_, "--image", image_}, dir_);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("picture.png"), std::string::npos) << text.out;
  bool labelled = false;
  for (const auto& label : model_.config.labels) labelled |= text.out.find(label) != std::string::npos;
  EXPECT_TRUE(labelled) << text.out;

  const CliResult both = run_cli({"infer", "--model", model_dir_, "--image", image_, "--input", dir_ / "x.npy"}, dir_);
  EXPECT_EQ(both.exit_code, 2);
  const CliResult bad = run_cli({"infer", "--model", model_dir_, "--image", image_, fixture_path("rgb16.png")}, dir_);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("rgb16.png: 16-bit PNG is not supported"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace vitbench::testing
