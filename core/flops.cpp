#include "core/flops.h"

#include "core/weights.h"

namespace vitbench::core::flops {

namespace {

// The patch embedding and the heads: the same on both sides.
double outside_blocks(const Config& c) {
  const size_t D = c.hidden_size;
  return linear(c.num_patches(), D, c.patch_dim()) +
         (c.distilled ? 2 : 1) * linear(1, c.num_labels, D);
}

// One block in which the first `rows` tokens' queries attend and go on (T of them: every token).
BlockFlops block(const Config& c, size_t rows) {
  const size_t T = c.num_tokens(), D = c.hidden_size, M = c.intermediate_size;
  BlockFlops b;
  b.qkv = linear(T, 2 * D, D) + linear(rows, D, D);  // k and v for every token
  b.attention = attention_rows(rows, T, c.num_heads, c.head_dim());
  b.proj = linear(rows, D, D);
  b.fc1 = linear(rows, M, D);
  b.fc2 = linear(rows, D, M);
  return b;
}

}  // namespace

double model_per_image(const Config& c) {
  return outside_blocks(c) + c.num_layers * block(c, c.num_tokens()).total();
}

BlockFlops optimized_blocks(const Config& c) {
  const double earlier = static_cast<double>(c.num_layers - 1);
  const BlockFlops every = block(c, c.num_tokens()), last = block(c, c.pooled_tokens());
  BlockFlops sum;
  sum.qkv = earlier * every.qkv + last.qkv;
  sum.attention = earlier * every.attention + last.attention;
  sum.proj = earlier * every.proj + last.proj;
  sum.fc1 = earlier * every.fc1 + last.fc1;
  sum.fc2 = earlier * every.fc2 + last.fc2;
  return sum;
}

double optimized_per_image(const Config& c) {
  return outside_blocks(c) + optimized_blocks(c).total();
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
