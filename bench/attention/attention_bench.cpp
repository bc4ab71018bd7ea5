// Attention benchmark: flash attention (optimized/flash/) against the materialized attention of
// the hwy and blis backends, over a token sweep, plus the whole ViT-B/16 at 384 px on every
// backend that matters here, in one process so that their ratios come from one run.
//
//   attention/T:<tokens>/threads:<n>/<kernel>   T = 197, 577, 1025, 2305, 4097; 12 heads of 64,
//                                              one image (ViT-B at 224, 384, 512, 768, 1024 px)
//   model/vit-b16@384/threads:<n>/<backend>     one image, 577 tokens, synthetic weights
//
// Counters: GFLOP/s (4·T²·D per attention: Q·Kᵀ and P·V, core::flops::attention; for the whole
// model, the matmul FLOPs the optimized forward computes, core::flops::optimized_per_image), as
// an iteration-invariant rate over real time, and
// workspace_bytes: the scratch the kernel holds for the problem at that thread count
// (flash::workspace_bytes; blis: one T×T score matrix per worker, its workspace_floats; hwy: its
// per-thread T×T scores and transposed queries, hwy::attention_scratch_floats, which it keeps in
// thread-local buffers and so reports as 0 through AttentionKernel::workspace_floats).
// Opt-in: built next to vitbench, never part of `vitbench bench`. A default run (3 repetitions,
// 1 thread and the machine's, or --threads=LIST: bench/tool_threads.h) takes a few minutes;
// --benchmark_filter='attention/.*' skips the models.
// Every kernel's output is checked against float64 on a sample of rows before it is timed; a
// wrong result skips the benchmark with an error.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/tool_scheduling.h"
#include "bench/tool_threads.h"
#include "core/flops.h"
#include "core/model_loader.h"
#include "core/tensor.h"
#include "core/weights.h"
#include "optimized/backend.h"
#include "optimized/flash/kernels.h"
#include "optimized/hwy/kernels.h"
#include "optimized/kernel_set.h"
#include "optimized/thread_pool.h"

