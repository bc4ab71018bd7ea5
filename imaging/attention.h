// Attention maps from the attention probabilities tap (block.<i>.attn_probs, [N, H, T, T], token 0
// the class token, then `prefix` − 1 more tokens before the patches (a distilled DeiT's
// distillation token), then the patches in row-major order).
//
// - Class-token attention: for one layer, the row of the class token's query over the patch keys,
//   for one head or averaged over the heads; the class token's attention to itself is left out, so
//   a map does not sum to 1.
// - Attention rollout (Abnar & Zuidema, 2020, "Quantifying Attention Flow in Transformers"): each
//   layer's attention averaged over heads, the identity added for the residual connection, each
//   row renormalised to sum to 1, and the layers multiplied through: R = Â_L ... Â_1 Â_0. The map
//   is the class token's row of R over the patches. (The residual's weight is the paper's 0.5:
//   (A + I) renormalised is 0.5 A + 0.5 I when A's rows sum to 1.)
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "core/tensor.h"

namespace vitbench::imaging {

// The patch grid side G of a [N, H, T, T] tensor (T = prefix + G^2); throws core::Error
// otherwise.
size_t attention_grid_size(const core::TensorD& probs, size_t prefix = 1);

// [G, G] for `image` of the batch; `head` empty means the mean over heads.
core::TensorD class_token_attention(const core::TensorD& probs, size_t image,
                                    std::optional<size_t> head, size_t prefix = 1);

// [T, T] rollout through the given layers (first to last), for `image` of the batch.
core::TensorD rollout_matrix(const std::vector<const core::TensorD*>& layers, size_t image);

// [G, G]: the class token's row of the rollout, over the patches.
core::TensorD attention_rollout(const std::vector<const core::TensorD*>& layers, size_t image,
                                size_t prefix = 1);

}  // namespace vitbench::imaging
