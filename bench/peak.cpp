// Compiled once per Highway target (foreach_target.h re-includes this file), like the kernels.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "bench/peak.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/highway.h>

#include <cstdint>

HWY_BEFORE_NAMESPACE();
namespace vitbench::bench::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Twelve independent accumulators: each FMA depends only on its own chain's previous result, so
// the core can keep every FMA pipe busy. x = x·m + a converges to a/(1-m) and stays normal, so
// no denormal or overflow slows a long run down.
HWY_NOINLINE float FmaChains(uint64_t iterations, float start) {
  const hn::ScalableTag<float> d;
  const auto m = hn::Set(d, 0.9999f), a = hn::Set(d, 1e-4f);
  auto v0 = hn::Set(d, start), v1 = hn::Set(d, start + 0.01f), v2 = hn::Set(d, start + 0.02f);
  auto v3 = hn::Set(d, start + 0.03f), v4 = hn::Set(d, start + 0.04f), v5 = hn::Set(d, start + 0.05f);
  auto v6 = hn::Set(d, start + 0.06f), v7 = hn::Set(d, start + 0.07f), v8 = hn::Set(d, start + 0.08f);
  auto v9 = hn::Set(d, start + 0.09f), v10 = hn::Set(d, start + 0.1f), v11 = hn::Set(d, start + 0.11f);
  for (uint64_t i = 0; i < iterations; ++i) {
    v0 = hn::MulAdd(v0, m, a);
    v1 = hn::MulAdd(v1, m, a);
    v2 = hn::MulAdd(v2, m, a);
    v3 = hn::MulAdd(v3, m, a);
    v4 = hn::MulAdd(v4, m, a);
    v5 = hn::MulAdd(v5, m, a);
    v6 = hn::MulAdd(v6, m, a);
    v7 = hn::MulAdd(v7, m, a);
    v8 = hn::MulAdd(v8, m, a);
    v9 = hn::MulAdd(v9, m, a);
    v10 = hn::MulAdd(v10, m, a);
    v11 = hn::MulAdd(v11, m, a);
  }
  const auto sum = hn::Add(hn::Add(hn::Add(hn::Add(v0, v1), hn::Add(v2, v3)),
                                   hn::Add(hn::Add(v4, v5), hn::Add(v6, v7))),
                           hn::Add(hn::Add(v8, v9), hn::Add(v10, v11)));
  return hn::GetLane(sum);
}

// FLOPs of one FmaChains iteration: 12 FMAs of Lanes floats, 2 FLOPs each.
size_t FlopsPerIteration() { return 24 * hn::Lanes(hn::ScalableTag<float>()); }

}  // namespace vitbench::bench::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/peak.h"

namespace vitbench::bench {

HWY_EXPORT(FmaChains);
HWY_EXPORT(FlopsPerIteration);

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Runs body(thread) on `threads` threads released together, and returns the wall time from the
// release until the last one finishes. Thread creation happens before the clock starts.
template <typename Body>
double timed_parallel(size_t threads, Body&& body) {
  std::atomic<size_t> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (size_t t = 1; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      body(t);
    });
  }
  while (ready.load() + 1 < threads) std::this_thread::yield();
  const Clock::time_point t0 = Clock::now();
  go.store(true, std::memory_order_release);
  body(size_t{0});
  for (std::thread& th : pool) th.join();
  return seconds_since(t0);
}

// Defeats dead-code elimination without a memory barrier inside the timed loops.
std::atomic<float> g_sink{0};

}  // namespace

double Peaks::fma_for(size_t threads) const {
  if (fma_gflops.empty()) return 0;
  auto it = fma_gflops.find(threads);
  if (it != fma_gflops.end()) return it->second;
  // Nearest measured count, scaled by the ratio of thread counts.
  auto best = fma_gflops.begin();
  for (auto i = fma_gflops.begin(); i != fma_gflops.end(); ++i) {
    const auto dist = [&](size_t t) { return t > threads ? t - threads : threads - t; };
    if (dist(i->first) < dist(best->first)) best = i;
  }
  return best->second * static_cast<double>(threads) / static_cast<double>(best->first);
}

