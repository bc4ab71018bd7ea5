// Top-k: order, ties, probabilities, clamping of k, and the JSON shape `vitbench infer --json`
// prints.
#include <cmath>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "imaging/top_k.h"

namespace vitbench::testing {
namespace {

TEST(TopK, OrderTiesAndProbabilities) {
  core::TensorD logits({2, 4});
  const double rows[2][4] = {{1, 3, 3, -2}, {0, 0, 0, 0}};
  for (size_t i = 0; i < 8; ++i) logits[i] = rows[i / 4][i % 4];
  const std::vector<std::string> labels = {"ant", "bee", "cat", "dog"};
  const auto top = imaging::top_k(logits, labels, 3);
  ASSERT_EQ(top.size(), 2u);
  ASSERT_EQ(top[0].size(), 3u);
  // Ties broken by the lower index.
  EXPECT_EQ(top[0][0].index, 1u);
  EXPECT_EQ(top[0][1].index, 2u);
  EXPECT_EQ(top[0][2].index, 0u);
  EXPECT_EQ(top[0][0].label, "bee");
  // softmax by hand: e^3 / (e^1 + 2 e^3 + e^-2).
  const double z = std::exp(1.0) + 2 * std::exp(3.0) + std::exp(-2.0);
  EXPECT_NEAR(top[0][0].probability, std::exp(3.0) / z, 1e-15);  // float64 rounding only
  EXPECT_NEAR(top[0][2].probability, std::exp(1.0) / z, 1e-15);
  EXPECT_EQ(top[0][2].logit, 1);
  for (const auto& t : top[1]) EXPECT_DOUBLE_EQ(t.probability, 0.25);
  // k beyond the class count gives every class.
  EXPECT_EQ(imaging::top_k(logits, labels, 100)[0].size(), 4u);
  EXPECT_THROW(imaging::top_k(logits, {"a", "b"}, 1), core::Error);
}

TEST(TopK, LargeLogitsDoNotOverflow) {
  core::TensorD logits({1, 2});
  logits[0] = 1000;
  logits[1] = 999;
  const auto top = imaging::top_k(logits, {"x", "y"}, 2);
  EXPECT_NEAR(top[0][0].probability, 1 / (1 + std::exp(-1.0)), 1e-15);
}

TEST(TopK, Json) {
  core::TensorD logits({2, 3});
  for (size_t i = 0; i < 6; ++i) logits[i] = double(i % 3);
  const nlohmann::json j = imaging::top_k_json(logits, {"a", "b", "c"}, 2, {"x.png", "y.jpg"});
  ASSERT_EQ(j["images"].size(), 2u);
  EXPECT_EQ(j["images"][1]["input"], "y.jpg");
  const auto& first = j["images"][0]["top"][0];
  EXPECT_EQ(first["rank"], 1);
  EXPECT_EQ(first["class"], 2);
  EXPECT_EQ(first["label"], "c");
  EXPECT_EQ(first["logit"], 2.0);
  EXPECT_GT(first["probability"].get<double>(), j["images"][0]["top"][1]["probability"].get<double>());
  EXPECT_FALSE(imaging::top_k_json(logits, {"a", "b", "c"}, 1, {})["images"][0].contains("input"));
  EXPECT_THROW(imaging::top_k_json(logits, {"a", "b", "c"}, 1, {"only one"}), core::Error);
}

}  // namespace
}  // namespace vitbench::testing
