// The shared forward pass. Same semantics as reference::forward: patch embedding as a Conv2d of
// stride P, token order prefix + gy·grid + gx after the prefix tokens (class, distillation,
// registers: config.h), + position embedding, pre-LN blocks, final LayerNorm over every token,
// class-token or mean (patch tokens only) pooling, head; and timm's variants (config.h).
//
// Layout: every image's tokens are rows of one [N·T, D] activation matrix, so each linear layer is
// a single GEMM of N·T rows; attention is per image (the kernel sees the whole batch and spreads
// images × heads over the pool).
//
// Fusions: qkv GEMM + bias; proj GEMM + bias + residual straight into x; fc1 + bias + GELU;
// fc2 + bias + residual into x; the head reads the class tokens in place through its row stride.
// With class-token pooling, only the pooled tokens' rows go on past the last block's attention
// (last_block_tokens), unless a tap needs the others; and only their queries are computed and
// attend in that block (its q and k|v weights are packed apart), unless its attention maps are
// wanted.
// qkv and attention fused per head (fuses_qkv_attention: several threads, and heads that share
// evenly among them): one parallel region per block, a task per head, that computes the head's
// q|k|v columns for every image into its worker's own buffer and attends over them at once. So
// attention reads what its own core has just written instead of q, k and v columns written by
// every core, and the block has one barrier less (docs/performance.md, "qkv and attention fused
// per head"). The weights are packed per head, [3·hd, D] each, for that.
// Layer scale (DeiT III) costs nothing per forward: ls1 and ls2 are folded into proj's and fc2's
// weight rows and biases at prepare time, gamma ⊙ (a·W + b) = a·(gamma ⊙ W) + gamma ⊙ b, so the
// fused residual epilogues stay as they are (the products round differently from the
// reference's scaling after the sum, by an ulp of each product).
//
// What this pass adds beyond the kernels' own work, per forward (for N images, T tokens):
//   - im2col: one write of the [N·T, C·P²] patch matrix (the pixels are read once) so that the
//     patch embedding runs as a GEMM. Its class-token rows stay zero, so the single GEMM over all
//     N·T rows needs no gaps; those rows are then overwritten.
//   - one pass over [N·T, D] adding the position embedding (and placing the class token): the
//     GEMM epilogue's residual has one row stride and cannot repeat a [T, D] table per image.
//   - mean pooling only: one read of the final norm's patch rows.
// No activation is copied otherwise, and once the buffers fit the batch (they grow to the largest
// batch seen) the pass allocates only the logits it returns (tested with allocation counting:
// tests/optimized/test_backend_allocations.cpp). Tasks go to the pool as std::ref(lambda): a
// std::function holding a reference_wrapper never allocates, whatever the lambda captures.
// Taps cost nothing when `taps` is null. Recording one converts it to float64 (Taps' currency),
// and the attn_out tap needs the projection before its residual add, so with that tap wanted
// proj runs unfused (GEMM into a scratch buffer, then one add pass).
#include "optimized/forward.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/taps.h"
#include "optimized/thread_pool.h"

