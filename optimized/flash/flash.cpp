// Flash-style multi-head attention: tiles of Br queries meet tiles of Bc keys and values, with
// an online softmax, so the T×T score matrix never exists. Per (image, head, query tile) task:
//   qt = (Q_tile/√d)ᵀ                                  [d][Br], packed once per task
//   for each key tile:  Pᵀ = exp(K_tile·qt − m)            [Bc][Br]   (score kernel, 8×3 vectors,
//                                                                   exp on its accumulators)
//                       if max_j s <= m + 8:  l += Σ_j P,  O += Pᵀ·V_tile  (output kernel, 6×4)
//                       else (and for the first tile), two passes: Sᵀ = K_tile·qt,
//                         m' = max(m, max_j s), α = exp(m − m'), P = exp(Sᵀ − m'),
//                         l = α·l + Σ_j P,  O = α·O + Pᵀ·V_tile,  m = m'
//   out = O / l,  lse = m + log l
// The lagged max m (rescale only when a tile's max passes it by 8, as FlashAttention-3 does)
// lets the score kernel write probabilities straight from its registers: no pass over Sᵀ to
// find the max and exponentiate, and no rescale of O, on all but the first and rare tiles.
// The kept probabilities are <= e^8, so nothing overflows; l >= 1 still (the key that set m
// has p >= 1). exp is FastExp (hwy/math-inl.h): ~14 vector ops where hwy's Exp takes ~24.
// K and V are read in place from the qkv activations (K's elements are broadcast, V's rows
// loaded), so nothing of the head is packed or copied except the query tile. Scores are stored
// transposed (one key per row, queries across lanes): the per-query max and sum over keys are
// then vertical vector ops, and the probabilities feed the output kernel as broadcasts.
//
// Tile sizes (AVX-512, Lanes = 16; d = 64 as in every ViT preset):
//   Br = 3 vectors = 48 queries: the score kernel's 8 keys × 3 vectors = 24 accumulators, and a
//        multiple of the output kernel's 6 rows (8 blocks). Each query tile streams K_h and V_h
//        once: 2·T·d·4 bytes for 4·Br·T·d FLOPs, i.e. Br/2 = 24 FLOP/byte, which at the 1-core
//        FMA peak (~215 GFLOP/s) needs ~9 GB/s: from L2 while K_h + V_h (512 B per token, 512
//        KiB at T = 1025) fit its 1 MiB, from L3 beyond (T = 2305, 4097), both well within their
//        bandwidth. Two or three such groups per tile (Br = 96, 144) measured the same.
//   Bc = 128 keys. The L1 arithmetic first suggested 32: the set reused by every key tile is
//        qt + O (2·Br·dp floats = 24 KiB) and Sᵀ + the V tile ((Br + dp)·Bc floats, reused by
//        every 6-query block) would fit a 40 KiB share of the 48 KiB L1D at Bc = 36. Measured
//        (T = 1025, 1 thread, GFLOP/s): Bc 16: 117, 32: 128, 64: 129, 128: 134, 256: 140, 512:
//        138 (±5% between runs): the per-key-tile fixed costs (the m/l/α update, O loaded,
//        rescaled and stored, the output kernel's prologue and epilogue: ~2·Br·dp memory ops
//        and ~60 cycles per tile) matter more than Sᵀ and V spilling to L2 (1 MiB, 64 B/cycle),
//        and beyond 128 the gain is within noise. At Bc = 128 the resident set is 24 + 56 KiB:
//        L1 + L2. With the exp fused into the score kernel (fewer per-tile costs) Bc = 256
//        measured slower at 1 thread (119–130 against 135–154 GFLOP/s) and equal at 2, so 128
//        stays.
//        Short sequences, up to 2·Bc keys (ViT's 197 tokens), run as one tile of all the keys:
//        the softmax in one pass, no online rescale, and P·V stored straight into out, scaled by
//        1/l (with d whole vectors; else through O, stored once instead of once per tile)
//        (measured at T = 197 against 128 + 69 keys: docs/performance.md, "Flash at 197 tokens:
//        one key tile").
//   AVX2/SSE4 (16 registers): Br = 2 vectors (16 / 8 queries), 6×2 kernels, Bc = 128.
// Bc is a runtime parameter (flash::Options::key_tile) so the tests can vary it; Br is the
// kernels' compile-time register blocking.
//
// Workspace per worker: qt, Sᵀ, O, a padded V tile (only when Lanes does not divide d) and four
// Br-long statistics: (d·Br + Bc'·Br + Br·dp + Bc'·dp + 4·Br) floats with Bc' = 2·Bc, the
// largest default key tile, so independent of T (73 KiB at d = 64 on AVX-512), against T²
// floats per worker for the materialized kernels (64 MiB at T = 4097).
//
// Parallelism: images × heads × query tiles, one task each (dynamic scheduling on the pool). Only
// the tiles of the first problem.queries tokens run when the caller wants no other rows.
// Each task writes only its own rows and columns of out, lse and probs, and its arithmetic
// depends only on (Br, Bc): results are bit-identical for every thread count.
//
// Error bound (relative to max|out|, u = 2^-24). Scores: a d-long float dot product of
// pre-scaled q, ~√d·u relative to |q|·|k|/√d, one extra rounding for the scale. The softmax
// turns an absolute score error δ into a relative error ~δ of each probability; with scores of
// size σ that is ~σ·√d·u. The online rescaling multiplies each accumulator by at most T/Bc
// factors α ≤ 1, each exact to ~2 ulp (FastExp), and l and O are rescaled by the same α, so the
// rescale errors cancel to first order in O/l except the ~(T/Bc)·u of the repeated roundings
// of O and l. P·V and the sum l add a T-long float sum each, ~√T·u (random signs) and ≤ T·u
// (positive terms; in practice the per-tile partial sums keep it near √T·u). The tests derive
// their tolerance from these terms (tests/optimized/test_flash_attention.cpp).
// Large logits: every exponent is s − m ≤ 8 with m the lagged running max, so nothing overflows;
// logits of ±1e4 give probabilities of exactly 0 or 1/ties, as the reference does.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>

