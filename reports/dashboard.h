// The static dashboard: one self-contained HTML file (inline CSS, inline SVG, a few lines of
// inline script for filtering; a Content-Security-Policy that forbids every network request),
// drawn from any number of reports. Sections:
//   - across CPUs: compare_across's table and winners;
//   - backends side by side per model: latency and % of peak, latest report per machine;
//   - roofline per machine: each op's GFLOP/s against its arithmetic intensity under the
//     measured FMA peak and bandwidth;
//   - accuracy over time: each backend's worst logits max_rel_error against the goldens;
//   - history: every benchmark over the reports in date order, one line per machine, median with
//     the min-max band of its repetitions.
// A report that cannot be read is listed at the top with its one-line error, never fatal.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "reports/report.h"

namespace vitbench::reports {

struct SkippedReport {
  std::string path;
  std::string reason;
};

struct DashboardInput {
  std::vector<Report> reports;
  std::vector<SkippedReport> skipped;
};

// Loads every file, keeping the ones that read and recording why the others did not.
DashboardInput load_dashboard_input(const std::vector<std::string>& files);

struct DashboardOptions {
  std::string title = "vitbench performance";
};

std::string render_dashboard(const DashboardInput& input, const DashboardOptions& options);

// Arithmetic intensity of an op benchmark, in FLOPs per byte. FLOPs per iteration are GFLOP/s x
// median time (the counter is an iteration-invariant rate, so this recovers core/flops.h's count).
// Bytes per iteration are bytes_per_second x median time when the benchmark reports it (the
// memory-bound ops do); otherwise the compulsory float32 traffic implied by the shape, each operand
// read once and the output written once: linear MxNxK 4(MK + KN + MN), attention TxHxD 16 T H D
// (Q, K, V in, O out), row ops RxC 8 R C. That is a lower bound on traffic, so a derived intensity
// is an upper bound, and the dashboard draws those points hollow.
struct Intensity {
  double flops_per_byte = 0;
  bool measured = false;  // from bytes_per_second rather than from the shape
};

std::optional<Intensity> arithmetic_intensity(const Benchmark& b);

}  // namespace vitbench::reports
