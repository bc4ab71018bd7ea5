#include "core/weights.h"

#include <cmath>

#include "core/error.h"

namespace vitbench::core {

std::vector<ParameterSlot> parameter_slots(const Config& c, Weights& w) {
  const size_t D = c.hidden_size, M = c.intermediate_size, P = c.patch_size;
  const bool learned_pos = c.position_embedding == PositionEmbedding::Learned;
  w.blocks.resize(c.num_layers);
  // The prefix tokens first, in their token order.
  std::vector<ParameterSlot> slots;
  if (c.class_token) slots.push_back({"cls_token", {1, 1, D}, &w.cls_token, true});
  if (c.distilled) slots.push_back({"dist_token", {1, 1, D}, &w.dist_token, true});
  if (c.register_tokens) {
    slots.push_back({"reg_token", {1, c.register_tokens, D}, &w.reg_tokens, true});
  }
  slots.push_back({"pos_embed", {1, c.num_positions(), D}, &w.pos_embed, learned_pos});
  slots.push_back({"patch_embed.proj.weight", {D, c.num_channels, P, P}, &w.patch_weight, true});
  slots.push_back({"patch_embed.proj.bias", {D}, &w.patch_bias, c.patch_bias});
  if (c.pre_norm) {
    slots.push_back({"norm_pre.weight", {D}, &w.norm_pre_weight, true});
    slots.push_back({"norm_pre.bias", {D}, &w.norm_pre_bias, true});
  }
  for (size_t i = 0; i < c.num_layers; ++i) {
    BlockWeights& b = w.blocks[i];
    const std::string p = "blocks." + std::to_string(i) + ".";
    slots.push_back({p + "norm1.weight", {D}, &b.norm1_weight, true});
    slots.push_back({p + "norm1.bias", {D}, &b.norm1_bias, true});
    slots.push_back({p + "attn.qkv.weight", {3 * D, D}, &b.qkv_weight, true});
    slots.push_back({p + "attn.qkv.bias", {3 * D}, &b.qkv_bias, c.qkv_bias});
    if (c.qk_norm) {
      const size_t hd = c.head_dim();
      slots.push_back({p + "attn.q_norm.weight", {hd}, &b.q_norm_weight, true});
      slots.push_back({p + "attn.q_norm.bias", {hd}, &b.q_norm_bias, true});
      slots.push_back({p + "attn.k_norm.weight", {hd}, &b.k_norm_weight, true});
      slots.push_back({p + "attn.k_norm.bias", {hd}, &b.k_norm_bias, true});
    }
    slots.push_back({p + "attn.proj.weight", {D, D}, &b.proj_weight, true});
    slots.push_back({p + "attn.proj.bias", {D}, &b.proj_bias, true});
    if (c.layer_scale) slots.push_back({p + "ls1.gamma", {D}, &b.ls1_gamma, true});
    slots.push_back({p + "norm2.weight", {D}, &b.norm2_weight, true});
    slots.push_back({p + "norm2.bias", {D}, &b.norm2_bias, true});
    slots.push_back({p + "mlp.fc1.weight", {M, D}, &b.fc1_weight, true});
    slots.push_back({p + "mlp.fc1.bias", {M}, &b.fc1_bias, true});
    slots.push_back({p + "mlp.fc2.weight", {D, M}, &b.fc2_weight, true});
    slots.push_back({p + "mlp.fc2.bias", {D}, &b.fc2_bias, true});
    if (c.layer_scale) slots.push_back({p + "ls2.gamma", {D}, &b.ls2_gamma, true});
  }
  const std::string final_norm = c.fc_norm ? "fc_norm." : "norm.";
  slots.push_back({final_norm + "weight", {D}, &w.norm_weight, true});
  slots.push_back({final_norm + "bias", {D}, &w.norm_bias, true});
  slots.push_back({"head.weight", {c.num_labels, D}, &w.head_weight, true});
  slots.push_back({"head.bias", {c.num_labels}, &w.head_bias, true});
  if (c.distilled) {
    slots.push_back({"head_dist.weight", {c.num_labels, D}, &w.head_dist_weight, true});
    slots.push_back({"head_dist.bias", {c.num_labels}, &w.head_dist_bias, true});
  }
  return slots;
}

void check_weight_sizes(const Model& model, const std::string& where) {
  const Config& c = model.config;
  if (model.weights.blocks.size() != c.num_layers) {
    fail(where, "model has " + std::to_string(model.weights.blocks.size()) +
                    " blocks but its config says " + std::to_string(c.num_layers));
  }
  // parameter_slots wants a mutable Weights only to size its blocks, which are already sized,
  // so nothing is written through this reference; it saves copying every tensor.
  Weights& weights = const_cast<Weights&>(model.weights);
  for (const ParameterSlot& slot : parameter_slots(c, weights)) {
    if (slot.tensor->size() != checked_element_count(slot.shape, where)) {
      fail(where, "model weight " + in_quotes(slot.name) + " has shape " +
                      shape_to_string(slot.tensor->shape()) + " but its config implies " +
                      shape_to_string(slot.shape));
    }
  }
}

Weights allocate_weights(const Config& c) {
  Weights w;
  for (ParameterSlot& slot : parameter_slots(c, w)) {
    *slot.tensor = Tensor(slot.shape, 0.0f);
  }
  // Canonical shapes drop timm's leading singleton dimensions.
  if (c.class_token) w.cls_token.reshape({c.hidden_size});
  if (c.distilled) w.dist_token.reshape({c.hidden_size});
  if (c.register_tokens) w.reg_tokens.reshape({c.register_tokens, c.hidden_size});
  w.pos_embed.reshape({c.num_positions(), c.hidden_size});
  if (c.position_embedding == PositionEmbedding::Sincos) {
    w.pos_embed = sincos_position_embedding(c.grid_size(), c.hidden_size);
  }
  return w;
}

Tensor sincos_position_embedding(size_t grid, size_t D) {
  const size_t quarter = D / 4;
  Tensor table({grid * grid + 1, D}, 0.0f);
  for (size_t r = 0; r < grid; ++r) {
    for (size_t col = 0; col < grid; ++col) {
      float* row = table.data() + (1 + r * grid + col) * D;
      for (size_t k = 0; k < quarter; ++k) {
        const double omega = 1.0 / std::pow(10000.0, static_cast<double>(k) / quarter);
        row[k] = static_cast<float>(std::sin(col * omega));
        row[quarter + k] = static_cast<float>(std::cos(col * omega));
        row[2 * quarter + k] = static_cast<float>(std::sin(r * omega));
        row[3 * quarter + k] = static_cast<float>(std::cos(r * omega));
      }
    }
  }
  return table;
}

uint64_t fnv1a64(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char ch : text) {
    h ^= ch;
    h *= 0x100000001b3ULL;
  }
  return h;
}

