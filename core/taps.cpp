#include "core/taps.h"

#include <algorithm>

#include "core/error.h"

namespace vitbench::core {

bool Taps::wants(const std::string& name) const {
  if (std::find(requested_.begin(), requested_.end(), name) != requested_.end()) return true;
  return all_standard_ && name.find("attn_probs") == std::string::npos;
}

const TensorD& Taps::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) fail("taps", "no tap named \"" + name + "\" was recorded");
  return it->second;
}

std::vector<std::string> standard_tap_names(size_t num_layers) {
  std::vector<std::string> names = {tap::embed()};
  for (size_t i = 0; i < num_layers; ++i) {
    names.push_back(tap::attn_out(i));
    names.push_back(tap::block_out(i));
  }
  names.push_back(tap::final_norm());
  names.push_back(tap::logits());
  return names;
}

}  // namespace vitbench::core
