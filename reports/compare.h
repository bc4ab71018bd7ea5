// Comparing reports: two runs of one machine (a PR against its base, gated in CI), or the latest
// runs of many machines side by side.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/format.h"
#include "reports/report.h"

namespace vitbench::reports {

struct CompareOptions {
  // Minimum effect size: a median change no larger than this (relative) is never a regression,
  // however significant; it is what a user would not act on.
  double threshold = 0.05;
  double alpha = 0.05;          // significance level of the two-sided Mann-Whitney U test
  bool cross_machine = false;   // allow reports from different CPUs or thread counts
  // An error metric may grow by this factor (its square for squared errors) before it counts as
  // an accuracy regression; see compare.cpp for the absolute floors under which growth is noise.
  double accuracy_factor = 2.0;
};

struct BenchmarkRow {
  std::string name;
  double base_ns = 0, new_ns = 0;
  double ratio = 1;  // new / base median time: above 1 is slower
  size_t base_repetitions = 0, new_repetitions = 0;
  // With rounds (compare_rounds): how many, the smallest and largest round's ratio; base_ns and
  // new_ns are then the medians of the rounds' medians, ratio the median of the rounds' ratios,
  // and the repetitions are summed over the rounds.
  size_t rounds = 0;
  double ratio_min = 1, ratio_max = 1;
  std::optional<double> base_gflops, new_gflops;
  std::optional<double> p_value;  // only when there were enough repetitions for the test
  std::string significance;  // "significant", "not significant", "not enough repetitions"/"rounds"
  std::string verdict;            // "regression", "improvement", "unchanged", "noise"
  bool regression = false;
};

struct FailedBenchmark {
  std::string name;
  std::string error;
  bool in_new = true;       // failed in the new report (else only in the base)
  bool regression = false;  // ran in the base, fails now
};

struct AccuracyFinding {
  std::string backend;
  std::string case_name;  // empty for the backend as a whole
  std::string metric;     // "passed", "max_rel_error", "nmse", "cosine", "argmax_agree", "missing"
  std::optional<double> base, now;
  bool regression = false;
  std::string message;
};

struct ReportInfo {
  std::string path, commit, machine, date;
};

struct Comparison {
  ReportInfo base, now;  // with rounds: the first round's
  size_t rounds = 0;     // 0: two reports; else compare_rounds over this many rounds
  CompareOptions options;
  std::vector<BenchmarkRow> rows;
  std::vector<std::string> only_in_base, only_in_new;
  std::vector<FailedBenchmark> failures;
  std::vector<AccuracyFinding> accuracy;
  std::vector<std::string> notes;

  size_t performance_regressions() const;
  size_t accuracy_regressions() const;
  bool regressed() const { return performance_regressions() + accuracy_regressions() > 0; }
};

// Refuses (core::Error naming the new report) reports from different CPUs or thread counts, or
// either report when it does not say which machine it is from.
void check_same_machine(const Report& base, const Report& now);

Comparison compare_reports(const Report& base, const Report& now, const CompareOptions& options);

// Rounds of an alternated run (base, new, base, new, ... on one machine, so that the machine's
// slow and fast spells fall on both sides): `reports` holds base_1, new_1, base_2, new_2, ...,
// at least two rounds. Each round is compared as compare_reports does; a benchmark present in
// every round is then judged by its rounds' new/base ratios: their median is the effect, and
// Wilcoxon's signed-rank test over their logarithms says whether the sign is consistent beyond
// chance (it takes pairs_needed(alpha) rounds, 6 at 0.05). A benchmark missing from a round is
// listed, a failure in any round counts as in compare_reports, and accuracy findings are
// gathered from every round. Refuses (core::Error) an odd count, a single round, or, without
// cross_machine, any report from another CPU or thread count than the first.
Comparison compare_rounds(const std::vector<Report>& reports, const CompareOptions& options);
std::string render_comparison(const Comparison& c, TextFormat format);
nlohmann::json comparison_json(const Comparison& c);

// One table across machines: per model (and batch), each backend's latency, GFLOP/s and % of
// that machine's own measured peak, one column per machine (CPU, Highway target, threads). When
// several reports come from one machine the latest (by context.date) wins.
struct AcrossCell {
  double latency_ns = 0;
  std::optional<double> gflops, percent_peak;
  std::string report;
  bool winner = false;
};

struct AcrossTable {
  std::vector<std::string> machines;
  struct Row {
    std::string model;  // "vit-b16@224/b1"
    std::string backend;
    std::vector<std::optional<AcrossCell>> cells;  // one per machine
  };
  std::vector<Row> rows;  // by model, then backend
  struct Winner {
    std::string model, machine, backend;
    double latency_ns = 0;
    std::string best_own_backend;  // when a peer wins: the fastest vitbench backend
    double best_own_latency_ns = 0;
  };
  std::vector<Winner> winners;
  std::vector<std::string> notes;
};

AcrossTable compare_across(const std::vector<Report>& reports);
std::string render_across(const AcrossTable& t, TextFormat format);
nlohmann::json across_json(const AcrossTable& t);

// Reports in the order history is drawn and "latest" is chosen: dated reports by date, then the
// undated in their given order. Returns indices into `reports`.
std::vector<size_t> chronological_order(const std::vector<Report>& reports);

// The machine column a benchmark belongs to: its report's machine, at the benchmark's own thread
// count when the name gives one.
std::string machine_column(const Report& r, const Benchmark& b);

// % of the machine's measured FMA peak: the %peak counter, else GFLOP/s over the context's peak.
std::optional<double> percent_of_peak(const Report& r, const Benchmark& b);

}  // namespace vitbench::reports
