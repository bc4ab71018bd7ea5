// Exports for dashboards people already run:
//   - github-action-benchmark's "customSmallerIsBetter" (median time per benchmark) and
//     "customBiggerIsBetter" (median GFLOP/s): an array of {name, unit, value, range?, extra?}.
//     The action draws one chart per name, so each name carries its machine key
//     ("model/vit-b16@224/b1/t2/hwy [AMD EPYC 7B13/AVX2/t2]"): one series per machine.
//   - Bencher's BMF: {"<benchmark>": {"latency": {value, lower_value, upper_value}, "gflops": ...}}
//     with latency in nanoseconds (Bencher's built-in latency measure is in ns) and the range the
//     min and max of the repetitions. Bencher keeps machines apart as testbeds (`bencher run
//     --testbed`), so names carry no machine key and one file holds one machine.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/report.h"

namespace vitbench::reports {

enum class ExportFormat { GabSmaller, GabBigger, Bmf };

std::optional<ExportFormat> parse_export_format(std::string_view name);

// `notes` receives what was left out (failed benchmarks, benchmarks without GFLOP/s).
// Throws core::Error when BMF is asked for reports from more than one machine.
nlohmann::json export_reports(const std::vector<Report>& reports, ExportFormat format,
                              std::vector<std::string>& notes);

}  // namespace vitbench::reports
