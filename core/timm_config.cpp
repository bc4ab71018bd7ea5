#include "core/timm_config.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_fields.h"

namespace vitbench::core {
namespace {

using nlohmann::json;

// timm's ViT sizes by the word after "vit_" / "deit_": (embed dim, heads). The embed dim is
// checked against the tensors, so a name and weights that disagree are refused, not mixed.
struct TimmSize {
  const char* word;
  size_t embed_dim, heads;
};
constexpr TimmSize kSizes[] = {
    {"tiny", 192, 3},    {"small", 384, 6},   {"medium", 512, 8},  {"base", 768, 12},
    {"large", 1024, 16}, {"huge", 1280, 16},  {"giant", 1408, 16}, {"gigantic", 1664, 16},
};

// model_args keys that either say what the tensors already show (checked against them) or select
// something this suite computes.
const std::set<std::string>& known_model_args() {
  static const std::set<std::string> keys = {
      "img_size",   "patch_size", "in_chans",  "num_classes",    "global_pool",
      "embed_dim",  "depth",      "num_heads", "mlp_ratio",      "qkv_bias",
      "class_token", "act_layer", "pre_norm",  "no_embed_class", "init_values",
      "fc_norm",    "reg_tokens", "qk_norm"};
  return keys;
}

// model_args keys that only act in training (dropout is the identity in eval mode; the others
// choose the initialisation, which the stored weights replace): any value is accepted.
const std::set<std::string>& training_only_model_args() {
  static const std::set<std::string> keys = {
      "drop_rate", "pos_drop_rate", "patch_drop_rate", "proj_drop_rate", "attn_drop_rate",
      "drop_path_rate", "weight_init", "fix_init"};
  return keys;
}

// The one model_args key accepted at one value only: dynamic_img_size true lets timm take other
// input sizes by interpolating the position embedding, which this suite does not compute.
constexpr const char* kDynamicImgSize = "dynamic_img_size";

void check_model_arg(const std::string& key, const json& value, const std::string& where) {
  if (known_model_args().count(key) || training_only_model_args().count(key)) return;
  if (key == kDynamicImgSize) {
    if (value != false) {
      fail(where, "model_args." + key + " " + excerpt(value.dump()) +
                      " selects dynamic image sizes, which this suite does not compute");
    }
    return;
  }
  std::string known;
  for (const std::string& k : known_model_args()) known += (known.empty() ? "" : ", ") + k;
  known += std::string(", ") + kDynamicImgSize;
  for (const std::string& k : training_only_model_args()) known += ", " + k;
  fail(where, "model_args key " + json_quoted(key) +
                  " is not supported (it may change the model; known: " + known + ")");
}

// The architecture name split as timm spells its ViTs: family_size_patchP[_...].
struct ArchitectureName {
  std::string size;
  size_t patch = 0;
  bool distilled = false;  // deit_*_distilled_*: DeiT with a distillation token
};

ArchitectureName parse_architecture(const std::string& name, const std::string& where) {
  const auto word = [&](size_t i) {
    size_t begin = 0;
    for (size_t k = 0; k < i; ++k) {
      begin = name.find('_', begin);
      if (begin == std::string::npos) return std::string();
      ++begin;
    }
    return name.substr(begin, name.find('_', begin) - begin);
  };
  const std::string family = word(0);
  if (family != "vit" && family != "deit" && family != "deit3") {
    fail(where, "architecture " + json_quoted(name) +
                    " is not a plain Vision Transformer (supported: timm's vit_*, deit_* and "
                    "deit3_*)");
  }
  // timm builds these vit_* names with its Eva class, whose rotary position embeddings no
  // tensor shows; with a bias-free qkv and no layer scale the rest would read as a plain ViT.
  if (name.find("_rope") != std::string::npos) {
    fail(where, "architecture " + json_quoted(name) +
                    " has rotary position embeddings (timm builds it with its Eva class), which "
                    "this suite does not compute");
  }
  ArchitectureName a;
  a.size = word(1);
  a.distilled = family == "deit" && word(2) == "distilled";
  const std::string patch = word(a.distilled ? 3 : 2);
  if (patch.size() > 5 && patch.compare(0, 5, "patch") == 0 &&
      patch.find_first_not_of("0123456789", 5) == std::string::npos && patch.size() <= 9) {
    a.patch = std::stoul(patch.substr(5));
  }
  if (a.patch == 0) {
    fail(where, "architecture " + json_quoted(name) +
                    " is not a plain Vision Transformer with square patches (expected a name like "
                    "vit_base_patch16_224; hybrids such as vit_base_r50_s16_384 are not supported)");
  }
  return a;
}

const json* find_object(const json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  if (!it->is_object()) fail(where, std::string("field \"") + key + "\" must be an object");
  return &*it;
}

// A non-negative integer field, or nullopt when absent.
std::optional<size_t> optional_count(const json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer() || it->get<long long>() < 0) {
    fail(where, std::string("field \"") + key + "\" must be a non-negative integer, got " +
                    excerpt(it->dump()));
  }
  return static_cast<size_t>(it->get<long long>());
}

const Shape& tensor_shape(const TensorShapes& shapes, const std::string& name, size_t rank,
                          const char* gives, const std::string& weights_path) {
  auto it = shapes.find(name);
  if (it == shapes.end()) {
    fail(weights_path, "missing tensor " + json_quoted(name) + ", which gives the " + gives +
                           " of a timm ViT (timm's config.json names no dimensions)");
  }
  if (it->second.size() != rank) {
    fail(weights_path, "tensor " + json_quoted(name) + " has shape " + shape_to_string(it->second) +
                           ", expected " + std::to_string(rank) + " dimensions");
  }
  return it->second;
}

// 1 + the largest i of the tensors named "blocks.<i>.…"; the loader then requires every block.
size_t block_count(const TensorShapes& shapes) {
  size_t count = 0;
  for (const auto& [name, shape] : shapes) {
    if (name.compare(0, 7, "blocks.") != 0) continue;
    const size_t dot = name.find('.', 7);
    const std::string index = name.substr(7, dot == std::string::npos ? dot : dot - 7);
    if (index.empty() || index.size() > 6 ||
        index.find_first_not_of("0123456789") != std::string::npos) {
      continue;  // not a block index: the loader reports the tensor as unexpected
    }
    count = std::max(count, std::stoul(index) + 1);
  }
  return count;
}

// model_args[key] must agree with what the tensors or the file say.
void expect_arg(const json& args, const char* key, size_t actual, const char* what,
                const std::string& where) {
  auto it = args.find(key);
  if (it == args.end()) return;
  if (!it->is_number_integer() || it->get<long long>() != static_cast<long long>(actual)) {
    fail(where, "model_args." + std::string(key) + " is " + excerpt(it->dump()) + " but " + what +
                    " is " + std::to_string(actual));
  }
}

// timm's label_names (or the single-dict form's labels): a list, or an object of class ids.
std::vector<std::string> parse_label_names(const json& names, size_t num_classes,
                                           const std::string& where) {
  if (!names.is_array() && !names.is_object()) {
    fail(where, "\"label_names\" must be a list or an object");
  }
  if (names.size() != num_classes) {
    fail(where, "\"label_names\" has " + std::to_string(names.size()) +
                    " entries but num_classes is " + std::to_string(num_classes));
  }
  if (names.is_object()) return labels_by_id(names, "label_names", where);
  std::vector<std::string> labels;
  for (const json& name : names) {
    if (!name.is_string()) fail(where, "\"label_names\" must hold strings");
    labels.push_back(name.get<std::string>());
  }
  return labels;
}

}  // namespace

