// GELU in place, erf or tanh form. The erf form uses our own erf (Highway 1.0.3 has none):
// erfc(z) = t·exp(f(t) − z²), t = 1/(1 + z/2), f a degree-10 fit; its derivation, error budget
// and measured maximum errors are in math-inl.h's header comment:
//   erf:  absolute error <= 2.25e-7 over [−10, 10] (tested: ErfMaxError, bound 3e-7),
//   GELU: relative error <= 5.9·2^-24 for x >= 0, growing as (x²/2)·2^-23 in the far left tail
//         (tested: GeluErfDenseSweep).
// The tanh form is computed as x / (1 + exp(−2u)), equal to x/2·(1 + tanh(u)) without its
// cancellation for negative x (<= ~3 ulp); quick GELU, x·σ(1.702·x), as x / (1 + exp(−1.702·x)).
#include "optimized/hwy/internal.h"
#include "optimized/hwy/kernels.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "optimized/hwy/gelu.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <cstring>

#include "hwy/highway.h"
#include "optimized/hwy/math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace vitbench::optimized::hwy {
namespace HWY_NAMESPACE {

// y[i] = fn(x[i]); the tail goes through a full-width buffer so no vector access passes n.
template <class D, class Fn>
HWY_INLINE void Map(D d, const float* x, float* y, size_t n, Fn fn) {
  const size_t L = hn::Lanes(d);
  size_t i = 0;
  for (; i + L <= n; i += L) hn::StoreU(fn(d, hn::LoadU(d, x + i)), d, y + i);
  if (i < n) {
    HWY_ALIGN float buf[HWY_MAX_BYTES / sizeof(float)] = {};
    std::memcpy(buf, x + i, (n - i) * sizeof(float));
    hn::Store(fn(d, hn::Load(d, buf)), d, buf);
    std::memcpy(y + i, buf, (n - i) * sizeof(float));
  }
}

void GeluImpl(float* x, size_t n, core::GeluKind kind) {
  const hn::ScalableTag<float> d;
  switch (kind) {
    case core::GeluKind::Erf:
      return Map(d, x, x, n, [](auto dd, auto v) { return GeluErf(dd, v); });
    case core::GeluKind::Tanh:
      return Map(d, x, x, n, [](auto dd, auto v) { return GeluTanh(dd, v); });
    case core::GeluKind::Quick:
      return Map(d, x, x, n, [](auto dd, auto v) { return GeluQuick(dd, v); });
  }
}

void ErfImpl(const float* x, float* y, size_t n) {
  Map(hn::ScalableTag<float>(), x, y, n, [](auto dd, auto v) { return Erf(dd, v); });
}

void ExpImpl(const float* x, float* y, size_t n) {
  Map(hn::ScalableTag<float>(), x, y, n, [](auto dd, auto v) { return FastExp(dd, v); });
}

}  // namespace HWY_NAMESPACE
}  // namespace vitbench::optimized::hwy
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "optimized/hwy/dispatch.h"

namespace vitbench::optimized::hwy {

HWY_EXPORT(GeluImpl);
HWY_EXPORT(ErfImpl);
HWY_EXPORT(ExpImpl);

void gelu(float* x, size_t n, core::GeluKind kind) { HWY_DYNAMIC_DISPATCH(GeluImpl)(x, n, kind); }

void erf_approx(const float* x, float* y, size_t n) { HWY_DYNAMIC_DISPATCH(ErfImpl)(x, y, n); }

void exp_approx(const float* x, float* y, size_t n) { HWY_DYNAMIC_DISPATCH(ExpImpl)(x, y, n); }

}  // namespace vitbench::optimized::hwy
#endif  // HWY_ONCE
