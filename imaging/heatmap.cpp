#include "imaging/heatmap.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "imaging/resize.h"

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

namespace {

// The picture as drawn: at its own size, enlarged by a whole factor (nearest neighbour, so pixels
// stay sharp) when its longer side is under kMinDisplay, shrunk (bilinear, antialiased) when over
// kMaxDisplay.
RgbImage display_picture(const RgbImage& image) {
  const size_t longest = std::max(image.width, image.height);
  if (longest < kMinDisplay) {
    const size_t zoom = (kMinDisplay + longest - 1) / longest;
    RgbImage out(image.width * zoom, image.height * zoom);
    for (size_t y = 0; y < out.height; ++y) {
      for (size_t x = 0; x < out.width; ++x) {
        const uint8_t* src = image.at(x / zoom, y / zoom);
        std::copy(src, src + 3, out.at(x, y));
      }
    }
    return out;
  }
  if (longest > kMaxDisplay) {
    const auto fit = [&](size_t side) {
      return std::max<size_t>(1, (side * kMaxDisplay + longest / 2) / longest);
    };
    return resize(image, fit(image.width), fit(image.height), Resample::Bilinear);
  }
  return image;
}

}  // namespace

RgbImage render_heatmap_over(const RgbImage& image, const ViewPlacement& placement,
                             const core::TensorD& map, const std::string& title) {
  if (map.rank() != 2 || map.dim(0) != map.dim(1) || map.empty()) {
    core::fail("heatmap", "expected a square [G, G] map, got " + core::shape_to_string(map.shape()));
  }
  if (image.width == 0 || image.height == 0 || placement.view_size == 0) {
    core::fail("heatmap", "empty image");
  }
  for (double v : map.span()) {
    if (!std::isfinite(v)) core::fail("heatmap", "the attention map has a non-finite value");
  }
  const size_t grid = map.dim(0);
  const RgbImage picture = display_picture(image);
  const size_t Dw = picture.width, Dh = picture.height;
  const double lo = *std::min_element(map.data(), map.data() + map.size());
  const double hi = *std::max_element(map.data(), map.data() + map.size());
  const double range = hi - lo;

  const std::string labels[3] = {format_value(hi), format_value((lo + hi) / 2), format_value(lo)};
  size_t label_width = 0;
  for (const auto& l : labels) label_width = std::max(label_width, text_width(l));
  // A wide, flat picture still gets a bar tall enough for its three labels to stay apart.
  const size_t bar_height = std::max(Dh, 4 * text_height());
  const size_t title_height = text_height() + kMargin / 2;
  const size_t width = std::max(kMargin + Dw + kBarGap + kBarWidth + kLabelGap + label_width + kMargin,
                                kMargin + text_width(title) + kMargin);
  const size_t height = kMargin + title_height + bar_height + kMargin + text_height() / 2;
  RgbImage canvas(width, height, 255);
  draw_text(canvas, kMargin, kMargin, title);

  const size_t top = kMargin + title_height;
  const double to_image_x = double(image.width) / double(Dw);
  const double to_image_y = double(image.height) / double(Dh);
  const double to_grid = double(grid) / double(placement.view_size);
  const double view = double(placement.view_size);
  for (size_t y = 0; y < Dh; ++y) {
    // Display pixel centre -> picture coordinate -> the model's view -> grid, whose cell centres
    // sit at integer coordinates.
    const double vy = (double(y) + 0.5) * to_image_y * placement.scale_y - placement.top;
    for (size_t x = 0; x < Dw; ++x) {
      const double vx = (double(x) + 0.5) * to_image_x * placement.scale_x - placement.left;
      const uint8_t* src = picture.at(x, y);
      uint8_t* dst = canvas.at(kMargin + x, top + y);
      if (vx < 0 || vx >= view || vy < 0 || vy >= view) {
        // Cropped away: the model never saw it, so it is washed out towards gray, uncoloured.
        for (size_t c = 0; c < 3; ++c) dst[c] = static_cast<uint8_t>((src[c] + 128 + 1) / 2);
        continue;
      }
      const double value = sample(map, grid, vx * to_grid - 0.5, vy * to_grid - 0.5);
      const auto colour = viridis(range > 0 ? (value - lo) / range : 0.5);
      for (size_t c = 0; c < 3; ++c) dst[c] = static_cast<uint8_t>((src[c] + colour[c] + 1) / 2);
    }
  }

  const size_t bar_x = kMargin + Dw + kBarGap;
  for (size_t y = 0; y < bar_height; ++y) {
    const auto colour = viridis(1.0 - double(y) / double(bar_height - 1));
    for (size_t x = 0; x < kBarWidth; ++x) std::copy(colour.begin(), colour.end(), canvas.at(bar_x + x, top + y));
  }
  const size_t label_x = bar_x + kBarWidth + kLabelGap;
  const size_t half_text = text_height() / 2;
  draw_text(canvas, label_x, top, labels[0]);
  draw_text(canvas, label_x, top + bar_height / 2 - half_text / 2, labels[1]);
  draw_text(canvas, label_x, top + bar_height - half_text, labels[2]);
  return canvas;
}

RgbImage render_heatmap(const RgbImage& view, const core::TensorD& map, const std::string& title) {
  if (view.width == 0 || view.width != view.height) core::fail("heatmap", "expected a square image");
  ViewPlacement identity;
  identity.view_size = view.width;
  return render_heatmap_over(view, identity, map, title);
}

}  // namespace vitbench::imaging
