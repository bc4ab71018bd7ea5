// Per-target math shared by the GEMM epilogue, the softmax and the elementwise kernels: a fast exp
// for the softmax, the attentions and both GELU forms, then erf, erfc and GELU. Highway 1.0.3 has
// no Erf, so erfc is our own fit (below).
//
// erfc(z) for z >= 0 is written as  t · exp(f(t) − z²)  with  t = 1 / (1 + z/2).
// This factoring (the classic one of Numerical Recipes' erfcc) takes out the Gaussian decay
// exactly, so what is left, f(t) = ln(erfc(z)/t) + z², is smooth and bounded on t ∈ (0, 1]
// (from f(1) = 0 to f(0) = −ln(2√π)) and a polynomial fits it well. Our coefficients are a
// degree-10 Chebyshev fit of f in s = t − 7/12 (centred so that its float evaluation stays well
// conditioned) over z ∈ [0, 10], made with mpmath at 40 digits (see docs/performance.md, "erf");
// the fit's own error is 9.4e-9 in f, i.e. 9.4e-9 relative in erfc. The polynomial is evaluated
// by Estrin's scheme and the exp is FastExp: a short dependency chain, since that chain is what
// bounds GELU's throughput (docs/performance.md, "GELU: a shorter chain", session 7).
//
// Error budget in float32 (relative in erfc): fit 1e-8, the polynomial's rounding ≈ 1.3e-7
// (simulated for Horner's order; Estrin's is of the same size by the measured totals below),
// FastExp ≤ 1.7 ulp (1e-7), t and the final products ≈ 1e-7, plus the rounding of the exponent
// argument f − z², which is ≈ z²·2^-24 and only matters where erfc is already tiny (z > 2);
// removing it would take a second exp (exp(−z²)·exp(f)) for values below 1e-6.
// Measured over dense sweeps of 2^21 points (tests/optimized/test_hwy_kernels.cpp, ErfMaxError
// and GeluErfDenseSweep; the same on AVX3, AVX2, SSE4, SSSE3 and scalar within 8%):
//   erf:  |erf(x) − erf_exact(x)| = 2.18e-7 at most (x ∈ [−10, 10]); tested bound 3e-7. It is
//         formed as 1 − erfc, so this is an absolute bound: near 0 its relative error is not
//         small, which GELU never needs (it uses Φ = 1 − erfc/2, see GeluErf).
//   GELU: relative error 6.4·2^-24 at most for x >= 0 (tested bound 8·2^-24), and in the left
//         tail growing as the rounding of the exponent argument, (x²/2)·2^-24·~2: 7.7e-6 at
//         x = −11.6 where GELU is 1e-30 (tested bound (8 + 2x²)·2^-24, of which at most 76% is
//         used, at x ≈ −1).
// Beyond z = 10 (|x| > 14.1 for GELU) t is clamped; FastExp is 0 for z > 9.3 (its argument below
// −87.3), where erfc is already below float's normal range.

#if defined(VITBENCH_OPTIMIZED_HWY_MATH_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef VITBENCH_OPTIMIZED_HWY_MATH_INL_H_
#undef VITBENCH_OPTIMIZED_HWY_MATH_INL_H_
#else
#define VITBENCH_OPTIMIZED_HWY_MATH_INL_H_
#endif

#include "core/config.h"  // GeluKind
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

// f(s) of the header comment, highest degree first.
inline constexpr size_t kErfcPolyTerms = 11;
inline constexpr float kErfcPoly[kErfcPolyTerms] = {
    -0.1530061439f,    0.144995308767f,  0.146479343056f,   -0.245090564176f,
    -0.0532754508656f, 0.295215901533f,  -0.0346552862367f, -0.407398110279f,
    0.0906908901848f,  1.36873704953f,   -0.558595351134f};

// t = 1/(1 + z/2) for z = a·z_scale (a >= 0, or NaN), z clamped to the fit's range [0, 10]. The
// scale goes into the constants, so that GELU's z = |x|/√2 costs no multiply of its own.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V ErfcT(D d, V a, float z_scale) {
  const V kOne = hn::Set(d, 1.0f);
  const V az = hn::Min(a, hn::Set(d, 10.0f / z_scale));
  return hn::Div(kOne, hn::MulAdd(az, hn::Set(d, 0.5f * z_scale), kOne));
}

