// `--simd`: the Highway kernels run on a lower target than this CPU's best, through the real
// binary. Each target this CPU can run is chosen in turn for `infer`; the command says which one
// ran, and its logits are the same function's: within 1e-5 of max|logit| of the float64 reference
// backend's, every top-1 equal. The bound: the small model's float32 logits sit 4e-7 to 7e-7
// from the reference on every target (measured; at this model's sizes every GEMM sums in one K
// block in the same order on every target, and what differs is how the vector width splits the
// LayerNorm and softmax sums), so 1e-5 leaves room for rounding and none for a wrong kernel,
// which is off by percents.
// Bad values and --simd with peers are refused in one line.
#include <cctype>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/metrics.h"
#include "core/model_loader.h"
#include "core/npy.h"
#include "optimized/hwy/kernels.h"
#include "tests/cli/cli_runner.h"

namespace vitbench::testing {
namespace {

namespace fs = std::filesystem;

constexpr double kSimdLogitTolerance = 1e-5;  // see the top of the file

class SimdOption : public ::testing::Test {
 protected:
  void SetUp() override {
    model_dir_ = dir_ / "model";
    fs::create_directories(model_dir_);
    const core::Config c = small_config();
    core::save_model_folder({c, core::generate_weights(c, 5)}, model_dir_,
                            core::NameScheme::HuggingFace);
    input_ = dir_ / "input.npy";
    core::write_npy(input_, core::generate_images(c, 3, 6));
  }

  // infer's logits [3, 5] with `extra` arguments; the run must succeed.
  core::TensorD infer(const std::vector<std::string>& extra, CommandResult* result = nullptr) {
    const std::string out = dir_ / "logits.npy";
    fs::remove(out);
    std::vector<std::string> args = {"infer", "--model", model_dir_, "--input", input_,
                                     "--output", out};
    args.insert(args.end(), extra.begin(), extra.end());
    const CommandResult r = run_cli(args, dir_);
    if (result) *result = r;
    EXPECT_EQ(r.exit_code, 0) << r.err;
    if (r.exit_code != 0) return core::TensorD({3, 5}, 0.0);
    return core::read_npy(out).values;
  }

  TempDir dir_;
  std::string model_dir_, input_;
};

TEST_F(SimdOption, EveryTargetThisCpuRunsGivesTheSameFunction) {
  const core::TensorD reference = infer({"--backend", "reference"});
  const auto targets = optimized::hwy::supported_targets();
  ASSERT_FALSE(targets.empty());
  for (const char* target : targets) {
    for (const char* backend : {"hwy", "flash"}) {
      SCOPED_TRACE(std::string(target) + " " + backend);
      CommandResult r;
      const core::TensorD logits = infer({"--simd", target, "--backend", backend}, &r);
      EXPECT_NE(r.err.find(std::string("run on ") + target + " "), std::string::npos) << r.err;
      const core::Comparison c = core::compare(logits.span(), reference.span(), 5);
      EXPECT_LE(c.max_rel_error, kSimdLogitTolerance) << core::summarize(c);
      EXPECT_TRUE(c.all_argmax_agree()) << core::summarize(c);
    }
  }
}

TEST_F(SimdOption, TargetNamesAreCaseBlind) {
  const std::string best = optimized::hwy::supported_targets().front();
  std::string lower = best;
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  CommandResult r;
  infer({"--simd", lower}, &r);
  EXPECT_NE(r.err.find("run on " + best + " "), std::string::npos) << r.err;
}

TEST_F(SimdOption, BadValuesAndPeersAreRefusedInOneLine) {
  const auto expect_refused = [](const CommandResult& r, const std::string& problem) {
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("vitbench: error: --simd: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(problem), std::string::npos) << r.err;
  };
  // Every command that runs kernels takes --simd, and checks it before any work.
  const std::string unknown = "unknown SIMD target \"avx9\" (compiled in: " +
                              std::string(optimized::hwy::compiled_targets().front());
  expect_refused(run_cli({"infer", "--model", model_dir_, "--input", input_, "--simd", "avx9"},
                         dir_),
                 unknown);
  expect_refused(run_cli({"verify", "--simd", "avx9"}, dir_), unknown);
  expect_refused(run_cli({"attention", "--model", model_dir_, "--image", dir_ / "any.png", "-o",
                          dir_ / "map.png", "--simd", "avx9"},
                         dir_),
                 unknown);
  expect_refused(run_cli({"bench", "--simd", "avx9", "--reports-dir", dir_.path().string()}, dir_),
                 unknown);
  expect_refused(run_cli({"infer", "--model", model_dir_, "--input", input_, "--simd", ""}, dir_),
                 "names no SIMD target");
  expect_refused(run_cli({"bench", "--simd", "AVX2", "--peers", "torch"}, dir_), "peers");
  EXPECT_FALSE(fs::exists(dir_ / "map.png"));
}

}  // namespace
}  // namespace vitbench::testing
