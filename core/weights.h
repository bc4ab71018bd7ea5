// The one canonical in-memory layout of a ViT's parameters (timm-like names, q/k/v stacked),
// float32, whatever file or generator they came from. Linear weights keep PyTorch's
// [out_features, in_features] layout; optimized backends repack them in their prepare step.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/tensor.h"

namespace vitbench::core {

struct BlockWeights {
  Tensor norm1_weight, norm1_bias;  // [D]
  Tensor qkv_weight;                // [3D, D]: rows of q, then k, then v
  Tensor qkv_bias;                  // [3D]; zeros when config.qkv_bias is false
  Tensor proj_weight, proj_bias;    // [D, D], [D]
  Tensor norm2_weight, norm2_bias;  // [D]
  Tensor fc1_weight, fc1_bias;      // [M, D], [M]
  Tensor fc2_weight, fc2_bias;      // [D, M], [D]
  Tensor ls1_gamma, ls2_gamma;      // [D] each with config.layer_scale, else empty
  Tensor q_norm_weight, q_norm_bias, k_norm_weight, k_norm_bias;  // [D / heads] each with
                                                                  // config.qk_norm, else empty
};

struct Weights {
  Tensor patch_weight;  // [D, C, P, P], a Conv2d with stride P
  Tensor patch_bias;    // [D]; zeros when config.patch_bias is false
  Tensor cls_token;     // [D] with config.class_token, else empty
  Tensor dist_token;    // [D] with config.distilled, else empty
  Tensor reg_tokens;    // [config.register_tokens, D], empty without
  Tensor pos_embed;     // [config.num_positions(), D]; for sin-cos models, filled by
                        // sincos_position_embedding
  Tensor norm_pre_weight, norm_pre_bias;  // [D] each with config.pre_norm, else empty
  std::vector<BlockWeights> blocks;
  Tensor norm_weight, norm_bias;  // [D]: the final norm ("fc_norm.*" with config.fc_norm)
  Tensor head_weight;             // [L, D]
  Tensor head_bias;               // [L]
  Tensor head_dist_weight, head_dist_bias;  // [L, D], [L] with config.distilled, else empty
};

struct Model {
  Config config;
  Weights weights;
};

// One parameter in canonical order: its timm-style name, its expected shape, and where it lives.
// `stored` is false for parameters that a file does not hold (the q/k/v bias of a qkv_bias=false
// model, the patch bias of a patch_bias=false one, the position embedding of a sin-cos model):
// those are computed, not read. A variant's own parameters (norm_pre, ls1/ls2) have slots only
// when the config has the variant (and dist_token, head_dist.* when it is distilled).
struct ParameterSlot {
  std::string name;
  Shape shape;
  Tensor* tensor;
  bool stored;
};

// Every parameter of `config`, in canonical order, pointing into `weights` (which it sizes).
std::vector<ParameterSlot> parameter_slots(const Config& config, Weights& weights);

// Throws core::Error naming `where` unless `model` has config.num_layers blocks and every
// parameter of parameter_slots the element count its shape implies: what code that indexes the
// weights by the config's sizes relies on (the reference, the optimized prepare step, saving).
void check_weight_sizes(const Model& model, const std::string& where);

// Allocates every tensor of `config`'s shapes and fills the computed ones (zero q/k/v bias,
// sin-cos position embedding). Stored tensors are left for the caller to fill.
Weights allocate_weights(const Config& config);

// The fixed 2-D sin-cos position embedding of MAE / MoCo v3: zeros for the class token, then for
// the patch in row r, column c: [sin(c·ω), cos(c·ω), sin(r·ω), cos(r·ω)], ω_k = 10000^(-k/(D/4)).
Tensor sincos_position_embedding(size_t grid_size, size_t hidden_size);

// ---- The seeded synthetic weights (see README "Synthetic weights") ------------------------------
// Every element is a pure function of (seed, tensor name, element index), so a few lines of
// Python reproduce the weights bit for bit (golden/weights.py).
uint64_t fnv1a64(const std::string& text);
uint64_t mix64(uint64_t z);
// The 24-bit uniform draw u = k / 2^24 in [0, 1) for one element.
double uniform_draw(uint64_t seed, uint64_t name_hash, uint64_t index);

struct DrawRule {
  double offset;
  double scale;  // value = float32(offset + scale * (2u - 1))
};
// The rule for the parameter called `name` (timm-style canonical name) under `config`.
DrawRule draw_rule(const Config& config, const std::string& name);

Weights generate_weights(const Config& config, uint64_t seed);
// Pixels uniform in [-1, 1), the range of ViTImageProcessor's normalised output.
Tensor generate_images(const Config& config, size_t batch, uint64_t seed);

}  // namespace vitbench::core
