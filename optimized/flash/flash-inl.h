// Per-target flash attention: one query tile of one head against every key tile of that head,
// with an online softmax. flash.cpp holds the scheme, the tile sizes and the error bound; this
// file holds the loop over key tiles. Its two register-blocked kernels (scores and output) are
// shared with hwy's materialized attention: optimized/hwy/transposed_scores-inl.h.
//
// Layouts inside a worker's workspace (all row-major, Br = kQueryVectors·Lanes queries):
//   qt  [d][Br]   the query tile transposed and pre-scaled by 1/√d (padding queries are 0)
//   s   [Bc][Br]  scores, then probabilities, transposed: row j is one key against Br queries,
//                 so the per-query max and sum over keys are plain vertical vector ops
//   o   [Br][dp]  unnormalised output accumulators, dp = d rounded up to Lanes
//   vt  [Bc][dp]  a zero-padded copy of the V tile, only when d is not a multiple of Lanes
//                 (a full-vector load of the last V column block would read past the row)
// Keys are never padded: the kernels loop over the real key count, so ragged key tiles need no
// mask. Ragged query tiles are padded with zero queries whose outputs are never written.

#if defined(VITBENCH_OPTIMIZED_FLASH_FLASH_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef VITBENCH_OPTIMIZED_FLASH_FLASH_INL_H_
#undef VITBENCH_OPTIMIZED_FLASH_FLASH_INL_H_
#else
#define VITBENCH_OPTIMIZED_FLASH_FLASH_INL_H_
#endif

#include <algorithm>
#include <cstddef>
#include <limits>

#include "hwy/contrib/math/math-inl.h"  // Log
#include "hwy/highway.h"
#include "optimized/hwy/math-inl.h"               // FastExp
#include "optimized/hwy/transposed_scores-inl.h"  // the score and output kernels