bool is_timm_config(const json& j) {
  return j.is_object() && j.contains("architecture") && !j.contains("hidden_size");
}

const json& timm_pretrained_cfg(const json& config, const std::string& where) {
  const json* pretrained = find_object(config, "pretrained_cfg", where);
  return pretrained ? *pretrained : config;
}

Config parse_timm_config(const json& j, const TensorShapes& shapes, const std::string& where,
                         const std::string& weights_path) {
  if (!is_timm_config(j)) fail(where, "not a timm config.json (no \"architecture\")");
  const std::string architecture = string_field(j, "architecture", where, "");
  const ArchitectureName name = parse_architecture(architecture, where);
  const json* pretrained = &timm_pretrained_cfg(j, where);
  json model_args = json::object();
  if (const json* given = find_object(j, "model_args", where)) model_args = *given;
  // timm takes img_size as an int or as [height, width]; a square pair is the int.
  if (auto it = model_args.find("img_size");
      it != model_args.end() && it->is_array() && it->size() == 2 && (*it)[0] == (*it)[1]) {
    *it = json((*it)[0]);
  }
  for (const auto& [key, value] : model_args.items()) check_model_arg(key, value, where);

  Config c;
  c.name = where;
  // Dimensions from the tensors.
  const Shape& patch = tensor_shape(shapes, "patch_embed.proj.weight", 4,
                                    "hidden size, channels and patch size", weights_path);
  c.hidden_size = patch[0];
  c.num_channels = patch[1];
  c.patch_size = patch[2];
  if (patch[3] != patch[2]) {
    fail(weights_path, "tensor \"patch_embed.proj.weight\" has non-square patches " +
                           shape_to_string(patch));
  }
  if (c.patch_size != name.patch && !model_args.contains("patch_size")) {
    fail(where, "architecture " + json_quoted(architecture) + " has patch size " +
                    std::to_string(name.patch) + " but \"patch_embed.proj.weight\" has " +
                    std::to_string(c.patch_size));
  }
  c.num_layers = block_count(shapes);
  if (c.num_layers == 0) fail(weights_path, "holds no encoder blocks (\"blocks.0.*\")");
  c.intermediate_size =
      tensor_shape(shapes, "blocks.0.mlp.fc1.weight", 2, "MLP size", weights_path)[0];
  c.qkv_bias = shapes.count("blocks.0.attn.qkv.bias") != 0;
  // timm's variants show in their tensors (README "Model folders"): CLIP's towers have norm_pre
  // and no patch-embedding bias (bias=not pre_norm), DeiT III has ls1/ls2, and fc_norm replaces
  // the final norm. A variant with some of its tensors missing is then reported as missing.
  const auto any_named = [&](auto&& test) {
    return std::any_of(shapes.begin(), shapes.end(), [&](const auto& e) { return test(e.first); });
  };
  c.patch_bias = shapes.count("patch_embed.proj.bias") != 0;
  c.pre_norm = shapes.count("norm_pre.weight") || shapes.count("norm_pre.bias");
  c.layer_scale = any_named([](const std::string& n) {
    return n.compare(0, 7, "blocks.") == 0 &&
           (n.find(".ls1.gamma") != std::string::npos || n.find(".ls2.gamma") != std::string::npos);
  });
  c.fc_norm = shapes.count("fc_norm.weight") || shapes.count("fc_norm.bias");
  // DeiT's distilled models: by name (deit_*_distilled_*) or by the tensor. The class token and
  // the register tokens (timm's *_reg4_* and *_gap_* models) by their tensors.
  c.distilled = name.distilled || shapes.count("dist_token") != 0;
  c.class_token = shapes.count("cls_token") != 0;
  c.qk_norm = any_named([](const std::string& n) {
    return n.compare(0, 7, "blocks.") == 0 && (n.find(".attn.q_norm.") != std::string::npos ||
                                               n.find(".attn.k_norm.") != std::string::npos);
  });
  if (auto reg = shapes.find("reg_token"); reg != shapes.end()) {
    if (reg->second.size() != 3 || reg->second[1] == 0 || reg->second[1] > kMaxRegisterTokens) {
      fail(weights_path, "tensor \"reg_token\" has shape " + shape_to_string(reg->second) +
                             ", expected [1, R, hidden size] with 1 <= R <= " +
                             std::to_string(kMaxRegisterTokens));
    }
    c.register_tokens = reg->second[1];
  }

  // The head count: the one dimension no tensor shows.
  if (model_args.contains("num_heads")) {
    c.num_heads = positive_int(model_args, "num_heads", where + ": model_args", kMaxHidden);
  } else {
    const TimmSize* size = nullptr;
    for (const TimmSize& s : kSizes) {
      if (name.size == s.word) size = &s;
    }
    if (!size) {
      fail(where, "cannot tell the number of attention heads of architecture " +
                      json_quoted(architecture) + " (size " + json_quoted(name.size) +
                      " is none of tiny, small, medium, base, large, huge, giant, gigantic); "
                      "give it as model_args.num_heads");
    }
    if (size->embed_dim != c.hidden_size && !model_args.contains("embed_dim")) {
      fail(where, "architecture " + json_quoted(architecture) + " has embed dim " +
                      std::to_string(size->embed_dim) + " but \"patch_embed.proj.weight\" has " +
                      std::to_string(c.hidden_size) +
                      "; give model_args.embed_dim and num_heads for a non-standard size");
    }
    c.num_heads = size->heads;
  }

  // The image size: pretrained_cfg.input_size [C, H, W], else model_args.img_size, else the
  // position embedding's token count.
  if (auto it = pretrained->find("input_size"); it != pretrained->end() && !it->is_null()) {
    if (!it->is_array() || it->size() != 3 || !(*it)[1].is_number_integer() ||
        !(*it)[2].is_number_integer()) {
      fail(where, "pretrained_cfg.input_size must be [channels, height, width], got " +
                      excerpt(it->dump()));
    }
    if ((*it)[1] != (*it)[2]) {
      fail(where, "pretrained_cfg.input_size " + excerpt(it->dump()) +
                      " is not square; only square inputs are supported");
    }
    if ((*it)[0] != c.num_channels) {
      fail(where, "pretrained_cfg.input_size " + excerpt(it->dump()) + " has other channels than " +
                      "\"patch_embed.proj.weight\" (" + std::to_string(c.num_channels) + ")");
    }
    const long long side = (*it)[1].get<long long>();
    c.image_size = side > 0 ? static_cast<size_t>(side) : 0;
  } else if (auto img = model_args.find("img_size"); img != model_args.end()) {
    c.image_size = positive_int(model_args, "img_size", where + ": model_args", kMaxImage);
  } else {
    // Rows are grid² (no prefix rows: no_embed_class) or grid² + the prefix tokens (class,
    // distillation, registers). Both are squares only for a prefix of 0, and a class-token-free
    // model without registers has none.
    const Shape& pos = tensor_shape(shapes, "pos_embed", 3, "image size", weights_path);
    const auto square_root = [](size_t v) {
      const auto r = static_cast<size_t>(std::llround(std::sqrt(double(v))));
      return r * r == v ? r : 0;
    };
    const size_t prefix = c.num_prefix_tokens();
    size_t grid = square_root(pos[1]);
    if (grid == 0 && pos[1] > prefix) grid = square_root(pos[1] - prefix);
    c.image_size = grid * c.patch_size;
  }
  // Whether the position embedding has a row for the class token: model_args.no_embed_class
  // when given (checked against the tensor below), else the row count.
  if (auto it = model_args.find("no_embed_class"); it != model_args.end()) {
    if (!it->is_boolean()) fail(where, "model_args.no_embed_class must be true or false");
    c.no_embed_class = it->get<bool>();
  } else if (auto pos = shapes.find("pos_embed"); pos != shapes.end() && pos->second.size() == 3 &&
                                                  c.patch_size > 0) {
    const size_t grid = c.image_size / c.patch_size;
    c.no_embed_class = pos->second[1] == grid * grid;
  }

  // Classes and labels.
  std::optional<size_t> classes = optional_count(j, "num_classes", where);
  if (!classes) classes = optional_count(*pretrained, "num_classes", where + ": pretrained_cfg");
  if (!classes) fail(where, "missing field \"num_classes\"");
  if (*classes == 0) {
    fail(where, "num_classes is 0: a feature extractor without a classifier head");
  }
  if (*classes > kMaxLabels) {
    fail(where, "num_classes " + std::to_string(*classes) + " is over " +
                    std::to_string(kMaxLabels));
  }
  c.num_labels = *classes;
  const json* names = nullptr;
  if (auto it = j.find("label_names"); it != j.end()) names = &*it;
  else if (auto p = pretrained->find("label_names"); p != pretrained->end()) names = &*p;
  else if (auto l = j.find("labels"); l != j.end()) names = &*l;  // the single-dict name
  if (names && !names->is_null()) {
    c.labels = parse_label_names(*names, c.num_labels, where);
  } else {
    c.labels = default_labels(c.num_labels);
  }

  // Pooling: the class token, or the mean of the final-normed patch tokens.
  std::string pool = string_field(j, "global_pool", where, "token");
  pool = string_field(model_args, "global_pool", where + ": model_args", pool);
  if ((pool == "token" && c.class_token) || c.distilled) {
    // timm's distilled DeiT pools its class and distillation tokens whatever global_pool says.
    c.pooling = Pooling::ClassToken;
  } else if (pool == "avg") {
    c.pooling = Pooling::Mean;
  } else {
    // "map" (SigLIP's image towers) pools by cross-attention from a learned latent query.
    fail(where, "global_pool " + json_quoted(pool) +
                    (pool == "map" ? " (attention pooling by a learned query)" : "") +
                    " is not supported (token or avg" +
                    (c.class_token ? "" : "; a model without a class token pools the mean") + ")");
  }

  // timm's ViT: LayerNorm eps 1e-6, but 1e-5 (nn.LayerNorm's default) in its CLIP towers
  // (vit_*_clip_*); GELU in erf form, quick GELU in the *_quickgelu_* models (OpenAI's CLIP
  // towers, which the registry builds with act_layer='quick_gelu': no tensor shows it), or
  // whatever model_args.act_layer names.
  c.layer_norm_eps = architecture.find("_clip_") != std::string::npos ? 1e-5 : 1e-6;
  const bool quick_name = architecture.find("quickgelu") != std::string::npos;
  const std::string act = string_field(model_args, "act_layer", where + ": model_args",
                                       quick_name ? "quick_gelu" : "gelu");
  if (act == "gelu") {
    c.gelu = GeluKind::Erf;
  } else if (act == "gelu_tanh") {
    c.gelu = GeluKind::Tanh;
  } else if (act == "quick_gelu") {
    c.gelu = GeluKind::Quick;
  } else {
    fail(where, "model_args.act_layer " + json_quoted(act) +
                    " is not supported (gelu, gelu_tanh, quick_gelu)");
  }
  if (quick_name && c.gelu != GeluKind::Quick) {
    fail(where, "architecture " + json_quoted(architecture) + " is a quick GELU model but "
                "model_args.act_layer is " + json_quoted(act));
  }
  const auto expect_flag = [&](const char* key, bool actual, const std::string& evidence) {
    auto it = model_args.find(key);
    if (it != model_args.end() && *it != actual) {
      fail(where, "model_args." + std::string(key) + " is " + excerpt(it->dump()) +
                      " but the tensors " + (actual ? "hold " : "lack ") + evidence);
    }
  };
  expect_flag("class_token", c.class_token, "\"cls_token\"");
  expect_flag("qk_norm", c.qk_norm, "\"blocks.*.attn.q_norm.*\"");
  expect_arg(model_args, "reg_tokens", c.register_tokens,
             "the number of register tokens in the tensors (\"reg_token\")", where);
  expect_flag("pre_norm", c.pre_norm, "\"norm_pre.weight\"");
  // init_values: null (or 0) is no layer scale, a number is its initial gain.
  if (auto it = model_args.find("init_values"); it != model_args.end()) {
    const bool scaled = !it->is_null() && !(it->is_number() && it->get<double>() == 0.0);
    if (scaled != c.layer_scale) {
      fail(where, "model_args.init_values is " + excerpt(it->dump()) + " but the tensors " +
                      (c.layer_scale ? "hold" : "lack") + " layer scale (\"blocks.*.ls1.gamma\")");
    }
  }
  // fc_norm: null means "when global_pool is avg", as in timm.
  if (auto it = model_args.find("fc_norm"); it != model_args.end()) {
    const bool wanted = it->is_null() ? c.pooling == Pooling::Mean : *it == true;
    if (!it->is_null() && !it->is_boolean()) {
      fail(where, "model_args.fc_norm must be true, false or null");
    }
    if (wanted != c.fc_norm) {
      fail(where, "model_args.fc_norm is " + excerpt(it->dump()) + " (with global_pool " +
                      json_quoted(pool) + ") but the tensors " + (c.fc_norm ? "hold" : "lack") +
                      " \"fc_norm.weight\"");
    }
  }
  if (auto it = model_args.find("qkv_bias"); it != model_args.end() && *it != c.qkv_bias) {
    fail(where, "model_args.qkv_bias is " + excerpt(it->dump()) + " but the tensors " +
                    (c.qkv_bias ? "hold" : "lack") + " \"blocks.0.attn.qkv.bias\"");
  }
  if (auto it = model_args.find("mlp_ratio"); it != model_args.end()) {
    if (!it->is_number() ||
        std::abs(it->get<double>() * double(c.hidden_size) - double(c.intermediate_size)) >= 1) {
      fail(where, "model_args.mlp_ratio " + excerpt(it->dump()) + " disagrees with the MLP size " +
                      std::to_string(c.intermediate_size) + " of \"blocks.0.mlp.fc1.weight\"");
    }
  }
  expect_arg(model_args, "embed_dim", c.hidden_size, "\"patch_embed.proj.weight\"'s hidden size",
             where);
  expect_arg(model_args, "patch_size", c.patch_size, "\"patch_embed.proj.weight\"'s patch size",
             where);
  expect_arg(model_args, "in_chans", c.num_channels, "\"patch_embed.proj.weight\"'s channels",
             where);
  expect_arg(model_args, "depth", c.num_layers, "the number of blocks in the tensors", where);
  expect_arg(model_args, "num_classes", c.num_labels, "num_classes", where);
  expect_arg(model_args, "img_size", c.image_size, "the input size", where);
  if (auto features = optional_count(j, "num_features", where);
      features && *features != c.hidden_size) {
    fail(where, "num_features is " + std::to_string(*features) +
                    " but \"patch_embed.proj.weight\" has hidden size " +
                    std::to_string(c.hidden_size));
  }
  c.validate(where);
  return c;
}

}  // namespace vitbench::core
