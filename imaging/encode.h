// PNG out, through stb_image_write (Debian's libstb-dev): heatmaps, and test and demo images.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "imaging/image.h"

namespace vitbench::imaging {

// A whole PNG file in memory. `channels` is 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA);
// `pixels` holds height rows of width * channels bytes.
std::string encode_png(size_t width, size_t height, size_t channels, const uint8_t* pixels);
std::string encode_png(const RgbImage& image);

// Written atomically (core/atomic_file.h); the folder must exist.
void write_png(const std::string& path, const RgbImage& image);

}  // namespace vitbench::imaging
