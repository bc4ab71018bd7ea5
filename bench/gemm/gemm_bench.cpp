// GEMM benchmark at every ViT-Ti/S/B linear shape: our Highway GEMM against BLIS and OpenBLAS,
// at 1 thread and the machine's (or --threads=LIST, bench/tool_threads.h), in one process so that
// their ratios come from one run.
//
//   C[M, N] = A[M, K] · Wᵀ,  M = 197 tokens (batch 1) or 197·8 (batch 8),
//   (N, K) = (3D, D) qkv, (D, D) attention output, (F, D) MLP up, (D, F) MLP down,
//   D, F = 192, 768 (Ti), 384, 1536 (S), 768, 3072 (B).
//
// Counters: GFLOP/s (2·M·N·K per iteration, as an iteration-invariant rate over real time) and
// %peak against the FMA peak measured at start-up at the same thread count (bench/peak.h, the
// measurement `vitbench bench` makes).
// Each benchmark runs 3 repetitions; the console shows their mean/median/stddev, the JSON output
// (--benchmark_out=...) has every repetition too. A default run takes 2-3 minutes; use
// --benchmark_filter (e.g. 'gemm/.*/B/.*M:197/.*threads:1') for a subset. gemm-rotate/hwy/...
// (below) times the ViT-B shapes as the forward pass runs them: cold weights, fused epilogues.
//
// How each library is called, and why:
//   hwy:      optimized::hwy::gemm with weights packed once (pack_weights), our ThreadPool.
//   hwy-avx2: the same, with Highway's AVX-512 targets disabled (hwy::DisableTargets), when the
//             machine would pick AVX-512: a comparison at the vector width of OpenBLAS's
//             Haswell kernels, and the figure an AVX2-only CPU of this speed would see.
//   BLIS:     bli_sgemm with explicit strides and W stored K×N (row-major), so BLIS reads B
//             without a transpose (with B transposed it is much slower, facts.md);
//             bli_thread_set_num_threads per benchmark.
//   OpenBLAS: cblas_sgemm, row-major, same K×N weights, openblas_set_num_threads. OpenBLAS and
//             BLIS both export sgemm_ and cblas_sgemm, so linking both would let one silently
//             serve the other's calls. OpenBLAS is therefore loaded with dlopen(RTLD_LOCAL |
//             RTLD_DEEPBIND): LOCAL keeps its symbols out of the global namespace, DEEPBIND makes
//             its own internal calls bind to its own definitions before BLIS's. One process (rather
//             than a second executable) keeps the same FMA peak measurement, the same inputs and
//             the same machine conditions for all three. dladdr on each function pointer records
//             the shared object that really runs it, in the context block (gemm_*_library).
// OpenBLAS's idle workers spin for ~2^28 cycles after a call (its THREAD_TIMEOUT default), so
// after each multi-threaded OpenBLAS benchmark we sleep that long, untimed, lest they steal a
// core from the next benchmark.
// Every library's result is checked against a float64 dot product on a sample of C before it
// is timed; a wrong result skips the benchmark with an error.
#include <benchmark/benchmark.h>
#include <blis.h>
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/peak.h"
#include "bench/tool_scheduling.h"
#include "bench/tool_threads.h"
#include "hwy/targets.h"
#include "core/tensor.h"
#include "optimized/hwy/kernels.h"
#include "optimized/thread_pool.h"

