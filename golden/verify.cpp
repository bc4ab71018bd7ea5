#include "golden/verify.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"

namespace vitbench::golden {
namespace {

std::string format(const char* fmt, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, value);
  return buf;
}

// A flat index as coordinates, so a failure points at [image, token, channel].
std::string coordinates(size_t index, const core::Shape& shape) {
  std::vector<size_t> coords(shape.size());
  for (size_t i = shape.size(); i-- > 0;) {
    coords[i] = shape[i] ? index % shape[i] : 0;
    index = shape[i] ? index / shape[i] : 0;
  }
  std::string s = "[";
  for (size_t i = 0; i < coords.size(); ++i) s += (i ? ", " : "") + std::to_string(coords[i]);
  return s + "]";
}

nlohmann::json number(double v) {
  if (std::isfinite(v)) return v;
  return nullptr;  // JSON has no Inf or NaN
}

std::string explain(const TapResult& t, const core::TensorD& actual,
                    const core::TensorD& expected) {
  const core::Comparison& c = t.comparison;
  if (!c.finite()) {
    return std::to_string(c.nonfinite) + " non-finite values, the first at " +
           coordinates(c.worst_index, expected.shape());
  }
  const std::string where = " (worst at " + coordinates(c.worst_index, expected.shape()) +
                            ": got " + format("%.15g", actual[c.worst_index]) + ", expected " +
                            format("%.15g", expected[c.worst_index]) + ")";
  if (!(c.max_rel_error <= t.tolerance.max_rel)) {
    return "max rel error " + format("%.3e", c.max_rel_error) + " > tolerance " +
           format("%.3e", t.tolerance.max_rel) + where;
  }
  if (!(c.nmse <= t.tolerance.nmse)) {
    return "nmse " + format("%.3e", c.nmse) + " > tolerance " + format("%.3e", t.tolerance.nmse) +
           where;
  }
  if (c.rows && !c.all_argmax_agree()) {
    return "top-1 class differs on " + std::to_string(c.rows - c.argmax_agree) + " of " +
           std::to_string(c.rows) + " images";
  }
  return "";
}

}  // namespace

double TapResult::tolerance_used() const {
  if (!recorded || !comparison.finite()) return INFINITY;
  return std::max(comparison.max_rel_error / tolerance.max_rel, comparison.nmse / tolerance.nmse);
}

const TapResult* CaseResult::find_tap(const std::string& name) const {
  for (const TapResult& t : taps) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

size_t VerifyReport::failures() const {
  return static_cast<size_t>(std::count_if(results.begin(), results.end(),
                                           [](const CaseResult& r) { return !r.passed(); }));
}

int VerifyReport::exit_code() const {
  if (!corrupted.empty()) return 2;
  return failures() ? 1 : 0;
}

namespace {

// `actual` (null: not recorded) against one expected tap, added to `result` as tap `name`.
void add_tap(CaseResult& result, const Case& golden, const Runner& runner,
             const ExpectedTap& expected, const std::string& name, const core::TensorD* actual) {
  TapResult t;
  t.name = name;
  t.tolerance =
      tolerance_for(golden.config, expected.name, runner.tolerance_class, expected.dtype);
  const bool is_logits = expected.name == core::tap::logits();
  if (actual == nullptr) {
    t.problem = "not recorded by the backend";
  } else if (actual->shape() != expected.values.shape()) {
    t.problem = "shape " + core::shape_to_string(actual->shape()) + ", expected " +
                core::shape_to_string(expected.values.shape());
  } else {
    t.recorded = true;
    t.comparison = core::compare(actual->span(), expected.values.span(),
                                 is_logits ? golden.config.num_labels : 0);
    t.problem = explain(t, *actual, expected.values);
    if (!t.comparison.finite() && result.first_nonfinite_tap.empty()) {
      result.first_nonfinite_tap = t.name;
    }
  }
  t.passed = t.problem.empty();
  if (!t.passed && result.first_failing_tap.empty()) result.first_failing_tap = t.name;
  result.taps.push_back(std::move(t));
  result.outcome = result.first_failing_tap.empty() ? Outcome::Pass : Outcome::Fail;
}

}  // namespace

CaseResult judge(const Case& golden, const Runner& runner, const core::TensorD& logits,
                 const core::Taps& taps) {
  CaseResult result;
  result.case_name = golden.name;
  result.backend = runner.name;
  result.tolerance_class = runner.tolerance_class;
  result.outcome = Outcome::Pass;
  for (const ExpectedTap& expected : golden.taps) {
    // The logits are what the backend returns; every other tap is what it recorded.
    const bool is_logits = expected.name == core::tap::logits();
    add_tap(result, golden, runner, expected, expected.name,
            is_logits ? &logits : (taps.has(expected.name) ? &taps.get(expected.name) : nullptr));
  }
  return result;
}

VerifyReport verify(const std::vector<Case>& cases, const std::vector<Runner>& runners,
                    size_t threads) {
  for (const Runner& r : runners) {
    if (!is_tolerance_class(r.tolerance_class)) {
      core::fail("verify", "backend \"" + r.name + "\" has unknown tolerance class \"" +
                               r.tolerance_class + "\" (reference or float32)");
    }
  }
  VerifyReport report;
  for (const Case& golden : cases) {
    // A model folder that cannot be read, or reads as another model, fails every backend on the
    // case: the fault is the loader's, and no backend's result would mean anything.
    std::optional<core::Model> model;
    std::string model_error;
    try {
      model = load_case_model(golden);
    } catch (const std::exception& e) {
      model_error = e.what();
    }
    for (const Runner& runner : runners) {
      core::Taps taps;
      for (const ExpectedTap& t : golden.taps) taps.request(t.name);
      const auto start = std::chrono::steady_clock::now();
      CaseResult result;
      try {
        if (!model) throw std::runtime_error(model_error);
        const core::TensorD logits = runner.run(*model, golden.input, &taps, threads);
        result = judge(golden, runner, logits, taps);
        // Without taps, as infer and the benchmarks run it, the optimized forward skips rows
        // that only the taps need (optimized/forward.cpp): that pass's logits are judged too.
        if (runner.tolerance_class != kReferenceClass && golden.taps.size() > 1 &&
            golden.taps.back().name == core::tap::logits()) {
          const core::TensorD bare = runner.run(*model, golden.input, nullptr, threads);
          add_tap(result, golden, runner, golden.taps.back(), kLogitsWithoutTaps, &bare);
        }
      } catch (const std::exception& e) {
        result = CaseResult{};
        result.case_name = golden.name;
        result.backend = runner.name;
        result.tolerance_class = runner.tolerance_class;
        result.error = e.what();
      }
      result.seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      report.results.push_back(std::move(result));
    }
  }
  return report;
}

// ---- Printing -----------------------------------------------------------------------------------

void print_table_header(std::ostream& out) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-24s %-12s %-9s %-6s %-10s %-30s %-7s %8s  %s\n", "case",
                "backend", "class", "result", "logits rel", "worst tap (error/tolerance)", "top-1",
                "time", "first failing tap");
  out << buf;
}

