#include "core/model_loader.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/json_file.h"
#include "core/timm_config.h"

namespace vitbench::core {

namespace {

namespace fs = std::filesystem;

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// One tensor as a file stores it: a canonical tensor, or a row range of one (HF keeps q, k and v
// apart where the canonical layout stacks them).
struct FilePiece {
  std::string name;
  Shape shape;
  Tensor* tensor;
  size_t offset;  // first element within *tensor
  bool stored;
  bool classifier;  // shape errors name num_labels
};

// timm suffix within a block -> HuggingFace suffix within <prefix>encoder.layer.<i>.
constexpr std::pair<const char*, const char*> kBlockNames[] = {
    {"norm1.", "layernorm_before."},
    {"norm2.", "layernorm_after."},
    {"attn.proj.", "attention.output.dense."},
    {"mlp.fc1.", "intermediate.dense."},
    {"mlp.fc2.", "output.dense."},
};

// The transformers class whose state dict holds a model. ViT's, or one of DeiT's two: both put a
// distillation token after the class token, which DeiTForImageClassificationWithTeacher reads with
// a second head (our distilled model) and DeiTForImageClassification with none (a learned token
// that attention sees and no head reads: our one register token).
struct HfClass {
  const char* architecture;
  const char* model_type;
  const char* prefix;     // the base model's attribute: "vit." or "deit."
  const char* head;       // the class token's classifier
  const char* head_dist;  // the distillation token's classifier, where there is one
};
constexpr HfClass kHfViT{"ViTForImageClassification", "vit", "vit.", "classifier.", nullptr};
constexpr HfClass kHfDeiT{"DeiTForImageClassification", "deit", "deit.", "classifier.", nullptr};
constexpr HfClass kHfDeiTWithTeacher{"DeiTForImageClassificationWithTeacher", "deit", "deit.",
                                     "cls_classifier.", "distillation_classifier."};

std::string hf_name(const std::string& timm, const HfClass& cls) {
  const std::string base = cls.prefix;
  if (timm == "cls_token") return base + "embeddings.cls_token";
  if (timm == "dist_token" || timm == "reg_token") return base + "embeddings.distillation_token";
  if (timm == "pos_embed") return base + "embeddings.position_embeddings";
  if (starts_with(timm, "patch_embed.proj.")) {
    return base + "embeddings.patch_embeddings.projection." + timm.substr(17);
  }
  if (starts_with(timm, "norm.")) return base + "layernorm." + timm.substr(5);
  if (starts_with(timm, "head.")) return cls.head + timm.substr(5);
  if (starts_with(timm, "head_dist.") && cls.head_dist) return cls.head_dist + timm.substr(10);
  if (starts_with(timm, "blocks.")) {
    const size_t dot = timm.find('.', 7);
    const std::string layer = base + "encoder.layer." + timm.substr(7, dot - 7) + ".";
    const std::string rest = timm.substr(dot + 1);
    for (const auto& [from, to] : kBlockNames) {
      if (starts_with(rest, from)) return layer + to + rest.substr(std::strlen(from));
    }
  }
  fail("model loader", "no HuggingFace name for parameter " + in_quotes(timm));
}

// The transformers class that can hold `c` under its tensor names; the variants that none can
// are refused, `where` naming the file.
const HfClass& hf_class_for(const Config& c, const std::string& where) {
  const char* variant = c.pre_norm      ? "vitbench_pre_norm (norm_pre)"
                        : c.layer_scale ? "vitbench_layer_scale (ls1, ls2)"
                        : c.fc_norm     ? "vitbench_fc_norm (fc_norm)"
                        : !c.class_token    ? "vitbench_class_token false (a ViT without cls_token)"
                        : c.qk_norm         ? "vitbench_qk_norm (attn.q_norm, attn.k_norm)"
                        : c.register_tokens > 1
                            ? "vitbench_register_tokens above 1 (DeiT's distillation token is one)"
                            : nullptr;
  if (variant) {
    fail(where, std::string("HuggingFace's ViT and DeiT tensor names have nothing for ") +
                    variant + "; such a model is stored with timm's names");
  }
  return c.distilled ? kHfDeiTWithTeacher : c.register_tokens == 1 ? kHfDeiT : kHfViT;
}

// The file's tensors under timm's names (cls null) or under those of transformers' class `cls`.
std::vector<FilePiece> file_pieces(const Config& c, Weights& w, const HfClass* cls) {
  std::vector<FilePiece> pieces;
  for (const ParameterSlot& slot : parameter_slots(c, w)) {
    const bool classifier = starts_with(slot.name, "head.") || starts_with(slot.name, "head_dist.");
    if (!cls) {
      pieces.push_back({slot.name, slot.shape, slot.tensor, 0, slot.stored, classifier});
      continue;
    }
    const size_t qkv = slot.name.find("attn.qkv.");
    if (qkv == std::string::npos) {
      pieces.push_back(
          {hf_name(slot.name, *cls), slot.shape, slot.tensor, 0, slot.stored, classifier});
      continue;
    }
    // Canonical rows are q, then k, then v: each a third of the stacked tensor.
    const std::string layer =
        cls->prefix + std::string("encoder.layer.") + slot.name.substr(7, qkv - 8) + ".";
    const std::string kind = slot.name.substr(qkv + 9);  // "weight" or "bias"
    Shape part = slot.shape;
    part[0] /= 3;
    const size_t part_size = slot.tensor->size() / 3;
    const char* parts[] = {"query", "key", "value"};
    for (size_t k = 0; k < 3; ++k) {
      pieces.push_back({layer + "attention.attention." + parts[k] + "." + kind, part, slot.tensor,
                        k * part_size, slot.stored, false});
    }
  }
  return pieces;
}

bool is_hf_name(const std::string& n) {
  return starts_with(n, "vit.") || starts_with(n, "deit.") || starts_with(n, "classifier.") ||
         starts_with(n, "cls_classifier.") || starts_with(n, "distillation_classifier.");
}
bool is_timm_name(const std::string& n) {
  return n == "cls_token" || n == "pos_embed" || starts_with(n, "blocks.") ||
         starts_with(n, "patch_embed.") || starts_with(n, "norm.") || starts_with(n, "head.") ||
         starts_with(n, "norm_pre.") || starts_with(n, "fc_norm.") || n == "dist_token" ||
         starts_with(n, "head_dist.") || n == "reg_token";
}

// The names the file's tensors follow, detected from the names themselves: timm's (null), or
// those of the transformers class that saved them. DeiT's base model is `deit`, and its
// two-headed class names its heads cls_ and distillation_classifier.
const HfClass* stored_class(const SafetensorsFile& file) {
  const std::string* hf = nullptr;
  const std::string* timm = nullptr;
  const std::string* vit = nullptr;
  const std::string* deit = nullptr;
  bool two_heads = false;
  for (const auto& e : file.entries()) {
    if (!hf && is_hf_name(e.name)) hf = &e.name;
    if (!timm && is_timm_name(e.name)) timm = &e.name;
    if (!vit && starts_with(e.name, "vit.")) vit = &e.name;
    if (!deit && starts_with(e.name, "deit.")) deit = &e.name;
    two_heads = two_heads || starts_with(e.name, "cls_classifier.") ||
                starts_with(e.name, "distillation_classifier.");
  }
  if (hf && timm) {
    fail(file.path(), "mixes HuggingFace tensor names (" + in_quotes(*hf) + ") with timm names (" +
                          in_quotes(*timm) + ")");
  }
  if (vit && deit) {
    fail(file.path(), "mixes ViT's tensor names (" + in_quotes(*vit) + ") with DeiT's (" +
                          in_quotes(*deit) + ")");
  }
  if (two_heads) return &kHfDeiTWithTeacher;
  if (deit) return &kHfDeiT;
  if (hf) return &kHfViT;
  if (timm) return nullptr;
  if (file.entries().empty()) fail(file.path(), "holds no tensors");
  fail(file.path(),
       "tensor names follow neither HuggingFace (vit.*, deit.*, classifier.*) nor timm "
       "(blocks.*, patch_embed.*, cls_token, ...) naming, e.g. " +
           in_quotes(file.entries().front().name));
}

// A HuggingFace config.json against the class its tensors come from. For DeiT's classes the class
// says what the distillation token does, so the config takes it from there; config.json's own
// model_type and architectures, where given, must agree.
void match_hf_class(const nlohmann::json& json, const HfClass& stored, Config& c,
                    const std::string& config_path, const std::string& weights_path) {
  const std::string holds = weights_path + " holds " + stored.architecture + "'s tensors (" +
                            stored.prefix + "*)";
  if (json.contains("model_type") && json["model_type"] != stored.model_type) {
    fail(config_path, "model_type " + json["model_type"].dump() + ", but " + holds);
  }
  if (json.contains("architectures") && json["architectures"].is_array() &&
      !json["architectures"].empty()) {
    for (const HfClass* known : {&kHfViT, &kHfDeiT, &kHfDeiTWithTeacher}) {
      if (known != &stored && json["architectures"].front() == known->architecture) {
        fail(config_path, std::string("architectures names ") + known->architecture + ", but " +
                              holds);
      }
    }
  }
  if (&stored != &kHfViT) {
    const bool distilled = &stored == &kHfDeiTWithTeacher;
    const size_t registers = distilled ? 0 : 1;
    if ((json.contains("vitbench_distilled") && c.distilled != distilled) ||
        (json.contains("vitbench_register_tokens") && c.register_tokens != registers)) {
      fail(config_path, "vitbench_distilled or vitbench_register_tokens disagrees with " + holds);
    }
    c.distilled = distilled;
    c.register_tokens = registers;
    c.validate(config_path);
  }
  const HfClass& described = hf_class_for(c, config_path);
  if (&described != &stored) {
    fail(config_path, std::string("describes a ") + described.architecture +
                          (c.distilled ? " (vitbench_distilled)" : " (vitbench_register_tokens 1)") +
                          ", but " + holds);
  }
}

// "tensor "a"" or "tensors "a", "b", "c" (and 7 more)": one line, however many there are.
std::string name_list(const char* what, const std::vector<std::string>& names) {
  constexpr size_t kShown = 4;
  std::string s = std::string(what) + (names.size() == 1 ? " tensor " : " tensors ");
  for (size_t i = 0; i < names.size() && i < kShown; ++i)
    s += (i ? ", " : "") + in_quotes(names[i]);
  if (names.size() > kShown) s += " (and " + std::to_string(names.size() - kShown) + " more)";
  return s;
}

// What timm (or HuggingFace) variant the first recognised tensor among `names` belongs to, or ""
// when none is recognised: "not supported" naming the feature tells a user more than "unexpected".
std::string unsupported_feature(const std::vector<std::string>& names) {
  // Variants this suite computes when config.json says so (a timm config.json says so by its
  // tensors; ours by a vitbench_* key).
  struct Declarable {
    const char* part;
    const char* feature;
    const char* key;
  };
  constexpr Declarable kDeclarable[] = {
      {"norm_pre.", "a LayerNorm before the blocks (CLIP-style pre-norm)", "vitbench_pre_norm"},
      {"fc_norm.", "a LayerNorm after pooling (timm's fc_norm)", "vitbench_fc_norm"},
      {".ls1.", "layer scale", "vitbench_layer_scale"},
      {".ls2.", "layer scale", "vitbench_layer_scale"},
      {"dist_token", "a distillation token (DeiT distilled)", "vitbench_distilled"},
      {"head_dist.", "a distillation head (DeiT distilled)", "vitbench_distilled"},
      {"reg_token", "register tokens", "vitbench_register_tokens"},
      {".q_norm.", "QK normalization", "vitbench_qk_norm"},
      {".k_norm.", "QK normalization", "vitbench_qk_norm"},
  };
  for (const std::string& n : names) {
    for (const Declarable& d : kDeclarable) {
      if (n.find(d.part) != std::string::npos) {
        return "the model has " + std::string(d.feature) +
               ", which config.json does not declare (" + d.key + ")";
      }
    }
  }
  constexpr std::pair<const char*, const char*> kFeatures[] = {
      {"attn_pool.", "attention pooling"},
      {"patch_embed.backbone.", "a hybrid CNN stem"},
      {".mlp.fc1_g.", "a gated (SwiGLU) MLP"},
      {".attn.q_bias", "separate q and v biases (timm's Eva class)"},
      {".gamma_1", "Eva-style layer scale (timm's Eva class)"},
      {".rel_pos.", "relative position embeddings"},
      {".relative_position_bias_table", "a relative position bias (BEiT-style)"},
      {".norm.", "a LayerNorm inside the MLP or attention"},
      {"pooler.", "HuggingFace's pooler (ViTModel, not ViTForImageClassification)"},
  };
  for (const std::string& n : names) {
    for (const auto& [part, feature] : kFeatures) {
      if (n.find(part) != std::string::npos) {
        return "the model has " + std::string(feature) + ", which this suite does not compute";
      }
    }
  }
  return "";
}

std::string shape_error(const FilePiece& piece, const Shape& found, const Config& c,
                        const char* labels_field) {
  const std::string head = "tensor " + in_quotes(piece.name);
  // Everything but the row count agrees: the classifier was trained for another label set.
  if (piece.classifier && found.size() == piece.shape.size() && !found.empty() &&
      std::equal(found.begin() + 1, found.end(), piece.shape.begin() + 1)) {
    return head + " has " + std::to_string(found[0]) + (found.size() == 1 ? " entries" : " rows") +
           " but config.json has " + labels_field + " " + std::to_string(c.num_labels);
  }
  return head + " has shape " + shape_to_string(found) + " but config.json implies " +
         shape_to_string(piece.shape);
}

// A folder without model.safetensors that holds the weights in another form: say which, rather
// than only that the file is missing.
void refuse_other_weight_formats(const std::string& dir, const std::string& weights_path) {
  std::error_code ec;
  if (fs::exists(weights_path, ec)) return;
  if (fs::exists(fs::path(dir) / "model.safetensors.index.json", ec)) {
    fail(weights_path, "missing: the folder holds sharded safetensors "
                       "(model.safetensors.index.json), which this suite does not read; save the "
                       "model as one model.safetensors");
  }
  if (fs::exists(fs::path(dir) / "pytorch_model.bin", ec)) {
    fail(weights_path, "missing: the folder holds pytorch_model.bin, pickled PyTorch weights, which "
                       "this suite does not read (unpickling can run code); save them as "
                       "model.safetensors (transformers' save_pretrained does by default)");
  }
}

}  // namespace

Model load_model_folder(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    fail(dir, "not a model folder (one holding config.json and model.safetensors)");
  }
  const std::string config_path = (fs::path(dir) / "config.json").string();
  const std::string weights_path = (fs::path(dir) / "model.safetensors").string();

