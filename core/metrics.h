// The one place that defines what "close" means. Every comparison in the suite (tests, verify,
// bench's verification step) goes through compare(), and every figure scales with the problem:
// errors relative to the expected tensor's magnitude, NMSE, cosine, argmax agreement.
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace vitbench::core {

struct Comparison {
  size_t count = 0;
  double max_abs_error = 0;   // max |a - e|
  double max_abs_expected = 0;
  double max_rel_error = 0;   // max |a - e| / max |e|  (the headline figure)
  double nmse = 0;            // Σ(a - e)² / Σe²
  double cosine = 1;          // a·e / (|a| |e|)
  size_t worst_index = 0;     // where |a - e| is largest
  size_t nonfinite = 0;       // NaN or Inf in `actual`
  // Rows (of `row_length` elements) whose argmax agrees, when row_length > 0.
  size_t rows = 0;
  size_t argmax_agree = 0;

  bool finite() const { return nonfinite == 0; }
  bool all_argmax_agree() const { return argmax_agree == rows; }
};

// `row_length` > 0 splits both tensors into rows for argmax agreement (use the label count for
// logits). Throws core::Error if the sizes differ.
Comparison compare(std::span<const double> actual, std::span<const double> expected,
                   size_t row_length = 0);

nlohmann::json to_json(const Comparison& c);
std::string summarize(const Comparison& c);

}  // namespace vitbench::core
