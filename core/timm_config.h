// timm's own config.json: what timm's save_for_hf / push_to_hf_hub write, and what the timm
// repositories on the HuggingFace Hub hold beside model.safetensors. It names the architecture
// ("vit_base_patch16_224") and carries num_classes, global_pool, optional label_names and
// model_args, and pretrained_cfg (input size and preprocessing; in timm's older single-dict form,
// its keys at the top level and the label names as "labels"), but no dimensions: timm looks
// those up in its model registry by name. Here they are read off the tensors' shapes instead, and
// the head count, the one dimension no shape shows, comes from the name's size word (tiny 3,
// small 6, medium 8, base 12, large/huge/giant/gigantic 16) or from model_args.num_heads.
//
// What is accepted is timm's VisionTransformer (vit_*, deit_*, deit3_*) with learned position
// embeddings, LayerNorm eps 1e-6 (1e-5 in the CLIP towers, vit_*_clip_*) and GELU (quick GELU in
// the *_quickgelu_* towers, which only the name shows), pooling on the class token ("token") or
// on the mean of the patch tokens ("avg"), and the variants its tensors show: CLIP's norm_pre and
// bias-free patch embedding, DeiT III's layer scale and position embedding without a class row,
// fc_norm, the distilled DeiTs' distillation token and second head, register tokens, a missing
// class token, QK norm. Anything that would change the function and shows in no tensor (another
// architecture, a vit_*_rope_* name, an unknown model_args key, dimensions that disagree with the
// tensors) is refused by name, never guessed. Tensors of variants this suite does not compute
// (attention pooling, gated MLPs, ...) are refused by the model loader, which names the feature
// (core/model_loader.cpp).
#pragma once

#include <map>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "core/config.h"
#include "core/tensor.h"

namespace vitbench::core {

// Tensor name -> shape, as model.safetensors' header gives them.
using TensorShapes = std::map<std::string, Shape>;

// A timm config.json has "architecture" (one name; HuggingFace's has "architectures", a list)
// and no "hidden_size".
bool is_timm_config(const nlohmann::json& json);

// timm's data config (input size, interpolation, crop, mean and std): config.json's
// "pretrained_cfg", or the config itself in timm's older single-dict form, which holds those
// keys at the top level. Refuses a "pretrained_cfg" that is not an object (errors name `where`).
const nlohmann::json& timm_pretrained_cfg(const nlohmann::json& config, const std::string& where);

// The Config of a timm model folder. Errors about the file's fields name `config_path`; errors
// about dimensions the tensors should give name `weights_path`.
Config parse_timm_config(const nlohmann::json& json, const TensorShapes& shapes,
                         const std::string& config_path, const std::string& weights_path);

}  // namespace vitbench::core
