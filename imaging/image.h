// An 8-bit RGB picture in memory, the one pixel format imaging/ works in between the decoder and
// the model's float input. Eight bits because that is what the HuggingFace pipeline resizes (PIL
// on uint8 images), so matching it bit for bit means working on the same integers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vitbench::imaging {

struct RgbImage {
  size_t width = 0;
  size_t height = 0;
  std::vector<uint8_t> pixels;  // height rows of width pixels, each R, G, B

  RgbImage() = default;
  RgbImage(size_t w, size_t h, uint8_t fill = 0) : width(w), height(h), pixels(w * h * 3, fill) {}

  uint8_t* at(size_t x, size_t y) { return pixels.data() + (y * width + x) * 3; }
  const uint8_t* at(size_t x, size_t y) const { return pixels.data() + (y * width + x) * 3; }
};

}  // namespace vitbench::imaging
