// Model folders in both naming schemes: exact round trips, the HuggingFace layout spelled out
// independently of the loader, and every missing, extra or misshapen tensor refused by name.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/model_loader.h"
#include "tests/core/io_test_util.h"
#include "tests/core/model_folder_util.h"
#include "tests/small_config.h"

namespace vitbench::core {
namespace {

namespace fs = std::filesystem;
using namespace io_test;

// The shared small model (tests/small_config.h) with the tanh GELU, so that config.json's
// hidden_act is exercised, and labels of its own.
Config small_config() {
  Config c = vitbench::testing::small_config();
  c.gelu = GeluKind::Tanh;
  c.labels.clear();
  for (size_t i = 0; i < c.num_labels; ++i) c.labels.push_back("class " + std::to_string(i));
  c.validate("small_config");
  return c;
}

Model small_model(const Config& c = small_config(), uint64_t seed = 7) {
  return Model{c, generate_weights(c, seed)};
}

// The HuggingFace ViTForImageClassification names, written out here rather than derived from
// the loader's table, with their shapes for the small config (D 12, M 20, T 5, L 5).
// `base` is the base model's attribute in the state dict: "vit", or "deit" for DeiT's classes,
// whose embeddings add a distillation token (so 6 tokens) and whose heads are checked apart.
std::map<std::string, Shape> expected_hf_names(bool qkv_bias, bool learned_pos,
                                               const std::string& base = "vit") {
  const size_t tokens = base == "deit" ? 6 : 5;
  std::map<std::string, Shape> names = {
      {base + ".embeddings.cls_token", {1, 1, 12}},
      {base + ".embeddings.patch_embeddings.projection.weight", {12, 3, 4, 4}},
      {base + ".embeddings.patch_embeddings.projection.bias", {12}},
      {base + ".layernorm.weight", {12}},
      {base + ".layernorm.bias", {12}},
  };
  if (base == "vit") {
    names["classifier.weight"] = {5, 12};
    names["classifier.bias"] = {5};
  } else {
    names["deit.embeddings.distillation_token"] = {1, 1, 12};
  }
  if (learned_pos) names[base + ".embeddings.position_embeddings"] = {1, tokens, 12};
  for (int i = 0; i < 2; ++i) {
    const std::string p = base + ".encoder.layer." + std::to_string(i) + ".";
    for (const char* ln : {"layernorm_before.", "layernorm_after."}) {
      names[p + ln + "weight"] = {12};
      names[p + ln + "bias"] = {12};
    }
    for (const char* qkv : {"query.", "key.", "value."}) {
      names[p + "attention.attention." + qkv + "weight"] = {12, 12};
      if (qkv_bias) names[p + "attention.attention." + qkv + "bias"] = {12};
    }
    names[p + "attention.output.dense.weight"] = {12, 12};
    names[p + "attention.output.dense.bias"] = {12};
    names[p + "intermediate.dense.weight"] = {20, 12};
    names[p + "intermediate.dense.bias"] = {20};
    names[p + "output.dense.weight"] = {12, 20};
    names[p + "output.dense.bias"] = {12};
  }
  return names;
}

class ModelLoader : public ::testing::Test {
 protected:
  std::string weights_path() const { return dir_.file("model.safetensors"); }
  std::string config_path() const { return dir_.file("config.json"); }
  std::string load_error() {
    return error_of([&] { load_model_folder(dir_.path()); });
  }
  // Saves the small model, then lets `edit` change the file's tensors.
  template <typename Edit>
  void save_edited(NameScheme scheme, Edit edit, const Config& c = small_config()) {
    save_model_folder(small_model(c), dir_.path(), scheme);
    NamedTensors tensors = read_tensors(weights_path());
    edit(tensors);
    write_tensors(weights_path(), tensors);
  }
  void rewrite_config(const std::function<void(nlohmann::json&)>& edit) {
    std::ifstream in(config_path());
    nlohmann::json j = nlohmann::json::parse(in);
    edit(j);
    std::ofstream(config_path()) << j.dump(2);
  }