  Model model;
  // A HuggingFace config.json is checked before the weights are opened; timm's names no
  // dimensions, so its checks need the tensors' shapes.
  const nlohmann::json config_json = read_json_file(config_path);
  const bool timm_config = is_timm_config(config_json);
  if (!timm_config) model.config = parse_config(config_json, config_path);
  refuse_other_weight_formats(dir, weights_path);
  const SafetensorsFile file = SafetensorsFile::open(weights_path);
  if (timm_config) {
    TensorShapes shapes;
    for (const auto& e : file.entries()) shapes.emplace(e.name, e.shape);
    model.config = parse_timm_config(config_json, shapes, config_path, weights_path);
  }
  model.config.name = dir;
  const HfClass* cls = stored_class(file);
  if (cls) match_hf_class(config_json, *cls, model.config, config_path, weights_path);
  const Config& c = model.config;

  model.weights = allocate_weights(c);
  const std::vector<FilePiece> pieces = file_pieces(c, model.weights, cls);
  std::unordered_map<std::string, const FilePiece*> by_name;
  for (const FilePiece& p : pieces) by_name.emplace(p.name, &p);

  std::vector<std::string> unexpected;
  bool bias_present = false, position_present = false, patch_bias_present = false;
  for (const auto& e : file.entries()) {
    const auto it = by_name.find(e.name);
    if (it == by_name.end() || !it->second->stored) unexpected.push_back(e.name);
    if (it != by_name.end() && !it->second->stored) {
      const Tensor* t = it->second->tensor;
      (t == &model.weights.pos_embed    ? position_present
       : t == &model.weights.patch_bias ? patch_bias_present
                                        : bias_present) = true;
    }
  }
  if (!unexpected.empty()) {
    std::string why;
    if (bias_present) why = "config.json has qkv_bias false, so q/k/v have no bias";
    if (patch_bias_present) {
      why += std::string(why.empty() ? "" : "; ") +
             "config.json has vitbench_patch_bias false, so the patch embedding has no bias";
    }
    if (position_present) {
      why += std::string(why.empty() ? "" : "; ") +
             "config.json asks for sin-cos position embeddings, which are computed, not stored";
    }
    // (HuggingFace's names cannot hold fc_norm: hf_class_for refused those above.)
    if (c.fc_norm &&
        std::find(unexpected.begin(), unexpected.end(), "norm.weight") != unexpected.end()) {
      why += std::string(why.empty() ? "" : "; ") +
             "the model has fc_norm, and fc_norm.* replaces the final norm.*";
    }
    if (why.empty()) why = unsupported_feature(unexpected);
    if (why.empty()) why = "not a parameter of the ViT that config.json describes";
    fail(weights_path, name_list("unexpected", unexpected) + " (" + why + ")");
  }
  std::vector<std::string> missing;
  for (const FilePiece& p : pieces) {
    if (p.stored && !file.find(p.name)) missing.push_back(p.name);
  }
  if (!missing.empty()) fail(weights_path, name_list("missing", missing));

