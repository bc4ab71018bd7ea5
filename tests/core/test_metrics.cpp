#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include <nlohmann/json.hpp>

#include "core/metrics.h"

namespace vitbench::core {
namespace {

TEST(Metrics, FiguresMatchHandComputation) {
  const std::vector<double> expected = {4.0, -2.0, 1.0, 3.0};
  const std::vector<double> actual = {4.0, -2.5, 1.0, 3.1};
  const Comparison c = compare(actual, expected);
  EXPECT_DOUBLE_EQ(c.max_abs_error, 0.5);
  EXPECT_EQ(c.worst_index, 1u);
  EXPECT_DOUBLE_EQ(c.max_abs_expected, 4.0);
  EXPECT_DOUBLE_EQ(c.max_rel_error, 0.5 / 4.0);
  // Σ(a-e)² = 0.25 + 0.01 = 0.26; Σe² = 16 + 4 + 1 + 9 = 30.
  EXPECT_NEAR(c.nmse, 0.26 / 30.0, 1e-15);
  // a·e = 16 + 5 + 1 + 9.3 = 31.3; |a|² = 16 + 6.25 + 1 + 9.61 = 32.86.
  EXPECT_NEAR(c.cosine, 31.3 / std::sqrt(32.86 * 30.0), 1e-15);
}

TEST(Metrics, ArgmaxAgreementPerRow) {
  const std::vector<double> expected = {0.1, 0.9, 0.0, /**/ 0.5, 0.2, 0.3};
  const std::vector<double> actual = {0.2, 0.8, 0.0, /**/ 0.1, 0.2, 0.3};
  const Comparison c = compare(actual, expected, 3);
  EXPECT_EQ(c.rows, 2u);
  EXPECT_EQ(c.argmax_agree, 1u);
  EXPECT_FALSE(c.all_argmax_agree());
}

TEST(Metrics, NaNIsNeverClose) {
  const std::vector<double> expected = {1.0, 2.0, 3.0};
  const std::vector<double> actual = {1.0, NAN, 3.0};
  const Comparison c = compare(actual, expected, 3);
  EXPECT_FALSE(c.finite());
  EXPECT_EQ(c.worst_index, 1u);
  EXPECT_TRUE(std::isinf(c.max_rel_error));
  EXPECT_EQ(c.argmax_agree, 0u);
  EXPECT_TRUE(to_json(c)["max_rel_error"].is_null());
}

TEST(Metrics, ScaleInvariant) {
  // Relative figures must not change when both tensors are scaled: that is what lets one
  // tolerance serve models of any magnitude.
  std::vector<double> e = {1.5, -0.25, 3.0, 0.125}, a = {1.5001, -0.2501, 2.9998, 0.125};
  const Comparison c1 = compare(a, e);
  for (double& x : e) x *= 1e6;
  for (double& x : a) x *= 1e6;
  const Comparison c2 = compare(a, e);
  EXPECT_NEAR(c1.max_rel_error, c2.max_rel_error, 1e-12);
  EXPECT_NEAR(c1.nmse, c2.nmse, 1e-12);
  EXPECT_NEAR(c1.cosine, c2.cosine, 1e-12);
}

TEST(Metrics, SizeMismatchIsAnError) {
  const std::vector<double> a = {1.0}, b = {1.0, 2.0};
  EXPECT_THROW(compare(a, b), Error);
}

}  // namespace
}  // namespace vitbench::core
