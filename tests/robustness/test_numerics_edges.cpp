// Numerics at the edges, for every backend the CLI knows (cli::all_backend_names(), so a backend
// registered later is covered without new code): inputs scaled by 1e3 and 1e-3, LayerNorm rows
// with a large mean and a tiny spread, attention logits of ±1e4, denormals, and values that
// overflow float32 but not float64. Each case either gives the reference's answer within a
// tolerance derived below, or ends in a NaN/Inf that verification reports at the tap where it
// first appeared; nothing non-finite passes silently. Then determinism: for a fixed backend,
// thread count and input, two runs give bit-identical logits and taps.
//
// Tolerances. Every comparison is core::compare's max |a - e| / max |e| for a tap. The base
// figure is the project's policy for the backend's class (golden::tolerance_for: 32·u·√K·√stages,
// u = 2^-24 for float32 backends, which for this config is 2.3e-5 at the embedding and 6.1e-5 at
// the logits); tests/optimized/test_backends.cpp measures 0.3-1.5e-6 on ordinary inputs. An edge
// case adds only the error that float32 storage makes unavoidable there, stated where it applies.
#include <gtest/gtest.h>

#include <cctype>
#include <cfenv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "cli/backends.h"
#include "core/config.h"
#include "core/metrics.h"
#include "core/model_loader.h"
#include "core/taps.h"
#include "core/weights.h"
#include "golden/manifest.h"
#include "golden/tolerance.h"
#include "golden/verify.h"
#include "optimized/backend.h"
#include "optimized/kernel_set.h"
#include "optimized/thread_pool.h"
#include "reference/ops.h"
#include "reference/vit.h"
#include "tests/cli/cli_runner.h"
#include "tests/small_config.h"

