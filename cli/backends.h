// The CLI's one view of "a backend": the reference plus every registered optimized backend,
// run the same way, so infer, verify and bench never special-case either side.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/taps.h"
#include "core/tensor.h"
#include "core/weights.h"

namespace vitbench::cli {

// "reference" first, then the optimized registry's names.
std::vector<std::string> all_backend_names();

// Throws core::Error for an unknown name, listing the known ones.
void check_backend_name(const std::string& name);

// Logits [N, L] in float64 from `backend` (the optimized backends' float32 logits converted).
core::TensorD run_backend(const std::string& backend, const core::Model& model,
                          const core::Tensor& images, core::Taps* taps, size_t threads);

// Throws core::Error when `logits` hold NaN or Inf, naming the backend and the tap where the
// non-finite values first appear (found by running again with every standard tap recorded), so
// that nothing computed from them is ever printed or saved.
void require_finite_logits(const std::string& backend, const core::Model& model,
                           const core::Tensor& images, size_t threads,
                           const core::TensorD& logits);

}  // namespace vitbench::cli