namespace vitbench::optimized {
namespace {

using core::Tensor;

struct PreparedBlock {
  Tensor norm1_weight, norm1_bias, norm2_weight, norm2_bias;
  Tensor q_norm_weight, q_norm_bias, k_norm_weight, k_norm_bias;  // with qk_norm
  Tensor qkv_bias, proj_bias, fc1_bias, fc2_bias;
  // qkv, or in a last block whose queries may be pruned, its q and k|v rows packed apart (one
  // or the other is null).
  std::unique_ptr<PackedLinear> qkv, q, kv, proj, fc1, fc2;
  // Or, when qkv runs fused with attention (fuses_qkv_attention), each head's q|k|v rows apart,
  // [3·head_dim, D] each, and their biases [heads, 3·head_dim].
  std::vector<std::unique_ptr<PackedLinear>> qkv_heads;
  Tensor qkv_head_bias;
};

// Calls f(first_row, rows, step) over the rows of the first `queries` of each of N images' T
// tokens: rows first_row + r·step, r < rows. One call when those rows are evenly spaced (every
// token, or one image), else one per leading token (class, distillation: at most two).
template <class F>
void for_query_rows(size_t N, size_t T, size_t queries, F&& f) {
  if (queries == T || N == 1) {
    f(size_t{0}, N == 1 ? queries : N * T, size_t{1});
    return;
  }
  for (size_t j = 0; j < queries; ++j) f(j, N, T);
}

// Copies `data` [shape] into Taps' float64 currency, only when the tap is wanted.
void record(core::Taps* taps, const std::string& name, const float* data, core::Shape shape) {
  if (!taps || !taps->wants(name)) return;
  core::TensorD value(std::move(shape));
  for (size_t i = 0; i < value.size(); ++i) value[i] = static_cast<double>(data[i]);
  taps->record(name, std::move(value));
}

class KernelSetModel final : public PreparedModel {
 public:
  KernelSetModel(const core::Model& model, KernelSet kernels, size_t threads, ForwardTimes* times)
      : config_(model.config), kernels_(std::move(kernels)), pool_(threads), times_(times) {
    if (times_) pool_.set_idle_accounting(true);
    const core::Config& c = config_;
    const core::Weights& w = model.weights;
    c.validate("prepare");
    const bool fused = fuses_qkv_attention(c, threads);
    if (fused) {
      for (size_t i = 0; i < threads; ++i) {
        serial_pools_.push_back(std::make_unique<ThreadPool>(1));
      }
    }
    core::check_weight_sizes(model, "prepare");  // every tensor below has its config's size
    const size_t D = c.hidden_size, M = c.intermediate_size;
    const size_t L = c.num_labels, K = c.patch_dim();
    auto pack = [&](const Tensor& t, size_t n, size_t k) {
      return kernels_.linear.pack(t.data(), n, k);
    };
    // Layer scale folded into a branch's last linear layer: row o of W and b times gamma[o].
    auto pack_scaled = [&](const Tensor& t, size_t n, size_t k, const Tensor& gamma) {
      if (!c.layer_scale) return pack(t, n, k);
      Tensor scaled = t;
      for (size_t o = 0; o < n; ++o) {
        for (size_t i = 0; i < k; ++i) scaled[o * k + i] *= gamma[o];
      }
      return kernels_.linear.pack(scaled.data(), n, k);
    };
    auto scaled_bias = [&](const Tensor& bias, const Tensor& gamma) {
      Tensor out = bias;
      if (c.layer_scale) {
        for (size_t o = 0; o < out.size(); ++o) out[o] *= gamma[o];
      }
      return out;
    };
    // The Conv2d weight [D, C, P, P] is already the [D, C·P²] matrix im2col's column order
    // (channel, row, column) expects.
    patch_ = pack(w.patch_weight, D, K);
    patch_bias_ = w.patch_bias;
    // The tokens before the patches, in token order: class, distillation, registers.
    prefix_rows_ = Tensor({c.num_prefix_tokens(), D});
    float* prefix = prefix_rows_.data();
    if (c.class_token) prefix = std::copy_n(w.cls_token.data(), D, prefix);
    if (c.distilled) prefix = std::copy_n(w.dist_token.data(), D, prefix);
    std::copy_n(w.reg_tokens.data(), c.register_tokens * D, prefix);
    if (c.distilled) {
      head_dist_ = pack(w.head_dist_weight, L, D);
      head_dist_bias_ = w.head_dist_bias;
    }
    pos_embed_ = w.pos_embed;
    if (c.pre_norm) {
      norm_pre_weight_ = w.norm_pre_weight;
      norm_pre_bias_ = w.norm_pre_bias;
    }
    for (size_t i = 0; i < c.num_layers; ++i) {
      const core::BlockWeights& b = w.blocks[i];
      PreparedBlock& q = blocks_.emplace_back();
      q.norm1_weight = b.norm1_weight;
      q.norm1_bias = b.norm1_bias;
      q.norm2_weight = b.norm2_weight;
      q.norm2_bias = b.norm2_bias;
      if (c.qk_norm) {
        q.q_norm_weight = b.q_norm_weight;
        q.q_norm_bias = b.q_norm_bias;
        q.k_norm_weight = b.k_norm_weight;
        q.k_norm_bias = b.k_norm_bias;
      }
      q.qkv_bias = b.qkv_bias;
      q.proj_bias = scaled_bias(b.proj_bias, b.ls1_gamma);
      q.fc1_bias = b.fc1_bias;
      q.fc2_bias = scaled_bias(b.fc2_bias, b.ls2_gamma);
      if (i + 1 == c.num_layers && c.pooled_tokens() < c.num_tokens()) {
        // Rows [0, D) of the qkv weight make q, [D, 3D) k and v (forward(): `queries`).
        q.q = pack(b.qkv_weight, D, D);
        q.kv = kernels_.linear.pack(b.qkv_weight.data() + D * D, 2 * D, D);
      } else if (fused) {
        // Head h's rows: q's [h·hd, (h+1)·hd), then k's and v's, D and 2·D further on.
        const size_t H = c.num_heads, hd = c.head_dim();
        q.qkv_head_bias = Tensor({H, 3 * hd});
        Tensor rows({3 * hd, D});
        for (size_t h = 0; h < H; ++h) {
          for (size_t part = 0; part < 3; ++part) {
            const size_t from = part * D + h * hd;
            std::copy_n(b.qkv_weight.data() + from * D, hd * D, rows.data() + part * hd * D);
            std::copy_n(b.qkv_bias.data() + from, hd,
                        q.qkv_head_bias.data() + (h * 3 + part) * hd);
          }
          q.qkv_heads.push_back(kernels_.linear.pack(rows.data(), 3 * hd, D));
        }
      } else {
        q.qkv = pack(b.qkv_weight, 3 * D, D);
      }
      q.proj = pack_scaled(b.proj_weight, D, D, b.ls1_gamma);
      q.fc1 = pack(b.fc1_weight, M, D);
      q.fc2 = pack_scaled(b.fc2_weight, D, M, b.ls2_gamma);
    }
    norm_weight_ = w.norm_weight;
    norm_bias_ = w.norm_bias;
    head_ = pack(w.head_weight, L, D);
    head_bias_ = w.head_bias;
  }

