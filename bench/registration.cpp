#include "bench/registration.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <set>
#include <utility>

#include <benchmark/benchmark.h>

#include "bench/text_table.h"
#include "core/error.h"
#include "core/flops.h"
#include "core/weights.h"
#include "optimized/hwy/kernels.h"
#include "optimized/thread_pool.h"

namespace vitbench::bench {
namespace {

using core::Tensor;

// Inputs only need to be finite and realistically scaled: a fixed LCG keeps runs repeatable
// without the cost of the weight generator's hash.
void fill(Tensor& t, float scale, uint32_t seed) {
  uint32_t s = seed * 2654435761u + 1;
  for (size_t i = 0; i < t.size(); ++i) {
    s = s * 1664525u + 1013904223u;
    t[i] = scale * (static_cast<float>(s >> 8) * (2.0f / 16777216.0f) - 1.0f);
  }
}

// ---- Whole models --------------------------------------------------------------------------

class ModelCase final : public Case {
 public:
  ModelCase(CaseInfo info, const ModelUnderTest& model, const BenchBackend& backend,
            uint64_t input_seed)
      : Case(std::move(info)), model_(model), backend_(backend), input_seed_(input_seed) {}
  void iterate() override {
    core::Tensor logits = prepared_->forward(images_, nullptr);
    benchmark::DoNotOptimize(logits.data());
    benchmark::ClobberMemory();
  }

 protected:
  void do_set_up() override {
    images_ = core::generate_images(model_.model.config, info().batch, input_seed_);
    prepared_ = backend_.prepare(model_.model, info().threads);
  }
  void do_release() override {
    prepared_.reset();
    images_ = core::Tensor();
  }

 private:
  const ModelUnderTest& model_;
  const BenchBackend& backend_;
  uint64_t input_seed_;
  core::Tensor images_;
  std::unique_ptr<optimized::PreparedModel> prepared_;
};

// ---- Ops -----------------------------------------------------------------------------------

// Which of the model's linear layers a shape comes from decides the fused epilogue it is timed
// with, as the shared forward pass runs it (optimized/forward.cpp).
enum class LinearRole { Patch, Qkv, Proj, Fc1, Fc2, Head };

struct LinearShape {
  LinearRole role;
  size_t m, n, k, lda;
};

class LinearCase final : public Case {
 public:
  LinearCase(CaseInfo info, const optimized::KernelSet& kernels, LinearShape shape,
             core::GeluKind gelu)
      : Case(std::move(info)), kernels_(kernels), shape_(shape), gelu_(gelu) {}
  void iterate() override {
    kernels_.linear.run(a_.data(), shape_.m, shape_.lda, *packed_, c_.data(), shape_.n,
                        epilogue_, *pool_);
    benchmark::ClobberMemory();
  }

 protected:
  void do_set_up() override {
    const LinearShape& s = shape_;
    pool_ = std::make_unique<optimized::ThreadPool>(info().threads);
    a_ = Tensor({s.m == 0 ? 0 : (s.m - 1) * s.lda + s.k});
    fill(a_, 1.0f, 1);
    Tensor w({s.n, s.k});
    fill(w, std::sqrt(3.0f / static_cast<float>(s.k)), 2);
    bias_ = Tensor({s.n});
    fill(bias_, 0.1f, 3);
    c_ = Tensor({s.m, s.n}, 0.0f);
    packed_ = kernels_.linear.pack(w.data(), s.n, s.k);
    epilogue_ = {};
    epilogue_.bias = bias_.data();
    if (s.role == LinearRole::Fc1) {
      epilogue_.gelu = true;
      epilogue_.gelu_kind = gelu_;
    }
    // proj and fc2 add into the residual stream in place (residual aliases C): values grow by
    // about one unit per iteration, far from float32's range in any benchmark's lifetime.
    if (s.role == LinearRole::Proj || s.role == LinearRole::Fc2) {
      epilogue_.residual = c_.data();
      epilogue_.ld_residual = s.n;
    }
  }
  void do_release() override {
    packed_.reset();
    pool_.reset();
    a_ = c_ = bias_ = Tensor();
  }

