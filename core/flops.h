// FLOP and byte counts per op and per model: the numerators of every GFLOP/s, GB/s and % of peak
// the suite reports. Matmul FLOPs count one multiply and one add per MAC; elementwise ops count
// the arithmetic a straightforward implementation does (stated per op), which matters only for
// the roofline view, never for whole-model figures (those are matmul FLOPs: ViT-B/16 at 224 is
// 35.1 GFLOP per image, the figure everyone quotes).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/config.h"

namespace vitbench::core::flops {

// C[M, N] = A[M, K] · W[N, K]ᵀ
inline double linear(size_t m, size_t n, size_t k) { return 2.0 * m * n * k; }
// Q·Kᵀ and P·V for every head of one image, `queries` of its T tokens attending to all T:
// 2 · (2 · Tq · T · d) · H.
inline double attention_rows(size_t queries, size_t tokens, size_t heads, size_t head_dim) {
  return 4.0 * queries * tokens * heads * head_dim;
}
// Every token attending: 4 · T² · D.
inline double attention(size_t tokens, size_t heads, size_t head_dim) {
  return attention_rows(tokens, tokens, heads, head_dim);
}
// Mean, variance, normalise, scale and shift: 8 operations per element.
inline double layer_norm(size_t rows, size_t dim) { return 8.0 * rows * dim; }
// The tanh/erf form evaluated by a polynomial: about 20 operations per element.
inline double gelu(size_t n) { return 20.0 * n; }
// Max, subtract, exp (~10), sum, scale: about 14 operations per element.
inline double softmax(size_t rows, size_t cols) { return 14.0 * rows * cols; }

// Bytes an elementwise op must move at least: each float32 read once and written once.
inline double elementwise_bytes(size_t n) { return 8.0 * n; }

// Matmul FLOPs of one image through the whole model: patch embedding, every block's four linear
// layers and attention, and the head. What the reference and the peers compute.
double model_per_image(const Config& config);

// What the optimized backends' shared forward computes in the blocks when no tap asks for more
// (optimized/forward.cpp), per image and layer kind, summed over the blocks: the model's work
// less, in the last block, the queries, the attention rows, the projection and the MLP of the
// tokens that pooling does not read (all but Config::pooled_tokens). The one statement of that
// rule for the FLOP totals and the per-op breakdown (bench/breakdown.cpp).
struct BlockFlops {
  double qkv = 0, attention = 0, proj = 0, fc1 = 0, fc2 = 0;
  double total() const { return qkv + attention + proj + fc1 + fc2; }
};
BlockFlops optimized_blocks(const Config& config);

// The whole optimized forward: optimized_blocks, the patch embedding and the heads. ViT-B/16 at
// 224 with class-token pooling: 32.7 of 35.1 GFLOP. Their GFLOP/s and % of peak count these, the
// work they do.
double optimized_per_image(const Config& config);

// Float32 bytes of the model's weights (every parameter core::parameter_slots lists).
double weight_bytes(const Config& config);

}  // namespace vitbench::core::flops