  Tensor forward(const Tensor& images, core::Taps* taps) override {
    const core::Config& c = config_;
    const size_t S = c.image_size;
    if (images.rank() != 4 || images.dim(0) == 0 || images.dim(1) != c.num_channels ||
        images.dim(2) != S || images.dim(3) != S) {
      core::fail("forward", "expected images [N, " + std::to_string(c.num_channels) + ", " +
                                std::to_string(S) + ", " + std::to_string(S) + "], got " +
                                core::shape_to_string(images.shape()));
    }
    const size_t N = images.dim(0), T = c.num_tokens(), D = c.hidden_size, H = c.num_heads;
    const size_t M = c.intermediate_size, L = c.num_labels;
    // Rows of x_ in play, and per image: every token until the last block's attention, then
    // only the tokens pooling reads when no tap wants the others (see last_block_tokens).
    size_t rows = N * T, tokens = T;
    if (times_) {
      lap_start_ = std::chrono::steady_clock::now();
      lap_idle_ = pool_.idle();
    }
    reserve(N);

    const float eps = static_cast<float>(c.layer_norm_eps);
    embed(images, N);
    if (c.pre_norm) {
      // norm_pre: the normed rows become the residual stream (the buffers are the same size).
      kernels_.layer_norm.run(x_.data(), rows, D, D, norm_pre_weight_.data(),
                              norm_pre_bias_.data(), eps, ln_.data(), D, pool_);
      std::swap(x_, ln_);
      lap(ForwardOp::LayerNorm);
    }
    if (taps) record(taps, core::tap::embed(), x_.data(), {N, T, D});

    const auto& lin = kernels_.linear;
    const size_t last_tokens = last_block_tokens(taps);
    for (size_t i = 0; i < blocks_.size(); ++i) {
      const PreparedBlock& b = blocks_[i];
      Tensor probs;
      const bool want_probs = taps && taps->wants(core::tap::attn_probs(i));
      if (want_probs) probs = Tensor({N, H, T, T});
      // The tokens whose queries attend: all, but in a last block carrying fewer tokens on.
      const size_t queries = b.q && !want_probs ? last_tokens : T;

      // Attention branch: x += proj(attention(qkv(LN1(x)))).
      kernels_.layer_norm.run(x_.data(), rows, D, D, b.norm1_weight.data(), b.norm1_bias.data(),
                              eps, ln_.data(), D, pool_);
      lap(ForwardOp::LayerNorm);
      float* block_probs = want_probs ? probs.data() : nullptr;
      if (b.qkv_heads.empty()) {
        qkv_then_attention(b, N, queries, block_probs);
      } else {
        qkv_attention_per_head(b, N, block_probs);
        lap(ForwardOp::QkvAttention);
      }
      if (want_probs) record(taps, core::tap::attn_probs(i), probs.data(), {N, H, T, T});
      if (i + 1 == blocks_.size() && last_tokens < T) {
        keep_leading_tokens(N, last_tokens);
        tokens = last_tokens;
        rows = N * tokens;
        lap(ForwardOp::Other);
      }

      Epilogue proj_epilogue;
      proj_epilogue.bias = b.proj_bias.data();
      if (taps && taps->wants(core::tap::attn_out(i))) {
        // LN1's output is dead once qkv is computed, so its buffer takes the projection.
        lin.run(attn_.data(), rows, D, *b.proj, ln_.data(), D, proj_epilogue, pool_);
        lap(ForwardOp::Proj);
        record(taps, core::tap::attn_out(i), ln_.data(), {N, T, D});
        float* x = x_.data();
        const float* y = ln_.data();
        for (size_t j = 0; j < rows * D; ++j) x[j] += y[j];
        lap(ForwardOp::Residual);
      } else {
        proj_epilogue.residual = x_.data();
        proj_epilogue.ld_residual = D;
        lin.run(attn_.data(), rows, D, *b.proj, x_.data(), D, proj_epilogue, pool_);
        lap(ForwardOp::Proj);
      }

      // MLP branch: x += fc2(GELU(fc1(LN2(x)))).
      kernels_.layer_norm.run(x_.data(), rows, D, D, b.norm2_weight.data(), b.norm2_bias.data(),
                              eps, ln_.data(), D, pool_);
      lap(ForwardOp::LayerNorm);
      Epilogue fc1_epilogue;
      fc1_epilogue.bias = b.fc1_bias.data();
      fc1_epilogue.gelu = true;
      fc1_epilogue.gelu_kind = c.gelu;
      lin.run(ln_.data(), rows, D, *b.fc1, wide_.data(), M, fc1_epilogue, pool_);
      lap(ForwardOp::Fc1);
      Epilogue fc2_epilogue;
      fc2_epilogue.bias = b.fc2_bias.data();
      fc2_epilogue.residual = x_.data();
      fc2_epilogue.ld_residual = D;
      lin.run(wide_.data(), rows, M, *b.fc2, x_.data(), D, fc2_epilogue, pool_);
      lap(ForwardOp::Fc2);
      if (taps) record(taps, core::tap::block_out(i), x_.data(), {N, T, D});
    }

    Tensor logits({N, L});
    Epilogue head_epilogue;
    head_epilogue.bias = head_bias_.data();
    if (c.fc_norm) {
      // Pool the last block's output, then normalize the N pooled rows into ln_.
      if (taps) record(taps, core::tap::final_norm(), x_.data(), {N, T, D});
      const float* pooled = x_.data();  // class tokens: rows n·tokens, stride tokens·D
      size_t ld_pooled = tokens * D;
      if (c.pooling == core::Pooling::Mean) {
        mean_pool(x_.data(), N);
        lap(ForwardOp::Other);
        pooled = pooled_.data();
        ld_pooled = D;
      }
      kernels_.layer_norm.run(pooled, N, D, ld_pooled, norm_weight_.data(), norm_bias_.data(), eps,
                              ln_.data(), D, pool_);
      lap(ForwardOp::LayerNorm);
      lin.run(ln_.data(), N, D, *head_, logits.data(), L, head_epilogue, pool_);
    } else {
      kernels_.layer_norm.run(x_.data(), rows, D, D, norm_weight_.data(), norm_bias_.data(), eps,
                              ln_.data(), D, pool_);
      lap(ForwardOp::LayerNorm);
      if (taps) record(taps, core::tap::final_norm(), ln_.data(), {N, T, D});
      if (c.pooling == core::Pooling::ClassToken) {
        // Image n's class token is row n·tokens: a row stride of tokens·D reads them without a
        // gather.
        lin.run(ln_.data(), N, tokens * D, *head_, logits.data(), L, head_epilogue, pool_);
        if (c.distilled) {
          // DeiT in eval mode: the mean of both heads, the second on the distillation tokens
          // (rows n·tokens + 1).
          Epilogue dist_epilogue;
          dist_epilogue.bias = head_dist_bias_.data();
          lin.run(ln_.data() + D, N, tokens * D, *head_dist_, dist_logits_.data(), L,
                  dist_epilogue, pool_);
          const float* dist = dist_logits_.data();
          for (size_t i = 0; i < N * L; ++i) logits[i] = (logits[i] + dist[i]) * 0.5f;
        }
      } else {
        mean_pool(ln_.data(), N);
        lap(ForwardOp::Other);
        lin.run(pooled_.data(), N, D, *head_, logits.data(), L, head_epilogue, pool_);
      }
    }
    lap(ForwardOp::Head);
    if (taps) record(taps, core::tap::logits(), logits.data(), {N, L});
    if (times_) ++times_->forwards;
    return logits;
  }

