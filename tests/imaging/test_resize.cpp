// Resampling against two independent computations:
// 1. PIL 9.4 itself (fixtures from make_fixtures.py): bilinear and bicubic, up, down, one axis
//    only, a 12x downscale. Tolerance: none. We reproduce PIL's fixed-point arithmetic, so any
//    difference is a bug (an off-by-one in the support, a skipped rounding), and even one level
//    would be allowed to hide it.
// 2. The filter's definition in plain float64 (every input pixel weighted by the kernel at its
//    distance, normalised; no support window, no fixed point, no rounding between the two passes,
//    only PIL's clipping to [0, 255]), on random sizes and pixels from a logged seed. Tolerance per
//    output pixel: PIL rounds the horizontal pass to 8 bits (error <= 0.5 level), which the
//    vertical pass carries with gain sum|w_y| (1 for bilinear, up to 1.25 for bicubic's negative
//    lobes), plus 0.5 for the final rounding and 1e-3 for the 22-bit fixed-point coefficients:
//    |ours - exact| <= 0.5 * sum|w_y| + 0.5 + 1e-3.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include <gtest/gtest.h>

#include "imaging/decode.h"
#include "imaging/resize.h"
#include "tests/imaging/fixtures.h"
#include "tests/run_seed.h"

namespace vitbench::testing {
namespace {

using imaging::Resample;
using imaging::RgbImage;

TEST(Resize, MatchesPilExactly) {
  size_t cases = 0;
  // The manifest must outlive the loop (a temporary's member would dangle).
  const nlohmann::json manifest = fixture_manifest();
  for (const auto& item : manifest["resize"]) {
    const RgbImage source = imaging::read_image_file(fixture_path(item["source"]));
    const Resample resample = item["resample"] == "bilinear" ? Resample::Bilinear : Resample::Bicubic;
    const RgbImage actual = imaging::resize(source, item["width"], item["height"], resample);
    const RgbImage expected = read_expected_ppm(fixture_path(item["expected"]));
    ASSERT_EQ(actual.width, expected.width);
    ASSERT_EQ(actual.height, expected.height);
    EXPECT_EQ(max_abs_difference(actual, expected), 0) << item["expected"];
    ++cases;
  }
  EXPECT_EQ(cases, 14u);  // the manifest was read whole
}

double kernel(Resample r, double x) {
  x = std::abs(x);
  if (r == Resample::Bilinear) return x < 1 ? 1 - x : 0;
  // Keys' cubic convolution, a = -0.5.
  if (x < 1) return 1.5 * x * x * x - 2.5 * x * x + 1;
  if (x < 2) return -0.5 * x * x * x + 2.5 * x * x - 4 * x + 2;
  return 0;
}

// weights[o][i]: output o's weight on input i, from the definition. When downscaling by s > 1,
// the kernel is stretched by s (antialiasing).
std::vector<std::vector<double>> weights(size_t in, size_t out, Resample r) {
  const double scale = double(in) / double(out), stretch = std::max(1.0, scale);
  std::vector<std::vector<double>> w(out, std::vector<double>(in));
  for (size_t o = 0; o < out; ++o) {
    const double centre = (double(o) + 0.5) * scale;
    double sum = 0;
    for (size_t i = 0; i < in; ++i) sum += w[o][i] = kernel(r, (double(i) + 0.5 - centre) / stretch);
    for (double& v : w[o]) v /= sum;
  }
  return w;
}

TEST(Resize, MatchesTheFilterDefinitionOnRandomSizes) {
  const auto seed = static_cast<unsigned>(tests::run_seed());
  std::printf("seed %u (VITBENCH_TEST_SEED=%u replays this run)\n", seed, seed);
  std::mt19937 rng(seed);
  auto dim = [&] { return size_t(1 + rng() % 40); };
  for (int trial = 0; trial < 40; ++trial) {
    const Resample r = trial % 2 ? Resample::Bicubic : Resample::Bilinear;
    RgbImage in(dim(), dim());
    for (auto& p : in.pixels) p = uint8_t(rng());
    const size_t ow = dim(), oh = dim();
    const RgbImage out = imaging::resize(in, ow, oh, r);
    ASSERT_EQ(out.width, ow);
    ASSERT_EQ(out.height, oh);
    // Two passes in float64, horizontal first, each clamped to [0, 255] as PIL clips each pass,
    // but nothing rounded. PIL skips a pass whose axis keeps its size (then the definition above
    // would not be the identity for bicubic), so an unchanged axis has no pass here either.
    const auto wx = weights(in.width, ow, r), wy = weights(in.height, oh, r);
    std::vector<double> mid(ow * in.height * 3);
    for (size_t j = 0; j < in.height; ++j) {
      for (size_t x = 0; x < ow; ++x) {
        for (size_t c = 0; c < 3; ++c) {
          double v = 0;
          if (ow == in.width) {
            v = in.at(x, j)[c];
          } else {
            for (size_t i = 0; i < in.width; ++i) v += wx[x][i] * in.at(i, j)[c];
          }
          mid[(j * ow + x) * 3 + c] = std::clamp(v, 0.0, 255.0);
        }
      }
    }
    for (size_t y = 0; y < oh; ++y) {
      double gain = 0;
      for (double v : wy[y]) gain += std::abs(v);
      if (oh == in.height) gain = 1;
      const double bound = (ow == in.width ? 0.0 : 0.5 * gain) + 0.5 + 1e-3;
      for (size_t x = 0; x < ow; ++x) {
        for (size_t c = 0; c < 3; ++c) {
          double exact = 0;
          if (oh == in.height) {
            exact = mid[(y * ow + x) * 3 + c];
          } else {
            for (size_t j = 0; j < in.height; ++j) exact += wy[y][j] * mid[(j * ow + x) * 3 + c];
          }
          exact = std::clamp(exact, 0.0, 255.0);
          ASSERT_LE(std::abs(out.at(x, y)[c] - exact), bound)
              << imaging::to_string(r) << " " << in.width << "x" << in.height << " -> " << ow << "x"
              << oh << " at (" << x << ", " << y << ", " << c << "), seed " << seed;
        }
      }
    }
  }
}

TEST(Resize, ConstantImagesStayConstantAndSameSizeIsIdentity) {
  // The 1x1 case: upscaling a single pixel to a model's 224x224 is legitimate and gives a flat image.
  RgbImage one(1, 1);
  one.pixels = {200, 17, 0};
  for (Resample r : {Resample::Bilinear, Resample::Bicubic}) {
    const RgbImage big = imaging::resize(one, 224, 224, r);
    for (size_t i = 0; i < big.pixels.size(); ++i) ASSERT_EQ(big.pixels[i], one.pixels[i % 3]);
    RgbImage flat(30, 20, 255);
    const RgbImage small = imaging::resize(flat, 7, 3, r);
    for (uint8_t p : small.pixels) ASSERT_EQ(p, 255);
    RgbImage noise(9, 4);
    for (size_t i = 0; i < noise.pixels.size(); ++i) noise.pixels[i] = uint8_t(i * 37);
    EXPECT_EQ(imaging::resize(noise, 9, 4, r).pixels, noise.pixels);
  }
}

TEST(CenterCrop, CropsAndPadsLikeTransformers) {
  RgbImage in(5, 4);
  for (size_t i = 0; i < in.pixels.size(); ++i) in.pixels[i] = uint8_t(i + 1);
  // Smaller: window at floor((5 - 2) / 2) = 1, floor((4 - 3) / 2) = 0.
  const RgbImage small = imaging::center_crop(in, 2, 3);
  for (size_t y = 0; y < 3; ++y) {
    for (size_t x = 0; x < 2; ++x) EXPECT_EQ(small.at(x, y)[0], in.at(x + 1, y)[0]);
  }
  // Larger on one axis: the image sits ceil((8 - 5) / 2) = 2 columns in, black around it.
  const RgbImage wide = imaging::center_crop(in, 8, 2);
  for (size_t y = 0; y < 2; ++y) {
    for (size_t x = 0; x < 8; ++x) {
      const bool inside = x >= 2 && x < 7;
      EXPECT_EQ(wide.at(x, y)[1], inside ? in.at(x - 2, y + 1)[1] : 0) << x << "," << y;
    }
  }
}

TEST(CenterCrop, CornerRoundsAsEachLibraryDoes) {
  // (image side, crop side) -> corner: HF floor((size - crop) / 2); torchvision rounds half to
  // even, and where it pads puts (crop - size) // 2 before the image.
  struct Case {
    size_t size, crop;
    int64_t hf, torchvision;
  };
  for (const Case& c : std::vector<Case>{{30, 16, 7, 7},
                                         {19, 16, 1, 2},   // 1.5 -> 2
                                         {21, 16, 2, 2},   // 2.5 -> 2
                                         {17, 16, 0, 0},   // 0.5 -> 0
                                         {23, 16, 3, 4},   // 3.5 -> 4
                                         {16, 16, 0, 0},
                                         {13, 16, -2, -1},  // 3 px of padding: 2 before (HF), 1 (tv)
                                         {12, 16, -2, -2},
                                         {1, 4, -2, -1}}) {
    EXPECT_EQ(imaging::crop_corner(c.size, c.crop, imaging::CropRounding::HuggingFace), c.hf)
        << c.size << " " << c.crop;
    EXPECT_EQ(imaging::crop_corner(c.size, c.crop, imaging::CropRounding::Torchvision),
              c.torchvision)
        << c.size << " " << c.crop;
  }
  // The crop itself follows the corner: a 4-row image cropped to 1 row by torchvision's rule
  // takes row round(1.5) = 2, where HF's takes row 1.
  RgbImage in(1, 4);
  for (size_t i = 0; i < in.pixels.size(); ++i) in.pixels[i] = uint8_t(10 * (i / 3));
  EXPECT_EQ(imaging::center_crop(in, 1, 1, imaging::CropRounding::Torchvision).at(0, 0)[0], 20);
  EXPECT_EQ(imaging::center_crop(in, 1, 1, imaging::CropRounding::HuggingFace).at(0, 0)[0], 10);
}

}  // namespace
}  // namespace vitbench::testing