namespace {

using vitbench::core::Tensor;
namespace vhwy = vitbench::optimized::hwy;

std::map<size_t, double> g_peak_gflops;  // thread count -> measured FMA peak
std::vector<size_t> g_threads;           // the thread counts of this run

// ---------------------------------------------------------------------------------------------
// OpenBLAS through dlopen

struct OpenBlas {
  // cblas_sgemm with OpenBLAS's 32-bit blasint (Debian's libopenblas0-pthread is not ILP64).
  using Sgemm = void (*)(int layout, int transa, int transb, int m, int n, int k, float alpha,
                         const float* a, int lda, const float* b, int ldb, float beta, float* c,
                         int ldc);
  static constexpr int kRowMajor = 101, kNoTrans = 111;
  Sgemm sgemm = nullptr;
  void (*set_num_threads)(int) = nullptr;
  char* (*get_config)() = nullptr;
  char* (*get_corename)() = nullptr;
  std::string library;  // the object the cblas_sgemm we call lives in
  std::string error;
  bool ok() const { return sgemm && set_num_threads; }
};

std::string object_of(const void* fn) {
  Dl_info info{};
  if (fn && dladdr(fn, &info) && info.dli_fname) return info.dli_fname;
  return "unknown";
}

OpenBlas load_openblas() {
  OpenBlas ob;
#if defined(__SANITIZE_ADDRESS__)
  ob.error = "not loaded: RTLD_DEEPBIND is incompatible with AddressSanitizer";
  return ob;
#else
  void* h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  if (!h) {
    ob.error = std::string("not loaded: ") + dlerror() +
               " (apt-get install libopenblas0-pthread for the OpenBLAS benchmarks)";
    return ob;
  }
  ob.sgemm = reinterpret_cast<OpenBlas::Sgemm>(dlsym(h, "cblas_sgemm"));
  ob.set_num_threads = reinterpret_cast<void (*)(int)>(dlsym(h, "openblas_set_num_threads"));
  ob.get_config = reinterpret_cast<char* (*)()>(dlsym(h, "openblas_get_config"));
  ob.get_corename = reinterpret_cast<char* (*)()>(dlsym(h, "openblas_get_corename"));
  if (!ob.ok()) ob.error = "libopenblas.so.0 lacks cblas_sgemm or openblas_set_num_threads";
  ob.library = object_of(reinterpret_cast<const void*>(ob.sgemm));
  return ob;
#endif
}

OpenBlas& openblas() {
  static OpenBlas ob = load_openblas();
  return ob;
}

// ---------------------------------------------------------------------------------------------
// Inputs, shared by the three libraries for one shape (rebuilt when the shape changes; the
// benchmarks are registered shape by shape).

struct Problem {
  size_t m = 0, n = 0, k = 0;
  Tensor a, w_nk, w_kn, c;  // W as PyTorch stores it [N, K] (hwy packs it) and as K×N (BLAS)
  vhwy::PackedWeights packed;
  vhwy::PackedWeights packed_avx2;  // packed while AVX-512 was disabled (hwy-avx2)
};

// Highway targets better than AVX2, disabled for the hwy-avx2 variant.
constexpr int64_t kAboveAvx2 = HWY_AVX3 | HWY_AVX3_DL;

// Whether hwy-avx2 is worth running: the CPU has AVX2 and Highway would pick something better.
bool avx2_variant_differs() {
  const int64_t supported = ::hwy::SupportedTargets();
  return (supported & HWY_AVX2) && (supported & kAboveAvx2 & HWY_TARGETS);
}

// Runs fn with Highway's dispatch limited to AVX2 and below.
template <typename Fn>
void with_avx2_only(Fn&& fn) {
  ::hwy::DisableTargets(kAboveAvx2);
  fn();
  ::hwy::DisableTargets(0);
}

Problem& problem(size_t m, size_t n, size_t k) {
  static std::unique_ptr<Problem> p;
  if (p && p->m == m && p->n == n && p->k == k) return *p;
  p.reset();  // free the previous shape first: the largest shapes take ~60 MB
  auto q = std::make_unique<Problem>();
  q->m = m, q->n = n, q->k = k;
  std::mt19937 rng(static_cast<unsigned>(m * 1000003 + n * 1009 + k));
  std::uniform_real_distribution<float> u(-1, 1);
  q->a = Tensor({m, k});
  q->w_nk = Tensor({n, k});
  q->w_kn = Tensor({k, n});
  q->c = Tensor({m, n}, 0.0f);
  for (size_t i = 0; i < m * k; ++i) q->a[i] = u(rng);
  for (size_t i = 0; i < n * k; ++i) q->w_nk[i] = u(rng);
  for (size_t j = 0; j < n; ++j) {
    for (size_t kk = 0; kk < k; ++kk) q->w_kn[kk * n + j] = q->w_nk[j * k + kk];
  }
  q->packed = vhwy::pack_weights(q->w_nk.data(), n, k);
  if (avx2_variant_differs()) {
    with_avx2_only([&] { q->packed_avx2 = vhwy::pack_weights(q->w_nk.data(), n, k); });
  }
  p = std::move(q);
  return *p;
}

// Max |C − C_exact| / max |C_exact| over a sample of 256 elements, in float64.
double sample_error(const Problem& p) {
  double max_err = 0, max_ref = 0;
  std::mt19937 rng(7);
  for (int s = 0; s < 256; ++s) {
    const size_t i = rng() % p.m, j = rng() % p.n;
    double ref = 0;
    for (size_t kk = 0; kk < p.k; ++kk) {
      ref += static_cast<double>(p.a[i * p.k + kk]) * p.w_nk[j * p.k + kk];
    }
    max_err = std::max(max_err, std::fabs(ref - p.c[i * p.n + j]));
    max_ref = std::max(max_ref, std::fabs(ref));
  }
  return max_err / max_ref;
}

vitbench::optimized::ThreadPool& pool_for(size_t threads) {
  static std::map<size_t, std::unique_ptr<vitbench::optimized::ThreadPool>> pools;
  auto& p = pools[threads];
  if (!p) p = std::make_unique<vitbench::optimized::ThreadPool>(threads);
  return *p;
}

enum class Lib { Hwy, HwyAvx2, Blis, OpenBlas };

void run_gemm(Lib lib, Problem& p, size_t threads) {
  switch (lib) {
    case Lib::Hwy:
      vhwy::gemm(p.a.data(), p.m, p.k, p.packed, p.c.data(), p.n, {}, pool_for(threads));
      break;
    case Lib::HwyAvx2:  // the caller has disabled the targets above AVX2
      vhwy::gemm(p.a.data(), p.m, p.k, p.packed_avx2, p.c.data(), p.n, {}, pool_for(threads));
      break;
    case Lib::Blis: {
      float one = 1, zero = 0;
      bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, static_cast<dim_t>(p.m),
                static_cast<dim_t>(p.n), static_cast<dim_t>(p.k), &one, p.a.data(),
                static_cast<inc_t>(p.k), 1, p.w_kn.data(), static_cast<inc_t>(p.n), 1, &zero,
                p.c.data(), static_cast<inc_t>(p.n), 1);
      break;
    }
    case Lib::OpenBlas:
      openblas().sgemm(OpenBlas::kRowMajor, OpenBlas::kNoTrans, OpenBlas::kNoTrans,
                       static_cast<int>(p.m), static_cast<int>(p.n), static_cast<int>(p.k), 1.0f,
                       p.a.data(), static_cast<int>(p.k), p.w_kn.data(), static_cast<int>(p.n),
                       0.0f, p.c.data(), static_cast<int>(p.n));
      break;
  }
}

