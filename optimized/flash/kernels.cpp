// The "flash" kernel set: Highway's linear layers and LayerNorm, flash attention.
#include "optimized/flash/kernels.h"

#include "optimized/hwy/kernels.h"

namespace vitbench::optimized::flash {
namespace {

// The AttentionKernel signature has no options: the default key tile, no log-sum-exp.
size_t default_workspace_floats(size_t tokens, size_t head_dim, size_t workers) {
  return workspace_floats(tokens, head_dim, workers);
}

void default_attention(const AttentionProblem& problem, float* workspace, ThreadPool& pool) {
  attention(problem, workspace, pool);
}

}  // namespace

KernelSet kernels() {
  KernelSet set = compose("flash", hwy_kernels(), hwy_kernels());
  set.description = std::string("Highway kernels with flash attention (tiled, online softmax; ") +
                    hwy::chosen_target() + ")";
  set.attention = {default_workspace_floats, default_attention};
  return set;
}

}  // namespace vitbench::optimized::flash