#include "core/error.h"
#include "optimized/flash/kernels.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "optimized/flash/flash.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "optimized/flash/flash-inl.h"

HWY_BEFORE_NAMESPACE();
namespace vitbench::optimized::flash {
namespace HWY_NAMESPACE {

void TilesImpl(size_t head_dim, size_t* query_rows, size_t* key_rows) {
  *query_rows = QueryTile();
  *key_rows = DefaultKeyTile(head_dim);
}

size_t SliceFloatsImpl(size_t head_dim, size_t key_tile) {
  return SliceLayout(head_dim, key_tile).total;
}

void FlashImpl(const AttentionProblem& p, float* workspace, size_t slice, ThreadPool& pool,
               size_t key_tile, float* lse) {
  const hn::ScalableTag<float> d;
  const size_t T = p.tokens, Tq = p.query_tokens(), H = p.heads, dh = p.head_dim, D = H * dh;
  const size_t br = QueryTile(), tiles = (Tq + br - 1) / br;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(dh)));
  auto task_fn = [&](size_t task, size_t worker) {
    const size_t tile = task % tiles, h = task / tiles % H, img = task / tiles / H;
    const size_t q0 = tile * br;
    const float* base = p.qkv + img * T * p.ld_qkv;
    TileArgs t;
    t.q = base + q0 * p.ld_qkv + h * dh;
    t.k = base + D + h * dh;
    t.v = base + 2 * D + h * dh;
    t.ld = p.ld_qkv;
    t.tokens = T;
    t.head_dim = dh;
    t.rows = std::min(br, Tq - q0);
    t.scale = scale;
    t.key_tile = key_tile;
    t.out = p.out + (img * T + q0) * p.ld_out + h * dh;
    t.ld_out = p.ld_out;
    t.lse = lse ? lse + (img * H + h) * T + q0 : nullptr;
    t.probs = p.probs ? p.probs + ((img * H + h) * T + q0) * T : nullptr;
    FlashTile(d, t, workspace + worker * slice);
  };
  pool.run(p.images * H * tiles, std::ref(task_fn));  // reference_wrapper: no allocation
}

}  // namespace HWY_NAMESPACE
}  // namespace vitbench::optimized::flash
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "optimized/hwy/dispatch.h"

