// Per-target register-blocked kernels for attention with its scores stored transposed: Sᵀ holds
// one key per row and the queries across the lanes. The per-query max and sum over keys are then
// vertical vector operations (no horizontal reduction per query, no ragged row tail), and P·V
// takes the probabilities as broadcasts. Shared by hwy's materialized attention (attention.cpp:
// the whole head's Sᵀ at once) and flash attention (flash-inl.h: one key tile at a time).
//
// Operands, all row-major:
//   qt  [d][ldq]   the queries transposed and pre-scaled by 1/√d (a padding query is 0)
//   K   [keys][d]  read in place (row stride ldk), its elements broadcast
//   s   [keys][ldq] the scores Sᵀ = K·qt, then the probabilities
//   V   [keys][d]  read in place (row stride ldv), whole vectors of its rows loaded
//   O   [queries][d] the output rows

#if defined(VITBENCH_OPTIMIZED_HWY_TRANSPOSED_SCORES_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef VITBENCH_OPTIMIZED_HWY_TRANSPOSED_SCORES_INL_H_
#undef VITBENCH_OPTIMIZED_HWY_TRANSPOSED_SCORES_INL_H_
#else
#define VITBENCH_OPTIMIZED_HWY_TRANSPOSED_SCORES_INL_H_
#endif

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <type_traits>

#include "hwy/highway.h"
#include "optimized/hwy/math-inl.h"  // FastExp

