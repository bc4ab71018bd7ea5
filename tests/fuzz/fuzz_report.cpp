// Benchmark reports, as compare and the dashboard read them: Google Benchmark's JSON (with its
// bare NaN/Infinity tokens) plus context.vitbench. Whatever is read must then go through
// validation, compare (against itself), the across-CPU table, every export and the dashboard
// without any failure other than a one-line core::Error.
#include <cstdint>
#include <string>
#include <vector>

#include "reports/compare.h"
#include "reports/dashboard.h"
#include "reports/export.h"
#include "reports/report.h"
#include "reports/validate.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vitbench;
  using namespace vitbench::reports;
  const std::string where = "fuzz/report.json";
  const std::string text(fuzz::as_text(data, size));
  Report report;
  if (!fuzz::accepts(where, [&] { report = parse_report(parse_report_text(text, where), where); })) {
    return 0;
  }
  fuzz::accepts(where, [&] { validate_report(parse_report_text(text, where), where); });
  fuzz::accepts(where, [&] {
    const Comparison c = compare_reports(report, report, CompareOptions{});
    (void)render_comparison(c, TextFormat::Text);
    (void)render_comparison(c, TextFormat::Markdown);
    (void)comparison_json(c);
  });
  fuzz::accepts(where, [&] {
    const AcrossTable t = compare_across({report, report});
    (void)render_across(t, TextFormat::Markdown);
    (void)across_json(t);
  });
  for (ExportFormat f : {ExportFormat::GabSmaller, ExportFormat::GabBigger, ExportFormat::Bmf}) {
    fuzz::accepts(where, [&] {
      std::vector<std::string> notes;
      (void)export_reports({report}, f, notes);
    });
  }
  fuzz::accepts(where, [&] {
    DashboardInput input;
    input.reports = {report};
    (void)render_dashboard(input, DashboardOptions{});
  });
  return 0;
}
