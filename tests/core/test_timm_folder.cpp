// Model folders as timm writes them (save_for_hf, push_to_hf_hub): timm tensor names beside timm's
// own config.json, which names the architecture but no dimensions. Each must load as exactly the
// model its ViTConfig twin describes, and everything that could change the function is refused
// by name.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/model_loader.h"
#include "core/timm_config.h"
#include "tests/core/io_test_util.h"
#include "tests/core/model_folder_util.h"
#include "tests/small_config.h"

namespace vitbench::core {
namespace {

using namespace io_test;
using nlohmann::json;

// config.json as timm 1.0's save_for_hf writes it for a hub model (vit_tiny_patch16_224's
// fields, with the architecture, sizes and class count given).
json hub_config(const std::string& architecture, size_t num_classes, size_t num_features,
                size_t image_size) {
  return {{"architecture", architecture},
          {"num_classes", num_classes},
          {"num_features", num_features},
          {"global_pool", "token"},
          {"pretrained_cfg",
           {{"tag", "augreg_in21k_ft_in1k"},
            {"custom_load", false},
            {"input_size", {3, image_size, image_size}},
            {"fixed_input_size", true},
            {"interpolation", "bicubic"},
            {"crop_pct", 0.9},
            {"crop_mode", "center"},
            {"mean", {0.5, 0.5, 0.5}},
            {"std", {0.5, 0.5, 0.5}},
            {"num_classes", num_classes},
            {"pool_size", nullptr},
            {"first_conv", "patch_embed.proj"},
            {"classifier", "head"}}}};
}

// Odd sizes that no timm name implies (hidden 72 with 3 heads, MLP 100, 7 classes, 32 px with
// patch 8), so they must come from the tensors and model_args; tanh GELU, no q/k/v bias and
// mean pooling, so that each of those keys is exercised.
// The shared small model's 2 layers of 3 heads and eps, at those sizes.
Config odd_config() {
  Config c = vitbench::testing::small_config();
  c.name = "odd";
  c.hidden_size = 72;
  c.intermediate_size = 100;
  c.image_size = 32;
  c.patch_size = 8;
  c.num_labels = 7;
  c.gelu = GeluKind::Tanh;
  c.qkv_bias = false;
  c.pooling = Pooling::Mean;
  c.labels = {"ant", "bee", "cat", "dog", "eel", "fox", "gnu"};
  c.validate("odd_config");
  return c;
}

json odd_timm_config() {
  json j = hub_config("vit_base_patch8_32", 7, 72, 32);
  j["global_pool"] = "avg";
  j["label_names"] = odd_config().labels;
  j["model_args"] = {{"embed_dim", 72}, {"depth", 2},         {"num_heads", 3},
                     {"mlp_ratio", 100.0 / 72}, {"qkv_bias", false}, {"act_layer", "gelu_tanh"},
                     {"img_size", {32, 32}}};
  return j;
}

class TimmFolder : public ::testing::Test {
 protected:
  std::string weights_path() const { return dir_.file("model.safetensors"); }
  std::string config_path() const { return dir_.file("config.json"); }

  // The model's tensors under timm names, and `config` as config.json.
  void write(const Model& model, const json& config) {
    save_model_folder(model, dir_.path(), NameScheme::Timm);
    std::ofstream(config_path()) << config.dump(2);
  }
  std::string load_error() {
    return error_of([&] { load_model_folder(dir_.path()); });
  }
  // The odd model with its timm config edited by `edit`: the loader's message.
  std::string odd_error(const std::function<void(json&)>& edit) {
    json j = odd_timm_config();
    edit(j);
    write(odd_model_, j);
    return load_error();
  }

