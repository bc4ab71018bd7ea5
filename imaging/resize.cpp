#include "imaging/resize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/error.h"

namespace vitbench::imaging {
namespace {

// Names, constants and the order of floating-point operations follow PIL's
// src/libImaging/Resample.c, so that every coefficient rounds the same way.
constexpr int kPrecisionBits = 32 - 8 - 2;

double bilinear_filter(double x) {
  if (x < 0.0) x = -x;
  if (x < 1.0) return 1.0 - x;
  return 0.0;
}

double bicubic_filter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

struct Coefficients {
  size_t ksize = 0;
  std::vector<int> first;     // per output pixel: the first input pixel it reads
  std::vector<int> count;     // ... and how many
  std::vector<int32_t> k;     // out_size * ksize fixed-point weights
};

Coefficients precompute(size_t in_size, size_t out_size, Resample resample) {
  double (*filter)(double) = resample == Resample::Bilinear ? bilinear_filter : bicubic_filter;
  const double filter_support = resample == Resample::Bilinear ? 1.0 : 2.0;
  // PIL passes the box edges as float; 0 and in_size are exact in float for any sane size.
  const double in0 = static_cast<float>(0), in1 = static_cast<float>(in_size);
  double scale = (in1 - in0) / static_cast<double>(out_size);
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = filter_support * filterscale;
  Coefficients c;
  c.ksize = static_cast<size_t>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.k.assign(out_size * c.ksize, 0);
  std::vector<double> w(c.ksize);
  for (size_t xx = 0; xx < out_size; ++xx) {
    const double center = in0 + (static_cast<double>(xx) + 0.5) * scale;
    double ww = 0.0;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > static_cast<int>(in_size)) xmax = static_cast<int>(in_size);
    xmax -= xmin;
    for (int x = 0; x < xmax; ++x) {
      const double v = filter((x + xmin - center + 0.5) * ss);
      w[size_t(x)] = v;
      ww += v;
    }
    for (int x = 0; x < xmax; ++x) {
      double v = w[size_t(x)];
      if (ww != 0.0) v /= ww;
      // Round half away from zero, as PIL's normalize_coeffs_8bpc.
      c.k[xx * c.ksize + size_t(x)] = v < 0 ? static_cast<int32_t>(-0.5 + v * (1 << kPrecisionBits))
                                            : static_cast<int32_t>(0.5 + v * (1 << kPrecisionBits));
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

uint8_t clip8(int32_t v) {
  return static_cast<uint8_t>(std::clamp(v >> kPrecisionBits, 0, 255));
}

RgbImage horizontal(const RgbImage& in, size_t out_width, Resample resample) {
  const Coefficients c = precompute(in.width, out_width, resample);
  RgbImage out(out_width, in.height);
  for (size_t y = 0; y < in.height; ++y) {
    for (size_t xx = 0; xx < out_width; ++xx) {
      const int32_t* k = &c.k[xx * c.ksize];
      for (size_t ch = 0; ch < 3; ++ch) {
        int32_t ss = 1 << (kPrecisionBits - 1);
        for (int x = 0; x < c.count[xx]; ++x) ss += in.at(size_t(x + c.first[xx]), y)[ch] * k[x];
        out.at(xx, y)[ch] = clip8(ss);
      }
    }
  }
  return out;
}

RgbImage vertical(const RgbImage& in, size_t out_height, Resample resample) {
  const Coefficients c = precompute(in.height, out_height, resample);
  RgbImage out(in.width, out_height);
  for (size_t yy = 0; yy < out_height; ++yy) {
    const int32_t* k = &c.k[yy * c.ksize];
    for (size_t x = 0; x < in.width; ++x) {
      for (size_t ch = 0; ch < 3; ++ch) {
        int32_t ss = 1 << (kPrecisionBits - 1);
        for (int y = 0; y < c.count[yy]; ++y) ss += in.at(x, size_t(y + c.first[yy]))[ch] * k[y];
        out.at(x, yy)[ch] = clip8(ss);
      }
    }
  }
  return out;
}

}  // namespace

const char* to_string(Resample resample) {
  return resample == Resample::Bilinear ? "bilinear" : "bicubic";
}

RgbImage resize(const RgbImage& image, size_t width, size_t height, Resample resample) {
  if (image.width == 0 || image.height == 0 || width == 0 || height == 0) {
    core::fail("resize", "cannot resize " + std::to_string(image.width) + "x" +
                             std::to_string(image.height) + " to " + std::to_string(width) + "x" +
                             std::to_string(height));
  }
  RgbImage out = image;
  if (width != image.width) out = horizontal(out, width, resample);
  if (height != image.height) out = vertical(out, height, resample);
  return out;
}

int64_t crop_corner(size_t size, size_t crop, CropRounding rounding) {
  const int64_t d = static_cast<int64_t>(size) - static_cast<int64_t>(crop);
  const int64_t floor_half = d >= 0 ? d / 2 : -((-d + 1) / 2);
  if (rounding == CropRounding::HuggingFace || d % 2 == 0) return floor_half;
  if (d < 0) return floor_half + 1;  // ceil: the odd pixel of padding after the image
  return floor_half % 2 == 0 ? floor_half : floor_half + 1;  // k + 0.5 rounds to the even one
}

RgbImage center_crop(const RgbImage& image, size_t width, size_t height, CropRounding rounding) {
  // Signed, since the window may start before the image (then the outside is black).
  const int64_t top = crop_corner(image.height, height, rounding);
  const int64_t left = crop_corner(image.width, width, rounding);
  RgbImage out(width, height, 0);
  for (size_t y = 0; y < height; ++y) {
    const int64_t sy = top + static_cast<int64_t>(y);
    if (sy < 0 || sy >= static_cast<int64_t>(image.height)) continue;
    for (size_t x = 0; x < width; ++x) {
      const int64_t sx = left + static_cast<int64_t>(x);
      if (sx < 0 || sx >= static_cast<int64_t>(image.width)) continue;
      const uint8_t* src = image.at(size_t(sx), size_t(sy));
      std::copy(src, src + 3, out.at(x, y));
    }
  }
  return out;
}

}  // namespace vitbench::imaging
