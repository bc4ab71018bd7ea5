// The reference ViT: one readable pass from pixels to logits, in float64, filling taps.
#pragma once

#include <cstddef>

#include "core/taps.h"
#include "core/tensor.h"
#include "core/weights.h"

namespace vitbench::reference {

// images: [N, C, H, W] float32, already checked (core/images.h). Returns logits [N, L] in
// float64. Records the standard taps, and any attention probabilities asked for by name, into
// `taps` when given. `threads` splits work across images and rows only: the arithmetic of each
// output element is the same whatever the thread count.
core::TensorD forward(const core::Model& model, const core::Tensor& images,
                      core::Taps* taps = nullptr, size_t threads = 1);

}  // namespace vitbench::reference