 private:
  // Block b's qkv for every token (or, in a last block with pruned queries, k and v for every
  // token and q for the `queries` that attend), one GEMM over the pool; then QK norm; then the
  // attention of every image and head, over the pool again.
  void qkv_then_attention(const PreparedBlock& b, size_t N, size_t queries, float* probs) {
    const core::Config& c = config_;
    const size_t T = c.num_tokens(), D = c.hidden_size, H = c.num_heads, rows = N * T;
    const float eps = static_cast<float>(c.layer_norm_eps);
    Epilogue qkv_epilogue;
    qkv_epilogue.bias = b.qkv_bias.data();
    if (b.qkv) {
      kernels_.linear.run(ln_.data(), rows, D, *b.qkv, wide_.data(), 3 * D, qkv_epilogue, pool_);
    } else {
      // k and v for every token, q for the tokens that attend. Each output element is the same
      // dot product, in the same order, as in the one qkv GEMM.
      Epilogue kv_epilogue;
      kv_epilogue.bias = b.qkv_bias.data() + D;
      kernels_.linear.run(ln_.data(), rows, D, *b.kv, wide_.data() + D, 3 * D, kv_epilogue,
                          pool_);
      for_query_rows(N, T, queries, [&](size_t r0, size_t m, size_t step) {
        kernels_.linear.run(ln_.data() + r0 * D, m, step * D, *b.q, wide_.data() + r0 * 3 * D,
                            step * 3 * D, qkv_epilogue, pool_);
      });
    }
    lap(ForwardOp::Qkv);
    if (c.qk_norm) {
      // QK norm, in place in the qkv rows: head h's q (columns h·d of the first D) and k (of
      // the next D) are strided matrices the LayerNorm kernel takes as they are.
      const size_t hd = c.head_dim();
      for (size_t h = 0; h < H; ++h) {
        float* q = wide_.data() + h * hd;
        for_query_rows(N, T, queries, [&](size_t r0, size_t m, size_t step) {
          float* rows_q = q + r0 * 3 * D;
          kernels_.layer_norm.run(rows_q, m, hd, step * 3 * D, b.q_norm_weight.data(),
                                  b.q_norm_bias.data(), eps, rows_q, step * 3 * D, pool_);
        });
        kernels_.layer_norm.run(q + D, rows, hd, 3 * D, b.k_norm_weight.data(),
                                b.k_norm_bias.data(), eps, q + D, 3 * D, pool_);
      }
      lap(ForwardOp::LayerNorm);
    }

    const AttentionProblem problem{.qkv = wide_.data(),
                                   .ld_qkv = 3 * D,
                                   .images = N,
                                   .tokens = T,
                                   .heads = H,
                                   .head_dim = c.head_dim(),
                                   .queries = queries,
                                   .out = attn_.data(),
                                   .ld_out = D,
                                   .probs = probs};
    kernels_.attention.run(problem, workspace_.data(), pool_);
    lap(ForwardOp::Attention);
  }

