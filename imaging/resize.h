// Resampling and cropping exactly as the HuggingFace image processors do them.
//
// HF resizes with PIL: Image.resize((w, h), resample, reducing_gap=None) on the 8-bit image. This
// is PIL 9.4's algorithm (Debian 12's python3-pil), reproduced bit for bit: a separable
// convolution whose kernel support is stretched by the scale factor when downscaling (that is the
// antialiasing), coefficients normalised per output pixel, then quantised to 22-bit fixed point;
// the horizontal pass runs first and rounds to 8 bits, then the vertical pass (each pass is skipped
// when its axis keeps its size). Bilinear is the triangle filter (support 1), bicubic Keys' cubic
// with a = -0.5 (support 2). tests/imaging/test_resize.cpp checks equality with PIL's own output.
#pragma once

#include <cstddef>
#include <string>

#include "imaging/image.h"

namespace vitbench::imaging {

enum class Resample { Bilinear, Bicubic };  // PIL's resample codes 2 and 3
const char* to_string(Resample resample);

RgbImage resize(const RgbImage& image, size_t width, size_t height, Resample resample);

// transformers.image_transforms.center_crop: the window's top-left corner is
// floor((size - crop) / 2) on each axis; where the window is larger than the image, the image is
// first centred on a zero canvas (ceil((crop - size) / 2) before it), i.e. padded with black.
RgbImage center_crop(const RgbImage& image, size_t width, size_t height);

}  // namespace vitbench::imaging