 private:
  const optimized::KernelSet& kernels_;
  LinearShape shape_;
  core::GeluKind gelu_;
  std::unique_ptr<optimized::ThreadPool> pool_;
  Tensor a_, c_, bias_;
  std::unique_ptr<optimized::PackedLinear> packed_;
  optimized::Epilogue epilogue_;
};

class LayerNormCase final : public Case {
 public:
  LayerNormCase(CaseInfo info, const optimized::KernelSet& kernels, size_t rows, size_t dim,
                float eps)
      : Case(std::move(info)), kernels_(kernels), rows_(rows), dim_(dim), eps_(eps) {}
  void iterate() override {
    kernels_.layer_norm.run(x_.data(), rows_, dim_, dim_, gamma_.data(), beta_.data(), eps_,
                            y_.data(), dim_, *pool_);
    benchmark::ClobberMemory();
  }

 protected:
  void do_set_up() override {
    pool_ = std::make_unique<optimized::ThreadPool>(info().threads);
    x_ = Tensor({rows_, dim_});
    fill(x_, 2.0f, 4);
    y_ = Tensor({rows_, dim_}, 0.0f);
    gamma_ = Tensor({dim_});
    fill(gamma_, 0.25f, 5);
    for (size_t i = 0; i < dim_; ++i) gamma_[i] += 1.0f;
    beta_ = Tensor({dim_});
    fill(beta_, 0.1f, 6);
  }
  void do_release() override {
    pool_.reset();
    x_ = y_ = gamma_ = beta_ = Tensor();
  }

 private:
  const optimized::KernelSet& kernels_;
  size_t rows_, dim_;
  float eps_;
  std::unique_ptr<optimized::ThreadPool> pool_;
  Tensor x_, y_, gamma_, beta_;
};

// GELU runs fused into fc1's epilogue in the forward pass; alone, it is the shared Highway
// kernel every current backend uses, split over the run's threads in L1-sized chunks. Each
// chunk is first copied from the untouched input, because GELU applied to its own output
// again and again drives negative inputs towards denormals and would time those instead.
class GeluCase final : public Case {
 public:
  GeluCase(CaseInfo info, size_t n, core::GeluKind kind)
      : Case(std::move(info)), n_(n), kind_(kind) {}
  void iterate() override {
    const size_t chunks = (n_ + kChunk - 1) / kChunk;
    pool_->run(chunks, [&](size_t task, size_t) {
      const size_t begin = task * kChunk, count = std::min(kChunk, n_ - begin);
      std::memcpy(y_.data() + begin, x_.data() + begin, count * sizeof(float));
      optimized::hwy::gelu(y_.data() + begin, count, kind_);
    });
    benchmark::ClobberMemory();
  }

 protected:
  void do_set_up() override {
    pool_ = std::make_unique<optimized::ThreadPool>(info().threads);
    x_ = Tensor({n_});
    fill(x_, 4.0f, 7);
    y_ = Tensor({n_}, 0.0f);
  }
  void do_release() override {
    pool_.reset();
    x_ = y_ = Tensor();
  }

 private:
  static constexpr size_t kChunk = 4096;  // 16 KiB: fits every L1 data cache
  size_t n_;
  core::GeluKind kind_;
  std::unique_ptr<optimized::ThreadPool> pool_;
  Tensor x_, y_;
};

// Softmax over rows of attention scores, the shared Highway kernel, rows split over the run's
// threads. In place: after the first iteration the rows hold probabilities, which exercise the
// same instructions (the kernel's cost does not depend on the values).
class SoftmaxCase final : public Case {
 public:
  SoftmaxCase(CaseInfo info, size_t rows, size_t cols)
      : Case(std::move(info)), rows_(rows), cols_(cols) {}
  void iterate() override {
    const size_t workers = pool_->size();
    pool_->run(workers, [&](size_t task, size_t) {
      const size_t begin = rows_ * task / workers, end = rows_ * (task + 1) / workers;
      for (size_t r = begin; r < end; ++r) optimized::hwy::softmax(x_.data() + r * cols_, cols_);
    });
    benchmark::ClobberMemory();
  }