  // Block b's qkv and attention fused per head (fuses_qkv_attention), one task per head: every
  // image's LN1 rows (ln_) times the head's q|k|v weights into the worker's own [N·T, 3·hd]
  // buffer, QK norm there, then each image's attention for that head into the head's columns of
  // attn_. The kernels run on the worker's one-thread pool inside the task. Each qkv element is
  // the dot product, in the same order, of the one qkv GEMM, and each attention row the kernel's
  // same arithmetic, so the two ways agree bit for bit (tests/optimized/test_backends.cpp).
  void qkv_attention_per_head(const PreparedBlock& b, size_t N, float* probs) {
    const core::Config& c = config_;
    const size_t T = c.num_tokens(), D = c.hidden_size, H = c.num_heads, hd = c.head_dim();
    // Each worker's slice of the per-worker buffers, from their shapes [workers, ...].
    const size_t ld = 3 * hd, qkv_floats = head_qkv_.size() / pool_.size();
    const size_t workspace_floats = head_workspace_.size() / pool_.size();
    const float eps = static_cast<float>(c.layer_norm_eps);
    auto head = [&](size_t h, size_t worker) {
      float* qkv = head_qkv_.data() + worker * qkv_floats;
      ThreadPool& serial = *serial_pools_[worker];
      Epilogue epilogue;
      epilogue.bias = b.qkv_head_bias.data() + h * ld;
      kernels_.linear.run(ln_.data(), N * T, D, *b.qkv_heads[h], qkv, ld, epilogue, serial);
      if (c.qk_norm) {
        kernels_.layer_norm.run(qkv, N * T, hd, ld, b.q_norm_weight.data(), b.q_norm_bias.data(),
                                eps, qkv, ld, serial);
        kernels_.layer_norm.run(qkv + hd, N * T, hd, ld, b.k_norm_weight.data(),
                                b.k_norm_bias.data(), eps, qkv + hd, ld, serial);
      }
      // Image by image, because an attention map [N, H, T, T] has no stride of its own between
      // the images of one head.
      for (size_t n = 0; n < N; ++n) {
        const AttentionProblem problem{.qkv = qkv + n * T * ld,
                                       .ld_qkv = ld,
                                       .images = 1,
                                       .tokens = T,
                                       .heads = 1,
                                       .head_dim = hd,
                                       .queries = T,
                                       .out = attn_.data() + n * T * D + h * hd,
                                       .ld_out = D,
                                       .probs = probs ? probs + (n * H + h) * T * T : nullptr};
        kernels_.attention.run(problem, head_workspace_.data() + worker * workspace_floats,
                               serial);
      }
    };
    pool_.run(H, std::ref(head));
  }