void bm_gemm_body(benchmark::State& state, Lib lib, Problem& p, size_t threads);

void bm_gemm(benchmark::State& state, Lib lib, size_t m, size_t n, size_t k, size_t threads) {
  if (lib == Lib::OpenBlas && !openblas().ok()) {
    state.SkipWithError(("OpenBLAS " + openblas().error).c_str());
    return;
  }
  Problem& p = problem(m, n, k);
  if (lib == Lib::HwyAvx2) {
    with_avx2_only([&] { bm_gemm_body(state, lib, p, threads); });
    return;
  }
  bm_gemm_body(state, lib, p, threads);
}

void bm_gemm_body(benchmark::State& state, Lib lib, Problem& p, size_t threads) {
  const size_t m = p.m, n = p.n, k = p.k;
  if (lib == Lib::Blis) bli_thread_set_num_threads(static_cast<dim_t>(threads));
  if (lib == Lib::OpenBlas) openblas().set_num_threads(static_cast<int>(threads));

  std::fill(p.c.data(), p.c.data() + p.c.size(), std::nanf(""));
  run_gemm(lib, p, threads);  // also the warm-up: first-touch, library initialisation
  // float32 sums of k products: ~√k·2^-24 relative typical; 1e-4 only catches wrong results.
  const double err = sample_error(p);
  if (!(err < 1e-4)) {
    state.SkipWithError(("wrong result: sampled relative error " + std::to_string(err)).c_str());
    return;
  }
  for (auto _ : state) {
    run_gemm(lib, p, threads);
    benchmark::ClobberMemory();
  }
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["%peak"] = benchmark::Counter(flops * 1e-9 / g_peak_gflops[threads] * 100.0,
                                               benchmark::Counter::kIsIterationInvariantRate);
  state.counters["max_rel_err"] = err;
  if (lib == Lib::OpenBlas && threads > 1) {
    // After the timed loop, so untimed: let OpenBLAS's workers finish spinning (2^28 TSC
    // cycles, ~0.13 s at 2.1 GHz).
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }
}