namespace vitbench::optimized::flash {
// See optimized/hwy/dispatch.h: HWY_EXPORT names `hwy::`, which must mean Highway here too.
namespace hwy = ::hwy;

HWY_EXPORT(TilesImpl);
HWY_EXPORT(SliceFloatsImpl);
HWY_EXPORT(FlashImpl);

Tiles tiles(size_t head_dim) {
  Tiles t;
  HWY_DYNAMIC_DISPATCH(TilesImpl)(head_dim, &t.query_rows, &t.key_rows);
  return t;
}

namespace {
// The default key tile: Bc keys, or the whole sequence when it has at most 2·Bc keys. One tile
// then takes the softmax in one pass (no online rescale, no second output pass over O).
size_t default_key_tile(size_t tokens, size_t head_dim) {
  const size_t bc = tiles(head_dim).key_rows;
  return tokens <= 2 * bc ? tokens : bc;  // attention() has returned early for 0 tokens
}
// The key tile a worker's slice is sized for: the given one, or the largest default, so that the
// workspace does not depend on the token count.
size_t slice_key_tile(size_t head_dim, size_t key_tile) {
  return key_tile ? key_tile : 2 * tiles(head_dim).key_rows;
}
}  // namespace

size_t workspace_floats(size_t tokens, size_t head_dim, size_t workers, size_t key_tile) {
  if (tokens == 0 || head_dim == 0) return 0;
  const size_t bc = slice_key_tile(head_dim, key_tile);
  // +16: the caller's buffer need not be 64-byte aligned; slices start at an aligned offset.
  return std::max<size_t>(workers, 1) * HWY_DYNAMIC_DISPATCH(SliceFloatsImpl)(head_dim, bc) + 16;
}

size_t workspace_bytes(size_t tokens, size_t head_dim, size_t workers, size_t key_tile) {
  return workspace_floats(tokens, head_dim, workers, key_tile) * sizeof(float);
}

void attention(const AttentionProblem& p, float* workspace, ThreadPool& pool,
               const Options& options) {
  if (p.images == 0 || p.tokens == 0 || p.heads == 0 || p.head_dim == 0) return;
  const size_t D = p.heads * p.head_dim;
  if (p.ld_qkv < 3 * D || p.ld_out < D) {
    core::fail("flash::attention", "row stride smaller than the row (3D for qkv, D for out)");
  }
  if (!workspace) core::fail("flash::attention", "no workspace (see workspace_floats)");
  p.check_queries("flash::attention");
  const size_t bc = options.key_tile ? options.key_tile : default_key_tile(p.tokens, p.head_dim);
  // Align the slices: the kernels use unaligned accesses, but a 64-byte start keeps each
  // vector within one cache line.
  const auto addr = reinterpret_cast<uintptr_t>(workspace);
  float* aligned = workspace + ((64 - addr % 64) % 64) / sizeof(float) % 16;
  // Workers' slices as workspace_floats laid them out (for the largest default key tile).
  const size_t slice_bc = slice_key_tile(p.head_dim, options.key_tile);
  const size_t slice = HWY_DYNAMIC_DISPATCH(SliceFloatsImpl)(p.head_dim, slice_bc);
  HWY_DYNAMIC_DISPATCH(FlashImpl)(p, aligned, slice, pool, bc, options.lse);
}

}  // namespace vitbench::optimized::flash
#endif  // HWY_ONCE
