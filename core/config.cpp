#include "core/config.h"

#include <cmath>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_fields.h"

namespace vitbench::core {
namespace {

// transformers' ACT2FN names for the GELU forms: gelu_python is the erf form written out,
// gelu_fast and gelu_accurate the tanh form written differently (gelu_fast rounds √(2/π) to ten
// digits, 4e-11 of the argument), and quick_gelu is x·σ(1.702·x). Others (gelu_10's clipping,
// relu) are other functions.
GeluKind parse_hidden_act(const std::string& act, const std::string& where) {
  if (act == "gelu" || act == "gelu_python") return GeluKind::Erf;
  if (act == "gelu_new" || act == "gelu_pytorch_tanh" || act == "gelu_fast" ||
      act == "gelu_accurate") {
    return GeluKind::Tanh;
  }
  if (act == "quick_gelu") return GeluKind::Quick;
  fail(where, "unknown hidden_act " + json_quoted(act) +
                  " (supported: gelu, gelu_python; gelu_new, gelu_pytorch_tanh, gelu_fast, "
                  "gelu_accurate; quick_gelu)");
}

std::vector<std::string> parse_labels(const nlohmann::json& json, const std::string& where,
                                      size_t* num_labels) {
  std::optional<size_t> declared;
  if (json.contains("num_labels")) declared = positive_int(json, "num_labels", where, kMaxLabels);
  auto id2label = json.find("id2label");
  if (id2label == json.end()) {
    if (!declared) fail(where, "neither \"num_labels\" nor \"id2label\" is given");
    *num_labels = *declared;
    return default_labels(*num_labels);
  }
  if (!id2label->is_object() || id2label->empty()) {
    fail(where, "\"id2label\" must be a non-empty object");
  }
  const size_t n = id2label->size();
  if (n > kMaxLabels) fail(where, "\"id2label\" has too many entries");
  if (declared && *declared != n) {
    fail(where, "\"num_labels\" is " + std::to_string(*declared) + " but \"id2label\" has " +
                    std::to_string(n) + " entries");
  }
  const std::vector<std::string> labels = labels_by_id(*id2label, "id2label", where);
  auto label2id = json.find("label2id");
  if (label2id != json.end()) {
    if (!label2id->is_object()) fail(where, "\"label2id\" must be an object");
    for (const auto& [name, id] : label2id->items()) {
      if (!id.is_number_integer() || id.get<long long>() < 0 ||
          static_cast<size_t>(id.get<long long>()) >= n ||
          labels[static_cast<size_t>(id.get<long long>())] != name) {
        fail(where, "\"label2id\"[" + json_quoted(name) + "] disagrees with \"id2label\"");
      }
    }
  }
  *num_labels = n;
  return labels;
}

struct PresetShape {
  size_t hidden, layers, heads, mlp;
};

const std::map<std::string, PresetShape>& presets() {
  static const std::map<std::string, PresetShape> table = {
      {"vit-ti16", {192, 12, 3, 768}},
      {"vit-s16", {384, 12, 6, 1536}},
      {"vit-b16", {768, 12, 12, 3072}},
      {"vit-l16", {1024, 24, 16, 4096}},
  };
  return table;
}

// Splits "vit-b16@384" into the base name and the image size (224 when absent).
bool split_preset(const std::string& name, std::string* base, size_t* image_size) {
  const auto at = name.find('@');
  *base = name.substr(0, at);
  *image_size = 224;
  if (!presets().count(*base)) return false;
  if (at == std::string::npos) return true;
  const std::string size = name.substr(at + 1);
  if (size.empty() || size.size() > 5 || size.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  *image_size = std::stoul(size);
  return true;
}

}  // namespace

std::vector<std::string> default_labels(size_t n) {
  std::vector<std::string> labels;
  labels.reserve(n);
  for (size_t i = 0; i < n; ++i) labels.push_back("LABEL_" + std::to_string(i));
  return labels;
}

void Config::validate(const std::string& where) const {
  auto require = [&](bool ok, const std::string& what) {
    if (!ok) fail(where, what);
  };
  require(hidden_size > 0 && hidden_size <= kMaxHidden, "hidden_size out of range");
  require(num_layers > 0 && num_layers <= kMaxLayers, "num_hidden_layers out of range");
  require(num_heads > 0, "num_attention_heads must be positive");
  require(hidden_size % num_heads == 0,
          "hidden_size " + std::to_string(hidden_size) + " is not divisible by num_attention_heads " +
              std::to_string(num_heads));
  require(intermediate_size > 0 && intermediate_size <= 16 * kMaxHidden,
          "intermediate_size out of range");
  require(patch_size > 0 && image_size > 0 && image_size <= kMaxImage,
          "image_size and patch_size must be positive");
  require(image_size % patch_size == 0, "image_size " + std::to_string(image_size) +
                                            " is not divisible by patch_size " +
                                            std::to_string(patch_size));
  require(num_channels > 0 && num_channels <= 64, "num_channels out of range");
  require(num_labels > 0 && num_labels <= kMaxLabels && labels.size() == num_labels,
          "labels do not match num_labels");
  require(std::isfinite(layer_norm_eps) && layer_norm_eps > 0, "layer_norm_eps must be positive");
  require(position_embedding != PositionEmbedding::Sincos || hidden_size % 4 == 0,
          "sin-cos position embeddings need hidden_size divisible by 4");
  require(!distilled || (pooling == Pooling::ClassToken && !fc_norm),
          "vitbench_distilled pools the class and distillation tokens: it takes "
          "vitbench_pooling cls and no vitbench_fc_norm");
  require(!distilled || (class_token && register_tokens == 0),
          "vitbench_distilled takes a class token and no register tokens");
  require(class_token || pooling == Pooling::Mean,
          "a model without a class token (vitbench_class_token false) pools the mean");
  require(register_tokens <= kMaxRegisterTokens,
          "vitbench_register_tokens must be at most " + std::to_string(kMaxRegisterTokens));
  require(position_embedding != PositionEmbedding::Sincos || num_prefix_tokens() == 1,
          "sin-cos position embeddings have one prefix row, the class token's");
  require(position_embedding != PositionEmbedding::Sincos || !no_embed_class,
          "vitbench_no_embed_class applies to learned position embeddings (the sin-cos table "
          "gives the class token zeros already)");
}

Config parse_config(const nlohmann::json& json, const std::string& where) {
  if (!json.is_object()) fail(where, "config must be a JSON object");
  // DeiT's config is ViT's with another model_type (the loader reads the rest off its tensors);
  // anything else is another architecture, refused here before its fields mislead.
  const std::string model_type = string_field(json, "model_type", where, "vit");
  if (model_type != "vit" && model_type != "deit") {
    fail(where, "model_type " + json_quoted(model_type) +
                    " is not a ViT this suite reads (vit, deit)");
  }
  Config c;
  c.name = where;
  c.hidden_size = positive_int(json, "hidden_size", where, kMaxHidden);
  // num_hidden_layers and num_attention_heads are checked here, before validate(), so that a
  // 0 or negative value gets a message about the field rather than about divisibility.
  c.num_layers = positive_int(json, "num_hidden_layers", where, kMaxLayers);
  c.num_heads = positive_int(json, "num_attention_heads", where, kMaxHidden);
  c.intermediate_size = positive_int(json, "intermediate_size", where, 16 * kMaxHidden);
  c.image_size = positive_int(json, "image_size", where, kMaxImage);
  c.patch_size = positive_int(json, "patch_size", where, kMaxImage);
  c.num_channels = positive_int(json, "num_channels", where, 64, 3);
  if (json.contains("layer_norm_eps")) {
    const auto& eps = json["layer_norm_eps"];
    if (!eps.is_number()) fail(where, "field \"layer_norm_eps\" must be a number");
    c.layer_norm_eps = eps.get<double>();
  }
  c.gelu = parse_hidden_act(string_field(json, "hidden_act", where, "gelu"), where);
  if (json.contains("qkv_bias")) {
    if (!json["qkv_bias"].is_boolean()) fail(where, "field \"qkv_bias\" must be true or false");
    c.qkv_bias = json["qkv_bias"].get<bool>();
  }
  const std::string pos = string_field(json, "vitbench_position_embedding", where, "learned");
  if (pos == "learned") {
    c.position_embedding = PositionEmbedding::Learned;
  } else if (pos == "sincos") {
    c.position_embedding = PositionEmbedding::Sincos;
  } else {
    fail(where, "unknown vitbench_position_embedding " + json_quoted(pos) + " (learned or sincos)");
  }
  const std::string pool = string_field(json, "vitbench_pooling", where, "cls");
  if (pool == "cls") {
    c.pooling = Pooling::ClassToken;
  } else if (pool == "mean") {
    c.pooling = Pooling::Mean;
  } else {
    fail(where, "unknown vitbench_pooling " + json_quoted(pool) + " (cls or mean)");
  }
  c.patch_bias = bool_field(json, "vitbench_patch_bias", where, true);
  c.no_embed_class = bool_field(json, "vitbench_no_embed_class", where, false);
  c.pre_norm = bool_field(json, "vitbench_pre_norm", where, false);
  c.layer_scale = bool_field(json, "vitbench_layer_scale", where, false);
  c.fc_norm = bool_field(json, "vitbench_fc_norm", where, false);
  c.distilled = bool_field(json, "vitbench_distilled", where, false);
  c.class_token = bool_field(json, "vitbench_class_token", where, true);
  c.qk_norm = bool_field(json, "vitbench_qk_norm", where, false);
  if (json.contains("vitbench_register_tokens")) {
    c.register_tokens = positive_int(json, "vitbench_register_tokens", where, kMaxRegisterTokens);
  }
  c.labels = parse_labels(json, where, &c.num_labels);
  c.validate(where);
  return c;
}

nlohmann::json config_to_json(const Config& c) {
  nlohmann::json id2label = nlohmann::json::object();
  nlohmann::json label2id = nlohmann::json::object();
  for (size_t i = 0; i < c.labels.size(); ++i) {
    id2label[std::to_string(i)] = c.labels[i];
    label2id[c.labels[i]] = i;
  }
  nlohmann::json j = {
      {"model_type", "vit"},
      {"hidden_size", c.hidden_size},
      {"num_hidden_layers", c.num_layers},
      {"num_attention_heads", c.num_heads},
      {"intermediate_size", c.intermediate_size},
      {"image_size", c.image_size},
      {"patch_size", c.patch_size},
      {"num_channels", c.num_channels},
      {"layer_norm_eps", c.layer_norm_eps},
      {"hidden_act", c.gelu == GeluKind::Erf    ? "gelu"
                     : c.gelu == GeluKind::Tanh ? "gelu_pytorch_tanh"
                                                : "quick_gelu"},
      {"qkv_bias", c.qkv_bias},
      {"num_labels", c.num_labels},
      {"id2label", id2label},
      {"label2id", label2id},
      {"vitbench_position_embedding", to_string(c.position_embedding)},
      {"vitbench_pooling", to_string(c.pooling)},
  };
  // The variants appear only when on, so a plain ViT's config stays ViTConfig's fields.
  if (!c.patch_bias) j["vitbench_patch_bias"] = false;
  if (c.no_embed_class) j["vitbench_no_embed_class"] = true;
  if (c.pre_norm) j["vitbench_pre_norm"] = true;
  if (c.layer_scale) j["vitbench_layer_scale"] = true;
  if (c.fc_norm) j["vitbench_fc_norm"] = true;
  if (c.distilled) j["vitbench_distilled"] = true;
  if (!c.class_token) j["vitbench_class_token"] = false;
  if (c.register_tokens) j["vitbench_register_tokens"] = c.register_tokens;
  if (c.qk_norm) j["vitbench_qk_norm"] = true;
  return j;
}

bool is_preset_name(const std::string& name) {
  std::string base;
  size_t image_size = 0;
  return split_preset(name, &base, &image_size);
}

Config preset_config(const std::string& name) {
  std::string base;
  size_t image_size = 0;
  if (!split_preset(name, &base, &image_size)) {
    fail(name, "unknown preset (known: vit-ti16, vit-s16, vit-b16, vit-l16, optionally @SIZE)");
  }
  const PresetShape& p = presets().at(base);
  Config c;
  c.name = name;
  c.hidden_size = p.hidden;
  c.num_layers = p.layers;
  c.num_heads = p.heads;
  c.intermediate_size = p.mlp;
  c.image_size = image_size;
  c.patch_size = 16;
  c.num_channels = 3;
  c.num_labels = 1000;
  c.layer_norm_eps = 1e-6;  // timm's and torchvision's ViT default
  c.labels = default_labels(c.num_labels);
  c.validate(name);
  return c;
}

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const auto& [name, shape] : presets()) names.push_back(name);
  return names;
}

const char* to_string(GeluKind kind) {
  return kind == GeluKind::Erf ? "erf" : kind == GeluKind::Tanh ? "tanh" : "quick";
}
const char* to_string(PositionEmbedding kind) {
  return kind == PositionEmbedding::Learned ? "learned" : "sincos";
}
const char* to_string(Pooling kind) { return kind == Pooling::ClassToken ? "cls" : "mean"; }

}  // namespace vitbench::core
