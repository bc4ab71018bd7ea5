#include "core/flops.h"

namespace vitbench::core::flops {

double model_per_image(const Config& c) {
  const size_t T = c.num_tokens(), D = c.hidden_size, M = c.intermediate_size;
  const double patch = linear(c.num_patches(), D, c.patch_dim());
  const double block = linear(T, 3 * D, D) + attention(T, c.num_heads, c.head_dim()) +
                       linear(T, D, D) + linear(T, M, D) + linear(T, D, M);
  const double heads = (c.distilled ? 2 : 1) * linear(1, c.num_labels, D);
  return patch + c.num_layers * block + heads;
}

double weight_bytes(const Config& c) {
  const double D = c.hidden_size, M = c.intermediate_size;
  const double block = 3 * D * D + 3 * D + D * D + D + 2 * M * D + M + D + 4 * D +
                       (c.layer_scale ? 2 * D : 0);
  const double rest = D * c.patch_dim() + D + D + c.num_positions() * D + 2 * D +
                      (c.pre_norm ? 2 * D : 0) + (c.distilled ? 2 : 1) * c.num_labels * (D + 1) +
                      (c.distilled ? D : 0);
  return 4.0 * (c.num_layers * block + rest);
}

}  // namespace vitbench::core::flops
