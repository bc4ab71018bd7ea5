// The human summary printed at the end of a run: one table per model, one row per backend,
// batch and thread count, with the median latency, images/s, GFLOP/s, % of peak, the speed-up
// over the slowest optimized backend at the same batch and threads, and the verification
// verdict. Built from the finished report alone, so what people read is what tools read.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace vitbench::bench {

// `report` is a finished report (context.vitbench.verification included); `notes` are extra
// lines printed after the tables (what was skipped, where the report went).
std::string format_summary(const nlohmann::json& report, const std::vector<std::string>& notes);

// The fields of a benchmark name (docs/report-format.md) with Google Benchmark's suffixes
// ("/repeats:N", "_median") removed. Empty when `name` is not one of ours.
struct ParsedName {
  std::string kind;  // "model" or "op"
  std::string op;    // ops only
  std::string model;
  std::string shape;  // ops only
  size_t batch = 0;   // models only
  size_t threads = 0;
  std::string backend;
};
bool parse_benchmark_name(const std::string& name, ParsedName* out);

}  // namespace vitbench::bench
