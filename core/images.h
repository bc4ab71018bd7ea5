// Checks that a batch of images fits a model before any work is done on it.
#pragma once

#include <string>

#include "core/config.h"
#include "core/tensor.h"

namespace vitbench::core {

// Throws core::Error naming `where` unless `images` is [N, C, H, W] with N >= 1, C equal to
// num_channels, H = W = image_size, and every value finite (the first NaN or Inf is located).
void check_images(const Config& config, const Tensor& images, const std::string& where);

}  // namespace vitbench::core
