#include "reports/dashboard.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <set>
#include <unordered_map>

#include "core/error.h"
#include "reports/compare.h"
#include "reports/format.h"
#include "reports/svg.h"

namespace vitbench::reports {
namespace {

// A hostile or huge report can carry thousands of notes; the page shows this many.
constexpr size_t kMaxNotesShown = 200;
// Zero error cannot sit on a log axis; exact agreement is drawn at this floor.
constexpr double kErrorFloor = 1e-12;

const char* kStyle = R"css(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 24px 48px;color:#222;background:#fafafa}
h1{font-size:22px;margin:18px 0 4px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:34px}
h3{font-size:15px;margin:18px 0 6px}nav a{margin-right:14px}p.meta{color:#555;margin:2px 0}
.charts{display:flex;flex-wrap:wrap;gap:14px}
figure{margin:0;background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px}
figcaption{font-size:12px;color:#555;max-width:600px}
svg.chart{display:block}svg.chart text{font:11px system-ui,sans-serif;fill:#333}
svg.chart .title{font-weight:600;font-size:12px}svg .frame{fill:none;stroke:#bbb}svg .grid{stroke:#eee}
svg .line{fill:none;stroke-width:1.6}svg .band{fill-opacity:.18;stroke:none}
svg .bad{stroke:#d00;stroke-width:2.2;fill:none}svg .roof{fill:none;stroke:#444;stroke-dasharray:5 3;stroke-width:1.4}
svg .roof-label{fill:#444}svg .whisker{stroke:#222;stroke-width:1}svg rect.best{stroke:#000;stroke-width:1.2}
svg .bar-label.best{font-weight:700}svg .group{font-weight:600}svg .empty{fill:#999}
table{border-collapse:collapse;background:#fff;margin:6px 0}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right;vertical-align:top}
th,td.name{text-align:left}td.win{background:#e6f4ea;font-weight:600}td small{color:#555;font-weight:400}
.legend{margin-top:4px}.legend span{margin-right:12px;font-size:12px;white-space:nowrap}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
.problems li{color:#a00}input#filter{font-size:14px;padding:4px 8px;width:320px}
)css";

// Records script errors on the page before anything else runs, so a test (or a person with
// devtools closed) can see them.
const char* kHeadScript = R"js(
window.addEventListener('error', function (e) {
  var root = document.documentElement;
  var prev = root.getAttribute('data-vitbench-errors');
  root.setAttribute('data-vitbench-errors', (prev ? prev + ' | ' : '') + String(e.message));
});
)js";

// Filtering of the history charts, and a self-check that every chart has marks and a size
// once laid out; the result lands on <html> as data-vitbench-rendered ("ok" or what failed).
const char* kTailScript = R"js(
(function () {
  var root = document.documentElement;
  var charts = document.querySelectorAll('svg.chart');
  var problems = [];
  for (var i = 0; i < charts.length; i++) {
    var c = charts[i];
    if (!c.querySelector('path,circle,rect,line,text')) problems.push('chart ' + i + ' is empty');
    if (c.getClientRects().length > 0) {
      var r = c.getBoundingClientRect();
      if (!(r.width > 0 && r.height > 0)) problems.push('chart ' + i + ' has no size');
    }
  }
  var box = document.getElementById('filter');
  if (box) {
    box.addEventListener('input', function () {
      var q = box.value.toLowerCase();
      var figs = document.querySelectorAll('figure.history');
      for (var j = 0; j < figs.length; j++) {
        var name = (figs[j].getAttribute('data-name') || '').toLowerCase();
        figs[j].style.display = name.indexOf(q) >= 0 ? '' : 'none';
      }
    });
  }
  root.setAttribute('data-vitbench-charts', String(charts.length));
  root.setAttribute('data-vitbench-rendered', problems.length ? 'error: ' + problems.join('; ') : 'ok');
})();
)js";

std::string esc(const std::string& s) { return html_escape(s); }

// The unit that keeps the largest value between 1 and 1000.
std::pair<double, const char*> time_scale(double max_ns) {
  if (max_ns >= 1e9) return {1e9, "s"};
  if (max_ns >= 1e6) return {1e6, "ms"};
  if (max_ns >= 1e3) return {1e3, "us"};
  return {1, "ns"};
}

std::vector<int64_t> parse_shape(const std::string& shape) {
  std::vector<int64_t> dims;
  size_t start = 0;
  while (start <= shape.size()) {
    const size_t x = shape.find('x', start);
    const std::string part = shape.substr(start, x == std::string::npos ? std::string::npos : x - start);
    int64_t v = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size() || v <= 0 || v > (int64_t(1) << 24)) {
      return {};
    }
    dims.push_back(v);
    if (x == std::string::npos) break;
    start = x + 1;
  }
  return dims;
}

struct Page {
  const DashboardInput& in;
  std::vector<size_t> order;                 // report indices, oldest first
  std::vector<size_t> slot;                  // report index -> x position
  std::vector<svg::Tick> ticks;
  std::map<std::string, std::string> machine_color, backend_color;
  std::vector<std::unordered_map<std::string, const Benchmark*>> index;  // per report

  explicit Page(const DashboardInput& input) : in(input) {
    order = chronological_order(in.reports);
    slot.resize(in.reports.size());
    index.resize(in.reports.size());
    std::set<std::string> machines, backends;
    for (size_t k = 0; k < order.size(); ++k) {
      const Report& r = in.reports[order[k]];
      slot[order[k]] = k;
      std::string label = r.date.size() >= 10 ? r.date.substr(0, 10) : "undated";
      label += "\n" + (r.commit.empty() ? std::string("#") + std::to_string(k + 1) : r.short_commit());
      ticks.push_back({double(k), label});
    }
    for (size_t i = 0; i < in.reports.size(); ++i) {
      const Report& r = in.reports[i];
      for (const Benchmark& b : r.benchmarks) {
        index[i][b.name] = &b;
        machines.insert(machine_column(r, b));
        if (b.id.kind != BenchName::Kind::Other) backends.insert(b.id.backend);
      }
      machines.insert(r.machine.key);
      for (const Verification& v : r.verification) backends.insert(v.backend);
    }
    size_t k = 0;
    for (const std::string& m : machines) machine_color[m] = svg::color(k++);
    k = 0;
    for (const std::string& b : backends) backend_color[b] = svg::color(k++);
  }

  std::string report_tip(const Report& r) const {
    return "commit " + r.short_commit() + ", " + (r.date.empty() ? "undated" : r.date) + ", " +
           r.path;
  }
};

std::string header(const Page& p, const DashboardOptions& o) {
  const auto& reports = p.in.reports;
  std::set<std::string> machines;
  for (const Report& r : reports) machines.insert(r.machine.key);
  std::string out = "<h1>" + esc(o.title) + "</h1>";
  out += "<p class=\"meta\">" + std::to_string(reports.size()) + " report" +
         (reports.size() == 1 ? "" : "s") + " from " + std::to_string(machines.size()) +
         " machine" + (machines.size() == 1 ? "" : "s");
  if (!p.order.empty()) {
    const Report& first = reports[p.order.front()];
    const Report& last = reports[p.order.back()];
    out += ", " + esc(first.date.empty() ? "undated" : first.date) + " to " +
           esc(last.date.empty() ? "undated" : last.date) + " (latest commit " +
           esc(last.short_commit()) + ")";
  }
  if (!p.in.skipped.empty()) {
    out += "; " + std::to_string(p.in.skipped.size()) + " file" +
           (p.in.skipped.size() == 1 ? "" : "s") + " could not be read";
  }
  out += ".</p><nav><a href=\"#across\">Across CPUs</a><a href=\"#backends\">Backends per model</a>"
         "<a href=\"#roofline\">Roofline</a><a href=\"#accuracy\">Accuracy</a>"
         "<a href=\"#history\">History</a></nav>";
  if (!p.in.skipped.empty()) {
    out += "<h2 id=\"problems\">Reports that could not be read</h2><ul class=\"problems\">";
    for (const SkippedReport& s : p.in.skipped) out += "<li>" + esc(s.reason) + "</li>";
    out += "</ul>";
  }
  std::vector<std::string> notes;
  for (const Report& r : reports) {
    for (const std::string& n : r.notes) notes.push_back(r.path + ": " + n);
  }
  if (!notes.empty()) {
    out += "<details><summary>" + std::to_string(notes.size()) +
           " note" + (notes.size() == 1 ? "" : "s") + " on what was skipped</summary><ul>";
    for (size_t i = 0; i < notes.size() && i < kMaxNotesShown; ++i) out += "<li>" + esc(notes[i]) + "</li>";
    if (notes.size() > kMaxNotesShown) {
      out += "<li>and " + std::to_string(notes.size() - kMaxNotesShown) + " more</li>";
    }
    out += "</ul></details>";
  }
  if (reports.empty()) out += "<p class=\"meta\">No readable reports: nothing to draw.</p>";
  return out;
}

std::string across_section(const Page& p) {
  const AcrossTable t = compare_across(p.in.reports);
  std::string out = "<h2 id=\"across\">Across CPUs</h2>";
  if (t.rows.empty()) return out + "<p class=\"meta\">No model benchmarks.</p>";
  out += "<p class=\"meta\">Latest report of each machine (CPU / Highway target / threads). "
         "Cells: median latency, GFLOP/s and % of that machine's own measured FMA peak; the "
         "fastest backend per model and machine is highlighted.</p><table><tr><th>model</th><th>backend</th>";
  for (const std::string& m : t.machines) out += "<th>" + esc(m) + "</th>";
  out += "</tr>";
  for (const auto& row : t.rows) {
    out += "<tr><td class=\"name\">" + esc(row.model) + "</td><td class=\"name\">" + esc(row.backend) + "</td>";
    for (const auto& cell : row.cells) {
      if (!cell) {
        out += "<td>-</td>";
        continue;
      }
      out += std::string("<td") + (cell->winner ? " class=\"win\"" : "") + ">" +
             esc(format_duration(cell->latency_ns)) + "<br><small>" +
             esc(format_optional(cell->gflops)) + " GFLOP/s, " +
             esc(cell->percent_peak ? format_number(*cell->percent_peak, 3) + "%" : "-") +
             " of peak</small></td>";
    }
    out += "</tr>";
  }
  out += "</table><h3>Which backend wins where</h3><ul>";
  for (const auto& w : t.winners) {
    out += "<li>" + esc(w.model) + " on " + esc(w.machine) + ": <b>" + esc(w.backend) + "</b> (" +
           esc(format_duration(w.latency_ns)) + ")";
    if (!w.best_own_backend.empty()) {
      out += "; fastest vitbench backend " + esc(w.best_own_backend) + " (" +
             esc(format_duration(w.best_own_latency_ns)) + ")";
    }
    out += "</li>";
  }
  return out + "</ul>";
}

struct Latest {
  size_t report = 0;
  const Benchmark* bench = nullptr;
};

// The latest run of every benchmark on every machine column.
std::map<std::string, std::map<std::string, Latest>> latest_by_machine(const Page& p) {
  std::map<std::string, std::map<std::string, Latest>> latest;  // machine -> name -> run
  for (size_t i : p.order) {
    const Report& r = p.in.reports[i];
    for (const Benchmark& b : r.benchmarks) {
      if (!b.failed()) latest[machine_column(r, b)][b.name] = {i, &b};
    }
  }
  return latest;
}

std::string backends_section(const Page& p,
                             const std::map<std::string, std::map<std::string, Latest>>& latest) {
  std::string out = "<h2 id=\"backends\">Backends side by side, per model</h2>";
  // model group -> machine -> backend -> run
  std::map<std::string, std::map<std::string, std::map<std::string, Latest>>> models;
  for (const auto& [machine, runs] : latest) {
    for (const auto& [name, run] : runs) {
      if (run.bench->id.kind == BenchName::Kind::Model) {
        models[run.bench->id.group()][machine][run.bench->id.backend] = run;
      }
    }
  }
  if (models.empty()) return out + "<p class=\"meta\">No model benchmarks.</p>";
  out += "<p class=\"meta\">Latest report of each machine. Whiskers: min to max of the "
         "repetitions; the fastest backend per machine is outlined.</p>";
  for (const auto& [model, machines] : models) {
    double max_ns = 0;
    for (const auto& [m, runs] : machines) {
      for (const auto& [b, run] : runs) max_ns = std::max(max_ns, *run.bench->median_ns());
    }
    const auto [scale, unit] = time_scale(max_ns);
    svg::BarChart latency{model + ": latency", std::string("median latency (") + unit + ")", {}};
    svg::BarChart peak{model + ": % of peak", "% of the machine's measured FMA peak", {}};
    bool any_peak = false;
    for (const auto& [machine, runs] : machines) {
      svg::BarGroup lg{machine, {}}, pg{machine, {}};
      std::string fastest;
      double best = INFINITY;
      for (const auto& [backend, run] : runs) {
        if (*run.bench->median_ns() < best) {
          best = *run.bench->median_ns();
          fastest = backend;
        }
      }
      for (const auto& [backend, run] : runs) {
        const Report& r = p.in.reports[run.report];
        const Benchmark& b = *run.bench;
        const double med = *b.median_ns();
        const std::string col = p.backend_color.at(backend);
        svg::Bar bar{backend, med / scale, std::nullopt, std::nullopt, col,
                     b.name + ": median " + format_duration(med) + ", " +
                         std::to_string(b.times_ns.size()) + " repetitions; " + p.report_tip(r),
                     format_duration(med), backend == fastest};
        if (const auto s = b.spread_ns()) {
          bar.lo = s->first / scale;
          bar.hi = s->second / scale;
        }
        lg.bars.push_back(bar);
        if (const auto pct = percent_of_peak(r, b)) {
          any_peak = true;
          pg.bars.push_back({backend, *pct, std::nullopt, std::nullopt, col,
                             b.name + ": " + format_number(*pct, 3) + "% of peak; " + p.report_tip(r),
                             format_number(*pct, 3) + "%", backend == fastest});
        }
      }
      latency.groups.push_back(lg);
      if (!pg.bars.empty()) peak.groups.push_back(pg);
    }
    out += "<h3>" + esc(model) + "</h3><div class=\"charts\"><figure>" + svg::render(latency) +
           "</figure>";
    if (any_peak) out += "<figure>" + svg::render(peak) + "</figure>";
    else out += "<figure><figcaption>No GFLOP/s or peak in these reports: % of peak not shown.</figcaption></figure>";
    out += "</div>";
  }
  return out;
}

std::string roofline_section(const Page& p,
                             const std::map<std::string, std::map<std::string, Latest>>& latest) {
  std::string out =
      "<h2 id=\"roofline\">Roofline</h2><p class=\"meta\">Each op's median GFLOP/s against its "
      "arithmetic intensity (FLOPs per byte), under the machine's measured FMA peak (flat roof) "
      "and memory bandwidth (sloped roof), from the latest report of each machine. Filled points: "
      "bytes from the op's bytes_per_second counter. Open points: bytes are the compulsory "
      "float32 traffic implied by the shape (each operand read once, the output written once), "
      "a lower bound, so their intensity is an upper bound. Ops with neither are left out.</p>"
      "<div class=\"charts\">";
  size_t charts = 0, left_out = 0;
  for (const auto& [machine, runs] : latest) {
    std::map<std::string, svg::Series> by_backend;
    std::optional<double> peak, bandwidth;
    double lo = INFINITY, hi = 0;
    for (const auto& [name, run] : runs) {
      const Benchmark& b = *run.bench;
      if (b.id.kind != BenchName::Kind::Op) continue;
      const Report& r = p.in.reports[run.report];
      const int threads = b.id.threads;
      if (auto it = r.machine.peak_gflops.find(threads); it != r.machine.peak_gflops.end()) peak = it->second;
      if (auto it = r.machine.bandwidth_gbs.find(threads); it != r.machine.bandwidth_gbs.end()) bandwidth = it->second;
      const auto ai = arithmetic_intensity(b);
      const auto g = b.counter("GFLOP/s");
      if (!ai || !g || !(*g > 0)) {
        ++left_out;
        continue;
      }
      lo = std::min(lo, ai->flops_per_byte);
      hi = std::max(hi, ai->flops_per_byte);
      svg::Series& s = by_backend[b.id.backend];
      s.label = b.id.backend;
      s.color = p.backend_color.at(b.id.backend);
      s.line = false;
      s.points.push_back({ai->flops_per_byte, *g, std::nullopt, std::nullopt,
                          b.name + ": " + format_number(*g, 3) + " GFLOP/s at " +
                              format_number(ai->flops_per_byte, 3) + " FLOP/byte (" +
                              (ai->measured ? "measured bytes" : "bytes from the shape") + "); " +
                              p.report_tip(r),
                          false, !ai->measured});
    }
    if (by_backend.empty()) continue;
    svg::LineChart c;
    c.title = machine;
    c.x = {"arithmetic intensity (FLOP/byte)", true};
    c.y = {"GFLOP/s", true};
    c.height = 300;
    std::vector<std::pair<std::string, std::string>> legend;
    for (auto& [backend, s] : by_backend) {
      legend.emplace_back(backend, s.color);
      c.series.push_back(std::move(s));
    }
    const double x0 = std::min(lo / 4, bandwidth && peak ? *peak / *bandwidth / 4 : lo / 4);
    const double x1 = std::max(hi * 4, bandwidth && peak ? *peak / *bandwidth * 4 : hi * 4);
    std::string caption;
    if (peak && bandwidth) {
      const double ridge = *peak / *bandwidth;
      c.ref_lines.push_back({{{x0, x0 * *bandwidth}, {ridge, *peak}},
                             "bandwidth " + format_number(*bandwidth, 3) + " GB/s"});
      c.ref_lines.push_back({{{ridge, *peak}, {x1, *peak}},
                             "FMA peak " + format_number(*peak, 4) + " GFLOP/s"});
    } else if (peak) {
      c.ref_lines.push_back({{{x0, *peak}, {x1, *peak}}, "FMA peak " + format_number(*peak, 4) + " GFLOP/s"});
      caption = "No measured bandwidth in the report: only the compute roof is drawn.";
    } else {
      caption = "No measured peak in the report: points only.";
    }
    out += "<figure>" + svg::render(c) + svg::legend(legend) +
           (caption.empty() ? "" : "<figcaption>" + esc(caption) + "</figcaption>") + "</figure>";
    ++charts;
  }
  out += "</div>";
  if (charts == 0) out += "<p class=\"meta\">No op benchmarks with GFLOP/s and a known shape.</p>";
  if (left_out) {
    out += "<p class=\"meta\">" + std::to_string(left_out) +
           " op benchmark(s) left out: no GFLOP/s, or no bytes counter and a shape that could not be read.</p>";
  }
  return out;
}

std::string accuracy_section(const Page& p) {
  std::string out =
      "<h2 id=\"accuracy\">Accuracy over time</h2><p class=\"meta\">Each backend's worst logits "
      "max_rel_error over its verification cases (error relative to the largest |expected| "
      "logit, against the goldens), one line per machine; red crosses: verification failed. "
      "Exact agreement is drawn at 1e-12.</p><div class=\"charts\">";
  std::set<std::string> backends;
  for (const Report& r : p.in.reports) {
    for (const Verification& v : r.verification) backends.insert(v.backend);
  }
  if (backends.empty()) return out + "</div><p class=\"meta\">No verification figures in these reports.</p>";
  for (const std::string& backend : backends) {
    std::map<std::string, svg::Series> by_machine;
    for (size_t i : p.order) {
      const Report& r = p.in.reports[i];
      for (const Verification& v : r.verification) {
        if (v.backend != backend) continue;
        const auto worst = v.worst_max_rel_error();
        const bool failed = v.passed.has_value() && !*v.passed;
        if (!worst && !failed) continue;
        std::string taps;
        for (const VerificationCase& c : v.cases) {
          if (!c.first_failing_tap.empty()) taps += (taps.empty() ? "" : ", ") + c.name + " at " + c.first_failing_tap;
        }
        svg::Series& s = by_machine[r.machine.key];
        s.label = r.machine.key;
        s.color = p.machine_color.at(r.machine.key);
        double y = worst ? *worst : NAN;
        std::string tip = backend + " on " + r.machine.key + ": worst max_rel_error " +
                          (worst ? format_number(*worst, 3) : std::string("not reported")) +
                          (failed ? ", FAILED" : ", passed") +
                          (taps.empty() ? "" : " (first failing tap: " + taps + ")") + "; " +
                          p.report_tip(r);
        // NaN or missing figures of a failed run are drawn at 1 (100% error): off every scale
        // that matters, and visible.
        if (!std::isfinite(y)) y = 1.0;
        s.points.push_back({double(p.slot[i]), std::max(y, kErrorFloor), std::nullopt,
                            std::nullopt, tip, failed, false});
      }
    }
    svg::LineChart c;
    c.title = backend;
    c.x = {"report (date, commit)", false};
    c.y = {"worst max_rel_error", true};
    c.x_ticks = p.ticks;
    std::vector<std::pair<std::string, std::string>> legend;
    for (auto& [machine, s] : by_machine) {
      legend.emplace_back(machine, s.color);
      c.series.push_back(std::move(s));
    }
    out += "<figure>" + svg::render(c) + svg::legend(legend) + "</figure>";
  }
  return out + "</div>";
}

int kind_rank(const BenchName& id) {
  return id.kind == BenchName::Kind::Model ? 0 : id.kind == BenchName::Kind::Op ? 1 : 2;
}

std::string history_section(const Page& p) {
  std::string out =
      "<h2 id=\"history\">History</h2><p class=\"meta\">Every benchmark over the reports in date "
      "order (x: date and commit), one line per machine: the median with a band from the fastest "
      "to the slowest repetition (median &plusmn; stddev when only aggregates were reported). "
      "Hover a point for its commit and file.</p>"
      "<p><input id=\"filter\" type=\"search\" placeholder=\"filter benchmarks by name\"></p>";
  std::map<std::string, const Benchmark*> names;
  for (const Report& r : p.in.reports) {
    for (const Benchmark& b : r.benchmarks) names.try_emplace(b.name, &b);
  }
  std::vector<const Benchmark*> sorted;
  for (const auto& [n, b] : names) sorted.push_back(b);
  std::stable_sort(sorted.begin(), sorted.end(), [](const Benchmark* a, const Benchmark* b) {
    return std::make_tuple(kind_rank(a->id), a->id.group(), a->id.backend, a->name) <
           std::make_tuple(kind_rank(b->id), b->id.group(), b->id.backend, b->name);
  });
  const char* titles[] = {"Models", "Ops", "Other benchmarks"};
  for (int kind = 0; kind < 3; ++kind) {
    std::vector<const Benchmark*> these;
    for (const Benchmark* b : sorted) {
      if (kind_rank(b->id) == kind) these.push_back(b);
    }
    if (these.empty()) continue;
    out += "<details open><summary><b>" + std::string(titles[kind]) + " (" +
           std::to_string(these.size()) + ")</b></summary><div class=\"charts\">";
    for (const Benchmark* proto : these) {
      const std::string& name = proto->name;
      double max_ns = 0;
      std::map<std::string, svg::Series> by_machine;
      for (size_t i : p.order) {
        auto it = p.index[i].find(name);
        if (it == p.index[i].end() || it->second->failed()) continue;
        max_ns = std::max(max_ns, *it->second->median_ns());
      }
      const auto [scale, unit] = time_scale(max_ns);
      for (size_t i : p.order) {
        auto it = p.index[i].find(name);
        if (it == p.index[i].end() || it->second->failed()) continue;
        const Report& r = p.in.reports[i];
        const Benchmark& b = *it->second;
        const std::string machine = machine_column(r, b);
        svg::Series& s = by_machine[machine];
        s.label = machine;
        s.color = p.machine_color.at(machine);
        const double med = *b.median_ns();
        svg::Point pt{double(p.slot[i]), med / scale, std::nullopt, std::nullopt, "", false, false};
        std::string tip = machine + ": median " + format_duration(med);
        if (const auto sp = b.spread_ns()) {
          pt.lo = sp->first / scale;
          pt.hi = sp->second / scale;
          tip += " (" + format_duration(sp->first) + " to " + format_duration(sp->second) + ")";
        }
        tip += ", " + std::to_string(b.times_ns.size()) + " repetitions";
        if (const auto g = b.counter("GFLOP/s")) tip += ", " + format_number(*g, 3) + " GFLOP/s";
        pt.tip = tip + "; " + p.report_tip(r);
        s.points.push_back(pt);
      }
      svg::LineChart c;
      c.title = name;
      c.x = {"report (date, commit)", false};
      c.y = {std::string("median time (") + unit + ")", false};
      c.x_ticks = p.ticks;
      std::vector<std::pair<std::string, std::string>> legend;
      for (auto& [machine, s] : by_machine) {
        legend.emplace_back(machine, s.color);
        c.series.push_back(std::move(s));
      }
      out += "<figure class=\"history\" data-name=\"" + esc(name) + "\">" + svg::render(c) +
             svg::legend(legend) + "</figure>";
    }
    out += "</div></details>";
  }
  if (sorted.empty()) out += "<p class=\"meta\">No benchmarks.</p>";
  return out;
}

}  // namespace

DashboardInput load_dashboard_input(const std::vector<std::string>& files) {
  DashboardInput in;
  for (const std::string& f : files) {
    try {
      in.reports.push_back(load_report(f));
    } catch (const core::Error& e) {
      in.skipped.push_back({f, e.what()});
    }
  }
  return in;
}

std::optional<Intensity> arithmetic_intensity(const Benchmark& b) {
  const auto gflops = b.counter("GFLOP/s");
  const auto time = b.median_ns();
  if (!gflops || !(*gflops > 0) || !time || !(*time > 0)) return std::nullopt;
  if (const auto bps = b.counter("bytes_per_second"); bps && *bps > 0) {
    return Intensity{*gflops * 1e9 / *bps, true};
  }
  if (b.id.kind != BenchName::Kind::Op) return std::nullopt;
  const std::vector<int64_t> d = parse_shape(b.id.shape);
  double bytes = 0;
  if (b.id.op == "linear" && d.size() == 3) {
    bytes = 4.0 * (double(d[0]) * d[2] + double(d[2]) * d[1] + double(d[0]) * d[1]);
  } else if (b.id.op == "attention" && d.size() == 3) {
    bytes = 16.0 * double(d[0]) * d[1] * d[2];
  } else if ((b.id.op == "layer_norm" || b.id.op == "gelu" || b.id.op == "softmax") && d.size() == 2) {
    bytes = 8.0 * double(d[0]) * d[1];
  } else {
    return std::nullopt;
  }
  // GFLOP/s x ns = FLOPs per iteration.
  return Intensity{*gflops * *time / bytes, false};
}

std::string render_dashboard(const DashboardInput& in, const DashboardOptions& o) {
  const Page p(in);
  const auto latest = latest_by_machine(p);
  std::string out;
  out.reserve(1 << 16);
  out += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
         "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<title>" + esc(o.title) + "</title><style>" + kStyle + "</style><script>" +
         kHeadScript + "</script></head><body>\n";
  out += header(p, o) + "\n";
  out += across_section(p) + "\n";
  out += backends_section(p, latest) + "\n";
  out += roofline_section(p, latest) + "\n";
  out += accuracy_section(p) + "\n";
  out += history_section(p) + "\n";
  out += "<script>" + std::string(kTailScript) + "</script>\n</body></html>\n";
  return out;
}

}  // namespace vitbench::reports
