#include "imaging/heatmap.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "core/error.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb_easy_font.h>
#pragma GCC diagnostic pop

namespace vitbench::imaging {
namespace {

constexpr size_t kMargin = 12;
constexpr size_t kTextScale = 2;  // stb_easy_font's glyphs are ~7 px tall: too small alone
constexpr size_t kBarGap = 16, kBarWidth = 24, kLabelGap = 8;

// stb_easy_font indexes a table by character - 32: anything outside printable ASCII becomes '?'.
std::string printable(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    if (c < 32 || c > 126) c = '?';
  }
  return out;
}

size_t text_width(const std::string& text) {
  std::string t = printable(text);
  return static_cast<size_t>(stb_easy_font_width(t.data())) * kTextScale;
}
size_t text_height() { return 12 * kTextScale; }

void draw_text(RgbImage& canvas, size_t x0, size_t y0, const std::string& text) {
  std::string t = printable(text);
  // stb_easy_font documents about 270 bytes per character; generous, since it stops when full.
  std::vector<char> buffer(1000 * (t.size() + 1));
  const int quads = stb_easy_font_print(0, 0, t.data(), nullptr, buffer.data(),
                                        static_cast<int>(buffer.size()));
  for (int q = 0; q < quads; ++q) {
    // Four vertices of 16 bytes (x, y, z floats, then colour); the quads are axis-aligned, so the
    // first and third vertices are opposite corners.
    float a[2], b[2];
    std::memcpy(a, buffer.data() + q * 64, sizeof a);
    std::memcpy(b, buffer.data() + q * 64 + 32, sizeof b);
    const auto xa = static_cast<long>(std::lround(std::min(a[0], b[0]) * kTextScale));
    const auto xb = static_cast<long>(std::lround(std::max(a[0], b[0]) * kTextScale));
    const auto ya = static_cast<long>(std::lround(std::min(a[1], b[1]) * kTextScale));
    const auto yb = static_cast<long>(std::lround(std::max(a[1], b[1]) * kTextScale));
    for (long y = ya; y < yb; ++y) {
      for (long x = xa; x < xb; ++x) {
        const size_t px = x0 + size_t(x), py = y0 + size_t(y);
        if (px < canvas.width && py < canvas.height) std::fill_n(canvas.at(px, py), 3, uint8_t{0});
      }
    }
  }
}

std::string format_value(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

// Bilinear between patch centres: pixel centre x maps to grid coordinate (x + 0.5) * G / D - 0.5,
// clamped at the borders (the outer half-patch is flat).
double sample(const core::TensorD& map, size_t grid, double gx, double gy) {
  gx = std::clamp(gx, 0.0, double(grid - 1));
  gy = std::clamp(gy, 0.0, double(grid - 1));
  const auto x0 = static_cast<size_t>(gx), y0 = static_cast<size_t>(gy);
  const size_t x1 = std::min(x0 + 1, grid - 1), y1 = std::min(y0 + 1, grid - 1);
  const double fx = gx - double(x0), fy = gy - double(y0);
  const double top = map[y0 * grid + x0] * (1 - fx) + map[y0 * grid + x1] * fx;
  const double bottom = map[y1 * grid + x0] * (1 - fx) + map[y1 * grid + x1] * fx;
  return top * (1 - fy) + bottom * fy;
}

}  // namespace

std::array<uint8_t, 3> viridis(double t) {
  // matplotlib's viridis (CC0) at 0, 1/8, ..., 1.
  static constexpr uint8_t kStops[9][3] = {
      {0x44, 0x01, 0x54}, {0x47, 0x2d, 0x7b}, {0x3b, 0x52, 0x8b}, {0x2c, 0x72, 0x8e}, {0x21, 0x90, 0x8c},
      {0x27, 0xad, 0x81}, {0x5d, 0xc8, 0x63}, {0xaa, 0xdc, 0x32}, {0xfd, 0xe7, 0x25}};
  if (!(t > 0)) t = 0;  // also NaN
  if (t > 1) t = 1;
  const double pos = t * 8;
  const auto i = std::min<size_t>(static_cast<size_t>(pos), 7);
  const double f = pos - double(i);
  std::array<uint8_t, 3> out{};
  for (size_t c = 0; c < 3; ++c) {
    out[c] = static_cast<uint8_t>(std::lround(kStops[i][c] * (1 - f) + kStops[i + 1][c] * f));
  }
  return out;
}

RgbImage render_heatmap(const RgbImage& view, const core::TensorD& map, const std::string& title) {
  if (map.rank() != 2 || map.dim(0) != map.dim(1) || map.empty()) {
    core::fail("heatmap", "expected a square [G, G] map, got " + core::shape_to_string(map.shape()));
  }
  if (view.width == 0 || view.width != view.height) core::fail("heatmap", "expected a square image");
  for (double v : map.span()) {
    if (!std::isfinite(v)) core::fail("heatmap", "the attention map has a non-finite value");
  }
  const size_t grid = map.dim(0);
  const size_t zoom = (kMinDisplay + view.width - 1) / view.width;
  const size_t D = view.width * zoom;
  const double lo = *std::min_element(map.data(), map.data() + map.size());
  const double hi = *std::max_element(map.data(), map.data() + map.size());
  const double range = hi - lo;

  const std::string labels[3] = {format_value(hi), format_value((lo + hi) / 2), format_value(lo)};
  size_t label_width = 0;
  for (const auto& l : labels) label_width = std::max(label_width, text_width(l));
  const size_t title_height = text_height() + kMargin / 2;
  const size_t width = std::max(kMargin + D + kBarGap + kBarWidth + kLabelGap + label_width + kMargin,
                                kMargin + text_width(title) + kMargin);
  const size_t height = kMargin + title_height + D + kMargin + text_height() / 2;
  RgbImage canvas(width, height, 255);
  draw_text(canvas, kMargin, kMargin, title);

  const size_t top = kMargin + title_height;
  for (size_t y = 0; y < D; ++y) {
    const double gy = (double(y) + 0.5) * double(grid) / double(D) - 0.5;
    for (size_t x = 0; x < D; ++x) {
      const double gx = (double(x) + 0.5) * double(grid) / double(D) - 0.5;
      const double t = range > 0 ? (sample(map, grid, gx, gy) - lo) / range : 0.5;
      const auto colour = viridis(t);
      const uint8_t* src = view.at(x / zoom, y / zoom);
      uint8_t* dst = canvas.at(kMargin + x, top + y);
      for (size_t c = 0; c < 3; ++c) dst[c] = static_cast<uint8_t>((src[c] + colour[c] + 1) / 2);
    }
  }

  const size_t bar_x = kMargin + D + kBarGap;
  for (size_t y = 0; y < D; ++y) {
    const auto colour = viridis(1.0 - double(y) / double(D - 1));
    for (size_t x = 0; x < kBarWidth; ++x) std::copy(colour.begin(), colour.end(), canvas.at(bar_x + x, top + y));
  }
  const size_t label_x = bar_x + kBarWidth + kLabelGap;
  const size_t half_text = text_height() / 2;
  draw_text(canvas, label_x, top, labels[0]);
  draw_text(canvas, label_x, top + D / 2 - half_text / 2, labels[1]);
  draw_text(canvas, label_x, top + D - half_text, labels[2]);
  return canvas;
}

}  // namespace vitbench::imaging
