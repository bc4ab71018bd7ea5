// The Highway kernels against their reference twins (reference/ops.h), for every SIMD target
// compiled in that this CPU supports: each TEST_P runs once per target, with Highway's dispatch
// mocked to that target (hwy::TestWithParamTarget), so a bug in a target the machine would not
// pick by default (SSE4, scalar) is still caught.
//
// Inputs are fresh random numbers from a seed printed at start (VITBENCH_TEST_SEED=<n> repeats
// a run). Outputs are converted to double and compared with core::compare; tolerances are
// relative to max|expected| and derived from float32's unit roundoff u = 2^-24 next to each use.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/metrics.h"
#include "hwy/highway.h"
#include "hwy/targets.h"
#include "hwy/tests/hwy_gtest.h"
#include "optimized/hwy/internal.h"
#include "optimized/hwy/kernels.h"
#include "optimized/thread_pool.h"
#include "reference/ops.h"
#include "tests/optimized/test_seed.h"

namespace vitbench::optimized::hwy {
namespace {

constexpr double kU = 0x1p-24;  // float32 unit roundoff

std::mt19937_64 test_rng() { return test_seed::test_rng("hwy_tests"); }

std::vector<float> uniform(std::mt19937_64& rng, size_t n, float lo = -1, float hi = 1) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Copies rows × cols of a strided float matrix to a dense double one.
std::vector<double> dense_double(const float* p, size_t rows, size_t cols, size_t ld) {
  std::vector<double> out(rows * cols);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) out[r * cols + c] = p[r * ld + c];
  }
  return out;
}

// The test fixture: one instance per (test, target). SetUp mocks the dispatch to the target.
class HwyKernels : public ::hwy::TestWithParamTarget {
 protected:
  void SetUp() override {
    TestWithParamTarget::SetUp();
    rng_ = test_rng();
    lanes_ = float_lanes();  // also initialises the dispatch under the mocked target
  }
  std::mt19937_64 rng_;
  size_t lanes_ = 0;
};
HWY_TARGET_INSTANTIATE_TEST_SUITE_P(HwyKernels);

TEST_P(HwyKernels, DispatchesToTheTargetUnderTest) {
  EXPECT_STREQ(chosen_target(), ::hwy::TargetName(GetParam()));
  const auto compiled = compiled_targets();
  EXPECT_TRUE(std::any_of(compiled.begin(), compiled.end(), [&](const char* t) {
    return std::string(t) == ::hwy::TargetName(GetParam());
  }));
}

// ---------------------------------------------------------------------------------------------
// The limit on targets (--simd)

constexpr int64_t kSomeTargets = HWY_AVX3 | HWY_AVX2 | HWY_SSE4 | HWY_SCALAR;

TEST(TargetLimit, DisablesExactlyTheBetterTargets) {
  EXPECT_EQ(targets_above("AVX3", kSomeTargets, kSomeTargets), 0);
  EXPECT_EQ(targets_above("avx2", kSomeTargets, kSomeTargets), HWY_AVX3);
  EXPECT_EQ(targets_above("Sse4", kSomeTargets, kSomeTargets), HWY_AVX3 | HWY_AVX2);
  EXPECT_EQ(targets_above("scalar", kSomeTargets, kSomeTargets), HWY_AVX3 | HWY_AVX2 | HWY_SSE4);
}

// The one-line message targets_above throws, or "" when it throws none.
std::string limit_error(const std::string& name, int64_t compiled, int64_t supported) {
  try {
    targets_above(name, compiled, supported);
  } catch (const core::Error& e) {
    return e.what();
  }
  return "";
}

TEST(TargetLimit, RefusesUnknownUncompiledAndUnsupportedTargets) {
  const auto expect_says = [](const std::string& message, const std::vector<std::string>& parts) {
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    for (const std::string& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos) << part << " in: " << message;
    }
  };
  expect_says(limit_error("avx9", kSomeTargets, kSomeTargets),
              {"--simd", "unknown SIMD target \"avx9\"", "AVX3, AVX2, SSE4, SCALAR"});
  // A CPU that could run it does not help a target that was not compiled in.
  expect_says(limit_error("AVX3_DL", kSomeTargets, kSomeTargets | HWY_AVX3_DL),
              {"--simd", "unknown SIMD target"});
  expect_says(limit_error("AVX3", kSomeTargets, kSomeTargets & ~HWY_AVX3),
              {"--simd", "this CPU cannot run AVX3", "it runs: AVX2, SSE4, SCALAR"});
}

// On this machine: each target it can run becomes the one dispatched to, and the list of what it
// can run does not shrink with the limit (reports record both).
TEST(TargetLimit, DispatchFollowsTheLimit) {
  const auto supported = supported_targets();
  ASSERT_FALSE(supported.empty());
  EXPECT_STREQ(chosen_target(), supported.front());
  for (auto it = supported.rbegin(); it != supported.rend(); ++it) {  // worst first: each widens
    limit_targets(*it);
    EXPECT_STREQ(chosen_target(), *it);
    EXPECT_EQ(supported_targets(), supported);
  }
  ::hwy::DisableTargets(0);
  EXPECT_STREQ(chosen_target(), supported.front());
}