FmaPeak measure_fma_peak(size_t threads, double seconds, int trials) {
  threads = std::max<size_t>(threads, 1);
  trials = std::max(trials, 1);
  const double flops_per_iteration =
      static_cast<double>(HWY_DYNAMIC_DISPATCH(FlopsPerIteration)());
  // Calibrate on one thread so each trial lasts about seconds / trials.
  const double trial_seconds = seconds / trials;
  uint64_t iterations = 1 << 16;
  for (;;) {
    const Clock::time_point t0 = Clock::now();
    g_sink.store(HWY_DYNAMIC_DISPATCH(FmaChains)(iterations, 1.0f));
    const double elapsed = seconds_since(t0);
    if (elapsed > 0.005 || iterations > (uint64_t{1} << 40)) {
      iterations = static_cast<uint64_t>(
          std::max(1.0, static_cast<double>(iterations) * trial_seconds / std::max(elapsed, 1e-9)));
      break;
    }
    iterations *= 4;
  }
  std::vector<double> rates;
  for (int trial = 0; trial < trials; ++trial) {
    std::vector<float> results(threads);
    const double elapsed = timed_parallel(threads, [&](size_t t) {
      results[t] = HWY_DYNAMIC_DISPATCH(FmaChains)(iterations, 1.0f + 0.001f * t);
    });
    for (float r : results) g_sink.store(g_sink.load() + r);
    rates.push_back(flops_per_iteration * static_cast<double>(iterations) *
                    static_cast<double>(threads) / elapsed * 1e-9);
  }
  std::sort(rates.begin(), rates.end());
  // The best trial is the ceiling: noise (other processes, frequency ramps) can only make a
  // trial slower. The median says how noisy the machine was.
  return {rates.back(), rates[rates.size() / 2]};
}

namespace {

struct AlignedFloats {
  struct Free {
    void operator()(float* p) const { ::operator delete[](p, std::align_val_t(64)); }
  };
  AlignedFloats(size_t n, size_t touch_threads)
      : size(n), data(static_cast<float*>(::operator new[](n * sizeof(float), std::align_val_t(64)))) {
    // Each thread first-touches the share it will stream, so its pages sit on its own NUMA node.
    float* p = data.get();
    timed_parallel(touch_threads, [&](size_t t) {
      std::fill(p + n * t / touch_threads, p + n * (t + 1) / touch_threads, 1.0f);
    });
  }
  size_t size;
  std::unique_ptr<float[], Free> data;
};

double stream_gbs(AlignedFloats& buffer, size_t threads, double seconds) {
  float* data = buffer.data.get();
  const size_t n = buffer.size;
  // Read from an atomic so the compiler cannot prove x·m + a is the identity.
  static std::atomic<float> m_source{0.999f}, a_source{0.001f};
  const float m = m_source.load(), a = a_source.load();
  double best = 0, spent = 0;
  for (int pass = 0; pass < 3 || (spent < seconds && pass < 50); ++pass) {
    const double elapsed = timed_parallel(threads, [&](size_t t) {
      float* p = data + n * t / threads;
      const size_t count = n * (t + 1) / threads - n * t / threads;
      for (size_t i = 0; i < count; ++i) p[i] = p[i] * m + a;
    });
    spent += elapsed;
    best = std::max(best, 2.0 * static_cast<double>(n * sizeof(float)) / elapsed * 1e-9);
  }
  g_sink.store(data[n / 2]);
  return best;
}

}  // namespace

double measure_bandwidth_gbs(size_t threads, size_t bytes, double seconds) {
  threads = std::max<size_t>(threads, 1);
  AlignedFloats buffer(std::max<size_t>(bytes / sizeof(float), threads * 1024), threads);
  return stream_gbs(buffer, threads, seconds);
}

Peaks measure_peaks(const std::vector<size_t>& thread_counts, size_t last_level_cache_bytes,
                    const PeakOptions& options) {
  // Four times the last-level cache keeps at most a quarter of the stream in cache; at least
  // 128 MiB because virtual machines often report a cache of 0 or one far too small, and at
  // most 256 MiB because some report the whole socket's L3 (which no one core can use: it is
  // split per core complex, 32-96 MiB each today), and touching more costs start-up time.
  size_t bytes = options.bandwidth_bytes;
  if (bytes == 0) {
    bytes = std::clamp<size_t>(4 * last_level_cache_bytes, size_t{128} << 20, size_t{256} << 20);
  }
  std::vector<size_t> counts;
  for (size_t t : thread_counts) {
    if (t > 0) counts.push_back(t);
  }
  std::sort(counts.begin(), counts.end());
  counts.erase(std::unique(counts.begin(), counts.end()), counts.end());
  Peaks peaks;
  if (counts.empty()) return peaks;
  // One buffer for every thread count, touched once by the most threads.
  AlignedFloats buffer(std::max<size_t>(bytes / sizeof(float), counts.back() * 1024), counts.back());
  for (size_t t : counts) {
    peaks.fma_gflops[t] = measure_fma_peak(t, options.fma_seconds, 5).best_gflops;
    peaks.bandwidth_gbs[t] = stream_gbs(buffer, t, options.bandwidth_seconds);
  }
  return peaks;
}

nlohmann::json to_json(const Peaks& peaks) {
  nlohmann::json fma = nlohmann::json::object(), bw = nlohmann::json::object();
  for (const auto& [t, v] : peaks.fma_gflops) fma[std::to_string(t)] = v;
  for (const auto& [t, v] : peaks.bandwidth_gbs) bw[std::to_string(t)] = v;
  return {{"fma_gflops", fma}, {"bandwidth_gbs", bw}};
}

}  // namespace vitbench::bench

#endif  // HWY_ONCE
