// The one forward pass every backend shares: it composes a KernelSet into the ViT with exactly
// the semantics of reference::forward (reference/vit.h, core/taps.h).
#pragma once

#include <cstddef>
#include <memory>

#include "core/weights.h"
#include "optimized/backend.h"
#include "optimized/kernel_set.h"

namespace vitbench::optimized {

// Packs `model`'s weights with `kernels`' linear kernel and copies the small parameters, so the
// result does not refer to `model` afterwards. The result owns one ThreadPool of `threads`
// workers (>= 1; core::Error otherwise). Its forward() is not reentrant: one call at a time.
std::unique_ptr<PreparedModel> prepare_model(const core::Model& model, const KernelSet& kernels,
                                             size_t threads);

}  // namespace vitbench::optimized
