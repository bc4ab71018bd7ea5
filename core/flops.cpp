#include "core/flops.h"

#include "core/weights.h"

namespace vitbench::core::flops {

double model_per_image(const Config& c) {
  const size_t T = c.num_tokens(), D = c.hidden_size, M = c.intermediate_size;
  const double patch = linear(c.num_patches(), D, c.patch_dim());
  const double block = linear(T, 3 * D, D) + attention(T, c.num_heads, c.head_dim()) +
                       linear(T, D, D) + linear(T, M, D) + linear(T, D, M);
  const double heads = (c.distilled ? 2 : 1) * linear(1, c.num_labels, D);
  return patch + c.num_layers * block + heads;
}

double optimized_per_image(const Config& c) {
  const size_t T = c.num_tokens(), unread = T - c.pooled_tokens();
  const size_t D = c.hidden_size, M = c.intermediate_size, H = c.num_heads, d = c.head_dim();
  const double unread_queries = linear(unread, D, D) + attention_rows(unread, T, H, d);
  return model_per_image(c) -
         (unread_queries + linear(unread, D, D) + linear(unread, M, D) + linear(unread, D, M));
}

double weight_bytes(const Config& c) {
  // Every parameter the forward reads, as core::parameter_slots lists them for this config.
  Weights shapes_only;
  double floats = 0;
  for (const ParameterSlot& slot : parameter_slots(c, shapes_only)) {
    double n = 1;
    for (size_t d : slot.shape) n *= static_cast<double>(d);
    floats += n;
  }
  return 4.0 * floats;
}

}  // namespace vitbench::core::flops
