// Highway GEMM: C[M, N] = epilogue(A[M, K] · Wᵀ), W [N, K] packed once by pack_weights.
//
// Packed layout. W is cut into panels of NR columns of C (NR = kNV vectors: 16 floats on AVX2,
// 48 on AVX-512, 8 on SSE4, 2 on scalar; recorded in PackedWeights::panel_width) and K into
// equal blocks of KC (PackedWeights::k_block). For each K block, the panels follow one another;
// inside a panel, row kk holds the NR weights at depth k0 + kk, zero-padded past N. So one
// "B sliver" (KC × NR) is contiguous and aligned, the microkernel reads it strictly forwards,
// and the slivers a task visits for one K block are adjacent (the hardware prefetcher streams
// them). Packing depends on Lanes(), so it happens under the dispatched target, and gemm()
// refuses weights packed under another one.
//
// Blocking (BLIS's loop nest, with A read in place instead of packed):
//   registers: an MR × NR tile of C (6 × 16 on AVX2 = 12 accumulators; 8 × 48 on AVX-512 = 24):
//              per k, NR/Lanes aligned loads of B, MR broadcasts of A, MR·NR/Lanes FMAs.
//   L1:        the B sliver, KC × NR floats (KC = 256 on AVX2: 16 KiB; KC = 128 on AVX-512:
//              24 KiB; rounded down so K splits into equal blocks), reused by every MR-row
//              micro-panel of the A block; plus the current A micro-panel, MR × KC floats
//              (6 KiB / 4 KiB).
//   L2:        the A block, MC × KC floats with MC <= 256 rows (<= 256 KiB on AVX2, 128 KiB on
//              AVX-512), reused by every panel; and, when K has several blocks, the partial sums of
//              the panels in flight, MC × (panels·NR) floats <= 128 KiB, kept in a per-thread
//              workspace rather than in C so that C is written once, after the last K block, by
//              the fused epilogue (which is what lets the residual alias C). Together they fit the
//              512 KiB L2 of Zen3 and client Intel cores.
//   L3/DRAM:   W streams through once per A block; at M = 197 there is one A block, so every
//              weight is read from memory once per GEMM. The next sliver is prefetched while the
//              current one is in use (its first microkernel would otherwise stall on every line),
//              a line every few k steps inside the microkernels rather than in bursts.
// Sizes and tile shapes were chosen by measurement (docs/performance.md, "GEMM"): on Zen5 the
// AVX-512 kernel runs at 74-96% of the FMA peak at the ViT shapes (median ~88%), the AVX2 one
// at 82-97% of the AVX2 peak.
// Epilogue (bias, GELU erf/tanh, residual) is applied to each MR × NR tile right after its last
// K block, while the tile is in L1; except bias + GELU without a residual (fc1), whose last K
// block fills a per-thread buffer of the whole panel (MC × NR) that one epilogue pass then turns
// into C, four vectors at a time: a GELU is a long dependency chain, and per tile the core could
// overlap too few of them (docs/performance.md, "Closing the gap between gemm_bench and the
// forward pass"). Ragged edges: the last micro-panel uses an MR' < MR kernel,
// the last panel is zero-padded in W and stored through a staging buffer, so nothing outside
// A[M, K], W, C[M, N] or the residual is read or written.
//
// Threads. Tasks are (A block of MC rows) × (a contiguous range of panels), enough of them that
// each thread gets an equal share (and several, for dynamic balance when a core is shared). Each
// task writes its own C tile; the sum for each C element runs over the K blocks in order and
// over k in order within one, in the same register lane, however C is split. So the result is
// bitwise identical for every thread count (tested: DeterministicAcrossThreadCounts).
//
// Error. Each C element is one float32 FMA chain per K block plus one rounding per block
// boundary: |error| <= ~K·2^-24·Σ|a·w| worst case, ~√K·2^-24·max|C| typical for random signs.
#include <algorithm>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "optimized/hwy/kernels.h"
#include "optimized/hwy/workspace.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "optimized/hwy/gemm.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "optimized/hwy/gemm-inl.h"

