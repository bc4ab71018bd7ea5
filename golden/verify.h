// verify: runs golden cases through backends and judges every tap against the tolerance policy.
// It depends on core only, so it can judge any backend: the CLI hands it one Runner per backend
// (the reference, and each optimized backend as they register).
#pragma once

#include <cstddef>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/metrics.h"
#include "core/taps.h"
#include "core/tensor.h"
#include "core/weights.h"
#include "golden/manifest.h"
#include "golden/tolerance.h"

namespace vitbench::golden {

struct Runner {
  std::string name;
  std::string tolerance_class;  // kReferenceClass or kFloat32Class
  // Returns logits [N, L]; records into `taps` every tap it is asked for.
  std::function<core::TensorD(const core::Model&, const core::Tensor& images, core::Taps* taps,
                              size_t threads)>
      run;
};

// The result a float32 backend's logits get a second time, from a forward without taps (the
// pass infer and the benchmarks time), for a case that asks for taps besides the logits: held to
// the logits' tolerance.
inline const char* const kLogitsWithoutTaps = "logits_without_taps";

struct TapResult {
  std::string name;
  bool recorded = false;  // the backend produced it, with the expected shape
  core::Comparison comparison;
  Tolerance tolerance;
  bool passed = false;
  std::string problem;  // why it failed; empty when it passed

  // How much of its tolerance the tap uses (max over max_rel and nmse); > 1 fails.
  double tolerance_used() const;
};

enum class Outcome { Pass, Fail };

struct CaseResult {
  std::string case_name;
  std::string backend;
  std::string tolerance_class;
  Outcome outcome = Outcome::Fail;
  std::string first_failing_tap;    // forward order; empty when passed or the backend threw
  std::string first_nonfinite_tap;  // where NaN or Inf first appeared, if anywhere
  std::string error;                // the backend threw: its message
  std::vector<TapResult> taps;      // forward order
  double seconds = 0;

  bool passed() const { return outcome == Outcome::Pass; }
  const TapResult* find_tap(const std::string& name) const;
};

struct CorruptedCase {
  std::string case_name;
  std::string dir;
  std::string error;
};

struct VerifyReport {
  std::vector<CaseResult> results;      // case-major, then backend
  std::vector<CorruptedCase> corrupted;

  size_t failures() const;
  // 0 every backend passed every case; 1 some backend failed; 2 some golden is corrupted.
  int exit_code() const;
};

// Runs every case on every runner (rebuilding each case's model from its config and seed) and
// judges each tap. A runner that throws fails its case with the message; it does not stop the
// others. Throws core::Error for a runner with an unknown tolerance class.
VerifyReport verify(const std::vector<Case>& cases, const std::vector<Runner>& runners,
                    size_t threads);

// Judges one backend's output against a case (what verify does after running it).
CaseResult judge(const Case& golden, const Runner& runner, const core::TensorD& logits,
                 const core::Taps& taps);

// One row per case × backend, PASS or FAIL, the worst figures and the first failing tap; then a
// line per corrupted golden and one per failure, saying what went past which tolerance.
void print_table(const VerifyReport& report, std::ostream& out);
void print_table_header(std::ostream& out);
void print_row(const CaseResult& result, std::ostream& out);

nlohmann::json to_json(const CaseResult& result);
nlohmann::json to_json(const VerifyReport& report);

// The `vitbench verify` command, given the CLI's runners.
struct VerifyOptions {
  std::vector<std::string> backends;  // empty: every runner
  std::vector<std::string> cases;     // empty: every case
  std::string golden_dir;             // empty: default_golden_dir()
  size_t threads = 1;
  std::string json_path;              // empty: no JSON file
};

// Loads, runs and prints case by case (so a long run shows progress), then writes the JSON
// report atomically. Returns the exit code: 0 all passed, 1 a backend failed, 2 a corrupted
// golden or a bad option (an unknown case or backend, a missing folder), reported on `err`.
int run_verify_command(const VerifyOptions& options, const std::vector<Runner>& runners,
                       std::ostream& out, std::ostream& err);
int run_verify_command(const VerifyOptions& options, const std::vector<Runner>& runners,
                       std::ostream& out);

}  // namespace vitbench::golden