HWY_BEFORE_NAMESPACE();
namespace vitbench::optimized::hwy {
namespace HWY_NAMESPACE {
namespace hn = ::hwy::HWY_NAMESPACE;

// Register blocking, per register file (decided inside the per-target namespace: a macro set
// on foreach_target's first pass would stick for every target).
//   Scores S^T = K·Q^T: kScoreRows keys (broadcast) × kQueryVectors query vectors (loaded).
//   Output O += P·V:    kOutRows queries (broadcast) × kOutVectors d-vectors (loaded).
// 32 registers (AVX-512): 8×3 = 24 accumulators + 3 loaded + 1 broadcast for S, and 6×4 = 24
// + 4 + 1 for O: per step 24 FMAs against 3 + 8 (resp. 4 + 6) loads, like the GEMM's 8×48.
// 16 registers (AVX2, SSE, scalar): 6×2 = 12 + 2 + 1 for both, the Haswell/Zen GEMM shape.
// Both keep >= 8 FMA chains in flight (4-cycle latency × 2 pipes).
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || HWY_ARCH_ARM_A64
inline constexpr size_t kQueryVectors = 3;
inline constexpr size_t kScoreRows = 8;
inline constexpr size_t kOutRows = 6;
inline constexpr size_t kOutVectors = 4;
#else
inline constexpr size_t kQueryVectors = 2;
inline constexpr size_t kScoreRows = 6;
inline constexpr size_t kOutRows = 6;
inline constexpr size_t kOutVectors = 2;
#endif

// Calls f(integral_constant<A>, integral_constant<B>) for the runtime pair (a, b), a in
// [1, MaxA], b in [1, MaxB]: the kernels' block shapes must be compile-time to live in registers.
template <size_t A, size_t B, size_t MaxB, class F>
HWY_INLINE void DispatchInner(size_t b, F& f) {
  if (b == B) return f(std::integral_constant<size_t, A>{}, std::integral_constant<size_t, B>{});
  if constexpr (B < MaxB) DispatchInner<A, B + 1, MaxB>(b, f);
}
template <size_t A, size_t MaxA, size_t MaxB, class F>
HWY_INLINE void DispatchOuter(size_t a, size_t b, F& f) {
  if (a == A) return DispatchInner<A, 1, MaxB>(b, f);
  if constexpr (A < MaxA) DispatchOuter<A + 1, MaxA, MaxB>(a, b, f);
}
template <size_t MaxA, size_t MaxB, class F>
HWY_INLINE void Dispatch2(size_t a, size_t b, F&& f) {
  DispatchOuter<1, MaxA, MaxB>(a, b, f);
}

// qt[c][i] = q[i][c]·scale for i < rows, c < dh (row strides ld and ldq), and 0 for rows <= i <
// padded_rows: the queries transposed and pre-scaled by 1/√d, so that every score comes out
// scaled (one rounding more on q, none per score). Padding queries give finite scores whose
// outputs are discarded.
// Blocks of 4 × 4 go through 128-bit registers on every target that has them: 4 loads, 8
// shuffles, 4 products and 4 stores for 16 elements, where element by element they cost a
// load, a product and a strided store each (at 197 tokens that loop took 6-7% of attention's
// time). Each element is the same one product either way, so the results are bitwise the same.
inline void TransposeQueries(const float* HWY_RESTRICT q, size_t ld, size_t rows, size_t dh,
                             float scale, float* HWY_RESTRICT qt, size_t ldq, size_t padded_rows) {
  size_t i = 0;
#if HWY_TARGET != HWY_SCALAR
  const hn::FixedTag<float, 4> d4;
  const auto s = hn::Set(d4, scale);
  const size_t dh4 = dh & ~size_t{3};
  for (; i + 4 <= rows; i += 4) {
    const float* HWY_RESTRICT r = q + i * ld;
    for (size_t c = 0; c < dh4; c += 4) {
      const auto r0 = hn::LoadU(d4, r + c), r1 = hn::LoadU(d4, r + ld + c);
      const auto r2 = hn::LoadU(d4, r + 2 * ld + c), r3 = hn::LoadU(d4, r + 3 * ld + c);
      const auto t0 = hn::InterleaveLower(d4, r0, r1);  // r0[0] r1[0] r0[1] r1[1]
      const auto t1 = hn::InterleaveLower(d4, r2, r3);  // r2[0] r3[0] r2[1] r3[1]
      const auto t2 = hn::InterleaveUpper(d4, r0, r1);  // r0[2] r1[2] r0[3] r1[3]
      const auto t3 = hn::InterleaveUpper(d4, r2, r3);  // r2[2] r3[2] r2[3] r3[3]
      float* HWY_RESTRICT out = qt + c * ldq + i;
      hn::StoreU(hn::Mul(hn::ConcatLowerLower(d4, t1, t0), s), d4, out);
      hn::StoreU(hn::Mul(hn::ConcatUpperUpper(d4, t1, t0), s), d4, out + ldq);
      hn::StoreU(hn::Mul(hn::ConcatLowerLower(d4, t3, t2), s), d4, out + 2 * ldq);
      hn::StoreU(hn::Mul(hn::ConcatUpperUpper(d4, t3, t2), s), d4, out + 3 * ldq);
    }
    for (size_t j = i; j < i + 4; ++j) {
      for (size_t c = dh4; c < dh; ++c) qt[c * ldq + j] = q[j * ld + c] * scale;
    }
  }
#endif
  for (; i < rows; ++i) {
    for (size_t c = 0; c < dh; ++c) qt[c * ldq + i] = q[i * ld + c] * scale;
  }
  for (size_t c = 0; c < dh; ++c) std::fill(qt + c * ldq + rows, qt + c * ldq + padded_rows, 0.0f);
}

// dst[j] = src[j][0:dh) followed by zeros up to dp, for `rows` rows (strides ld and dp): a head
// size that is not whole vectors, padded so that no vector access passes the end of a row.
inline void CopyRowsPadded(const float* HWY_RESTRICT src, size_t ld, size_t rows, size_t dh,
                           float* HWY_RESTRICT dst, size_t dp) {
  for (size_t j = 0; j < rows; ++j) {
    std::memcpy(dst + j * dp, src + j * ld, dh * sizeof(float));
    std::fill(dst + j * dp + dh, dst + (j + 1) * dp, 0.0f);
  }
}

// s[r][v·L..] = Σ_c k[r][c] · qt[c][v·L..] for MR keys (rows of K, stride ldk) and QV query
// vectors (qt and s with row stride ldq), and mx[v] = max(mx[v], s[r][v]) over the MR keys:
// the maximum comes out of the registers instead of a second pass over s. With Exp set, what is
// stored is p = e^(s − ref[v]) and sum[v] accumulates it: the softmax's exp pass done on the
// registers, against a reference max known before the block (flash's lagged max).
template <size_t MR, size_t QV, bool Exp, class D>
HWY_INLINE void ScoreBlock(D d, const float* HWY_RESTRICT k, size_t ldk, size_t head_dim,
                           const float* HWY_RESTRICT qt, size_t ldq, float* HWY_RESTRICT s,
                           hn::Vec<D>* HWY_RESTRICT mx, const hn::Vec<D>* HWY_RESTRICT ref,
                           hn::Vec<D>* HWY_RESTRICT sum) {
  using V = hn::Vec<D>;
  const size_t L = hn::Lanes(d);
  V acc[MR][QV];
  for (size_t r = 0; r < MR; ++r) {
    for (size_t v = 0; v < QV; ++v) acc[r][v] = hn::Zero(d);
  }
  for (size_t c = 0; c < head_dim; ++c) {
    V b[QV];
    for (size_t v = 0; v < QV; ++v) b[v] = hn::LoadU(d, qt + c * ldq + v * L);
    for (size_t r = 0; r < MR; ++r) {
      const V a = hn::Set(d, k[r * ldk + c]);
      for (size_t v = 0; v < QV; ++v) acc[r][v] = hn::MulAdd(a, b[v], acc[r][v]);
    }
  }
  for (size_t r = 0; r < MR; ++r) {
    for (size_t v = 0; v < QV; ++v) {
      mx[v] = hn::Max(mx[v], acc[r][v]);
      if constexpr (Exp) {
        const V p = FastExp(d, hn::Sub(acc[r][v], ref[v]));
        hn::StoreU(p, d, s + r * ldq + v * L);
        sum[v] = hn::Add(sum[v], p);
      } else {
        hn::StoreU(acc[r][v], d, s + r * ldq + v * L);
      }
    }
  }
}

// The softmax's exp pass over `keys` rows of Sᵀ for qv query vectors (row stride lds), in place:
// p = e^(s − max[v]) and sum[v] += p. With max the rows' maximum every exponent is <= 0.
template <class D>
HWY_INLINE void ExpRows(D d, float* HWY_RESTRICT s, size_t lds, size_t keys, size_t qv,
                        const hn::Vec<D>* HWY_RESTRICT max, hn::Vec<D>* HWY_RESTRICT sum) {
  const size_t L = hn::Lanes(d);
  for (size_t j = 0; j < keys; ++j) {
    float* row = s + j * lds;
    for (size_t v = 0; v < qv; ++v) {
      const hn::Vec<D> p = FastExp(d, hn::Sub(hn::LoadU(d, row + v * L), max[v]));
      hn::StoreU(p, d, row + v * L);
      sum[v] = hn::Add(sum[v], p);
    }
  }
}

// How OutBlock starts its accumulators: from zero (the first block of keys), from o as it is
// (later blocks), or from o[r]·alpha[r] (flash's online rescale, riding on the load).
enum class OutStart { kZero, kLoad, kLoadScaled };

// o[r][c·L..] = start + Σ_j p[j][r] · v[j][c·L..] for MR queries and NV d-vectors, over `keys`
// keys; with `post`, each row is multiplied by post[r] before it is stored (the softmax's 1/sum).
template <size_t MR, size_t NV, OutStart Start, class D>
HWY_INLINE void OutBlock(D d, const float* HWY_RESTRICT p, size_t ldp,
                         const float* HWY_RESTRICT v, size_t ldv, size_t keys,
                         const float* HWY_RESTRICT alpha, float* HWY_RESTRICT o, size_t ldo,
                         const float* HWY_RESTRICT post = nullptr) {
  using V = hn::Vec<D>;
  const size_t L = hn::Lanes(d);
  V acc[MR][NV];
  for (size_t r = 0; r < MR; ++r) {
    for (size_t c = 0; c < NV; ++c) {
      if constexpr (Start == OutStart::kZero) {
        acc[r][c] = hn::Zero(d);
      } else if constexpr (Start == OutStart::kLoad) {
        acc[r][c] = hn::LoadU(d, o + r * ldo + c * L);
      } else {
        acc[r][c] = hn::Mul(hn::LoadU(d, o + r * ldo + c * L), hn::Set(d, alpha[r]));
      }
    }
  }
  for (size_t j = 0; j < keys; ++j) {
    V b[NV];
    for (size_t c = 0; c < NV; ++c) b[c] = hn::LoadU(d, v + j * ldv + c * L);
    for (size_t r = 0; r < MR; ++r) {
      const V pr = hn::Set(d, p[j * ldp + r]);
      for (size_t c = 0; c < NV; ++c) acc[r][c] = hn::MulAdd(pr, b[c], acc[r][c]);
    }
  }
  for (size_t r = 0; r < MR; ++r) {
    const V scale = post ? hn::Set(d, post[r]) : hn::Set(d, 1.0f);
    for (size_t c = 0; c < NV; ++c) {
      hn::StoreU(post ? hn::Mul(acc[r][c], scale) : acc[r][c], d, o + r * ldo + c * L);
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace vitbench::optimized::hwy
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
