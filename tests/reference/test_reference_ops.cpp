// The reference's operations against values worked out by hand, then against properties that
// must hold for any input (drawn from a logged seed).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "reference/ops.h"

namespace vitbench::reference {
namespace {

// Hand-worked values are O(1) and each op rounds a handful of times, so they agree to a few ulps
// (1 ulp of 4 is 8.9e-16); 1e-14 allows that and nothing a real mistake would produce.
constexpr double kHandTol = 1e-14;
constexpr double kInvSqrt2 = 0.70710678118654752440;

constexpr uint64_t kSeed = 20240611;

std::vector<double> uniform(std::mt19937_64& rng, size_t n, double lo, double hi) {
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(n);
  for (double& x : v) x = dist(rng);
  return v;
}

std::vector<float> uniform_f(std::mt19937_64& rng, size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// ---- layer_norm ---------------------------------------------------------------------------------

TEST(ReferenceLayerNorm, HandWorkedRow) {
  // Row [1, 2, 3, 4]: mean 2.5, deviations [-1.5, -0.5, 0.5, 1.5], population variance
  // (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25. With eps 0.75, var + eps = 2, so each deviation is
  // divided by √2, then y = x̂ · gamma + beta with gamma [1, 2, 0.5, -1], beta [0, 1, -1, 0.5]:
  //   y0 = -1.5/√2 · 1   + 0     = -1.0606601717798212
  //   y1 = -0.5/√2 · 2   + 1     =  1 - 1/√2           =  0.2928932188134524
  //   y2 =  0.5/√2 · 0.5 - 1     =  0.25/√2 - 1        = -0.8232233047033631
  //   y3 =  1.5/√2 · -1  + 0.5   =  0.5 - 1.5/√2       = -0.5606601717798212
  // The second row is constant: its variance is 0, eps keeps the division finite, and the
  // normalised row is 0, so y = beta.
  const double x[8] = {1, 2, 3, 4, 7, 7, 7, 7};
  const float gamma[4] = {1, 2, 0.5f, -1};
  const float beta[4] = {0, 1, -1, 0.5f};
  double y[8];
  layer_norm(x, 2, 4, gamma, beta, 0.75, y);
  const double expected[8] = {-1.5 * kInvSqrt2,     1 - kInvSqrt2, 0.25 * kInvSqrt2 - 1,
                              0.5 - 1.5 * kInvSqrt2, 0, 1, -1, 0.5};
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(y[i], expected[i], kHandTol) << "element " << i;
}

TEST(ReferenceLayerNorm, InvariantToLargeOffset) {
  SCOPED_TRACE("seed " + std::to_string(kSeed));
  std::mt19937_64 rng(kSeed);
  const size_t rows = 8, dim = 64;
  const std::vector<double> x = uniform(rng, rows * dim, -3, 3);
  const std::vector<float> gamma = uniform_f(rng, dim, 0.5f, 1.5f);
  const std::vector<float> beta = uniform_f(rng, dim, -0.5f, 0.5f);
  std::vector<double> shifted(x);
  for (double& v : shifted) v += 1e4;
  std::vector<double> y(rows * dim), y_shifted(rows * dim);
  layer_norm(x.data(), rows, dim, gamma.data(), beta.data(), 1e-6, y.data());
  layer_norm(shifted.data(), rows, dim, gamma.data(), beta.data(), 1e-6, y_shifted.data());
  // Adding 1e4 rounds each element to the ulp of 1e4 (1.8e-12), so the deviations move by up to
  // 9e-13; divided by the row's std (about 1.7) and scaled by gamma (< 1.5) that is < 1e-12.
  // 1e-11 leaves a 10x margin; a one-pass E[x²] - E[x]² variance (x² near 1e8, ulp 1.5e-8)
  // would be off by ~1e-8 here.
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y_shifted[i], y[i], 1e-11) << "element " << i;
}

TEST(ReferenceLayerNorm, NormalisedRowHasZeroMeanUnitVariance) {
  SCOPED_TRACE("seed " + std::to_string(kSeed));
  std::mt19937_64 rng(kSeed + 1);
  const size_t dim = 37;
  const std::vector<double> x = uniform(rng, dim, -10, 10);
  const std::vector<float> ones(dim, 1.0f), zeros(dim, 0.0f);
  std::vector<double> y(dim);
  layer_norm(x.data(), 1, dim, ones.data(), zeros.data(), 0.0, y.data());
  double mean = 0, var = 0;
  for (double v : y) mean += v;
  mean /= dim;
  for (double v : y) var += (v - mean) * (v - mean);
  var /= dim;
  // 37 O(1) terms summed: rounding stays within ~37 ulps of 1, under 1e-14.
  EXPECT_NEAR(mean, 0.0, 1e-14);
  EXPECT_NEAR(var, 1.0, 1e-14);
}

// ---- linear -------------------------------------------------------------------------------------

TEST(ReferenceLinear, HandWorked2x3) {
  // w (PyTorch [out=2, in=3]) = [[1, 0, -1], [0.5, 2, 0.25]], bias [0.5, -1].
  //   x0 = [1, 2, 3]:     y00 = 1 + 0 - 3 + 0.5         = -1.5
  //                       y01 = 0.5 + 4 + 0.75 - 1      =  4.25
  //   x1 = [-1, 0, 0.5]:  y10 = -1 + 0 - 0.5 + 0.5      = -1
  //                       y11 = -0.5 + 0 + 0.125 - 1    = -1.375
  // Every value is a short sum of dyadic rationals, so the results are exact.
  const double x[6] = {1, 2, 3, -1, 0, 0.5};
  const float w[6] = {1, 0, -1, 0.5f, 2, 0.25f};
  const float bias[2] = {0.5f, -1};
  double y[4];
  linear(x, 2, 3, w, bias, 2, y);
  EXPECT_EQ(y[0], -1.5);
  EXPECT_EQ(y[1], 4.25);
  EXPECT_EQ(y[2], -1.0);
  EXPECT_EQ(y[3], -1.375);

  // Without a bias the same sums lose their last term.
  linear(x, 2, 3, w, nullptr, 2, y);
  EXPECT_EQ(y[0], -2.0);
  EXPECT_EQ(y[1], 5.25);
  EXPECT_EQ(y[2], -1.5);
  EXPECT_EQ(y[3], -0.375);
}

// ---- GELU ---------------------------------------------------------------------------------------

TEST(ReferenceGelu, ErfAtKnownPoints) {
  // gelu(x) = x · Φ(x) with Φ the standard normal CDF; Φ(1) = 0.8413447460685429,
  // Φ(2) = 0.9772498680518208 (tables), Φ(-1) = 1 - Φ(1).
  EXPECT_EQ(gelu_erf(0.0), 0.0);
  EXPECT_NEAR(gelu_erf(1.0), 0.8413447460685429, kHandTol);
  EXPECT_NEAR(gelu_erf(-1.0), -(1 - 0.8413447460685429), kHandTol);
  EXPECT_NEAR(gelu_erf(2.0), 2 * 0.9772498680518208, kHandTol);
  // Far out Φ is 1 (or 0) to double precision: gelu is the identity (or 0).
  EXPECT_EQ(gelu_erf(10.0), 10.0);
  EXPECT_NEAR(gelu_erf(-10.0), 0.0, 1e-20);
}

TEST(ReferenceGelu, TanhAtKnownPoints) {
  // gelu_tanh(1) = 0.5 · (1 + tanh(√(2/π) · (1 + 0.044715))) = 0.5 · (1 + tanh(0.8335...))
  //             = 0.5 · (1 + 0.68238...) = 0.8411919906082768 (PyTorch's approximate='tanh').
  EXPECT_EQ(gelu_tanh(0.0), 0.0);
  EXPECT_NEAR(gelu_tanh(1.0), 0.8411919906082768, kHandTol);
  EXPECT_NEAR(gelu_tanh(-1.0), 0.8411919906082768 - 1, kHandTol);  // gelu(-x) = gelu(x) - x
  EXPECT_EQ(gelu_tanh(10.0), 10.0);
}

TEST(ReferenceGelu, TanhApproximatesErfAndBothHaveGeluSymmetry) {
  for (double x = -8; x <= 8; x += 1.0 / 64) {
    // The tanh form's largest deviation from the exact GELU is 4.7e-4 (near |x| = 2.2).
    EXPECT_NEAR(gelu_tanh(x), gelu_erf(x), 5e-4) << "x = " << x;
    // Φ(x) + Φ(-x) = 1 gives gelu(x) - gelu(-x) = x; a few roundings of values up to 8.
    EXPECT_NEAR(gelu_erf(x) - gelu_erf(-x), x, 1e-14) << "x = " << x;
    EXPECT_NEAR(gelu_tanh(x) - gelu_tanh(-x), x, 1e-14) << "x = " << x;
  }
  // The two forms must not be the same function.
  EXPECT_GT(std::abs(gelu_tanh(2.2) - gelu_erf(2.2)), 1e-4);
}

// ---- softmax ------------------------------------------------------------------------------------

TEST(ReferenceSoftmax, HandWorked123) {
  // softmax([1, 2, 3]) = [e⁻², e⁻¹, 1] / (e⁻² + e⁻¹ + 1)
  //                    = [0.135335, 0.367879, 1] / 1.503214
  //                    = [0.09003057317038046, 0.24472847105479767, 0.6652409557748219]
  double row[3] = {1, 2, 3};
  softmax(row, 3);
  EXPECT_NEAR(row[0], 0.09003057317038046, kHandTol);
  EXPECT_NEAR(row[1], 0.24472847105479767, kHandTol);
  EXPECT_NEAR(row[2], 0.6652409557748219, kHandTol);
}

TEST(ReferenceSoftmax, RowsSumToOneAndShiftInvariant) {
  SCOPED_TRACE("seed " + std::to_string(kSeed));
  std::mt19937_64 rng(kSeed + 2);
  for (size_t n = 1; n <= 50; ++n) {
    std::vector<double> row = uniform(rng, n, -20, 20);
    std::vector<double> shifted(row);
    for (double& v : shifted) v += 1000.0;
    softmax(row.data(), n);
    softmax(shifted.data(), n);
    double sum = 0;
    for (double p : row) sum += p;
    // n terms in [0, 1] summed and divided: n + 1 roundings of at most 1.1e-16 each.
    EXPECT_NEAR(sum, 1.0, (n + 1) * 1.2e-16) << "n = " << n;
    for (size_t i = 0; i < n; ++i) {
      // Adding 1000 rounds each logit to the ulp of 1020 (2.3e-13); exp turns that absolute
      // error into a relative one of the same size, twice (numerator and sum). 1e-12 relative.
      EXPECT_NEAR(shifted[i], row[i], 1e-12 * row[i]) << "n = " << n << ", i = " << i;
    }
  }
}

TEST(ReferenceSoftmax, HugeLogitsStayFinite) {
  // exp(1e4) overflows and exp(-1e4) underflows: only a max-subtracted softmax survives both.
  double row[4] = {1e4, -1e4, 0, 1e4};
  softmax(row, 4);
  EXPECT_EQ(row[0], 0.5);
  EXPECT_EQ(row[1], 0.0);
  EXPECT_EQ(row[2], 0.0);
  EXPECT_EQ(row[3], 0.5);
  double low[2] = {-1e4, -1e4};
  softmax(low, 2);
  EXPECT_EQ(low[0], 0.5);
  EXPECT_EQ(low[1], 0.5);
}

// ---- attention ----------------------------------------------------------------------------------

TEST(ReferenceAttention, HandWorkedTwoTokensOneHead) {
  // One head of size 2 (scale 1/√2). Rows are q | k | v per token:
  //   token 0: q [1, 0], k [1, 0], v [1, 2]
  //   token 1: q [0, 1], k [0, 2], v [3, 4]
  // Token 0: scores [q0·k0, q0·k1] / √2 = [1/√2, 0];
  //   p0 = [1, e^(-1/√2)] / (1 + e^(-1/√2)) = [1, 0.4930686913952398] / 1.4930686913952398
  //      = [0.6697615493266569, 0.3302384506733431]
  //   out0 = p00 · [1, 2] + p01 · [3, 4] = [1, 2] + 2 · p01 = [1.6604769013466862, 2.6604769013466862]
  // Token 1: scores [0, 2/√2] = [0, √2];
  //   p1 = [1, e^√2] / (1 + e^√2) = [1, 4.1132503787829275] / 5.1132503787829275
  //      = [0.1955703174930431, 0.8044296825069569]
  //   out1 = [1, 2] + 2 · p11 = [2.6088593650139138, 3.6088593650139138]
  const double qkv[12] = {1, 0, 1, 0, 1, 2,  //
                          0, 1, 0, 2, 3, 4};
  double out[4], probs[4];
  attention(qkv, 2, 1, 2, out, probs);
  EXPECT_NEAR(probs[0], 0.6697615493266569, kHandTol);
  EXPECT_NEAR(probs[1], 0.3302384506733431, kHandTol);
  EXPECT_NEAR(probs[2], 0.1955703174930431, kHandTol);
  EXPECT_NEAR(probs[3], 0.8044296825069569, kHandTol);
  EXPECT_NEAR(out[0], 1.6604769013466862, kHandTol);
  EXPECT_NEAR(out[1], 2.6604769013466862, kHandTol);
  EXPECT_NEAR(out[2], 2.6088593650139138, kHandTol);
  EXPECT_NEAR(out[3], 3.6088593650139138, kHandTol);

  // The probabilities are optional and change nothing else.
  double out_no_probs[4];
  attention(qkv, 2, 1, 2, out_no_probs);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out_no_probs[i], out[i]);
}

TEST(ReferenceAttention, HandWorkedTwoHeadsUseTheirOwnColumns) {
  // Two heads of size 1 (scale 1). Rows are [q_h0, q_h1, k_h0, k_h1, v_h0, v_h1]:
  //   token 0: [0, 1,  5, 0,     2, 4]
  //   token 1: [0, 2, -3, ln 3,  6, 8]
  // Head 0: q = 0, so every score is 0 whatever k: p = [1/2, 1/2], out = (2 + 6)/2 = 4.
  // Head 1: keys [0, ln 3].
  //   token 0 (q = 1): scores [0, ln 3], p = [1, 3]/4, out = 4/4 + 8·3/4 = 7
  //   token 1 (q = 2): scores [0, 2 ln 3], p = [1, 9]/10, out = 4/10 + 8·9/10 = 7.6
  const double ln3 = std::log(3.0);
  const double qkv[12] = {0, 1, 5, 0, 2, 4,  //
                          0, 2, -3, ln3, 6, 8};
  double out[4], probs[8];
  attention(qkv, 2, 2, 1, out, probs);
  const double expected_probs[8] = {0.5, 0.5, 0.5, 0.5, 0.25, 0.75, 0.1, 0.9};
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(probs[i], expected_probs[i], kHandTol) << "prob " << i;
  EXPECT_NEAR(out[0], 4.0, kHandTol);  // token 0, head 0
  EXPECT_NEAR(out[1], 7.0, kHandTol);  // token 0, head 1
  EXPECT_NEAR(out[2], 4.0, kHandTol);
  EXPECT_NEAR(out[3], 7.6, kHandTol);
}

TEST(ReferenceAttention, EqualKeysAverageValues) {
  SCOPED_TRACE("seed " + std::to_string(kSeed));
  std::mt19937_64 rng(kSeed + 3);
  const size_t T = 7, H = 3, d = 4, D = H * d;
  std::vector<double> qkv = uniform(rng, T * 3 * D, -2, 2);
  // Every token gets token 0's keys: all scores in a row are equal, so p = 1/T and each output
  // row is the mean of V (per head, which here is per column).
  for (size_t t = 1; t < T; ++t) {
    for (size_t j = 0; j < D; ++j) qkv[t * 3 * D + D + j] = qkv[D + j];
  }
  std::vector<double> out(T * D), probs(H * T * T);
  attention(qkv.data(), T, H, d, out.data(), probs.data());
  // Identical keys give bit-identical scores, so each p is exp(0) / 7 = 1/7 correctly rounded.
  for (size_t i = 0; i < probs.size(); ++i) EXPECT_EQ(probs[i], 1.0 / T) << i;
  for (size_t col = 0; col < D; ++col) {
    double mean = 0;
    for (size_t s = 0; s < T; ++s) mean += qkv[s * 3 * D + 2 * D + col];
    mean /= T;
    for (size_t t = 0; t < T; ++t) {
      // Sums of 7 values of magnitude <= 2 weighted by 1/7: a few ulps of 2, under 1e-14.
      EXPECT_NEAR(out[t * D + col], mean, 1e-14) << "token " << t << ", column " << col;
    }
  }
}

TEST(ReferenceAttention, ProbabilityRowsSumToOne) {
  SCOPED_TRACE("seed " + std::to_string(kSeed));
  std::mt19937_64 rng(kSeed + 4);
  const size_t T = 11, H = 2, d = 5;
  const std::vector<double> qkv = uniform(rng, T * 3 * H * d, -3, 3);
  std::vector<double> out(T * H * d), probs(H * T * T);
  attention(qkv.data(), T, H, d, out.data(), probs.data());
  for (size_t row = 0; row < H * T; ++row) {
    double sum = 0;
    for (size_t s = 0; s < T; ++s) {
      EXPECT_GE(probs[row * T + s], 0.0);
      sum += probs[row * T + s];
    }
    EXPECT_NEAR(sum, 1.0, 12 * 1.2e-16) << "row " << row;  // T + 1 roundings
  }
}

}  // namespace
}  // namespace vitbench::reference
