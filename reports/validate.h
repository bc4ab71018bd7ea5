// The report format's contract, checked by hand (docs/report-format.md; the same rules as
// reports/schema/report.schema.json, plus what a schema cannot say: NaN, consistency between
// fields). The harness's tests run it on what the harness writes; compare and the dashboard do
// not require it, since they must cope with older and foreign reports.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace vitbench::reports {

// Throws core::Error on the first problem: "<where>: <json path>: <problem>", one line.
// Accepts the JSON as nlohmann parses it, or as parse_report_text reads Google Benchmark's NaN
// tokens (the strings "NaN", "Infinity", "-Infinity"), which it reports as not numbers.
//
// Beyond types and required fields it checks that:
//   - every benchmark name (without Google Benchmark's /repeats:N, /real_time, ...) follows the
//     model/... or op/... grammar, with a known op and a shape of the op's form;
//   - timings are finite and positive in ns/us/ms/s;
//   - each repetition has GFLOP/s, %peak and threads, images/s for models, bytes_per_second for
//     layer_norm, gelu and softmax; threads equals the name's t<N>;
//   - %peak agrees with GFLOP/s over the measured peak for that thread count, within 1%;
//   - machine_key is "<cpu.model>/<highway.chosen_target>/t<threads>";
//   - every benchmarked backend (peers aside) passed verification, and a backend that failed
//     verification has no benchmarks.
void validate_report(const nlohmann::json& report, const std::string& where);

}  // namespace vitbench::reports