// f(t − 7/12) + ln_c by Estrin's scheme: pairs of coefficients, then s², s⁴, so the longest chain
// is 5 operations where Horner's was 10 FMAs. That chain (with the division and the exp) is what
// bounded GELU's throughput: docs/performance.md, "GELU: a shorter chain" (session 7). ln_c joins
// the constant term: it scales erfc by c = e^ln_c at no cost (GELU wants erfc/2).
template <class D, class V = hn::Vec<D>>
HWY_INLINE V ErfcExponent(D d, V t, float ln_c) {
  const V s = hn::Sub(t, hn::Set(d, 7.0f / 12.0f));
  const auto c = [d](size_t degree) { return hn::Set(d, kErfcPoly[kErfcPolyTerms - 1 - degree]); };
  const V s2 = hn::Mul(s, s);
  const V s4 = hn::Mul(s2, s2);
  const V c0 = hn::Set(d, kErfcPoly[kErfcPolyTerms - 1] + ln_c);
  const V p0_3 = hn::MulAdd(hn::MulAdd(c(3), s, c(2)), s2, hn::MulAdd(c(1), s, c0));
  const V p4_7 = hn::MulAdd(hn::MulAdd(c(7), s, c(6)), s2, hn::MulAdd(c(5), s, c(4)));
  const V p8_10 = hn::MulAdd(c(10), s2, hn::MulAdd(c(9), s, c(8)));
  return hn::MulAdd(hn::MulAdd(p8_10, s4, p4_7), s4, p0_3);
}

// erfc(z)·e^ln_c for z = a·z_scale (a >= 0, or NaN), given z² separately so that callers can
// form it exactly. FastExp is 0 where its argument is below −87.3 (z > 9.3), where erfc is
// below float's normal range anyway.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V ScaledErfc(D d, V a, V z2, float z_scale, float ln_c) {
  const V t = ErfcT(d, a, z_scale);
  return hn::Mul(t, FastExp(d, hn::Sub(ErfcExponent(d, t, ln_c), z2)));
}

template <class D, class V = hn::Vec<D>>
HWY_INLINE V Erf(D d, V x) {
  const V sign = hn::And(x, hn::SignBit(d));
  const V z = hn::Xor(x, sign);
  const V e = hn::Sub(hn::Set(d, 1.0f), ScaledErfc(d, z, hn::Mul(x, x), 1.0f, 0.0f));
  return hn::Xor(e, sign);  // erf is odd
}

// GELU, erf form: x·Φ(x) with Φ(x) = erfc(−x/√2)/2, taken as h = erfc(|x|/√2)/2 for x < 0 and
// 1 − h for x >= 0, so that the left tail keeps its relative accuracy (no 1 + erf(...)
// cancellation). The steps are named so that GeluErf4 can interleave them.
inline constexpr float kInvSqrt2 = 0.70710678118654752f;
inline constexpr float kMinusLn2 = -0.69314718055994531f;  // erfc/2: Φ's 1/2, in the exponent

template <class D, class V = hn::Vec<D>>
HWY_INLINE V GeluHalfZ2(D d, V x) {
  return hn::Mul(hn::Mul(x, x), hn::Set(d, 0.5f));  // z² = x²/2: one rounding, z·z would take two
}
template <class D, class V = hn::Vec<D>>
HWY_INLINE V GeluFromHalfErfc(D d, V x, V h) {
  return hn::Mul(x, hn::IfThenElse(hn::Lt(x, hn::Zero(d)), h, hn::Sub(hn::Set(d, 1.0f), h)));
}

template <class D, class V = hn::Vec<D>>
HWY_INLINE V GeluErf(D d, V x) {
  const V h = ScaledErfc(d, hn::Abs(x), GeluHalfZ2(d, x), kInvSqrt2, kMinusLn2);
  return GeluFromHalfErfc(d, x, h);
}

