// The dashboard as text: every section present, nothing fetched from the network, hostile
// names escaped, and it copes with one report, hundreds, and broken ones.
#include <chrono>

#include <gtest/gtest.h>

#include "reports/dashboard.h"
#include "reports/svg.h"
#include "tests/reports/reports_test_util.h"

namespace vitbench::reports {
namespace {

using testing::fixture;
using testing::TempDir;

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

DashboardInput fixtures_input() {
  return load_dashboard_input({fixture("base.json"), fixture("new_same.json"), fixture("new_slow.json"),
                               fixture("new_accuracy.json"), fixture("machine_b.json"),
                               fixture("missing_fields.json"), fixture("nan_timings.json"),
                               fixture("wrong_types.json")});
}

TEST(Dashboard, HasEverySectionAndListsUnreadableReports) {
  const DashboardInput in = fixtures_input();
  EXPECT_EQ(in.reports.size(), 6u);
  ASSERT_EQ(in.skipped.size(), 2u);
  const std::string html = render_dashboard(in, {});
  for (const char* id : {"id=\"across\"", "id=\"backends\"", "id=\"roofline\"", "id=\"accuracy\"",
                         "id=\"history\"", "id=\"problems\""}) {
    EXPECT_NE(html.find(id), std::string::npos) << id;
  }
  EXPECT_NE(html.find("real_time is NaN"), std::string::npos) << "the NaN report says why it is skipped";
  EXPECT_NE(html.find("real_time must be a number"), std::string::npos);
  // History: one chart per distinct benchmark (10 on A, 1 added by new_slow, 6 on B, BM_legacy
  // skipped for having no time unit).
  EXPECT_EQ(count(html, "<figure class=\"history\""), 17u);
  // Roofline: one per machine column with op benchmarks (A at t2, B at t4).
  EXPECT_NE(html.find("FMA peak 176.0 GFLOP/s"), std::string::npos);
  EXPECT_NE(html.find("bandwidth 19.5 GB/s"), std::string::npos);
  EXPECT_NE(html.find("FMA peak 610.0 GFLOP/s"), std::string::npos);
  // Accuracy: blis failed in new_accuracy, drawn as a red cross.
  EXPECT_NE(html.find("class=\"bad\""), std::string::npos);
  EXPECT_NE(html.find("first failing tap: odd-72x3-b3 at block.0.attn_out"), std::string::npos);
  // Across: the winner line.
  EXPECT_NE(html.find("<b>peer:onnxruntime</b>"), std::string::npos);
  // Every chart is an inline SVG with marks.
  const size_t charts = count(html, "<svg class=\"chart\"");
  EXPECT_GE(charts, 17u + 2 + 3 + 2);
  EXPECT_EQ(count(html, "data-marks=\"0\""), 0u) << "no empty charts from these fixtures";
}

// The backends side by side show each machine's latest run, by date, whatever the order the
// reports were given in: new_slow.json (2024-03-03, hwy slowed to 36 ms) over base.json
// (2024-03-01, 30 ms), given first.
TEST(Dashboard, BackendsSideBySideShowTheLatestRun) {
  const std::string html =
      render_dashboard(load_dashboard_input({fixture("new_slow.json"), fixture("base.json")}), {});
  const size_t begin = html.find("id=\"backends\""), end = html.find("id=\"roofline\"");
  ASSERT_NE(begin, std::string::npos);
  ASSERT_NE(end, std::string::npos);
  const std::string section = html.substr(begin, end - begin);
  const std::string tip = "model/vit-ti16@224/b1/t2/hwy: median ";
  const size_t at = section.find(tip);
  ASSERT_NE(at, std::string::npos) << section;
  const std::string bar = section.substr(at, section.find_first_of("<\"", at) - at);
  EXPECT_NE(bar.find("new_slow.json"), std::string::npos) << bar;
  EXPECT_NE(bar.find("2024-03-03"), std::string::npos) << bar;
  EXPECT_EQ(count(section, tip), 1u) << "one hwy bar for the one machine";
}

TEST(Dashboard, NeedsNoNetwork) {
  const std::string html = render_dashboard(fixtures_input(), {});
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos) << "no external scripts or images";
  EXPECT_EQ(html.find("@import"), std::string::npos);
  EXPECT_NE(html.find("Content-Security-Policy\" content=\"default-src 'none'"), std::string::npos);
}

TEST(Dashboard, EscapesHostileNames) {
  TempDir dir;
  std::string text = testing::read_bytes(fixture("base.json"));
  const std::string evil = "<script>alert(1)</script>\\\"&'";
  for (const std::string from : {"\"model/vit-ti16@224/b1/t2/hwy", "AMD EPYC 7B13"}) {
    std::string to = from[0] == '"' ? "\"model/" + evil + "/b1/t2/hwy" : "AMD " + evil;
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
      text.replace(at, from.size(), to);
    }
  }
  testing::write_bytes(dir / "evil.json", text);
  const DashboardInput in = load_dashboard_input({dir / "evil.json"});
  ASSERT_EQ(in.reports.size(), 1u) << (in.skipped.empty() ? "" : in.skipped[0].reason);
  DashboardOptions o;
  o.title = "</title><script>bad()</script>";
  const std::string html = render_dashboard(in, o);
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_EQ(html.find("<script>bad"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&amp;&#39;"), std::string::npos);
  EXPECT_EQ(count(html, "<script>"), 2u) << "only the page's own two scripts";
}

TEST(Dashboard, OneReport) {
  const DashboardInput in = load_dashboard_input({fixture("base.json")});
  const std::string html = render_dashboard(in, {});
  EXPECT_EQ(count(html, "<figure class=\"history\""), 10u);
  EXPECT_NE(html.find("1 report from 1 machine"), std::string::npos);
}

TEST(Dashboard, NoReadableReports) {
  const DashboardInput in = load_dashboard_input({fixture("nan_timings.json")});
  const std::string html = render_dashboard(in, {});
  EXPECT_NE(html.find("No readable reports"), std::string::npos);
  EXPECT_NE(html.find("data-vitbench-rendered"), std::string::npos) << "the self-check still runs";
  EXPECT_EQ(render_dashboard({}, {}).find("<svg"), std::string::npos);
}

TEST(Dashboard, HundredsOfReports) {
  // 300 reports: three machines' histories of 100 commits each, from the fixtures with the dates,
  // commits and timings changed.
  std::vector<Report> reports;
  const Report a = load_report(fixture("base.json"));
  const Report b = load_report(fixture("machine_b.json"));
  for (int i = 0; i < 300; ++i) {
    Report r = i % 3 == 2 ? b : a;
    if (i % 3 == 1) {
      r.machine.cpu_model = "AMD EPYC 9654";
      r.machine.key = "AMD EPYC 9654/AVX3/t2";
    }
    r.path = "reports/run" + std::to_string(i) + ".json";
    r.epoch = 1709287200 + int64_t(i) * 3600;
    r.date = "2024-03-" + std::to_string(1 + i / 24) + "T00:00:00+00:00";
    r.commit = "c" + std::to_string(100000 + i);
    for (Benchmark& bench : r.benchmarks) {
      for (double& t : bench.times_ns) t *= 1.0 + 0.001 * (i % 17);
    }
    reports.push_back(std::move(r));
  }
  const auto start = std::chrono::steady_clock::now();
  const std::string html = render_dashboard({reports, {}}, {});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_NE(html.find("300 reports from 3 machines"), std::string::npos);
  EXPECT_EQ(count(html, "<figure class=\"history\""), 16u);
  // Per-point markers stop at 80 per series (100 points each here), so the page stays small:
  // 16 charts x 3 series x a 100-point line is well under 4 MB.
  EXPECT_LT(html.size(), size_t(4) << 20) << html.size();
  // Generous: it takes ~0.1 s unsanitised; ASan builds are ~10x slower.
  EXPECT_LT(seconds, 20.0);
}

TEST(Dashboard, ArithmeticIntensity) {
  const Report r = load_report(fixture("base.json"));
  // gelu: measured bytes. FLOPs 20 x 197 x 768 over 8 x 197 x 768 bytes = 2.5 FLOP/byte.
  const auto gelu = arithmetic_intensity(*r.find("op/gelu/vit-ti16@224/197x768/t2/hwy"));
  ASSERT_TRUE(gelu);
  EXPECT_TRUE(gelu->measured);
  EXPECT_NEAR(gelu->flops_per_byte, 2.5, 1e-9);
  // linear 197x576x192: 2MNK FLOPs over 4(MK + KN + MN) bytes from the shape.
  const auto linear = arithmetic_intensity(*r.find("op/linear/vit-ti16@224/197x576x192/t2/hwy"));
  ASSERT_TRUE(linear);
  EXPECT_FALSE(linear->measured);
  const double m = 197, n = 576, k = 192;
  EXPECT_NEAR(linear->flops_per_byte, 2 * m * n * k / (4 * (m * k + k * n + m * n)), 1e-9);
  // attention 197x3x64: 4 T^2 H D FLOPs over 16 T H D bytes = T / 4.
  const auto attention = arithmetic_intensity(*r.find("op/attention/vit-ti16@224/197x3x64/t2/flash"));
  ASSERT_TRUE(attention);
  EXPECT_NEAR(attention->flops_per_byte, 197.0 / 4, 1e-9);
  // A model has no shape to derive bytes from.
  EXPECT_FALSE(arithmetic_intensity(*r.find("model/vit-ti16@224/b1/t2/hwy")));
  Benchmark odd = *r.find("op/linear/vit-ti16@224/197x576x192/t2/hwy");
  odd.id.shape = "197x99999999999999999999x3";
  EXPECT_FALSE(arithmetic_intensity(odd));
}

TEST(Svg, TicksAreRound) {
  EXPECT_EQ(svg::nice_ticks(0, 10, false), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(svg::nice_ticks(0.5, 2000, true), (std::vector<double>{1, 10, 100, 1000}));
  EXPECT_EQ(svg::nice_ticks(3, 30, true), (std::vector<double>{5, 10, 20}));
  EXPECT_TRUE(svg::nice_ticks(1, 1, false).empty());
  EXPECT_TRUE(svg::nice_ticks(NAN, 1, false).empty());
  EXPECT_TRUE(svg::nice_ticks(-1, 10, true).empty());
}

TEST(Svg, ChartsCopeWithDegenerateData) {
  svg::LineChart c;
  c.title = "t";
  c.y.log = true;
  auto pt = [](double x, double y) {
    svg::Point p;
    p.x = x;
    p.y = y;
    return p;
  };
  c.series.push_back({"s", "#000", {pt(0, 0), pt(1, -5), pt(2, NAN), pt(3, INFINITY)}, true});
  const std::string empty = svg::render(c);
  EXPECT_NE(empty.find("no data to draw"), std::string::npos);
  c.series[0].points.push_back(pt(4, 7));
  const std::string one = svg::render(c);
  EXPECT_NE(one.find("<circle"), std::string::npos);
  EXPECT_EQ(one.find("nan"), std::string::npos);
  EXPECT_EQ(one.find("inf"), std::string::npos);
  svg::BarChart b{"b", "ms", {{"g", {{"x", NAN, {}, {}, "#000", "", "", false}}}}, 400};
  const std::string bars = svg::render(b);
  EXPECT_EQ(bars.find("nan"), std::string::npos);
  EXPECT_EQ(bars.find("NaN"), std::string::npos);
  EXPECT_NE(bars.find("n/a"), std::string::npos);
}

}  // namespace
}  // namespace vitbench::reports
