// Attention maps recomputed directly from attention probabilities [N, H, T, T], written apart from
// imaging/attention.cpp (different loop order, no matrix product) so the two can check each other.
#pragma once

#include <optional>
#include <vector>

#include "core/tensor.h"

namespace vitbench::testing {

// The class token's attention over the patches (T - 1 values, row-major grid).
inline std::vector<double> expected_class_map(const core::TensorD& p, size_t n, std::optional<size_t> head) {
  const size_t H = p.dim(1), T = p.dim(2);
  std::vector<double> out(T - 1, 0.0);
  for (size_t h = 0; h < H; ++h) {
    if (head && h != *head) continue;
    for (size_t k = 1; k < T; ++k) out[k - 1] += p[((n * H + h) * T) * T + k];
  }
  if (!head) {
    for (double& v : out) v /= double(H);
  }
  return out;
}

// The class token's row of the rollout, pushed through the layers as a row vector: v <- v · Â_l from
// the last layer down to the first, starting from e_0, with Â_l = (mean_h A_l + I) / row sums.
inline std::vector<double> expected_rollout(const std::vector<const core::TensorD*>& layers, size_t n) {
  const size_t H = layers[0]->dim(1), T = layers[0]->dim(2);
  std::vector<double> v(T, 0.0);
  v[0] = 1;
  for (size_t l = layers.size(); l-- > 0;) {
    const core::TensorD& p = *layers[l];
    std::vector<double> next(T, 0.0);
    for (size_t i = 0; i < T; ++i) {
      std::vector<double> a(T, 0.0);
      double row_sum = 1;  // the identity's contribution
      for (size_t j = 0; j < T; ++j) {
        for (size_t h = 0; h < H; ++h) a[j] += p[((n * H + h) * T + i) * T + j];
        a[j] /= double(H);
        row_sum += a[j];
      }
      for (size_t j = 0; j < T; ++j) next[j] += v[i] * (a[j] + (i == j ? 1.0 : 0.0)) / row_sum;
    }
    v = next;
  }
  return std::vector<double>(v.begin() + 1, v.end());
}

}  // namespace vitbench::testing
