// FMA peak microbenchmark in Highway, compiled for every target and dispatched like the
// kernels, so it runs at the native vector width (AVX-512 where the GEMM uses AVX-512).
#include "bench/gemm/fma_peak.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "bench/gemm/fma_peak.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace vitbench::bench::gemm {
namespace HWY_NAMESPACE {
namespace hn = ::hwy::HWY_NAMESPACE;

// Runs `iters` rounds of 12 dependent-per-chain FMAs; returns the FLOPs done. The sum of the
// chains goes to `sink` so the compiler must compute them.
double FmaChains(size_t iters, float* sink) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const V m = hn::Set(d, 0.999999f), a = hn::Set(d, 1e-7f);
  V c0 = hn::Set(d, 1.0f), c1 = hn::Set(d, 1.1f), c2 = hn::Set(d, 1.2f), c3 = hn::Set(d, 1.3f);
  V c4 = hn::Set(d, 1.4f), c5 = hn::Set(d, 1.5f), c6 = hn::Set(d, 1.6f), c7 = hn::Set(d, 1.7f);
  V c8 = hn::Set(d, 1.8f), c9 = hn::Set(d, 1.9f), c10 = hn::Set(d, 2.0f), c11 = hn::Set(d, 2.1f);
  for (size_t i = 0; i < iters; ++i) {
    c0 = hn::MulAdd(c0, m, a);
    c1 = hn::MulAdd(c1, m, a);
    c2 = hn::MulAdd(c2, m, a);
    c3 = hn::MulAdd(c3, m, a);
    c4 = hn::MulAdd(c4, m, a);
    c5 = hn::MulAdd(c5, m, a);
    c6 = hn::MulAdd(c6, m, a);
    c7 = hn::MulAdd(c7, m, a);
    c8 = hn::MulAdd(c8, m, a);
    c9 = hn::MulAdd(c9, m, a);
    c10 = hn::MulAdd(c10, m, a);
    c11 = hn::MulAdd(c11, m, a);
  }
  const V s = hn::Add(hn::Add(hn::Add(c0, c1), hn::Add(c2, c3)),
                      hn::Add(hn::Add(hn::Add(c4, c5), hn::Add(c6, c7)),
                              hn::Add(hn::Add(c8, c9), hn::Add(c10, c11))));
  *sink = hn::GetLane(hn::SumOfLanes(d, s));
  return 2.0 * 12.0 * static_cast<double>(hn::Lanes(d)) * static_cast<double>(iters);
}

const char* TargetName() { return ::hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace vitbench::bench::gemm
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace vitbench::bench::gemm {

HWY_EXPORT(FmaChains);
HWY_EXPORT(TargetName);

FmaPeak measure_fma_peak(size_t threads, double seconds, size_t trials) {
  using clock = std::chrono::steady_clock;
  float sink = 0;
  // Calibrate the round count to ~seconds on one thread.
  size_t iters = 1 << 16;
  for (;;) {
    const auto t0 = clock::now();
    HWY_DYNAMIC_DISPATCH(FmaChains)(iters, &sink);
    const double el = std::chrono::duration<double>(clock::now() - t0).count();
    if (el > 0.02) {
      iters = static_cast<size_t>(static_cast<double>(iters) * seconds / el) + 1;
      break;
    }
    iters *= 4;
  }
  std::vector<double> rates;
  for (size_t t = 0; t < std::max<size_t>(trials, 1); ++t) {
    std::vector<double> flops(threads);
    std::vector<float> sinks(threads);
    std::vector<std::thread> pool;
    const auto t0 = clock::now();
    for (size_t i = 0; i < threads; ++i) {
      pool.emplace_back([&, i] { flops[i] = HWY_DYNAMIC_DISPATCH(FmaChains)(iters, &sinks[i]); });
    }
    for (auto& th : pool) th.join();
    const double el = std::chrono::duration<double>(clock::now() - t0).count();
    double total = 0;
    for (double f : flops) total += f;
    rates.push_back(total / el * 1e-9);
  }
  std::sort(rates.begin(), rates.end());
  FmaPeak peak;
  peak.best_gflops = rates.back();
  peak.median_gflops = rates[rates.size() / 2];
  peak.target = HWY_DYNAMIC_DISPATCH(TargetName)();
  return peak;
}

}  // namespace vitbench::bench::gemm
#endif  // HWY_ONCE