 protected:
  void do_set_up() override {
    pool_ = std::make_unique<optimized::ThreadPool>(info().threads);
    x_ = Tensor({rows_, cols_});
    fill(x_, 3.0f, 8);
  }
  void do_release() override {
    pool_.reset();
    x_ = Tensor();
  }

 private:
  size_t rows_, cols_;
  std::unique_ptr<optimized::ThreadPool> pool_;
  Tensor x_;
};

// One image's multi-head attention: the shape field has no batch (docs/report-format.md), and
// the forward pass runs attention image by image in every backend's kernel.
class AttentionCase final : public Case {
 public:
  AttentionCase(CaseInfo info, const optimized::KernelSet& kernels, size_t tokens, size_t heads,
                size_t head_dim)
      : Case(std::move(info)), kernels_(kernels), tokens_(tokens), heads_(heads),
        head_dim_(head_dim) {}
  void iterate() override {
    kernels_.attention.run(problem_, workspace_.data(), *pool_);
    benchmark::ClobberMemory();
  }

 protected:
  void do_set_up() override {
    const size_t D = heads_ * head_dim_;
    pool_ = std::make_unique<optimized::ThreadPool>(info().threads);
    qkv_ = Tensor({tokens_, 3 * D});
    // Scores q·k/√d spread by about 2, as the seeded models' are: peaked, not one-hot.
    fill(qkv_, 1.5f, 9);
    out_ = Tensor({tokens_, D}, 0.0f);
    workspace_ = Tensor({std::max<size_t>(
        1, kernels_.attention.workspace_floats(tokens_, head_dim_, info().threads))});
    problem_ = {.qkv = qkv_.data(),
                .ld_qkv = 3 * D,
                .images = 1,
                .tokens = tokens_,
                .heads = heads_,
                .head_dim = head_dim_,
                .out = out_.data(),
                .ld_out = D};
  }
  void do_release() override {
    pool_.reset();
    qkv_ = out_ = workspace_ = Tensor();
  }

