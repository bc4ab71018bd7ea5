#include <gtest/gtest.h>

#include <cmath>

#include "core/config.h"
#include "core/weights.h"
#include "tests/small_config.h"

namespace vitbench::core {
namespace {

Config small_config() {
  return testing::shaped_config("test", {.hidden = 72, .mlp = 144, .image = 20, .labels = 7});
}

TEST(WeightGenerator, HashMatchesPublishedVectors) {
  // FNV-1a 64-bit test vectors from the algorithm's authors.
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ULL);
  // SplitMix64's first output for seed 0 is mix64(0x9e3779b97f4a7c15).
  EXPECT_EQ(mix64(0x9e3779b97f4a7c15ULL), 0xe220a8397b1dcdafULL);
}

TEST(WeightGenerator, DrawsAreDeterministicAndDependOnEverything) {
  const uint64_t h = fnv1a64("blocks.0.attn.qkv.weight");
  EXPECT_EQ(uniform_draw(7, h, 3), uniform_draw(7, h, 3));
  EXPECT_NE(uniform_draw(7, h, 3), uniform_draw(8, h, 3));
  EXPECT_NE(uniform_draw(7, h, 3), uniform_draw(7, h, 4));
  EXPECT_NE(uniform_draw(7, h, 3), uniform_draw(7, fnv1a64("blocks.1.attn.qkv.weight"), 3));
  const double u = uniform_draw(7, h, 3);
  EXPECT_GE(u, 0.0);
  EXPECT_LT(u, 1.0);
  EXPECT_EQ(u * 16777216.0, std::floor(u * 16777216.0)) << "draws are multiples of 2^-24";
}

TEST(WeightGenerator, EveryTensorFollowsItsRule) {
  const Config c = small_config();
  Weights w = generate_weights(c, 42);
  for (const ParameterSlot& slot : parameter_slots(c, w)) {
    if (!slot.stored) continue;
    const DrawRule rule = draw_rule(c, slot.name);
    const Tensor& t = *slot.tensor;
    double sum = 0, sum2 = 0;
    for (size_t i = 0; i < t.size(); ++i) {
      ASSERT_GE(t[i], static_cast<float>(rule.offset - rule.scale)) << slot.name;
      ASSERT_LE(t[i], static_cast<float>(rule.offset + rule.scale)) << slot.name;
      sum += t[i];
      sum2 += (t[i] - rule.offset) * (t[i] - rule.offset);
    }
    if (t.size() < 500) continue;
    // Uniform on [offset ± scale]: mean offset, std scale/√3. With n ≥ 500 draws the sample
    // mean is within 4 standard errors (4·scale/√(3n)) and the std within 10%.
    const double n = static_cast<double>(t.size());
    EXPECT_NEAR(sum / n, rule.offset, 4 * rule.scale / std::sqrt(3 * n)) << slot.name;
    EXPECT_NEAR(std::sqrt(sum2 / n), rule.scale / std::sqrt(3.0), 0.1 * rule.scale) << slot.name;
  }
}

TEST(WeightGenerator, LayerNormParametersAreNotTrivial) {
  const Weights w = generate_weights(small_config(), 1);
  size_t ones = 0, zeros = 0;
  for (size_t i = 0; i < w.blocks[0].norm1_weight.size(); ++i) {
    ones += w.blocks[0].norm1_weight[i] == 1.0f;
    zeros += w.blocks[0].norm1_bias[i] == 0.0f;
  }
  EXPECT_LT(ones, 3u);
  EXPECT_LT(zeros, 3u);
}

TEST(WeightGenerator, CanonicalShapes) {
  Config c = small_config();
  c.qkv_bias = false;
  const Weights w = generate_weights(c, 3);
  EXPECT_EQ(w.cls_token.shape(), (Shape{72}));
  EXPECT_EQ(w.pos_embed.shape(), (Shape{26, 72}));
  EXPECT_EQ(w.patch_weight.shape(), (Shape{72, 3, 4, 4}));
  EXPECT_EQ(w.blocks.size(), 2u);
  EXPECT_EQ(w.blocks[1].qkv_weight.shape(), (Shape{216, 72}));
  EXPECT_EQ(w.blocks[1].fc2_weight.shape(), (Shape{72, 144}));
  EXPECT_EQ(w.head_weight.shape(), (Shape{7, 72}));
  for (size_t i = 0; i < w.blocks[0].qkv_bias.size(); ++i) {
    ASSERT_EQ(w.blocks[0].qkv_bias[i], 0.0f) << "qkv_bias=false means a zero bias";
  }
}

TEST(WeightGenerator, SincosTableFollowsTheFormula) {
  const size_t grid = 3, D = 8, quarter = 2;
  const Tensor t = sincos_position_embedding(grid, D);
  ASSERT_EQ(t.shape(), (Shape{10, 8}));
  for (size_t j = 0; j < D; ++j) EXPECT_EQ(t[j], 0.0f) << "class token row is zero";
  // Patch at row r = 1, column c = 2 is token 1 + 1*3 + 2 = 6. ω_k = 10000^(-k/2):
  // ω_0 = 1, ω_1 = 0.01.
  const float* row = t.data() + 6 * D;
  const double omega[quarter] = {1.0, 0.01};
  for (size_t k = 0; k < quarter; ++k) {
    EXPECT_FLOAT_EQ(row[k], std::sin(2 * omega[k]));
    EXPECT_FLOAT_EQ(row[quarter + k], std::cos(2 * omega[k]));
    EXPECT_FLOAT_EQ(row[2 * quarter + k], std::sin(1 * omega[k]));
    EXPECT_FLOAT_EQ(row[3 * quarter + k], std::cos(1 * omega[k]));
  }
}

TEST(WeightGenerator, ImagesSpanTheNormalisedRange) {
  const Config c = small_config();
  const Tensor a = generate_images(c, 2, 5), b = generate_images(c, 2, 6);
  ASSERT_EQ(a.shape(), (Shape{2, 3, 20, 20}));
  float lo = 1, hi = -1;
  size_t same = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    lo = std::min(lo, a[i]);
    hi = std::max(hi, a[i]);
    same += a[i] == b[i];
  }
  EXPECT_LT(lo, -0.99f);
  EXPECT_GT(hi, 0.99f);
  EXPECT_LT(same, 10u);
}

}  // namespace
}  // namespace vitbench::core

