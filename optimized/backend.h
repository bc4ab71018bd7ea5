// A backend computes the ViT forward pass fast. It is a set of kernels plus a prepare step that
// packs the weights once; one shared forward pass (forward.cpp) composes the kernels, so any two
// kernel sets can be combined (e.g. BLIS GEMM with Highway attention) without new forward code.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "core/taps.h"
#include "core/tensor.h"
#include "core/weights.h"

namespace vitbench::optimized {

// A model packed for one backend and one thread count, ready to run many times.
class PreparedModel {
 public:
  virtual ~PreparedModel() = default;
  // images [N, C, H, W] (already checked with core::check_images) -> logits [N, L] float32.
  // Fills the standard taps, and attention probabilities requested by name, when `taps` is set.
  virtual core::Tensor forward(const core::Tensor& images, core::Taps* taps) = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;         // e.g. "hwy", "blis", "blis+flash"
  virtual std::string description() const = 0;  // one line for `vitbench backends`
  virtual std::unique_ptr<PreparedModel> prepare(const core::Model& model, size_t threads) const = 0;
};

// Registry. find_backend throws core::Error naming the unknown backend and listing the known.
std::vector<std::string> backend_names();
const Backend& find_backend(const std::string& name);

}  // namespace vitbench::optimized
