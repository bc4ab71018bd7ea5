// Per-target GEMM core: panel packing, the register-blocked microkernel, the fused epilogue and
// the serial blocked loop over one (row range × panel range) of C. gemm.cpp threads it over the
// pool; attention.cpp takes KBlock from it.
// The blocking scheme and its sizes are explained in gemm.cpp's header comment.

#if defined(VITBENCH_OPTIMIZED_HWY_GEMM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef VITBENCH_OPTIMIZED_HWY_GEMM_INL_H_
#undef VITBENCH_OPTIMIZED_HWY_GEMM_INL_H_
#else
#define VITBENCH_OPTIMIZED_HWY_GEMM_INL_H_
#endif

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "core/config.h"
#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "optimized/hwy/math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace vitbench::optimized::hwy {
namespace HWY_NAMESPACE {
namespace hn = ::hwy::HWY_NAMESPACE;

// Microkernel tile: kMR rows of A × kNV vectors of B columns, kMR·kNV accumulators.
// 32-register ISAs (AVX-512, NEON/SVE on AArch64) hold a 8×3 tile: 24 accumulators + 3 B
// vectors + 1 broadcast = 28 registers; per k step 24 FMAs against 3 loads + 8 broadcasts.
// 16-register ISAs (AVX2, SSE, scalar emulation) hold 6×2: 12 accumulators + 2 B + 1 broadcast
// = 15; 12 FMAs against 2 loads + 6 broadcasts, the classic Haswell/Zen shape.
// Both keep the FMA units busy across the FMA latency (4 cycles × 2 pipes needs >= 8 chains).
// (Decided per target with #if inside the per-target namespace: a macro defined on the first
// pass of foreach_target would stick for all targets.)
#if defined(VITBENCH_GEMM_MR) && defined(VITBENCH_GEMM_NV)  // tuning builds (one target only)
inline constexpr size_t kMR = VITBENCH_GEMM_MR;
inline constexpr size_t kNV = VITBENCH_GEMM_NV;
#elif HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || HWY_ARCH_ARM_A64
inline constexpr size_t kMR = 8;
inline constexpr size_t kNV = 3;
#else
inline constexpr size_t kMR = 6;
inline constexpr size_t kNV = 2;
#endif
static_assert(kMR >= 1 && kMR <= 12 && kNV >= 1 && kNV <= 4, "microkernel supports 12x4 at most");

// The packed panel width NR (columns per B sliver) of this target.
HWY_INLINE size_t PanelWidth() { return kNV * hn::Lanes(hn::ScalableTag<float>()); }

// K-block length for panel width nr. The B sliver (kc × nr floats) must stay in L1 while the A
// micro-panels stream past it, and the A block (<= 256 rows × kc) plus the partial sums
// (128 KiB) must fit L2:
//   32-register targets (AVX-512): 24 KiB slivers (KC = 128): half of Zen4/5's 48 KiB L1D and
//     three quarters of Intel's 32 KiB; A block <= 128 KiB.
//   16-register targets (AVX2, SSE4, scalar): 16 KiB (KC = 256 on AVX2), so that A block
//     (<= 256 KiB) + partials + sliver fit the 512 KiB L2 of Zen3/Intel client cores. On Zen5,
//     KC = 256, 384 and 512 measured the same (docs/performance.md).
// Blocks are equal-sized (within one) so no block is a sliver of a few k; the block length
// depends only on (K, nr), never on threads.
#ifndef VITBENCH_GEMM_SLIVER_BYTES
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || HWY_ARCH_ARM_A64
#define VITBENCH_GEMM_SLIVER_BYTES_TARGET (24 * 1024)
#else
#define VITBENCH_GEMM_SLIVER_BYTES_TARGET (16 * 1024)
#endif
#else
#define VITBENCH_GEMM_SLIVER_BYTES_TARGET VITBENCH_GEMM_SLIVER_BYTES
#endif
inline constexpr size_t kSliverBytes = VITBENCH_GEMM_SLIVER_BYTES_TARGET;
#undef VITBENCH_GEMM_SLIVER_BYTES_TARGET
HWY_INLINE size_t KBlock(size_t k, size_t nr) {
  const size_t kc_max = std::max<size_t>(64, (kSliverBytes / sizeof(float)) / nr);
  const size_t blocks = (k + kc_max - 1) / kc_max;
  return blocks == 0 ? 1 : (k + blocks - 1) / blocks;
}

// Panel layout (PackNK): for each K block [k0, k0+kc), all panels one after another;
// panel p holds kc rows of nr floats, row kk = columns [p·nr, p·nr + nr) at depth k0 + kk,
// zero beyond column n. Block (k0, kc), panel p therefore starts at k0·np·nr + p·kc·nr, and the
// slivers a thread walks through for one K block are contiguous in memory.
inline size_t PanelOffset(size_t k0, size_t kc, size_t np, size_t nr, size_t p) {
  return k0 * np * nr + p * kc * nr;
}

// From W [n, k] (row stride ldw): the weight layout, column j of the panels is row j of W.
// Reads W row by row (contiguously) and scatters into the panel, which is small enough to stay
// in L1 while it is filled.
inline void PackNK(const float* HWY_RESTRICT w, size_t n, size_t k, size_t ldw, size_t nr,
                   size_t kc, float* HWY_RESTRICT out) {
  const size_t np = (n + nr - 1) / nr;
  for (size_t k0 = 0; k0 < k; k0 += kc) {
    const size_t kcb = std::min(kc, k - k0);
    for (size_t p = 0; p < np; ++p) {
      float* panel = out + PanelOffset(k0, kcb, np, nr, p);
      const size_t cols = std::min(nr, n - p * nr);
      if (cols < nr) std::fill(panel, panel + kcb * nr, 0.0f);
      for (size_t j = 0; j < cols; ++j) {
        const float* row = w + (p * nr + j) * ldw + k0;
        for (size_t kk = 0; kk < kcb; ++kk) panel[kk * nr + j] = row[kk];
      }
    }
  }
}

// The microkernel: out[kRows, NR] = in[kRows, NR] (or 0 when in is null) + A[kRows, kc] · B,
// B one packed sliver (kc × NR, aligned). A rows are read in place (row stride lda): every A
// element is broadcast once per sliver, so packing A would copy as many bytes as it saves, and
// the rows of an A block stay in L2 either way. `in` may equal `out` (partial sums updated in
// place), so neither is HWY_RESTRICT.
// Named accumulators rather than arrays, because arrays of vectors are not allowed for the
// sizeless SVE/RVV vector types; the compiler drops the ones a tile size does not use.
#define VB_ROW_DECL(r)                                                                     \
  [[maybe_unused]] V c##r##0 = zero, c##r##1 = zero, c##r##2 = zero, c##r##3 = zero;        \
  [[maybe_unused]] const float* HWY_RESTRICT a##r = a + std::min<size_t>(r, kRows - 1) * lda;
#define VB_ROW_LOAD(r)                                               \
  if constexpr (kRows > r) {                                         \
    const float* row = in + r * ld_in;                               \
    c##r##0 = hn::LoadU(d, row);                                     \
    if constexpr (kNV > 1) c##r##1 = hn::LoadU(d, row + L);          \
    if constexpr (kNV > 2) c##r##2 = hn::LoadU(d, row + 2 * L);      \
    if constexpr (kNV > 3) c##r##3 = hn::LoadU(d, row + 3 * L);      \
  }
#define VB_ROW_FMA(r)                                                \
  if constexpr (kRows > r) {                                         \
    const V av = hn::Set(d, a##r[k]);                                \
    c##r##0 = hn::MulAdd(av, b0, c##r##0);                           \
    if constexpr (kNV > 1) c##r##1 = hn::MulAdd(av, b1, c##r##1);    \
    if constexpr (kNV > 2) c##r##2 = hn::MulAdd(av, b2, c##r##2);    \
    if constexpr (kNV > 3) c##r##3 = hn::MulAdd(av, b3, c##r##3);    \
  }
#define VB_ROW_STORE(r)                                              \
  if constexpr (kRows > r) {                                         \
    float* row = out + r * ld_out;                                   \
    hn::StoreU(c##r##0, d, row);                                     \
    if constexpr (kNV > 1) hn::StoreU(c##r##1, d, row + L);          \
    if constexpr (kNV > 2) hn::StoreU(c##r##2, d, row + 2 * L);      \
    if constexpr (kNV > 3) hn::StoreU(c##r##3, d, row + 3 * L);      \
  }
#define VB_ALL_ROWS(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11)

#define VB_K_STEP                                                \
  {                                                              \
    const V b0 = hn::Load(d, b);                                 \
    [[maybe_unused]] V b1 = b0, b2 = b0, b3 = b0;                \
    if constexpr (kNV > 1) b1 = hn::Load(d, b + L);              \
    if constexpr (kNV > 2) b2 = hn::Load(d, b + 2 * L);          \
    if constexpr (kNV > 3) b3 = hn::Load(d, b + 3 * L);          \
    VB_ALL_ROWS(VB_ROW_FMA)                                      \
    b += kNV * L;                                                \
  }

inline constexpr size_t kLineFloats = 64 / sizeof(float);

// pf: `pf_lines` (<= kc) cache lines to prefetch (GemmRange's next sliver), one every
// kc / pf_lines steps of k, so that they leave the core as a trickle while the FMAs run: issued
// as a burst of ~16 before each call, they held 3-4% of the ViT-B forward's profile
// (docs/performance.md, "The weight prefetch spread through the microkernel").
template <size_t kRows, class D>
HWY_NOINLINE void Microkernel(D d, const float* HWY_RESTRICT a, size_t lda,
                              const float* HWY_RESTRICT b, size_t kc,
                              const float* in, size_t ld_in, float* out, size_t ld_out,
                              const float* pf, size_t pf_lines) {
  using V = hn::Vec<D>;
  const size_t L = hn::Lanes(d);
  const V zero = hn::Zero(d);
  VB_ALL_ROWS(VB_ROW_DECL)
  if (in) {
    VB_ALL_ROWS(VB_ROW_LOAD)
  }
  size_t k = 0;
  if (pf_lines != 0) {
    const size_t step = kc / pf_lines;
    for (size_t line = 0; line < pf_lines; ++line) {
      ::hwy::Prefetch(pf + line * kLineFloats);
      for (const size_t end = k + step; k < end; ++k) VB_K_STEP
    }
  }
  for (; k < kc; ++k) VB_K_STEP
  VB_ALL_ROWS(VB_ROW_STORE)
}
#undef VB_K_STEP
#undef VB_ROW_DECL
#undef VB_ROW_LOAD
#undef VB_ROW_FMA
#undef VB_ROW_STORE
#undef VB_ALL_ROWS

template <class D>
HWY_INLINE void MicrokernelRows(D d, size_t rows, const float* HWY_RESTRICT a, size_t lda,
                                const float* HWY_RESTRICT b, size_t kc, const float* in,
                                size_t ld_in, float* out, size_t ld_out, const float* pf,
                                size_t pf_lines) {
  switch (rows) {
#define VB_CASE(r)                                                                     \
  case r:                                                                              \
    if constexpr (r <= kMR) {                                                          \
      return Microkernel<r>(d, a, lda, b, kc, in, ld_in, out, ld_out, pf, pf_lines);   \
    }                                                                                  \
    break;
    VB_CASE(1) VB_CASE(2) VB_CASE(3) VB_CASE(4) VB_CASE(5) VB_CASE(6)
    VB_CASE(7) VB_CASE(8) VB_CASE(9) VB_CASE(10) VB_CASE(11) VB_CASE(12)
#undef VB_CASE
    default:
      break;
  }
}

// What the epilogue does; pointers are to the whole bias vector / residual matrix.
struct EpilogueArgs {
  const float* bias = nullptr;
  bool gelu = false;
  core::GeluKind gelu_kind = core::GeluKind::Erf;
  const float* residual = nullptr;
  size_t ld_residual = 0;
  bool trivial() const { return !bias && !gelu && !residual; }
};

template <class D, class V = hn::Vec<D>>
HWY_INLINE V ApplyEpilogue(D d, V v, const EpilogueArgs& e, const float* bias,
                           const float* residual) {
  if (bias) v = hn::Add(v, hn::LoadU(d, bias));
  if (e.gelu) v = Gelu(d, v, e.gelu_kind);
  if (residual) v = hn::Add(v, hn::LoadU(d, residual));
  return v;
}

// C[rows, cols] = epilogue(tile[rows, cols]) for the tile whose top-left is (i0, j0) in C.
// The residual is read before C is written, element by element, so it may be C itself.
template <class D>
HWY_INLINE void EpilogueTile(D d, const float* HWY_RESTRICT tile, size_t ld_tile, size_t rows,
                             size_t cols, float* c, size_t ldc, size_t i0, size_t j0,
                             const EpilogueArgs& e) {
  const size_t L = hn::Lanes(d);
  for (size_t r = 0; r < rows; ++r) {
    const float* t = tile + r * ld_tile;
    float* crow = c + (i0 + r) * ldc + j0;
    const float* bias = e.bias ? e.bias + j0 : nullptr;
    const float* res = e.residual ? e.residual + (i0 + r) * e.ld_residual + j0 : nullptr;
    size_t j = 0;
    for (; j + L <= cols; j += L) {
      hn::StoreU(ApplyEpilogue(d, hn::LoadU(d, t + j), e, bias ? bias + j : nullptr,
                               res ? res + j : nullptr),
                 d, crow + j);
    }
    if (j < cols) {
      // Ragged right edge: stage the few valid columns through full-width buffers, so no
      // vector load or store touches memory past column n (Highway 1.0.3 has no LoadN).
      const size_t rem = cols - j;
      HWY_ALIGN float bias_buf[HWY_MAX_BYTES / sizeof(float)] = {};
      HWY_ALIGN float res_buf[HWY_MAX_BYTES / sizeof(float)] = {};
      HWY_ALIGN float out_buf[HWY_MAX_BYTES / sizeof(float)] = {};
      if (bias) std::memcpy(bias_buf, bias + j, rem * sizeof(float));
      if (res) std::memcpy(res_buf, res + j, rem * sizeof(float));
      const auto v = ApplyEpilogue(d, hn::LoadU(d, t + j), e, bias ? bias_buf : nullptr,
                                   res ? res_buf : nullptr);
      hn::Store(v, d, out_buf);
      std::memcpy(crow + j, out_buf, rem * sizeof(float));
    }
  }
}

// C[m0:m1, j0:j0+cols] = epilogue(buf) for one panel whose finished sums the microkernels left in
// buf (m1 − m0 rows of nr floats, contiguous), with a GELU and no residual. GELU is a long
// dependency chain per vector (a division, the erfc polynomial, an exp), so its cost is how many
// chains the core overlaps: a tile's epilogue offers 24 vectors right after an FMA-bound
// microkernel, a panel's hundreds, four at a time (GeluErf4). Measured on fc1 (ViT-B, 2 threads):
// the GELU's share of the GEMM halved (docs/performance.md). Same operations per element as
// EpilogueTile, so the same results.
template <class D>
HWY_INLINE void EpiloguePanelGelu(D d, const float* HWY_RESTRICT buf, size_t nr, size_t m0,
                                  size_t m1, size_t j0, size_t cols, float* c, size_t ldc,
                                  const EpilogueArgs& e) {
  using V = hn::Vec<D>;
  const size_t L = hn::Lanes(d);
  size_t i = m0;
  if (cols == nr && e.gelu_kind == core::GeluKind::Erf && !e.residual) {
    for (; i + 4 <= m1; i += 4) {
      const float* t = buf + (i - m0) * nr;
      float* r0 = c + i * ldc + j0;
      for (size_t j = 0; j < nr; j += L) {
        V v0 = hn::LoadU(d, t + j), v1 = hn::LoadU(d, t + nr + j);
        V v2 = hn::LoadU(d, t + 2 * nr + j), v3 = hn::LoadU(d, t + 3 * nr + j);
        if (e.bias) {
          const V b = hn::LoadU(d, e.bias + j0 + j);
          v0 = hn::Add(v0, b), v1 = hn::Add(v1, b), v2 = hn::Add(v2, b), v3 = hn::Add(v3, b);
        }
        GeluErf4(d, v0, v1, v2, v3);
        hn::StoreU(v0, d, r0 + j);
        hn::StoreU(v1, d, r0 + ldc + j);
        hn::StoreU(v2, d, r0 + 2 * ldc + j);
        hn::StoreU(v3, d, r0 + 3 * ldc + j);
      }
    }
  }
  if (i < m1) EpilogueTile(d, buf + (i - m0) * nr, nr, m1 - i, cols, c, ldc, i, j0, e);
}

// The operands of one GEMM: C = epilogue(A · B) with B packed (np panels of nr columns, K
// blocks of kc).
struct GemmOperands {
  const float* a = nullptr;
  size_t m = 0, lda = 0;
  const float* panels = nullptr;
  size_t n = 0, k = 0, nr = 0, kc = 0;
  float* c = nullptr;
  size_t ldc = 0;
  EpilogueArgs epilogue;
  size_t panel_count() const { return (n + nr - 1) / nr; }
};

// Floats of workspace GemmRange needs for rows [m0, m1) (none when K is one block).
inline size_t GemmWorkspaceFloats(const GemmOperands& g, size_t rows, size_t sub_panels) {
  return g.k > g.kc ? rows * sub_panels * g.nr : 0;
}

// Whether GemmRange runs the epilogue per panel from a buffer (EpiloguePanelGelu) rather than per
// tile: with a GELU, unless a residual (which may alias C) is added after it.
inline bool GeluPanelPass(const EpilogueArgs& e) {
  return e.gelu && !e.residual;
}

// Floats of workspace GemmRange needs for rows [m0, m1) in all: the partial sums, then the
// panel buffer of the GELU epilogue.
inline size_t GemmRangeWorkspaceFloats(const GemmOperands& g, size_t rows, size_t sub) {
  return GemmWorkspaceFloats(g, rows, sub) + (GeluPanelPass(g.epilogue) ? rows * g.nr : 0);
}

// How many panels GemmRange processes at once: their partial sums (rows × panels·nr floats)
// must stay in L2 next to the A block (rows × kc), about 128 KiB for the partials.
#ifndef VITBENCH_GEMM_PREFETCH
#define VITBENCH_GEMM_PREFETCH 1
#endif
#ifndef VITBENCH_GEMM_PARTIALS_BYTES
#define VITBENCH_GEMM_PARTIALS_BYTES (128 * 1024)
#endif
inline size_t SubPanels(size_t rows, size_t nr) {
  return std::max<size_t>(
      1, (VITBENCH_GEMM_PARTIALS_BYTES / sizeof(float)) / (std::max<size_t>(rows, 1) * nr));
}

// C rows [m0, m1) × panels [p0, p1), serially, `sub` panels at a time (SubPanels(r, nr) for
// some r >= m1 − m0). `ws` holds GemmRangeWorkspaceFloats(g, r, sub) floats.
// Loop nest (outer to inner): panel group (partials in L2) → K block (A block in L2) → panel
// (B sliver in L1) → micro-panel of kMR rows (microkernel). For every C element the sum runs
// over the K blocks in order and, within one, over k in order, whatever the range: results do
// not depend on how C is split into ranges, hence not on the thread count.
template <class D>
HWY_NOINLINE void GemmRange(D d, const GemmOperands& g, size_t m0, size_t m1, size_t p0,
                            size_t p1, size_t sub, float* HWY_RESTRICT ws) {
  const size_t nr = g.nr, np = g.panel_count();
  const bool trivial = g.epilogue.trivial();
  // With a GELU, the last K block's sums go to a panel buffer after the partial sums in ws, and
  // the epilogue runs once per panel (EpiloguePanelGelu).
  const bool gelu_pass = GeluPanelPass(g.epilogue);
  float* panel_buf = gelu_pass ? ws + GemmWorkspaceFloats(g, m1 - m0, sub) : nullptr;
  HWY_ALIGN float tile[kMR * kNV * HWY_MAX_BYTES / sizeof(float)];
  for (size_t ps = p0; ps < p1; ps += sub) {
    const size_t pe = std::min(p1, ps + sub);
    const size_t ld_ws = (pe - ps) * nr;
    for (size_t k0 = 0; k0 < g.k; k0 += g.kc) {
      const size_t kcb = std::min(g.kc, g.k - k0);
      const bool first = k0 == 0, last = k0 + kcb == g.k;
      for (size_t p = ps; p < pe; ++p) {
        const float* b = g.panels + PanelOffset(k0, kcb, np, nr, p);
        const size_t j0 = p * nr;
        const size_t cols = std::min(nr, g.n - j0);
        float* ws_panel = ws ? ws + (p - ps) * nr : nullptr;
        // The sliver after this one (next panel, or the group's first panel in the next K
        // block) comes from L3 or DRAM; the first microkernel on it would stall on every line.
        // Each micro-panel prefetches its share of it instead, so it arrives spread over the
        // ~(m1 − m0)/kMR microkernels of this sliver.
        const float* next = nullptr;
        size_t next_floats = 0;
#if VITBENCH_GEMM_PREFETCH
        if (p + 1 < pe) {
          next = b + kcb * nr;  // panels of one K block are adjacent
          next_floats = kcb * nr;
        } else if (k0 + kcb < g.k) {
          const size_t kcn = std::min(g.kc, g.k - k0 - kcb);
          next = g.panels + PanelOffset(k0 + kcb, kcn, np, nr, ps);
          next_floats = kcn * nr;
        }
#endif
        const size_t micro_panels = (m1 - m0 + kMR - 1) / kMR;
        const size_t next_lines = (next_floats + kLineFloats - 1) / kLineFloats;
        const size_t lines_per_panel =
            (next_lines + micro_panels - 1) / std::max<size_t>(micro_panels, 1);
        size_t next_line = 0;
        for (size_t i = m0; i < m1; i += kMR) {
          const size_t mr = std::min(kMR, m1 - i);
          // This micro-panel's share of the lines: the microkernel spreads up to one per k
          // step over its loop; more than that (few rows, so few micro-panels) go out here.
          size_t lines = std::min(lines_per_panel, next_lines - next_line);
          for (; lines > kcb; --lines, ++next_line) {
            ::hwy::Prefetch(next + next_line * kLineFloats);
          }
          const float* pf = next + next_line * kLineFloats;
          next_line += lines;
          const float* a = g.a + i * g.lda + k0;
          const float* in = first ? nullptr : ws_panel + (i - m0) * ld_ws;
          const auto kernel_into = [&](float* out, size_t ld_out) {
            MicrokernelRows(d, mr, a, g.lda, b, kcb, in, ld_ws, out, ld_out, pf, lines);
          };
          if (!last) {
            kernel_into(ws_panel + (i - m0) * ld_ws, ld_ws);
          } else if (gelu_pass) {
            kernel_into(panel_buf + (i - m0) * nr, nr);
          } else if (trivial && cols == nr) {
            kernel_into(g.c + i * g.ldc + j0, g.ldc);
          } else {
            kernel_into(tile, nr);
            EpilogueTile(d, tile, nr, mr, cols, g.c, g.ldc, i, j0, g.epilogue);
          }
        }
        if (last && gelu_pass) {
          EpiloguePanelGelu(d, panel_buf, nr, m0, m1, j0, cols, g.c, g.ldc, g.epilogue);
        }
      }
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace vitbench::optimized::hwy
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
