// Per-target softmax of one row (softmax.cpp). Attention does not use it: it keeps its scores
// transposed, so that its max and sum over keys are vertical (hwy/attention.cpp).

#if defined(VITBENCH_OPTIMIZED_HWY_SOFTMAX_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef VITBENCH_OPTIMIZED_HWY_SOFTMAX_INL_H_
#undef VITBENCH_OPTIMIZED_HWY_SOFTMAX_INL_H_
#else
#define VITBENCH_OPTIMIZED_HWY_SOFTMAX_INL_H_
#endif

#include <cstddef>
#include <cstring>

#include "hwy/highway.h"
#include "optimized/hwy/math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace vitbench::optimized::hwy {
namespace HWY_NAMESPACE {
namespace hn = ::hwy::HWY_NAMESPACE;

// row[i] = exp(row[i] − max) / Σ_j exp(row[j] − max), in place.
// Subtracting the max makes every exponent <= 0, so nothing overflows and the largest term is
// exactly 1, which bounds the sum below by 1. The sum is kept in Lanes() float partial sums:
// relative error <= (n/Lanes + log2 Lanes)·2^-24, 7e-7 for n = 197 on 8 lanes; each output
// then has ~3 more roundings (FastExp ≤ 2 ulp, the product by 1/sum). FastExp's 0 below e^-87.3
// is a term under 2^-126 of the largest, which is 1.
// The tail (n % Lanes) goes through a full-width buffer, padded with a real element of the row
// for the max and masked to zero for the sum, so no vector access passes row[n-1].
template <class D>
HWY_INLINE void SoftmaxRow(D d, float* HWY_RESTRICT row, size_t n) {
  using V = hn::Vec<D>;
  if (n == 0) return;
  const size_t L = hn::Lanes(d);
  const size_t full = n / L * L, rem = n - full;
  HWY_ALIGN float buf[HWY_MAX_BYTES / sizeof(float)];

  V vmax = hn::Set(d, row[0]);
  for (size_t i = 0; i < full; i += L) vmax = hn::Max(vmax, hn::LoadU(d, row + i));
  if (rem) {
    for (size_t i = 0; i < L; ++i) buf[i] = row[full + (i < rem ? i : 0)];
    vmax = hn::Max(vmax, hn::Load(d, buf));
  }
  const V max = hn::Set(d, hn::GetLane(hn::MaxOfLanes(d, vmax)));
  V sum = hn::Zero(d);
  for (size_t i = 0; i < full; i += L) {
    const V e = FastExp(d, hn::Sub(hn::LoadU(d, row + i), max));
    hn::StoreU(e, d, row + i);
    sum = hn::Add(sum, e);
  }
  if (rem) {
    const V e = hn::IfThenElseZero(hn::FirstN(d, rem), FastExp(d, hn::Sub(hn::Load(d, buf), max)));
    hn::Store(e, d, buf);
    std::memcpy(row + full, buf, rem * sizeof(float));
    sum = hn::Add(sum, e);
  }
  const V inv = hn::Set(d, 1.0f / hn::GetLane(hn::SumOfLanes(d, sum)));
  for (size_t i = 0; i < full; i += L) hn::StoreU(hn::Mul(hn::LoadU(d, row + i), inv), d, row + i);
  for (size_t i = full; i < n; ++i) row[i] *= hn::GetLane(inv);
}

}  // namespace HWY_NAMESPACE
}  // namespace vitbench::optimized::hwy
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