  Model odd_model_{odd_config(), generate_weights(odd_config(), 5)};
  TempDir dir_;
};

TEST_F(TimmFolder, HubViTTinyLoadsAsItsViTConfigTwin) {
  // vit-ti16 is timm's vit_tiny_patch16_224 in shape, eps and GELU.
  const Model model = load_model("vit-ti16", 11);
  write(model, hub_config("vit_tiny_patch16_224", 1000, 192, 224));
  const Model loaded = load_model_folder(dir_.path());
  expect_same_config(loaded.config, model.config);
  expect_same_weights(model.config, loaded.weights, model.weights);
  EXPECT_EQ(loaded.config.num_heads, 3u);  // from the name: no tensor shows it
  EXPECT_EQ(loaded.config.labels[999], "LABEL_999");
}

TEST_F(TimmFolder, ModelArgsGiveSizesNoNameImplies) {
  write(odd_model_, odd_timm_config());
  const Model loaded = load_model_folder(dir_.path());
  expect_same_config(loaded.config, odd_model_.config);
  expect_same_weights(odd_model_.config, loaded.weights, odd_model_.weights);
  // model_args override the name, as in timm: patch 8 in a model registered with patch 16.
  json j = odd_timm_config();
  j["architecture"] = "vit_base_patch16_32";
  j["model_args"]["patch_size"] = 8;
  write(odd_model_, j);
  expect_same_config(load_model_folder(dir_.path()).config, odd_model_.config);
}

TEST_F(TimmFolder, ModelArgsAtThePlainViTsValuesOrForTrainingOnlyAreAccepted) {
  // save_for_hf writes the model_args it was given, defaults spelled out included: a variant's
  // key at the plain ViT's value, and dropout or initialisation settings, change nothing here.
  json j = odd_timm_config();
  j["model_args"].update({{"fc_norm", false}, {"pre_norm", false}, {"no_embed_class", false},
                          {"qk_norm", false}, {"reg_tokens", 0}, {"init_values", nullptr},
                          {"dynamic_img_size", false}, {"drop_rate", 0.1},
                          {"drop_path_rate", 0.2}, {"attn_drop_rate", 0.0},
                          {"weight_init", "jax"}});
  write(odd_model_, j);
  expect_same_config(load_model_folder(dir_.path()).config, odd_model_.config);
}

TEST_F(TimmFolder, ImageSizeAndClassesFallBackAsTimmDoes) {
  // No input_size and no img_size: the position embedding's 17 tokens are a 4 x 4 grid of 8 px.
  json j = odd_timm_config();
  j["pretrained_cfg"].erase("input_size");
  j["model_args"].erase("img_size");
  // num_classes only in pretrained_cfg, as in timm's legacy single-dict configs.
  j.erase("num_classes");
  // Labels as an object of class ids, as timm writes them when ids have gaps.
  j["label_names"] = json::object();
  for (size_t i = 0; i < 7; ++i) j["label_names"][std::to_string(6 - i)] = "n" + std::to_string(i);
  write(odd_model_, j);
  const Config c = load_model_folder(dir_.path()).config;
  EXPECT_EQ(c.image_size, 32u);
  EXPECT_EQ(c.num_labels, 7u);
  EXPECT_EQ(c.labels[0], "n6");
  EXPECT_EQ(c.labels[6], "n0");
}

TEST_F(TimmFolder, OlderSingleDictConfigLoadsTheSame) {
  // timm's older config.json: pretrained_cfg's keys at the top level, the names as "labels".
  json j = odd_timm_config();
  for (const auto& [key, value] : j["pretrained_cfg"].items()) j[key] = value;
  j.erase("pretrained_cfg");
  j["labels"] = j["label_names"];
  j.erase("label_names");
  j["model_args"].erase("img_size");
  write(odd_model_, j);
  expect_same_config(load_model_folder(dir_.path()).config, odd_model_.config);
}

TEST_F(TimmFolder, RefusesWhatItCannotCompute) {
  const std::string config = config_path();
  struct Case {
    std::function<void(json&)> edit;
    std::vector<std::string> says;
  };
  const std::vector<Case> cases = {
      {[](json& j) { j["architecture"] = "resnet50"; }, {"is not a plain Vision Transformer"}},
      {[](json& j) { j["architecture"] = "vit_base_r50_s16_384"; }, {"hybrids"}},
      {[](json& j) { j["architecture"] = "vit_base_patch8_rope_reg1_gap_32"; },
       {"has rotary position embeddings", "Eva class"}},
      {[](json& j) { j["architecture"] = "vit_base_patch16_224"; },
       {"has patch size 16 but \"patch_embed.proj.weight\" has 8"}},
      {[](json& j) {
         j["architecture"] = "vit_wee_patch8_32";
         j["model_args"].erase("num_heads");
       },
       {"cannot tell the number of attention heads", "model_args.num_heads"}},
      {[](json& j) {
         j["model_args"].erase("num_heads");
         j["model_args"].erase("embed_dim");
       },
       {"has embed dim 768 but \"patch_embed.proj.weight\" has 72"}},
      {[](json& j) { j["model_args"]["embed_dim"] = 96; }, {"model_args.embed_dim is 96"}},
      {[](json& j) { j["model_args"]["depth"] = 3; },
       {"model_args.depth is 3 but the number of blocks"}},
      {[](json& j) { j["model_args"]["mlp_ratio"] = 4.0; }, {"model_args.mlp_ratio 4.0"}},
      {[](json& j) { j["model_args"]["qkv_bias"] = true; }, {"model_args.qkv_bias is true"}},
      {[](json& j) { j["model_args"]["img_size"] = 64; }, {"model_args.img_size is 64"}},
      {[](json& j) { j["model_args"]["reg_tokens"] = 4; },
       {"model_args.reg_tokens is 4 but the number of register tokens in the tensors"}},
      // A variant's model_args must agree with the tensors, which show it.
      {[](json& j) { j["model_args"]["pre_norm"] = true; },
       {"model_args.pre_norm is true but the tensors lack \"norm_pre.weight\""}},
      {[](json& j) { j["model_args"]["fc_norm"] = true; },
       {"model_args.fc_norm is true (with global_pool \"avg\") but the tensors lack"}},
      {[](json& j) { j["model_args"]["fc_norm"] = nullptr; },
       {"model_args.fc_norm is null (with global_pool \"avg\") but the tensors lack"}},
      {[](json& j) { j["model_args"]["init_values"] = 1e-5; },
       {"model_args.init_values is 1e-05 but the tensors lack layer scale"}},
      {[](json& j) { j["model_args"]["qk_norm"] = true; },
       {"model_args.qk_norm is true but the tensors lack"}},
      {[](json& j) { j["architecture"] = "vit_base_patch8_clip_quickgelu_32"; },
       {"is a quick GELU model but model_args.act_layer is \"gelu_tanh\""}},
      {[](json& j) { j["model_args"]["block_fn"] = "ParallelScalingBlock"; },
       {"model_args key \"block_fn\" is not supported", "known: ", "act_layer", "pre_norm",
        "drop_path_rate"}},
      {[](json& j) { j["model_args"]["act_layer"] = "swiglu"; },
       {"act_layer \"swiglu\" is not supported"}},
      {[](json& j) { j["model_args"]["class_token"] = false; },
       {"model_args.class_token is false but the tensors hold \"cls_token\""}},
      {[](json& j) { j["global_pool"] = "map"; },
       {"global_pool \"map\" (attention pooling by a learned query) is not supported"}},
      {[](json& j) { j["num_classes"] = 0; }, {"feature extractor"}},
      {[](json& j) { j["num_classes"] = 1000000000000; }, {"num_classes 1000000000000 is over"}},
      {[](json& j) {
         j.erase("num_classes");
         j["pretrained_cfg"].erase("num_classes");
       },
       {"missing field \"num_classes\""}},
      {[](json& j) { j["num_features"] = 768; }, {"num_features is 768"}},
      {[](json& j) { j["label_names"] = {"a", "b"}; }, {"has 2 entries but num_classes is 7"}},
      {[](json& j) { j["pretrained_cfg"]["input_size"] = {3, 32, 24}; }, {"is not square"}},
      {[](json& j) { j["pretrained_cfg"] = "none"; }, {"\"pretrained_cfg\" must be an object"}},
  };
  for (const Case& c : cases) {
    const std::string message = odd_error(c.edit);
    std::vector<std::string> parts = c.says;
    parts.push_back(config);
    expect_message(message, parts);
  }
}

TEST_F(TimmFolder, RefusesTensorsThatDisagreeWithItsConfig) {
  // A 48 px input implies 37 position embeddings; the file holds 17.
  expect_message(odd_error([](json& j) {
                   j["pretrained_cfg"]["input_size"] = {3, 48, 48};
                   j["model_args"].erase("img_size");
                 }),
                 {weights_path(), "tensor \"pos_embed\" has shape [1, 17, 72]", "[1, 37, 72]"});
  // A distilled DeiT's name: its distillation token and second head must be there.
  expect_message(odd_error([](json& j) { j["architecture"] = "deit_base_distilled_patch8_32"; }),
                 {weights_path(), "missing tensors \"dist_token\"", "\"head_dist.weight\""});
  // model_args.no_embed_class: the position embedding would have no class row.
  expect_message(odd_error([](json& j) { j["model_args"]["no_embed_class"] = true; }),
                 {weights_path(), "tensor \"pos_embed\" has shape [1, 17, 72]", "[1, 16, 72]"});
  // The head was trained for 7 classes; the config says 9.
  expect_message(odd_error([](json& j) {
                   j["num_classes"] = 9;
                   j.erase("label_names");
                   j["model_args"].erase("num_classes");
                 }),
                 {weights_path(), "\"head.weight\" has 7 rows but config.json has num_classes 9"});
  // timm's config with HuggingFace's tensor names.
  save_model_folder(odd_model_, dir_.path(), NameScheme::HuggingFace);
  std::ofstream(config_path()) << odd_timm_config().dump();
  expect_message(load_error(), {weights_path(), "missing tensor \"patch_embed.proj.weight\""});
}

TEST_F(TimmFolder, NamesTheVariantItsExtraTensorsBelongTo) {
  const std::vector<std::pair<std::string, std::string>> variants = {
      {"attn_pool.latent", "attention pooling"},
      {"blocks.0.mlp.fc1_g.weight", "a gated (SwiGLU) MLP"},
      {"patch_embed.backbone.stem.conv.weight", "a hybrid CNN stem"},
      {"blocks.0.attn.q_bias", "separate q and v biases (timm's Eva class)"},
      {"blocks.1.gamma_1", "Eva-style layer scale"},
      {"blocks.0.attn.rel_pos.mlp.fc1.weight", "relative position embeddings"},
      {"blocks.0.attn.relative_position_bias_table", "a relative position bias"},
  };
  for (const auto& [name, feature] : variants) {
    SCOPED_TRACE(name);
    json j = odd_timm_config();
    j["global_pool"] = "token";
    write(odd_model_, j);
    NamedTensors tensors = read_tensors(weights_path());
    tensors.emplace_back(name, Tensor({72}, 0.5f));
    write_tensors(weights_path(), tensors);
    expect_message(load_error(), {weights_path(), "unexpected tensor \"" + name + "\"", feature,
                                  "which this suite does not compute"});
  }
}

// The odd model with the variants timm's config.json does not state and its tensors show.
Config variant_config(bool fc_norm_on_class_token) {
  Config c = with_tensor_variants(odd_config());
  if (fc_norm_on_class_token) c.pooling = Pooling::ClassToken;
  c.validate("variant_config");
  return c;
}

TEST_F(TimmFolder, VariantsAreReadOffTheirTensors) {
  for (const bool on_class_token : {false, true}) {
    SCOPED_TRACE(on_class_token ? "fc_norm on the class token" : "fc_norm on the mean");
    const Config c = variant_config(on_class_token);
    const Model model{c, generate_weights(c, 9)};
    json j = odd_timm_config();
    if (on_class_token) j["global_pool"] = "token";
    write(model, j);
    const Model loaded = load_model_folder(dir_.path());
    expect_same_config(loaded.config, c);
    EXPECT_TRUE(loaded.config.pre_norm && loaded.config.layer_scale &&
                loaded.config.no_embed_class && loaded.config.fc_norm && loaded.config.qk_norm);
    EXPECT_FALSE(loaded.config.patch_bias);
    expect_same_weights(c, loaded.weights, model.weights);
    EXPECT_EQ(loaded.weights.pos_embed.dim(0), 16u);  // the patches' rows only
  }
  // The same with model_args spelling the variants out as timm's kwargs.
  const Config c = variant_config(false);
  json j = odd_timm_config();
  j["model_args"].update({{"pre_norm", true}, {"init_values", 1e-5}, {"no_embed_class", true},
                          {"fc_norm", nullptr}, {"qk_norm", true}});
  write(Model{c, generate_weights(c, 9)}, j);
  expect_same_config(load_model_folder(dir_.path()).config, c);
  // CLIP's towers are timm's only ViTs with nn.LayerNorm's eps of 1e-5, known by their name;
  // OpenAI's use quick GELU, which only the name (*_quickgelu_*) shows.
  j["architecture"] = "vit_base_patch8_clip_32";
  write(Model{c, generate_weights(c, 9)}, j);
  EXPECT_EQ(load_model_folder(dir_.path()).config.layer_norm_eps, 1e-5);
  j["architecture"] = "vit_base_patch8_clip_quickgelu_32";
  j["model_args"].erase("act_layer");
  write(Model{c, generate_weights(c, 9)}, j);
  EXPECT_EQ(load_model_folder(dir_.path()).config.gelu, GeluKind::Quick);
  j["model_args"]["act_layer"] = "quick_gelu";
  j["architecture"] = "vit_base_patch8_32";
  write(Model{c, generate_weights(c, 9)}, j);
  EXPECT_EQ(load_model_folder(dir_.path()).config.gelu, GeluKind::Quick);
}

TEST_F(TimmFolder, RegisterModelsWithoutAClassTokenAreReadOffTheirTensors) {
  // timm's *_reg4_gap_* models: register tokens, no class token, mean pooling with fc_norm, and
  // a position embedding for the patches only.
  Config c = odd_config();
  c.class_token = false;
  c.register_tokens = 4;
  c.no_embed_class = true;
  c.fc_norm = true;
  c.validate("register model");
  const Model model{c, generate_weights(c, 4)};
  json j = odd_timm_config();
  j["model_args"].update({{"class_token", false}, {"reg_tokens", 4}, {"no_embed_class", true}});
  write(model, j);
  const Model loaded = load_model_folder(dir_.path());
  expect_same_config(loaded.config, c);
  expect_same_weights(c, loaded.weights, model.weights);
  EXPECT_EQ(loaded.config.num_prefix_tokens(), 4u);
  // Without model_args the tensors tell the same, the image size from the position embedding.
  j["model_args"] = json::object();
  j["pretrained_cfg"].erase("input_size");
  j["architecture"] = "vit_base_patch8_reg4_gap_32";
  j["model_args"]["num_heads"] = 3;
  j["model_args"]["embed_dim"] = 72;
  j["model_args"]["act_layer"] = "gelu_tanh";
  write(model, j);
  expect_same_config(load_model_folder(dir_.path()).config, c);
  // Class-token pooling needs a class token.
  j["global_pool"] = "token";
  write(model, j);
  expect_message(load_error(), {config_path(), "global_pool \"token\" is not supported",
                                "a model without a class token pools the mean"});
}

TEST_F(TimmFolder, AVariantWithSomeOfItsTensorsMissingNamesThem) {
  const Config c = variant_config(false);
  const Model model{c, generate_weights(c, 9)};
  const std::vector<std::pair<std::string, std::string>> dropped = {
      {"norm_pre.bias", "missing tensor \"norm_pre.bias\""},
      {"blocks.1.ls2.gamma", "missing tensor \"blocks.1.ls2.gamma\""},
      {"blocks.0.attn.k_norm.bias", "missing tensor \"blocks.0.attn.k_norm.bias\""},
      {"fc_norm.weight", "missing tensor \"fc_norm.weight\""},
  };
  for (const auto& [name, says] : dropped) {
    SCOPED_TRACE(name);
    write(model, odd_timm_config());
    NamedTensors tensors = read_tensors(weights_path());
    erase_tensor(tensors, name);
    write_tensors(weights_path(), tensors);
    expect_message(load_error(), {weights_path(), says});
  }
  // fc_norm replaces the final norm: a file with both has a norm too many.
  write(model, odd_timm_config());
  NamedTensors tensors = read_tensors(weights_path());
  tensors.emplace_back("norm.weight", Tensor({72}, 1.0f));
  write_tensors(weights_path(), tensors);
  expect_message(load_error(), {weights_path(), "unexpected tensor \"norm.weight\"",
                                "fc_norm.* replaces the final norm.*"});
}

TEST(TimmConfig, IsTellsTimmsConfigFromHuggingFaces) {
  EXPECT_TRUE(is_timm_config(hub_config("vit_base_patch16_224", 1000, 768, 224)));
  EXPECT_FALSE(is_timm_config(json{{"architectures", {"ViTForImageClassification"}},
                                   {"hidden_size", 768}}));
  EXPECT_FALSE(is_timm_config(json{{"architecture", "x"}, {"hidden_size", 768}}));
  EXPECT_FALSE(is_timm_config(json::array()));
}

}  // namespace
}  // namespace vitbench::core
