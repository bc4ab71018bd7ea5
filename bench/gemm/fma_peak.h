// The FMA ceiling of this machine, measured rather than looked up, so %peak needs no table of
// clock speeds and means the same on every CPU.
#pragma once

#include <cstddef>

namespace vitbench::bench::gemm {

struct FmaPeak {
  double best_gflops = 0;    // the best of the trials: what the FMA units can do
  double median_gflops = 0;  // the median: how noisy the machine was
  const char* target = "";   // the Highway target the loop ran on (the kernels' target)
};

// `threads` std::threads, each running 12 independent chains of vector FMAs for about
// `seconds` per trial (12 chains cover latency × throughput on every current core: Zen3/4/5
// and recent Intel need 8-10 in flight). `trials` trials; at least 1.
FmaPeak measure_fma_peak(size_t threads, double seconds, size_t trials);

}  // namespace vitbench::bench::gemm
