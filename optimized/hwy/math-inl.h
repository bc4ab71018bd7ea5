// Per-target math shared by the GEMM epilogue, the softmax and the elementwise kernels: a fast exp
// for the softmax, erf, erfc and the two GELU forms. Highway 1.0.3 has no Erf, so erfc is our own
// fit (below); the GELU's Exp comes from hwy/contrib/math.
//
// erfc(z) for z >= 0 is written as  t · exp(f(t) − z²)  with  t = 1 / (1 + z/2).
// This factoring (the classic one of Numerical Recipes' erfcc) takes out the Gaussian decay
// exactly, so what is left, f(t) = ln(erfc(z)/t) + z², is smooth and bounded on t ∈ (0, 1]
// (from f(1) = 0 to f(0) = −ln(2√π)) and a polynomial fits it well. Our coefficients are a
// degree-10 Chebyshev fit of f in s = t − 7/12 (centred so the float Horner evaluation stays
// well conditioned) over z ∈ [0, 10], made with mpmath at 40 digits (see docs/performance.md,
// "erf"); the fit's own error is 9.4e-9 in f, i.e. 9.4e-9 relative in erfc.
//
// Error budget in float32 (relative in erfc): fit 1e-8, Horner rounding ≈ 1.3e-7 (simulated),
// Exp ≤ 1 ulp (6e-8), t and the final products ≈ 1e-7, plus the rounding of the exponent
// argument f − z², which is ≈ z²·2^-24 and only matters where erfc is already tiny (z > 2);
// removing it would take a second Exp (exp(−z²)·exp(f)) for values below 1e-6.
// Measured over dense sweeps of 2^21 points (tests/optimized/test_hwy_kernels.cpp, ErfMaxError
// and GeluErfDenseSweep; the same on AVX3, AVX2, SSE4, SSSE3 and scalar within 7%):
//   erf:  |erf(x) − erf_exact(x)| = 2.25e-7 at most (x ∈ [−10, 10]); tested bound 3e-7. It is
//         formed as 1 − erfc, so this is an absolute bound: near 0 its relative error is not
//         small, which GELU never needs (it uses Φ = 1 − erfc/2, see GeluErf).
//   GELU: relative error 5.9·2^-24 at most for x >= 0 (tested bound 8·2^-24), and in the left
//         tail growing as the rounding of the exponent argument, (x²/2)·2^-24·~2: 7.7e-6 at
//         x = −11.3 where GELU is 1e-28 (tested bound (8 + 2x²)·2^-24).
// Beyond z = 10 (|x| > 14.1 for GELU) t is clamped; erfc(10) = 2e-45 is below float's range.