// ---------------------------------------------------------------------------------------------
// GEMM

enum class Epi {
  None,
  Bias,
  BiasGeluErf,
  BiasGeluTanh,
  BiasGeluQuick,
  Residual,
  ResidualAliasC,
  All
};

bool has_gelu(Epi epi) {
  return epi == Epi::BiasGeluErf || epi == Epi::BiasGeluTanh || epi == Epi::BiasGeluQuick ||
         epi == Epi::All;
}

struct GemmSetup {
  size_t m, n, k;
  Epi epi = Epi::None;
  size_t a_offset = 0, c_offset = 0;  // floats: 1 makes the pointers misaligned
  size_t lda_pad = 0, ldc_pad = 0;
  float a_scale = 1, w_scale = 1;
  size_t threads = 1;
};

// Max error over max|expected| allowed for a GEMM with reduction length k.
// Each C element is a chain of float FMAs (one rounding each) plus one rounding per K block
// boundary. With random signs the rounding errors add like a random walk, so the error of the
// sum is ~√k·u times the size of its partial sums, which are of the order of max|C|: hence
// 4·√k·u (4: the max over up to ~10^6 elements is ~4-5 standard deviations of a random walk).
// +8u for the few final roundings (bias add, staging). A dropped or repeated term of the sum
// costs ~1/√k of max|C| (0.02 at k = 3072), four orders of magnitude above this.
double gemm_tolerance(size_t k, Epi epi) {
  double tol = (4 * std::sqrt(static_cast<double>(k)) + 8) * kU;
  // GELU: its slope is at most 1.13 (quick GELU's 1.1), so it carries the pre-activation error
  // through at most 1.13x, and adds its own approximation error, <= 8u of max|GELU| for every
  // form (erf: GeluErfDenseSweep; tanh and quick: exp, an add and a divide).
  if (has_gelu(epi)) tol = 1.13 * tol + 8 * kU;
  return tol;
}

// Runs one GEMM setup and returns C [m, n] dense; checks it against reference::linear.
std::vector<float> run_gemm_and_check(const GemmSetup& s, std::mt19937_64& rng) {
  SCOPED_TRACE(::testing::Message() << "M=" << s.m << " N=" << s.n << " K=" << s.k
                                    << " epi=" << static_cast<int>(s.epi) << " threads=" << s.threads);
  const size_t lda = s.k + s.lda_pad, ldc = s.n + s.ldc_pad;
  // Sentinels around and between the rows of C: nothing outside C [m, n] may be written.
  constexpr float kSentinel = 12345.0f;
  std::vector<float> a_buf(s.a_offset + s.m * lda + 1), c_buf(s.c_offset + s.m * ldc + 1, kSentinel);
  float* a = a_buf.data() + s.a_offset;
  float* c = c_buf.data() + s.c_offset;
  const auto a_vals = uniform(rng, s.m * s.k, -s.a_scale, s.a_scale);
  for (size_t i = 0; i < s.m; ++i) std::copy_n(a_vals.data() + i * s.k, s.k, a + i * lda);
  const auto w = uniform(rng, s.n * s.k, -s.w_scale, s.w_scale);
  const auto bias = uniform(rng, s.n, -s.a_scale * s.w_scale, s.a_scale * s.w_scale);
  // The residual is of the size of the products so that it neither hides nor dominates them.
  const float res_scale = s.a_scale * s.w_scale * std::sqrt(static_cast<float>(std::max<size_t>(s.k, 1)));
  std::vector<float> residual_buf = uniform(rng, s.m * ldc, -res_scale, res_scale);

  Epilogue e;
  const bool has_bias = s.epi == Epi::Bias || has_gelu(s.epi);
  if (has_bias) e.bias = bias.data();
  e.gelu = has_gelu(s.epi);
  e.gelu_kind = s.epi == Epi::BiasGeluTanh    ? core::GeluKind::Tanh
                : s.epi == Epi::BiasGeluQuick ? core::GeluKind::Quick
                                              : core::GeluKind::Erf;
  if (s.epi == Epi::Residual) {
    e.residual = residual_buf.data();
    e.ld_residual = ldc;
  }
  if (s.epi == Epi::ResidualAliasC || s.epi == Epi::All) {
    for (size_t i = 0; i < s.m; ++i) std::copy_n(&residual_buf[i * ldc], s.n, c + i * ldc);
    e.residual = c;
    e.ld_residual = ldc;
  }

  // Expected, in double from the same float inputs.
  std::vector<double> expected(s.m * s.n);
  const std::vector<double> a_d(a_vals.begin(), a_vals.end());
  reference::linear(a_d.data(), s.m, s.k, w.data(), has_bias ? bias.data() : nullptr, s.n,
                    expected.data());
  for (size_t i = 0; i < s.m; ++i) {
    for (size_t j = 0; j < s.n; ++j) {
      double& x = expected[i * s.n + j];
      if (e.gelu) x = reference::gelu(e.gelu_kind, x);
      if (e.residual) x += residual_buf[i * ldc + j];
    }
  }

  const PackedWeights packed = pack_weights(w.data(), s.n, s.k);
  ThreadPool pool(s.threads);
  gemm(a, s.m, lda, packed, c, ldc, e, pool);

  size_t touched = 0;
  for (size_t idx = 0; idx < c_buf.size(); ++idx) {
    const size_t off = idx - s.c_offset;  // wraps for idx < c_offset: then outside C
    const bool inside = idx >= s.c_offset && off / ldc < s.m && off % ldc < s.n;
    if (!inside && c_buf[idx] != kSentinel) ++touched;
  }
  EXPECT_EQ(touched, 0u) << "elements outside C were written";

  const auto actual = dense_double(c, s.m, s.n, ldc);
  const auto cmp = core::compare(actual, expected);
  const double tol = gemm_tolerance(s.k, s.epi);
  EXPECT_TRUE(cmp.finite()) << core::summarize(cmp);
  EXPECT_LE(cmp.max_rel_error, tol) << core::summarize(cmp) << " (tolerance " << tol << ")";
  std::vector<float> out(s.m * s.n);
  for (size_t i = 0; i < s.m; ++i) std::copy_n(c + i * ldc, s.n, out.data() + i * s.n);
  return out;
}

