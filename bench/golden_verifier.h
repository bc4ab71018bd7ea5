// The golden cases (golden/) as bench's verifier: a backend is judged on every checked-in case
// by golden::verify and its tolerance policy, and the verdict is turned into the report's
// verification entry. Kept out of vitbench_bench (in vitbench_bench_golden) so the harness
// itself needs no golden library: anything that returns a Verification can verify.
#pragma once

#include <string>

#include "bench/verification.h"

namespace vitbench::bench {

// Cases are listed and loaded once, on first use. Returns nullopt (bench falls back to the
// reference) when `golden_dir` holds no usable case. The float64 reference is judged only on
// cases of at most `reference_max_gflop` per forward (it runs at well under 1 GFLOP/s per
// thread, and the ViT-B case alone would take a minute); optimized backends on every case.
GoldenVerifier make_golden_verifier(const std::string& golden_dir,
                                    double reference_max_gflop = 10.0);

}  // namespace vitbench::bench