namespace vitbench::robustness {
namespace {

constexpr double kU = 0x1p-24;  // float32's unit roundoff

// Heads of 24; 25 patches + the class token = 26 tokens.
core::Config small_config() {
  return testing::shaped_config("edges", {.hidden = 72, .mlp = 144, .image = 20, .labels = 7});
}

bool is_reference(const std::string& backend) { return backend == "reference"; }

const char* tolerance_class(const std::string& backend) {
  return is_reference(backend) ? golden::kReferenceClass : golden::kFloat32Class;
}

struct BackendRun {
  core::TensorD logits;
  core::Taps taps = core::Taps::standard();
};

BackendRun run(const std::string& backend, const core::Model& model, const core::Tensor& images,
        size_t threads = 2) {
  BackendRun r;
  r.logits = cli::run_backend(backend, model, images, &r.taps, threads);
  return r;
}

BackendRun reference_run(const core::Model& model, const core::Tensor& images) {
  BackendRun r;
  r.logits = reference::forward(model, images, &r.taps, 2);
  return r;
}

// The reference's taps as a golden case, so golden::judge (what `vitbench verify` and bench's
// verification step use) can say where a backend first went non-finite.
golden::Case as_golden(const core::Model& model, const core::Tensor& images, const BackendRun& expected) {
  golden::Case c;
  c.name = "edge";
  c.config = model.config;
  c.input = images;
  for (const std::string& name : core::standard_tap_names(model.config.num_layers)) {
    golden::ExpectedTap t;
    t.name = name;
    t.file = name + ".npy";
    t.dtype = core::NpyDtype::Float64;
    t.values = name == core::tap::logits() ? expected.logits : expected.taps.get(name);
    c.taps.push_back(std::move(t));
  }
  return c;
}

// Every standard tap within the policy's tolerance plus `extra` (relative to max|expected|).
void expect_matches_reference(const std::string& backend, const core::Config& c, const BackendRun& actual,
                              const BackendRun& expected, double extra) {
  for (const std::string& name : core::standard_tap_names(c.num_layers)) {
    const bool logits = name == core::tap::logits();
    const core::TensorD& a = logits ? actual.logits : actual.taps.get(name);
    const core::TensorD& e = logits ? expected.logits : expected.taps.get(name);
    ASSERT_EQ(a.shape(), e.shape()) << name;
    const core::Comparison cmp = core::compare(a.span(), e.span(), logits ? c.num_labels : 0);
    const double tolerance =
        golden::tolerance_for(c, name, tolerance_class(backend), core::NpyDtype::Float64).max_rel + extra;
    EXPECT_TRUE(cmp.finite()) << backend << " " << name << ": " << core::summarize(cmp);
    EXPECT_LE(cmp.max_rel_error, tolerance) << backend << " " << name << ": " << core::summarize(cmp);
    if (logits) {
      EXPECT_TRUE(cmp.all_argmax_agree()) << backend << ": " << core::summarize(cmp);
    }
  }
}

// ---- Whole models at the edges ------------------------------------------------------------------

struct Edge {
  std::string name;
  // Alters the model and the images of an ordinary case.
  void (*apply)(core::Model&, core::Tensor&);
  // Extra relative error float32 storage makes unavoidable in this case (see each case).
  double extra_float32;
};

void PrintTo(const Edge& e, std::ostream* os) { *os << e.name; }

void scale_images(core::Tensor& images, float factor) {
  for (size_t i = 0; i < images.size(); ++i) images[i] *= factor;
}

std::vector<Edge> edges() {
  return {
      // The patch embedding scales with the input, then the first LayerNorm takes the scale out
      // again: no new error beyond the policy's (LayerNorm is scale-invariant up to eps).
      {"inputs_times_1e3", [](core::Model&, core::Tensor& x) { scale_images(x, 1e3f); }, 0},
      {"inputs_times_1e-3", [](core::Model&, core::Tensor& x) { scale_images(x, 1e-3f); }, 0},
      // Every token of the residual stream gets +1000 on every channel: each LayerNorm row has a
      // mean of 1000 and a spread of about 1. The activations are float32 in the backends, so x
      // itself carries an error of u·1000 against the reference's float64 stream, which the
      // LayerNorm divides by σ ≈ 1: about 6e-5 in every normalised output, and the same again
      // relative to the O(1) values downstream. 4 × that covers the two stored roundings
      // (embedding, block output) that feed the final norm.
      {"layer_norm_rows_with_mean_1e3",
       [](core::Model& m, core::Tensor&) {
         for (size_t d = 0; d < m.config.hidden_size; ++d) {
           m.weights.patch_bias[d] += 1000.0f;
           m.weights.cls_token[d] += 1000.0f;
         }
       },
       4 * kU * 1000},
      // Block 0's queries scaled by 4000: its attention logits reach about ±1e4. A logit of 1e4
      // in float32 is off by √d·u·1e4 ≈ 3e-3 (d = 24), which moves a probability by that much
      // relative (e^δ - 1 ≈ δ); the attention output is then off by up to 3e-3 of |V| where two
      // tokens are close to a tie. 4 × that for the two float32 products (q·k, p·V).
      {"attention_logits_near_1e4",
       [](core::Model& m, core::Tensor&) {
         const size_t D = m.config.hidden_size;
         for (size_t i = 0; i < D * D; ++i) m.weights.blocks[0].qkv_weight[i] *= 4000.0f;
         for (size_t i = 0; i < D; ++i) m.weights.blocks[0].qkv_bias[i] *= 4000.0f;
       },
       4 * std::sqrt(24.0) * kU * 1e4},
      // Pixels all denormal (|x| < 1.2e-38), and every other patch weight and a third of block
      // 1's LayerNorm gains denormal too. A backend that flushes denormals to zero differs by
      // about 1e-38 absolute, nothing relative to values of order 1: no extra error.
      {"denormal_inputs_and_weights",
       [](core::Model& m, core::Tensor& x) {
         scale_images(x, 1e-39f);
         for (size_t i = 0; i < m.weights.patch_weight.size(); i += 2) m.weights.patch_weight[i] *= 1e-39f;
         for (size_t d = 0; d < m.config.hidden_size; d += 3) m.weights.blocks[1].norm1_weight[d] = 3e-39f;
       },
       0},
  };
}

class EdgeCase : public ::testing::TestWithParam<std::tuple<std::string, Edge>> {};

TEST_P(EdgeCase, MatchesTheReferenceOrNamesTheFirstNonFiniteTap) {
  const auto& [backend, edge] = GetParam();
  core::Model model{small_config(), core::generate_weights(small_config(), 21)};
  core::Tensor images = core::generate_images(model.config, 2, 22);
  edge.apply(model, images);
  const BackendRun expected = reference_run(model, images);
  for (const std::string& name : core::standard_tap_names(model.config.num_layers)) {
    const core::TensorD& e = name == core::tap::logits() ? expected.logits : expected.taps.get(name);
    ASSERT_TRUE(core::compare(e.span(), e.span()).finite()) << "the reference itself overflowed at " << name;
  }
  const BackendRun actual = run(backend, model, images);
  const golden::CaseResult verdict =
      golden::judge(as_golden(model, images, expected), {backend, tolerance_class(backend), {}},
                    actual.logits, actual.taps);
  // None of these edges is beyond float32's range, so no backend may go non-finite here.
  EXPECT_EQ(verdict.first_nonfinite_tap, "") << backend;
  expect_matches_reference(backend, model.config, actual, expected,
                           is_reference(backend) ? 0.0 : edge.extra_float32);
}

std::string param_name(const ::testing::TestParamInfo<std::tuple<std::string, Edge>>& info) {
  std::string s = std::get<1>(info.param).name + "_" + std::get<0>(info.param);
  for (char& ch : s) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return s;
}

INSTANTIATE_TEST_SUITE_P(AllBackends, EdgeCase,
                         ::testing::Combine(::testing::ValuesIn(cli::all_backend_names()),
                                            ::testing::ValuesIn(edges())),
                         param_name);

// The float environment belongs to the caller: a backend that turns on flush-to-zero or
// denormals-are-zero for speed must restore it, or every later computation in the process
// silently changes.
class FloatEnvironment : public ::testing::TestWithParam<std::string> {};

TEST_P(FloatEnvironment, IsLeftAsTheCallerSetItAfterDenormalInputs) {
  const std::string& backend = GetParam();
  const Edge edge = edges().back();
  ASSERT_EQ(edge.name, "denormal_inputs_and_weights");
  core::Model model{small_config(), core::generate_weights(small_config(), 21)};
  core::Tensor images = core::generate_images(model.config, 1, 22);
  edge.apply(model, images);
  (void)run(backend, model, images);
  volatile float tiny = 1e-30f;
  volatile float quotient = tiny / 1e9f;  // 1e-39: denormal unless flush-to-zero is on
  EXPECT_EQ(std::fpclassify(quotient), FP_SUBNORMAL) << backend << " left flush-to-zero on";
  volatile float denormal = 1e-39f;
  volatile float doubled = denormal * 2.0f;  // 0 if denormals-are-zero is on
  EXPECT_NE(doubled, 0.0f) << backend << " left denormals-are-zero on";
  EXPECT_EQ(std::fegetround(), FE_TONEAREST) << backend << " left another rounding mode on";
}

INSTANTIATE_TEST_SUITE_P(AllBackends, FloatEnvironment, ::testing::ValuesIn(cli::all_backend_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string s = info.param;  // "blis+flash": gtest takes [A-Za-z0-9_]
                           for (char& ch : s) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return s;
                         });

// ---- NaN and overflow: reported where they first appear ----------------------------------------

class NonFinite : public ::testing::TestWithParam<std::string> {};

TEST_P(NonFinite, ANaNWeightIsReportedAtTheFirstTapItReaches) {
  const std::string& backend = GetParam();
  // Both GELU forms: the NaN goes through fc1's GELU epilogue on its way to block.1.out (the
  // tanh form once turned it into 0 there, and the logits came out finite and wrong).
  for (auto gelu : {core::GeluKind::Erf, core::GeluKind::Tanh}) {
    SCOPED_TRACE(core::to_string(gelu));
    core::Config config = small_config();
    config.gelu = gelu;
    const core::Model clean{config, core::generate_weights(config, 31)};
    const core::Tensor images = core::generate_images(clean.config, 2, 32);
    const golden::Case golden = as_golden(clean, images, reference_run(clean, images));
    core::Model broken = clean;
    broken.weights.blocks[1].fc1_weight[5] = std::numeric_limits<float>::quiet_NaN();
    const BackendRun actual = run(backend, broken, images);
    const golden::CaseResult verdict =
        golden::judge(golden, {backend, tolerance_class(backend), {}}, actual.logits, actual.taps);
    EXPECT_FALSE(verdict.passed());
    // Block 1's attention branch comes before its MLP, so the NaN first shows in its output.
    EXPECT_EQ(verdict.first_nonfinite_tap, "block.1.out") << backend;
    EXPECT_EQ(verdict.first_failing_tap, "block.1.out") << backend;
    std::ostringstream table;
    golden::print_table(golden::VerifyReport{{verdict}, {}}, table);
    EXPECT_NE(table.str().find("block.1.out"), std::string::npos) << table.str();
  }
}

TEST_P(NonFinite, ANaNInTheQueriesKeysOrValuesIsReportedAtTheAttentionOutput) {
  // A NaN weight in one row of q, k or v makes that column NaN for every token: every score of
  // the head is NaN (q, k) or every value (v). The softmax must not turn NaN scores into
  // probabilities of 0 and carry on with a finite output: the NaN has to reach attn_out.
  const std::string& backend = GetParam();
  const core::Config config = small_config();
  const size_t dim = config.hidden_size;
  const core::Model clean{config, core::generate_weights(config, 33)};
  const core::Tensor images = core::generate_images(clean.config, 2, 34);
  const golden::Case golden = as_golden(clean, images, reference_run(clean, images));
  for (const auto& [part, row] : {std::pair{"q", 5 + 0 * dim}, {"k", 5 + dim}, {"v", 5 + 2 * dim}}) {
    SCOPED_TRACE(part);
    core::Model broken = clean;
    broken.weights.blocks[1].qkv_weight[row * dim + 3] = std::numeric_limits<float>::quiet_NaN();
    const BackendRun actual = run(backend, broken, images);
    const golden::CaseResult verdict =
        golden::judge(golden, {backend, tolerance_class(backend), {}}, actual.logits, actual.taps);
    EXPECT_FALSE(verdict.passed());
    EXPECT_EQ(verdict.first_nonfinite_tap, "block.1.attn_out") << backend;
  }
}

TEST_P(NonFinite, Float32OverflowIsReportedWhereTheReferenceStaysFinite) {
  // Block 0's fc2 weights times 1e39 (up to 1.4e38, still finite floats): its MLP output sums
  // M = 144 such products of GELU outputs of order 1, about 1e39, past float32's 3.4e38 but
  // nowhere near float64's limit. The reference's next LayerNorm scales it back, so its
  // logits are finite; a float32 backend cannot represent block.0.out. That is an answer it
  // cannot give, and it must show as Inf/NaN at block.0.out rather than as wrong finite numbers.
  const std::string& backend = GetParam();
  core::Model model{small_config(), core::generate_weights(small_config(), 41)};
  for (size_t i = 0; i < model.weights.blocks[0].fc2_weight.size(); ++i) {
    float& w = model.weights.blocks[0].fc2_weight[i];
    w = static_cast<float>(static_cast<double>(w) * 1e39);
  }
  const core::Tensor images = core::generate_images(model.config, 2, 42);
  const BackendRun expected = reference_run(model, images);
  ASSERT_TRUE(core::compare(expected.logits.span(), expected.logits.span()).finite());
  const BackendRun actual = run(backend, model, images);
  const golden::CaseResult verdict = golden::judge(as_golden(model, images, expected),
                                                   {backend, tolerance_class(backend), {}},
                                                   actual.logits, actual.taps);
  if (is_reference(backend)) {
    EXPECT_TRUE(verdict.passed()) << verdict.first_failing_tap;
  } else {
    EXPECT_FALSE(verdict.passed());
    EXPECT_EQ(verdict.first_nonfinite_tap, "block.0.out") << backend;
    EXPECT_EQ(verdict.first_failing_tap, "block.0.out") << backend;
  }
}

// What a user sees: `vitbench infer` must not print probabilities computed from NaN. A backend
// whose logits are not finite ends the run with exit code 2 and one line naming the backend and
// the tap where NaN or Inf first appeared (found by re-running with every tap recorded).
TEST_P(NonFinite, InferRefusesToPrintNonFiniteLogitsAndNamesTheTap) {
  const std::string& backend = GetParam();
  testing::TempDir dir;
  core::Model model{small_config(), core::generate_weights(small_config(), 41)};
  for (size_t i = 0; i < model.weights.blocks[0].fc2_weight.size(); ++i) {
    float& w = model.weights.blocks[0].fc2_weight[i];
    w = static_cast<float>(static_cast<double>(w) * 1e39);  // as in the test above
  }
  std::filesystem::create_directories(dir / "model");
  core::save_model_folder(model, dir / "model", core::NameScheme::Timm);
  const testing::CommandResult r = testing::run_cli(
      {"infer", "--model", dir / "model", "--backend", backend, "--output", dir / "out.npy"}, dir);
  if (is_reference(backend)) {
    EXPECT_EQ(r.exit_code, 0) << r.err;  // float64 holds these values: nothing to report
    return;
  }
  EXPECT_EQ(r.exit_code, 2) << "stdout:\n" << r.out << "stderr:\n" << r.err;
  ASSERT_EQ(testing::lines_of(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find(backend), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("block.0.out"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("nan"), std::string::npos) << "printed NaN probabilities:\n" << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir / "out.npy")) << "wrote non-finite logits";
}

INSTANTIATE_TEST_SUITE_P(AllBackends, NonFinite, ::testing::ValuesIn(cli::all_backend_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string s = info.param;  // "blis+flash": gtest takes [A-Za-z0-9_]
                           for (char& ch : s) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return s;
                         });

// ---- Kernels at the edges -----------------------------------------------------------------------
// The same edges straight at each optimized backend's own LayerNorm and attention kernels, with
// float32 inputs that the reference twin (reference/ops.h) reads exactly, so the only error is
// the kernel's.

class Kernels : public ::testing::TestWithParam<std::string> {};

TEST_P(Kernels, LayerNormRowsWithALargeMeanAndATinySpread) {
  const optimized::KernelSet& k = optimized::kernel_set(GetParam());
  optimized::ThreadPool pool(2);
  std::mt19937 rng(51);
  struct Rows {
    float mean, spread, eps;
  };
  // mean/spread up to 1e5, and a spread whose variance (1e-8) is far below eps (1e-6).
  for (const Rows& rows : {Rows{1e4f, 1.0f, 1e-6f}, Rows{-3e5f, 20.0f, 1e-6f},
                           Rows{1e3f, 1e-2f, 1e-12f}, Rows{100.0f, 1e-4f, 1e-6f}}) {
    const size_t R = 9, D = 768;
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> x(R * D), gamma(D), beta(D), y(R * D);
    for (float& v : x) v = rows.mean + rows.spread * normal(rng);
    for (size_t d = 0; d < D; ++d) {
      gamma[d] = 1.0f + 0.25f * normal(rng);
      beta[d] = 0.1f * normal(rng);
    }
    k.layer_norm.run(x.data(), R, D, D, gamma.data(), beta.data(), rows.eps, y.data(), D, pool);
    std::vector<double> xd(x.begin(), x.end()), expected(R * D);
    reference::layer_norm(xd.data(), R, D, gamma.data(), beta.data(), rows.eps, expected.data());
    std::vector<double> actual(y.begin(), y.end());
    const core::Comparison cmp = core::compare(actual, expected);
    // A float32 kernel that subtracts a mean held in float32 is off by up to half an ulp of the
    // mean, u·|mean|, relative to the row's σ_eff = √(σ² + eps); √D·u more for its sums. 8 ×
    // that. A one-pass E[x²] − E[x]² in float32 is off by u·mean²/σ², 1e4 to 1e10 times more.
    const double sigma = std::sqrt(double(rows.spread) * rows.spread + rows.eps);
    const double tolerance = 8 * kU * (std::fabs(rows.mean) / sigma + std::sqrt(double(D)));
    EXPECT_TRUE(cmp.finite());
    EXPECT_LE(cmp.max_rel_error, tolerance)
        << GetParam() << " mean " << rows.mean << " spread " << rows.spread << ": " << core::summarize(cmp);
  }
}

TEST_P(Kernels, AttentionLogitsOfPlusAndMinus1e4) {
  const optimized::KernelSet& k = optimized::kernel_set(GetParam());
  optimized::ThreadPool pool(2);
  const size_t T = 7, H = 2, d = 16, D = H * d;
  // q = c·1 and k_j = ±1, so q·k_j/√d = ±c·d/√d = ±1e4 exactly (c = 2500, √d = 4); tokens with
  // +1e4 tie. A softmax that does not subtract the row maximum overflows exp(1e4) to Inf and
  // returns NaN; done right, each tied token gets exactly 1/ties and the others 0.
  std::vector<float> qkv(T * 3 * D), out(T * D), probs(H * T * T);
  const int signs[T] = {+1, -1, +1, -1, -1, +1, -1};
  for (size_t t = 0; t < T; ++t) {
    for (size_t j = 0; j < D; ++j) {
      qkv[t * 3 * D + j] = 2500.0f * (t % 2 ? 1.0f : -1.0f);     // q: row sign alternates
      qkv[t * 3 * D + D + j] = static_cast<float>(signs[t]);      // k
      qkv[t * 3 * D + 2 * D + j] = static_cast<float>(t + 1) * (j % 3 == 0 ? -1.0f : 0.5f);  // v
    }
  }
  const optimized::AttentionProblem p{.qkv = qkv.data(),
                                      .ld_qkv = 3 * D,
                                      .images = 1,
                                      .tokens = T,
                                      .heads = H,
                                      .head_dim = d,
                                      .out = out.data(),
                                      .ld_out = D,
                                      .probs = probs.data()};
  std::vector<float> workspace(k.attention.workspace_floats(T, d, pool.size()) + 1);
  k.attention.run(p, workspace.data(), pool);

  std::vector<double> qkvd(qkv.begin(), qkv.end()), expected_out(T * D), expected_probs(H * T * T);
  reference::attention(qkvd.data(), T, H, d, expected_out.data(), expected_probs.data());
  const std::vector<double> actual_out(out.begin(), out.end()), actual_probs(probs.begin(), probs.end());
  const core::Comparison po = core::compare(actual_probs, expected_probs);
  const core::Comparison oo = core::compare(actual_out, expected_out);
  // The logits are exact in float32 (integers times 2500 over 4), so ties stay ties: the answer is
  // 1/3 and 1/4 sums of small integers, exact up to the kernel's own few roundings.
  EXPECT_TRUE(po.finite()) << GetParam() << ": " << core::summarize(po);
  EXPECT_TRUE(oo.finite()) << GetParam() << ": " << core::summarize(oo);
  EXPECT_LE(po.max_abs_error, 8 * kU) << GetParam() << ": " << core::summarize(po);
  EXPECT_LE(oo.max_rel_error, 8 * kU * T) << GetParam() << ": " << core::summarize(oo);
}

INSTANTIATE_TEST_SUITE_P(AllBackends, Kernels, ::testing::ValuesIn(optimized::backend_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string s = info.param;
                           for (char& ch : s) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return s;
                         });

// ---- Determinism --------------------------------------------------------------------------------

bool bit_identical(const core::TensorD& a, const core::TensorD& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

class Determinism : public ::testing::TestWithParam<std::string> {};

TEST_P(Determinism, TwoRunsGiveBitIdenticalLogitsAndTaps) {
  // Every kernel today splits work only over output elements (never one reduction over several
  // threads), so a result depends on neither scheduling nor which worker ran which task. Two
  // separately prepared models, and two calls on one, must agree bit for bit at 1, 2 and 3
  // threads.
  const std::string& backend = GetParam();
  const core::Model model{small_config(), core::generate_weights(small_config(), 61)};
  const core::Tensor images = core::generate_images(model.config, 3, 62);
  for (size_t threads : {1, 2, 3}) {
    const BackendRun a = run(backend, model, images, threads);
    const BackendRun b = run(backend, model, images, threads);
    EXPECT_TRUE(bit_identical(a.logits, b.logits)) << backend << " at " << threads << " threads";
    for (const auto& [name, value] : a.taps.values()) {
      EXPECT_TRUE(bit_identical(value, b.taps.get(name))) << backend << " " << name << " at " << threads;
    }
    if (!is_reference(backend)) {
      auto prepared = optimized::find_backend(backend).prepare(model, threads);
      const core::Tensor first = prepared->forward(images, nullptr);
      const core::Tensor second = prepared->forward(images, nullptr);
      EXPECT_EQ(std::memcmp(first.data(), second.data(), first.size() * sizeof(float)), 0)
          << backend << ": a second forward on the same prepared model differs at " << threads;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllBackends, Determinism, ::testing::ValuesIn(cli::all_backend_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string s = info.param;
                           for (char& ch : s) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return s;
                         });

}  // namespace
}  // namespace vitbench::robustness
