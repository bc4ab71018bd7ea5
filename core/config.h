// The architecture of one ViT: everything a forward pass needs to know besides the weights.
// Read from a HuggingFace ViTConfig `config.json`, or built from a preset name.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace vitbench::core {

// Upper bounds on a config's sizes, so that a hostile config.json cannot ask for terabytes before
// any weight is read.
inline constexpr size_t kMaxHidden = 1 << 16;
inline constexpr size_t kMaxLayers = 1 << 10;
inline constexpr size_t kMaxImage = 1 << 14;
inline constexpr size_t kMaxLabels = 1 << 20;
inline constexpr size_t kMaxRegisterTokens = 64;

// GELU's exact erf form, its tanh approximation, and quick GELU x·σ(1.702·x) (OpenAI's CLIP).
enum class GeluKind { Erf, Tanh, Quick };
enum class PositionEmbedding { Learned, Sincos };
enum class Pooling { ClassToken, Mean };

struct Config {
  std::string name = "custom";  // preset name or model folder, for messages and reports
  size_t hidden_size = 0;
  size_t num_layers = 0;
  size_t num_heads = 0;
  size_t intermediate_size = 0;
  size_t image_size = 0;
  size_t patch_size = 0;
  size_t num_channels = 3;
  size_t num_labels = 0;
  double layer_norm_eps = 1e-12;
  GeluKind gelu = GeluKind::Erf;
  bool qkv_bias = true;
  PositionEmbedding position_embedding = PositionEmbedding::Learned;
  Pooling pooling = Pooling::ClassToken;
  std::vector<std::string> labels;  // num_labels names; "LABEL_i" where config.json gives none

  // timm's variants of the plain ViT (README "Model folders"), each off by default:
  bool patch_bias = true;        // false: the patch embedding has no bias (CLIP)
  bool no_embed_class = false;   // position embeddings for the patches only, none for the class
                                 // token (DeiT III)
  bool pre_norm = false;         // a LayerNorm between the embedding and the blocks (CLIP)
  bool layer_scale = false;      // each branch scaled per channel before its residual add
                                 // (DeiT III): x += ls1 ⊙ attn(...), x += ls2 ⊙ mlp(...)
  bool fc_norm = false;          // the final LayerNorm after pooling instead of before
  bool distilled = false;        // a distillation token after the class token and a second head
                                 // on it; the logits are the mean of both heads (DeiT distilled)
  bool class_token = true;       // false: no class token, pooling is the mean (timm's *_gap_*)
  size_t register_tokens = 0;    // learned tokens after the class token that no head reads
                                 // (timm's *_reg4_*)
  bool qk_norm = false;          // a LayerNorm over each head's q and over its k, before the
                                 // scores (timm's qk_norm)

  size_t grid_size() const { return image_size / patch_size; }
  size_t num_patches() const { return grid_size() * grid_size(); }
  // The tokens before the patches, in this order: the class token, the distillation token,
  // the register tokens (each where the model has it).
  size_t num_prefix_tokens() const {
    return (class_token ? 1 : 0) + (distilled ? 1 : 0) + register_tokens;
  }
  size_t num_tokens() const { return num_patches() + num_prefix_tokens(); }
  // Rows of the position embedding: one per token, or per patch with no_embed_class.
  size_t num_positions() const { return no_embed_class ? num_patches() : num_tokens(); }
  // The tokens of each image that pooling reads from the last block's output: the class token,
  // and the distillation token after it, with class-token pooling; every token (num_tokens())
  // with mean pooling. Only these rows need the last block's projection and MLP.
  size_t pooled_tokens() const {
    return pooling == Pooling::ClassToken ? 1 + (distilled ? 1 : 0) : num_tokens();
  }
  size_t head_dim() const { return hidden_size / num_heads; }
  size_t patch_dim() const { return num_channels * patch_size * patch_size; }

  // Throws core::Error naming `where` and the first field that is out of range or inconsistent.
  void validate(const std::string& where) const;
};

// "LABEL_0" ... "LABEL_<n-1>": the names transformers gives classes a config.json leaves unnamed.
std::vector<std::string> default_labels(size_t n);

// Parses HuggingFace ViTConfig fields (see README "Model folders"); `where` names the file.
Config parse_config(const nlohmann::json& json, const std::string& where);
nlohmann::json config_to_json(const Config& config);

// Presets: "vit-ti16", "vit-s16", "vit-b16", "vit-l16", optionally "@<image size>"
// ("vit-b16@384"). Returns false when `name` is not a preset.
bool is_preset_name(const std::string& name);
Config preset_config(const std::string& name);
std::vector<std::string> preset_names();

const char* to_string(GeluKind kind);
const char* to_string(PositionEmbedding kind);
const char* to_string(Pooling kind);

}  // namespace vitbench::core