void print_row(const CaseResult& r, std::ostream& out) {
  std::string logits_rel = "-", worst = "-", top1 = "-";
  if (const TapResult* l = r.find_tap(core::tap::logits()); l && l->recorded) {
    logits_rel = l->comparison.finite() ? format("%.2e", l->comparison.max_rel_error) : "nan";
    top1 = std::to_string(l->comparison.argmax_agree) + "/" + std::to_string(l->comparison.rows);
  }
  const TapResult* w = nullptr;
  for (const TapResult& t : r.taps) {
    if (!w || t.tolerance_used() > w->tolerance_used()) w = &t;
  }
  if (w) {
    worst = w->name + " " + (std::isfinite(w->tolerance_used()) ? format("%.2g", w->tolerance_used())
                                                                 : std::string("inf"));
  }
  std::string failing = r.passed() ? "-" : r.first_failing_tap;
  if (!r.error.empty()) failing = "(backend error)";
  if (!r.first_nonfinite_tap.empty()) failing += " (NaN/Inf from " + r.first_nonfinite_tap + ")";
  char buf[512];
  std::snprintf(buf, sizeof buf, "%-24s %-12s %-9s %-6s %-10s %-30s %-7s %7.2fs  %s\n",
                r.case_name.c_str(), r.backend.c_str(), r.tolerance_class.c_str(),
                r.passed() ? "PASS" : "FAIL", logits_rel.c_str(), worst.c_str(), top1.c_str(),
                r.seconds, failing.c_str());
  out << buf;
}

namespace {

void print_corrupted_row(const CorruptedCase& c, std::ostream& out) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-24s %-12s %-9s %s\n", c.case_name.c_str(), "-", "-",
                "CORRUPTED GOLDEN (not run)");
  out << buf;
}

void print_details(const VerifyReport& report, std::ostream& out) {
  for (const CorruptedCase& c : report.corrupted) out << "CORRUPTED GOLDEN " << c.error << "\n";
  for (const CaseResult& r : report.results) {
    if (r.passed()) continue;
    out << "FAIL " << r.case_name << " on " << r.backend << " (" << r.tolerance_class << "): ";
    if (!r.error.empty()) {
      out << "the backend failed: " << r.error << "\n";
      continue;
    }
    const TapResult* t = r.find_tap(r.first_failing_tap);
    out << "first failing tap " << r.first_failing_tap << ": " << (t ? t->problem : "") << "\n";
    if (!r.first_nonfinite_tap.empty() && r.first_nonfinite_tap != r.first_failing_tap) {
      out << "  NaN or Inf first appears at " << r.first_nonfinite_tap << "\n";
    }
  }
  out << report.results.size() - report.failures() << " of " << report.results.size()
      << " runs passed";
  if (!report.corrupted.empty()) out << "; " << report.corrupted.size() << " corrupted golden(s)";
  out << "\n";
}

}  // namespace

void print_table(const VerifyReport& report, std::ostream& out) {
  print_table_header(out);
  for (const CaseResult& r : report.results) print_row(r, out);
  for (const CorruptedCase& c : report.corrupted) print_corrupted_row(c, out);
  print_details(report, out);
}

