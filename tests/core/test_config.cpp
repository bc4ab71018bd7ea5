#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "core/error.h"
#include "core/json_file.h"

namespace vitbench::core {
namespace {

nlohmann::json valid_json() {
  return nlohmann::json::parse(R"({
    "hidden_size": 72, "num_hidden_layers": 2, "num_attention_heads": 3,
    "intermediate_size": 144, "image_size": 20, "patch_size": 4, "num_channels": 3,
    "layer_norm_eps": 1e-6, "hidden_act": "gelu", "qkv_bias": true,
    "id2label": {"0": "cat", "1": "dog", "2": "owl"},
    "label2id": {"cat": 0, "dog": 1, "owl": 2}
  })");
}

// Runs parse_config and returns the error message, failing the test if none is thrown.
std::string parse_error(const nlohmann::json& json) {
  try {
    parse_config(json, "model/config.json");
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for " << json.dump();
  return "";
}

TEST(Config, ParsesHuggingFaceFields) {
  const Config c = parse_config(valid_json(), "config.json");
  EXPECT_EQ(c.hidden_size, 72u);
  EXPECT_EQ(c.num_layers, 2u);
  EXPECT_EQ(c.num_heads, 3u);
  EXPECT_EQ(c.head_dim(), 24u);
  EXPECT_EQ(c.intermediate_size, 144u);
  EXPECT_EQ(c.num_tokens(), 26u);
  EXPECT_EQ(c.num_labels, 3u);
  EXPECT_EQ(c.labels.at(2), "owl");
  EXPECT_EQ(c.layer_norm_eps, 1e-6);
  EXPECT_EQ(c.gelu, GeluKind::Erf);
  EXPECT_EQ(c.pooling, Pooling::ClassToken);
  EXPECT_EQ(c.position_embedding, PositionEmbedding::Learned);
}

TEST(Config, TanhGeluNamesAndExtensions) {
  for (const char* act : {"gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu_accurate"}) {
    auto j = valid_json();
    j["hidden_act"] = act;
    EXPECT_EQ(parse_config(j, "c").gelu, GeluKind::Tanh) << act;
  }
  auto python = valid_json();
  python["hidden_act"] = "gelu_python";
  EXPECT_EQ(parse_config(python, "c").gelu, GeluKind::Erf);
  auto j = valid_json();
  j["vitbench_pooling"] = "mean";
  j["vitbench_position_embedding"] = "sincos";
  const Config c = parse_config(j, "c");
  EXPECT_EQ(c.pooling, Pooling::Mean);
  EXPECT_EQ(c.position_embedding, PositionEmbedding::Sincos);
}

TEST(Config, LabelsDefaultWhenOnlyNumLabelsIsGiven) {
  auto j = valid_json();
  j.erase("id2label");
  j.erase("label2id");
  j["num_labels"] = 4;
  const Config c = parse_config(j, "c");
  ASSERT_EQ(c.labels.size(), 4u);
  EXPECT_EQ(c.labels[3], "LABEL_3");
}

TEST(Config, RoundTripsThroughJson) {
  auto j = valid_json();
  j["hidden_act"] = "gelu_new";
  j["qkv_bias"] = false;
  j["vitbench_pooling"] = "mean";
  const Config a = parse_config(j, "a");
  const Config b = parse_config(config_to_json(a), "b");
  EXPECT_EQ(config_to_json(a), config_to_json(b));
  // quick GELU (transformers' quick_gelu) round-trips under its own name.
  j["hidden_act"] = "quick_gelu";
  EXPECT_EQ(parse_config(j, "q").gelu, GeluKind::Quick);
  EXPECT_EQ(config_to_json(parse_config(j, "q"))["hidden_act"], "quick_gelu");
  // A plain ViT's config names no variant; each variant that is on appears and round-trips.
  EXPECT_FALSE(config_to_json(a).contains("vitbench_pre_norm"));
  j["vitbench_patch_bias"] = false;
  j["vitbench_no_embed_class"] = true;
  j["vitbench_pre_norm"] = true;
  j["vitbench_layer_scale"] = true;
  j["vitbench_fc_norm"] = true;
  j["vitbench_qk_norm"] = true;
  const Config v = parse_config(j, "v");
  EXPECT_FALSE(v.patch_bias);
  EXPECT_TRUE(v.no_embed_class && v.pre_norm && v.layer_scale && v.fc_norm && v.qk_norm);
  EXPECT_EQ(v.num_positions(), v.num_patches());
  const nlohmann::json written = config_to_json(v);
  EXPECT_EQ(written["vitbench_patch_bias"], false);
  EXPECT_EQ(written["vitbench_layer_scale"], true);
  EXPECT_EQ(config_to_json(parse_config(written, "w")), written);
  // DeiT distilled: a second prefix token, pooled on the class and distillation tokens only.
  auto d = valid_json();
  d["vitbench_distilled"] = true;
  const Config dc = parse_config(d, "d");
  EXPECT_EQ(dc.num_prefix_tokens(), 2u);
  EXPECT_EQ(dc.num_tokens(), dc.num_patches() + 2);
  EXPECT_EQ(config_to_json(dc)["vitbench_distilled"], true);
  d["vitbench_pooling"] = "mean";
  EXPECT_NE(parse_error(d).find("vitbench_distilled pools the class and distillation tokens"),
            std::string::npos);
  // Register tokens, and no class token (timm's *_reg4_gap_*).
  auto r = valid_json();
  r["vitbench_class_token"] = false;
  r["vitbench_register_tokens"] = 4;
  r["vitbench_pooling"] = "mean";
  const Config rc = parse_config(r, "r");
  EXPECT_EQ(rc.num_prefix_tokens(), 4u);
  EXPECT_EQ(config_to_json(parse_config(config_to_json(rc), "r2")), config_to_json(rc));
  r["vitbench_pooling"] = "cls";
  EXPECT_NE(parse_error(r).find("without a class token (vitbench_class_token false) pools the mean"),
            std::string::npos);
  r["vitbench_pooling"] = "mean";
  r["vitbench_register_tokens"] = 65;
  EXPECT_NE(parse_error(r).find("\"vitbench_register_tokens\" must be in [1, 64]"),
            std::string::npos)
      << parse_error(r);
}

struct BadConfig {
  const char* field;
  nlohmann::json value;  // null erases the field
  const char* message;   // a part of the expected message
};

TEST(Config, RefusesInvalidConfigsWithAClearMessage) {
  const BadConfig cases[] = {
      {"num_attention_heads", 0, "\"num_attention_heads\" must be in [1,"},
      {"num_attention_heads", 5, "hidden_size 72 is not divisible by num_attention_heads 5"},
      {"num_hidden_layers", -1, "\"num_hidden_layers\" must be in [1,"},
      {"image_size", 22, "image_size 22 is not divisible by patch_size 4"},
      {"hidden_act", "relu", "unknown hidden_act \"relu\""},
      {"hidden_act", "gelu_10", "unknown hidden_act \"gelu_10\""},
      {"hidden_size", "72", "\"hidden_size\" must be an integer"},
      {"hidden_size", 1.5, "\"hidden_size\" must be an integer"},
      {"hidden_size", nullptr, "missing field \"hidden_size\""},
      {"hidden_size", 1LL << 40, "\"hidden_size\" must be in [1,"},
      {"layer_norm_eps", -1.0, "layer_norm_eps must be positive"},
      {"qkv_bias", "yes", "\"qkv_bias\" must be true or false"},
      {"num_labels", 5, "\"num_labels\" is 5 but \"id2label\" has 3 entries"},
      {"vitbench_pooling", "max", "unknown vitbench_pooling"},
      {"vitbench_position_embedding", "rope", "unknown vitbench_position_embedding"},
      {"vitbench_pre_norm", "yes", "\"vitbench_pre_norm\" must be true or false"},
      {"vitbench_layer_scale", 1, "\"vitbench_layer_scale\" must be true or false"},
      // Another architecture's config is refused for what it is, not for a field it lacks.
      {"model_type", "swin", "model_type \"swin\" is not a ViT this suite reads (vit, deit)"},
      {"model_type", "dinov2", "model_type \"dinov2\" is not a ViT"},
      {"model_type", 3, "\"model_type\" must be a string"},
  };
  for (const BadConfig& bad : cases) {
    auto j = valid_json();
    if (bad.value.is_null()) {
      j.erase(bad.field);
    } else {
      j[bad.field] = bad.value;
    }
    const std::string message = parse_error(j);
    EXPECT_NE(message.find("model/config.json: "), std::string::npos) << message;
    EXPECT_NE(message.find(bad.message), std::string::npos)
        << bad.field << " = " << bad.value.dump() << " gave: " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
  }
}

TEST(Config, NoEmbedClassNeedsLearnedPositionEmbeddings) {
  auto j = valid_json();
  j["vitbench_no_embed_class"] = true;
  j["vitbench_position_embedding"] = "sincos";
  EXPECT_NE(parse_error(j).find("vitbench_no_embed_class applies to learned position embeddings"),
            std::string::npos)
      << parse_error(j);
}

TEST(Config, RefusesInconsistentLabels) {
  auto j = valid_json();
  j["id2label"] = {{"0", "cat"}, {"2", "owl"}, {"5", "dog"}};
  EXPECT_NE(parse_error(j).find("\"id2label\" key \"5\""), std::string::npos);
  j = valid_json();
  j["label2id"]["dog"] = 2;
  EXPECT_NE(parse_error(j).find("\"label2id\"[\"dog\"] disagrees"), std::string::npos);
  j = valid_json();
  j["vitbench_position_embedding"] = "sincos";
  j["hidden_size"] = 6;  // divisible by 3 heads but not by 4
  j["num_attention_heads"] = 3;
  EXPECT_NE(parse_error(j).find("divisible by 4"), std::string::npos);
}

TEST(Config, MalformedAndDeepJsonAreOneLineErrors) {
  for (const std::string& text : {std::string("{\"hidden_size\": 72,"), std::string(200, '[')}) {
    try {
      parse_json_text(text, "x/config.json");
      FAIL() << "accepted " << text;
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_EQ(m.rfind("x/config.json: ", 0), 0u) << m;
      EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    }
  }
}

TEST(Config, Presets) {
  const Config b = preset_config("vit-b16");
  EXPECT_EQ(b.hidden_size, 768u);
  EXPECT_EQ(b.num_layers, 12u);
  EXPECT_EQ(b.num_heads, 12u);
  EXPECT_EQ(b.intermediate_size, 3072u);
  EXPECT_EQ(b.num_tokens(), 197u);
  const Config l384 = preset_config("vit-l16@384");
  EXPECT_EQ(l384.num_layers, 24u);
  EXPECT_EQ(l384.num_tokens(), 577u);
  EXPECT_TRUE(is_preset_name("vit-ti16"));
  EXPECT_FALSE(is_preset_name("vit-x16"));
  EXPECT_FALSE(is_preset_name("vit-b16@"));
  EXPECT_FALSE(is_preset_name("vit-b16@12a"));
  EXPECT_THROW(preset_config("vit-b16@100"), Error);  // 100 is not a multiple of 16
}

// The contract every reader relies on: an error is one line, whatever it quotes.
TEST(Error, MessagesStayOneLineWhateverTheyQuote) {
  const Error e(std::string("f.json: name \"a\nb\r\tc\x01" "d\x7f\" is odd"));
  EXPECT_STREQ(e.what(), "f.json: name \"a\\nb\\r\\tc\\x01d\\x7f\" is odd");
  EXPECT_STREQ(Error("plain: unchanged, even \xc3\xa9").what(), "plain: unchanged, even \xc3\xa9");
  try {
    fail("g.json", "field \"x\ny\"");
  } catch (const Error& thrown) {
    EXPECT_STREQ(thrown.what(), "g.json: field \"x\\ny\"");
  }
}

}  // namespace
}  // namespace vitbench::core
