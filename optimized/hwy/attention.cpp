// Materialized multi-head attention for one image: per head h,
//   S = Q_h·K_hᵀ (GEMM, K_h packed as the "weights"),  P = softmax(S/√d) row by row,
//   O_h = P·V_h (GEMM with V_h read in place),
// with the GEMM core of gemm-inl.h (same microkernel, blocking and error as hwy::gemm) run
// serially inside the head's task. Heads are the parallel unit: 12 heads of T = 197 give each
// thread several independent tasks of ~10 MFLOP, which beats threading inside each small GEMM
// (measured on this kind of machine, see /work/shared/facts.md). S lives in a per-thread
// workspace ([T, T] floats, 155 KiB at T = 197, so it stays in L2 between the two GEMMs), or in
// `probs` when the caller wants the probabilities. The 1/√d scale is folded into the softmax
// exponent. Each head writes only its own columns of `out`: results do not depend on threads.
//
// P·V. The rows of V_h are already what a packed panel row holds (d consecutive floats), so
// when d is a whole number of vectors the microkernel reads them in place, with a tile exactly
// as wide as a divisor of d: at d = 64 on AVX-512 one 6 × 64 tile (24 accumulators). The
// GEMM's own 48-column panels would pad d = 64 to 96 columns (a third of the FMAs wasted) and
// copy V_h first. Other head sizes take the packed path.
#include <algorithm>
#include <cmath>
#include <type_traits>

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

// Calls f(MR, NV) (as integral constants) with the P·V tile for head_dim = nvec vectors: the
// widest NV <= 4 that divides nvec, and MR rows to keep the accumulators at the GEMM tile's
// count (24 on 32-register targets, 12 on 16-register ones).
template <class F>
HWY_INLINE void WithPvTile(size_t nvec, F&& f) {
  using std::integral_constant;
  if constexpr (kMR * kNV >= 24) {
    if (nvec % 4 == 0) return f(integral_constant<size_t, 6>{}, integral_constant<size_t, 4>{});
    if (nvec % 3 == 0) return f(integral_constant<size_t, 8>{}, integral_constant<size_t, 3>{});
    if (nvec % 2 == 0) return f(integral_constant<size_t, 12>{}, integral_constant<size_t, 2>{});
    return f(integral_constant<size_t, 12>{}, integral_constant<size_t, 1>{});
  } else {
    if (nvec % 2 == 0) return f(integral_constant<size_t, 6>{}, integral_constant<size_t, 2>{});
    return f(integral_constant<size_t, 12>{}, integral_constant<size_t, 1>{});
  }
}

// O[t, head_dim] = P[t, t] · V[t, head_dim] (row strides t, ldv, ldo), head_dim a multiple of
// Lanes, V read in place. K blocks outermost, so one block of V (KBlock rows) stays in L1 while
// every micro-panel of P passes; blocks after the first add to O in place.
template <class D>
HWY_INLINE void ProbsTimesV(D d, const float* HWY_RESTRICT p, size_t t,
                            const float* HWY_RESTRICT v, size_t ldv, size_t head_dim, float* o,
                            size_t ldo) {
  const size_t L = hn::Lanes(d);
  WithPvTile(head_dim / L, [&](auto mr_c, auto nv_c) {
    constexpr size_t MR = decltype(mr_c)::value, NV = decltype(nv_c)::value;
    const size_t nr = NV * L, kc = KBlock(t, nr);
    for (size_t j0 = 0; j0 < head_dim; j0 += nr) {
      for (size_t k0 = 0; k0 < t; k0 += kc) {
        const size_t kcb = std::min(kc, t - k0);
        for (size_t i = 0; i < t; i += MR) {
          float* oi = o + i * ldo + j0;
          MicrokernelRows<MR, NV>(d, std::min(MR, t - i), p + i * t + k0, t,
                                  v + k0 * ldv + j0, ldv, kcb, k0 ? oi : nullptr, ldo, oi, ldo);
        }
      }
    }
  });
}

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

    const float* v = qkv + 2 * dim + h * head_dim;
    if (head_dim % hn::Lanes(d) == 0) {
      ProbsTimesV(d, qk.c, t, v, ld_qkv, head_dim, out + h * head_dim, ld_out);
      return;
    }
    // O_h = P · V_h with V_h packed into the GEMM's panels: V_h [T, d] is B [K = T, N = d].
    GemmOperands pv;
    pv.a = qk.c;
    pv.m = t;
    pv.lda = t;
    pv.n = head_dim;
    pv.k = t;
    pv.nr = nr;
    pv.kc = KBlock(t, nr);
    float* vp = thread_scratch(Scratch::PackedV, pv.panel_count() * nr * t);
    PackKN(v, t, head_dim, ld_qkv, nr, pv.kc, vp);
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
