// Every registered backend against the reference, tap by tap. The loops run over
// backend_names(), so a backend registered later is tested here without new code.
//
// Tolerances. float32's unit roundoff is u = 2^-24 ≈ 6e-8. A K-long dot product in float32 is
// off by about √K·u relative to Σ|a·w| when rounding errors are random (K·u in the worst case).
// One block chains 4 GEMMs (K = D or M), two LayerNorms (which divide by the row's standard
// deviation, so absolute errors in x come out relative to σ), a softmax and a GELU, and the
// residual stream carries every block's error forward. For the small configs (K <= 144, depth 2)
// that is √144·u ≈ 7e-7 per GEMM and about 1e-6 after the chain (measured: 0.3-1.5e-6 for every
// tap of every backend). kSmallTapTolerance allows 20× that, room for a different but fair
// summation order or a GELU/exp approximation within a few ulp, while an indexing, layout or
// fusion bug (an error the size of the values, 1e-2 and up) always trips it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "core/metrics.h"
#include "core/taps.h"
#include "core/weights.h"
#include "optimized/backend.h"
#include "optimized/forward.h"
#include "optimized/kernel_set.h"
#include "reference/vit.h"
#include "tests/small_config.h"

namespace vitbench::optimized {
namespace {

// Max |a - e| / max |e| per tap for the small configs; see the header comment.
constexpr double kSmallTapTolerance = 2e-5;
// Max |a - e| for attention probabilities (in [0, 1]). A probability moves by about twice its
// scores' absolute error: scores of a few units off by a few √d·u relative, after inputs that
// are themselves ~1e-6 off, give ~1e-6 (measured 0.7-1.4e-6); 10× margin as above.
constexpr double kProbsTolerance = 1e-5;

struct Case {
  std::string name;
  core::Config config;
  size_t batch;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

// 5 × 5 patches + class token = 26 tokens; 6 heads of 12, so that on 2 and 3 threads qkv and
// attention run fused per head, and apart on 1 and 4 (optimized::fuses_qkv_attention).
core::Config small_config() {
  return testing::shaped_config("small",
                                {.hidden = 72, .heads = 6, .mlp = 144, .image = 20, .labels = 7});
}

std::vector<Case> cases() {
  std::vector<Case> list;
  list.push_back({"base", small_config(), 3});
  core::Config c65 = small_config();
  c65.image_size = 32;  // 8 × 8 patches + class token = 65 tokens
  c65.num_channels = 2;
  list.push_back({"tokens65", c65, 2});
  core::Config mean = small_config();
  mean.pooling = core::Pooling::Mean;
  list.push_back({"mean_pooling", mean, 3});
  core::Config sincos = small_config();
  sincos.position_embedding = core::PositionEmbedding::Sincos;
  list.push_back({"sincos", sincos, 3});
  core::Config tanh = small_config();
  tanh.gelu = core::GeluKind::Tanh;
  tanh.layer_norm_eps = 1e-12;
  list.push_back({"gelu_tanh", tanh, 3});
  core::Config no_bias = small_config();
  no_bias.qkv_bias = false;
  list.push_back({"no_qkv_bias", no_bias, 1});
  // timm's variants: CLIP's tower (norm_pre, no patch bias, eps 1e-5), DeiT III (layer scale,
  // no class row in the position embedding) and fc_norm after mean or class-token pooling.
  core::Config clip = small_config();
  clip.pre_norm = true;
  clip.patch_bias = false;
  clip.layer_norm_eps = 1e-5;
  list.push_back({"clip_pre_norm", clip, 2});
  core::Config deit3 = small_config();
  deit3.layer_scale = true;
  deit3.no_embed_class = true;
  list.push_back({"deit3_layer_scale", deit3, 3});
  core::Config fc_mean = small_config();
  fc_mean.fc_norm = true;
  fc_mean.pooling = core::Pooling::Mean;
  list.push_back({"fc_norm_mean", fc_mean, 3});
  core::Config fc_token = small_config();
  fc_token.fc_norm = true;
  list.push_back({"fc_norm_class_token", fc_token, 2});
  core::Config quick = small_config();  // OpenAI's CLIP towers
  quick.gelu = core::GeluKind::Quick;
  quick.pre_norm = true;
  quick.patch_bias = false;
  list.push_back({"clip_quick_gelu", quick, 2});
  core::Config distilled = small_config();  // DeiT distilled: 27 tokens, two heads averaged
  distilled.distilled = true;
  list.push_back({"deit_distilled", distilled, 3});
  core::Config registers = small_config();  // timm's *_reg4_gap_*: 4 registers, no class token
  registers.class_token = false;
  registers.register_tokens = 4;
  registers.no_embed_class = true;
  registers.pooling = core::Pooling::Mean;
  registers.fc_norm = true;
  list.push_back({"registers_no_class_token", registers, 2});
  core::Config cls_registers = small_config();  // a class token and 2 registers, pos on all
  cls_registers.register_tokens = 2;
  list.push_back({"class_token_and_registers", cls_registers, 2});
  core::Config qk = small_config();  // timm's qk_norm: a LayerNorm per head on q and on k
  qk.qk_norm = true;
  list.push_back({"qk_norm", qk, 2});
  return list;
}

core::Model make_model(const core::Config& config, uint64_t seed) {
  return core::Model{config, core::generate_weights(config, seed)};
}

// Standard taps plus every block's attention probabilities.
core::Taps all_taps(const core::Config& c) {
  core::Taps taps = core::Taps::standard();
  for (size_t i = 0; i < c.num_layers; ++i) taps.request(core::tap::attn_probs(i));
  return taps;
}

// Checks every standard tap within `tolerance` (relative to max|expected|), equal top-1 for the
// logits, and (when `probs_tolerance` > 0) the attention probabilities.
void expect_taps_match(const core::Taps& actual, const core::Taps& expected,
                       const core::Config& c, double tolerance, double probs_tolerance) {
  for (const std::string& name : core::standard_tap_names(c.num_layers)) {
    ASSERT_TRUE(actual.has(name)) << name;
    const core::TensorD& a = actual.get(name);
    const core::TensorD& e = expected.get(name);
    ASSERT_EQ(a.shape(), e.shape()) << name;
    const size_t row = name == core::tap::logits() ? c.num_labels : 0;
    const core::Comparison cmp = core::compare(a.span(), e.span(), row);
    EXPECT_LE(cmp.max_rel_error, tolerance) << name << ": " << core::summarize(cmp);
    if (row) {
      EXPECT_TRUE(cmp.all_argmax_agree()) << core::summarize(cmp);
    }
  }
  if (probs_tolerance <= 0) return;
  for (size_t i = 0; i < c.num_layers; ++i) {
    const std::string name = core::tap::attn_probs(i);
    ASSERT_TRUE(actual.has(name)) << name;
    const core::TensorD& a = actual.get(name);
    ASSERT_EQ(a.shape(), (core::Shape{expected.get(core::tap::logits()).dim(0), c.num_heads,
                                      c.num_tokens(), c.num_tokens()}));
    const core::Comparison cmp = core::compare(a.span(), expected.get(name).span());
    EXPECT_LE(cmp.max_abs_error, probs_tolerance) << name << ": " << core::summarize(cmp);
  }
}

class BackendVsReference : public ::testing::TestWithParam<std::tuple<std::string, Case>> {};

// On 1 thread qkv and attention run apart, on 2 fused per head (small_config).
TEST_P(BackendVsReference, EveryTapMatches) {
  const auto& [backend, test_case] = GetParam();
  const core::Config& c = test_case.config;
  const core::Model model = make_model(c, 11);
  const core::Tensor images = core::generate_images(c, test_case.batch, 12);

  core::Taps expected = all_taps(c);
  reference::forward(model, images, &expected, 2);
  for (const size_t threads : {1, 2}) {
    SCOPED_TRACE(std::to_string(threads) + " thread(s)");
    EXPECT_EQ(fuses_qkv_attention(c, threads), threads == 2);
    core::Taps actual = all_taps(c);
    const core::Tensor logits =
        find_backend(backend).prepare(model, threads)->forward(images, &actual);
    expect_taps_match(actual, expected, c, kSmallTapTolerance, kProbsTolerance);

    // The returned logits are the logits tap (float32 widens to float64 exactly).
    const core::TensorD& tap = actual.get(core::tap::logits());
    ASSERT_EQ(logits.shape(), tap.shape());
    for (size_t i = 0; i < logits.size(); ++i) EXPECT_EQ(static_cast<double>(logits[i]), tap[i]);
  }
}

// Also the pass with qkv and attention fused per head (2 and 3 threads) against the one with
// them apart (1 and 4): each q, k and v element is the same dot product, each attention row the
// same arithmetic, so nothing may differ by even a rounding.
TEST_P(BackendVsReference, ThreadCountsGiveBitIdenticalLogits) {
  const auto& [backend, test_case] = GetParam();
  const core::Config& c = test_case.config;
  const core::Model model = make_model(c, 21);
  const core::Tensor images = core::generate_images(c, test_case.batch, 22);
  const core::Tensor one = find_backend(backend).prepare(model, 1)->forward(images, nullptr);
  for (const size_t threads : {2, 3, 4}) {
    SCOPED_TRACE(std::to_string(threads) + " threads");
    EXPECT_EQ(fuses_qkv_attention(c, threads), threads != 4);
    const core::Tensor more =
        find_backend(backend).prepare(model, threads)->forward(images, nullptr);
    ASSERT_EQ(one.shape(), more.shape());
    EXPECT_EQ(std::memcmp(one.data(), more.data(), one.size() * sizeof(float)), 0);
  }
}

// Without taps, the last block's queries, projection and MLP run on the tokens pooling reads only
// (forward.cpp: last_block_tokens). That pass, which infer and every benchmark time, must give
// the logits of the pass that fills every tap, and the reference's. The kept rows go through the
// same kernels with fewer rows. hwy's GEMM computes a row the same whatever the row count, and
// adds a fused residual in the order of the unfused add, so with its linear kernel the two passes
// agree bit for bit; BLIS's does neither (its beta = 1 update rounds otherwise), hence the tap
// tolerance there.
TEST_P(BackendVsReference, LogitsWithoutTapsMatchThePassThatFillsThem) {
  const auto& [backend, test_case] = GetParam();
  const core::Config& c = test_case.config;
  const core::Model model = make_model(c, 13);
  const core::Tensor images = core::generate_images(c, test_case.batch, 14);
  core::Taps expected;
  expected.request(core::tap::logits());
  reference::forward(model, images, &expected, 2);

  auto prepared = find_backend(backend).prepare(model, 2);
  core::Taps full = core::Taps::standard();
  const core::Tensor tapped = prepared->forward(images, &full);
  const core::Tensor untapped = prepared->forward(images, nullptr);
  ASSERT_EQ(untapped.shape(), tapped.shape());
  const std::vector<double> a(untapped.data(), untapped.data() + untapped.size());
  const std::vector<double> t(tapped.data(), tapped.data() + tapped.size());
  const core::TensorD& e = expected.get(core::tap::logits());
  for (const auto* got : {&a, &t}) {
    const core::Comparison cmp = core::compare(*got, e.span(), c.num_labels);
    EXPECT_LE(cmp.max_rel_error, kSmallTapTolerance) << core::summarize(cmp);
    EXPECT_TRUE(cmp.all_argmax_agree()) << core::summarize(cmp);
  }
  if (kernel_set(backend).linear.run == hwy_kernels().linear.run) {
    EXPECT_EQ(std::memcmp(untapped.data(), tapped.data(), tapped.size() * sizeof(float)), 0);
  }
}

std::string case_name(const ::testing::TestParamInfo<BackendVsReference::ParamType>& info) {
  std::string name = std::get<0>(info.param) + "_" + std::get<1>(info.param).name;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(AllBackends, BackendVsReference,
                         ::testing::Combine(::testing::ValuesIn(backend_names()),
                                          ::testing::ValuesIn(cases())),
                         case_name);

class EveryBackend : public ::testing::TestWithParam<std::string> {};

// Buffers are kept between calls and grow with the batch: a smaller batch in between must not
// disturb a later larger one, and one image's logits must not depend on the others in its batch
// beyond rounding (GEMM blocking may differ with the row count).
TEST_P(EveryBackend, BuffersAreReusedSafelyAcrossBatchSizes) {
  const core::Config c = small_config();
  const core::Model model = make_model(c, 31);
  const core::Tensor three = core::generate_images(c, 3, 32);
  core::Tensor first({1, c.num_channels, c.image_size, c.image_size});
  std::memcpy(first.data(), three.data(), first.size() * sizeof(float));

  auto prepared = find_backend(GetParam()).prepare(model, 2);
  const core::Tensor a = prepared->forward(three, nullptr);
  const core::Tensor b = prepared->forward(first, nullptr);
  const core::Tensor again = prepared->forward(three, nullptr);
  EXPECT_EQ(std::memcmp(a.data(), again.data(), a.size() * sizeof(float)), 0);
  std::vector<double> row_a(a.data(), a.data() + c.num_labels);
  std::vector<double> row_b(b.data(), b.data() + c.num_labels);
  EXPECT_LE(core::compare(row_b, row_a).max_rel_error, kSmallTapTolerance);
}

TEST_P(EveryBackend, RefusesBadInputs) {
  const core::Config c = small_config();
  const core::Model model = make_model(c, 41);
  const Backend& backend = find_backend(GetParam());
  EXPECT_THROW(backend.prepare(model, 0), core::Error);
  auto prepared = backend.prepare(model, 1);
  EXPECT_THROW(prepared->forward(core::Tensor({1, c.num_channels, 16, 16}, 0.0f), nullptr),
               core::Error);
  EXPECT_THROW(prepared->forward(core::Tensor({c.num_channels, 20, 20}, 0.0f), nullptr),
               core::Error);
  core::Model broken = model;
  broken.weights.blocks[1].fc1_bias = core::Tensor({3}, 0.0f);
  EXPECT_THROW(backend.prepare(broken, 1), core::Error);
}

TEST_P(EveryBackend, DescribesItself) {
  const Backend& backend = find_backend(GetParam());
  EXPECT_EQ(backend.name(), GetParam());
  EXPECT_FALSE(backend.description().empty());
}

INSTANTIATE_TEST_SUITE_P(AllBackends, EveryBackend, ::testing::ValuesIn(backend_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

TEST(Registry, KnowsHwyAndBlisAndNamesTheUnknown) {
  const std::vector<std::string> names = backend_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "hwy"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "blis"), names.end());
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  std::string known;
  for (const std::string& n : names) known += (known.empty() ? "" : ", ") + n;
  try {
    find_backend("cuda");
    FAIL() << "find_backend accepted an unknown name";
  } catch (const core::Error& e) {
    EXPECT_EQ(std::string(e.what()), "unknown backend \"cuda\" (known: " + known + ")");
  }
}

// A composed set runs through the same forward pass with no new code: blis's linear kernel with
// hwy's attention must still match the reference.
TEST(Compose, MixedKernelSetMatchesReference) {
  const KernelSet mixed = compose("blis+hwy-attention", kernel_set("blis"), kernel_set("hwy"));
  EXPECT_EQ(mixed.linear.run, kernel_set("blis").linear.run);
  EXPECT_EQ(mixed.linear.pack, kernel_set("blis").linear.pack);
  EXPECT_EQ(mixed.attention.run, kernel_set("hwy").attention.run);
  EXPECT_EQ(mixed.layer_norm.run, kernel_set("blis").layer_norm.run);

  const core::Config c = small_config();
  const core::Model model = make_model(c, 51);
  const core::Tensor images = core::generate_images(c, 2, 52);
  core::Taps expected = all_taps(c), actual = all_taps(c);
  reference::forward(model, images, &expected, 2);
  prepare_model(model, mixed, 2)->forward(images, &actual);
  expect_taps_match(actual, expected, c, kSmallTapTolerance, kProbsTolerance);
}

// The real thing once: ViT-Ti/16 at 224, 12 blocks, K up to 768, 197 tokens. Errors grow with
// √K (√768 ≈ 28 against √144 = 12) and only slowly with depth, since LayerNorm renormalises
// every block's input (measured: at most 3e-6 for any tap), so the bound is 2.5× the small
// configs'. The acceptance bar for logits is 2e-3 of max|logit| with equal top-1; this is
// 40× tighter.
constexpr double kTinyTapTolerance = 5e-5;

TEST(ViTTiny, EveryBackendMatchesReferenceAt224) {
  const core::Config c = core::preset_config("vit-ti16");
  const core::Model model = make_model(c, 7);
  const core::Tensor images = core::generate_images(c, 1, 8);
  core::Taps expected = core::Taps::standard();
  reference::forward(model, images, &expected, 2);  // ~2.5 GFLOP in float64: once, shared
  for (const std::string& name : backend_names()) {
    SCOPED_TRACE(name);
    core::Taps actual = core::Taps::standard();
    find_backend(name).prepare(model, 2)->forward(images, &actual);
    expect_taps_match(actual, expected, c, kTinyTapTolerance, 0.0);
  }
}

}  // namespace
}  // namespace vitbench::optimized