// GeluErf of four vectors at once, bit-identical to four GeluErf calls: the same operations in
// the same order per lane, only interleaved step by step, so that the core overlaps the four
// chains (the division, the polynomial, the exp). 12.3 TSC ticks per AVX-512 vector on Zen 5
// against 14.9 for four GeluErf calls in a row (docs/performance.md, "GELU: a shorter chain");
// callers with many independent vectors (the GEMM's GELU epilogue) take them four at a time.
// (Named vectors rather than arrays: sizeless SVE/RVV vectors cannot form arrays, and arrays of
// vectors made GCC spill them: 2x slower.)
template <class D, class V = hn::Vec<D>>
HWY_INLINE void GeluErf4(D d, V& x0, V& x1, V& x2, V& x3) {
  V q0, q1, q2, q3, t0, t1, t2, t3, p0, p1, p2, p3;
#define VB_GELU4(stmt)                                      \
  {                                                        \
    [[maybe_unused]] V &x = x0, &q = q0, &t = t0, &p = p0; \
    stmt                                                   \
  }                                                        \
  {                                                        \
    [[maybe_unused]] V &x = x1, &q = q1, &t = t1, &p = p1; \
    stmt                                                   \
  }                                                        \
  {                                                        \
    [[maybe_unused]] V &x = x2, &q = q2, &t = t2, &p = p2; \
    stmt                                                   \
  }                                                        \
  {                                                        \
    [[maybe_unused]] V &x = x3, &q = q3, &t = t3, &p = p3; \
    stmt                                                   \
  }
  // As ScaledErfc(|x|, x²/2, 1/√2, −ln 2), step by step.
  VB_GELU4(q = GeluHalfZ2(d, x); t = ErfcT(d, hn::Abs(x), kInvSqrt2);)
  VB_GELU4(p = ErfcExponent(d, t, kMinusLn2);)
  VB_GELU4(p = hn::Mul(t, FastExp(d, hn::Sub(p, q)));)
  VB_GELU4(x = GeluFromHalfErfc(d, x, p);)
#undef VB_GELU4
}

// x·σ(−a) = x / (1 + exp(a)) for the exponent a = minus_arg, the shape of both GELU forms below.
// Where a > 88 exp would overflow and the result is below 1e-37: it is 0 there; where a < −87.3,
// FastExp is 0 and the result is x. FastExp ≤ 1.7 ulp, one add, one divide: ≤ ~4 ulp everywhere.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V XOverOnePlusExp(D d, V x, V minus_arg) {
  const V kMaxArg = hn::Set(d, 88.0f);
  const V g = hn::Div(x, hn::Add(hn::Set(d, 1.0f), FastExp(d, hn::Min(minus_arg, kMaxArg))));
  // Zero where a >= 88, and g elsewhere, NaN included: x86's Min turns a NaN a into 88, so
  // "keep g where a < 88" would have turned a NaN input into 0, a finite and wrong answer.
  return hn::IfThenZeroElse(hn::Ge(minus_arg, kMaxArg), g);
}

// GELU, tanh form: x/2 · (1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³), evaluated as the equal
// x / (1 + exp(−2u)): written with Tanh, 1 + tanh(u) cancels for negative x and loses all
// relative accuracy in the left tail (|GELU(−5)| ~ 1e-6 came out as 0 or 2x off); this form
// has none. −2u > 88 for x < −9.4.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V GeluTanh(D d, V x) {
  const V x2 = hn::Mul(x, x);
  const V minus_two_u = hn::Mul(hn::Mul(x, hn::Set(d, -1.5957691216057308f)),  // −2·√(2/π)
                                hn::MulAdd(x2, hn::Set(d, 0.044715f), hn::Set(d, 1.0f)));
  return XOverOnePlusExp(d, x, minus_two_u);
}

// Quick GELU, x·σ(1.702·x) = x / (1 + exp(−1.702·x)): the same evaluation with a linear
// exponent (which passes 88 for x < −51.7).
template <class D, class V = hn::Vec<D>>
HWY_INLINE V GeluQuick(D d, V x) {
  return XOverOnePlusExp(d, x, hn::Mul(x, hn::Set(d, -1.702f)));
}

// The GELU form `kind` names, one vector.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V Gelu(D d, V x, core::GeluKind kind) {
  switch (kind) {
    case core::GeluKind::Tanh:
      return GeluTanh(d, x);
    case core::GeluKind::Quick:
      return GeluQuick(d, x);
    case core::GeluKind::Erf:
      break;
  }
  return GeluErf(d, x);
}

}  // namespace HWY_NAMESPACE
}  // namespace vitbench::optimized::hwy
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
