// config.json on arbitrary bytes: the JSON reader (depth and size caps), the ViTConfig parser,
// and timm's config.json parser against the tensor shapes of a small timm ViT. An accepted config
// must be valid and survive a round trip through config_to_json.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "core/json_file.h"
#include "core/timm_config.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vitbench;
  const std::string where = "fuzz/config.json";
  const std::string text(fuzz::as_text(data, size));
  // The tensors of a 2-block ViT with patch 8, hidden 192 (a "tiny"), MLP 768 and 10 classes;
  // and of the same with the variants timm's tensors show (CLIP's norm_pre without a patch bias,
  // layer scale, a position embedding without a class row, a distillation token; not fc_norm,
  // which a distilled DeiT refuses).
  static const core::TensorShapes plain = {
      {"patch_embed.proj.weight", {192, 3, 8, 8}}, {"patch_embed.proj.bias", {192}},
      {"pos_embed", {1, 17, 192}}, {"cls_token", {1, 1, 192}},
      {"blocks.0.mlp.fc1.weight", {768, 192}}, {"blocks.1.mlp.fc1.weight", {768, 192}},
      {"blocks.0.attn.qkv.bias", {576}}, {"head.weight", {10, 192}}};
  static const core::TensorShapes variants = {
      {"patch_embed.proj.weight", {192, 3, 8, 8}}, {"pos_embed", {1, 16, 192}},
      {"cls_token", {1, 1, 192}}, {"dist_token", {1, 1, 192}}, {"norm_pre.weight", {192}},
      {"blocks.0.ls1.gamma", {192}}, {"blocks.0.mlp.fc1.weight", {768, 192}},
      {"blocks.1.mlp.fc1.weight", {768, 192}}, {"head.weight", {10, 192}}};
  for (const core::TensorShapes* shapes : {&plain, &variants}) fuzz::accepts(where, [&] {
    const nlohmann::json json = core::parse_json_text(text, where);
    const core::Config c = core::is_timm_config(json)
                               ? core::parse_timm_config(json, *shapes, where, "fuzz/weights")
                               : core::parse_config(json, where);
    c.validate(where);
    // Derived sizes a forward pass relies on.
    if (c.num_heads == 0 || c.hidden_size % c.num_heads != 0 || c.patch_size == 0 ||
        c.image_size % c.patch_size != 0 || c.labels.size() != c.num_labels) {
      fuzz::contract_broken("an accepted config is inconsistent", text);
    }
    const core::Config again = core::parse_config(core::config_to_json(c), where);
    if (core::config_to_json(again) != core::config_to_json(c)) {
      fuzz::contract_broken("an accepted config does not survive a round trip", text);
    }
  });
  return 0;
}