  for (const FilePiece& p : pieces) {
    if (!p.stored) continue;
    const SafetensorsFile::Entry& e = *file.find(p.name);
    if (e.shape != p.shape) {
      fail(weights_path, shape_error(p, e.shape, c, timm_config ? "num_classes" : "num_labels"));
    }
  }
  for (const FilePiece& p : pieces) {
    if (p.stored) file.read_float32(*file.find(p.name), p.tensor->data() + p.offset);
  }
  return model;
}

Model load_model(const std::string& dir_or_preset, uint64_t seed) {
  if (is_preset_name(dir_or_preset)) {
    Model model;
    model.config = preset_config(dir_or_preset);
    model.weights = generate_weights(model.config, seed);
    return model;
  }
  std::error_code ec;
  if (fs::is_directory(dir_or_preset, ec)) return load_model_folder(dir_or_preset);
  std::string presets;
  for (const std::string& p : preset_names()) presets += (presets.empty() ? "" : ", ") + p;
  fail(dir_or_preset, "not a preset (" + presets + ", optionally @SIZE) nor a model folder" +
                          (fs::exists(dir_or_preset, ec)
                               ? " (give the folder that holds config.json and model.safetensors)"
                               : ""));
}

void save_model_folder(const Model& model, const std::string& dir, NameScheme scheme,
                       StDtype dtype) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail(dir, "output folder does not exist");
  const Config& c = model.config;
  c.validate(dir);
  check_weight_sizes(model, dir);
  // parameter_slots wants a mutable Weights only to size its blocks, which are already sized,
  // so nothing is written through this reference; it saves copying every tensor.
  Weights& weights = const_cast<Weights&>(model.weights);

  const HfClass* cls = scheme == NameScheme::HuggingFace ? &hf_class_for(c, dir) : nullptr;
  std::vector<FilePiece> pieces = file_pieces(c, weights, cls);
  std::vector<Tensor>
      copies;  // pieces whose file shape or extent differs from the canonical tensor
  copies.reserve(pieces.size());
  std::vector<std::pair<std::string, const Tensor*>> tensors;
  for (const FilePiece& p : pieces) {
    if (!p.stored) continue;
    if (p.offset == 0 && p.tensor->shape() == p.shape) {
      tensors.emplace_back(p.name, p.tensor);
      continue;
    }
    Tensor& copy = copies.emplace_back(p.shape);
    std::copy(p.tensor->data() + p.offset, p.tensor->data() + p.offset + copy.size(), copy.data());
    tensors.emplace_back(p.name, &copy);
  }

  nlohmann::json config_json = config_to_json(c);
  if (cls && cls != &kHfViT) {
    // DeiT's config: its model_type, and the class, since the model_type alone maps to
    // DeiTForImageClassification in transformers' Auto classes. The class says what the
    // distillation token does, so the keys that said it go.
    config_json["model_type"] = cls->model_type;
    config_json["architectures"] = {cls->architecture};
    config_json.erase("vitbench_distilled");
    config_json.erase("vitbench_register_tokens");
  }
  write_file_atomically((fs::path(dir) / "config.json").string(), config_json.dump(2) + "\n");
  // transformers refuses safetensors files whose metadata lacks a known format.
  write_safetensors((fs::path(dir) / "model.safetensors").string(), tensors, dtype,
                    {{"format", "pt"}});
}

}  // namespace vitbench::core
