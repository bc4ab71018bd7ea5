// Each BLIS kernel against its reference twin (reference/ops.h), at sizes 1, 7 and 197 in every
// dimension, through pointers that are not 64-byte aligned and row strides wider than the rows.
//
// Bounds are per element and rigorous, computed from the data: a k-term dot product evaluated in
// float32 in any order (with or without FMA) is within γ_k·Σ|a_i·w_i| of the exact value,
// γ_k = k·u/(1 - k·u), u = 2^-24, and every further float32 operation adds one rounding, u·|value|.
// Such a bound never trips for a correct kernel whatever its blocking, and an indexing or stride
// bug (an error the size of the values) always exceeds it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "optimized/blis/kernels.h"
#include "optimized/kernel_set.h"
#include "optimized/thread_pool.h"
#include "reference/ops.h"

namespace vitbench::optimized::blis {
namespace {

constexpr double kU = 0x1p-24;  // float32 unit roundoff
double gamma(size_t k) { return k * kU / (1 - k * kU); }

// hwy::gelu's own approximation error (optimized/hwy/gelu.cpp, math-inl.h): its erf is within
// 2.25e-7 absolute, so GELU = x·Φ(x) is within |x|/2·2.25e-7 plus ~6 ulp relative. This allowance
// (absolute for |GELU(x)| <= 1, relative beyond) covers inputs to |x| = 16 with margin, and is
// still ~500× smaller than the difference between the erf and tanh forms (up to ~1e-3).
constexpr double kGeluError = 2e-6;
// The largest slope of either GELU form is about 1.13 (x ≈ 2.4); errors in its input grow by
// at most that much.
constexpr double kGeluSlope = 1.13;
// hwy::softmax's relative error per probability beyond the (n + 2)·u of summing and dividing
// counted separately: its exp is within 1 ulp and its vector-lane sum adds log2(lanes) more
// roundings (optimized/hwy/softmax-inl.h); 16 ulp covers both on any vector width.
constexpr double kSoftmaxError = 16 * kU;

std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

enum class Epi { None, Bias, BiasGeluErf, BiasGeluTanh, BiasResidual, ResidualInPlace };
const char* to_string(Epi e) {
  switch (e) {
    case Epi::None: return "none";
    case Epi::Bias: return "bias";
    case Epi::BiasGeluErf: return "bias+gelu(erf)";
    case Epi::BiasGeluTanh: return "bias+gelu(tanh)";
    case Epi::BiasResidual: return "bias+residual";
    case Epi::ResidualInPlace: return "bias+residual in place";
  }
  return "?";
}

// Runs blis::linear on A [m, k] (row stride k + 3, starting one float past an aligned address)
// into C [m, n] (row stride n + 5, likewise misaligned), checks every element against
// reference::linear within its bound, and returns C's rows for cross-thread comparison.
std::vector<float> check_linear(size_t m, size_t n, size_t k, Epi epi, size_t threads) {
  SCOPED_TRACE(::testing::Message() << "m=" << m << " n=" << n << " k=" << k << " "
                                  << to_string(epi) << " threads=" << threads);
  const size_t lda = k + 3, ldc = n + 5;
  const std::vector<float> w = random_floats(n * k, 1);
  const std::vector<float> bias = random_floats(n, 2);
  std::vector<float> a_buf = random_floats(1 + m * lda, 3);
  std::vector<float> c_buf = random_floats(1 + m * ldc, 4);  // stale values must not leak
  const std::vector<float> c_before = c_buf;
  const std::vector<float> residual_rows = random_floats(m * ldc, 5);
  const float* a = a_buf.data() + 1;
  float* c = c_buf.data() + 1;

  Epilogue e;
  const bool has_bias = epi != Epi::None;
  const bool gelu = epi == Epi::BiasGeluErf || epi == Epi::BiasGeluTanh;
  const core::GeluKind kind = epi == Epi::BiasGeluTanh ? core::GeluKind::Tanh : core::GeluKind::Erf;
  if (has_bias) e.bias = bias.data();
  e.gelu = gelu;
  e.gelu_kind = kind;
  if (epi == Epi::BiasResidual) {
    e.residual = residual_rows.data();
    e.ld_residual = ldc;
  } else if (epi == Epi::ResidualInPlace) {
    std::memcpy(c, residual_rows.data(), m * ldc * sizeof(float));
    e.residual = c;
    e.ld_residual = ldc;
  }

  ThreadPool pool(threads);
  const std::unique_ptr<PackedLinear> packed = pack_linear(w.data(), n, k);
  EXPECT_EQ(packed->n(), n);
  EXPECT_EQ(packed->k(), k);
  linear(a, m, lda, *packed, c, ldc, e, pool);

  std::vector<double> x(m * k), y(m * n);
  for (size_t r = 0; r < m; ++r) {
    for (size_t i = 0; i < k; ++i) x[r * k + i] = a[r * lda + i];
  }
  reference::linear(x.data(), m, k, w.data(), has_bias ? bias.data() : nullptr, n, y.data());
  std::vector<float> out(m * n);
  size_t failures = 0;
  for (size_t r = 0; r < m; ++r) {
    for (size_t j = 0; j < n; ++j) {
      double abs_dot = 0;
      for (size_t i = 0; i < k; ++i) abs_dot += std::fabs(x[r * k + i] * w[j * k + i]);
      double expected = y[r * n + j];
      double bound = gamma(k) * abs_dot + (has_bias ? kU * (std::fabs(expected) + abs_dot) : 0);
      if (gelu) {
        expected = kind == core::GeluKind::Erf ? reference::gelu_erf(expected)
                                               : reference::gelu_tanh(expected);
        bound = kGeluSlope * bound + kGeluError * std::max(1.0, std::fabs(expected));
      }
      if (e.residual) {
        const double res = residual_rows[r * ldc + j];
        expected += res;
        bound += kU * (std::fabs(expected) + std::fabs(res) + abs_dot);
      }
      const double actual = c[r * ldc + j];
      out[r * n + j] = c[r * ldc + j];
      if (!(std::fabs(actual - expected) <= bound) && failures++ < 5) {
        ADD_FAILURE() << "C[" << r << "," << j << "] = " << actual << ", expected " << expected
                      << " within " << bound;
      }
    }
  }
  // The padding between rows belongs to the caller.
  for (size_t r = 0; r < m; ++r) {
    for (size_t j = n; j < ldc && r * ldc + j < m * ldc; ++j) {
      const float before =
          epi == Epi::ResidualInPlace ? residual_rows[r * ldc + j] : c_before[1 + r * ldc + j];
      if (c[r * ldc + j] != before && failures++ < 5) ADD_FAILURE() << "padding overwritten";
    }
  }
  return out;
}

TEST(BlisLinear, MatchesReferenceAtEverySizeAndEpilogue) {
  const size_t sizes[] = {1, 7, 197};
  const Epi epis[] = {Epi::None, Epi::Bias, Epi::BiasGeluErf, Epi::BiasGeluTanh,
                      Epi::BiasResidual, Epi::ResidualInPlace};
  for (size_t m : sizes) {
    for (size_t n : sizes) {
      for (size_t k : sizes) {
        for (Epi epi : epis) {
          const std::vector<float> one = check_linear(m, n, k, epi, 1);
          const std::vector<float> two = check_linear(m, n, k, epi, 2);
          // Deterministic: the thread count never changes a bit.
          EXPECT_EQ(one, two) << "m=" << m << " n=" << n << " k=" << k << " " << to_string(epi);
        }
      }
    }
  }
}

TEST(BlisLinear, WideLayerSplitsAcrossThreadsIdentically) {
  // Wide enough (n = 1000, like a 1000-class head or an MLP) that the kernel splits the columns
  // among workers; each split must give the same bits.
  const std::vector<float> one = check_linear(30, 1000, 96, Epi::BiasGeluErf, 1);
  EXPECT_EQ(one, check_linear(30, 1000, 96, Epi::BiasGeluErf, 2));
  EXPECT_EQ(one, check_linear(30, 1000, 96, Epi::BiasGeluErf, 3));
}

TEST(BlisLinear, RefusesGeluBeforeAnInPlaceResidual) {
  const std::vector<float> w(4, 1.0f), a(4, 1.0f);
  std::vector<float> c(4, 0.0f);
  const std::unique_ptr<PackedLinear> packed = pack_linear(w.data(), 2, 2);
  Epilogue e;
  e.gelu = true;
  e.residual = c.data();
  e.ld_residual = 2;
  ThreadPool pool(1);
  EXPECT_THROW(linear(a.data(), 2, 2, *packed, c.data(), 2, e, pool), core::Error);
}

// Runs blis::attention on a batch of `images` with misaligned, padded qkv and out, and checks
// every output and probability against reference::attention within a bound derived from the
// data (see the header comment and the steps below). With `queries` (0: all) only each image's
// first tokens attend: their rows are checked, the others must be left as they were.
std::vector<float> check_attention(size_t images, size_t tokens, size_t heads, size_t head_dim,
                                   bool with_probs, size_t threads, size_t queries = 0) {
  SCOPED_TRACE(::testing::Message() << "images=" << images << " tokens=" << tokens
                                  << " heads=" << heads << " head_dim=" << head_dim
                                  << " probs=" << with_probs << " threads=" << threads
                                  << " queries=" << queries);
  const size_t D = heads * head_dim, ld_qkv = 3 * D + 3, ld_out = D + 2, T = tokens;
  const size_t Tq = queries ? queries : T;
  // Uniform on [-2.5, 2.5] has variance 25/12, so scores Σq·k/√d have a standard deviation of
  // about 2: peaked rows, none one-hot, as in a trained model.
  const float scale_in = 2.5f;
  const std::vector<float> qkv_buf = random_floats(1 + images * T * ld_qkv, 7, scale_in);
  std::vector<float> out_buf(1 + images * T * ld_out, -7.0f);
  std::vector<float> probs(with_probs ? images * heads * T * T : 0, -7.0f);
  const float* qkv = qkv_buf.data() + 1;
  float* out = out_buf.data() + 1;

  const AttentionProblem p{.qkv = qkv,
                           .ld_qkv = ld_qkv,
                           .images = images,
                           .tokens = T,
                           .heads = heads,
                           .head_dim = head_dim,
                           .queries = queries,
                           .out = out,
                           .ld_out = ld_out,
                           .probs = with_probs ? probs.data() : nullptr};
  ThreadPool pool(threads);
  std::vector<float> workspace(attention_workspace_floats(T, head_dim, threads));
  attention(p, workspace.data(), pool);

  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
  size_t failures = 0;
  for (size_t img = 0; img < images; ++img) {
    std::vector<double> x(T * 3 * D), y(T * D), py(heads * T * T);
    for (size_t t = 0; t < T; ++t) {
      for (size_t j = 0; j < 3 * D; ++j) x[t * 3 * D + j] = qkv[(img * T + t) * ld_qkv + j];
    }
    reference::attention(x.data(), T, heads, head_dim, y.data(), py.data());
    for (size_t h = 0; h < heads; ++h) {
      for (size_t i = 0; i < Tq; ++i) {
        // Score error: a head_dim-term dot product plus the 1/√d scaling.
        double score_err = 0;
        for (size_t j = 0; j < T; ++j) {
          double abs_dot = 0;
          for (size_t c = 0; c < head_dim; ++c) {
            abs_dot += std::fabs(x[i * 3 * D + h * head_dim + c] * x[j * 3 * D + D + h * head_dim + c]);
          }
          score_err = std::max(score_err, (gamma(head_dim) + 2 * kU) * abs_dot * scale);
        }
        // Shifting every score by at most δ moves each probability by a factor within e^{±2δ};
        // the softmax itself adds its exp's error and (T + 2) roundings of the sum and division.
        const double p_rel = std::expm1(2 * score_err) + kSoftmaxError + gamma(T + 2);
        for (size_t j = 0; j < T && with_probs; ++j) {
          const double e = py[(h * T + i) * T + j];
          const double a = probs[((img * heads + h) * T + i) * T + j];
          if (!(std::fabs(a - e) <= p_rel * e + 1e-30) && failures++ < 5) {
            ADD_FAILURE() << "probs[" << img << "," << h << "," << i << "," << j << "] = " << a
                          << ", expected " << e;
          }
        }
        for (size_t c = 0; c < head_dim; ++c) {
          // out = Σ_j p_j v_j: the probabilities' error plus a T-term sum of weights summing to 1.
          double max_v = 0;
          for (size_t j = 0; j < T; ++j) {
            max_v = std::max(max_v, std::fabs(x[j * 3 * D + 2 * D + h * head_dim + c]));
          }
          const double bound = (p_rel + gamma(T)) * max_v;
          const double e = y[i * D + h * head_dim + c];
          const double a = out[(img * T + i) * ld_out + h * head_dim + c];
          if (!(std::fabs(a - e) <= bound) && failures++ < 5) {
            ADD_FAILURE() << "out[" << img << "," << i << "," << h * head_dim + c << "] = " << a
                          << ", expected " << e << " within " << bound;
          }
        }
      }
    }
    // Padding columns of out, and the rows of tokens that did not attend, are the caller's.
    for (size_t t = 0; t < T; ++t) {
      for (size_t j = t < Tq ? D : 0; j < ld_out; ++j) {
        const size_t at = (img * T + t) * ld_out + j;
        if (at < images * T * ld_out && out[at] != -7.0f && failures++ < 5) {
          ADD_FAILURE() << "padding overwritten at row " << t;
        }
      }
    }
  }
  return std::vector<float>(out, out + images * T * ld_out);
}

TEST(BlisAttention, MatchesReferenceAtTokens1And7And197) {
  for (size_t tokens : {1, 7, 197}) {
    for (bool with_probs : {false, true}) {
      const std::vector<float> one = check_attention(2, tokens, 3, 64, with_probs, 1);
      EXPECT_EQ(one, check_attention(2, tokens, 3, 64, with_probs, 2)) << tokens;
    }
  }
  // Odd head widths (not a multiple of any vector length) and a single head.
  check_attention(1, 7, 1, 7, true, 2);
  check_attention(3, 26, 3, 24, true, 2);
}

TEST(BlisAttention, OnlyTheLeadingTokensAttendInTheLastBlock) {
  check_attention(1, 197, 3, 64, false, 2, 1);
  check_attention(3, 198, 2, 64, false, 2, 2);
  check_attention(2, 26, 3, 24, false, 1, 17);
  // More queries than tokens, and probabilities (every query's) with fewer, are refused.
  std::vector<float> qkv(3 * 4 * 8, 0.5f), out(4 * 8), probs(4 * 4), workspace(4 * 4);
  AttentionProblem p{.qkv = qkv.data(), .ld_qkv = 3 * 8, .images = 1, .tokens = 4, .heads = 1,
                     .head_dim = 8, .queries = 5, .out = out.data(), .ld_out = 8};
  ThreadPool pool(1);
  EXPECT_THROW(attention(p, workspace.data(), pool), core::Error);
  p.queries = 2;
  p.probs = probs.data();
  EXPECT_THROW(attention(p, workspace.data(), pool), core::Error);
}

TEST(BlisKernels, DescribeTheirConfiguration) {
  const std::string conf = configuration();
  EXPECT_NE(conf.find("BLIS"), std::string::npos) << conf;
  const KernelSet set = kernels();
  EXPECT_EQ(set.name, "blis");
  EXPECT_EQ(set.linear.run, &linear);
  EXPECT_EQ(set.attention.run, &attention);
}

}  // namespace
}  // namespace vitbench::optimized::blis
