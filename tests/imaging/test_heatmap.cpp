// Heatmaps: the colour scale's ends, the map's orientation over the image (row-major patches, y
// down), the colour bar, text, and the PNG that carries it all.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "imaging/decode.h"
#include "imaging/encode.h"
#include "imaging/heatmap.h"
#include "imaging/preprocess.h"

namespace vitbench::testing {
namespace {

using Rgb = std::array<uint8_t, 3>;

Rgb pixel(const imaging::RgbImage& image, size_t x, size_t y) {
  const uint8_t* p = image.at(x, y);
  return {p[0], p[1], p[2]};
}

Rgb blend(uint8_t gray, const Rgb& colour) {
  Rgb out{};
  for (size_t c = 0; c < 3; ++c) out[c] = uint8_t((gray + colour[c] + 1) / 2);
  return out;
}

TEST(Viridis, EndsMiddleAndClamping) {
  EXPECT_EQ(imaging::viridis(0), (Rgb{0x44, 0x01, 0x54}));
  EXPECT_EQ(imaging::viridis(0.5), (Rgb{0x21, 0x90, 0x8c}));
  EXPECT_EQ(imaging::viridis(1), (Rgb{0xfd, 0xe7, 0x25}));
  EXPECT_EQ(imaging::viridis(-3), imaging::viridis(0));
  EXPECT_EQ(imaging::viridis(7), imaging::viridis(1));
  EXPECT_EQ(imaging::viridis(std::numeric_limits<double>::quiet_NaN()), imaging::viridis(0));
  // Green rises monotonically along viridis: a usable check that the stops are in order.
  for (int i = 1; i <= 100; ++i) EXPECT_GE(imaging::viridis(i / 100.0)[1], imaging::viridis((i - 1) / 100.0)[1]);
}

TEST(Heatmap, HotPatchLandsWhereItBelongs) {
  const imaging::RgbImage view(16, 16, 128);
  core::TensorD map({2, 2}, 0.0);
  map[3] = 1;  // row 1, column 1: the bottom-right patch
  const imaging::RgbImage out = imaging::render_heatmap(view, map, "test: title");
  const size_t D = 16 * ((imaging::kMinDisplay + 15) / 16);  // enlarged by a whole factor
  ASSERT_GE(out.width, 12 + D);
  // The overlay starts below the title: the first row, 10 px into the picture, that is neither
  // background (white) nor text (black).
  size_t top = 0;
  while (top < out.height && (pixel(out, 22, top) == Rgb{255, 255, 255} || pixel(out, 22, top) == Rgb{0, 0, 0})) ++top;
  ASSERT_LT(top + D, out.height);
  EXPECT_EQ(pixel(out, 12 + 5, top + 5), blend(128, imaging::viridis(0)));             // top left: cold
  EXPECT_EQ(pixel(out, 12 + D - 5, top + D - 5), blend(128, imaging::viridis(1)));     // bottom right: hot
  EXPECT_EQ(pixel(out, 12 + D - 5, top + 5), blend(128, imaging::viridis(0)));         // top right: cold
  // The colour bar: hot at the top, cold at the bottom, somewhere right of the picture.
  bool bar = false;
  for (size_t x = 12 + D; x < out.width && !bar; ++x) {
    bar = pixel(out, x, top) == imaging::viridis(1) && pixel(out, x, top + D - 1) == imaging::viridis(0);
  }
  EXPECT_TRUE(bar);
  // Some text was drawn (the title, the labels).
  size_t black = 0;
  for (size_t i = 0; i < out.pixels.size(); i += 3) black += out.pixels[i] == 0 && out.pixels[i + 1] == 0;
  EXPECT_GT(black, 100u);
  // And the PNG carries exactly these pixels.
  const imaging::RgbImage back = imaging::decode_image(imaging::encode_png(out), "heatmap.png");
  EXPECT_EQ(back.pixels, out.pixels);
}

// Over the decoded picture rather than the model's square view: a 40x20 picture whose shorter side
// is resized to 16 (32x16) and centre-cropped to 16x16 lost 8 resized columns (10 original ones) on
// each side. Those stay uncoloured and washed out; the middle carries the map, hot patch where the
// map says, and the picture keeps its 2:1 shape.
TEST(Heatmap, OverThePictureUndoesResizeAndCrop) {
  core::Config model;
  model.image_size = 16;
  const auto prep = imaging::parse_preprocess_config(
      {{"size", {{"shortest_edge", 16}}}, {"do_center_crop", true}, {"crop_size", 16}}, model, "pp.json");
  const imaging::RgbImage picture(40, 20, 100);
  const imaging::ViewPlacement where = imaging::view_placement(picture, prep, model, "p.png");
  EXPECT_DOUBLE_EQ(where.scale_x, 0.8);
  EXPECT_DOUBLE_EQ(where.scale_y, 0.8);
  EXPECT_EQ(where.left, 8);
  EXPECT_EQ(where.top, 0);
  EXPECT_EQ(where.view_size, 16u);

  core::TensorD map({2, 2}, 0.0);
  map[1] = 1;  // row 0, column 1: the top-right patch of what the model saw
  const imaging::RgbImage out = imaging::render_heatmap_over(picture, where, map, "t");
  const size_t zoom = 10;  // 384 / 40, rounded up
  size_t top = 0;
  while (top < out.height && (pixel(out, 22, top) == Rgb{255, 255, 255} || pixel(out, 22, top) == Rgb{0, 0, 0})) ++top;
  ASSERT_LT(top + 20 * zoom, out.height);
  ASSERT_GT(out.width, 12 + 40 * zoom);
  const Rgb washed{114, 114, 114};  // (100 + 128 + 1) / 2: cropped away
  auto at = [&](double x, double y) { return pixel(out, 12 + size_t(x * zoom), top + size_t(y * zoom)); };
  EXPECT_EQ(at(1, 10), washed);
  EXPECT_EQ(at(9.5, 10), washed);
  EXPECT_EQ(at(30.5, 10), washed);
  EXPECT_EQ(at(39, 19), washed);
  EXPECT_EQ(at(11, 1), blend(100, imaging::viridis(0)));  // seen, top left: cold
  EXPECT_EQ(at(29, 1), blend(100, imaging::viridis(1)));  // seen, top right: hot
  EXPECT_EQ(at(29, 19), blend(100, imaging::viridis(0)));  // seen, bottom right: cold
  // The picture's own shape: below its 200 rows only white margin and the colour bar's labels.
  for (size_t x = 12; x < 12 + 40 * zoom; x += 7) EXPECT_EQ(pixel(out, x, top + 20 * zoom + 2), (Rgb{255, 255, 255}));
}

TEST(Heatmap, FlatMapIsMidScaleAndBadMapsAreRefused) {
  const imaging::RgbImage view(8, 8, 0);
  const imaging::RgbImage out = imaging::render_heatmap(view, core::TensorD({3, 3}, 0.2), "flat");
  const size_t D = 8 * ((imaging::kMinDisplay + 7) / 8);
  size_t top = 0;
  while (pixel(out, 22, top) == Rgb{255, 255, 255} || pixel(out, 22, top) == Rgb{0, 0, 0}) ++top;
  EXPECT_EQ(pixel(out, 12 + D / 2, top + D / 2), blend(0, imaging::viridis(0.5)));
  core::TensorD nan({2, 2}, 0.0);
  nan[1] = std::nan("");
  EXPECT_THROW(imaging::render_heatmap(view, nan, "x"), core::Error);
  EXPECT_THROW(imaging::render_heatmap(view, core::TensorD({2, 3}, 0.0), "x"), core::Error);
  EXPECT_THROW(imaging::render_heatmap(imaging::RgbImage(8, 4), core::TensorD({2, 2}, 0.0), "x"), core::Error);
  // Non-ASCII text cannot index past stb_easy_font's table.
  EXPECT_NO_THROW(imaging::render_heatmap(view, core::TensorD({1, 1}, 1.0), "caf\xc3\xa9 \x01\x7f"));
}

}  // namespace
}  // namespace vitbench::testing
