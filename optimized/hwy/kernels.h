// The Highway kernels: one binary, best SIMD target chosen at run time (HWY_DYNAMIC_DISPATCH).
// Every function here has a reference twin in reference/ops.h that its tests compare against.
// Row-major matrices; `ld*` are row strides in elements.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/tensor.h"
#include "optimized/thread_pool.h"

namespace vitbench::optimized::hwy {

// A weight matrix W [N, K] (PyTorch's [out, in]) packed once, at prepare time, into the panel
// layout the GEMM microkernel streams. The layout is private to gemm.cpp.
struct PackedWeights {
  size_t n = 0;  // output features
  size_t k = 0;  // input features
  core::Tensor panels;  // 64-byte aligned; layout described in gemm.cpp's header comment
  // The panel width and K-block length the panels were packed with. Both depend on the SIMD
  // target chosen at pack time (Lanes differ); gemm() refuses weights packed for another one.
  size_t panel_width = 0;
  size_t k_block = 0;
};
PackedWeights pack_weights(const float* w, size_t n, size_t k);

// What the GEMM does to each output element after the dot product, fused in its epilogue:
//   c = acc (+ bias[j]) ; c = gelu(c) if gelu ; c += residual[i, j] if residual
struct Epilogue {
  const float* bias = nullptr;      // [N] or null
  bool gelu = false;
  core::GeluKind gelu_kind = core::GeluKind::Erf;
  const float* residual = nullptr;  // [M, N] with row stride ld_residual, or null (may equal C)
  size_t ld_residual = 0;
};

// C [M, N] = epilogue(A [M, K] · Wᵀ). Multi-threaded over `pool`.
void gemm(const float* a, size_t m, size_t lda, const PackedWeights& w, float* c, size_t ldc,
          const Epilogue& epilogue, ThreadPool& pool);

// LayerNorm over rows of `dim`, float32 in and out; accumulation is arranged so rows with a
// large mean and tiny variance stay accurate (see layer_norm.cpp).
void layer_norm(const float* x, size_t rows, size_t dim, size_t ldx, const float* gamma,
                const float* beta, float eps, float* y, size_t ldy, ThreadPool& pool);

// In place over n elements. The erf form uses our own erf approximation (Highway 1.0.3 has
// none); its maximum error is stated in gelu.cpp and tested.
void gelu(float* x, size_t n, core::GeluKind kind);

// In place, max-subtracted, over one row of n.
void softmax(float* row, size_t n);

// Materialized multi-head attention for one image (same layout as reference::attention):
// qkv [T, 3D] with row stride ld_qkv, out [T, D] with row stride ld_out. Heads are spread over
// `pool`; the per-head score matrix [Tq, T] is materialized in a per-worker workspace. Only the
// first `queries` tokens (Tq, <= T) attend: rows [0, queries) of out are written, every token is a
// key. When `probs` is not null (only with queries == tokens) it receives the probabilities
// [H, T, T].
void attention(const float* qkv, size_t ld_qkv, size_t tokens, size_t queries, size_t heads,
               size_t head_dim, float* out, size_t ld_out, float* probs, ThreadPool& pool);
// The floats of per-worker scratch attention() holds for one head (its transposed score matrix
// and queries; padded copies of V and O when head_dim is not a whole number of vectors).
size_t attention_scratch_floats(size_t tokens, size_t head_dim);

// The Highway target this process dispatches to (e.g. "AVX2"), and all targets compiled in.
const char* chosen_target();
std::vector<const char*> compiled_targets();
// The compiled targets this CPU can run, best first, whatever limit_targets has set.
std::vector<const char*> supported_targets();

// Limits dispatch, for the rest of the process, to the target called `name` (Highway's name in
// any case: "avx2", "SSE4") and those below it: on an AVX-512 machine, `limit_targets("avx2")`
// runs the kernels an AVX2-only CPU would run, so that one machine can measure both. Throws
// core::Error naming the choices when `name` is not compiled in or this CPU cannot run it. Call
// it before packing any weights: packed weights are refused by a target they were not packed for.
void limit_targets(const std::string& name);

}  // namespace vitbench::optimized::hwy
