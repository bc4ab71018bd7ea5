// Materialized multi-head attention for one image. Heads are the parallel unit (one task each: 12
// heads of T = 197 give each thread several independent tasks of ~10 MFLOP, which beats threading
// inside each small product; /work/shared/facts.md), split into parts of their queries only where
// there are fewer heads than twice the threads (AttentionImpl). Per head h, with Tq <= T the tokens
// that attend (all of them but in a last block whose other rows nobody reads) and Tp = Tq rounded
// up to whole vectors:
//   qt = (Q_h/√d)ᵀ                     [d][Tp]   padding queries 0
//   Sᵀ = K_h·qt                          [T][Tp]   the head's whole score matrix, transposed (one
//                                                  key per row), written strip by strip (a strip:
//                                                  the 2–3 query vectors of one score block); each
//                                                  query's max comes out of the kernel's registers
//   Pᵀ = exp(Sᵀ − max), l = Σ_keys Pᵀ    in place, over each strip right after it is written
//   O_h = (P·V_h) / l                    V_h read in place; 1/l applied as O is stored
// P·V starts only once the whole Sᵀ (T² floats: 155 KiB at T = 197, 64 MiB at T = 4097) has been
// written, so the scores really are materialized and travel through the caches, or memory, as a
// materialized attention's do: that is the baseline flash attention is measured against. The
// kernels are those of optimized/hwy/transposed_scores-inl.h, shared with flash.
//
// Why transposed (docs/performance.md, "Attention with transposed scores"): with S row-major, Q·Kᵀ
// ran through the GEMM with K packed into 48-key panels (197 keys padded to 240, after a scalar
// packing pass), and every score row needed a horizontal max, a horizontal sum, a masked tail and a
// pass to normalize. With one key per row the max and the sum over keys are vertical, no row has a
// tail (Tp pads the queries, which costs only lanes), K is read in place, and the normalization
// rides on P·V's store. P·V runs over ranges of up to four strips' rows, key blocks outermost
// inside a range: a block of V stays in L1 and the range's probabilities for it in L2 while the
// range's rows pass (kPvRangeStrips).
//
// Error: S is a d-long float dot product of pre-scaled q (one rounding more on q, none per
// score); FastExp ≤ 2 ulp; l a T-long float sum in each lane (positive terms); O a T-long sum
// per key block, one rounding per block boundary, and one for the 1/l (tests: AttentionShapes).
// Each head writes only its own columns of `out`: results do not depend on threads.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "optimized/hwy/kernels.h"
#include "optimized/hwy/workspace.h"
#include "optimized/kernel_set.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "optimized/hwy/attention.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "optimized/hwy/gemm-inl.h"  // KBlock
#include "optimized/hwy/transposed_scores-inl.h"

