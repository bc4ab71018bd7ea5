// What the model folder tests share: tensors read from and written to a safetensors file by
// name, and comparisons of configs and weights that name the field or tensor that differs.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "core/config.h"
#include "core/safetensors.h"
#include "core/weights.h"

namespace vitbench::core::io_test {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

inline NamedTensors read_tensors(const std::string& path) {
  const SafetensorsFile f = SafetensorsFile::open(path);
  NamedTensors out;
  for (const auto& e : f.entries()) {
    Tensor t(e.shape);
    f.read_float32(e, t.data());
    out.emplace_back(e.name, std::move(t));
  }
  return out;
}

inline void write_tensors(const std::string& path, const NamedTensors& tensors) {
  std::vector<std::pair<std::string, const Tensor*>> refs;
  for (const auto& [name, t] : tensors) refs.emplace_back(name, &t);
  write_safetensors(path, refs, StDtype::F32);
}

inline Tensor* find_tensor(NamedTensors& tensors, const std::string& name) {
  for (auto& [n, t] : tensors) {
    if (n == name) return &t;
  }
  ADD_FAILURE() << "no tensor " << name;
  return nullptr;
}

// `c` with every one of timm's variants that shows in the tensors switched on: CLIP's norm_pre
// without a patch bias, DeiT III's layer scale and position embedding without a class row,
// fc_norm, QK norm.
inline Config with_tensor_variants(Config c) {
  c.patch_bias = false;
  c.no_embed_class = true;
  c.pre_norm = true;
  c.layer_scale = true;
  c.fc_norm = true;
  c.qk_norm = true;
  return c;
}

inline void erase_tensor(NamedTensors& tensors, const std::string& name) {
  const auto before = tensors.size();
  std::erase_if(tensors, [&](const auto& p) { return p.first == name; });
  EXPECT_EQ(tensors.size() + 1, before) << name;
}

inline bool same_tensor_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Compares every parameter by canonical name, so a failure names the tensor.
inline void expect_same_weights(const Config& c, Weights got, Weights want) {
  const auto got_slots = parameter_slots(c, got);
  const auto want_slots = parameter_slots(c, want);
  ASSERT_EQ(got_slots.size(), want_slots.size());
  for (size_t i = 0; i < got_slots.size(); ++i) {
    EXPECT_TRUE(same_tensor_bits(*got_slots[i].tensor, *want_slots[i].tensor)) << got_slots[i].name;
  }
}

inline void expect_same_config(const Config& a, const Config& b) {
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.num_layers, b.num_layers);
  EXPECT_EQ(a.num_heads, b.num_heads);
  EXPECT_EQ(a.intermediate_size, b.intermediate_size);
  EXPECT_EQ(a.image_size, b.image_size);
  EXPECT_EQ(a.patch_size, b.patch_size);
  EXPECT_EQ(a.num_channels, b.num_channels);
  EXPECT_EQ(a.num_labels, b.num_labels);
  EXPECT_EQ(a.layer_norm_eps, b.layer_norm_eps);
  EXPECT_EQ(a.gelu, b.gelu);
  EXPECT_EQ(a.qkv_bias, b.qkv_bias);
  EXPECT_EQ(a.position_embedding, b.position_embedding);
  EXPECT_EQ(a.pooling, b.pooling);
  EXPECT_EQ(a.labels, b.labels);
}

}  // namespace vitbench::core::io_test
