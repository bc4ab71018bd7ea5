#include "reports/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "reports/format.h"

namespace vitbench::reports::svg {
namespace {

// Coordinates with one decimal: sub-pixel precision is invisible and doubles the page size.
std::string f1(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", std::isfinite(v) ? v : 0.0);
  return buf;
}

struct Scale {
  double lo = 0, hi = 1;  // data range (in log10 units on a log axis)
  double a = 0, b = 1;    // pixel range
  bool log = false;
  double operator()(double v) const {
    const double t = log ? std::log10(v) : v;
    const double px = a + (t - lo) / (hi - lo) * (b - a);
    return std::clamp(px, std::min(a, b) - 2, std::max(a, b) + 2);
  }
};

bool usable(double v, bool log) { return std::isfinite(v) && (!log || v > 0); }

// Range of the values on an axis, padded so points do not sit on the frame.
std::pair<double, double> padded_range(const std::vector<double>& values, bool log) {
  double lo = INFINITY, hi = -INFINITY;
  for (double v : values) {
    if (!usable(v, log)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (!(lo <= hi)) return log ? std::make_pair(1.0, 10.0) : std::make_pair(0.0, 1.0);
  if (log) {
    if (hi / lo < 1.01) return {lo / 2, hi * 2};
    const double pad = std::pow(hi / lo, 0.06);
    return {lo / pad, hi * pad};
  }
  if (hi - lo <= std::fabs(hi) * 1e-9) {
    const double d = hi == 0 ? 1 : std::fabs(hi) * 0.1;
    return {lo - d, hi + d};
  }
  const double pad = (hi - lo) * 0.08;
  // Quantities that cannot be negative keep a zero baseline when it is near.
  if (lo >= 0 && lo - pad < 0) return {0.0, hi + pad};
  return {lo - pad, hi + pad};
}

std::string tip_element(const std::string& tip) {
  return tip.empty() ? "" : "<title>" + html_escape(tip) + "</title>";
}

std::string open_svg(int width, int height, const std::string& title, size_t marks) {
  return "<svg class=\"chart\" viewBox=\"0 0 " + std::to_string(width) + " " +
         std::to_string(height) + "\" width=\"" + std::to_string(width) + "\" height=\"" +
         std::to_string(height) + "\" role=\"img\" aria-label=\"" + html_escape(title) +
         "\" data-marks=\"" + std::to_string(marks) + "\">" +
         "<text class=\"title\" x=\"8\" y=\"16\">" + html_escape(title) + "</text>";
}

std::string tick_label(double v) { return format_compact(v, 3); }

}  // namespace

std::string color(size_t index) {
  static const char* const kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b",
                                         "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79",
                                         "#637939", "#8c6d31"};
  return kPalette[index % (sizeof kPalette / sizeof kPalette[0])];
}

std::vector<double> nice_ticks(double lo, double hi, bool log, int target) {
  std::vector<double> ticks;
  if (!(lo < hi) || !std::isfinite(lo) || !std::isfinite(hi) || (log && lo <= 0)) return ticks;
  if (log) {
    const int first = int(std::floor(std::log10(lo))), last = int(std::ceil(std::log10(hi)));
    const int stride = std::max(1, (last - first + 1) / std::max(2, target + 2));
    for (int k = first; k <= last; k += stride) {
      const double v = std::pow(10.0, k);
      if (v >= lo * 0.999 && v <= hi * 1.001) ticks.push_back(v);
    }
    if (ticks.size() < 2) {
      ticks.clear();
      for (int k = first; k <= last; ++k) {
        for (double m : {1.0, 2.0, 5.0}) {
          const double v = m * std::pow(10.0, k);
          if (v >= lo * 0.999 && v <= hi * 1.001) ticks.push_back(v);
        }
      }
    }
    return ticks;
  }
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  const double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9 && ticks.size() < 50; v += step) {
    ticks.push_back(std::fabs(v) < step * 1e-9 ? 0.0 : v);
  }
  return ticks;
}

std::string render(const LineChart& c) {
  const double ml = 72, mr = 14, mt = 28, mb = 46;
  const double w = c.width - ml - mr, h = c.height - mt - mb;
  std::vector<double> xs, ys;
  size_t marks = 0;
  for (const Series& s : c.series) {
    for (const Point& p : s.points) {
      if (!usable(p.x, c.x.log) || !usable(p.y, c.y.log)) continue;
      ++marks;
      xs.push_back(p.x);
      ys.push_back(p.y);
      if (p.lo) ys.push_back(*p.lo);
      if (p.hi) ys.push_back(*p.hi);
    }
  }
  for (const Tick& t : c.x_ticks) xs.push_back(t.at);
  std::string out = open_svg(c.width, c.height, c.title, marks);
  if (marks == 0) {
    out += "<text class=\"empty\" x=\"" + f1(c.width / 2.0) + "\" y=\"" + f1(c.height / 2.0) +
           "\" text-anchor=\"middle\">no data to draw</text></svg>";
    return out;
  }
  // Reference lines (roofs) set the y range too, so the roof is always in view.
  for (const RefLine& r : c.ref_lines) {
    for (const auto& [x, y] : r.points) {
      if (usable(y, c.y.log)) ys.push_back(y);
    }
  }
  auto [xlo, xhi] = padded_range(xs, c.x.log);
  if (!c.x_ticks.empty() && !c.x.log) {
    // Categorical: half a slot of margin on each side.
    xlo = *std::min_element(xs.begin(), xs.end()) - 0.5;
    xhi = *std::max_element(xs.begin(), xs.end()) + 0.5;
  }
  const auto [ylo, yhi] = padded_range(ys, c.y.log);
  const Scale sx{c.x.log ? std::log10(xlo) : xlo, c.x.log ? std::log10(xhi) : xhi, ml, ml + w, c.x.log};
  const Scale sy{c.y.log ? std::log10(ylo) : ylo, c.y.log ? std::log10(yhi) : yhi, mt + h, mt, c.y.log};

  out += "<rect class=\"frame\" x=\"" + f1(ml) + "\" y=\"" + f1(mt) + "\" width=\"" + f1(w) +
         "\" height=\"" + f1(h) + "\"/>";
  for (double t : nice_ticks(ylo, yhi, c.y.log)) {
    const std::string y = f1(sy(t));
    out += "<line class=\"grid\" x1=\"" + f1(ml) + "\" x2=\"" + f1(ml + w) + "\" y1=\"" + y +
           "\" y2=\"" + y + "\"/><text class=\"tick\" x=\"" + f1(ml - 4) + "\" y=\"" + y +
           "\" dy=\"3\" text-anchor=\"end\">" + html_escape(tick_label(t)) + "</text>";
  }
  if (!c.x_ticks.empty()) {
    const size_t shown = std::min<size_t>(c.x_ticks.size(), 7);
    for (size_t i = 0; i < shown; ++i) {
      const size_t k = shown == 1 ? 0 : i * (c.x_ticks.size() - 1) / (shown - 1);
      const Tick& t = c.x_ticks[k];
      const std::string x = f1(sx(t.at));
      const size_t nl = t.label.find('\n');
      out += "<line class=\"grid\" x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + f1(mt) + "\" y2=\"" +
             f1(mt + h) + "\"/><text class=\"tick\" x=\"" + x + "\" y=\"" + f1(mt + h + 13) +
             "\" text-anchor=\"middle\">" + html_escape(t.label.substr(0, nl));
      if (nl != std::string::npos) {
        out += "<tspan x=\"" + x + "\" dy=\"11\">" + html_escape(t.label.substr(nl + 1)) + "</tspan>";
      }
      out += "</text>";
    }
  } else {
    for (double t : nice_ticks(xlo, xhi, c.x.log)) {
      const std::string x = f1(sx(t));
      out += "<line class=\"grid\" x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + f1(mt) + "\" y2=\"" +
             f1(mt + h) + "\"/><text class=\"tick\" x=\"" + x + "\" y=\"" + f1(mt + h + 13) +
             "\" text-anchor=\"middle\">" + html_escape(tick_label(t)) + "</text>";
    }
  }
  out += "<text class=\"axis\" x=\"" + f1(ml + w / 2) + "\" y=\"" + f1(c.height - 6.0) +
         "\" text-anchor=\"middle\">" + html_escape(c.x.label) + "</text>";
  out += "<text class=\"axis\" transform=\"translate(12," + f1(mt + h / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + html_escape(c.y.label) + "</text>";

  for (const RefLine& r : c.ref_lines) {
    std::string d;
    for (const auto& [x, y] : r.points) {
      if (!usable(x, c.x.log) || !usable(y, c.y.log)) continue;
      d += (d.empty() ? "M" : "L") + f1(sx(x)) + " " + f1(sy(y));
    }
    if (d.empty()) continue;
    out += "<path class=\"roof\" d=\"" + d + "\">" + tip_element(r.label) + "</path>";
    const auto& [lx, ly] = r.points.back();
    if (usable(lx, c.x.log) && usable(ly, c.y.log)) {
      out += "<text class=\"roof-label\" x=\"" + f1(sx(lx) - 4) + "\" y=\"" + f1(sy(ly) - 5) +
             "\" text-anchor=\"end\">" + html_escape(r.label) + "</text>";
    }
  }

  for (const Series& s : c.series) {
    std::vector<const Point*> pts;
    for (const Point& p : s.points) {
      if (usable(p.x, c.x.log) && usable(p.y, c.y.log)) pts.push_back(&p);
    }
    if (pts.empty()) continue;
    const std::string col = html_escape(s.color);
    if (s.line) {
      std::string upper, lower;
      for (const Point* p : pts) {
        if (!p->lo || !p->hi || !usable(*p->lo, c.y.log) || !usable(*p->hi, c.y.log)) continue;
        upper += (upper.empty() ? "M" : "L") + f1(sx(p->x)) + " " + f1(sy(*p->hi));
        lower = "L" + f1(sx(p->x)) + " " + f1(sy(*p->lo)) + lower;
      }
      if (!upper.empty()) {
        out += "<path class=\"band\" fill=\"" + col + "\" d=\"" + upper + lower + "Z\"/>";
      }
      std::string d;
      for (const Point* p : pts) d += (d.empty() ? "M" : "L") + f1(sx(p->x)) + " " + f1(sy(p->y));
      out += "<path class=\"line\" stroke=\"" + col + "\" d=\"" + d + "\">" +
             tip_element(s.label + " (" + std::to_string(pts.size()) + " points)") + "</path>";
    }
    const bool all_markers = !s.line || pts.size() <= c.max_markers;
    for (const Point* p : pts) {
      const std::string x = f1(sx(p->x)), y = f1(sy(p->y));
      if (p->bad) {
        const double px = sx(p->x), py = sy(p->y);
        out += "<path class=\"bad\" d=\"M" + f1(px - 4) + " " + f1(py - 4) + "L" + f1(px + 4) + " " +
               f1(py + 4) + "M" + f1(px - 4) + " " + f1(py + 4) + "L" + f1(px + 4) + " " +
               f1(py - 4) + "\">" + tip_element(p->tip) + "</path>";
      } else if (all_markers) {
        out += "<circle cx=\"" + x + "\" cy=\"" + y + "\" r=\"3\" " +
               (p->hollow ? "fill=\"#fff\" stroke=\"" + col + "\"" : "fill=\"" + col + "\"") + ">" +
               tip_element(p->tip) + "</circle>";
      }
    }
  }
  return out + "</svg>";
}

std::string render(const BarChart& c) {
  const double label_w = 170, value_w = 96, bar_h = 14, row_h = 18, group_h = 20, top = 26;
  const double w = c.width - label_w - value_w;
  double max = 0;
  size_t rows = 0, marks = 0;
  for (const BarGroup& g : c.groups) {
    rows += g.bars.size();
    for (const Bar& b : g.bars) {
      if (std::isfinite(b.value)) {
        max = std::max(max, b.value);
        ++marks;
      }
      if (b.hi && std::isfinite(*b.hi)) max = std::max(max, *b.hi);
    }
  }
  if (!(max > 0)) max = 1;
  max *= 1.05;
  const double height = top + double(c.groups.size()) * group_h + double(rows) * row_h + 30;
  std::string out = open_svg(c.width, int(height), c.title, marks);
  double y = top;
  auto px = [&](double v) { return label_w + std::clamp(v, 0.0, max) / max * w; };
  const double plot_top = top, plot_bottom = height - 28;
  for (double t : nice_ticks(0, max, false, 4)) {
    const std::string x = f1(px(t));
    out += "<line class=\"grid\" x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + f1(plot_top) +
           "\" y2=\"" + f1(plot_bottom) + "\"/><text class=\"tick\" x=\"" + x + "\" y=\"" +
           f1(plot_bottom + 12) + "\" text-anchor=\"middle\">" + html_escape(tick_label(t)) +
           "</text>";
  }
  out += "<text class=\"axis\" x=\"" + f1(label_w + w / 2) + "\" y=\"" + f1(height - 4) +
         "\" text-anchor=\"middle\">" + html_escape(c.value_label) + "</text>";
  for (const BarGroup& g : c.groups) {
    out += "<text class=\"group\" x=\"4\" y=\"" + f1(y + 14) + "\">" + html_escape(g.label) + "</text>";
    y += group_h;
    for (const Bar& b : g.bars) {
      const double v = std::isfinite(b.value) ? b.value : 0;
      out += "<text class=\"bar-label" + std::string(b.highlight ? " best" : "") + "\" x=\"" +
             f1(label_w - 6) + "\" y=\"" + f1(y + 11) + "\" text-anchor=\"end\">" +
             html_escape(b.label) + "</text>";
      out += "<rect x=\"" + f1(label_w) + "\" y=\"" + f1(y) + "\" width=\"" +
             f1(std::max(0.5, px(v) - label_w)) + "\" height=\"" + f1(bar_h) + "\" fill=\"" +
             html_escape(b.color) + "\"" + (b.highlight ? " class=\"best\"" : "") + ">" +
             tip_element(b.tip) + "</rect>";
      if (b.lo && b.hi && std::isfinite(*b.lo) && std::isfinite(*b.hi)) {
        const std::string my = f1(y + bar_h / 2);
        out += "<line class=\"whisker\" x1=\"" + f1(px(*b.lo)) + "\" x2=\"" + f1(px(*b.hi)) +
               "\" y1=\"" + my + "\" y2=\"" + my + "\"/>";
      }
      const std::string text = !std::isfinite(b.value) ? "n/a"
                               : b.value_text.empty()   ? format_number(b.value, 3)
                                                        : b.value_text;
      out += "<text class=\"value\" x=\"" + f1(px(std::max(v, b.hi.value_or(v))) + 4) + "\" y=\"" +
             f1(y + 11) + "\">" + html_escape(text) + "</text>";
      y += row_h;
    }
  }
  return out + "</svg>";
}

std::string legend(const std::vector<std::pair<std::string, std::string>>& items) {
  std::string out = "<div class=\"legend\">";
  for (const auto& [label, col] : items) {
    out += "<span><i style=\"background:" + html_escape(col) + "\"></i>" + html_escape(label) +
           "</span>";
  }
  return out + "</div>";
}

}  // namespace vitbench::reports::svg
