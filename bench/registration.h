// The benchmarks of a run, registered with Google Benchmark at run time: whole models (model ×
// batch × threads × backend) and single ops (op × backend × the real shapes of the chosen
// models × threads), named as docs/report-format.md specifies. Each benchmark is a Case that
// sets itself up on its first run (packing weights, allocating buffers: never timed) and is
// released as soon as its results are reported, so a long run holds one model's packed weights
// at a time.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench/backends.h"
#include "bench/peak.h"

namespace vitbench::bench {

enum class CaseKind { Model, Op };

struct CaseInfo {
  std::string name;  // "model/vit-b16@224/b1/t2/hwy", "op/linear/vit-b16@224/197x2304x768/t2/blis"
  CaseKind kind = CaseKind::Model;
  std::string model;  // model id
  std::string backend;
  std::string op;     // ops only
  std::string shape;  // ops only
  size_t batch = 0;   // models: images per forward; ops: the batch whose shape this is
  size_t threads = 1;
  double flops = 0;   // per iteration, from core/flops.h
  double bytes = 0;   // per iteration, memory-bound ops only (0 otherwise)
  bool fixed_iterations = false;  // the reference: one forward per repetition
  double estimated_seconds = 0;   // for progress: set-up plus every repetition
};

class Case {
 public:
  explicit Case(CaseInfo info) : info_(std::move(info)) {}
  virtual ~Case() = default;
  const CaseInfo& info() const { return info_; }
  CaseInfo& info() { return info_; }
  bool ready() const { return ready_; }
  void set_up() {
    if (!ready_) do_set_up();
    ready_ = true;
  }
  void release() {
    if (ready_) do_release();
    ready_ = false;
  }
  virtual void iterate() = 0;  // one timed iteration

 protected:
  virtual void do_set_up() = 0;
  virtual void do_release() = 0;

 private:
  CaseInfo info_;
  bool ready_ = false;
};

// The ops bench knows, in report order.
const std::vector<std::string>& op_names();

struct PlanOptions {
  std::vector<size_t> threads = {1};
  std::vector<size_t> batches = {1};
  std::vector<std::string> ops;  // empty: whole models only
  bool models = true;            // whole-model benchmarks
  // The reference is timed end to end only for forwards of at most this many GFLOP: it runs
  // at well under 1 GFLOP/s per thread, so ViT-Ti at batch 1 (2.5 GFLOP) is seconds per
  // repetition, while ViT-B (35 GFLOP) would be about a minute.
  double reference_max_gflop = 3.0;
  int repetitions = 5;
  double min_time = 0.5;
  uint64_t input_seed = 1;
};

struct Plan {
  std::vector<std::unique_ptr<Case>> cases;
  std::vector<std::string> skipped;  // one line each: what was not planned and why
};

// Every case for `models` × `backends` (each backend must outlive the plan) under `options`.
// Throws core::Error for an unknown op.
Plan plan_benchmarks(const std::vector<const ModelUnderTest*>& models,
                     const std::vector<const BenchBackend*>& backends, const PlanOptions& options);

// Fills every case's estimated_seconds from the measured peaks.
void estimate_durations(Plan& plan, const Peaks& peaks, const PlanOptions& options);

// Registers every case with Google Benchmark (after ClearRegisteredBenchmarks). `on_start(i)`
// is called when case i starts (before its untimed set-up). Counters per docs/report-format.md:
// GFLOP/s and %peak as iteration-invariant rates, images/s for models, bytes_per_second for
// memory-bound ops, threads.
void register_benchmarks(Plan& plan, const Peaks& peaks, int repetitions,
                         std::function<void(size_t)> on_start);

}  // namespace vitbench::bench
