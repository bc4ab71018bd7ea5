// The one forward pass every backend shares: it composes a KernelSet into the ViT with exactly
// the semantics of reference::forward (reference/vit.h, core/taps.h).
#pragma once

#include <array>
#include <cstddef>
#include <memory>

#include "core/weights.h"
#include "optimized/backend.h"
#include "optimized/kernel_set.h"

namespace vitbench::optimized {

// Packs `model`'s weights with `kernels`' linear kernel and copies the small parameters, so the
// result does not refer to `model` afterwards. The result owns one ThreadPool of `threads`
// workers (>= 1; core::Error otherwise). Its forward() is not reentrant: one call at a time.
std::unique_ptr<PreparedModel> prepare_model(const core::Model& model, const KernelSet& kernels,
                                             size_t threads);

// Whether a model prepared for `threads` runs each block's qkv GEMM and attention as one task per
// head (ForwardOp::QkvAttention), so that a head attends over the q, k and v its own core has
// just computed; otherwise qkv is one GEMM over the pool and attention another parallel region.
// Only with several threads (the gain is the data not crossing cores) and a head count that
// keeps every thread equally busy: a multiple of the threads, at least two per thread. Every
// block fuses but a last block whose queries are pruned (forward.cpp).
bool fuses_qkv_attention(const core::Config& config, size_t threads);

// Where the forward pass spends its time, for `vitbench bench --breakdown`. Each op's wall time
// runs from the end of the op before it to its own end, so the laps add up to the whole forward:
// what lies between kernels (im2col, the position embedding, pooling, recording taps) is
// counted as Other, or in the op after it. GELU has no lap: it runs in fc1's epilogue, and the
// residual adds in proj's and fc2's, except that the attn_out tap unfuses proj's (Residual). A
// block whose qkv and attention are fused (fuses_qkv_attention) books both, with its QK norm,
// to QkvAttention.
enum class ForwardOp : size_t {
  Patch, LayerNorm, Qkv, Attention, QkvAttention, Proj, Residual, Fc1, Fc2, Head, Other, Count
};
inline constexpr size_t kForwardOps = static_cast<size_t>(ForwardOp::Count);

struct ForwardTimes {
  std::array<double, kForwardOps> seconds{};  // summed over every forward since the last reset
  std::array<size_t, kForwardOps> calls{};
  // The pool's idle thread time inside each op's laps, and the parallel regions it counted
  // (ThreadPool::idle).
  std::array<double, kForwardOps> idle_thread_seconds{};
  std::array<size_t, kForwardOps> regions{};
  size_t forwards = 0;
};

// The same pass with a lap timer: every forward adds its laps to *times (which must outlive the
// result). Without one (times null, or the overload above) each lap is a test of a null pointer
// and no clock is read; with one, a lap is one clock read (about 100 per ViT-B forward:
// microseconds against hundreds of milliseconds), and the pool's idle accounting is on (two
// clock reads per worker and two more per parallel region, ~90 regions per ViT-B forward).
std::unique_ptr<PreparedModel> prepare_model(const core::Model& model, const KernelSet& kernels,
                                             size_t threads, ForwardTimes* times);

}  // namespace vitbench::optimized
