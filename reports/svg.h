// Charts as inline SVG text, for a dashboard that must open with no network and no JavaScript
// library. Every string that reaches the output is HTML-escaped: benchmark and CPU names come
// from reports, which may come from anywhere.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace vitbench::reports::svg {

// A categorical colour, the same for the same index everywhere in the page.
std::string color(size_t index);

struct Point {
  double x = 0, y = 0;
  std::optional<double> lo, hi;  // spread drawn as a band around the line
  std::string tip;               // hover text
  bool bad = false;              // drawn as a red cross (a failed verification)
  bool hollow = false;           // drawn as an open circle (a derived, not measured, value)
};

struct Series {
  std::string label;
  std::string color;
  std::vector<Point> points;
  bool line = true;  // join the points (history), or scatter only (roofline)
};

struct Axis {
  std::string label;
  bool log = false;
};

struct Tick {
  double at = 0;
  std::string label;
};

struct RefLine {
  std::vector<std::pair<double, double>> points;
  std::string label;
};

struct LineChart {
  std::string title;
  Axis x, y;
  std::vector<Tick> x_ticks;  // categorical x (history: one tick per report); numeric if empty
  std::vector<Series> series;
  std::vector<RefLine> ref_lines;  // the roofline's roofs
  int width = 620, height = 280;
  // Beyond this many points a series is drawn as a line and band without per-point markers, so
  // that hundreds of reports keep the page small; the line still carries its hover text.
  size_t max_markers = 80;
};

std::string render(const LineChart& chart);

struct Bar {
  std::string label;
  double value = 0;
  std::optional<double> lo, hi;
  std::string color;
  std::string tip;
  std::string value_text;  // printed after the bar; the number itself when empty
  bool highlight = false;  // the winner of its group
};

struct BarGroup {
  std::string label;
  std::vector<Bar> bars;
};

// Horizontal bars, so long backend and CPU names stay readable.
struct BarChart {
  std::string title;
  std::string value_label;
  std::vector<BarGroup> groups;
  int width = 560;
};

std::string render(const BarChart& chart);

// A legend as HTML: (label, colour) pairs.
std::string legend(const std::vector<std::pair<std::string, std::string>>& items);

// Ticks for an axis: about `target` round values across [lo, hi] (decades and 2x, 5x on a log
// axis). Exposed for tests.
std::vector<double> nice_ticks(double lo, double hi, bool log, int target = 5);

}  // namespace vitbench::reports::svg
