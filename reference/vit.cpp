// The reference forward pass, top-down: embed, blocks, final norm, pool, head. Activations are
// float64 matrices of one row per token ([N·T, D], image-major); weights stay float32 as stored.
//
// Threads only ever split rows (tokens, or whole images for attention) between workers; every
// output element is computed by one worker with the same loop in the same order, so the result is
// bit-identical for any thread count and any batch composition.
#include "reference/vit.h"

#include <string>
#include <vector>

#include "core/images.h"
#include "core/parallel.h"
#include "reference/ops.h"

namespace vitbench::reference {
namespace {

using core::Config;
using core::TensorD;

void record(core::Taps* taps, const std::string& name, const TensorD& value) {
  if (taps && taps->wants(name)) taps->record(name, value);
}

// y [rows, out] = x [rows, in] · wᵀ + bias, rows split between threads.
TensorD linear_rows(const TensorD& x, size_t rows, size_t in, const core::Tensor& w,
                    const core::Tensor& bias, size_t out, size_t threads) {
  TensorD y({rows, out});
  core::parallel_for(rows, threads, [&](size_t begin, size_t end) {
    linear(x.data() + begin * in, end - begin, in, w.data(), bias.data(), out,
           y.data() + begin * out);
  });
  return y;
}

TensorD layer_norm_rows(const TensorD& x, size_t rows, size_t dim, const core::Tensor& gamma,
                        const core::Tensor& beta, double eps) {
  TensorD y({rows, dim});
  layer_norm(x.data(), rows, dim, gamma.data(), beta.data(), eps, y.data());
  return y;
}

// The learned vectors of the tokens before the patches, in token order: the class token, the
// distillation token, the register tokens (each where the model has it).
std::vector<const float*> prefix_vectors(const Config& c, const core::Weights& w) {
  std::vector<const float*> rows;
  if (c.class_token) rows.push_back(w.cls_token.data());
  if (c.distilled) rows.push_back(w.dist_token.data());
  for (size_t r = 0; r < c.register_tokens; ++r) {
    rows.push_back(w.reg_tokens.data() + r * c.hidden_size);
  }
  return rows;
}

// Conv2d(C, D, kernel P, stride P) as one dot product per (patch, output channel), then the
// prefix tokens in front and the position embedding added to every token (to the patches only
// with no_embed_class). Returns [N, T, D].
TensorD embed(const core::Model& model, const core::Tensor& images, size_t threads) {
  const Config& c = model.config;
  const core::Weights& w = model.weights;
  const size_t N = images.dim(0), C = c.num_channels, S = c.image_size, P = c.patch_size;
  const size_t G = c.grid_size(), T = c.num_tokens(), D = c.hidden_size;
  const size_t prefix = c.num_prefix_tokens();
  TensorD x({N, T, D});
  core::parallel_for(N * G * G, threads, [&](size_t begin, size_t end) {
    for (size_t cell = begin; cell < end; ++cell) {
      const size_t n = cell / (G * G), gy = cell % (G * G) / G, gx = cell % G;
      double* token = x.data() + (n * T + prefix + gy * G + gx) * D;
      for (size_t d = 0; d < D; ++d) {
        double sum = 0;
        for (size_t ch = 0; ch < C; ++ch) {
          for (size_t py = 0; py < P; ++py) {
            for (size_t px = 0; px < P; ++px) {
              const double pixel = images[((n * C + ch) * S + gy * P + py) * S + gx * P + px];
              sum += static_cast<double>(w.patch_weight[((d * C + ch) * P + py) * P + px]) * pixel;
            }
          }
        }
        token[d] = static_cast<double>(w.patch_bias[d]) + sum;
      }
    }
  });
  const size_t first = c.no_embed_class ? prefix : 0;  // the first token with a position row
  const std::vector<const float*> prefix_rows = prefix_vectors(c, w);
  for (size_t n = 0; n < N; ++n) {
    for (size_t t = 0; t < prefix; ++t) {
      double* token = x.data() + (n * T + t) * D;
      for (size_t d = 0; d < D; ++d) token[d] = static_cast<double>(prefix_rows[t][d]);
    }
    for (size_t t = first; t < T; ++t) {
      for (size_t d = 0; d < D; ++d) {
        x[(n * T + t) * D + d] += static_cast<double>(w.pos_embed[(t - first) * D + d]);
      }
    }
  }
  return x;
}

// proj(attention(qkv(LN1(x)))): the attention branch, before the residual add.
TensorD attention_branch(const Config& c, const core::BlockWeights& b, const TensorD& x, size_t N,
                         size_t threads, TensorD* probs) {
  const size_t T = c.num_tokens(), D = c.hidden_size, H = c.num_heads, rows = N * T;
  const TensorD h = layer_norm_rows(x, rows, D, b.norm1_weight, b.norm1_bias, c.layer_norm_eps);
  TensorD qkv = linear_rows(h, rows, D, b.qkv_weight, b.qkv_bias, 3 * D, threads);
  if (c.qk_norm) {
    // QK norm: each head's q and k normalized over its head_dim, in place (rows of q are the
    // first D columns, of k the next D).
    for (size_t r = 0; r < rows; ++r) {
      double* q = qkv.data() + r * 3 * D;
      layer_norm(q, H, c.head_dim(), b.q_norm_weight.data(), b.q_norm_bias.data(),
                 c.layer_norm_eps, q);
      layer_norm(q + D, H, c.head_dim(), b.k_norm_weight.data(), b.k_norm_bias.data(),
                 c.layer_norm_eps, q + D);
    }
  }
  TensorD a({rows, D});
  core::parallel_for(N, threads, [&](size_t begin, size_t end) {
    for (size_t n = begin; n < end; ++n) {
      attention(qkv.data() + n * T * 3 * D, T, H, c.head_dim(), a.data() + n * T * D,
                probs ? probs->data() + n * H * T * T : nullptr);
    }
  });
  return linear_rows(a, rows, D, b.proj_weight, b.proj_bias, D, threads);
}

// fc2(GELU(fc1(LN2(x)))).
TensorD mlp_branch(const Config& c, const core::BlockWeights& b, const TensorD& x, size_t N,
                   size_t threads) {
  const size_t rows = N * c.num_tokens(), D = c.hidden_size, M = c.intermediate_size;
  const TensorD h = layer_norm_rows(x, rows, D, b.norm2_weight, b.norm2_bias, c.layer_norm_eps);
  TensorD f = linear_rows(h, rows, D, b.fc1_weight, b.fc1_bias, M, threads);
  for (double& v : f.span()) v = gelu(c.gelu, v);
  return linear_rows(f, rows, M, b.fc2_weight, b.fc2_bias, D, threads);
}

void add_in_place(TensorD& x, const TensorD& y) {
  for (size_t i = 0; i < x.size(); ++i) x[i] += y[i];
}

// Layer scale: y [rows, D] times gamma [D] per channel, when the model has it.
void scale_channels(const Config& c, const core::Tensor& gamma, TensorD& y) {
  if (!c.layer_scale) return;
  const size_t D = c.hidden_size;
  for (size_t i = 0; i < y.size(); ++i) y[i] *= static_cast<double>(gamma[i % D]);
}

// One pre-LN transformer block on x [N, T, D], in place.
void block(const Config& c, const core::BlockWeights& b, size_t index, TensorD& x,
           core::Taps* taps, size_t threads) {
  const size_t N = x.dim(0), T = c.num_tokens(), H = c.num_heads;
  const std::string probs_name = core::tap::attn_probs(index);
  TensorD probs;
  const bool want_probs = taps && taps->wants(probs_name);
  if (want_probs) probs = TensorD({N, H, T, T});

  // attn_out is what the branch adds to the residual stream: after layer scale, if any.
  TensorD attn_out = attention_branch(c, b, x, N, threads, want_probs ? &probs : nullptr);
  scale_channels(c, b.ls1_gamma, attn_out);
  attn_out.reshape({N, T, c.hidden_size});
  record(taps, core::tap::attn_out(index), attn_out);
  if (want_probs) taps->record(probs_name, std::move(probs));
  add_in_place(x, attn_out);

  TensorD mlp_out = mlp_branch(c, b, x, N, threads);
  scale_channels(c, b.ls2_gamma, mlp_out);
  add_in_place(x, mlp_out);
  record(taps, core::tap::block_out(index), x);
}

// [N, T, D] -> [N, D]: the token at `index` (the class token, or the distillation token), or the
// mean of the patch tokens (timm's global_pool='avg': the prefix tokens are left out).
TensorD pool(const Config& c, const TensorD& x, size_t index = 0) {
  const size_t N = x.dim(0), T = c.num_tokens(), D = c.hidden_size;
  TensorD pooled({N, D}, 0.0);
  for (size_t n = 0; n < N; ++n) {
    double* out = pooled.data() + n * D;
    if (c.pooling == core::Pooling::ClassToken) {
      for (size_t d = 0; d < D; ++d) out[d] = x[(n * T + index) * D + d];
      continue;
    }
    for (size_t t = c.num_prefix_tokens(); t < T; ++t) {
      for (size_t d = 0; d < D; ++d) out[d] += x[(n * T + t) * D + d];
    }
    for (size_t d = 0; d < D; ++d) out[d] /= static_cast<double>(c.num_patches());
  }
  return pooled;
}

}  // namespace

core::TensorD forward(const core::Model& model, const core::Tensor& images, core::Taps* taps,
                      size_t threads) {
  const Config& c = model.config;
  const core::Weights& w = model.weights;
  core::check_images(c, images, "reference::forward");
  // The loops above index the weights by the config's sizes: refuse a mismatch rather than read
  // past a tensor's end.
  core::check_weight_sizes(model, "reference::forward");
  const size_t N = images.dim(0), T = c.num_tokens(), D = c.hidden_size;

  // The embed tap is what the first block reads: after norm_pre, if any.
  TensorD x = embed(model, images, threads);
  if (c.pre_norm) {
    x = layer_norm_rows(x, N * T, D, w.norm_pre_weight, w.norm_pre_bias, c.layer_norm_eps);
    x.reshape({N, T, D});
  }
  record(taps, core::tap::embed(), x);

  for (size_t i = 0; i < c.num_layers; ++i) block(c, w.blocks[i], i, x, taps, threads);

  // With fc_norm the final norm moves after pooling (timm's norm is then the identity, and the
  // final_norm tap is the last block's output).
  TensorD normed = c.fc_norm ? x : layer_norm_rows(x, N * T, D, w.norm_weight, w.norm_bias,
                                                    c.layer_norm_eps);
  normed.reshape({N, T, D});
  record(taps, core::tap::final_norm(), normed);

  TensorD pooled = pool(c, normed);
  if (c.fc_norm) pooled = layer_norm_rows(pooled, N, D, w.norm_weight, w.norm_bias, c.layer_norm_eps);
  TensorD logits = linear_rows(pooled, N, D, w.head_weight, w.head_bias, c.num_labels, threads);
  if (c.distilled) {
    // timm's DeiT in eval mode: the mean of the class token's head and the distillation
    // token's.
    const TensorD dist = linear_rows(pool(c, normed, 1), N, D, w.head_dist_weight,
                                     w.head_dist_bias, c.num_labels, threads);
    for (size_t i = 0; i < logits.size(); ++i) logits[i] = (logits[i] + dist[i]) / 2;
  }
  record(taps, core::tap::logits(), logits);
  return logits;
}

}  // namespace vitbench::reference