  TempDir dir_;
};

// ---- Round trips --------------------------------------------------------------------------------

TEST_F(ModelLoader, TimmFolderRoundTripsExactly) {
  const Model model = small_model();
  save_model_folder(model, dir_.path(), NameScheme::Timm);
  const Model loaded = load_model_folder(dir_.path());
  expect_same_config(loaded.config, model.config);
  expect_same_weights(model.config, loaded.weights, model.weights);

  // timm names are the canonical names, with timm's leading singleton dimensions.
  Weights scratch = allocate_weights(model.config);
  std::set<std::string> want;
  for (const auto& slot : parameter_slots(model.config, scratch)) want.insert(slot.name);
  const SafetensorsFile f = SafetensorsFile::open(weights_path());
  std::set<std::string> got;
  for (const auto& e : f.entries()) got.insert(e.name);
  EXPECT_EQ(got, want);
  EXPECT_EQ(f.find("cls_token")->shape, (Shape{1, 1, 12}));
  EXPECT_EQ(f.find("pos_embed")->shape, (Shape{1, 5, 12}));
  EXPECT_EQ(f.find("blocks.1.attn.qkv.weight")->shape, (Shape{36, 12}));
}

TEST_F(ModelLoader, HuggingFaceFolderRoundTripsExactly) {
  const Model model = small_model();
  save_model_folder(model, dir_.path(), NameScheme::HuggingFace);
  const Model loaded = load_model_folder(dir_.path());
  expect_same_config(loaded.config, model.config);
  expect_same_weights(model.config, loaded.weights, model.weights);
}

TEST_F(ModelLoader, HuggingFaceFileHasTheTransformersLayout) {
  const Model model = small_model();
  save_model_folder(model, dir_.path(), NameScheme::HuggingFace);
  NamedTensors tensors = read_tensors(weights_path());
  std::map<std::string, Shape> got;
  for (const auto& [name, t] : tensors) got[name] = t.shape();
  EXPECT_EQ(got, expected_hf_names(true, true));

  // q, k and v are the first, second and third thirds of the canonical stacked rows.
  const BlockWeights& b = model.weights.blocks[1];
  const char* parts[] = {"query", "key", "value"};
  for (size_t k = 0; k < 3; ++k) {
    const Tensor* w = find_tensor(
        tensors, std::string("vit.encoder.layer.1.attention.attention.") + parts[k] + ".weight");
    const Tensor* bias = find_tensor(
        tensors, std::string("vit.encoder.layer.1.attention.attention.") + parts[k] + ".bias");
    ASSERT_TRUE(w && bias);
    EXPECT_EQ(std::memcmp(w->data(), b.qkv_weight.data() + k * 144, 144 * 4), 0) << parts[k];
    EXPECT_EQ(std::memcmp(bias->data(), b.qkv_bias.data() + k * 12, 12 * 4), 0) << parts[k];
  }
  EXPECT_EQ(std::memcmp(find_tensor(tensors, "classifier.weight")->data(),
                        model.weights.head_weight.data(), 60 * 4),
            0);
  EXPECT_EQ(
      std::memcmp(find_tensor(tensors, "vit.encoder.layer.0.intermediate.dense.weight")->data(),
                  model.weights.blocks[0].fc1_weight.data(), 240 * 4),
      0);

  // config.json is a HuggingFace ViTConfig.
  std::ifstream in(config_path());
  const nlohmann::json j = nlohmann::json::parse(in);
  EXPECT_EQ(j.at("hidden_size"), 12);
  EXPECT_EQ(j.at("num_hidden_layers"), 2);
  EXPECT_EQ(j.at("id2label").at("4"), "class 4");
  EXPECT_EQ(SafetensorsFile::open(weights_path()).metadata().at("format"), "pt");
}

// transformers keeps a model with a distillation token in DeiT's classes: the distilled DeiT in
// DeiTForImageClassificationWithTeacher (two heads, cls_ and distillation_classifier), and a
// distillation token that no head reads (our one register token) in DeiTForImageClassification.
// Their state-dict names are written out here, from transformers' modeling_deit.py.
TEST_F(ModelLoader, DeiTFoldersHaveTheTransformersLayoutAndRoundTrip) {
  Config distilled = small_config();
  distilled.distilled = true;
  Config one_register = small_config();
  one_register.register_tokens = 1;
  struct Case {
    Config config;
    const char* architecture;
    std::vector<std::pair<std::string, Shape>> heads;
  };
  const Case cases[] = {
      {distilled,
       "DeiTForImageClassificationWithTeacher",
       {{"cls_classifier.weight", {5, 12}},
        {"cls_classifier.bias", {5}},
        {"distillation_classifier.weight", {5, 12}},
        {"distillation_classifier.bias", {5}}}},
      {one_register,
       "DeiTForImageClassification",
       {{"classifier.weight", {5, 12}}, {"classifier.bias", {5}}}},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.architecture);
    const Model model = small_model(k.config);
    save_model_folder(model, dir_.path(), NameScheme::HuggingFace);
    NamedTensors tensors = read_tensors(weights_path());
    std::map<std::string, Shape> got;
    for (const auto& [name, t] : tensors) got[name] = t.shape();
    std::map<std::string, Shape> want = expected_hf_names(true, true, "deit");
    want.insert(k.heads.begin(), k.heads.end());
    EXPECT_EQ(got, want);

    // The distillation token is the dist token or the register token; each head is its own.
    const Weights& w = model.weights;
    const Tensor& token = k.config.distilled ? w.dist_token : w.reg_tokens;
    EXPECT_EQ(std::memcmp(find_tensor(tensors, "deit.embeddings.distillation_token")->data(),
                          token.data(), 12 * 4),
              0);
    EXPECT_EQ(std::memcmp(find_tensor(tensors, k.heads[0].first)->data(), w.head_weight.data(),
                          60 * 4),
              0);
    if (k.config.distilled) {
      EXPECT_EQ(std::memcmp(find_tensor(tensors, "distillation_classifier.weight")->data(),
                            w.head_dist_weight.data(), 60 * 4),
                0);
    }

    // DeiT's config: the class says what the distillation token does, so no vitbench_ key does.
    std::ifstream in(config_path());
    const nlohmann::json j = nlohmann::json::parse(in);
    EXPECT_EQ(j.at("model_type"), "deit");
    EXPECT_EQ(j.at("architectures"), nlohmann::json::array({k.architecture}));
    EXPECT_FALSE(j.contains("vitbench_distilled"));
    EXPECT_FALSE(j.contains("vitbench_register_tokens"));

    const Model loaded = load_model_folder(dir_.path());
    expect_same_config(loaded.config, k.config);
    expect_same_weights(k.config, loaded.weights, model.weights);
  }
}

TEST_F(ModelLoader, DeiTClassComesFromTheTensorsAndMustAgreeWithConfig) {
  Config distilled = small_config();
  distilled.distilled = true;
  // transformers' own config.json has neither architectures nor any vitbench_ key when written
  // by hand: the tensors alone say which class it is.
  save_model_folder(small_model(distilled), dir_.path(), NameScheme::HuggingFace);
  rewrite_config([](nlohmann::json& j) { j.erase("architectures"); });
  EXPECT_TRUE(load_model_folder(dir_.path()).config.distilled);
  // A vitbench_ key that agrees is accepted; one that disagrees is refused.
  rewrite_config([](nlohmann::json& j) { j["vitbench_distilled"] = true; });
  EXPECT_TRUE(load_model_folder(dir_.path()).config.distilled);
  rewrite_config([](nlohmann::json& j) {
    j.erase("vitbench_distilled");
    j["vitbench_register_tokens"] = 1;
  });
  expect_message(load_error(),
                 {config_path(), "vitbench_register_tokens disagrees with", weights_path(),
                  "holds DeiTForImageClassificationWithTeacher's tensors (deit.*)"});
  rewrite_config([](nlohmann::json& j) {
    j.erase("vitbench_register_tokens");
    j["model_type"] = "vit";
  });
  expect_message(load_error(), {config_path(), "model_type \"vit\", but", weights_path(),
                                "DeiTForImageClassificationWithTeacher's tensors"});
  rewrite_config([](nlohmann::json& j) {
    j["model_type"] = "deit";
    j["architectures"] = {"DeiTForImageClassification"};
  });
  expect_message(load_error(), {config_path(), "architectures names DeiTForImageClassification",
                                "DeiTForImageClassificationWithTeacher's tensors"});
  rewrite_config([](nlohmann::json& j) { j["architectures"] = {"ViTForImageClassification"}; });
  expect_message(load_error(), {config_path(), "architectures names ViTForImageClassification"});

  // A head without its partner, ViT's names among DeiT's, and a DeiT config over ViT's tensors.
  save_edited(
      NameScheme::HuggingFace,
      [](NamedTensors& t) { erase_tensor(t, "distillation_classifier.bias"); }, distilled);
  expect_message(load_error(), {weights_path(), "missing tensor \"distillation_classifier.bias\""});
  save_edited(
      NameScheme::HuggingFace,
      [](NamedTensors& t) { t.emplace_back("vit.layernorm.weight", Tensor({12}, 1.0f)); },
      distilled);
  expect_message(load_error(), {weights_path(), "mixes ViT's tensor names",
                                "\"vit.layernorm.weight\"", "with DeiT's"});
  save_model_folder(small_model(), dir_.path(), NameScheme::HuggingFace);
  rewrite_config([](nlohmann::json& j) { j["model_type"] = "deit"; });
  expect_message(load_error(), {config_path(), "model_type \"deit\", but", weights_path(),
                                "holds ViTForImageClassification's tensors (vit.*)"});

  // DeiT's one distillation token cannot hold more register tokens.
  Config registers = small_config();
  registers.register_tokens = 2;
  expect_message(error_of([&] {
                   save_model_folder(small_model(registers), dir_.path(), NameScheme::HuggingFace);
                 }),
                 {dir_.path().string(), "nothing for vitbench_register_tokens above 1"});
}

TEST_F(ModelLoader, ReducedPrecisionFilesLoadWithinTheirRounding) {
  const Model model = small_model();
  for (const NameScheme scheme : {NameScheme::Timm, NameScheme::HuggingFace}) {
    for (const StDtype dtype : {StDtype::F16, StDtype::BF16}) {
      SCOPED_TRACE(std::string(to_string(dtype)) + (scheme == NameScheme::Timm ? " timm" : " hf"));
      save_model_folder(model, dir_.path(), scheme, dtype);
      EXPECT_EQ(SafetensorsFile::open(weights_path()).entries().front().dtype, dtype);
      Model loaded = load_model_folder(dir_.path());
      // Round to nearest is off by at most half an ulp: 2^-11 relative for F16's 10 mantissa
      // bits (2^-25 absolute among its subnormals), 2^-8 for BF16's 7.
      const double rel = dtype == StDtype::F16 ? std::ldexp(1.0, -11) : std::ldexp(1.0, -8);
      const double abs_floor = dtype == StDtype::F16 ? std::ldexp(1.0, -25) : 0.0;
      Weights original = model.weights;
      const auto got = parameter_slots(model.config, loaded.weights);
      const auto want = parameter_slots(model.config, original);
      for (size_t s = 0; s < got.size(); ++s) {
        size_t bad = 0;
        for (size_t i = 0; i < got[s].tensor->size(); ++i) {
          const double x = (*want[s].tensor)[i], y = (*got[s].tensor)[i];
          bad += !(std::fabs(x - y) <= std::max(std::fabs(x) * rel, abs_floor));
        }
        EXPECT_EQ(bad, 0u) << got[s].name;
      }
      // The loaded values are exactly representable, so saving them again changes nothing.
      save_model_folder(loaded, dir_.path(), scheme, dtype);
      expect_same_weights(model.config, load_model_folder(dir_.path()).weights, loaded.weights);
    }
  }
}

TEST_F(ModelLoader, ModelWithoutQkvBiasStoresNone) {
  Config c = small_config();
  c.qkv_bias = false;
  const Model model = small_model(c);
  for (const NameScheme scheme : {NameScheme::Timm, NameScheme::HuggingFace}) {
    save_model_folder(model, dir_.path(), scheme);
    const SafetensorsFile file = SafetensorsFile::open(weights_path());
    for (const auto& e : file.entries()) {
      EXPECT_EQ(e.name.find("qkv.bias"), std::string::npos) << e.name;
      EXPECT_EQ(e.name.find("query.bias"), std::string::npos) << e.name;
    }
    const Model loaded = load_model_folder(dir_.path());
    EXPECT_FALSE(loaded.config.qkv_bias);
    for (const BlockWeights& b : loaded.weights.blocks) {
      EXPECT_TRUE(std::all_of(b.qkv_bias.data(), b.qkv_bias.data() + b.qkv_bias.size(),
                              [](float v) { return v == 0.0f; }));
    }
    expect_same_weights(c, loaded.weights, model.weights);
  }
  save_model_folder(model, dir_.path(), NameScheme::HuggingFace);
  std::map<std::string, Shape> got;
  for (const auto& [name, t] : read_tensors(weights_path())) got[name] = t.shape();
  EXPECT_EQ(got, expected_hf_names(false, true));
}

TEST_F(ModelLoader, SincosModelStoresNoPositionEmbedding) {
  Config c = small_config();
  c.position_embedding = PositionEmbedding::Sincos;
  const Model model = small_model(c);
  for (const NameScheme scheme : {NameScheme::Timm, NameScheme::HuggingFace}) {
    save_model_folder(model, dir_.path(), scheme);
    const SafetensorsFile f = SafetensorsFile::open(weights_path());
    EXPECT_EQ(f.find("pos_embed"), nullptr);
    EXPECT_EQ(f.find("vit.embeddings.position_embeddings"), nullptr);
    const Model loaded = load_model_folder(dir_.path());
    EXPECT_EQ(loaded.config.position_embedding, PositionEmbedding::Sincos);
    EXPECT_TRUE(same_tensor_bits(loaded.weights.pos_embed, sincos_position_embedding(2, 12)));
  }
}

TEST_F(ModelLoader, VariantsRoundTripUnderTimmNamesOnly) {
  // Our own config.json declares timm's variants by vitbench_* keys; timm's tensor names hold
  // them, HuggingFace's ViT has no names for norm_pre, ls1/ls2 or fc_norm.
  const Config c = with_tensor_variants(small_config());
  const Model model = small_model(c);
  save_model_folder(model, dir_.path(), NameScheme::Timm);
  const Model loaded = load_model_folder(dir_.path());
  expect_same_config(loaded.config, c);
  expect_same_weights(c, loaded.weights, model.weights);
  const SafetensorsFile f = SafetensorsFile::open(weights_path());
  EXPECT_EQ(f.find("patch_embed.proj.bias"), nullptr);
  EXPECT_EQ(f.find("pos_embed")->shape, (Shape{1, 4, 12}));  // 2 × 2 patches, no class row
  EXPECT_NE(f.find("norm_pre.weight"), nullptr);
  EXPECT_NE(f.find("blocks.1.ls2.gamma"), nullptr);
  EXPECT_NE(f.find("fc_norm.bias"), nullptr);
  EXPECT_EQ(f.find("norm.weight"), nullptr);

  TempDir other;
  expect_message(error_of([&] { save_model_folder(model, other.path(), NameScheme::HuggingFace); }),
                 {other.path().string(), "HuggingFace's ViT and DeiT tensor names have nothing for"});
  // A HuggingFace-named file whose config.json declares one is refused the same way.
  save_model_folder(small_model(), dir_.path(), NameScheme::HuggingFace);
  rewrite_config([](nlohmann::json& j) { j["vitbench_layer_scale"] = true; });
  expect_message(load_error(), {config_path(), "nothing for vitbench_layer_scale"});
  rewrite_config([](nlohmann::json& j) {
    j.erase("vitbench_layer_scale");
    j["vitbench_distilled"] = true;
  });
  // A distilled model has names (DeiT's), but not these: the tensors say which class saved them.
  expect_message(load_error(), {config_path(), "describes a DeiTForImageClassificationWithTeacher",
                                "holds ViTForImageClassification's tensors (vit.*)"});
  // A timm file with a variant's tensors that our config.json does not declare says which key.
  save_model_folder(model, dir_.path(), NameScheme::Timm);
  rewrite_config([](nlohmann::json& j) { j.erase("vitbench_pre_norm"); });
  expect_message(load_error(), {weights_path(), "unexpected tensors \"norm_pre.weight\"",
                                "does not declare (vitbench_pre_norm)"});
  rewrite_config([](nlohmann::json& j) { j["vitbench_pre_norm"] = true; j["vitbench_patch_bias"] = true; });
  expect_message(load_error(), {weights_path(), "missing tensor \"patch_embed.proj.bias\""});
  save_model_folder(small_model(), dir_.path(), NameScheme::Timm);
  rewrite_config([](nlohmann::json& j) { j["vitbench_patch_bias"] = false; });
  expect_message(load_error(), {weights_path(), "unexpected tensor \"patch_embed.proj.bias\"",
                                "vitbench_patch_bias false"});
}

TEST_F(ModelLoader, TensorsMayComeInAnyOrder) {
  const Model model = small_model();
  for (const NameScheme scheme : {NameScheme::Timm, NameScheme::HuggingFace}) {
    save_edited(scheme, [](NamedTensors& t) {
      std::reverse(t.begin(), t.end());
      std::rotate(t.begin(), t.begin() + 5, t.end());
    });
    expect_same_weights(model.config, load_model_folder(dir_.path()).weights, model.weights);
  }
}

TEST_F(ModelLoader, LoadModelTakesPresetsAndFolders) {
  const Model preset = load_model("vit-ti16", 3);
  const Config want = preset_config("vit-ti16");
  expect_same_config(preset.config, want);
  const Weights generated = generate_weights(want, 3);
  EXPECT_TRUE(same_tensor_bits(preset.weights.blocks[11].fc2_weight, generated.blocks[11].fc2_weight));
  EXPECT_TRUE(same_tensor_bits(preset.weights.head_weight, generated.head_weight));

  const Model model = small_model();
  save_model_folder(model, dir_.path(), NameScheme::Timm);
  const Model loaded = load_model(dir_.path(), 99);  // the seed does not touch stored weights
  expect_same_weights(model.config, loaded.weights, model.weights);
  EXPECT_EQ(loaded.config.name, dir_.path());
}

// ---- Refusals -----------------------------------------------------------------------------------

TEST_F(ModelLoader, RefusesMissingTensors) {
  for (const auto& [scheme, name] : std::vector<std::pair<NameScheme, std::string>>{
           {NameScheme::Timm, "blocks.1.mlp.fc2.bias"},
           {NameScheme::HuggingFace, "vit.encoder.layer.1.attention.attention.key.weight"},
           {NameScheme::HuggingFace, "classifier.bias"}}) {
    save_edited(scheme, [&](NamedTensors& t) { erase_tensor(t, name); });
    expect_message(load_error(), {weights_path(), "missing tensor \"" + name + "\""});
  }
  save_edited(NameScheme::Timm, [](NamedTensors& t) {
    for (const char* n :
         {"norm.bias", "norm.weight", "head.bias", "head.weight", "cls_token", "pos_embed"}) {
      erase_tensor(t, n);
    }
  });
  expect_message(load_error(),
                 {weights_path(), "missing tensors", "\"cls_token\"", "(and 2 more)"});
}

TEST_F(ModelLoader, RefusesExtraTensors) {
  save_edited(NameScheme::Timm,
              [](NamedTensors& t) { t.emplace_back("blocks.0.attn.extra", Tensor({2}, 1.0f)); });
  expect_message(load_error(), {weights_path(), "unexpected tensor \"blocks.0.attn.extra\""});
  save_edited(NameScheme::HuggingFace, [](NamedTensors& t) {
    t.emplace_back("vit.pooler.dense.weight", Tensor({12, 12}, 1.0f));
  });
  expect_message(load_error(), {weights_path(), "unexpected tensor \"vit.pooler.dense.weight\""});
  save_edited(NameScheme::Timm,
              [](NamedTensors& t) { t.emplace_back("head.\nweight", Tensor({2}, 1.0f)); });
  expect_message(load_error(), {weights_path(), "unexpected tensor \"head.\\nweight\""});
  // A third layer in a two-layer config.
  save_edited(NameScheme::Timm,
              [](NamedTensors& t) { t.emplace_back("blocks.2.norm1.weight", Tensor({12}, 1.0f)); });
  expect_message(load_error(), {weights_path(), "unexpected tensor \"blocks.2.norm1.weight\""});
}

TEST_F(ModelLoader, RefusesShapesThatDisagreeWithConfig) {
  save_edited(NameScheme::Timm, [](NamedTensors& t) {
    *find_tensor(t, "blocks.0.mlp.fc1.weight") = Tensor({21, 12});
  });
  expect_message(load_error(), {weights_path(),
                                "tensor \"blocks.0.mlp.fc1.weight\" has shape [21, 12] but "
                                "config.json implies [20, 12]"});
  save_edited(NameScheme::HuggingFace, [](NamedTensors& t) {
    *find_tensor(t, "vit.encoder.layer.1.output.dense.weight") = Tensor({20, 12});  // transposed
  });
  expect_message(load_error(), {weights_path(),
                                "tensor \"vit.encoder.layer.1.output.dense.weight\" has "
                                "shape [20, 12] but config.json implies [12, 20]"});
  // timm files keep the class token's leading singleton dimensions.
  save_edited(NameScheme::Timm,
              [](NamedTensors& t) { *find_tensor(t, "cls_token") = Tensor({12}); });
  expect_message(
      load_error(),
      {weights_path(), "tensor \"cls_token\" has shape [12] but config.json implies [1, 1, 12]"});
  // A wider model than config.json says.
  save_model_folder(small_model(), dir_.path(), NameScheme::HuggingFace);
  rewrite_config([](nlohmann::json& j) { j["hidden_size"] = 15; });
  expect_message(load_error(), {weights_path(), "has shape", "but config.json implies"});
}

TEST_F(ModelLoader, RefusesClassifierRowsThatDisagreeWithNumLabels) {
  save_edited(NameScheme::HuggingFace, [](NamedTensors& t) {
    *find_tensor(t, "classifier.weight") = Tensor({7, 12});
  });
  expect_message(
      load_error(),
      {weights_path(), "tensor \"classifier.weight\" has 7 rows but config.json has num_labels 5"});
  save_edited(NameScheme::Timm, [](NamedTensors& t) {
    *find_tensor(t, "head.weight") = Tensor({1000, 12});
    *find_tensor(t, "head.bias") = Tensor({1000});
  });
  expect_message(
      load_error(),
      {weights_path(), "tensor \"head.weight\" has 1000 rows but config.json has num_labels 5"});
  save_edited(NameScheme::Timm,
              [](NamedTensors& t) { *find_tensor(t, "head.bias") = Tensor({7}); });
  expect_message(
      load_error(),
      {weights_path(), "tensor \"head.bias\" has 7 entries but config.json has num_labels 5"});
}

TEST_F(ModelLoader, RefusesQkvBiasWhenConfigSaysNone) {
  for (const NameScheme scheme : {NameScheme::Timm, NameScheme::HuggingFace}) {
    save_model_folder(small_model(), dir_.path(), scheme);
    rewrite_config([](nlohmann::json& j) { j["qkv_bias"] = false; });
    expect_message(load_error(), {weights_path(), "unexpected tensors",
                                  scheme == NameScheme::Timm ? "\"blocks.0.attn.qkv.bias\""
                                                             : "attention.attention.query.bias\"",
                                  "qkv_bias false"});
  }
}

TEST_F(ModelLoader, RefusesPositionEmbeddingWhenConfigSaysSincos) {
  save_model_folder(small_model(), dir_.path(), NameScheme::HuggingFace);
  rewrite_config([](nlohmann::json& j) { j["vitbench_position_embedding"] = "sincos"; });
  expect_message(
      load_error(),
      {weights_path(), "unexpected tensor \"vit.embeddings.position_embeddings\"", "sin-cos"});
}

TEST_F(ModelLoader, RefusesMixedOrUnknownNaming) {
  save_edited(NameScheme::HuggingFace,
              [](NamedTensors& t) { t.emplace_back("blocks.0.norm1.weight", Tensor({12})); });
  expect_message(load_error(),
                 {weights_path(), "mixes HuggingFace tensor names", "\"blocks.0.norm1.weight\""});
  save_edited(NameScheme::Timm, [](NamedTensors& t) {
    for (auto& [name, tensor] : t) name = "model." + name;
  });
  expect_message(load_error(), {weights_path(), "neither HuggingFace", "nor timm"});
  write_tensors(weights_path(), {});
  expect_message(load_error(), {weights_path(), "holds no tensors"});
}

TEST_F(ModelLoader, RefusesIncompleteFolders) {
  expect_message(error_of([&] { load_model_folder(dir_.file("absent")); }),
                 {dir_.file("absent"), "not a model folder"});
  expect_message(load_error(), {config_path()});
  save_model_folder(small_model(), dir_.path(), NameScheme::Timm);
  fs::remove(weights_path());
  expect_message(load_error(), {weights_path(), "cannot open"});
  // The weights in a form this suite does not read are named for what they are.
  std::ofstream(dir_.file("pytorch_model.bin")) << "pickle";
  expect_message(load_error(), {weights_path(), "missing: the folder holds pytorch_model.bin",
                                "does not read"});
  std::ofstream(dir_.file("model.safetensors.index.json")) << "{}";
  expect_message(load_error(), {weights_path(), "sharded safetensors"});
  save_model_folder(small_model(), dir_.path(), NameScheme::Timm);
  rewrite_config([](nlohmann::json& j) { j.erase("hidden_size"); });
  expect_message(load_error(), {config_path(), "hidden_size"});
}

TEST_F(ModelLoader, LoadModelRefusesNamesThatAreNeitherPresetNorFolder) {
  expect_message(error_of([&] { load_model("vit-x99", 0); }),
                 {"vit-x99: not a preset (", "vit-ti16", "vit-b16", "nor a model folder"});
  save_model_folder(small_model(), dir_.path(), NameScheme::Timm);
  expect_message(error_of([&] { load_model(weights_path(), 0); }),
                 {weights_path(), "nor a model folder", "the folder that holds config.json"});
}

TEST_F(ModelLoader, SaveRefusesImpossibleOutput) {
  expect_message(
      error_of([&] { save_model_folder(small_model(), dir_.file("absent"), NameScheme::Timm); }),
      {dir_.file("absent"), "does not exist"});
  Model broken = small_model();
  broken.weights.blocks.pop_back();
  expect_message(error_of([&] { save_model_folder(broken, dir_.path(), NameScheme::Timm); }),
                 {dir_.path(), "1 blocks but its config says 2"});
  broken = small_model();
  broken.weights.blocks[0].fc1_weight = Tensor({3});
  expect_message(error_of([&] { save_model_folder(broken, dir_.path(), NameScheme::HuggingFace); }),
                 {dir_.path(), "\"blocks.0.mlp.fc1.weight\"", "[20, 12]"});
  EXPECT_FALSE(fs::exists(weights_path()));
}

}  // namespace
}  // namespace vitbench::core
