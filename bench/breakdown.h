// `vitbench bench --breakdown`: where one backend's forward pass spends its time, per op class,
// and how fast each class runs against the machine's measured FMA peak and DRAM bandwidth.
//
// Measured inside the real forward pass (optimized/forward.h's lap timer), not by timing each
// kernel alone at the model's shapes: in the pass, each kernel finds the caches as its
// predecessor left them (LayerNorm reads the x fc2 just wrote; fc2 streams its weights after
// fc1 evicted them), and the laps cover everything between kernels too (im2col, the position
// embedding), so the shares add up to the forward the whole-model benchmark times. Kernels
// timed alone would each run with warm caches and miss the glue.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/backends.h"
#include "bench/peak.h"
#include "optimized/forward.h"

namespace vitbench::bench {

struct BreakdownClass {
  std::string name;   // one of breakdown_class_names()
  std::string shape;  // GEMMs MxNxK, attention <tokens>x<heads>x<head_dim>, others rowsxcols
  size_t calls = 0;   // per forward
  double seconds = 0;  // per forward
  double share = 0;    // percent of the forward
  double flops = 0;    // per forward (core/flops.h); 0 for pure data movement
  double bytes = 0;    // per forward, the least an elementwise class must move; 0 for GEMMs
  double gflops = 0, percent_peak = 0;       // when flops > 0
  double gbs = 0, percent_bandwidth = 0;     // when bytes > 0
  // The thread pool's parallel regions per forward, and the share of the class's thread time
  // (threads × seconds) its workers spent idle in them: a late start or a wait for the slowest
  // worker (optimized::ThreadPool::idle). No regions: the class ran on one thread (one thread,
  // or one task per call, which the pool runs inline).
  size_t pool_regions = 0;
  double idle_percent = 0;
  std::string note;   // e.g. "fused into fc1's epilogue"
};

struct Breakdown {
  std::string model, backend;
  size_t batch = 1, threads = 1;
  size_t forwards = 0;              // timed (after one untimed warm-up)
  double seconds_per_forward = 0;   // the laps' sum
  double wall_seconds_per_forward = 0;  // the loop's own clock: the laps' sum plus the calls
  double peak_gflops = 0, bandwidth_gbs = 0;
  double idle_percent = 0;  // the pool's idle share of the whole forward's thread time
  std::vector<BreakdownClass> classes;  // breakdown_class_names() order, every class present
};

// gemm.qkv, gemm.proj, gemm.fc1, gemm.fc2, attention, layer_norm, gelu, residual, patch_embed,
// head, other.
const std::vector<std::string>& breakdown_class_names();

// Turns summed laps into per-forward classes with rates (pure: no timing).
Breakdown summarize_breakdown(const core::Config& config, const optimized::ForwardTimes& times,
                              size_t batch, size_t threads, const Peaks& peaks);

// Times `backend` (which must have a kernel set) on `model` through the shared forward pass with
// the lap timer: one untimed forward, then forwards until `min_seconds` have passed and at
// least 3 ran. Throws core::Error for a backend without kernels.
Breakdown measure_breakdown(const ModelUnderTest& model, const BenchBackend& backend, size_t batch,
                            size_t threads, const Peaks& peaks, double min_seconds,
                            uint64_t input_seed);

nlohmann::json to_json(const Breakdown& b);
std::string format_breakdown(const Breakdown& b);

}  // namespace vitbench::bench
