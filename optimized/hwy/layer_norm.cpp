// LayerNorm over rows: y = (x − mean) · rsqrt(var + eps) · gamma + beta, population variance.
//
// Accuracy for rows with a large mean and a small spread (e.g. mean 1e4, std 1): two passes
// with float64 sums.
//   1. mean = Σx / n in float64 (floats widen exactly): its error is ~n·2^-53·Σ|x|, far below
//      float resolution, and it is kept as hi + lo floats (hi = float(mean), lo = float(mean −
//      hi)), which represent it to ~2^-48 relative.
//   2. var = Σ(x − mean)² / n in float64 on the centred values: no cancellation between Σx² and
//      n·mean², the classic failure of the one-pass formula in float.
//   3. y = ((x − hi) − lo) · (rstd·gamma) + beta in float32: x − hi is exact when x is within a
//      factor of two of the mean (Sterbenz) and otherwise rounds relative to the (then large)
//      difference, so (x − mean) keeps ~1 ulp of itself, not of the mean.
// So |y − y_exact| is a few ulp of |(x − mean)·rstd·gamma| + ulp(beta) whatever the mean; float64
// sums cost nothing noticeable here: the kernel is bound by reading the row (three passes over
// dim floats, L1-resident for ViT widths).
// Rows are split into contiguous ranges over the pool; each row is done by one task.
#include <algorithm>
#include <cmath>

#include "optimized/hwy/kernels.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "optimized/hwy/layer_norm.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace vitbench::optimized::hwy {
namespace HWY_NAMESPACE {
namespace hn = ::hwy::HWY_NAMESPACE;

#if HWY_HAVE_FLOAT64
// Σ x[i] and Σ (x[i] − mean)² in float64: loads of Lanes(dd) floats widened to doubles, into
// four independent sums so that the adds' latency (3–4 cycles) does not bound the loop as it did
// with two chains (~2 cycles per vector); the widening converts and the loads set the pace now
// (LayerNorm alone 12–18% faster: docs/performance.md, session 13).
HWY_INLINE void RowMoments(const float* HWY_RESTRICT x, size_t n, double* mean, double* var) {
  const hn::ScalableTag<double> dd;
  const hn::Rebind<float, decltype(dd)> df;  // as many floats as dd has doubles
  const size_t L = hn::Lanes(dd);
  const auto wide = [&](size_t at) { return hn::PromoteTo(dd, hn::LoadU(df, x + at)); };
  auto s0 = hn::Zero(dd), s1 = hn::Zero(dd), s2 = hn::Zero(dd), s3 = hn::Zero(dd);
  size_t i = 0;
  for (; i + 4 * L <= n; i += 4 * L) {
    s0 = hn::Add(s0, wide(i));
    s1 = hn::Add(s1, wide(i + L));
    s2 = hn::Add(s2, wide(i + 2 * L));
    s3 = hn::Add(s3, wide(i + 3 * L));
  }
  for (; i + L <= n; i += L) s0 = hn::Add(s0, wide(i));
  double sum = hn::GetLane(hn::SumOfLanes(dd, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3))));
  for (; i < n; ++i) sum += x[i];
  const double m = sum / static_cast<double>(n);

  const auto vm = hn::Set(dd, m);
  const auto centred = [&](size_t at) { return hn::Sub(wide(at), vm); };
  s0 = s1 = s2 = s3 = hn::Zero(dd);
  for (i = 0; i + 4 * L <= n; i += 4 * L) {
    const auto d0 = centred(i), d1 = centred(i + L), d2 = centred(i + 2 * L);
    const auto d3 = centred(i + 3 * L);
    s0 = hn::MulAdd(d0, d0, s0);
    s1 = hn::MulAdd(d1, d1, s1);
    s2 = hn::MulAdd(d2, d2, s2);
    s3 = hn::MulAdd(d3, d3, s3);
  }
  for (; i + L <= n; i += L) {
    const auto d0 = centred(i);
    s0 = hn::MulAdd(d0, d0, s0);
  }
  double sq = hn::GetLane(hn::SumOfLanes(dd, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3))));
  for (; i < n; ++i) sq += (x[i] - m) * (x[i] - m);
  *mean = m;
  *var = sq / static_cast<double>(n);
}
#else
// Targets without float64 lanes (Armv7 NEON): the same two passes in scalar float64.
HWY_INLINE void RowMoments(const float* HWY_RESTRICT x, size_t n, double* mean, double* var) {
  double sum = 0, sq = 0;
  for (size_t i = 0; i < n; ++i) sum += x[i];
  const double m = sum / static_cast<double>(n);
  for (size_t i = 0; i < n; ++i) sq += (x[i] - m) * (x[i] - m);
  *mean = m;
  *var = sq / static_cast<double>(n);
}
#endif

// y may be x: every element is read before it is written.
HWY_INLINE void NormalizeRow(const float* x, size_t n, const float* HWY_RESTRICT gamma,
                             const float* HWY_RESTRICT beta, float eps, float* y) {
  double mean, var;
  RowMoments(x, n, &mean, &var);
  const float hi = static_cast<float>(mean);
  const float lo = static_cast<float>(mean - static_cast<double>(hi));
  const float rstd = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));

  const hn::ScalableTag<float> d;
  const size_t L = hn::Lanes(d);
  const auto vhi = hn::Set(d, hi), vlo = hn::Set(d, lo), vr = hn::Set(d, rstd);
  size_t i = 0;
  for (; i + L <= n; i += L) {
    const auto centred = hn::Sub(hn::Sub(hn::LoadU(d, x + i), vhi), vlo);
    const auto scale = hn::Mul(vr, hn::LoadU(d, gamma + i));
    hn::StoreU(hn::MulAdd(centred, scale, hn::LoadU(d, beta + i)), d, y + i);
  }
  for (; i < n; ++i) y[i] = std::fma((x[i] - hi) - lo, rstd * gamma[i], beta[i]);
}

void LayerNormImpl(const float* x, size_t rows, size_t dim, size_t ldx, const float* gamma,
                   const float* beta, float eps, float* y, size_t ldy, ThreadPool& pool) {
  // One task per thread: a row is ~1 us of work, so finer tasks would cost more to hand out
  // than they balance. Small inputs stay on the calling thread.
  const size_t tasks = rows * dim < 16384 ? 1 : std::min(rows, pool.size());
  pool.run(tasks, [&](size_t t, size_t) {
    for (size_t r = rows * t / tasks, end = rows * (t + 1) / tasks; r < end; ++r) {
      NormalizeRow(x + r * ldx, dim, gamma, beta, eps, y + r * ldy);
    }
  });
}

}  // namespace HWY_NAMESPACE
}  // namespace vitbench::optimized::hwy
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "optimized/hwy/dispatch.h"

namespace vitbench::optimized::hwy {

HWY_EXPORT(LayerNormImpl);

void layer_norm(const float* x, size_t rows, size_t dim, size_t ldx, const float* gamma,
                const float* beta, float eps, float* y, size_t ldy, ThreadPool& pool) {
  if (rows == 0 || dim == 0) return;
  if (ldx < dim || ldy < dim) core::fail("hwy::layer_norm", "row stride smaller than dim");
  HWY_DYNAMIC_DISPATCH(LayerNormImpl)(x, rows, dim, ldx, gamma, beta, eps, y, ldy, pool);
}

}  // namespace vitbench::optimized::hwy
#endif  // HWY_ONCE