  // Sizes every activation buffer for a batch of n (only ever growing), so the pass itself never
  // allocates.
  void reserve(size_t n) {
    if (n <= capacity_) return;
    const core::Config& c = config_;
    const size_t rows = n * c.num_tokens(), D = c.hidden_size;
    // One wide buffer serves qkv [rows, 3D], the MLP's hidden [rows, M] and im2col's patches
    // [rows, C·P²]: their lifetimes never overlap.
    const size_t wide = std::max({3 * D, c.intermediate_size, c.patch_dim()});
    x_ = Tensor({rows, D});
    ln_ = Tensor({rows, D});
    attn_ = Tensor({rows, D});
    wide_ = Tensor({rows, wide});
    pooled_ = Tensor({n, D});
    if (c.distilled) dist_logits_ = Tensor({n, c.num_labels});
    pool_sums_ = core::TensorD({n, D});
    workspace_ = Tensor({kernels_.attention.workspace_floats(c.num_tokens(), c.head_dim(),
                                                             pool_.size())});
    if (!serial_pools_.empty()) {  // qkv and attention fused: per-worker buffers
      const size_t workers = pool_.size();
      head_qkv_ = Tensor({workers, n * c.num_tokens(), 3 * c.head_dim()});
      const size_t floats = kernels_.attention.workspace_floats(c.num_tokens(), c.head_dim(), 1);
      head_workspace_ = Tensor({workers, std::max<size_t>(floats, 1)});
    }
    capacity_ = n;
  }

