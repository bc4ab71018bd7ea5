// Flash attention (tiled, online softmax, no T×T matrix) and the "flash" kernel set: Highway's
// kernels with this attention. The scheme, tile sizes and error bound: flash.cpp.
#pragma once

#include <cstddef>

#include "optimized/kernel_set.h"
#include "optimized/thread_pool.h"

namespace vitbench::optimized::flash {

// The dispatched target's tiles: queries per tile (compile-time register blocking) and the
// default keys per tile for this head size; a sequence of at most 2·key_rows keys runs as one
// key tile instead (flash.cpp).
struct Tiles {
  size_t query_rows = 0;
  size_t key_rows = 0;
};
Tiles tiles(size_t head_dim);

struct Options {
  size_t key_tile = 0;   // keys per tile; 0: the default (Tiles above)
  float* lse = nullptr;  // when set, receives log Σ_j exp(s_ij) per row, [images, heads, tokens]
};

// Scratch for `workers` workers with this key tile (0: the default). It does not grow with
// `tokens`: each worker holds one query tile's state (flash.cpp).
size_t workspace_floats(size_t tokens, size_t head_dim, size_t workers, size_t key_tile = 0);
size_t workspace_bytes(size_t tokens, size_t head_dim, size_t workers, size_t key_tile = 0);

// Same semantics as reference::attention per image (AttentionProblem in kernel_set.h), for the
// rows of its first problem.queries tokens when that is set.
// `workspace` holds workspace_floats(tokens, head_dim, pool.size(), options.key_tile) floats,
// any alignment. When problem.probs is set it receives the probabilities, recomputed from the
// final log-sum-exp of each row.
void attention(const AttentionProblem& problem, float* workspace, ThreadPool& pool,
               const Options& options = {});

// hwy's kernel set with this attention, named "flash".
KernelSet kernels();

}  // namespace vitbench::optimized::flash