 private:
  const optimized::KernelSet& kernels_;
  size_t tokens_, heads_, head_dim_;
  std::unique_ptr<optimized::ThreadPool> pool_;
  Tensor qkv_, out_, workspace_;
  optimized::AttentionProblem problem_;
};

std::vector<LinearShape> linear_shapes(const core::Config& c, size_t batch) {
  const size_t T = c.num_tokens(), D = c.hidden_size, M = c.intermediate_size;
  const size_t rows = batch * T;
  // proj before the patch embedding: at patch 16 with 3 channels both are rows×D×768, and
  // proj (with its fused residual) is the one that runs once per block.
  return {{LinearRole::Qkv, rows, 3 * D, D, D},
          {LinearRole::Proj, rows, D, D, D},
          {LinearRole::Fc1, rows, M, D, D},
          {LinearRole::Fc2, rows, D, M, M},
          {LinearRole::Patch, rows, D, c.patch_dim(), c.patch_dim()},
          // The head reads each image's class token in place, through a row stride of T·D.
          {LinearRole::Head, batch, c.num_labels, D, T * D}};
}

std::string model_name(const std::string& model, size_t batch, size_t threads,
                       const std::string& backend) {
  return "model/" + model + "/b" + std::to_string(batch) + "/t" + std::to_string(threads) + "/" +
         backend;
}

std::string op_name(const std::string& op, const std::string& model, const std::string& shape,
                    size_t threads, const std::string& backend) {
  return "op/" + op + "/" + model + "/" + shape + "/t" + std::to_string(threads) + "/" + backend;
}

}  // namespace

const std::vector<std::string>& op_names() {
  static const std::vector<std::string> names = {"linear", "layer_norm", "gelu", "softmax",
                                                 "attention"};
  return names;
}

Plan plan_benchmarks(const std::vector<const ModelUnderTest*>& models,
                     const std::vector<const BenchBackend*>& backends, const PlanOptions& options) {
  for (const std::string& op : options.ops) {
    if (std::find(op_names().begin(), op_names().end(), op) == op_names().end()) {
      std::string known;
      for (const std::string& n : op_names()) known += (known.empty() ? "" : ", ") + n;
      core::fail("--ops", "unknown op \"" + op + "\" (known: " + known + ")");
    }
  }
  auto wants = [&](const std::string& op) {
    return std::find(options.ops.begin(), options.ops.end(), op) != options.ops.end();
  };

  Plan plan;
  std::set<std::string> names;  // shapes repeat across layers and batches: time each once
  auto add = [&](std::unique_ptr<Case> c) {
    if (names.insert(c->info().name).second) plan.cases.push_back(std::move(c));
  };
  for (const ModelUnderTest* m : models) {
    const core::Config& c = m->model.config;
    // The work each side does: the reference all of the model, the optimized backends less the
    // rows pooling does not read (core/flops.h).
    const double reference_flops = core::flops::model_per_image(c);
    const double optimized_flops = core::flops::optimized_per_image(c);
    // Ops first, then whole models: the cheap, many op benchmarks give early feedback.
    for (const BenchBackend* b : backends) {
      if (options.ops.empty()) break;
      if (!b->kernels) {
        plan.skipped.push_back(b->name + ": no op-level kernels, ops not timed");
        continue;
      }
      const optimized::KernelSet& k = *b->kernels;
      for (size_t t : options.threads) {
        for (size_t batch : options.batches) {
          const size_t T = c.num_tokens(), D = c.hidden_size, rows = batch * T;
          auto info = [&](const std::string& op, const std::string& shape) {
            CaseInfo i;
            i.name = op_name(op, m->id, shape, t, b->name);
            i.kind = CaseKind::Op;
            i.model = m->id;
            i.backend = b->name;
            i.op = op;
            i.shape = shape;
            i.batch = batch;
            i.threads = t;
            return i;
          };
          if (wants("linear")) {
            for (const LinearShape& s : linear_shapes(c, batch)) {
              CaseInfo i = info("linear", dims({s.m, s.n, s.k}));
              i.flops = core::flops::linear(s.m, s.n, s.k);
              add(std::make_unique<LinearCase>(std::move(i), k, s, c.gelu));
            }
          }
          if (wants("layer_norm")) {
            CaseInfo i = info("layer_norm", dims({rows, D}));
            i.flops = core::flops::layer_norm(rows, D);
            i.bytes = core::flops::elementwise_bytes(rows * D);
            add(std::make_unique<LayerNormCase>(std::move(i), k, rows, D,
                                                static_cast<float>(c.layer_norm_eps)));
          }
          if (wants("gelu")) {
            const size_t cols = c.intermediate_size;
            CaseInfo i = info("gelu", dims({rows, cols}));
            i.flops = core::flops::gelu(rows * cols);
            i.bytes = core::flops::elementwise_bytes(rows * cols);
            add(std::make_unique<GeluCase>(std::move(i), rows * cols, c.gelu));
          }
          if (wants("softmax")) {
            const size_t srows = batch * c.num_heads * T;
            CaseInfo i = info("softmax", dims({srows, T}));
            i.flops = core::flops::softmax(srows, T);
            i.bytes = core::flops::elementwise_bytes(srows * T);
            add(std::make_unique<SoftmaxCase>(std::move(i), srows, T));
          }
          if (wants("attention")) {
            CaseInfo i = info("attention", dims({T, c.num_heads, c.head_dim()}));
            i.batch = 1;
            i.flops = core::flops::attention(T, c.num_heads, c.head_dim());
            add(std::make_unique<AttentionCase>(std::move(i), k, T, c.num_heads, c.head_dim()));
          }
        }
      }
    }
    if (!options.models) continue;
    for (const BenchBackend* b : backends) {
      for (size_t t : options.threads) {
        for (size_t batch : options.batches) {
          CaseInfo i;
          i.name = model_name(m->id, batch, t, b->name);
          i.kind = CaseKind::Model;
          i.model = m->id;
          i.backend = b->name;
          i.batch = batch;
          i.threads = t;
          i.flops =
              (b->is_reference ? reference_flops : optimized_flops) * static_cast<double>(batch);
          if (b->is_reference) {
            if (i.flops * 1e-9 > options.reference_max_gflop) {
              char line[256];
              std::snprintf(line, sizeof line,
                            "%s: not timed (%.1f GFLOP per forward; the reference is timed only "
                            "up to %.1f GFLOP)",
                            i.name.c_str(), i.flops * 1e-9, options.reference_max_gflop);
              plan.skipped.push_back(line);
              continue;
            }
            i.fixed_iterations = true;
          }
          add(std::make_unique<ModelCase>(std::move(i), *m, *b, options.input_seed));
        }
      }
    }
  }
  return plan;
}

void estimate_durations(Plan& plan, const Peaks& peaks, const PlanOptions& options) {
  for (auto& c : plan.cases) {
    CaseInfo& i = c->info();
    const double t = static_cast<double>(i.threads);
    // Rough rates, only for the progress line: optimized code at half the FMA peak or at the
    // measured bandwidth, whichever bounds it; the reference at about 0.5 GFLOP/s per thread.
    double per_iteration;
    double set_up = 0.05;
    if (i.fixed_iterations) {
      per_iteration = i.flops / (0.5e9 * t);
    } else {
      const double fma = std::max(peaks.fma_for(i.threads), 1.0) * 1e9;
      per_iteration = i.flops / (0.5 * fma);
      auto bw = peaks.bandwidth_gbs.find(i.threads);
      if (i.bytes > 0 && bw != peaks.bandwidth_gbs.end() && bw->second > 0) {
        per_iteration = std::max(per_iteration, i.bytes / (bw->second * 1e9));
      }
    }
    if (i.kind == CaseKind::Model) set_up += i.flops / std::max<size_t>(i.batch, 1) * 1e-11;
    const double reps = std::max(options.repetitions, 1);
    i.estimated_seconds = i.fixed_iterations
                              ? set_up + reps * per_iteration
                              : set_up + (reps + 1) * std::max(options.min_time, per_iteration);
  }
}

void register_benchmarks(Plan& plan, const Peaks& peaks, int repetitions,
                         std::function<void(size_t)> on_start) {
  benchmark::ClearRegisteredBenchmarks();
  for (size_t index = 0; index < plan.cases.size(); ++index) {
    Case* c = plan.cases[index].get();
    const CaseInfo& info = c->info();
    const double peak = std::max(peaks.fma_for(info.threads), 1e-9);
    auto* b = benchmark::RegisterBenchmark(
        info.name.c_str(), [c, peak, index, on_start](benchmark::State& state) {
          const CaseInfo& i = c->info();
          if (!c->ready()) {
            if (on_start) on_start(index);
            try {
              c->set_up();
            } catch (const std::exception& e) {
              state.SkipWithError(e.what());
              return;
            }
          }
          try {
            for (auto _ : state) c->iterate();
          } catch (const std::exception& e) {
            state.SkipWithError(e.what());
            return;
          }
          using benchmark::Counter;
          const double gflop = i.flops * 1e-9;
          state.counters["GFLOP/s"] = Counter(gflop, Counter::kIsIterationInvariantRate);
          state.counters["%peak"] = Counter(100.0 * gflop / peak, Counter::kIsIterationInvariantRate);
          if (i.kind == CaseKind::Model) {
            state.counters["images/s"] =
                Counter(static_cast<double>(i.batch), Counter::kIsIterationInvariantRate);
          }
          if (i.bytes > 0) {
            state.SetBytesProcessed(static_cast<int64_t>(i.bytes) * state.iterations());
          }
          state.counters["threads"] = Counter(static_cast<double>(i.threads));
        });
    // Wall-clock time: the work runs on a pool of threads, so the calling thread's CPU time
    // says nothing about speed. The process's CPU time is kept as the cpu_time figure, to show
    // how busy the threads were.
    b->UseRealTime()->MeasureProcessCPUTime();
    b->Unit(info.kind == CaseKind::Model ? benchmark::kMillisecond : benchmark::kMicrosecond);
    b->Repetitions(std::max(repetitions, 1));
    if (info.fixed_iterations) b->Iterations(1);
  }
}

}  // namespace vitbench::bench
