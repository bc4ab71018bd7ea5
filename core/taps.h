// Named intermediate results, with the same names in every implementation, so any two runs can
// be diffed tap by tap:
//   embed                  [N, T, D]  patch embedding + class token + position embedding
//   block.<i>.attn_out     [N, T, D]  attention output projection (before the residual add)
//   block.<i>.out          [N, T, D]  block output
//   block.<i>.attn_probs   [N, H, T, T] softmax probabilities (only when asked for by name)
//   final_norm             [N, T, D]  final LayerNorm over every token
//   logits                 [N, L]
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace vitbench::core {

namespace tap {
inline std::string embed() { return "embed"; }
inline std::string attn_out(size_t block) { return "block." + std::to_string(block) + ".attn_out"; }
inline std::string block_out(size_t block) { return "block." + std::to_string(block) + ".out"; }
inline std::string attn_probs(size_t block) {
  return "block." + std::to_string(block) + ".attn_probs";
}
inline std::string final_norm() { return "final_norm"; }
inline std::string logits() { return "logits"; }
}  // namespace tap

// The taps a run records. Cheap taps are recorded when `all_standard` is set; attention
// probabilities are large (N·H·T² per block) and so are recorded only when named.
class Taps {
 public:
  Taps() = default;
  static Taps standard() {
    Taps t;
    t.all_standard_ = true;
    return t;
  }
  void request(const std::string& name) { requested_.push_back(name); }

  bool wants(const std::string& name) const;
  // Stores a copy, converting to float64, when `name` is wanted.
  template <typename T>
  void record(const std::string& name, const BasicTensor<T>& value) {
    if (wants(name)) values_[name] = convert<double>(value);
  }
  void record(const std::string& name, TensorD value) {
    if (wants(name)) values_[name] = std::move(value);
  }

  bool has(const std::string& name) const { return values_.count(name) != 0; }
  const TensorD& get(const std::string& name) const;
  const std::map<std::string, TensorD>& values() const { return values_; }

 private:
  bool all_standard_ = false;
  std::vector<std::string> requested_;
  std::map<std::string, TensorD> values_;
};

// The standard taps of a model with `num_layers` blocks, in forward order.
std::vector<std::string> standard_tap_names(size_t num_layers);

}  // namespace vitbench::core
