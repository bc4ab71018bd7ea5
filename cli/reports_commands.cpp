// vitbench compare | export | dashboard: thin wrappers over reports/. Exit codes: 0 fine,
// 1 compare found a regression (what a CI gate keys on), 2 the inputs were refused (main prints
// the one-line error).
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "reports/compare.h"
#include "reports/dashboard.h"
#include "reports/export.h"
#include "reports/report.h"

namespace vitbench::cli {
namespace {

void print(const std::string& text) { std::fwrite(text.data(), 1, text.size(), stdout); }

void print_notes(const std::vector<std::string>& notes) {
  for (const std::string& n : notes) std::fprintf(stderr, "vitbench: note: %s\n", n.c_str());
}

// "5", "5%" or "2.5%": a percentage, returned as a fraction.
double parse_percent(const std::string& text, const std::string& option) {
  std::string digits = text;
  if (!digits.empty() && digits.back() == '%') digits.pop_back();
  size_t used = 0;
  double v = NAN;
  try {
    v = std::stod(digits, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (digits.empty() || used != digits.size() || !std::isfinite(v) || v < 0 || v >= 1000) {
    core::fail(option, "\"" + text + "\" is not a percentage such as 5 or 5%");
  }
  return v / 100;
}

reports::TextFormat parse_text_format(const std::string& name) {
  if (name == "text") return reports::TextFormat::Text;
  if (name == "markdown") return reports::TextFormat::Markdown;
  core::fail("--format", "\"" + name + "\" is not text or markdown");
}

struct CompareOptions {
  std::vector<std::string> reports;
  bool across = false;
  bool rounds = false;
  std::string threshold = "5%";
  double alpha = 0.05;
  bool cross_machine = false;
  double accuracy_factor = 2.0;
  std::string json;
  std::string format = "text";
};

int run_compare(const CompareOptions& o) {
  const reports::TextFormat format = parse_text_format(o.format);
  if (!(o.alpha > 0 && o.alpha < 1)) core::fail("--alpha", "must be between 0 and 1");
  if (!(o.accuracy_factor >= 1) || !std::isfinite(o.accuracy_factor)) {
    core::fail("--accuracy-factor", "must be a finite number of at least 1");
  }
  if (!o.json.empty()) core::require_output_folder(o.json);
  if (o.across) {
    const std::vector<std::string> files = reports::expand_report_paths(o.reports);
    if (files.empty()) core::fail("compare --across", "no *.json reports in the given folders");
    std::vector<reports::Report> loaded;
    for (const std::string& f : files) loaded.push_back(reports::load_report(f));
    const reports::AcrossTable table = reports::compare_across(loaded);
    print(reports::render_across(table, format));
    if (!o.json.empty()) {
      core::write_file_atomically(o.json, reports::across_json(table).dump(2) + "\n");
    }
    return 0;
  }
  if (!o.rounds && o.reports.size() != 2) {
    core::fail("compare", "takes two reports, BASE.json NEW.json (or --rounds with rounds of two, "
                          "or --across with any number); got " +
                              std::to_string(o.reports.size()));
  }
  reports::CompareOptions options;
  options.threshold = parse_percent(o.threshold, "--threshold");
  options.alpha = o.alpha;
  options.cross_machine = o.cross_machine;
  options.accuracy_factor = o.accuracy_factor;
  std::vector<reports::Report> loaded;
  for (const std::string& f : o.reports) loaded.push_back(reports::load_report(f));
  const reports::Comparison c = o.rounds ? reports::compare_rounds(loaded, options)
                                         : reports::compare_reports(loaded[0], loaded[1], options);
  print(reports::render_comparison(c, format));
  if (!o.json.empty()) core::write_file_atomically(o.json, reports::comparison_json(c).dump(2) + "\n");
  return c.regressed() ? 1 : 0;
}

struct ExportOptions {
  std::vector<std::string> reports;
  std::string format;
  std::string output;
};

int run_export(const ExportOptions& o) {
  const auto format = reports::parse_export_format(o.format);
  if (!format) core::fail("--format", "\"" + o.format + "\" is not gab-smaller, gab-bigger or bmf");
  const bool to_stdout = o.output.empty() || o.output == "-";
  if (!to_stdout) core::require_output_folder(o.output);
  const std::vector<std::string> files = reports::expand_report_paths(o.reports);
  if (files.empty()) core::fail("export", "no *.json reports in the given folders");
  std::vector<reports::Report> loaded;
  for (const std::string& f : files) loaded.push_back(reports::load_report(f));
  std::vector<std::string> notes;
  const nlohmann::json out = reports::export_reports(loaded, *format, notes);
  print_notes(notes);
  if (out.empty()) std::fprintf(stderr, "vitbench: note: nothing to export\n");
  const std::string text = out.dump(2) + "\n";
  if (to_stdout) {
    print(text);
  } else {
    core::write_file_atomically(o.output, text);
    std::fprintf(stderr, "%zu entries written to %s\n", out.size(), o.output.c_str());
  }
  return 0;
}

struct DashboardOptions {
  std::vector<std::string> inputs;
  std::string output;
  std::string title = "vitbench performance";
};

int run_dashboard(const DashboardOptions& o) {
  core::require_output_folder(o.output);
  const std::vector<std::string> files = reports::expand_report_paths(o.inputs);
  const reports::DashboardInput input = reports::load_dashboard_input(files);
  // Unreadable reports are shown on the page; say so here too, so a CI log shows them.
  for (const reports::SkippedReport& s : input.skipped) {
    std::fprintf(stderr, "vitbench: warning: skipped %s\n", s.reason.c_str());
  }
  reports::DashboardOptions options;
  options.title = o.title;
  const std::string html = reports::render_dashboard(input, options);
  core::write_file_atomically(o.output, html);
  std::printf("dashboard of %zu report(s) (%zu skipped) written to %s (%zu KiB)\n",
              input.reports.size(), input.skipped.size(), o.output.c_str(), html.size() / 1024);
  return 0;
}

}  // namespace

Command add_compare_command(CLI::App& app) {
  auto o = std::make_shared<CompareOptions>();
  CLI::App* sub = app.add_subcommand(
      "compare",
      "Compare two reports, or rounds of an alternated run (exit 1 on a regression, for CI "
      "gates), or many across CPUs");
  sub->add_option("reports", o->reports,
                  "BASE.json NEW.json; with --rounds, BASE_1 NEW_1 BASE_2 NEW_2 ...; with "
                  "--across, any number of reports or folders of them")
      ->required();
  auto* across = sub->add_flag("--across", o->across,
                               "One table across machines: each backend's latency, GFLOP/s and % "
                               "of peak per model, and which backend wins where");
  sub->add_flag("--rounds", o->rounds,
                "The reports are rounds of an alternated run (base and new back to back, round "
                "after round): judge each benchmark by its rounds' new/base ratios, with "
                "Wilcoxon's signed-rank test over them (6 rounds or more for significance)")
      ->excludes(across);
  sub->add_option("--threshold", o->threshold,
                  "Smallest slowdown that counts as a regression, in percent; smaller changes "
                  "never fail, however significant")
      ->capture_default_str();
  sub->add_option("--alpha", o->alpha,
                  "Significance level of the Mann-Whitney U test over the repetitions (with "
                  "--rounds: of the signed-rank test over the rounds)")
      ->capture_default_str();
  sub->add_option("--accuracy-factor", o->accuracy_factor,
                  "How many times worse a verification error may get before it is an accuracy "
                  "regression (squared for NMSE and 1-cosine)")
      ->capture_default_str();
  sub->add_flag("--cross-machine", o->cross_machine,
                "Allow reports from different CPUs or thread counts");
  sub->add_option("--json", o->json, "Also write a machine-readable summary to this file");
  sub->add_option("--format", o->format, "Output as text or markdown (for a CI job summary)")
      ->capture_default_str();
  return {sub, [o] { return run_compare(*o); }};
}

Command add_export_command(CLI::App& app) {
  auto o = std::make_shared<ExportOptions>();
  CLI::App* sub = app.add_subcommand(
      "export", "Convert reports for github-action-benchmark or Bencher");
  sub->add_option("reports", o->reports, "Reports, or folders of *.json reports")->required();
  sub->add_option("--format", o->format,
                  "gab-smaller (median time, customSmallerIsBetter), gab-bigger (GFLOP/s, "
                  "customBiggerIsBetter) or bmf (Bencher Metric Format)")
      ->required();
  sub->add_option("-o,--output", o->output, "Output file (default: standard output)");
  return {sub, [o] { return run_export(*o); }};
}

Command add_dashboard_command(CLI::App& app) {
  auto o = std::make_shared<DashboardOptions>();
  CLI::App* sub = app.add_subcommand(
      "dashboard", "Draw a self-contained HTML dashboard (no network needed) from reports");
  sub->add_option("inputs", o->inputs, "Reports, or folders of *.json reports")->required();
  sub->add_option("-o,--output", o->output, "The HTML file to write")->required();
  sub->add_option("--title", o->title, "Page title")->capture_default_str();
  return {sub, [o] { return run_dashboard(*o); }};
}

}  // namespace vitbench::cli