// ---------------------------------------------------------------------------------------------
// Rotating weights, fused epilogues: the GEMM as the forward pass sees it.
//
// gemm/hwy/... calls one GEMM on one weight over and over, with no epilogue, so after the first
// call W sits in L3 (or L2). A forward pass reads each of its weights once (ViT-B: 344 MB, beyond
// any L3), so every panel comes from DRAM, and it fuses an epilogue into each GEMM.
// gemm-rotate/hwy/... runs a ViT-B shape at M = 197 either on one packed W (copies:1, the
// in-cache case) or over copies of it in distinct memory taken in turn, at least 256 MiB in all,
// so that each call finds its W cold (rotate); with epilogue:forward it applies the forward pass's
// epilogue of that layer (qkv: bias; proj, fc2: bias + residual into C; fc1: bias + GELU), with
// epilogue:none none. docs/performance.md, "Closing the gap between gemm_bench and the forward
// pass", has what these measured.

void bm_gemm_rotate(benchmark::State& state, size_t m, size_t n, size_t k, size_t threads,
                    bool rotate, bool forward_epilogue) {
  Problem& p = problem(m, n, k);
  const size_t bytes = p.packed.panels.size() * sizeof(float);
  const size_t copies = rotate ? std::max<size_t>(2, ((size_t{256} << 20) + bytes - 1) / bytes) : 1;
  std::vector<vhwy::PackedWeights> w(copies, p.packed);
  const Tensor bias({n}, 0.01f);
  vhwy::Epilogue e;
  if (forward_epilogue) {
    e.bias = bias.data();
    if (n == 4 * k) e.gelu = true;  // fc1
    if (n == k || 4 * n == k) {     // proj, fc2: the residual is C itself
      e.residual = p.c.data();
      e.ld_residual = n;
    }
  }
  // With uniform(−1, 1) A and W, C has σ ≈ 0.33·√K (9 at K = 768): 7% of GELU's inputs lie
  // below −13.3, where its erfc underflows into subnormals, and subnormal arithmetic made the
  // GELU ~2x slower than on a model's activations (σ ~ 1–3). A scaled by 1/8 gives σ ≈ 1.2.
  Tensor a_scaled({m, k});
  for (size_t i = 0; i < m * k; ++i) a_scaled[i] = p.a[i] * 0.125f;
  const float* a = forward_epilogue ? a_scaled.data() : p.a.data();
  auto& pool = pool_for(threads);
  std::fill(p.c.data(), p.c.data() + p.c.size(), 0.0f);
  for (const auto& wi : w) vhwy::gemm(a, m, k, wi, p.c.data(), n, e, pool);  // warm-up
  size_t next = 0;
  for (auto _ : state) {
    vhwy::gemm(a, m, k, w[next], p.c.data(), n, e, pool);
    benchmark::ClobberMemory();
    if (++next == copies) next = 0;
  }
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["%peak"] = benchmark::Counter(flops * 1e-9 / g_peak_gflops[threads] * 100.0,
                                               benchmark::Counter::kIsIterationInvariantRate);
  state.counters["copies"] = static_cast<double>(copies);
}

struct Model {
  const char* name;
  size_t d, f;
};

// ViT-B at M = 197 only: the forward pass's shapes at batch 1.
void register_rotating_benchmarks() {
  const size_t d = 768, f = 3072, m = 197;
  const struct {
    const char* name;
    size_t n, k;
  } shapes[] = {{"qkv", 3 * d, d}, {"proj", d, d}, {"fc1", f, d}, {"fc2", d, f}};
  for (size_t threads : g_threads) {
    for (const auto& s : shapes) {
      for (bool forward_epilogue : {false, true}) {
        for (bool rotate : {false, true}) {
          const std::string name = std::string("gemm-rotate/hwy/B/") + s.name + "/M:" +
                                   std::to_string(m) + (rotate ? "/rotate" : "/copies:1") +
                                   "/epilogue:" + (forward_epilogue ? "forward" : "none") +
                                   "/threads:" + std::to_string(threads);
          benchmark::RegisterBenchmark(name.c_str(), bm_gemm_rotate, m, s.n, s.k, threads, rotate,
                                       forward_epilogue)
              ->UseRealTime()
              ->Unit(benchmark::kMillisecond)
              ->MinTime(0.1)
              ->Repetitions(3)
              ->DisplayAggregatesOnly(true);
        }
      }
    }
  }
}

