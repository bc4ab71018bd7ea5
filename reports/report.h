// Reading benchmark reports (Google Benchmark JSON + context.vitbench, docs/report-format.md)
// into one in-memory shape that compare, export and the dashboard share.
//
// Reports come from other machines and other versions of the suite, so reading is lenient
// about what is missing and strict about what is wrong:
//   - a field that is absent is "unknown" (shown as "?"), and what depends on it is skipped with a
//     note (Report::notes) that every command prints;
//   - a field that is present with the wrong type, a timing that is NaN, infinite or negative, or
//     an unknown time unit is refused with core::Error: one line naming the file, the benchmark
//     and the field. A comparison or a CI gate must never pass on numbers that are not numbers;
//   - a counter that is NaN (Google Benchmark writes them when a rate divides by zero) is dropped
//     with a note rather than refusing the whole report, since no verdict depends on it alone.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace vitbench::reports {

enum class TimeUnit { ns, us, ms, s };

std::optional<TimeUnit> parse_time_unit(std::string_view text);
double ns_per(TimeUnit unit);
const char* unit_name(TimeUnit unit);

// A benchmark name split by the grammar in docs/report-format.md. Names outside the grammar
// (kind Other) are still compared by their full name; only per-model and per-op views skip them.
struct BenchName {
  enum class Kind { Model, Op, Other };
  Kind kind = Kind::Other;
  std::string op;       // op benchmarks: linear, layer_norm, gelu, softmax, attention
  std::string model;    // "vit-b16@224"
  std::string shape;    // op benchmarks: "197x2304x768" ...
  int batch = 0;        // model benchmarks
  int threads = 0;
  std::string backend;  // "hwy", "blis", "peer:onnxruntime"

  bool is_peer() const { return backend.rfind("peer:", 0) == 0; }
  // "vit-b16@224/b1" for models, "linear/vit-b16@224/197x2304x768" for ops: what backends and
  // machines are compared on.
  std::string group() const;
};

BenchName parse_bench_name(const std::string& name);

// Google Benchmark appends "/repeats:N", "/real_time", "/min_time:X", ... to a run's name
// depending on how it was registered; the same benchmark must match across reports however it
// was run, so these are removed to form the key.
std::string strip_gbench_suffixes(std::string run_name);

struct Benchmark {
  std::string name;  // the key: the run name without Google Benchmark's suffixes
  BenchName id;
  TimeUnit unit = TimeUnit::ns;                          // as reported; exports keep it
  std::vector<double> times_ns;                          // real_time of each repetition
  std::map<std::string, std::vector<double>> counters;   // per repetition, finite values only
  std::optional<double> median_aggregate_ns;             // Google Benchmark's own median
  std::optional<double> stddev_aggregate_ns;
  std::map<std::string, double> median_aggregate_counters;
  std::string error;  // Google Benchmark's error_message when the benchmark failed to run

  bool failed() const { return !error.empty(); }
  // Median real time: of the repetitions when there are any, else Google Benchmark's median
  // aggregate; empty for a benchmark that failed or reported only other aggregates.
  std::optional<double> median_ns() const;
  std::optional<double> counter(const std::string& name) const;  // median over repetitions
  // Spread shown with the median: min and max of the repetitions, or median +- stddev when only
  // aggregates were reported.
  std::optional<std::pair<double, double>> spread_ns() const;
  std::optional<std::pair<double, double>> counter_spread(const std::string& name) const;
};

struct VerificationCase {
  std::string name;
  std::optional<bool> passed;
  std::string first_failing_tap;
  std::map<std::string, double> logits;  // max_rel_error, nmse, cosine, argmax_agree, rows
};

struct Verification {
  std::string backend;
  std::optional<bool> passed;
  std::string source;
  std::vector<VerificationCase> cases;
  // Worst logits max_rel_error over the cases; empty when no case reports it.
  std::optional<double> worst_max_rel_error() const;
};

struct Machine {
  std::string cpu_model;  // empty when unknown
  std::string target;     // Highway's chosen target
  int threads = 0;        // 0 when unknown
  std::string key;        // context.vitbench.machine_key, or built from the three above
  std::map<int, double> peak_gflops;    // measured FMA peak by thread count
  std::map<int, double> bandwidth_gbs;  // measured bandwidth by thread count

  bool known() const { return !cpu_model.empty() && threads > 0; }
  std::string label() const;  // "CPU / target / tN" with "?" for what is unknown
};

struct Report {
  std::string path;
  std::string date;             // context.date as written
  std::optional<int64_t> epoch; // the date in seconds since 1970 (UTC), for ordering history
  std::string commit;
  bool dirty = false;
  bool has_vitbench = false;
  Machine machine;
  std::vector<Benchmark> benchmarks;  // in the order first seen
  std::vector<Verification> verification;
  std::vector<std::string> notes;     // what was skipped and why; commands print these

  const Benchmark* find(const std::string& name) const;
  std::string short_commit() const;  // 7 characters, or "?"
};

// JSON text as Google Benchmark writes it: it prints non-finite doubles as bare NaN, Infinity and
// -Infinity, which are not JSON. Those tokens (outside strings) are read as the strings "NaN",
// "Infinity", "-Infinity", so a reader can say which field is not a number instead of failing
// to parse. Depth- and size-capped like core::parse_json_text.
nlohmann::json parse_report_text(const std::string& text, const std::string& where);
nlohmann::json read_report_json(const std::string& path);

Report parse_report(const nlohmann::json& json, const std::string& where);
Report load_report(const std::string& path);

// Files named on the command line, with each folder replaced by its *.json files (not
// recursive: reports/ holds schema/ and baselines/ folders that are not reports), sorted by
// name. A path that does not exist is an error naming it.
std::vector<std::string> expand_report_paths(const std::vector<std::string>& paths);

// "2024-03-01T10:00:00+01:00" (Google Benchmark's context.date) to seconds since 1970 UTC.
std::optional<int64_t> parse_iso8601(const std::string& date);

}  // namespace vitbench::reports