TEST_P(HwyKernels, GemmShapes) {
  const size_t L = lanes_;
  const size_t nr = pack_weights(nullptr, 0, 0).panel_width;  // this target's panel width
  ASSERT_GT(nr, 0u);
  ASSERT_EQ(nr % L, 0u);
  // M, N and K each drawn from {1, Lanes ± 1, panel width ± 1, 197, 3072, a few multi-block
  // sizes}, as a list of triples rather than their product (which would take minutes).
  const std::vector<std::array<size_t, 3>> shapes = {
      {1, 1, 1},           {L - 1 ? L - 1 : 1, nr + 1, L + 1}, {L + 1, nr - 1 ? nr - 1 : 1, L - 1 ? L - 1 : 2},
      {L, 2 * nr, L},      {7, 3072, 19},                      {13, 33, 3072},
      {197, 197, 64},      {197, 100, 197},                    {1, 768, 768},
      {300, 50, 500},      {9, nr, 1000},                      {600, 17, 40}};
  for (const auto& sh : shapes) run_gemm_and_check({sh[0], sh[1], sh[2]}, rng_);
}

TEST_P(HwyKernels, GemmEpilogues) {
  // K = 300 spans two or three K blocks on every target, so the epilogue runs after partial
  // sums went through the workspace; N = 45 leaves a ragged last panel.
  for (Epi epi : {Epi::Bias, Epi::BiasGeluErf, Epi::BiasGeluTanh, Epi::BiasGeluQuick,
                  Epi::Residual, Epi::ResidualAliasC, Epi::All}) {
    GemmSetup s{37, 45, 300, epi};
    run_gemm_and_check(s, rng_);
    s.k = 20;  // a single K block: the epilogue straight from the accumulators
    run_gemm_and_check(s, rng_);
  }
}

TEST_P(HwyKernels, GemmGeluEpilogueOverWholeAndRaggedPanels) {
  // Bias + GELU without a residual (fc1's epilogue) goes through a per-panel buffer and is taken
  // four rows at a time; M = 197 = 4·49 + 1 leaves a row over, N = 2 panels + 5 (for every
  // target's panel width, 48 on AVX-512) a ragged panel after two whole ones, K = 300 and 20
  // both with and without partial sums.
  for (Epi epi : {Epi::BiasGeluErf, Epi::BiasGeluTanh, Epi::BiasGeluQuick}) {
    GemmSetup s{197, 2 * 48 + 5, 300, epi};
    run_gemm_and_check(s, rng_);
    s.k = 20;
    run_gemm_and_check(s, rng_);
  }
}

TEST_P(HwyKernels, GemmGeluEpilogueIsGeluOfTheGemmBitForBit) {
  // fc1's GELU runs four vectors at a time (GeluErf4) over whole panels and one at a time
  // (GeluErf) elsewhere, and gelu() runs GeluErf: all three must be the same function, to the
  // bit, or a ragged edge or a tail row would round differently from the rest. M = 197 leaves a
  // row over the groups of four, N = 2 panels + 5 a ragged panel. The inputs are of the
  // activations' scale (σ ≈ 1.8 before GELU: √300 · 0.58 · 0.17, plus the bias), so both tails
  // and the centre are exercised.
  const size_t m = 197, n = 2 * pack_weights(nullptr, 0, 0).panel_width + 5, k = 300;
  const auto a = uniform(rng_, m * k, -1, 1);
  const auto w = uniform(rng_, n * k, -0.3f, 0.3f);
  const auto bias = uniform(rng_, n, -1, 1);
  const PackedWeights packed = pack_weights(w.data(), n, k);
  ThreadPool pool(2);
  Epilogue with_gelu, bias_only;
  with_gelu.bias = bias_only.bias = bias.data();
  with_gelu.gelu = true;
  with_gelu.gelu_kind = core::GeluKind::Erf;
  std::vector<float> fused(m * n), separate(m * n);
  gemm(a.data(), m, k, packed, fused.data(), n, with_gelu, pool);
  gemm(a.data(), m, k, packed, separate.data(), n, bias_only, pool);
  gelu(separate.data(), separate.size(), core::GeluKind::Erf);
  size_t differ = 0;
  for (size_t i = 0; i < fused.size(); ++i) differ += fused[i] != separate[i];
  EXPECT_EQ(differ, 0u) << "of " << fused.size() << " elements";
}

