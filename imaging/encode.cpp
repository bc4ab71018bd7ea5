#include "imaging/encode.h"

#include <climits>

#include "core/atomic_file.h"
#include "core/error.h"

// The one copy of stb_image_write's implementation, internal to this file (see decode.cpp).
// No stdio: every file goes out through core::write_file_atomically.
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb_image_write.h>
#pragma GCC diagnostic pop

namespace vitbench::imaging {
namespace {

void append(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), size_t(size));
}

}  // namespace

std::string encode_png(size_t width, size_t height, size_t channels, const uint8_t* pixels) {
  if (width == 0 || height == 0 || channels < 1 || channels > 4) {
    core::fail("encode_png", "bad image shape " + std::to_string(width) + "x" +
                                 std::to_string(height) + "x" + std::to_string(channels));
  }
  // stb_image_write works in int; a row stride beyond INT_MAX cannot be expressed.
  if (width * channels > size_t(INT_MAX) || height > size_t(INT_MAX)) {
    core::fail("encode_png", "image too large for a PNG encoder working in int");
  }
  std::string out;
  const int ok = stbi_write_png_to_func(append, &out, int(width), int(height), int(channels),
                                        pixels, int(width * channels));
  if (!ok || out.empty()) core::fail("encode_png", "stb_image_write failed (out of memory?)");
  return out;
}

std::string encode_png(const RgbImage& image) {
  return encode_png(image.width, image.height, 3, image.pixels.data());
}

void write_png(const std::string& path, const RgbImage& image) {
  core::write_file_atomically(path, encode_png(image));
}

}  // namespace vitbench::imaging
