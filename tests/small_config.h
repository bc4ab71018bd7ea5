// The small model the command, preprocessing and model-folder tests share: 12 wide, 2 layers of
// 3 heads, MLP 20, 8 px images in 4 px patches, 5 labelled classes. Nothing is a power of two, so
// a transposed or mis-split tensor cannot pass by accident; tests that need another size or
// variant change a field of it.
#pragma once

#include "core/config.h"

namespace vitbench::testing {

inline core::Config small_config() {
  core::Config c;
  c.name = "small";
  c.hidden_size = 12;
  c.num_layers = 2;
  c.num_heads = 3;
  c.intermediate_size = 20;
  c.image_size = 8;
  c.patch_size = 4;
  c.num_labels = 5;
  c.labels = {"ant", "bee", "cat", "dog", "eel"};
  c.layer_norm_eps = 1e-6;
  c.validate("test");
  return c;
}

}  // namespace vitbench::testing