TEST_P(HwyKernels, GemmWithoutProductsIsTheEpilogueOfZero) {
  GemmSetup s{5, 21, 0, Epi::All};
  run_gemm_and_check(s, rng_);
}

TEST_P(HwyKernels, GemmMisalignedStridedAndLarge) {
  GemmSetup s{23, 70, 130};
  s.a_offset = 1;
  s.c_offset = 1;
  s.lda_pad = 3;
  s.ldc_pad = 5;
  s.epi = Epi::All;
  run_gemm_and_check(s, rng_);
  // Large magnitudes (products ~1e6): relative error is scale-free; nothing overflows.
  s.a_scale = 3e4f;
  s.w_scale = 40.0f;
  s.epi = Epi::Bias;
  run_gemm_and_check(s, rng_);
}

TEST_P(HwyKernels, GemmDeterministicAcrossThreadCounts) {
  // Bitwise: the split of C over tasks must not change any element's sum order. M = 600 gives
  // several A blocks, K = 700 several K blocks, N = 300 a ragged last panel. 16 threads (more
  // than this machine's cores) split the panels of each A block the most, as on a 16-core CPU.
  for (const auto& sh : std::vector<std::array<size_t, 3>>{{197, 300, 700}, {600, 130, 90}}) {
    const uint64_t seed = rng_();
    std::vector<std::vector<float>> outs;
    for (size_t threads : {1, 2, 3, 16}) {
      std::mt19937_64 rng(seed);  // same inputs for every thread count
      GemmSetup s{sh[0], sh[1], sh[2], Epi::All};
      s.threads = threads;
      outs.push_back(run_gemm_and_check(s, rng));
    }
    for (size_t i = 1; i < outs.size(); ++i) {
      EXPECT_EQ(0, std::memcmp(outs[0].data(), outs[i].data(), outs[0].size() * sizeof(float)))
          << "thread count #" << i;
    }
  }
}

TEST_P(HwyKernels, GemmRejectsBadArguments) {
  const auto w = uniform(rng_, 8 * 4);
  const auto packed = pack_weights(w.data(), 8, 4);
  std::vector<float> a(4 * 4), c(4 * 8);
  ThreadPool pool(1);
  EXPECT_THROW(gemm(a.data(), 4, 3, packed, c.data(), 8, {}, pool), core::Error);  // lda < K
  EXPECT_THROW(gemm(a.data(), 4, 4, packed, c.data(), 7, {}, pool), core::Error);  // ldc < N
  Epilogue shifted;  // residual overlapping C one row down: not C itself
  shifted.residual = c.data() + 8;
  shifted.ld_residual = 8;
  EXPECT_THROW(gemm(a.data(), 3, 4, packed, c.data(), 8, shifted, pool), core::Error);
  PackedWeights foreign = packed;  // as if packed by a target with another panel width
  foreign.panel_width *= 2;
  EXPECT_THROW(gemm(a.data(), 4, 4, foreign, c.data(), 8, {}, pool), core::Error);
}

// ---------------------------------------------------------------------------------------------
// LayerNorm

// Output error: (x − mean) keeps ~1 ulp of itself (see layer_norm.cpp), rstd 1 ulp, the product
// by gamma and the FMA with beta 1 ulp each: ~4u of |y|; 8u leaves room for their sum.
constexpr double kLayerNormTolerance = 8 * kU;

void check_layer_norm(std::mt19937_64& rng, size_t rows, size_t dim, float mean, float spread,
                      size_t threads) {
  SCOPED_TRACE(::testing::Message() << "rows=" << rows << " dim=" << dim << " mean=" << mean);
  const size_t ldx = dim + 3, ldy = dim + 1;  // strided rows
  std::vector<float> x(rows * ldx), y(rows * ldy, -7.0f);
  const auto vals = uniform(rng, rows * dim, mean - spread, mean + spread);
  for (size_t r = 0; r < rows; ++r) std::copy_n(&vals[r * dim], dim, &x[r * ldx]);
  const auto gamma = uniform(rng, dim, 0.5f, 1.5f);
  const auto beta = uniform(rng, dim, -0.5f, 0.5f);
  const float eps = 1e-6f;
  ThreadPool pool(threads);
  layer_norm(x.data(), rows, dim, ldx, gamma.data(), beta.data(), eps, y.data(), ldy, pool);
  std::vector<double> expected(rows * dim);
  const auto xd = dense_double(x.data(), rows, dim, ldx);
  reference::layer_norm(xd.data(), rows, dim, gamma.data(), beta.data(), eps, expected.data());
  const auto cmp = core::compare(dense_double(y.data(), rows, dim, ldy), expected);
  EXPECT_LE(cmp.max_rel_error, kLayerNormTolerance) << core::summarize(cmp);
  for (size_t r = 0; r < rows; ++r) {  // the stride padding is untouched
    for (size_t j = dim; j < ldy; ++j) EXPECT_EQ(y[r * ldy + j], -7.0f);
  }
}