namespace {

using vitbench::core::Tensor;
namespace opt = vitbench::optimized;

constexpr size_t kHeads = 12, kHeadDim = 64;

// hwy::attention's own scratch: per worker, one head's transposed scores and queries
// (optimized/hwy/attention.cpp), kept in thread-local buffers rather than a workspace.
double hwy_scratch_bytes(size_t tokens, size_t threads) {
  return 4.0 * static_cast<double>(threads) *
         static_cast<double>(opt::hwy::attention_scratch_floats(tokens, kHeadDim));
}

// Max |out − exact| / max |exact| over a sample of query rows of every head (float64 exact).
double sampled_error(const std::vector<float>& qkv, size_t T, const std::vector<float>& out) {
  const size_t D = kHeads * kHeadDim, ld = 3 * D;
  const double scale = 1.0 / std::sqrt(static_cast<double>(kHeadDim));
  double max_err = 0, max_ref = 0;
  std::vector<double> s(T);
  for (size_t i : {size_t{0}, T / 3, T / 2, T - 1}) {
    for (size_t h = 0; h < kHeads; ++h) {
      double m = -INFINITY;
      for (size_t j = 0; j < T; ++j) {
        double dot = 0;
        for (size_t c = 0; c < kHeadDim; ++c) {
          dot += static_cast<double>(qkv[i * ld + h * kHeadDim + c]) * qkv[j * ld + D + h * kHeadDim + c];
        }
        s[j] = dot * scale;
        m = std::max(m, s[j]);
      }
      double sum = 0;
      for (size_t j = 0; j < T; ++j) sum += (s[j] = std::exp(s[j] - m));
      for (size_t c = 0; c < kHeadDim; ++c) {
        double o = 0;
        for (size_t j = 0; j < T; ++j) o += s[j] * qkv[j * ld + 2 * D + h * kHeadDim + c];
        o /= sum;
        max_ref = std::max(max_ref, std::abs(o));
        max_err = std::max(max_err, std::abs(o - out[i * D + h * kHeadDim + c]));
      }
    }
  }
  return max_ref > 0 ? max_err / max_ref : max_err;
}

void attention_benchmark(benchmark::State& state, const std::string& kernel, size_t T,
                         size_t threads) {
  const opt::KernelSet& set = opt::kernel_set(kernel);
  const size_t D = kHeads * kHeadDim;
  // Activations of unit size with qkv-like spread: scores of a few units, peaked rows.
  std::mt19937_64 rng(T);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::vector<float> qkv(T * 3 * D), out(T * D);
  for (float& x : qkv) x = dist(rng);
  opt::ThreadPool pool(threads);
  Tensor workspace({std::max<size_t>(1, set.attention.workspace_floats(T, kHeadDim, threads))});
  const opt::AttentionProblem p{.qkv = qkv.data(),
                                .ld_qkv = 3 * D,
                                .images = 1,
                                .tokens = T,
                                .heads = kHeads,
                                .head_dim = kHeadDim,
                                .out = out.data(),
                                .ld_out = D};

  set.attention.run(p, workspace.data(), pool);
  // float32 attention at these sizes is ~1e-6 off (tests/optimized/test_flash_attention.cpp);
  // 1e-4 catches any indexing or tiling bug while leaving rounding alone.
  const double err = sampled_error(qkv, T, out);
  if (!(err <= 1e-4)) {
    state.SkipWithError(("wrong result: sampled error " + std::to_string(err)).c_str());
    return;
  }
  for (auto _ : state) {
    set.attention.run(p, workspace.data(), pool);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  const double flops = vitbench::core::flops::attention(T, kHeads, kHeadDim);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  const double ws = kernel == "hwy" ? hwy_scratch_bytes(T, threads)
                                    : 4.0 * set.attention.workspace_floats(T, kHeadDim, threads);
  state.counters["workspace_bytes"] = ws;
  state.counters["sampled_rel_error"] = err;
}

void model_benchmark(benchmark::State& state, const std::string& backend, size_t threads) {
  static const vitbench::core::Model model = vitbench::core::load_model("vit-b16@384", 0);
  const Tensor images = vitbench::core::generate_images(model.config, 1, 1);
  auto prepared = opt::find_backend(backend).prepare(model, threads);
  Tensor logits = prepared->forward(images, nullptr);  // warm-up: buffers sized, pages touched
  for (auto _ : state) {
    logits = prepared->forward(images, nullptr);
    benchmark::DoNotOptimize(logits.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(
      vitbench::core::flops::optimized_per_image(model.config) * 1e-9,
      benchmark::Counter::kIsIterationInvariantRate);
  const size_t T = model.config.num_tokens();
  const auto& k = opt::kernel_set(backend).attention;
  state.counters["attention_workspace_bytes"] =
      k.workspace_floats == opt::kernel_set("hwy").attention.workspace_floats
          ? hwy_scratch_bytes(T, threads)
          : 4.0 * k.workspace_floats(T, kHeadDim, threads);
}

void register_benchmarks(const std::vector<size_t>& thread_counts) {
  // Threads outer, then tokens, then kernel: the kernels of one (threads, T) run back to back.
  for (size_t threads : thread_counts) {
    for (size_t T : {197, 577, 1025, 2305, 4097}) {
      for (const char* kernel : {"flash", "hwy", "blis"}) {
        const std::string name = "attention/T:" + std::to_string(T) +
                                 "/threads:" + std::to_string(threads) + "/" + kernel;
        benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& s) {
          attention_benchmark(s, kernel, T, threads);
        })
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime()
            ->Repetitions(3);
      }
    }
  }
  for (size_t threads : thread_counts) {
    for (const char* backend : {"flash", "hwy", "blis+flash", "blis"}) {
      const std::string name =
          "model/vit-b16@384/threads:" + std::to_string(threads) + "/" + backend;
      benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& s) {
        model_benchmark(s, backend, threads);
      })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime()
          ->Repetitions(3);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<size_t> thread_counts =
      vitbench::bench::take_thread_counts(argc, argv, "attention_bench");
  if (thread_counts.empty()) return 2;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("hwy_target", opt::hwy::chosen_target());
  vitbench::bench::record_scheduling("attention_bench");
  const auto t = opt::flash::tiles(kHeadDim);
  benchmark::AddCustomContext("flash_tiles", "Br=" + std::to_string(t.query_rows) + " Bc=" +
                                                 std::to_string(t.key_rows) + " (one tile up to " +
                                                 std::to_string(2 * t.key_rows) + " keys)");
  register_benchmarks(thread_counts);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