// ---- JSON ---------------------------------------------------------------------------------------

nlohmann::json to_json(const CaseResult& r) {
  nlohmann::json taps = nlohmann::json::array();
  for (const TapResult& t : r.taps) {
    nlohmann::json j = {
        {"name", t.name},
        {"recorded", t.recorded},
        {"passed", t.passed},
        {"tolerance", {{"max_rel", t.tolerance.max_rel}, {"nmse", t.tolerance.nmse}}},
        {"tolerance_used", number(t.tolerance_used())},
    };
    if (t.recorded) j["metrics"] = core::to_json(t.comparison);
    if (!t.problem.empty()) j["problem"] = t.problem;
    taps.push_back(std::move(j));
  }
  auto or_null = [](const std::string& s) -> nlohmann::json {
    if (s.empty()) return nullptr;
    return s;
  };
  return {
      {"case", r.case_name},
      {"backend", r.backend},
      {"tolerance_class", r.tolerance_class},
      {"result", r.passed() ? "PASS" : "FAIL"},
      {"first_failing_tap", or_null(r.first_failing_tap)},
      {"first_nonfinite_tap", or_null(r.first_nonfinite_tap)},
      {"error", or_null(r.error)},
      {"seconds", r.seconds},
      {"taps", taps},
  };
}

nlohmann::json to_json(const VerifyReport& report) {
  nlohmann::json results = nlohmann::json::array();
  for (const CaseResult& r : report.results) results.push_back(to_json(r));
  nlohmann::json corrupted = nlohmann::json::array();
  for (const CorruptedCase& c : report.corrupted) {
    corrupted.push_back({{"case", c.case_name}, {"dir", c.dir}, {"error", c.error}});
  }
  return {
      {"format", "vitbench-verify"},
      {"format_version", 1},
      {"tolerance_policy_version", kTolerancePolicyVersion},
      {"passed", report.exit_code() == 0},
      {"exit_code", report.exit_code()},
      {"runs", report.results.size()},
      {"failures", report.failures()},
      {"results", results},
      {"corrupted", corrupted},
  };
}

// ---- The command --------------------------------------------------------------------------------

int run_verify_command(const VerifyOptions& options, const std::vector<Runner>& all_runners,
                       std::ostream& out, std::ostream& err) {
  std::vector<Runner> runners;
  std::vector<CaseRef> cases;
  std::string golden_dir = options.golden_dir.empty() ? default_golden_dir() : options.golden_dir;
  try {
    if (options.threads < 1) core::fail("--threads", "must be at least 1");
    std::set<std::string> chosen;
    for (const std::string& name : options.backends) {
      auto it = std::find_if(all_runners.begin(), all_runners.end(),
                             [&](const Runner& r) { return r.name == name; });
      if (it == all_runners.end()) {
        std::string known;
        for (const Runner& r : all_runners) known += (known.empty() ? "" : ", ") + r.name;
        core::fail("--backend", "unknown backend \"" + name + "\" (known: " + known + ")");
      }
      if (chosen.insert(name).second) runners.push_back(*it);
    }
    if (options.backends.empty()) runners = all_runners;
    if (runners.empty()) core::fail("verify", "no backend to verify");
    for (const Runner& r : runners) {
      if (!is_tolerance_class(r.tolerance_class)) {
        core::fail(r.name, "unknown tolerance class \"" + r.tolerance_class + "\"");
      }
    }
    cases = select_cases(list_cases(golden_dir), options.cases);
    // Refuse an impossible output before minutes of work.
    if (!options.json_path.empty()) core::require_output_folder(options.json_path);
  } catch (const std::exception& e) {
    err << "vitbench verify: " << e.what() << "\n";
    return 2;
  }

  out << "verifying " << cases.size() << " golden case(s) from " << golden_dir << " on "
      << runners.size() << " backend(s), " << options.threads << " thread(s)\n";
  print_table_header(out);
  out.flush();
  VerifyReport report;
  for (const CaseRef& ref : cases) {
    std::vector<Case> one;
    try {
      one.push_back(load_case(ref));
    } catch (const CorruptedGolden& e) {
      report.corrupted.push_back({ref.name, ref.dir, e.what()});
      print_corrupted_row(report.corrupted.back(), out);
      out.flush();
      continue;
    }
    for (CaseResult& r : verify(one, runners, options.threads).results) {
      print_row(r, out);
      out.flush();
      report.results.push_back(std::move(r));
    }
  }
  print_details(report, out);

  if (!options.json_path.empty()) {
    nlohmann::json json = to_json(report);
    json["golden_dir"] = golden_dir;
    json["threads"] = options.threads;
    try {
      core::write_file_atomically(options.json_path, json.dump(1) + "\n");
    } catch (const std::exception& e) {
      err << "vitbench verify: " << e.what() << "\n";
      return 2;
    }
  }
  return report.exit_code();
}

int run_verify_command(const VerifyOptions& options, const std::vector<Runner>& runners,
                       std::ostream& out) {
  return run_verify_command(options, runners, out, std::cerr);
}

}  // namespace vitbench::golden
