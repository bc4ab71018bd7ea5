// Running Google Benchmark and turning its output into a report: Google Benchmark's own JSON
// (what --benchmark_out_format=json writes, so its tools/compare.py reads it unchanged) with the
// object `context.vitbench` added (docs/report-format.md), written atomically to
// reports/<host>-<cpu>-<UTC timestamp>.json.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/machine_info.h"
#include "bench/peak.h"
#include "bench/verification.h"

namespace vitbench::bench {

struct ContextInputs {
  CpuInfo cpu;
  Peaks peaks;
  std::vector<Verification> verification;
  std::vector<size_t> thread_counts;  // of this run
  std::string profile;
  core::SchedulingInfo scheduling;  // as read once by the run (scheduling_info())
};

// The `context.vitbench` object: CPU, Highway, BLIS, loaded BLAS, build, git, threads, OS,
// machine key, peaks, verification.
nlohmann::json vitbench_context(const ContextInputs& inputs);

struct GbRunOptions {
  // Google Benchmark flags, in order (later ones win): bench's own defaults first, then the
  // user's pass-through flags.
  std::vector<std::string> flags;
  bool console = true;                  // print Google Benchmark's table on stdout
  bool display_aggregates_only = true;  // the table shows aggregates; the JSON keeps every run
};

// Parses `flags` into Google Benchmark's settings; throws core::Error naming any flag it does
// not know. run_google_benchmark does this itself; calling it first refuses bad flags early.
void initialize_google_benchmark(const std::vector<std::string>& flags);

// Runs the registered benchmarks and returns Google Benchmark's JSON report, parsed. Names
// drop the "/real_time", "/process_time" and "/iterations:1" fields Google Benchmark appends
// for the timing mode (every benchmark here is timed by the wall clock; the reference runs one
// forward per repetition), so names are exactly docs/report-format.md's plus "/repeats:N".
// Throws core::Error for flags Google Benchmark does not know.
nlohmann::json run_google_benchmark(const GbRunOptions& options);

// Adds `context.vitbench` (replacing whatever Google Benchmark put under that key).
void add_vitbench_context(nlohmann::json& report, const nlohmann::json& context);

// "<host>-<cpu>-<YYYYMMDDTHHMMSSZ>.json", each part reduced to [A-Za-z0-9._-].
std::string report_file_name(const std::string& host, const std::string& cpu_model,
                             std::chrono::system_clock::time_point when);
std::string sanitize_name_part(const std::string& text);

// Writes `report` atomically into `dir` under report_file_name (adding -2, -3, ... when a
// report of the same second exists) and returns its path. The folder must exist.
std::string write_report(const nlohmann::json& report, const std::string& dir,
                         const std::string& host, const std::string& cpu_model,
                         std::chrono::system_clock::time_point when);

// The reports folder of the source tree this binary was built from.
std::string default_reports_dir();

}  // namespace vitbench::bench