uint64_t mix64(uint64_t z) {
  z ^= z >> 30;
  z *= 0xbf58476d1ce4e5b9ULL;
  z ^= z >> 27;
  z *= 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return z;
}

double uniform_draw(uint64_t seed, uint64_t name_hash, uint64_t index) {
  const uint64_t bits = mix64(mix64(seed ^ name_hash) + (index + 1) * 0x9e3779b97f4a7c15ULL);
  return static_cast<double>(bits >> 40) / 16777216.0;
}

namespace {
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
// Uniform on [-a, a] has standard deviation a/√3: this gives std gain/√fan_in.
double fan_in_scale(double gain, size_t fan_in) { return gain * std::sqrt(3.0 / fan_in); }
}  // namespace

DrawRule draw_rule(const Config& c, const std::string& name) {
  const size_t D = c.hidden_size, M = c.intermediate_size;
  if (name == "cls_token" || name == "dist_token" || name == "reg_token") return {0.0, 1.0};
  if (name == "pos_embed") return {0.0, 0.5};
  if (name == "patch_embed.proj.weight") return {0.0, fan_in_scale(1.0, c.patch_dim())};
  // LayerNorm gains around 1 and biases around 0, but far from exactly so.
  if (ends_with(name, "norm1.weight") || ends_with(name, "norm2.weight") ||
      ends_with(name, "q_norm.weight") || ends_with(name, "k_norm.weight") ||
      name == "norm.weight" || name == "norm_pre.weight" || name == "fc_norm.weight") {
    return {1.0, 0.25};
  }
  if (ends_with(name, "norm1.bias") || ends_with(name, "norm2.bias") ||
      ends_with(name, "q_norm.bias") || ends_with(name, "k_norm.bias") || name == "norm.bias" ||
      name == "norm_pre.bias" || name == "fc_norm.bias") {
    return {0.0, 0.1};
  }
  // Layer scale: per-channel gains in [0.2, 1], so a branch is damped unevenly but never muted.
  if (ends_with(name, ".ls1.gamma") || ends_with(name, ".ls2.gamma")) return {0.6, 0.4};
  // q and k at 1.5/√D make the attention logits' spread about 2: attention is peaked, not
  // uniform, yet no row is one-hot.
  if (ends_with(name, "attn.qkv.weight")) return {0.0, fan_in_scale(1.5, D)};
  if (ends_with(name, "attn.qkv.bias")) return {0.0, 0.1};
  if (ends_with(name, "attn.proj.weight") || ends_with(name, "mlp.fc1.weight")) {
    return {0.0, fan_in_scale(1.0, D)};
  }
  if (ends_with(name, "mlp.fc1.bias")) return {0.0, 0.1};
  if (ends_with(name, "mlp.fc2.weight")) return {0.0, fan_in_scale(1.0, M)};
  // A head at 2/√D spreads the logits enough that top-1 classes win clearly.
  if (name == "head.weight" || name == "head_dist.weight") return {0.0, fan_in_scale(2.0, D)};
  return {0.0, 0.02};  // the remaining biases: patch_embed, attn.proj, mlp.fc2, head
}

namespace {
void fill_drawn(Tensor& t, uint64_t seed, const std::string& name, DrawRule rule) {
  const uint64_t name_hash = fnv1a64(name);
  for (size_t i = 0; i < t.size(); ++i) {
    const double u = uniform_draw(seed, name_hash, i);
    t[i] = static_cast<float>(rule.offset + rule.scale * (2.0 * u - 1.0));
  }
}
}  // namespace

Weights generate_weights(const Config& c, uint64_t seed) {
  Weights w = allocate_weights(c);
  for (ParameterSlot& slot : parameter_slots(c, w)) {
    if (slot.stored) fill_drawn(*slot.tensor, seed, slot.name, draw_rule(c, slot.name));
  }
  return w;
}

Tensor generate_images(const Config& c, size_t batch, uint64_t seed) {
  Tensor images({batch, c.num_channels, c.image_size, c.image_size});
  fill_drawn(images, seed, "input", {0.0, 1.0});
  return images;
}

}  // namespace vitbench::core
