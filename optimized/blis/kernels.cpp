#include "optimized/blis/kernels.h"

#include <blis.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "core/error.h"
#include "core/tensor.h"

namespace vitbench::optimized::blis {

namespace {

class BlisPacked final : public PackedLinear {
 public:
  BlisPacked(size_t n, size_t k) : PackedLinear(n, k), kn({k, n}) {}
  core::Tensor kn;  // Wᵀ, [k, n] row-major
};

// One single-threaded BLIS call, C = alpha·A·B + beta·C, every operand described by (row
// stride, column stride) so transposes are only a matter of strides. The thread count goes in a
// fresh rntm_t so the call never depends on, or changes, BLIS's process-wide setting.
void sgemm(size_t m, size_t n, size_t k, float alpha, const float* a, size_t rsa, size_t csa,
           const float* b, size_t rsb, size_t csb, float beta, float* c, size_t rsc, size_t csc) {
  rntm_t rntm = BLIS_RNTM_INITIALIZER;
  bli_rntm_set_num_threads(1, &rntm);
  // BLIS's typed API takes non-const pointers but only reads A and B.
  bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, static_cast<dim_t>(m), static_cast<dim_t>(n),
               static_cast<dim_t>(k), &alpha, const_cast<float*>(a), static_cast<inc_t>(rsa),
               static_cast<inc_t>(csa), const_cast<float*>(b), static_cast<inc_t>(rsb),
               static_cast<inc_t>(csb), &beta, c, static_cast<inc_t>(rsc),
               static_cast<inc_t>(csc), nullptr, &rntm);
}

// The column slabs a linear layer is split into, a function of the problem only, never of the
// thread count: each output element is computed by one single-threaded BLIS call whose shape
// does not depend on how many workers share the slabs, so results are bit-identical for any
// thread count even on CPUs where BLIS picks different kernels (its "sup" small-matrix path)
// for different shapes. Slab counts come from {1, 2, 4, 6, 12, 24}, which divide evenly among
// 1, 2, 3, 4, 6 or 12 workers for the common ViT widths; slabs are at least 64 columns (four
// 16-wide microkernel panels) so a slab's call is not dominated by packing A, and products below
// about 2 MFLOP stay whole since a BLIS call costs microseconds of setup.
size_t column_slabs(size_t m, size_t n, size_t k) {
  if (2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) < 2e6) {
    return 1;
  }
  size_t slabs = 1;
  for (size_t s : {2, 4, 6, 12, 24}) {
    if (n / s >= 64) slabs = s;
  }
  return slabs;
}

// Slab boundaries on multiples of 16 columns so no slab splits a microkernel panel needlessly.
size_t slab_begin(size_t n, size_t slabs, size_t s) {
  return s == slabs ? n : std::min(n, (n * s / slabs + 8) / 16 * 16);
}

}  // namespace

std::unique_ptr<PackedLinear> pack_linear(const float* w, size_t n, size_t k) {
  auto packed = std::make_unique<BlisPacked>(n, k);
  float* kn = packed->kn.data();
  // In 32 × 32 tiles, so neither the reads nor the strided writes leave cache between uses.
  constexpr size_t kTile = 32;
  for (size_t o0 = 0; o0 < n; o0 += kTile) {
    for (size_t i0 = 0; i0 < k; i0 += kTile) {
      for (size_t o = o0; o < std::min(n, o0 + kTile); ++o) {
        for (size_t i = i0; i < std::min(k, i0 + kTile); ++i) kn[i * n + o] = w[o * k + i];
      }
    }
  }
  return packed;
}

void linear(const float* a, size_t m, size_t lda, const PackedLinear& w, float* c, size_t ldc,
            const Epilogue& e, ThreadPool& pool) {
  const size_t n = w.n(), k = w.k();
  if (m == 0) return;
  // The pack/run pair travels together (KernelSet::linear), so `w` was made by pack_linear.
  const core::Tensor& kn = static_cast<const BlisPacked&>(w).kn;
  const bool in_place = e.residual != nullptr && e.residual == c;
  if (in_place && (e.ld_residual != ldc || e.gelu)) {
    core::fail("blis::linear",
               "a residual aliasing C must share its stride and cannot follow GELU");
  }
  const float* residual = in_place ? nullptr : e.residual;
  const bool epilogue = e.bias || e.gelu || residual;
  // One task per slab: its GEMM, then its epilogue while the slab is still in cache.
  const size_t slabs = column_slabs(m, n, k);
  auto slab = [&](size_t s, size_t) {
    const size_t j0 = slab_begin(n, slabs, s), j1 = slab_begin(n, slabs, s + 1);
    if (j0 == j1) return;
    sgemm(m, j1 - j0, k, 1.0f, a, lda, 1, kn.data() + j0, n, 1, in_place ? 1.0f : 0.0f, c + j0,
          ldc, 1);
    if (!epilogue) return;
    for (size_t r = 0; r < m; ++r) {
      float* row = c + r * ldc;
      if (e.bias) {
        for (size_t j = j0; j < j1; ++j) row[j] += e.bias[j];
      }
      if (e.gelu) hwy::gelu(row + j0, j1 - j0, e.gelu_kind);
      if (residual) {
        const float* res = residual + r * e.ld_residual;
        for (size_t j = j0; j < j1; ++j) row[j] += res[j];
      }
    }
  };
  if (slabs == 1) {
    slab(0, 0);
  } else {
    pool.run(slabs, std::ref(slab));  // reference_wrapper: no std::function allocation
  }
}

size_t attention_workspace_floats(size_t tokens, size_t, size_t workers) {
  return workers * tokens * tokens;
}

void attention(const AttentionProblem& p, float* workspace, ThreadPool& pool) {
  const size_t T = p.tokens, Tq = p.query_tokens(), d = p.head_dim, D = p.heads * p.head_dim;
  p.check_queries("blis::attention");
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  auto head_task = [&](size_t task, size_t worker) {
    const size_t image = task / p.heads, head = task % p.heads;
    const float* q = p.qkv + image * T * p.ld_qkv + head * d;
    const float* k = q + D;
    const float* v = q + 2 * D;
    float* s = p.probs ? p.probs + task * T * T : workspace + worker * T * T;
    // Kᵀ [d, T]: element (i, j) is K[j, i], at k + j·ld_qkv + i. S is [Tq, T].
    sgemm(Tq, T, d, scale, q, p.ld_qkv, 1, k, 1, p.ld_qkv, 0.0f, s, T, 1);
    for (size_t r = 0; r < Tq; ++r) hwy::softmax(s + r * T, T);
    sgemm(Tq, d, T, 1.0f, s, T, 1, v, p.ld_qkv, 1, 0.0f, p.out + image * T * p.ld_out + head * d,
          p.ld_out, 1);
  };
  pool.run(p.images * p.heads, std::ref(head_task));
}

KernelSet kernels() {
  KernelSet set;
  set.name = "blis";
  set.description = "BLIS GEMM for linear layers and attention matmuls (" + configuration() +
                    "), Highway LayerNorm, GELU and softmax";
  set.linear = {pack_linear, linear};
  set.attention = {attention_workspace_floats, attention};
  set.layer_norm = {hwy::layer_norm};
  return set;
}

std::string configuration() {
  std::string threading = bli_info_get_enable_openmp()     ? "OpenMP"
                          : bli_info_get_enable_pthreads() ? "pthreads"
                                                           : "no";
  return std::string("BLIS ") + bli_info_get_version_str() + ", sub-configuration " +
         bli_arch_string(bli_arch_query_id()) + ", " + threading + " threading";
}

}  // namespace vitbench::optimized::blis