  // How many leading tokens of each image the last block carries past its attention: those
  // pooling reads (config.h: pooled_tokens), unless a tap wants the rows the others would fill.
  // Attention still sees every token as a key and a value, but only these tokens' queries are
  // computed and attend (unless the block's attention maps are wanted); the projection, the MLP
  // and the final norm then run on N·pooled_tokens rows instead of N·T: at ViT-B/16 with
  // class-token pooling, 2.4 of its 35.1 GFLOP (core::flops::optimized_per_image).
  size_t last_block_tokens(const core::Taps* taps) const {
    const core::Config& c = config_;
    const size_t last = c.num_layers - 1;
    if (taps && (taps->wants(core::tap::attn_out(last)) ||
                 taps->wants(core::tap::block_out(last)) || taps->wants(core::tap::final_norm()))) {
      return c.num_tokens();
    }
    return c.pooled_tokens();
  }

  // Moves rows n·T + t (t < kept) of x_ and attn_ to rows n·kept + t, in place: each image's
  // destination starts before its source (std::copy's condition for overlapping ranges), and
  // every later image's source lies past it.
  void keep_leading_tokens(size_t N, size_t kept) {
    const size_t T = config_.num_tokens(), D = config_.hidden_size;
    for (Tensor* t : {&x_, &attn_}) {
      for (size_t n = 1; n < N; ++n) {
        const float* from = t->data() + n * T * D;
        std::copy(from, from + kept * D, t->data() + n * kept * D);
      }
    }
  }

  // x [N·T, D] = patch embedding (one GEMM over im2col'd patches) + position embedding, with the
  // prefix tokens (class, distillation, registers) in the first rows of each image.
  void embed(const Tensor& images, size_t N) {
    const core::Config& c = config_;
    const size_t C = c.num_channels, S = c.image_size, P = c.patch_size, G = c.grid_size();
    const size_t T = c.num_tokens(), D = c.hidden_size, K = c.patch_dim();
    const size_t prefix = c.num_prefix_tokens();
    float* patches = wide_.data();
    // Row n·T + prefix + gy·G + gx holds patch (gy, gx) of image n, columns in (channel, py, px)
    // order; the prefix tokens' rows are zero, so the GEMM below can run over all N·T rows. Rows
    // are split over the pool by image row band (gy), each band a disjoint set of rows.
    auto band = [&](size_t task, size_t) {
      const size_t n = task / G, gy = task % G;
      if (gy == 0) std::fill_n(patches + n * T * K, prefix * K, 0.0f);
      for (size_t gx = 0; gx < G; ++gx) {
        float* row = patches + (n * T + prefix + gy * G + gx) * K;
        for (size_t ch = 0; ch < C; ++ch) {
          for (size_t py = 0; py < P; ++py) {
            const float* pixels = images.data() + ((n * C + ch) * S + gy * P + py) * S + gx * P;
            std::copy_n(pixels, P, row + (ch * P + py) * P);
          }
        }
      }
    };
    pool_.run(N * G, std::ref(band));
    lap(ForwardOp::Other);
    Epilogue epilogue;
    epilogue.bias = patch_bias_.data();
    kernels_.linear.run(patches, N * T, K, *patch_, x_.data(), D, epilogue, pool_);
    lap(ForwardOp::Patch);
    // Reference order: (conv + bias) + pos; a prefix token is its vector + its pos row, or its
    // vector alone with no_embed_class, whose table starts at the first patch.
    const bool prefix_positions = !c.no_embed_class;
    auto add_position = [&](size_t n, size_t) {
      float* x = x_.data() + n * T * D;
      const float* pos = pos_embed_.data();
      for (size_t j = 0; j < prefix * D; ++j) {
        x[j] = prefix_rows_[j] + (prefix_positions ? pos[j] : 0.0f);
      }
      // Token t's row of the table: t, or t − prefix of the patches' table.
      const size_t shift = prefix_positions ? 0 : prefix * D;
      for (size_t j = prefix * D; j < T * D; ++j) x[j] += pos[j - shift];
    };
    pool_.run(N, std::ref(add_position));
    lap(ForwardOp::Other);
  }

