#include "imaging/top_k.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace vitbench::imaging {

std::vector<std::vector<TopClass>> top_k(const core::TensorD& logits,
                                         const std::vector<std::string>& labels, size_t k) {
  if (logits.rank() != 2 || logits.dim(1) != labels.size() || labels.empty()) {
    core::fail("logits", "expected [N, " + std::to_string(labels.size()) + "], got " +
                             core::shape_to_string(logits.shape()));
  }
  const size_t L = labels.size();
  k = std::min(k, L);
  std::vector<std::vector<TopClass>> out(logits.dim(0));
  for (size_t n = 0; n < logits.dim(0); ++n) {
    const double* row = logits.data() + n * L;
    const double max = *std::max_element(row, row + L);
    double sum = 0;
    for (size_t j = 0; j < L; ++j) sum += std::exp(row[j] - max);
    std::vector<size_t> order(L);
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                      [&](size_t a, size_t b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
    for (size_t r = 0; r < k; ++r) {
      const size_t j = order[r];
      out[n].push_back({j, labels[j], std::exp(row[j] - max) / sum, row[j]});
    }
  }
  return out;
}

nlohmann::json top_k_json(const core::TensorD& logits, const std::vector<std::string>& labels,
                          size_t k, const std::vector<std::string>& inputs) {
  if (!inputs.empty() && inputs.size() != logits.dim(0)) {
    core::fail("logits", std::to_string(logits.dim(0)) + " rows for " + std::to_string(inputs.size()) + " inputs");
  }
  const auto rows = top_k(logits, labels, k);
  nlohmann::json images = nlohmann::json::array();
  for (size_t n = 0; n < rows.size(); ++n) {
    nlohmann::json image = nlohmann::json::object();
    if (!inputs.empty()) image["input"] = inputs[n];
    nlohmann::json top = nlohmann::json::array();
    for (size_t r = 0; r < rows[n].size(); ++r) {
      const TopClass& t = rows[n][r];
      top.push_back({{"rank", r + 1}, {"class", t.index}, {"label", t.label},
                     {"probability", t.probability}, {"logit", t.logit}});
    }
    image["top"] = std::move(top);
    images.push_back(std::move(image));
  }
  return {{"images", std::move(images)}};
}

}  // namespace vitbench::imaging
