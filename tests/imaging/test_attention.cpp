// Attention maps: the class-token map picks the right row, columns, head and grid order; rollout
// matches a two-layer case computed by hand (every number a short binary fraction, so the
// comparison is exact); and on the reference's own attention probabilities, the maps agree with a
// direct recomputation.
#include <gtest/gtest.h>

#include "core/error.h"
#include "core/taps.h"
#include "imaging/attention.h"
#include "reference/vit.h"
#include "tests/imaging/expected_maps.h"
#include "tests/small_config.h"

namespace vitbench::testing {
namespace {

using core::TensorD;

TensorD probs_from(const std::vector<std::vector<std::vector<double>>>& heads) {
  const size_t H = heads.size(), T = heads[0].size();
  TensorD p({1, H, T, T});
  for (size_t h = 0; h < H; ++h) {
    for (size_t i = 0; i < T; ++i) {
      for (size_t j = 0; j < T; ++j) p[(h * T + i) * T + j] = heads[h][i][j];
    }
  }
  return p;
}

TEST(Rollout, TwoLayersByHand) {
  // Layer 0: heads [[1, 0], [.5, .5]] and [[.5, .5], [.5, .5]]; mean [[.75, .25], [.5, .5]];
  //   plus I, rows over their sums (2): Â0 = [[.875, .125], [.25, .75]].
  // Layer 1: heads [[0, 1], [0, 1]] and [[.5, .5], [1, 0]]; mean [[.25, .75], [.5, .5]];
  //   Â1 = [[.625, .375], [.25, .75]].
  // Rollout = Â1 · Â0 (the later layer on the left):
  //   [[.625·.875 + .375·.25, .625·.125 + .375·.75], [.25·.875 + .75·.25, .25·.125 + .75·.75]]
  //   = [[.640625, .359375], [.40625, .59375]].
  // The other order, Â0 · Â1, gives .578125 top left: the test tells the two apart.
  const TensorD l0 = probs_from({{{1, 0}, {.5, .5}}, {{.5, .5}, {.5, .5}}});
  const TensorD l1 = probs_from({{{0, 1}, {0, 1}}, {{.5, .5}, {1, 0}}});
  const TensorD r = imaging::rollout_matrix({&l0, &l1}, 0);
  ASSERT_EQ(r.shape(), (core::Shape{2, 2}));
  EXPECT_EQ(r[0], .640625);
  EXPECT_EQ(r[1], .359375);
  EXPECT_EQ(r[2], .40625);
  EXPECT_EQ(r[3], .59375);
  // The map: the class token's row over the single patch of a 1x1 grid.
  const TensorD map = imaging::attention_rollout({&l0, &l1}, 0);
  ASSERT_EQ(map.shape(), (core::Shape{1, 1}));
  EXPECT_EQ(map[0], .359375);
}

TEST(Rollout, RenormalisesRowsThatDoNotSumToOne) {
  // A row summing to .75 (as rounded float32 probabilities might, exaggerated): plus I gives
  // [1.5, .25], over 1.75.
  const TensorD l0 = probs_from({{{.5, .25}, {0, 1}}});
  const TensorD r = imaging::rollout_matrix({&l0}, 0);
  EXPECT_DOUBLE_EQ(r[0], 1.5 / 1.75);
  EXPECT_DOUBLE_EQ(r[1], .25 / 1.75);
  EXPECT_EQ(r[2], 0);
  EXPECT_EQ(r[3], 1);
}

TEST(ClassTokenAttention, RowColumnsHeadsAndGridOrder) {
  // T = 5: the class token and a 2x2 grid. Head h's entry (i, j) is 100 h + 10 i + j.
  TensorD p({2, 2, 5, 5});
  for (size_t n = 0; n < 2; ++n) {
    for (size_t h = 0; h < 2; ++h) {
      for (size_t i = 0; i < 5; ++i) {
        for (size_t j = 0; j < 5; ++j) p[((n * 2 + h) * 5 + i) * 5 + j] = 1000.0 * n + 100.0 * h + 10.0 * i + j;
      }
    }
  }
  const TensorD head1 = imaging::class_token_attention(p, 1, 1);
  ASSERT_EQ(head1.shape(), (core::Shape{2, 2}));
  // Row 0 (class token query), keys 1..4 laid out row-major: (0,0) is key 1, (1,1) is key 4.
  EXPECT_EQ(head1[0], 1101);
  EXPECT_EQ(head1[1], 1102);
  EXPECT_EQ(head1[2], 1103);
  EXPECT_EQ(head1[3], 1104);
  const TensorD mean = imaging::class_token_attention(p, 0, std::nullopt);
  EXPECT_EQ(mean[0], 51);
  EXPECT_EQ(mean[3], 54);
  EXPECT_THROW(imaging::class_token_attention(p, 0, 2), core::Error);
  EXPECT_THROW(imaging::class_token_attention(p, 2, 0), core::Error);
  EXPECT_THROW(imaging::class_token_attention(TensorD({1, 1, 4, 4}), 0, 0), core::Error);  // 3 patches
  EXPECT_THROW(imaging::class_token_attention(TensorD({1, 1, 5, 4}), 0, 0), core::Error);
  EXPECT_THROW(imaging::attention_rollout({}, 0), core::Error);
  // A distilled DeiT's layout: the class token, the distillation token, then the 2x2 grid.
  TensorD d({1, 1, 6, 6});
  for (size_t i = 0; i < 36; ++i) d[i] = static_cast<double>(i);
  const TensorD distilled = imaging::class_token_attention(d, 0, 0, 2);
  ASSERT_EQ(distilled.shape(), (core::Shape{2, 2}));
  EXPECT_EQ(distilled[0], 2);  // row 0, key 2: the first patch
  EXPECT_EQ(distilled[3], 5);
  EXPECT_THROW(imaging::class_token_attention(d, 0, 0, 1), core::Error);  // 5 is not a square
}

core::Model small_model() {
  const core::Config c = testing::shaped_config("small", {.layers = 3, .image = 12});
  return {c, core::generate_weights(c, 11)};
}

// On real attention probabilities (the reference's), for every layer and head: the map is the
// class token's row, and rollout equals a recomputation organised differently (the class token's
// row pushed through the layers as a vector, never forming a matrix product).
TEST(AttentionMaps, AgreeWithDirectComputationOnReferenceTaps) {
  const core::Model m = small_model();
  const size_t L = m.config.num_layers, H = m.config.num_heads, T = m.config.num_tokens();
  core::Taps taps;
  for (size_t l = 0; l < L; ++l) taps.request(core::tap::attn_probs(l));
  reference::forward(m, core::generate_images(m.config, 2, 5), &taps);
  std::vector<const TensorD*> layers;
  for (size_t l = 0; l < L; ++l) layers.push_back(&taps.get(core::tap::attn_probs(l)));

  for (size_t n = 0; n < 2; ++n) {
    for (size_t l = 0; l < L; ++l) {
      const TensorD& p = *layers[l];
      for (size_t h = 0; h < H; ++h) {
        const TensorD map = imaging::class_token_attention(p, n, h);
        const std::vector<double> expected = expected_class_map(p, n, h);
        for (size_t k = 0; k + 1 < T; ++k) ASSERT_EQ(map[k], expected[k]);
      }
      // The head mean: the same sum in the same order, so equal up to the last bit or two.
      const TensorD mean = imaging::class_token_attention(p, n, std::nullopt);
      const std::vector<double> expected = expected_class_map(p, n, std::nullopt);
      for (size_t k = 0; k + 1 < T; ++k) ASSERT_NEAR(mean[k], expected[k], 1e-15);
    }
    const std::vector<double> v = expected_rollout(layers, n);
    const TensorD rollout = imaging::attention_rollout(layers, n);
    // Same sums in a different order: rounding differs in the last bits only. Values are about 1/T
    // (0.1 here) and each passes through L·T² float64 operations, so 1e-14 absolute is generous and
    // still far below any real mistake (a missing identity or renormalisation changes them by 0.01).
    for (size_t k = 0; k + 1 < T; ++k) EXPECT_NEAR(rollout[k], v[k], 1e-14) << n << " " << k;
  }
}

}  // namespace
}  // namespace vitbench::testing