  // pooled_ [N, D] = mean of the patch tokens of `tokens` [N·T, D] (the prefix tokens excluded),
  // summed in float64 (row by row, so reads stay sequential) so the sum over the patches adds no
  // error worth counting.
  void mean_pool(const float* tokens, size_t N) {
    const size_t T = config_.num_tokens(), D = config_.hidden_size;
    const size_t prefix = config_.num_prefix_tokens();
    auto image_mean = [&](size_t n, size_t) {
      double* sum = pool_sums_.data() + n * D;
      std::fill_n(sum, D, 0.0);
      for (size_t t = prefix; t < T; ++t) {
        const float* row = tokens + (n * T + t) * D;
        for (size_t d = 0; d < D; ++d) sum[d] += row[d];
      }
      float* out = pooled_.data() + n * D;
      const double patches = static_cast<double>(T - prefix);
      for (size_t d = 0; d < D; ++d) out[d] = static_cast<float>(sum[d] / patches);
    };
    pool_.run(N, std::ref(image_mean));
  }

  // Ends the current lap and books it to `op` (forward.h: ForwardTimes).
  void lap(ForwardOp op) {
    if (!times_) return;
    const auto now = std::chrono::steady_clock::now();
    const size_t i = static_cast<size_t>(op);
    times_->seconds[i] += std::chrono::duration<double>(now - lap_start_).count();
    ++times_->calls[i];
    lap_start_ = now;
    const ThreadPool::Idle idle = pool_.idle();
    times_->idle_thread_seconds[i] += idle.thread_seconds - lap_idle_.thread_seconds;
    times_->regions[i] += idle.regions - lap_idle_.regions;
    lap_idle_ = idle;
  }

  core::Config config_;
  KernelSet kernels_;
  ThreadPool pool_;
  // One single-thread pool per worker of pool_, for kernels run inside a task of pool_; only
  // when qkv and attention run fused (fuses_qkv_attention), else empty.
  std::vector<std::unique_ptr<ThreadPool>> serial_pools_;
  ForwardTimes* times_ = nullptr;  // null: no lap reads a clock
  std::chrono::steady_clock::time_point lap_start_;
  ThreadPool::Idle lap_idle_;  // the pool's idle count at lap_start_

  std::unique_ptr<PackedLinear> patch_, head_, head_dist_;
  Tensor patch_bias_, prefix_rows_, pos_embed_, norm_pre_weight_, norm_pre_bias_, norm_weight_,
      norm_bias_, head_bias_, head_dist_bias_;
  std::vector<PreparedBlock> blocks_;

  size_t capacity_ = 0;  // images the buffers below are sized for
  Tensor x_, ln_, attn_, wide_, pooled_, workspace_, dist_logits_;
  Tensor head_qkv_, head_workspace_;  // fused qkv and attention: [workers, ...]
  core::TensorD pool_sums_;
};

}  // namespace

bool fuses_qkv_attention(const core::Config& c, size_t threads) {
  return threads > 1 && c.num_heads % threads == 0 && c.num_heads >= 2 * threads;
}

std::unique_ptr<PreparedModel> prepare_model(const core::Model& model, const KernelSet& kernels,
                                             size_t threads) {
  return prepare_model(model, kernels, threads, nullptr);
}

std::unique_ptr<PreparedModel> prepare_model(const core::Model& model, const KernelSet& kernels,
                                             size_t threads, ForwardTimes* times) {
  if (threads == 0) core::fail("prepare", "the thread count must be at least 1");
  return std::make_unique<KernelSetModel>(model, kernels, threads, times);
}

}  // namespace vitbench::optimized
