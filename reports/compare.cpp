#include "reports/compare.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/error.h"
#include "reports/stats.h"

namespace vitbench::reports {
namespace {

// Growth of an error metric below these absolute amounts is float32 rounding from a reordered
// sum, not a regression: 1e-5 relative to max|logit| is ~80 float32 ulps; NMSE and 1-cosine
// scale with the square of the error, hence 1e-10.
constexpr double kMaxRelErrorFloor = 1e-5;
constexpr double kSquaredErrorFloor = 1e-10;

ReportInfo info_of(const Report& r) {
  return {r.path, r.short_commit(), r.machine.label(), r.date.empty() ? "?" : r.date};
}

void add_notes(std::vector<std::string>& notes, const Report& r) {
  for (const std::string& n : r.notes) notes.push_back(r.path + ": " + n);
}

bool worse_error(double base, double now, double factor, double floor) {
  if (std::isnan(now)) return !std::isnan(base);
  if (std::isnan(base)) return false;
  return now > base * factor && now - base > floor;
}

void compare_case(const std::string& backend, const VerificationCase& b, const VerificationCase& n,
                  double factor, std::vector<AccuracyFinding>& out) {
  if (b.passed.value_or(true) && n.passed && !*n.passed) {
    AccuracyFinding f{backend, n.name, "passed", 1.0, 0.0, true, ""};
    f.message = "case now fails verification" +
                (n.first_failing_tap.empty() ? std::string()
                                             : " (first failing tap " + n.first_failing_tap + ")");
    out.push_back(f);
  }
  struct Metric {
    const char* name;
    double factor;
    double floor;
    bool one_minus;  // cosine: compare 1 - cosine, which is an error
  };
  const Metric metrics[] = {{"max_rel_error", factor, kMaxRelErrorFloor, false},
                            {"nmse", factor * factor, kSquaredErrorFloor, false},
                            {"cosine", factor * factor, kSquaredErrorFloor, true}};
  for (const Metric& m : metrics) {
    auto bi = b.logits.find(m.name), ni = n.logits.find(m.name);
    if (bi == b.logits.end() || ni == n.logits.end()) continue;
    const double be = m.one_minus ? 1 - bi->second : bi->second;
    const double ne = m.one_minus ? 1 - ni->second : ni->second;
    if (!worse_error(be, ne, m.factor, m.floor)) continue;
    AccuracyFinding f{backend, n.name, m.name, bi->second, ni->second, true, ""};
    // Cosine is shown as 1 - cosine, the error it stands for: 0.9999999 -> 0.9996 says little.
    f.message = std::string("logits ") + (m.one_minus ? "1-cosine" : m.name) + " " +
                format_number(be, 3) + " -> " + format_number(ne, 3);
    if (!std::isnan(ne) && be > 0) f.message += ", x" + format_number(ne / be, 3) + " the error";
    f.message += " (allowed: x" + format_compact(m.factor, 3) + " or +" +
                 format_compact(m.floor, 1) + ")";
    out.push_back(f);
  }
  // The verifier's own pass mark, when the report gives it: crossing it is a regression even
  // where the growth factor would allow it.
  auto tol = n.logits.find("tolerance");
  auto nerr = n.logits.find("max_rel_error"), berr = b.logits.find("max_rel_error");
  if (tol != n.logits.end() && nerr != n.logits.end() && berr != b.logits.end() &&
      std::isfinite(tol->second) && nerr->second > tol->second && !(berr->second > tol->second)) {
    const bool already = std::any_of(out.begin(), out.end(), [&](const AccuracyFinding& f) {
      return f.backend == backend && f.case_name == n.name && f.metric == "max_rel_error";
    });
    if (!already) {
      out.push_back({backend, n.name, "max_rel_error", berr->second, nerr->second, true,
                     "logits max_rel_error " + format_number(berr->second, 3) + " -> " +
                         format_number(nerr->second, 3) + ", above its tolerance " +
                         format_number(tol->second, 3)});
    }
  }
  auto agree = [](const VerificationCase& c) -> std::optional<double> {
    auto a = c.logits.find("argmax_agree"), r = c.logits.find("rows");
    if (a == c.logits.end() || r == c.logits.end() || !(r->second > 0)) return std::nullopt;
    return a->second / r->second;
  };
  const auto ba = agree(b), na = agree(n);
  if (ba && na && (*na < *ba || std::isnan(*na))) {
    AccuracyFinding f{backend, n.name, "argmax_agree", *ba, *na, true, ""};
    f.message = "top-1 agreement " + format_compact(b.logits.at("argmax_agree")) + "/" +
                format_compact(b.logits.at("rows")) + " -> " +
                format_compact(n.logits.at("argmax_agree")) + "/" +
                format_compact(n.logits.at("rows"));
    out.push_back(f);
  }
}

void compare_accuracy(const Report& base, const Report& now, double factor,
                      std::vector<AccuracyFinding>& out) {
  std::map<std::string, const Verification*> before;
  for (const Verification& v : base.verification) before[v.backend] = &v;
  std::set<std::string> seen;
  for (const Verification& v : now.verification) {
    seen.insert(v.backend);
    auto it = before.find(v.backend);
    const Verification* b = it == before.end() ? nullptr : it->second;
    if (v.passed && !*v.passed) {
      const bool passed_before = b && b->passed.value_or(true);
      AccuracyFinding f{v.backend, "", "passed", std::nullopt, 0.0, b == nullptr || passed_before,
                        ""};
      if (b) f.base = passed_before ? 1.0 : 0.0;
      f.message = !b ? "fails verification (not verified in the base)"
                  : passed_before ? "now fails verification"
                                  : "still fails verification (failed in the base too)";
      out.push_back(f);
    }
    if (!b) continue;
    for (const VerificationCase& nc : v.cases) {
      auto bc = std::find_if(b->cases.begin(), b->cases.end(),
                             [&](const VerificationCase& c) { return c.name == nc.name; });
      if (bc != b->cases.end()) compare_case(v.backend, *bc, nc, factor, out);
    }
    for (const VerificationCase& bc : b->cases) {
      const bool kept = std::any_of(v.cases.begin(), v.cases.end(),
                                    [&](const VerificationCase& c) { return c.name == bc.name; });
      if (!kept) {
        out.push_back({v.backend, bc.name, "missing", std::nullopt, std::nullopt, false,
                       "case verified in the base is missing from the new report"});
      }
    }
  }
  for (const Verification& v : base.verification) {
    if (!seen.count(v.backend)) {
      out.push_back({v.backend, "", "missing", std::nullopt, std::nullopt, false,
                     "verified in the base, absent from the new report"});
    }
  }
}

// The verdict on a row whose ratio and significance are set: the threshold decides whether the
// change matters, the test whether it is more than noise. Without enough repetitions (or rounds)
// there is no noise estimate, so the threshold alone decides: a gate that cannot tell must not
// pass a 20% slowdown. The row says so.
void judge(BenchmarkRow& row, const CompareOptions& o) {
  const double change = row.ratio - 1;
  const bool could_be_real = row.significance != "not significant";
  if (!(std::fabs(change) > o.threshold)) {
    row.verdict = "unchanged";
  } else if (!could_be_real) {
    row.verdict = "noise";
  } else if (change > 0) {
    row.verdict = "regression";
    row.regression = true;
  } else {
    row.verdict = "improvement";
  }
}

BenchmarkRow compare_benchmark(const Benchmark& b, const Benchmark& n, const CompareOptions& o) {
  BenchmarkRow row;
  row.name = b.name;
  row.base_ns = *b.median_ns();
  row.new_ns = *n.median_ns();
  row.base_repetitions = b.times_ns.size();
  row.new_repetitions = n.times_ns.size();
  row.base_gflops = b.counter("GFLOP/s");
  row.new_gflops = n.counter("GFLOP/s");
  // A zero base time (a benchmark too fast for the clock) makes any ratio meaningless.
  row.ratio = row.base_ns > 0 ? row.new_ns / row.base_ns : (row.new_ns > 0 ? INFINITY : 1.0);
  const UTest t = mann_whitney_u(b.times_ns, n.times_ns, o.alpha);
  if (!t.enough) {
    row.significance = "not enough repetitions";
  } else {
    row.p_value = t.p;
    row.significance = t.p < o.alpha ? "significant" : "not significant";
  }
  judge(row, o);
  return row;
}

// One benchmark over the rounds: `per_round` holds its row from each round's comparison.
BenchmarkRow combine_rounds(const std::vector<BenchmarkRow>& per_round, const CompareOptions& o) {
  BenchmarkRow row;
  row.name = per_round.front().name;
  row.rounds = per_round.size();
  std::vector<double> base, now, ratios, logs, base_gflops, new_gflops;
  for (const BenchmarkRow& r : per_round) {
    base.push_back(r.base_ns);
    now.push_back(r.new_ns);
    ratios.push_back(r.ratio);
    logs.push_back(std::log(r.ratio));
    row.base_repetitions += r.base_repetitions;
    row.new_repetitions += r.new_repetitions;
    if (r.base_gflops) base_gflops.push_back(*r.base_gflops);
    if (r.new_gflops) new_gflops.push_back(*r.new_gflops);
  }
  row.base_ns = median(base);
  row.new_ns = median(now);
  row.ratio = median(ratios);
  row.ratio_min = *std::min_element(ratios.begin(), ratios.end());
  row.ratio_max = *std::max_element(ratios.begin(), ratios.end());
  if (base_gflops.size() == per_round.size()) row.base_gflops = median(base_gflops);
  if (new_gflops.size() == per_round.size()) row.new_gflops = median(new_gflops);
  // A ratio of 0 or infinity (a time too short for the clock) has no usable logarithm.
  const bool finite = std::all_of(logs.begin(), logs.end(), [](double l) { return std::isfinite(l); });
  const SignedRankTest t = wilcoxon_signed_rank(logs, o.alpha);
  if (finite && per_round.size() >= pairs_needed(o.alpha) && t.n == 0) {
    row.p_value = 1.0;  // no round differs at all: no evidence of a change
    row.significance = "not significant";
  } else if (!finite || !t.enough) {
    row.significance = "not enough rounds";
  } else {
    row.p_value = t.p;
    row.significance = t.p < o.alpha ? "significant" : "not significant";
  }
  judge(row, o);
  return row;
}

std::string report_line(const char* role, const ReportInfo& r) {
  return std::string(role) + r.path + "  commit " + r.commit + "  " + r.machine + "  " + r.date +
         "\n";
}

}  // namespace

size_t Comparison::performance_regressions() const {
  size_t n = 0;
  for (const auto& r : rows) n += r.regression;
  for (const auto& f : failures) n += f.regression;
  return n;
}

size_t Comparison::accuracy_regressions() const {
  size_t n = 0;
  for (const auto& a : accuracy) n += a.regression;
  return n;
}

void check_same_machine(const Report& base, const Report& now) {
  const std::string hint = "; pass --cross-machine to compare anyway";
  for (const Report* r : {&base, &now}) {
    if (!r->machine.known()) {
      core::fail(r->path, "cannot tell which CPU and thread count this report is from (no "
                          "context.vitbench.cpu.model or threads)" + hint);
    }
  }
  if (base.machine.cpu_model != now.machine.cpu_model) {
    core::fail(now.path, "its CPU \"" + now.machine.cpu_model + "\" is not the base's \"" +
                             base.machine.cpu_model + "\" (" + base.path + ")" + hint);
  }
  if (base.machine.threads != now.machine.threads) {
    core::fail(now.path, "it ran " + std::to_string(now.machine.threads) +
                             " threads, the base (" + base.path + ") " +
                             std::to_string(base.machine.threads) + hint);
  }
}

Comparison compare_reports(const Report& base, const Report& now, const CompareOptions& o) {
  if (!o.cross_machine) check_same_machine(base, now);
  Comparison c;
  c.base = info_of(base);
  c.now = info_of(now);
  c.options = o;
  add_notes(c.notes, base);
  add_notes(c.notes, now);
  if (o.cross_machine && base.machine.label() != now.machine.label()) {
    c.notes.push_back("comparing different machines (" + base.machine.label() + " vs " +
                      now.machine.label() + "): differences include the hardware");
  } else if (base.machine.target != now.machine.target) {
    c.notes.push_back("Highway target changed: " + base.machine.target + " -> " +
                      now.machine.target);
  }
  for (const Benchmark& n : now.benchmarks) {
    const Benchmark* b = base.find(n.name);
    if (!b) {
      c.only_in_new.push_back(n.name);
      if (n.failed()) c.failures.push_back({n.name, n.error, true, false});
      continue;
    }
    if (n.failed() || b->failed()) {
      if (n.failed()) c.failures.push_back({n.name, n.error, true, !b->failed()});
      else c.failures.push_back({n.name, b->error, false, false});
      continue;
    }
    c.rows.push_back(compare_benchmark(*b, n, o));
  }
  for (const Benchmark& b : base.benchmarks) {
    if (!now.find(b.name)) c.only_in_base.push_back(b.name);
  }
  compare_accuracy(base, now, o.accuracy_factor, c.accuracy);
  return c;
}

Comparison compare_rounds(const std::vector<Report>& reports, const CompareOptions& o) {
  if (reports.size() < 4 || reports.size() % 2 != 0) {
    core::fail("compare --rounds", "takes rounds of two reports, BASE_1 NEW_1 BASE_2 NEW_2 ..., "
                                   "at least two rounds; got " +
                                       std::to_string(reports.size()) + " reports");
  }
  if (!o.cross_machine) {
    for (size_t i = 1; i < reports.size(); ++i) check_same_machine(reports[0], reports[i]);
  }
  Comparison c;
  c.options = o;
  c.rounds = reports.size() / 2;
  std::map<std::string, std::vector<BenchmarkRow>> rows;
  std::vector<std::string> order;  // first round's order
  const auto once = [](std::vector<std::string>& list, const std::string& item) {
    if (std::find(list.begin(), list.end(), item) == list.end()) list.push_back(item);
  };
  for (size_t r = 0; r < c.rounds; ++r) {
    const Comparison round = compare_reports(reports[2 * r], reports[2 * r + 1], o);
    if (r == 0) {
      c.base = round.base;
      c.now = round.now;
    }
    for (const BenchmarkRow& row : round.rows) {
      if (r == 0) order.push_back(row.name);
      rows[row.name].push_back(row);
    }
    for (const std::string& n : round.only_in_base) once(c.only_in_base, n);
    for (const std::string& n : round.only_in_new) once(c.only_in_new, n);
    for (const std::string& n : round.notes) once(c.notes, n);
    for (const FailedBenchmark& f : round.failures) {
      const bool seen = std::any_of(c.failures.begin(), c.failures.end(), [&](const auto& g) {
        return g.name == f.name && g.in_new == f.in_new && g.regression == f.regression;
      });
      if (!seen) c.failures.push_back(f);
    }
    for (const AccuracyFinding& a : round.accuracy) {
      const bool seen = std::any_of(c.accuracy.begin(), c.accuracy.end(), [&](const auto& b) {
        return b.backend == a.backend && b.case_name == a.case_name && b.metric == a.metric &&
               b.regression == a.regression;
      });
      if (!seen) c.accuracy.push_back(a);
    }
  }
  for (const std::string& name : order) {
    if (rows[name].size() == c.rounds) c.rows.push_back(combine_rounds(rows[name], o));
  }
  for (const auto& [name, per_round] : rows) {
    if (per_round.size() == c.rounds) continue;
    c.notes.push_back(name + ": compared in " + std::to_string(per_round.size()) + " of " +
                      std::to_string(c.rounds) + " rounds only, so not judged");
  }
  return c;
}

std::string render_comparison(const Comparison& c, TextFormat format) {
  const bool md = format == TextFormat::Markdown;
  const std::string h = md ? "### " : "";
  const std::string bullet = md ? "- " : "  ";
  std::string out;
  out += (md ? "## vitbench compare\n\n" : "");
  const bool rounds = c.rounds > 0;
  out += report_line(md ? "- base: " : "base: ", c.base);
  out += report_line(md ? "- new: " : "new:  ", c.now);
  if (rounds) out += (md ? "- " : "") + std::string("those are round 1 of ") +
                     std::to_string(c.rounds) + "; medians and ratios below are over the rounds\n";
  out += (md ? "- " : "") + std::string("threshold ") + format_compact(c.options.threshold * 100, 3) +
         "%, " +
         (rounds ? "Wilcoxon signed-rank over the rounds' new/base ratios (two-sided) at alpha " +
                       format_compact(c.options.alpha, 3) + ", at least " +
                       std::to_string(pairs_needed(c.options.alpha)) + " rounds for significance"
                 : "Mann-Whitney U (two-sided) at alpha " + format_compact(c.options.alpha, 3) +
                       ", at least " + std::to_string(repetitions_needed(c.options.alpha)) +
                       " repetitions each side for significance") +
         "\n\n";

  Table t{{"benchmark", "base median", "new median", "new/base", "base GFLOP/s", "new GFLOP/s",
           "p-value", "verdict"},
          {}};
  if (rounds) t.header.insert(t.header.begin() + 4, "rounds' new/base");
  for (const BenchmarkRow& r : c.rows) {
    std::string p = r.p_value ? format_number(*r.p_value, 2) : "n/a";
    std::string verdict = r.verdict == "regression" ? "REGRESSION" : r.verdict;
    verdict += " " + format_change(r.ratio - 1);
    if (r.significance == "not enough repetitions") {
      verdict += " (not enough repetitions: " + std::to_string(r.base_repetitions) + " vs " +
                 std::to_string(r.new_repetitions) + ")";
    } else if (r.significance == "not enough rounds") {
      verdict += " (not enough rounds: " + std::to_string(r.rounds) + ")";
    } else if (r.verdict != "unchanged") {
      verdict += " (" + r.significance + ")";
    }
    std::vector<std::string> cells = {r.name, format_duration(r.base_ns), format_duration(r.new_ns),
                                      format_number(r.ratio, 4), format_optional(r.base_gflops),
                                      format_optional(r.new_gflops), p, verdict};
    if (rounds) {
      cells.insert(cells.begin() + 4,
                   format_number(r.ratio_min, 4) + " to " + format_number(r.ratio_max, 4));
    }
    t.rows.push_back(cells);
  }
  out += h + "Performance: " + std::to_string(c.rows.size()) + " benchmarks in " +
         (rounds ? "every round" : "both reports") + "\n";
  out += (md ? "\n" : "") + t.render(format) + "\n";

  auto list = [&](const std::string& title, const std::vector<std::string>& names) {
    out += h + title + " (" + std::to_string(names.size()) + ")" + (names.empty() ? "" : ":") + "\n";
    for (const std::string& n : names) out += bullet + n + "\n";
    if (md || !names.empty()) out += "\n";
  };
  list("Only in base", c.only_in_base);
  list("Only in new", c.only_in_new);
  std::vector<std::string> failed;
  for (const FailedBenchmark& f : c.failures) {
    failed.push_back(f.name + ": " + f.error + (f.in_new ? "" : " (in the base)") +
                     (f.regression ? "  REGRESSION: ran in the base" : ""));
  }
  list("Failed to run", failed);
  std::vector<std::string> acc, acc_notes;
  for (const AccuracyFinding& a : c.accuracy) {
    const std::string where = a.backend + (a.case_name.empty() ? "" : ", case " + a.case_name);
    (a.regression ? acc : acc_notes).push_back(where + ": " + a.message);
  }
  list("Accuracy regressions", acc);
  if (!acc_notes.empty()) list("Accuracy notes", acc_notes);
  if (!c.notes.empty()) list("Notes", c.notes);

  const size_t perf = c.performance_regressions(), accuracy = c.accuracy_regressions();
  out += (md ? "**" : "") + std::string(c.regressed() ? "FAIL" : "PASS") + (md ? "**" : "") +
         ": " + std::to_string(perf) + " performance regression" + (perf == 1 ? "" : "s") + ", " +
         std::to_string(accuracy) + " accuracy regression" + (accuracy == 1 ? "" : "s") + "\n";
  return out;
}

nlohmann::json comparison_json(const Comparison& c) {
  using nlohmann::json;
  auto info = [](const ReportInfo& r) {
    return json{{"path", r.path}, {"commit", r.commit}, {"machine", r.machine}, {"date", r.date}};
  };
  auto opt = [](const std::optional<double>& v) { return v && std::isfinite(*v) ? json(*v) : json(); };
  auto num = [](double v) { return std::isfinite(v) ? json(v) : json(); };
  json rows = json::array();
  size_t improvements = 0;
  for (const BenchmarkRow& r : c.rows) {
    improvements += r.verdict == "improvement";
    rows.push_back({{"name", r.name}, {"base_median_ns", num(r.base_ns)},
                    {"new_median_ns", num(r.new_ns)}, {"ratio", num(r.ratio)},
                    {"change", num(r.ratio - 1)}, {"base_repetitions", r.base_repetitions},
                    {"new_repetitions", r.new_repetitions}, {"base_gflops", opt(r.base_gflops)},
                    {"new_gflops", opt(r.new_gflops)}, {"p_value", opt(r.p_value)},
                    {"significance", r.significance}, {"verdict", r.verdict},
                    {"regression", r.regression}});
    if (c.rounds) {
      rows.back()["rounds"] = r.rounds;
      rows.back()["ratio_min"] = num(r.ratio_min);
      rows.back()["ratio_max"] = num(r.ratio_max);
    }
  }
  json failures = json::array();
  for (const FailedBenchmark& f : c.failures) {
    failures.push_back({{"name", f.name}, {"error", f.error}, {"in_new", f.in_new},
                        {"regression", f.regression}});
  }
  json accuracy = json::array();
  for (const AccuracyFinding& a : c.accuracy) {
    accuracy.push_back({{"backend", a.backend}, {"case", a.case_name.empty() ? json() : json(a.case_name)},
                        {"metric", a.metric}, {"base", opt(a.base)}, {"new", opt(a.now)},
                        {"regression", a.regression}, {"message", a.message}});
  }
  return {{"vitbench_compare", 1},
          {"base", info(c.base)},
          {"new", info(c.now)},
          {"rounds", c.rounds},
          {"threshold", c.options.threshold},
          {"alpha", c.options.alpha},
          {"accuracy_factor", c.options.accuracy_factor},
          {"cross_machine", c.options.cross_machine},
          {"benchmarks", rows},
          {"only_in_base", c.only_in_base},
          {"only_in_new", c.only_in_new},
          {"failed", failures},
          {"accuracy", accuracy},
          {"notes", c.notes},
          {"summary",
           {{"compared", c.rows.size()},
            {"performance_regressions", c.performance_regressions()},
            {"improvements", improvements},
            {"accuracy_regressions", c.accuracy_regressions()},
            {"passed", !c.regressed()}}}};
}

std::vector<size_t> chronological_order(const std::vector<Report>& reports) {
  std::vector<size_t> dated, undated;
  for (size_t i = 0; i < reports.size(); ++i) (reports[i].epoch ? dated : undated).push_back(i);
  std::stable_sort(dated.begin(), dated.end(),
                   [&](size_t a, size_t b) { return *reports[a].epoch < *reports[b].epoch; });
  dated.insert(dated.end(), undated.begin(), undated.end());
  return dated;
}

std::string machine_column(const Report& r, const Benchmark& b) {
  if (b.id.threads <= 0 || b.id.threads == r.machine.threads) return r.machine.key;
  const std::string threads = "t" + std::to_string(b.id.threads);
  if (r.machine.cpu_model.empty()) return r.machine.key + " " + threads;
  return r.machine.cpu_model + "/" + (r.machine.target.empty() ? "?" : r.machine.target) + "/" +
         threads;
}

std::optional<double> percent_of_peak(const Report& r, const Benchmark& b) {
  if (const auto p = b.counter("%peak")) return p;
  const auto g = b.counter("GFLOP/s");
  const int threads = b.id.threads > 0 ? b.id.threads : r.machine.threads;
  auto it = r.machine.peak_gflops.find(threads);
  if (!g || it == r.machine.peak_gflops.end()) return std::nullopt;
  return 100.0 * *g / it->second;
}

AcrossTable compare_across(const std::vector<Report>& reports) {
  AcrossTable t;
  std::map<std::string, size_t> machine_index;
  std::map<std::pair<std::string, std::string>, std::map<std::string, AcrossCell>> cells;
  size_t skipped = 0;
  for (size_t i : chronological_order(reports)) {
    const Report& r = reports[i];
    for (const std::string& n : r.notes) t.notes.push_back(r.path + ": " + n);
    for (const Benchmark& b : r.benchmarks) {
      if (b.id.kind != BenchName::Kind::Model || b.failed()) {
        skipped += b.id.kind == BenchName::Kind::Other;
        continue;
      }
      const std::string machine = machine_column(r, b);
      machine_index.try_emplace(machine, 0);
      AcrossCell cell;
      cell.latency_ns = *b.median_ns();
      cell.gflops = b.counter("GFLOP/s");
      cell.percent_peak = percent_of_peak(r, b);
      cell.report = r.path;
      // Later reports overwrite earlier ones: the latest run of each machine wins.
      cells[{b.id.group(), b.id.backend}][machine] = cell;
    }
  }
  if (skipped) {
    t.notes.push_back(std::to_string(skipped) +
                      " benchmarks with names outside model/... and op/... were left out");
  }
  for (auto& [name, index] : machine_index) {
    index = t.machines.size();
    t.machines.push_back(name);
  }
  // A column filled from several reports compares runs made at different times: say so.
  std::map<std::string, std::set<std::string>> reports_of_machine;
  for (const auto& [key, by_machine] : cells) {
    for (const auto& [machine, cell] : by_machine) reports_of_machine[machine].insert(cell.report);
  }
  for (const auto& [machine, paths] : reports_of_machine) {
    if (paths.size() < 2) continue;
    std::string list;
    for (const std::string& path : paths) list += (list.empty() ? "" : ", ") + path;
    t.notes.push_back(machine + ": its column mixes " + std::to_string(paths.size()) +
                      " reports (each cell is that benchmark's latest run): " + list);
  }
  for (auto& [key, by_machine] : cells) {
    AcrossTable::Row row{key.first, key.second, std::vector<std::optional<AcrossCell>>(t.machines.size())};
    for (auto& [machine, cell] : by_machine) row.cells[machine_index[machine]] = cell;
    t.rows.push_back(std::move(row));
  }
  // Winners: fastest backend per model and machine.
  std::map<std::string, std::vector<size_t>> rows_of_model;
  for (size_t i = 0; i < t.rows.size(); ++i) rows_of_model[t.rows[i].model].push_back(i);
  for (const auto& [model, row_ids] : rows_of_model) {
    for (size_t m = 0; m < t.machines.size(); ++m) {
      std::optional<size_t> best, best_own;
      for (size_t r : row_ids) {
        const auto& cell = t.rows[r].cells[m];
        if (!cell) continue;
        if (!best || cell->latency_ns < t.rows[*best].cells[m]->latency_ns) best = r;
        const bool peer = t.rows[r].backend.rfind("peer:", 0) == 0;
        if (!peer && (!best_own || cell->latency_ns < t.rows[*best_own].cells[m]->latency_ns)) {
          best_own = r;
        }
      }
      if (!best) continue;
      t.rows[*best].cells[m]->winner = true;
      AcrossTable::Winner w{model, t.machines[m], t.rows[*best].backend,
                            t.rows[*best].cells[m]->latency_ns, "", 0};
      if (best_own && *best_own != *best) {
        w.best_own_backend = t.rows[*best_own].backend;
        w.best_own_latency_ns = t.rows[*best_own].cells[m]->latency_ns;
      }
      t.winners.push_back(w);
    }
  }
  return t;
}

std::string render_across(const AcrossTable& t, TextFormat format) {
  const bool md = format == TextFormat::Markdown;
  std::string out = md ? "## vitbench across machines\n\n" : "";
  if (t.rows.empty()) {
    out += "no model benchmarks in these reports\n";
  } else {
    Table table;
    table.header = {"model", "backend"};
    for (const std::string& m : t.machines) table.header.push_back(m);
    for (const auto& row : t.rows) {
      std::vector<std::string> cells = {row.model, row.backend};
      for (const auto& cell : row.cells) {
        if (!cell) {
          cells.push_back("-");
          continue;
        }
        std::string s = format_duration(cell->latency_ns) + ", " + format_optional(cell->gflops) +
                        " GFLOP/s, " +
                        (cell->percent_peak ? format_number(*cell->percent_peak, 3) + "%" : "-") +
                        " of peak";
        if (cell->winner) s += md ? " **fastest**" : " *";
        cells.push_back(s);
      }
      table.rows.push_back(cells);
    }
    out += table.render(format);
    out += md ? "\n" : "(* fastest on that machine; cells: latency, GFLOP/s, % of that machine's measured peak)\n\n";
    out += md ? "### Winners\n" : "Winners:\n";
    for (const auto& w : t.winners) {
      out += (md ? "- " : "  ") + w.model + " on " + w.machine + ": " + w.backend + " (" +
             format_duration(w.latency_ns) + ")";
      if (!w.best_own_backend.empty()) {
        out += "; fastest vitbench backend " + w.best_own_backend + " (" +
               format_duration(w.best_own_latency_ns) + ")";
      }
      out += "\n";
    }
  }
  if (!t.notes.empty()) {
    out += md ? "\n### Notes\n" : "\nNotes:\n";
    for (const auto& n : t.notes) out += (md ? "- " : "  ") + n + "\n";
  }
  return out;
}

nlohmann::json across_json(const AcrossTable& t) {
  using nlohmann::json;
  auto opt = [](const std::optional<double>& v) { return v && std::isfinite(*v) ? json(*v) : json(); };
  json rows = json::array();
  for (const auto& row : t.rows) {
    json cells = json::array();
    for (size_t m = 0; m < row.cells.size(); ++m) {
      const auto& cell = row.cells[m];
      if (!cell) {
        cells.push_back(nullptr);
        continue;
      }
      cells.push_back({{"machine", t.machines[m]}, {"latency_ns", cell->latency_ns},
                       {"gflops", opt(cell->gflops)}, {"percent_peak", opt(cell->percent_peak)},
                       {"winner", cell->winner}, {"report", cell->report}});
    }
    rows.push_back({{"model", row.model}, {"backend", row.backend}, {"cells", cells}});
  }
  json winners = json::array();
  for (const auto& w : t.winners) {
    json j = {{"model", w.model}, {"machine", w.machine}, {"backend", w.backend},
              {"latency_ns", w.latency_ns}};
    if (!w.best_own_backend.empty()) {
      j["best_vitbench_backend"] = w.best_own_backend;
      j["best_vitbench_latency_ns"] = w.best_own_latency_ns;
    }
    winners.push_back(j);
  }
  return {{"vitbench_across", 1}, {"machines", t.machines}, {"rows", rows},
          {"winners", winners}, {"notes", t.notes}};
}

}  // namespace vitbench::reports
