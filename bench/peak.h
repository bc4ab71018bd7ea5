// The machine's ceilings, measured at start-up on the CPU the benchmarks run on, so % of peak
// means the same thing on every machine and needs no table of clock speeds:
//   - FMA peak: 12 independent chains of vector FMAs per thread (enough to cover the FMA
//     latency × throughput of every current core: Zen3/4 need 8, Intel cores 8-10), through
//     Highway's dynamic dispatch, so it uses the same SIMD target the kernels use.
//   - DRAM bandwidth: an in-place read-modify-write stream over a buffer far larger than the
//     last-level cache (in place, so no write-allocate traffic hides in the count).
// Both run for 1 thread and N threads (std::thread, each thread on its own share).
#pragma once

#include <cstddef>
#include <map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace vitbench::bench {

struct Peaks {
  std::map<size_t, double> fma_gflops;     // thread count -> GFLOP/s
  std::map<size_t, double> bandwidth_gbs;  // thread count -> GB/s (1e9 bytes)

  // The FMA peak for `threads`; for an unmeasured count, the nearest measured one scaled
  // linearly (threads beyond the cores cannot add FMA units, but that is for the caller to know).
  double fma_for(size_t threads) const;
};

struct PeakOptions {
  double fma_seconds = 0.2;        // per thread count, over 5 trials; the best trial counts
  double bandwidth_seconds = 0.2;  // per thread count, at least 3 passes; the best pass counts
  size_t bandwidth_bytes = 0;      // 0: from the last-level cache size, 128-256 MiB (peak.cpp)
};

// Measures both ceilings for every count in `thread_counts` (deduplicated).
Peaks measure_peaks(const std::vector<size_t>& thread_counts, size_t last_level_cache_bytes,
                    const PeakOptions& options = {});

struct FmaPeak {
  double best_gflops = 0;    // the best trial: what the FMA units can do
  double median_gflops = 0;  // the median trial: how noisy the machine was
};

// `threads` threads, created first and then released together (so thread start-up and the
// scheduler's spreading of new threads stay out of the timing), `trials` trials sharing about
// `seconds`.
FmaPeak measure_fma_peak(size_t threads, double seconds, int trials);
double measure_bandwidth_gbs(size_t threads, size_t bytes, double seconds);

// {"fma_gflops": {"1": 92.0, "2": 176.0}, "bandwidth_gbs": {"1": 12.0, "2": 19.5}}
nlohmann::json to_json(const Peaks& peaks);

}  // namespace vitbench::bench