TEST_P(HwyKernels, LayerNormShapes) {
  const size_t L = lanes_;
  for (size_t dim : {size_t{1}, L > 1 ? L - 1 : 2, L + 1, size_t{197}, size_t{768}, size_t{3072}}) {
    for (size_t rows : {1, 3, 197}) check_layer_norm(rng_, rows, dim, 0.0f, 2.0f, 2);
  }
}

TEST_P(HwyKernels, LayerNormLargeMeanSmallSpread) {
  // Mean 1e4, spread 1: a one-pass float variance (E[x²] − E[x]²) cancels 8 of float's 7 digits
  // here and fails by orders of magnitude; the two-pass float64 scheme keeps ~ulp accuracy.
  check_layer_norm(rng_, 31, 768, 1e4f, 1.0f, 1);
  check_layer_norm(rng_, 5, 3072, -3e5f, 20.0f, 3);
}

// ---------------------------------------------------------------------------------------------
// GELU, erf

TEST_P(HwyKernels, ErfMaxError) {
  // Dense sweep: 2^21 points over [−10, 10] (spacing 1e-5), against std::erf in double.
  const size_t n = size_t{1} << 21;
  std::vector<float> x(n), y(n);
  for (size_t i = 0; i < n; ++i) x[i] = static_cast<float>(-10.0 + 20.0 * static_cast<double>(i) / (n - 1));
  erf_approx(x.data(), y.data(), n);
  double worst = 0, worst_x = 0;
  for (size_t i = 0; i < n; ++i) {
    const double err = std::fabs(y[i] - std::erf(static_cast<double>(x[i])));
    if (err > worst) worst = err, worst_x = x[i];
  }
  // The bound stated in math-inl.h: absolute error <= 3e-7 (~5 ulp of 1).
  EXPECT_LE(worst, 3e-7) << "at x = " << worst_x;
  std::cout << "[hwy_tests] " << ::hwy::TargetName(GetParam()) << " erf max abs error " << worst
            << " at x = " << worst_x << "\n";
}

TEST_P(HwyKernels, GeluErfDenseSweep) {
  const size_t n = size_t{1} << 21;
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = static_cast<float>(-12.0 + 24.0 * static_cast<double>(i) / (n - 1));
  std::vector<float> y = x;
  gelu(y.data(), n, core::GeluKind::Erf);
  double worst = 0, worst_x = 0;  // error over the stated bound, at its worst
  double worst_rel = 0, worst_rel_x = 0;
  for (size_t i = 0; i < n; ++i) {
    // x·Φ(x) with Φ from erfc: reference::gelu_erf's 1 + erf(x/√2) cancels in double below
    // x ≈ −5 (1e-4 relative at x = −7), too coarse to measure a float approximation against.
    const double xd = x[i];
    const double exact = 0.5 * xd * std::erfc(-xd / std::sqrt(2.0));
    const double rel = std::fabs(y[i] - exact) / std::max(std::fabs(exact), 1e-30);
    // The bound stated in math-inl.h: 8u relative (measured: 5.9u, near x = 0), plus
    // (x²/2)·4u in the left tail, where the exponent argument f − x²/2 is rounded to float
    // (1e-6 relative at x = −4, 1.5e-5 at x = −11 where GELU is 1e-28). 1e-30 floors the
    // relative error where GELU underflows.
    const double bound = (8 + (xd < 0 ? 2 * xd * xd : 0)) * kU;
    if (rel / bound > worst) worst = rel / bound, worst_x = xd;
    if (rel > worst_rel) worst_rel = rel, worst_rel_x = xd;
  }
  EXPECT_LE(worst, 1.0) << "error / bound at x = " << worst_x;
  std::cout << "[hwy_tests] " << ::hwy::TargetName(GetParam()) << " GELU(erf) max rel error "
            << worst_rel << " at x = " << worst_rel_x << "; max error/bound " << worst << " at x = "
            << worst_x << "\n";
}