#if defined(VITBENCH_OPTIMIZED_HWY_MATH_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef VITBENCH_OPTIMIZED_HWY_MATH_INL_H_
#undef VITBENCH_OPTIMIZED_HWY_MATH_INL_H_
#else
#define VITBENCH_OPTIMIZED_HWY_MATH_INL_H_
#endif

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace vitbench::optimized::hwy {
namespace HWY_NAMESPACE {
namespace hn = ::hwy::HWY_NAMESPACE;

// e^x, within ~2 ulp for x in [-87.3, 88], exactly 0 below -87.3 (where e^x leaves the normal
// range), undefined above 88 (callers discard such results). About 14 vector ops against ~24 for
// hwy's Exp, which handles the whole float range: after the GEMMs this is the softmax's largest
// cost (one exp per score), in flash attention and in the materialized softmax alike.
// Cody-Waite reduction x = n·ln2 + r, |r| <= ln2/2, then e^r by its degree-7 Taylor polynomial
// (truncation r⁸/8! < 6e-9 relative, below u/8) and 2^n built in the exponent bits. n comes from
// the round-to-nearest of x·log2e + 1.5·2^23 + 127: that sum's low mantissa bits are n + 127,
// already the biased exponent, so no float-to-int conversion. Measured: ≤ 1.7u relative
// (FastExpMaxError, every target).
template <class D>
HWY_INLINE hn::Vec<D> FastExp(D d, hn::Vec<D> x) {
  using V = hn::Vec<D>;
  const hn::RebindToSigned<D> di;
  const V magic = hn::Set(d, 12582912.0f + 127.0f);
  const V t = hn::MulAdd(x, hn::Set(d, 1.44269504088896341f), magic);
  const V n = hn::Sub(t, magic);
  V r = hn::NegMulAdd(n, hn::Set(d, 0.693145751953125f), x);  // ln2's top 16 bits: n·hi exact
  r = hn::NegMulAdd(n, hn::Set(d, 1.42860682030941723212e-6f), r);
  V p = hn::Set(d, 1.0f / 5040.0f);
  p = hn::MulAdd(p, r, hn::Set(d, 1.0f / 720.0f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.0f / 120.0f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.0f / 24.0f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.0f / 6.0f));
  p = hn::MulAdd(p, r, hn::Set(d, 0.5f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.0f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.0f));
  const V scale = hn::BitCast(d, hn::ShiftLeft<23>(hn::BitCast(di, t)));
  return hn::IfThenElseZero(hn::Ge(x, hn::Set(d, -87.3f)), hn::Mul(p, scale));
}

// f(s) of the header comment, highest degree first (Horner order).
inline constexpr size_t kErfcPolyTerms = 11;
inline constexpr float kErfcPoly[kErfcPolyTerms] = {
    -0.1530061439f,    0.144995308767f,  0.146479343056f,   -0.245090564176f,
    -0.0532754508656f, 0.295215901533f,  -0.0346552862367f, -0.407398110279f,
    0.0906908901848f,  1.36873704953f,   -0.558595351134f};

// erfc(z) for z >= 0 (or NaN), given z² separately so that callers can form it exactly.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V ErfcNonNegative(D d, V z, V z2) {
  const V kOne = hn::Set(d, 1.0f);
  const V zc = hn::Min(z, hn::Set(d, 10.0f));  // the fit's range; see the header comment
  const V t = hn::Div(kOne, hn::MulAdd(zc, hn::Set(d, 0.5f), kOne));
  const V s = hn::Sub(t, hn::Set(d, 7.0f / 12.0f));
  V p = hn::Set(d, kErfcPoly[0]);
  for (size_t i = 1; i < kErfcPolyTerms; ++i) p = hn::MulAdd(p, s, hn::Set(d, kErfcPoly[i]));
  // Exp is 0 below −104 (z > 10.2), where erfc underflows anyway.
  return hn::Mul(t, hn::Exp(d, hn::Sub(p, z2)));
}

template <class D, class V = hn::Vec<D>>
HWY_INLINE V Erf(D d, V x) {
  const V sign = hn::And(x, hn::SignBit(d));
  const V z = hn::Xor(x, sign);
  const V e = hn::Sub(hn::Set(d, 1.0f), ErfcNonNegative(d, z, hn::Mul(x, x)));
  return hn::Xor(e, sign);  // erf is odd
}

// GELU, erf form: x·Φ(x) with Φ(x) = erfc(−x/√2)/2, taken as h = erfc(|x|/√2)/2 for x < 0 and
// 1 − h for x >= 0, so that the left tail keeps its relative accuracy (no 1 + erf(...)
// cancellation).
template <class D, class V = hn::Vec<D>>
HWY_INLINE V GeluErf(D d, V x) {
  const V z = hn::Mul(hn::Abs(x), hn::Set(d, 0.70710678118654752f));
  const V z2 = hn::Mul(hn::Mul(x, x), hn::Set(d, 0.5f));  // x²/2 has one rounding, z·z two
  const V h = hn::Mul(hn::Set(d, 0.5f), ErfcNonNegative(d, z, z2));
  const V phi = hn::IfThenElse(hn::Lt(x, hn::Zero(d)), h, hn::Sub(hn::Set(d, 1.0f), h));
  return hn::Mul(x, phi);
}

// GeluErf of four vectors at once, bit-identical to four GeluErf calls: the same operations in
// the same order per lane, only interleaved. One GeluErf is a ~100-cycle dependency chain
// (division, 11 Horner steps, Exp's polynomial); issued one vector after another, the core
// overlaps barely two of them (49 cycles per vector on Zen 5, against 33 for this form), so
// callers with many independent vectors (the GEMM's GELU epilogue) take them four at a time.
// (Named vectors rather than arrays: sizeless SVE/RVV vectors cannot form arrays.)
template <class D, class V = hn::Vec<D>>
HWY_INLINE void GeluErf4(D d, V& x0, V& x1, V& x2, V& x3) {
  const V kOne = hn::Set(d, 1.0f), kHalf = hn::Set(d, 0.5f);
  V q0, q1, q2, q3, t0, t1, t2, t3, s0, s1, s2, s3, p0, p1, p2, p3;
#define VB_GELU4(stmt)                                                        \
  {                                                                          \
    [[maybe_unused]] V &x = x0, &q = q0, &t = t0, &s = s0, &p = p0;         \
    stmt                                                                     \
  }                                                                          \
  {                                                                          \
    [[maybe_unused]] V &x = x1, &q = q1, &t = t1, &s = s1, &p = p1;         \
    stmt                                                                     \
  }                                                                          \
  {                                                                          \
    [[maybe_unused]] V &x = x2, &q = q2, &t = t2, &s = s2, &p = p2;         \
    stmt                                                                     \
  }                                                                          \
  {                                                                          \
    [[maybe_unused]] V &x = x3, &q = q3, &t = t3, &s = s3, &p = p3;         \
    stmt                                                                     \
  }
  // As GeluErf and ErfcNonNegative: q = x²/2, t = 1/(1 + min(z, 10)/2), s = t − 7/12.
  VB_GELU4(q = hn::Mul(hn::Mul(x, x), kHalf);
           const V z = hn::Mul(hn::Abs(x), hn::Set(d, 0.70710678118654752f));
           t = hn::Div(kOne, hn::MulAdd(hn::Min(z, hn::Set(d, 10.0f)), kHalf, kOne));
           s = hn::Sub(t, hn::Set(d, 7.0f / 12.0f)); p = hn::Set(d, kErfcPoly[0]);)
  for (size_t i = 1; i < kErfcPolyTerms; ++i) {
    const V c = hn::Set(d, kErfcPoly[i]);
    VB_GELU4(p = hn::MulAdd(p, s, c);)
  }
  VB_GELU4(p = hn::Exp(d, hn::Sub(p, q));)
  VB_GELU4(const V h = hn::Mul(kHalf, hn::Mul(t, p));
           x = hn::Mul(x, hn::IfThenElse(hn::Lt(x, hn::Zero(d)), h, hn::Sub(kOne, h)));)
#undef VB_GELU4
}

// GELU, tanh form: x/2 · (1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³), evaluated as the equal
// x / (1 + exp(−2u)): written with Tanh, 1 + tanh(u) cancels for negative x and loses all
// relative accuracy in the left tail (|GELU(−5)| ~ 1e-6 came out as 0 or 2x off); this form
// has none (exp ≤ 1 ulp, one add, one divide: ≤ ~3 ulp everywhere). Where −2u > 88 (x < −9.4)
// exp would overflow (and Highway's Exp is only valid up to 104), and GELU is below 1e-37: the
// result is 0 there.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V GeluTanh(D d, V x) {
  const V x2 = hn::Mul(x, x);
  const V minus_two_u = hn::Mul(hn::Mul(x, hn::Set(d, -1.5957691216057308f)),  // −2·√(2/π)
                                hn::MulAdd(x2, hn::Set(d, 0.044715f), hn::Set(d, 1.0f)));
  const V kMaxArg = hn::Set(d, 88.0f);
  const V g = hn::Div(x, hn::Add(hn::Set(d, 1.0f), hn::Exp(d, hn::Min(minus_two_u, kMaxArg))));
  return hn::IfThenElseZero(hn::Lt(minus_two_u, kMaxArg), g);
}

}  // namespace HWY_NAMESPACE
}  // namespace vitbench::optimized::hwy
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