HWY_BEFORE_NAMESPACE();
namespace vitbench::optimized::hwy {
namespace HWY_NAMESPACE {

// Query vectors for the next score block: kQueryVectors, except that a remainder of 4 (T = 197
// has 13 vectors) goes as 2 + 2 rather than 3 + 1: a one-vector block issues 9 loads per 8
// FMAs, a two-vector one 10 per 16.
HWY_INLINE size_t NextQueryGroup(size_t remaining) {
  if (kQueryVectors == 3 && remaining == 4) return 2;
  return std::min(kQueryVectors, remaining);
}

// P·V's row ranges: at most this many strips' rows (192 queries on AVX-512), split evenly.
// Measured against 1 strip (V streamed once per 48 queries: 10% slower at T = 4 097, 2 threads)
// and 8 (the same within noise, but 7% slower at T = 197, 1 thread); docs/performance.md.
inline constexpr size_t kPvRangeStrips = 4;

// Floats of one worker's scratch per head, slot by slot (HeadAttention's buffers).
struct HeadScratch {
  size_t tp, dp, queries, scores, padded;  // padded: each of V and O, 0 for whole vectors
};
// (t keys, tq queries: the layout for the largest problem, every token a query, sizes the scratch)
HWY_INLINE HeadScratch HeadScratchLayout(size_t t, size_t tq, size_t dh) {
  const size_t L = hn::Lanes(hn::ScalableTag<float>());
  HeadScratch hs;
  hs.tp = (tq + L - 1) / L * L;
  hs.dp = (dh + L - 1) / L * L;
  hs.queries = dh * hs.tp + hs.tp;  // qt, then 1/l per query
  hs.scores = t * hs.tp;
  hs.padded = dh % L ? t * hs.dp : 0;
  return hs;
}

size_t ScratchFloatsImpl(size_t t, size_t dh) {
  const HeadScratch hs = HeadScratchLayout(t, t, dh);
  return hs.queries + hs.scores + 2 * hs.padded;
}

// One head, or a part of its queries: k and v point at row 0 of the head's columns (row stride
// ld), q at the row of the first of the tq queries that attend to all t keys; out at that query's
// output row and the head's columns (stride ld_out); probs, if not null, receives P [t][t]
// (tq == t).
template <class D>
HWY_INLINE void HeadAttention(D d, const float* HWY_RESTRICT q, const float* HWY_RESTRICT k,
                              const float* HWY_RESTRICT v, size_t ld, size_t t, size_t tq,
                              size_t dh, float scale, float* HWY_RESTRICT out, size_t ld_out,
                              float* HWY_RESTRICT probs) {
  using V = hn::Vec<D>;
  const HeadScratch hs = HeadScratchLayout(t, tq, dh);
  const size_t L = hn::Lanes(d), tp = hs.tp, dp = hs.dp, qvec = tp / L;
  float* HWY_RESTRICT qt = thread_scratch(Scratch::TransposedQ, hs.queries);
  float* HWY_RESTRICT inv_sum = qt + dh * tp;  // per query: 1 / Σ_keys p
  float* HWY_RESTRICT st = thread_scratch(Scratch::Scores, hs.scores);

  TransposeQueries(q, ld, tq, dh, scale, qt, tp, tp);

  // Query group by query group: its strip of Sᵀ = K·qt with each query's max over the keys, then
  // Pᵀ = exp(Sᵀ − max) in place over the strip while it is still in cache, and 1/l. Every
  // exponent is <= 0 and each query's largest term is exactly 1, so nothing overflows and l >= 1.
  const V lowest = hn::Set(d, std::numeric_limits<float>::lowest());
  for (size_t g = 0, qv; g < qvec; g += qv) {
    qv = NextQueryGroup(qvec - g);
    V mx[kQueryVectors], sum[kQueryVectors];
    for (size_t i = 0; i < kQueryVectors; ++i) {
      mx[i] = lowest;
      sum[i] = hn::Zero(d);
    }
    for (size_t j = 0; j < t; j += kScoreRows) {
      Dispatch2<kScoreRows, kQueryVectors>(std::min(kScoreRows, t - j), qv, [&](auto R, auto QV) {
        ScoreBlock<decltype(R)::value, decltype(QV)::value, false>(
            d, k + j * ld, ld, dh, qt + g * L, tp, st + j * tp + g * L, mx, nullptr, nullptr);
      });
    }
    ExpRows(d, st + g * L, tp, t, qv, mx, sum);
    for (size_t i = 0; i < qv; ++i) {
      hn::StoreU(hn::Div(hn::Set(d, 1.0f), sum[i]), d, inv_sum + (g + i) * L);
    }
  }
  if (probs) {
    for (size_t i = 0; i < t; ++i) {
      for (size_t j = 0; j < t; ++j) probs[i * t + j] = st[j * tp + i] * inv_sum[i];
    }
  }

  // O = (P·V) / l. A head size that is not whole vectors goes through zero-padded copies of V
  // and O, so that no vector access passes the end of a row.
  const bool padded = hs.padded != 0;
  float* HWY_RESTRICT vpad = padded ? thread_scratch(Scratch::PaddedV, hs.padded) : nullptr;
  float* HWY_RESTRICT opad = padded ? thread_scratch(Scratch::PaddedOut, hs.padded) : nullptr;
  if (padded) CopyRowsPadded(v, ld, t, dh, vpad, dp);
  const float* vsrc = padded ? vpad : v;
  float* odst = padded ? opad : out;
  const size_t ldv = padded ? dp : ld, ldo = padded ? dp : ld_out;
  // Row range by row range, key blocks outermost inside a range: a block of V stays in L1 while
  // the range's rows pass, and the range's probabilities for that block in L2. The first block
  // starts the accumulators at zero, the others add to O, the last scales it by 1/l. The key
  // blocks depend on t alone, so a query's output is the same sum whatever tq is.
  const size_t kc = KBlock(t, kOutVectors * L);
  const size_t range_max = kPvRangeStrips * kQueryVectors * L;
  const size_t ranges = (tq + range_max - 1) / range_max;
  const size_t range = ((tq + ranges - 1) / ranges + kOutRows - 1) / kOutRows * kOutRows;
  for (size_t i0 = 0; i0 < tq; i0 += range) {
    const size_t i1 = std::min(tq, i0 + range);
    for (size_t k0 = 0; k0 < t; k0 += kc) {
      const size_t keys = std::min(kc, t - k0);
      const bool first = k0 == 0, last = k0 + keys == t;
      for (size_t i = i0; i < i1; i += kOutRows) {
        for (size_t c = 0; c < dp; c += kOutVectors * L) {
          const size_t nv = std::min(kOutVectors, (dp - c) / L);
          Dispatch2<kOutRows, kOutVectors>(std::min(kOutRows, i1 - i), nv, [&](auto R, auto NV) {
            constexpr size_t MR = decltype(R)::value, NVc = decltype(NV)::value;
            const float* p = st + k0 * tp + i;
            float* o = odst + i * ldo + c;
            const float* post = last ? inv_sum + i : nullptr;
            if (first) {
              OutBlock<MR, NVc, OutStart::kZero>(d, p, tp, vsrc + k0 * ldv + c, ldv, keys,
                                                 nullptr, o, ldo, post);
            } else {
              OutBlock<MR, NVc, OutStart::kLoad>(d, p, tp, vsrc + k0 * ldv + c, ldv, keys,
                                                 nullptr, o, ldo, post);
            }
          });
        }
      }
    }
  }
  if (padded) {
    for (size_t i = 0; i < tq; ++i) {
      std::memcpy(out + i * ld_out, opad + i * dp, dh * sizeof(float));
    }
  }
}

void AttentionImpl(const float* qkv, size_t ld_qkv, size_t tokens, size_t queries, size_t heads,
                   size_t head_dim, float* out, size_t ld_out, float* probs, ThreadPool& pool) {
  const hn::ScalableTag<float> d;
  const size_t dim = heads * head_dim;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)));
  // A task is a head, or a part of its queries when there are fewer heads than twice the
  // threads: ViT-Ti's 3 heads on 2 threads left one thread idle a quarter of the attention
  // (docs/performance.md, "The 2-thread forward outside its kernels"). A part is whole vectors
  // of queries, no more parts than the queries fill score blocks; it meets every key, so its
  // scores are still materialized whole before its P·V. A query's arithmetic is the same in any
  // part: the results do not depend on the split. With the probabilities wanted, a head stays
  // one task (HeadAttention writes its whole T×T map).
  const size_t L = hn::Lanes(d), group = kQueryVectors * L;
  size_t parts = 1;
  if (!probs && pool.size() > 1) {
    parts = std::min((2 * pool.size() + heads - 1) / heads, (queries + group - 1) / group);
  }
  const size_t part = ((queries + parts - 1) / parts + L - 1) / L * L;
  parts = (queries + part - 1) / part;
  pool.run(heads * parts, [&](size_t task, size_t) {
    const size_t h = task / parts, q0 = task % parts * part;
    const size_t rows = std::min(part, queries - q0);
    const float* q = qkv + h * head_dim;
    HeadAttention(d, q + q0 * ld_qkv, q + dim, q + 2 * dim, ld_qkv, tokens, rows, head_dim,
                  scale, out + q0 * ld_out + h * head_dim, ld_out,
                  probs ? probs + h * tokens * tokens : nullptr);
  });
}

}  // namespace HWY_NAMESPACE
}  // namespace vitbench::optimized::hwy
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "optimized/hwy/dispatch.h"

namespace vitbench::optimized::hwy {

HWY_EXPORT(AttentionImpl);
HWY_EXPORT(ScratchFloatsImpl);

size_t attention_scratch_floats(size_t tokens, size_t head_dim) {
  return HWY_DYNAMIC_DISPATCH(ScratchFloatsImpl)(tokens, head_dim);
}

void attention(const float* qkv, size_t ld_qkv, size_t tokens, size_t queries, size_t heads,
               size_t head_dim, float* out, size_t ld_out, float* probs, ThreadPool& pool) {
  if (tokens == 0 || queries == 0 || heads == 0 || head_dim == 0) return;
  if (ld_qkv < 3 * heads * head_dim || ld_out < heads * head_dim) {
    core::fail("hwy::attention", "row stride smaller than the row (3D for qkv, D for out)");
  }
  check_attention_queries("hwy::attention", tokens, queries, probs != nullptr);
  HWY_DYNAMIC_DISPATCH(AttentionImpl)(qkv, ld_qkv, tokens, queries, heads, head_dim, out, ld_out,
                                      probs, pool);
}

}  // namespace vitbench::optimized::hwy
#endif  // HWY_ONCE
