// Materialized multi-head attention for one image: per head h,
//   S = Q_h·K_hᵀ (GEMM, K_h packed as the "weights"),  P = softmax(S/√d) row by row,
//   O_h = P·V_h (GEMM, V_h packed as [T, d] panels),
// with the GEMM core of gemm-inl.h (same microkernel, blocking and error as hwy::gemm) run
// serially inside the head's task. Heads are the parallel unit: 12 heads of T = 197 give each
// thread several independent tasks of ~10 MFLOP, which beats threading inside each small GEMM
// (measured on this kind of machine, see /work/shared/facts.md). S lives in a per-thread
// workspace ([T, T] floats, 155 KiB at T = 197, so it stays in L2 between the two GEMMs), or in
// `probs` when the caller wants the probabilities. The 1/√d scale is folded into the softmax
// exponent. Each head writes only its own columns of `out`: results do not depend on threads.
#include <cmath>

#include "optimized/hwy/kernels.h"
#include "optimized/hwy/workspace.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "optimized/hwy/attention.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "optimized/hwy/gemm-inl.h"
#include "optimized/hwy/softmax-inl.h"

HWY_BEFORE_NAMESPACE();
namespace vitbench::optimized::hwy {
namespace HWY_NAMESPACE {

void AttentionImpl(const float* qkv, size_t ld_qkv, size_t tokens, size_t heads, size_t head_dim,
                   float* out, size_t ld_out, float* probs, ThreadPool& pool) {
  const hn::ScalableTag<float> d;
  const size_t dim = heads * head_dim, nr = PanelWidth(), t = tokens;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)));
  pool.run(heads, [&](size_t h, size_t) {
    // S = Q_h · K_hᵀ: K_h [T, d] is exactly a weight matrix [N = T, K = d].
    GemmOperands qk;
    qk.a = qkv + h * head_dim;
    qk.m = t;
    qk.lda = ld_qkv;
    qk.n = t;
    qk.k = head_dim;
    qk.nr = nr;
    qk.kc = KBlock(head_dim, nr);
    float* kp = thread_scratch(Scratch::PackedK, qk.panel_count() * nr * head_dim);
    PackNK(qkv + dim + h * head_dim, t, head_dim, ld_qkv, nr, qk.kc, kp);
    qk.panels = kp;
    qk.c = probs ? probs + h * t * t : thread_scratch(Scratch::Scores, t * t);
    qk.ldc = t;
    const size_t qk_sub = SubPanels(t, nr);
    const size_t qk_ws = GemmWorkspaceFloats(qk, t, qk_sub);
    GemmRange(d, qk, 0, t, 0, qk.panel_count(), qk_sub,
              qk_ws ? thread_scratch(Scratch::GemmPartials, qk_ws) : nullptr);

    for (size_t i = 0; i < t; ++i) SoftmaxRow(d, qk.c + i * t, t, scale);

    // O_h = P · V_h: V_h [T, d] is B [K = T, N = d].
    GemmOperands pv;
    pv.a = qk.c;
    pv.m = t;
    pv.lda = t;
    pv.n = head_dim;
    pv.k = t;
    pv.nr = nr;
    pv.kc = KBlock(t, nr);
    float* vp = thread_scratch(Scratch::PackedV, pv.panel_count() * nr * t);
    PackKN(qkv + 2 * dim + h * head_dim, t, head_dim, ld_qkv, nr, pv.kc, vp);
    pv.panels = vp;
    pv.c = out + h * head_dim;
    pv.ldc = ld_out;
    const size_t pv_sub = SubPanels(t, nr);
    const size_t pv_ws = GemmWorkspaceFloats(pv, t, pv_sub);
    GemmRange(d, pv, 0, t, 0, pv.panel_count(), pv_sub,
              pv_ws ? thread_scratch(Scratch::GemmPartials, pv_ws) : nullptr);
  });
}

}  // namespace HWY_NAMESPACE
}  // namespace vitbench::optimized::hwy
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "optimized/hwy/dispatch.h"

namespace vitbench::optimized::hwy {

HWY_EXPORT(AttentionImpl);

void attention(const float* qkv, size_t ld_qkv, size_t tokens, size_t heads, size_t head_dim,
               float* out, size_t ld_out, float* probs, ThreadPool& pool) {
  if (tokens == 0 || heads == 0 || head_dim == 0) return;
  if (ld_qkv < 3 * heads * head_dim || ld_out < heads * head_dim) {
    core::fail("hwy::attention", "row stride smaller than the row (3D for qkv, D for out)");
  }
  HWY_DYNAMIC_DISPATCH(AttentionImpl)(qkv, ld_qkv, tokens, heads, head_dim, out, ld_out, probs,
                                      pool);
}

}  // namespace vitbench::optimized::hwy
#endif  // HWY_ONCE