TEST_P(HwyKernels, GeluKeepsNaNAndInfinityAndSaturatesHugeInputs) {
  // A NaN or +Inf pre-activation must stay non-finite so that verification reports it; a finite
  // output would be a wrong answer nobody sees. Huge finite inputs saturate: GELU(x) = x for
  // x > 0 and 0 for x < 0 (x²/2 overflows inside, which must not leak out). The odd lanes hold
  // ordinary values, which must come out as for themselves alone.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> specials = {nan, inf, 3e38f, -3e38f, 1e30f, -1e30f, 2e19f, -2e19f};
  for (auto kind : {core::GeluKind::Erf, core::GeluKind::Tanh, core::GeluKind::Quick}) {
    SCOPED_TRACE(core::to_string(kind));
    std::vector<float> x;
    for (float v : specials) x.insert(x.end(), {v, 0.75f});
    std::vector<float> y = x;
    gelu(y.data(), y.size(), kind);
    float ordinary = 0.75f;
    gelu(&ordinary, 1, kind);
    for (size_t i = 0; i < x.size(); i += 2) {
      const float v = x[i];
      SCOPED_TRACE(::testing::Message() << "x = " << v);
      if (std::isnan(v)) {
        EXPECT_TRUE(std::isnan(y[i])) << y[i];
      } else {
        EXPECT_EQ(y[i], v > 0 ? v : 0.0f);
      }
      EXPECT_EQ(y[i + 1], ordinary);
    }
  }
}