HWY_BEFORE_NAMESPACE();
namespace vitbench::optimized::flash {
namespace HWY_NAMESPACE {
namespace hn = ::hwy::HWY_NAMESPACE;
using ::vitbench::optimized::hwy::HWY_NAMESPACE::CopyRowsPadded;
using ::vitbench::optimized::hwy::HWY_NAMESPACE::Dispatch2;
using ::vitbench::optimized::hwy::HWY_NAMESPACE::ExpRows;
using ::vitbench::optimized::hwy::HWY_NAMESPACE::FastExp;
using ::vitbench::optimized::hwy::HWY_NAMESPACE::kOutRows;
using ::vitbench::optimized::hwy::HWY_NAMESPACE::kOutVectors;
using ::vitbench::optimized::hwy::HWY_NAMESPACE::kQueryVectors;
using ::vitbench::optimized::hwy::HWY_NAMESPACE::kScoreRows;
using ::vitbench::optimized::hwy::HWY_NAMESPACE::OutBlock;
using ::vitbench::optimized::hwy::HWY_NAMESPACE::OutStart;
using ::vitbench::optimized::hwy::HWY_NAMESPACE::ScoreBlock;
using ::vitbench::optimized::hwy::HWY_NAMESPACE::TransposeQueries;

// Keys per tile (flash.cpp's header comment has the arithmetic and the measurements). Every key
// tile pays fixed costs independent of its length (the online-softmax update of m, l and α,
// loading, rescaling and storing the Br×dp output accumulators, the output kernel's prologue
// and epilogue), so longer tiles amortise them; past 128 keys the gain is within noise, and the
// Sᵀ and V tiles (48 + 64 floats per key at d = 64: 56 KiB) already spill from L1 into L2, which
// feeds the kernels' broadcasts and loads fast enough.
inline constexpr size_t kKeyTile = 128;

// How far a key tile's scores may exceed the lagged running max before the tile is redone with
// the new max (FlashTile): the kept probabilities are then <= e^8 ~ 3e3, far from overflow even
// summed over 10^30 keys, and float's relative rounding does not care about the scale.
inline constexpr float kLag = 8.0f;

// Query vectors per tile: kQueryGroups score-kernel widths. More groups let each K and V row
// loaded serve more queries (K/V traffic per FLOP falls as 1/Br); 2 and 3 groups measured the
// same as 1 within noise at T = 1025 and 4097 (docs/performance.md), so one group keeps the
// finest parallel grain and the smallest workspace.
inline constexpr size_t kQueryGroups = 1;
inline constexpr size_t kTileVectors = kQueryGroups * kQueryVectors;

HWY_INLINE size_t QueryTile() { return kTileVectors * hn::Lanes(hn::ScalableTag<float>()); }

HWY_INLINE size_t PaddedDim(size_t head_dim) {
  const size_t L = hn::Lanes(hn::ScalableTag<float>());
  return (head_dim + L - 1) / L * L;
}

HWY_INLINE size_t DefaultKeyTile(size_t /*head_dim*/) { return kKeyTile; }

// Floats of one worker's slice; each buffer starts on a 64-byte boundary of the slice.
HWY_INLINE size_t Round16(size_t n) { return (n + 15) / 16 * 16; }
struct Slice {
  size_t qt, s, o, vt, stats, total;
};
HWY_INLINE Slice SliceLayout(size_t head_dim, size_t key_tile) {
  const size_t br = QueryTile(), dp = PaddedDim(head_dim);
  Slice sl;
  sl.qt = 0;
  sl.s = sl.qt + Round16(head_dim * br);
  sl.o = sl.s + Round16(key_tile * br);
  sl.vt = sl.o + Round16(br * dp);
  const size_t vt = head_dim % hn::Lanes(hn::ScalableTag<float>()) ? key_tile * dp : 0;
  sl.stats = sl.vt + Round16(vt);
  sl.total = sl.stats + Round16(4 * br);  // running max, sum, rescale factor, log-sum-exp
  return sl;
}

// One query tile's problem: rows [q0, q0 + rows) of head h of one image.
struct TileArgs {
  const float* q = nullptr;  // row q0's first element of head h's q columns
  const float* k = nullptr;  // row 0 of head h's k columns
  const float* v = nullptr;  // row 0 of head h's v columns
  size_t ld = 0;             // row stride of q, k, v
  size_t tokens = 0, head_dim = 0, rows = 0;
  float scale = 1;
  size_t key_tile = 0;
  float* out = nullptr;    // row q0 of head h's out columns, row stride ld_out
  size_t ld_out = 0;
  float* lse = nullptr;    // [rows] or null
  float* probs = nullptr;  // row q0 of head h's [T, T] probabilities (stride tokens) or null
};

// S^T for keys [key0, key0 + keys) against the query tile, into s; mx gets the column maxima.
// With Exp: P^T = e^(S^T − ref) into s instead, and sum gets its column sums (ScoreBlock).
template <bool Exp = false, class D>
HWY_INLINE void Scores(D d, const TileArgs& t, const float* qt, size_t qv, size_t key0,
                       size_t keys, float* s, hn::Vec<D>* mx, const hn::Vec<D>* ref = nullptr,
                       hn::Vec<D>* sum = nullptr) {
  const size_t br = QueryTile(), L = hn::Lanes(d);
  for (size_t j = 0; j < keys; j += kScoreRows) {
    const size_t mr = std::min(kScoreRows, keys - j);
    for (size_t g = 0; g < qv; g += kQueryVectors) {
      Dispatch2<kScoreRows, kQueryVectors>(mr, std::min(kQueryVectors, qv - g), [&](auto R, auto QV) {
        ScoreBlock<decltype(R)::value, decltype(QV)::value, Exp>(
            d, t.k + (key0 + j) * t.ld, t.ld, t.head_dim, qt + g * L, br, s + j * br + g * L,
            mx + g, Exp ? ref + g : nullptr, Exp ? sum + g : nullptr);  // no offset on null
      });
    }
  }
}

template <class D>
HWY_INLINE void FlashTile(D d, const TileArgs& t, float* HWY_RESTRICT slice) {
  using V = hn::Vec<D>;
  const size_t L = hn::Lanes(d), br = QueryTile(), dh = t.head_dim, dp = PaddedDim(dh);
  const size_t qv = (t.rows + L - 1) / L, bc = t.key_tile;
  const Slice layout = SliceLayout(dh, bc);
  float* HWY_RESTRICT qt = slice + layout.qt;
  float* HWY_RESTRICT s = slice + layout.s;
  float* HWY_RESTRICT o = slice + layout.o;
  float* HWY_RESTRICT vt = slice + layout.vt;
  float* HWY_RESTRICT m = slice + layout.stats;  // running max per query
  float* HWY_RESTRICT l = m + br;                // running sum per query
  float* HWY_RESTRICT alpha = l + br;            // this key tile's rescale factor per query
  float* HWY_RESTRICT lse = alpha + br;

  TransposeQueries(t.q, t.ld, t.rows, dh, t.scale, qt, br, qv * L);
  // lowest() rather than −∞: the first tile's rescale factor is then exp(lowest − max) = 0
  // exactly, with no ∞ − ∞.
  const V lowest = hn::Set(d, std::numeric_limits<float>::lowest());
  for (size_t v = 0; v < qv; ++v) {
    hn::StoreU(lowest, d, m + v * L);
    hn::StoreU(hn::Zero(d), d, l + v * L);
  }

  const bool pad_v = dh % L != 0;
  const float* vsrc = pad_v ? vt : nullptr;
  const size_t ldv = pad_v ? dp : t.ld;
  // With every key in one tile (ViT's 197 tokens) and d whole vectors, P·V goes straight to out,
  // each row scaled by 1/l as it is stored, as the materialized kernel does: no O to clear,
  // reload and normalise. The products are the same, so the results are bitwise the same.
  const bool direct = t.tokens <= bc && !pad_v;
  // out = o / l; lse = m + log(l). log(l) is kept apart from m for the probabilities below:
  // exp((s − m) − log l) has s − m exact for the keys that matter (Sterbenz), where
  // exp(s − lse) would inherit lse's rounding, u·|lse| (1e-4 relative at logits of 1e4).
  // Called once m and l are final and alpha is no longer read: log l takes alpha's place.
  float* HWY_RESTRICT log_l = alpha;
  const auto finish_stats = [&] {
    for (size_t v = 0; v < qv; ++v) {
      const V lv = hn::LoadU(d, l + v * L);
      const V log_lv = hn::Log(d, lv);
      hn::StoreU(log_lv, d, log_l + v * L);
      hn::StoreU(hn::Add(hn::LoadU(d, m + v * L), log_lv), d, lse + v * L);
      hn::StoreU(hn::Div(hn::Set(d, 1.0f), lv), d, l + v * L);  // l now holds 1/l
    }
  };
  for (size_t key0 = 0; key0 < t.tokens; key0 += bc) {
    const size_t keys = std::min(bc, t.tokens - key0);
    V mx[kTileVectors], sum[kTileVectors];
    const auto clear_tile_stats = [&] {
      for (size_t v = 0; v < kTileVectors; ++v) {
        mx[v] = lowest;
        sum[v] = hn::Zero(d);
      }
    };
    clear_tile_stats();
    // Lagged max: after the first tile the score kernel exponentiates against the running max
    // m as it stands, so P is written once, from the registers, with no pass over S. The tile
    // is kept unless some query's max grew past m + kLag: then p <= e^kLag (no overflow, and l
    // and O simply carry the factor), alpha = 1 and m stays. Otherwise (the first tile, and
    // rarely later: scores are bounded and the first tiles see most of their range) the tile
    // is redone the two-pass way with the new max. Either way every exponent the kept P used
    // is <= kLag and the row's largest p so far is >= 1, so l >= 1.
    bool redo = key0 == 0;
    if (!redo) {
      V ref[kTileVectors];
      for (size_t v = 0; v < qv; ++v) ref[v] = hn::LoadU(d, m + v * L);
      Scores<true>(d, t, qt, qv, key0, keys, s, mx, ref, sum);
      const V lag = hn::Set(d, kLag);
      for (size_t v = 0; v < qv; ++v) {
        redo = redo || !hn::AllFalse(d, hn::Gt(mx[v], hn::Add(ref[v], lag)));
      }
      if (!redo) {
        for (size_t v = 0; v < qv; ++v) {
          hn::StoreU(hn::Set(d, 1.0f), d, alpha + v * L);
          hn::StoreU(hn::Add(hn::LoadU(d, l + v * L), sum[v]), d, l + v * L);
        }
      }
    }
    if (redo) {
      // Online softmax: m' = max(m, max_j s), alpha = exp(m − m'), p = exp(s − m'),
      // l' = alpha·l + Σ_j p. Every exponent is <= 0, so nothing overflows.
      clear_tile_stats();
      Scores(d, t, qt, qv, key0, keys, s, mx);
      V m_new[kTileVectors];
      for (size_t v = 0; v < qv; ++v) {
        const V m_old = hn::LoadU(d, m + v * L);
        m_new[v] = hn::Max(m_old, mx[v]);
        hn::StoreU(FastExp(d, hn::Sub(m_old, m_new[v])), d, alpha + v * L);
        hn::StoreU(m_new[v], d, m + v * L);
      }
      ExpRows(d, s, br, keys, qv, m_new, sum);
      for (size_t v = 0; v < qv; ++v) {
        const V a = hn::LoadU(d, alpha + v * L);
        hn::StoreU(hn::MulAdd(a, hn::LoadU(d, l + v * L), sum[v]), d, l + v * L);
      }
    }

    const float* vrows = t.v + key0 * t.ld;
    if (pad_v) {
      CopyRowsPadded(vrows, t.ld, keys, dh, vt, dp);
    } else {
      vsrc = vrows;
    }
    if (direct) finish_stats();
    // The first tile starts O from zero (its alpha is 0), so O needs no clearing before it; a
    // direct one writes out instead of O.
    const bool first = key0 == 0;
    float* const dst = direct ? t.out : o;
    const size_t ld_dst = direct ? t.ld_out : dp;
    for (size_t i = 0; i < t.rows; i += kOutRows) {
      const size_t mr = std::min(kOutRows, t.rows - i);
      for (size_t c = 0; c < dp; c += kOutVectors * L) {
        const size_t nv = std::min(kOutVectors, (dp - c) / L);
        Dispatch2<kOutRows, kOutVectors>(mr, nv, [&](auto R, auto NV) {
          constexpr size_t kR = decltype(R)::value, kNV = decltype(NV)::value;
          if (first) {
            OutBlock<kR, kNV, OutStart::kZero>(d, s + i, br, vsrc + c, ldv, keys, nullptr,
                                               dst + i * ld_dst + c, ld_dst,
                                               direct ? l + i : nullptr);
          } else {
            OutBlock<kR, kNV, OutStart::kLoadScaled>(d, s + i, br, vsrc + c, ldv, keys,
                                                     alpha + i, o + i * dp + c, dp);
          }
        });
      }
    }
  }

  if (!direct) {
    finish_stats();
    for (size_t i = 0; i < t.rows; ++i) {
      const V inv = hn::Set(d, l[i]);
      const float* orow = o + i * dp;
      float* out_row = t.out + i * t.ld_out;
      size_t c = 0;
      for (; c + L <= dh; c += L) {
        hn::StoreU(hn::Mul(hn::LoadU(d, orow + c), inv), d, out_row + c);
      }
      for (; c < dh; ++c) out_row[c] = orow[c] * l[i];
    }
  }
  if (t.lse) std::copy_n(lse, t.rows, t.lse);

  // Attention maps: the probabilities recomputed from the final statistics,
  // p = exp((s − m) − log l) = exp(s − lse), key tile by key tile (the same scores as above,
  // so each row sums to 1 within rounding).
  if (t.probs) {
    for (size_t key0 = 0; key0 < t.tokens; key0 += bc) {
      const size_t keys = std::min(bc, t.tokens - key0);
      V mx[kTileVectors];
      for (size_t v = 0; v < kTileVectors; ++v) mx[v] = lowest;
      Scores(d, t, qt, qv, key0, keys, s, mx);
      for (size_t j = 0; j < keys; ++j) {
        float* row = s + j * br;
        for (size_t v = 0; v < qv; ++v) {
          const V shifted = hn::Sub(hn::LoadU(d, row + v * L), hn::LoadU(d, m + v * L));
          const V p = FastExp(d, hn::Sub(shifted, hn::LoadU(d, log_l + v * L)));
          hn::StoreU(p, d, row + v * L);
        }
      }
      for (size_t i = 0; i < t.rows; ++i) {
        float* dst = t.probs + i * t.tokens + key0;
        for (size_t j = 0; j < keys; ++j) dst[j] = s[j * br + i];
      }
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace vitbench::optimized::flash
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
