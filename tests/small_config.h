// The small models tests run. Nothing in them is a power of two, so a transposed or mis-split
// tensor cannot pass by accident.
#pragma once

#include <cstddef>
#include <string>

#include "core/config.h"

namespace vitbench::testing {

// A model's sizes; the defaults are the shared small model's: 12 wide, 2 layers of 3 heads, MLP
// 20, 8 px images in 4 px patches (5 tokens), 5 classes.
struct ModelShape {
  size_t hidden = 12, layers = 2, heads = 3, mlp = 20, image = 8, patch = 4, labels = 5;
};

// A validated config of that shape: 3 channels, LayerNorm eps 1e-6, classes LABEL_0, LABEL_1, ...
inline core::Config shaped_config(const std::string& name, const ModelShape& s) {
  core::Config c;
  c.name = name;
  c.hidden_size = s.hidden;
  c.num_layers = s.layers;
  c.num_heads = s.heads;
  c.intermediate_size = s.mlp;
  c.image_size = s.image;
  c.patch_size = s.patch;
  c.num_channels = 3;
  c.num_labels = s.labels;
  c.layer_norm_eps = 1e-6;
  for (size_t i = 0; i < s.labels; ++i) c.labels.push_back("LABEL_" + std::to_string(i));
  c.validate(name);
  return c;
}

// The model the command, preprocessing and model-folder tests share, with labels of its own;
// tests that need another size or variant change a field of it.
inline core::Config small_config() {
  core::Config c = shaped_config("small", {});
  c.labels = {"ant", "bee", "cat", "dog", "eel"};
  return c;
}

}  // namespace vitbench::testing