HWY_BEFORE_NAMESPACE();
namespace vitbench::optimized::hwy {
namespace HWY_NAMESPACE {

void PackWeightsImpl(const float* w, size_t n, size_t k, PackedWeights* out) {
  const size_t nr = PanelWidth();
  const size_t kc = KBlock(k, nr);
  const size_t np = (n + nr - 1) / nr;
  out->n = n;
  out->k = k;
  out->panel_width = nr;
  out->k_block = kc;
  out->panels = core::Tensor({np * nr * k});
  PackNK(w, n, k, k, nr, kc, out->panels.data());
}

// Rows per A block: at most kMaxBlockRows, a multiple of kMR, blocks as equal as possible.
#ifndef VITBENCH_GEMM_MAX_BLOCK_ROWS
#define VITBENCH_GEMM_MAX_BLOCK_ROWS 256
#endif
constexpr size_t kMaxBlockRows = VITBENCH_GEMM_MAX_BLOCK_ROWS;

void GemmImpl(const float* a, size_t m, size_t lda, const PackedWeights& w, float* c, size_t ldc,
              const Epilogue& e, ThreadPool& pool) {
  const hn::ScalableTag<float> d;
  const size_t nr = PanelWidth();
  if (w.panel_width != nr || w.k_block != KBlock(w.k, nr)) {
    core::fail("hwy::gemm", "weights were packed for another SIMD target (panel width " +
                                std::to_string(w.panel_width) + ", this target needs " +
                                std::to_string(nr) + "); pack them under the target that runs");
  }
  GemmOperands g;
  g.a = a;
  g.m = m;
  g.lda = lda;
  g.panels = w.panels.data();
  g.n = w.n;
  g.k = w.k;
  g.nr = nr;
  g.kc = w.k_block;
  g.c = c;
  g.ldc = ldc;
  g.epilogue.bias = e.bias;
  g.epilogue.gelu = e.gelu;
  g.epilogue.gelu_kind = e.gelu_kind;
  g.epilogue.residual = e.residual;
  g.epilogue.ld_residual = e.ld_residual;

  if (g.k == 0) {  // no products: C = epilogue(0)
    HWY_ALIGN float zeros[kMR * kNV * HWY_MAX_BYTES / sizeof(float)] = {};
    for (size_t i = 0; i < m; i += kMR) {
      for (size_t j = 0; j < g.n; j += nr) {
        EpilogueTile(d, zeros, nr, std::min(kMR, m - i), std::min(nr, g.n - j), c, ldc, i, j,
                     g.epilogue);
      }
    }
    return;
  }

  const size_t np = g.panel_count();
  const size_t threads = pool.size();
  size_t m_blocks = (m + kMaxBlockRows - 1) / kMaxBlockRows;
  const size_t block_rows = ((m + m_blocks - 1) / m_blocks + kMR - 1) / kMR * kMR;
  m_blocks = (m + block_rows - 1) / block_rows;
  size_t n_splits = 1;
  if (threads > 1) {
    // About four tasks per thread, and a multiple of the thread count while that is cheap.
    n_splits = std::min(np, std::max<size_t>(1, (4 * threads + m_blocks - 1) / m_blocks));
    while ((m_blocks * n_splits) % threads != 0 && n_splits < np &&
           m_blocks * n_splits < 8 * threads) {
      ++n_splits;
    }
  }
  const size_t sub = SubPanels(block_rows, nr);
  const size_t ws_floats = GemmRangeWorkspaceFloats(g, block_rows, sub);
  pool.run(m_blocks * n_splits, [&](size_t task, size_t) {
    const size_t mb = task / n_splits, ns = task % n_splits;
    const size_t m0 = mb * block_rows, m1 = std::min(m, m0 + block_rows);
    const size_t p0 = np * ns / n_splits, p1 = np * (ns + 1) / n_splits;
    float* ws = ws_floats ? thread_scratch(Scratch::GemmPartials, ws_floats) : nullptr;
    GemmRange(d, g, m0, m1, p0, p1, sub, ws);
  });
}

}  // namespace HWY_NAMESPACE
}  // namespace vitbench::optimized::hwy
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "optimized/hwy/dispatch.h"

namespace vitbench::optimized::hwy {

HWY_EXPORT(PackWeightsImpl);
HWY_EXPORT(GemmImpl);

PackedWeights pack_weights(const float* w, size_t n, size_t k) {
  if (!w && n != 0 && k != 0) core::fail("hwy::pack_weights", "null weights");
  PackedWeights out;
  HWY_DYNAMIC_DISPATCH(PackWeightsImpl)(w, n, k, &out);
  return out;
}

namespace {
// [begin, end) byte span of a strided matrix, for the aliasing check.
std::pair<uintptr_t, uintptr_t> span_of(const float* p, size_t rows, size_t cols, size_t ld) {
  const auto begin = reinterpret_cast<uintptr_t>(p);
  return {begin, begin + ((rows - 1) * ld + cols) * sizeof(float)};
}
}  // namespace

void gemm(const float* a, size_t m, size_t lda, const PackedWeights& w, float* c, size_t ldc,
          const Epilogue& epilogue, ThreadPool& pool) {
  const char* where = "hwy::gemm";
  if (m == 0 || w.n == 0) return;
  if (lda < w.k) core::fail(where, "lda " + std::to_string(lda) + " < K " + std::to_string(w.k));
  if (ldc < w.n) core::fail(where, "ldc " + std::to_string(ldc) + " < N " + std::to_string(w.n));
  if (!c || (!a && w.k)) core::fail(where, "null A or C");
  if (epilogue.residual) {
    if (epilogue.ld_residual < w.n) core::fail(where, "ld_residual < N");
    // Each task reads the residual only where it writes C, so the residual may be C itself;
    // any other overlap would let one task read what another has already overwritten.
    const bool same = epilogue.residual == c && epilogue.ld_residual == ldc;
    const auto rs = span_of(epilogue.residual, m, w.n, epilogue.ld_residual);
    const auto cs = span_of(c, m, w.n, ldc);
    if (!same && rs.first < cs.second && cs.first < rs.second) {
      core::fail(where, "residual overlaps C without being C (same pointer and stride)");
    }
  }
  HWY_DYNAMIC_DISPATCH(GemmImpl)(a, m, lda, w, c, ldc, epilogue, pool);
}

}  // namespace vitbench::optimized::hwy
#endif  // HWY_ONCE
