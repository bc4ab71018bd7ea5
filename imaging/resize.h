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
#include <cstdint>
#include <string>

#include "imaging/image.h"

namespace vitbench::imaging {

enum class Resample { Bilinear, Bicubic };  // PIL's resample codes 2 and 3
const char* to_string(Resample resample);

RgbImage resize(const RgbImage& image, size_t width, size_t height, Resample resample);

// Where a centred crop window starts on one axis, in the image's pixels (negative where the
// window is larger than the image and the outside is padded with black). The two libraries differ
// only when size - crop is odd:
// - HuggingFace (transformers.image_transforms.center_crop): floor((size - crop) / 2), so the
//   odd pixel of padding goes before the image;
// - Torchvision (torchvision's CenterCrop, timm's eval transform): (size - crop) / 2 rounded half
//   to even, as Python's round(); where it pads, (crop - size) // 2 before the image, so the odd
//   pixel goes after it.
enum class CropRounding { HuggingFace, Torchvision };
int64_t crop_corner(size_t size, size_t crop, CropRounding rounding);

// The width x height window at crop_corner on each axis, padded with black outside the image.
RgbImage center_crop(const RgbImage& image, size_t width, size_t height,
                     CropRounding rounding = CropRounding::HuggingFace);

}  // namespace vitbench::imaging