TEST_P(HwyKernels, GeluShapes) {
  const size_t L = lanes_;
  for (auto kind : {core::GeluKind::Erf, core::GeluKind::Tanh, core::GeluKind::Quick}) {
    for (size_t n : {size_t{1}, L > 1 ? L - 1 : 2, L, L + 1, size_t{197}, size_t{3072}}) {
      SCOPED_TRACE(::testing::Message() << "n=" << n << " kind=" << core::to_string(kind));
      // [−5, 5]: below −5 the reference's 1 + erf / 1 + tanh cancels in double by more than
      // the float errors measured here.
      std::vector<float> buf = uniform(rng_, n + 2, -5, 5);
      const float guard0 = buf[0], guard1 = buf[n + 1];
      std::vector<double> expected(n);
      for (size_t i = 0; i < n; ++i) expected[i] = reference::gelu(kind, buf[i + 1]);
      const std::vector<float> x(buf.begin() + 1, buf.end() - 1);
      gelu(buf.data() + 1, n, kind);  // misaligned by one float
      EXPECT_EQ(buf[0], guard0);
      EXPECT_EQ(buf[n + 1], guard1);
      const auto cmp = core::compare(dense_double(buf.data() + 1, 1, n, n), expected);
      // 8u of max|expected| (erf: GeluErfDenseSweep; tanh and quick: exp, an add and a divide),
      // plus, per element, the left tail's rounding of the exponent argument relative to the
      // element: 2x²·u for erf (as in the dense sweep), 2·|exponent|·u for tanh, whose exponent
      // is −2u(x) = −1.6·x·(1 + 0.045·x²), and for quick GELU, whose exponent is −1.702·x. With
      // one element that is all there is to compare to.
      for (size_t i = 0; i < n; ++i) {
        const double xi = x[i];
        const double tail = xi >= 0                         ? 0
                            : kind == core::GeluKind::Erf  ? 2 * xi * xi
                            : kind == core::GeluKind::Tanh ? 2 * 1.6 * -xi * (1 + 0.045 * xi * xi)
                                                           : 2 * 1.702 * -xi;
        const double bound = 8 * kU * cmp.max_abs_expected + tail * kU * std::fabs(expected[i]);
        ASSERT_LE(std::fabs(buf[i + 1] - expected[i]), bound) << "x = " << xi;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// FastExp (the softmax's and flash attention's exp)

TEST_P(HwyKernels, FastExpMaxError) {
  // Dense sweep: 2^21 points over [−90, 88.5], against std::exp in double.
  const size_t n = size_t{1} << 21;
  std::vector<float> x(n), y(n);
  for (size_t i = 0; i < n; ++i) {
    x[i] = static_cast<float>(-90.0 + 178.5 * static_cast<double>(i) / (n - 1));
  }
  exp_approx(x.data(), y.data(), n);
  double worst = 0, worst_x = 0;
  for (size_t i = 0; i < n; ++i) {
    if (x[i] < -87.3f) {
      ASSERT_EQ(y[i], 0.0f) << "x = " << x[i];  // stated: exactly 0 where e^x leaves the normals
      continue;
    }
    if (x[i] > 88.0f) continue;  // stated: undefined; callers never pass it
    const double exact = std::exp(static_cast<double>(x[i]));
    const double err = std::fabs(y[i] - exact) / exact;
    if (err > worst) worst = err, worst_x = x[i];
  }
  // The bound stated in math-inl.h, ~2 ulp: 2·2^-23 relative (an ulp is 2^-24 to 2^-23 of the
  // value). The polynomial's truncation is below u/8; the rest is the rounding of r, of the
  // seven Horner steps and of the final product.
  EXPECT_LE(worst, 2 * 2 * kU) << "at x = " << worst_x;
  std::cout << "[hwy_tests] " << ::hwy::TargetName(GetParam()) << " FastExp max rel error "
            << worst / kU << " u at x = " << worst_x << "\n";
}

// ---------------------------------------------------------------------------------------------
// Softmax

TEST_P(HwyKernels, SoftmaxShapes) {
  const size_t L = lanes_;
  for (float spread : {1.0f, 30.0f, 3e3f}) {  // 3e3: almost every exp underflows to 0
    for (size_t n : {size_t{1}, L > 1 ? L - 1 : 2, L + 1, size_t{197}, size_t{3072}}) {
      SCOPED_TRACE(::testing::Message() << "n=" << n << " spread=" << spread);
      std::vector<float> buf = uniform(rng_, n + 2, 500 - spread, 500 + spread);  // large mean
      std::vector<double> expected(buf.begin() + 1, buf.end() - 1);
      reference::softmax(expected.data(), n);
      const float guard0 = buf[0], guard1 = buf[n + 1];
      softmax(buf.data() + 1, n);
      EXPECT_EQ(buf[0], guard0);
      EXPECT_EQ(buf[n + 1], guard1);
      const auto cmp = core::compare(dense_double(buf.data() + 1, 1, n, n), expected);
      // x − max is exact for the terms that matter (Sterbenz), exp is 2 ulp, the sum of n terms
      // in Lanes partial sums is off by <= (n/Lanes + log2 Lanes)·u relative, the scaling by
      // 1/sum 2 more roundings: (n/Lanes + 16)·u of max|expected| covers all of it.
      const double tol = (static_cast<double>(n) / L + 16) * kU;
      EXPECT_LE(cmp.max_rel_error, tol) << core::summarize(cmp);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Attention

// `queries`: how many leading tokens attend (0: all). Their rows must match the reference's, and
// bit for bit the rows the same call with every token attending writes; the others stay as they
// were.
void check_attention(std::mt19937_64& rng, size_t tokens, size_t heads, size_t head_dim,
                     bool want_probs, size_t threads, std::vector<float>* out_copy = nullptr,
                     size_t queries = 0) {
  const size_t tq = queries ? queries : tokens;
  SCOPED_TRACE(::testing::Message() << "T=" << tokens << " H=" << heads << " d=" << head_dim
                                    << " queries=" << tq << " probs=" << want_probs
                                    << " threads=" << threads);
  const size_t dim = heads * head_dim, ld_qkv = 3 * dim + 5, ld_out = dim + 2;
  // Activations of unit size, as after LayerNorm and the qkv projection; scores ~ √d·(1/3)/√d.
  std::vector<float> qkv = uniform(rng, tokens * ld_qkv, -2, 2);
  std::vector<float> out(tokens * ld_out, -9.0f), probs(want_probs ? heads * tokens * tokens : 0);
  ThreadPool pool(threads);
  attention(qkv.data(), ld_qkv, tokens, tq, heads, head_dim, out.data(), ld_out,
            want_probs ? probs.data() : nullptr, pool);
  if (tq < tokens) {
    std::vector<float> every(tokens * ld_out, -9.0f);
    attention(qkv.data(), ld_qkv, tokens, tokens, heads, head_dim, every.data(), ld_out, nullptr,
              pool);
    EXPECT_EQ(std::memcmp(out.data(), every.data(), tq * ld_out * sizeof(float)), 0);
    for (size_t i = tq * ld_out; i < tokens * ld_out; ++i) ASSERT_EQ(out[i], -9.0f) << i;
  }

  const auto qkv_d = dense_double(qkv.data(), tokens, 3 * dim, ld_qkv);
  std::vector<double> expected(tokens * dim), expected_probs(heads * tokens * tokens);
  reference::attention(qkv_d.data(), tokens, heads, head_dim, expected.data(), expected_probs.data());
  expected.resize(tq * dim);  // the rows that attended
  // Typical (random-walk) error terms, as in gemm_tolerance, each relative to the size of its
  // result: S = Q·Kᵀ sums d products, ~√d·u of the scores; softmax turns an absolute error δ of
  // the scaled scores (of size up to ~6 here: unit activations, 1/√d scale) into a relative
  // error ~δ of every probability: ~6·√d·u; its sum of T terms adds ~√T·u; O = P·V sums T
  // products, ~√T·u. Four times their sum, +8u for the last roundings, covers the maximum over
  // all outputs (measured: a tenth of this at T = 197, d = 64).
  const double d_root = std::sqrt(static_cast<double>(head_dim));
  const double t_root = std::sqrt(static_cast<double>(tokens));
  const double tol = (4 * (6 * d_root + 2 * t_root) + 8) * kU;
  const auto cmp = core::compare(dense_double(out.data(), tq, dim, ld_out), expected);
  EXPECT_LE(cmp.max_rel_error, tol) << core::summarize(cmp);
  for (size_t t = 0; t < tokens; ++t) {
    for (size_t j = dim; j < ld_out; ++j) ASSERT_EQ(out[t * ld_out + j], -9.0f);
  }
  if (want_probs) {
    std::vector<double> pd(probs.begin(), probs.end());
    const auto pc = core::compare(pd, expected_probs);
    EXPECT_LE(pc.max_rel_error, tol) << "probs: " << core::summarize(pc);
  }
  if (out_copy) *out_copy = out;
}

TEST_P(HwyKernels, AttentionShapes) {
  check_attention(rng_, 1, 1, 1, true, 1);
  check_attention(rng_, 7, 3, 8, false, 2);
  check_attention(rng_, 17, 2, 33, true, 3);  // a head size of no whole vectors: padded V and O
  check_attention(rng_, 197, 12, 64, false, 2);  // ViT-B/16
  // The output kernel takes up to 4 d-vectors at a time (attention.cpp): on AVX-512, d = 16,
  // 32, 48 take 1, 2, 3 and d = 80 takes 4 + 1; T = 13 and 25 leave ragged row and key blocks,
  // and T = 197 (13 query vectors, scored as 3 + 3 + 3 + 2 + 2) several key blocks and two P·V
  // row ranges.
  check_attention(rng_, 25, 3, 16, true, 2);
  check_attention(rng_, 197, 2, 32, false, 2);
  check_attention(rng_, 13, 2, 48, true, 1);
  check_attention(rng_, 197, 1, 80, false, 1);
}

// The forward's last block: only the leading tokens (class, distillation) attend, to every key.
// 1 and 2 queries of 197 and 198 (ViT-B/16, a distilled DeiT); a padded head size; more queries
// than a vector and a P·V row range, ragged.
TEST_P(HwyKernels, AttentionOfTheLeadingTokensOnly) {
  check_attention(rng_, 197, 12, 64, false, 2, nullptr, 1);
  check_attention(rng_, 198, 3, 64, false, 2, nullptr, 2);
  check_attention(rng_, 17, 2, 33, false, 3, nullptr, 2);
  check_attention(rng_, 197, 2, 32, false, 1, nullptr, lanes_ + 1);
  check_attention(rng_, 300, 2, 16, false, 2, nullptr, 199);
  ThreadPool pool(1);
  std::vector<float> qkv(3 * 6 * 4, 0.5f), out(6 * 4), probs(6 * 6);
  EXPECT_THROW(attention(qkv.data(), 12, 6, 7, 1, 4, out.data(), 4, nullptr, pool), core::Error);
  EXPECT_THROW(attention(qkv.data(), 12, 6, 2, 1, 4, out.data(), 4, probs.data(), pool),
               core::Error);
}

// What attention_bench reports as hwy's workspace: per worker, one head's whole score matrix
// (T × T rounded up to whole vectors of queries) and its transposed queries; for a head size
// that is not whole vectors, padded copies of V and O besides.
TEST_P(HwyKernels, AttentionScratchHoldsAHeadsWholeScoreMatrix) {
  for (size_t t : {size_t{1}, size_t{197}, size_t{4097}}) {
    const size_t whole = attention_scratch_floats(t, 64);
    EXPECT_GE(whole, t * t + 64 * t) << "T=" << t;
    EXPECT_LE(whole, (t + 64) * (t + 64)) << "T=" << t;  // lanes <= 64 floats of padding
    if (lanes_ > 1) {
      EXPECT_GE(attention_scratch_floats(t, 65), whole + 2 * t * 65) << "T=" << t;
    }
  }
}

TEST_P(HwyKernels, AttentionDeterministicAcrossThreadCounts) {
  const uint64_t seed = rng_();
  std::vector<std::vector<float>> outs;
  for (size_t threads : {1, 2, 3, 16}) {  // 16: more threads than the 5 heads
    std::mt19937_64 rng(seed);
    check_attention(rng, 50, 5, 24, true, threads, &outs.emplace_back());
  }
  for (size_t i = 1; i < outs.size(); ++i) EXPECT_EQ(outs[0], outs[i]) << "thread count #" << i;
}

// Without the probabilities, fewer heads than twice the threads split each head's queries into
// parts (ViT-Ti's 3 heads on 2 threads: 2 parts of 197 queries; 1 head on 16 threads: as many
// parts as score blocks). Checked against the reference, and bitwise against one thread, whose
// heads are whole: a query's output must not depend on the part it falls in. 197 queries, 50
// (one part's worth on AVX-512), and the last block's single query.
TEST_P(HwyKernels, AttentionSplitIntoQueryPartsGivesTheSameResults) {
  for (const auto& [tokens, heads, queries] :
       std::vector<std::array<size_t, 3>>{{197, 3, 0}, {197, 1, 0}, {50, 1, 0}, {197, 3, 1}}) {
    const uint64_t seed = rng_();
    std::vector<std::vector<float>> outs;
    for (size_t threads : {1, 2, 16}) {
      std::mt19937_64 rng(seed);
      check_attention(rng, tokens, heads, 64, false, threads, &outs.emplace_back(), queries);
    }
    for (size_t i = 1; i < outs.size(); ++i) {
      EXPECT_EQ(outs[0], outs[i]) << "T=" << tokens << " H=" << heads << " thread count #" << i;
    }
  }
}

}  // namespace
}  // namespace vitbench::optimized::hwy
