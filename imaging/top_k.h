// The k most probable classes per image, as `vitbench infer` prints them and as --json emits them.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/tensor.h"

namespace vitbench::imaging {

struct TopClass {
  size_t index = 0;
  std::string label;
  double probability = 0;  // softmax over all classes, in float64 with the maximum subtracted
  double logit = 0;
};

// Per row of `logits` [N, L], the min(k, L) classes in decreasing order of logit (ties: lower index
// first, so output never depends on the sort). `labels` has L entries (Config::labels).
std::vector<std::vector<TopClass>> top_k(const core::TensorD& logits,
                                         const std::vector<std::string>& labels, size_t k);

// {"images": [{"input": inputs[n], "top": [{"rank": 1, "class": 3, "label": "cat",
//   "probability": 0.41, "logit": 2.3}, ...]}, ...]}. `inputs` names each row (file paths), or
// is empty (then "input" is omitted).
nlohmann::json top_k_json(const core::TensorD& logits, const std::vector<std::string>& labels,
                          size_t k, const std::vector<std::string>& inputs);

}  // namespace vitbench::imaging
