// A kernel set: the handful of operations the shared forward pass (forward.h) needs, as plain
// function pointers grouped by what must travel together. A linear kernel's pack and run travel
// as one pair because only the kernel that packed a weight can read it; attention and LayerNorm
// are independent of it. So any two sets combine without new forward code: in registry.cpp,
//   sets.push_back(compose("blis+flash", blis::kernels(), flash::kernels()));
// registers a backend with blis's linear pair, flash's attention and blis's LayerNorm.
// (Registration uses the families' factories; kernel_set() reads the finished registry.)
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "optimized/hwy/kernels.h"
#include "optimized/thread_pool.h"

namespace vitbench::optimized {

// The fused epilogue every linear kernel honours: c = acc (+ bias) ; gelu ; (+ residual).
using Epilogue = hwy::Epilogue;

// A weight W [n, k] (PyTorch's [out, in]) in whatever form its linear kernel streams fastest.
// Opaque to everyone else: the forward pass only hands it back to the kernel that made it.
class PackedLinear {
 public:
  PackedLinear(size_t n, size_t k) : n_(n), k_(k) {}
  virtual ~PackedLinear() = default;
  size_t n() const { return n_; }
  size_t k() const { return k_; }

 private:
  size_t n_, k_;
};

struct LinearKernel {
  // Called once per weight at prepare time.
  std::unique_ptr<PackedLinear> (*pack)(const float* w, size_t n, size_t k) = nullptr;
  // C [m, n] = epilogue(A [m, k] · Wᵀ); rows of A and C have strides lda and ldc. The residual
  // may alias C exactly (same pointer and stride), which is how residual adds happen in place.
  void (*run)(const float* a, size_t m, size_t lda, const PackedLinear& w, float* c, size_t ldc,
              const Epilogue& epilogue, ThreadPool& pool) = nullptr;
};

// Multi-head self-attention over a batch of images whose token rows are consecutive: image i's
// rows are [i·tokens, (i+1)·tokens) of qkv and out. Same per-image semantics as
// reference::attention (q | k | v column blocks, head h at columns [h·d, (h+1)·d) of each).
struct AttentionProblem {
  const float* qkv = nullptr;  // [images·tokens, 3·heads·head_dim], row stride ld_qkv
  size_t ld_qkv = 0;
  size_t images = 0, tokens = 0, heads = 0, head_dim = 0;
  // Only the first `queries` tokens of each image attend (0: every token): rows i·tokens + t,
  // t < queries, of out are written and no other. Every token is still a key and a value. The
  // forward pass's last block wants only the rows pooling reads (forward.cpp).
  size_t queries = 0;
  float* out = nullptr;  // [images·tokens, heads·head_dim], row stride ld_out
  size_t ld_out = 0;
  float* probs = nullptr;  // [images, heads, tokens, tokens] when wanted (every query), else null

  size_t query_tokens() const { return queries ? queries : tokens; }
  // check_attention_queries on this problem.
  void check_queries(const char* where) const;
};

// Throws core::Error naming `where` unless the `queries` leading tokens that attend are at most
// the `tokens`, and all of them when the probabilities are wanted (an attention map has a row
// per token). Every attention kernel's rule, whatever form its arguments take.
void check_attention_queries(const char* where, size_t tokens, size_t queries, bool probs);

struct AttentionKernel {
  // Floats of scratch the kernel needs for a problem of this shape on `workers` workers. The
  // forward pass allocates it once (growing only when a larger batch or model comes), so the
  // kernel never allocates per call.
  size_t (*workspace_floats)(size_t tokens, size_t head_dim, size_t workers) = nullptr;
  void (*run)(const AttentionProblem& problem, float* workspace, ThreadPool& pool) = nullptr;
};

struct LayerNormKernel {
  void (*run)(const float* x, size_t rows, size_t dim, size_t ldx, const float* gamma,
              const float* beta, float eps, float* y, size_t ldy, ThreadPool& pool) = nullptr;
};

struct KernelSet {
  std::string name;         // the backend's name, e.g. "blis+flash"
  std::string description;  // one line for `vitbench backends`
  LinearKernel linear;
  AttentionKernel attention;
  LayerNormKernel layer_norm;
};

// The registered kernel sets, one per backend (registry.cpp), by name. Throws core::Error for
// an unknown name, listing the known ones.
const KernelSet& kernel_set(const std::string& name);

// A new set named `name`: the linear pair and LayerNorm from `linear_from`, attention from
// `attention_from`.
KernelSet compose(const std::string& name, const KernelSet& linear_from,
                  const KernelSet& attention_from);

// Every kernel from optimized/hwy/ (kernel_set.cpp).
KernelSet hwy_kernels();

}  // namespace vitbench::optimized
