// Linear layers and the attention matmuls through BLIS's typed expert API (bli_sgemm_ex), with
// row/column strides standing in for every transpose. LayerNorm, softmax and GELU come from
// optimized/hwy/.
//
// Threads: every BLIS call is single-threaded (an rntm_t per call, never the process-wide
// setting) and the run's ThreadPool spreads independent calls over its workers: column slabs of
// a linear layer, (image, head) pairs of attention. So a run has exactly one team of threads, the
// pool's. Letting BLIS thread internally (its OpenMP team of the same size) was measured on the
// 2-core build machine while other builds ran: its spin barriers stall whenever a team member
// is descheduled, and a small ViT forward took 10-15× longer than with the pool
// (vit-ti16 2 threads: ~6 s against ~0.4 s per image; the linear kernel tests: 19 s against
// 2.5 s), and OpenMP threads spinning after each GEMM would also compete with the pool's
// epilogue and attention work on an idle machine.
//
// Error bound: BLIS accumulates each dot product in float32, so a k-long product is within
// γ_k·Σ|a_i·w_i| (γ_k ≈ k·u, u = 2^-24) of exact, typically √k·u; the epilogue adds one rounding
// per step (bias, GELU, residual) plus GELU's own approximation error (optimized/hwy/gelu.cpp).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "optimized/kernel_set.h"
#include "optimized/thread_pool.h"

namespace vitbench::optimized::blis {

// W [n, k] stored transposed as [k, n] row-major: BLIS streams B fastest when its rows are
// contiguous (shared/facts.md), and this copy happens once, at prepare time.
std::unique_ptr<PackedLinear> pack_linear(const float* w, size_t n, size_t k);

// C = epilogue(A · Wᵀ) for a `w` made by pack_linear, in column slabs spread over `pool`, each
// slab's epilogue applied right after its GEMM while it is in cache. When the residual aliases C
// the product is accumulated into C (beta = 1) and the bias added after, so no scratch copy is
// needed: c = (c + acc) + bias. That in-place form cannot apply GELU before the residual, and is
// refused with it (core::Error).
void linear(const float* a, size_t m, size_t lda, const PackedLinear& w, float* c, size_t ldc,
            const Epilogue& epilogue, ThreadPool& pool);

// Per (image, head) task on `pool`, each a single-threaded BLIS call (splitting heads across
// threads beats threading inside such small GEMMs, shared/facts.md):
//   S = (Q_h · K_hᵀ) / √d   with K_h read transposed through its strides, no copy
//   P = softmax(S) by rows  (hwy::softmax), written straight into `probs` when asked for
//   O_h = P · V_h           written into its column block of `out`
// Workspace: one tokens² score matrix per worker.
size_t attention_workspace_floats(size_t tokens, size_t head_dim, size_t workers);
void attention(const AttentionProblem& problem, float* workspace, ThreadPool& pool);

KernelSet kernels();

// "BLIS 0.9.0, sub-configuration zen3, OpenMP threading": for reports and descriptions.
std::string configuration();

}  // namespace vitbench::optimized::blis