#include "core/flops.h"

namespace vitbench::core {
namespace {

TEST(Flops, VitB16MatchesThePublishedCount) {
  // ViT-B/16 at 224 is quoted everywhere as 17.56 GMAC (35.1 GFLOP) per image.
  EXPECT_NEAR(flops::model_per_image(preset_config("vit-b16")) / 1e9, 35.1, 0.1);
  // 86.6 M parameters (timm's count for vit_base_patch16_224), 4 bytes each.
  EXPECT_NEAR(flops::weight_bytes(preset_config("vit-b16")) / 4 / 1e6, 86.6, 0.1);
}

TEST(Flops, TheOptimizedForwardSkipsTheLastBlocksUnreadRows) {
  // The last block's q, attention rows, projection and MLP of the 196 patch tokens class-token
  // pooling never reads: 2·196·(768² + 768² + 2·768·3072) + 4·196·197·768 FLOPs.
  Config c = preset_config("vit-b16");
  const double skipped =
      2.0 * 196 * (2 * 768.0 * 768 + 2 * 768.0 * 3072) + 4.0 * 196 * 197 * 768;
  EXPECT_DOUBLE_EQ(flops::model_per_image(c) - flops::optimized_per_image(c), skipped);
  EXPECT_NEAR(flops::optimized_per_image(c) / 1e9, 32.7, 0.05);
  c.distilled = true;  // two tokens read of 198: each of the 196 unread attends to 198 keys
  const double skipped_distilled =
      2.0 * 196 * (2 * 768.0 * 768 + 2 * 768.0 * 3072) + 4.0 * 196 * 198 * 768;
  EXPECT_DOUBLE_EQ(flops::model_per_image(c) - flops::optimized_per_image(c), skipped_distilled);
  c.distilled = false;
  c.pooling = Pooling::Mean;  // every patch token read
  EXPECT_DOUBLE_EQ(flops::optimized_per_image(c), flops::model_per_image(c));
}

}  // namespace
}  // namespace vitbench::core