void register_benchmarks() {
  const Model models[] = {{"Ti", 192, 768}, {"S", 384, 1536}, {"B", 768, 3072}};
  const char* lib_names[] = {"hwy", "hwy-avx2", "blis", "openblas"};
  std::vector<Lib> libs = {Lib::Hwy, Lib::Blis, Lib::OpenBlas};
  if (avx2_variant_differs()) libs.insert(libs.begin() + 1, Lib::HwyAvx2);
  for (size_t threads : g_threads) {
    for (const Model& model : models) {
      for (size_t m : {197, 197 * 8}) {
        const struct {
          const char* name;
          size_t n, k;
        } shapes[] = {{"qkv", 3 * model.d, model.d},
                      {"proj", model.d, model.d},
                      {"fc1", model.f, model.d},
                      {"fc2", model.d, model.f}};
        for (const auto& s : shapes) {
          for (Lib lib : libs) {
            const std::string name = std::string("gemm/") + lib_names[static_cast<int>(lib)] + "/" +
                                     model.name + "/" + s.name + "/M:" + std::to_string(m) +
                                     "/N:" + std::to_string(s.n) + "/K:" + std::to_string(s.k) +
                                     "/threads:" + std::to_string(threads);
            benchmark::RegisterBenchmark(name.c_str(), bm_gemm, lib, m, s.n, s.k, threads)
                ->UseRealTime()
                ->Unit(benchmark::kMillisecond)
                ->MinTime(0.07)
                ->Repetitions(3)
                ->DisplayAggregatesOnly(true);
          }
        }
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  g_threads = vitbench::bench::take_thread_counts(argc, argv, "gemm_bench");
  if (g_threads.empty()) return 2;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  vitbench::bench::record_scheduling("gemm_bench");

  // Peaks first, on a quiet process (no library threads exist yet).
  for (size_t threads : g_threads) {
    const auto peak = vitbench::bench::measure_fma_peak(threads, 0.7, 7);
    g_peak_gflops[threads] = peak.best_gflops;
    const std::string t = std::to_string(threads);
    benchmark::AddCustomContext("fma_peak_gflops_" + t + "t", std::to_string(peak.best_gflops));
    benchmark::AddCustomContext("fma_peak_median_gflops_" + t + "t",
                                std::to_string(peak.median_gflops));
    if (threads == 1) benchmark::AddCustomContext("fma_peak_target", vhwy::chosen_target());
    if (avx2_variant_differs()) {  // the ceiling hwy-avx2 and OpenBLAS's Haswell kernels face
      with_avx2_only([&] {
        const auto p2 = vitbench::bench::measure_fma_peak(threads, 0.7, 7);
        benchmark::AddCustomContext("fma_peak_avx2_gflops_" + t + "t", std::to_string(p2.best_gflops));
      });
    }
  }
  benchmark::AddCustomContext("hwy_target", vhwy::chosen_target());
  std::string compiled;
  for (const char* t : vhwy::compiled_targets()) compiled += (compiled.empty() ? "" : ",") + std::string(t);
  benchmark::AddCustomContext("hwy_compiled_targets", compiled);
  benchmark::AddCustomContext("hwy_panel_width",
                              std::to_string(vhwy::pack_weights(nullptr, 0, 0).panel_width));
  if (avx2_variant_differs()) {
    with_avx2_only([] {
      benchmark::AddCustomContext("hwy-avx2_target", vhwy::chosen_target());
    });
  }
  benchmark::AddCustomContext("gemm_blis_library",
                              object_of(reinterpret_cast<const void*>(&bli_sgemm)));
  benchmark::AddCustomContext("blis_version", bli_info_get_version_str());
  benchmark::AddCustomContext("blis_arch", bli_arch_string(bli_arch_query_id()));
  const OpenBlas& ob = openblas();
  benchmark::AddCustomContext("gemm_openblas_library", ob.ok() ? ob.library : ob.error);
  if (ob.ok() && ob.get_config) benchmark::AddCustomContext("openblas_config", ob.get_config());
  if (ob.ok() && ob.get_corename) benchmark::AddCustomContext("openblas_core", ob.get_corename());

  register_benchmarks();
  register_rotating_benchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
