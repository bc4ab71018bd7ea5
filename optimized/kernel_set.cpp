// The Highway kernels as a kernel set, and composition of sets.
#include "optimized/kernel_set.h"

#include <utility>

#include "core/error.h"

namespace vitbench::optimized {

void check_attention_queries(const char* where, size_t tokens, size_t queries, bool probs) {
  if (queries > tokens || (probs && queries != tokens)) {
    core::fail(where, "queries must be at most the tokens, and all of them with probs");
  }
}

void AttentionProblem::check_queries(const char* where) const {
  check_attention_queries(where, tokens, query_tokens(), probs != nullptr);
}

namespace {

class HwyPacked final : public PackedLinear {
 public:
  explicit HwyPacked(hwy::PackedWeights w) : PackedLinear(w.n, w.k), weights(std::move(w)) {}
  hwy::PackedWeights weights;
};

std::unique_ptr<PackedLinear> hwy_pack(const float* w, size_t n, size_t k) {
  return std::make_unique<HwyPacked>(hwy::pack_weights(w, n, k));
}

void hwy_linear(const float* a, size_t m, size_t lda, const PackedLinear& w, float* c, size_t ldc,
                const Epilogue& epilogue, ThreadPool& pool) {
  // The pack/run pair travels together (KernelSet::linear), so `w` was made by hwy_pack.
  hwy::gemm(a, m, lda, static_cast<const HwyPacked&>(w).weights, c, ldc, epilogue, pool);
}

// hwy::attention keeps its own per-worker score workspace.
size_t hwy_attention_workspace(size_t, size_t, size_t) { return 0; }

void hwy_attention(const AttentionProblem& p, float*, ThreadPool& pool) {
  for (size_t i = 0; i < p.images; ++i) {
    const size_t row = i * p.tokens;
    hwy::attention(p.qkv + row * p.ld_qkv, p.ld_qkv, p.tokens, p.query_tokens(), p.heads,
                   p.head_dim, p.out + row * p.ld_out, p.ld_out,
                   p.probs ? p.probs + i * p.heads * p.tokens * p.tokens : nullptr, pool);
  }
}

}  // namespace

KernelSet hwy_kernels() {
  KernelSet set;
  set.name = "hwy";
  set.description = std::string("Highway kernels throughout (dispatching to ") +
                    hwy::chosen_target() + ")";
  set.linear = {hwy_pack, hwy_linear};
  set.attention = {hwy_attention_workspace, hwy_attention};
  set.layer_norm = {hwy::layer_norm};
  return set;
}

KernelSet compose(const std::string& name, const KernelSet& linear_from,
                  const KernelSet& attention_from) {
  KernelSet set = linear_from;
  set.name = name;
  set.description = "linear layers and LayerNorm from " + linear_from.name + ", attention from " +
                    attention_from.name;
  set.attention = attention_from.attention;
  return set;
}

}  // namespace vitbench::optimized
