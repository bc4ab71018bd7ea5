// The Mann-Whitney U test against values worked out independently: by enumerating every
// arrangement in Python (itertools over the pooled sample), and scipy's documented example.
// Wilcoxon's signed-rank test against scipy's documented example, small cases counted by hand,
// and every sign assignment enumerated here (a different algorithm from the counting it uses).
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "reports/stats.h"

namespace vitbench::reports {
namespace {

TEST(Median, OddEvenEmpty) {
  EXPECT_EQ(median({3, 1, 2}), 2);
  EXPECT_EQ(median({4, 1, 3, 2}), 2.5);
  EXPECT_TRUE(std::isnan(median({})));
}

TEST(MannWhitney, ExactWhenSeparated) {
  // All of b above all of a: the most extreme of C(8,4) = 70 arrangements, both tails: 2/70.
  const std::vector<double> a = {1, 2, 3, 4}, b = {5, 6, 7, 8};
  const UTest t = mann_whitney_u(a, b, 0.05);
  EXPECT_TRUE(t.exact);
  EXPECT_TRUE(t.enough);
  EXPECT_EQ(t.u, 0);
  EXPECT_NEAR(t.p, 2.0 / 70, 1e-12);
  const std::vector<double> c = {1, 2, 3, 4, 5}, d = {6, 7, 8, 9, 10};
  EXPECT_NEAR(mann_whitney_u(d, c, 0.05).p, 2.0 / 252, 1e-12);
  EXPECT_EQ(mann_whitney_u(d, c, 0.05).u, 25);
}

TEST(MannWhitney, ScipyDocumentedExample) {
  // scipy.stats.mannwhitneyu docs: statistic 17.0, p 0.1111111111111111 (exact).
  const std::vector<double> males = {19, 22, 16, 29, 24}, females = {20, 11, 17, 12};
  const UTest t = mann_whitney_u(males, females, 0.05);
  EXPECT_EQ(t.u, 17);
  EXPECT_TRUE(t.exact);
  EXPECT_NEAR(t.p, 1.0 / 9, 1e-12);
}

TEST(MannWhitney, NormalApproximationForLargeSamples) {
  // 9 against 9: normal approximation with continuity correction, as scipy's "auto" picks.
  // Formula value 0.05205876875060025; exact enumeration gives 0.0503085: the approximation
  // must stay within 0.005 of it.
  const std::vector<double> a = {1.1, 2.3, 3.2, 4.8, 5.0, 6.7, 7.1, 8.9, 9.4};
  const std::vector<double> b = {4.1, 5.5, 6.0, 7.7, 8.2, 9.9, 10.5, 11.2, 12.0};
  const UTest t = mann_whitney_u(a, b, 0.05);
  EXPECT_FALSE(t.exact);
  EXPECT_EQ(t.u, 18);
  EXPECT_NEAR(t.p, 0.05205876875060025, 1e-12);
  EXPECT_NEAR(t.p, 0.05030851501439737, 0.005);
}

TEST(MannWhitney, TiesUseTheCorrectedVariance) {
  // Ties force the normal approximation even for small samples; value from the formula with
  // the tie term sum(t^3 - t).
  const std::vector<double> a = {1, 2, 2, 3, 3, 3, 4, 4, 5, 5}, b = {3, 4, 5, 5, 6, 6, 7, 7, 8, 9};
  const UTest t = mann_whitney_u(a, b, 0.05);
  EXPECT_FALSE(t.exact);
  EXPECT_EQ(t.u, 10.5);
  EXPECT_NEAR(t.p, 0.002896527169360711, 1e-12);
}

TEST(MannWhitney, IdenticalSamplesShowNoDifference) {
  const std::vector<double> a = {5, 6, 7, 8, 9};
  EXPECT_EQ(mann_whitney_u(a, a, 0.05).p, 1.0);
  const std::vector<double> same = {3, 3, 3, 3};
  EXPECT_EQ(mann_whitney_u(same, same, 0.05).p, 1.0);
}

TEST(MannWhitney, SaysWhenRepetitionsCannotReachSignificance) {
  // 3 against 3: the smallest possible two-sided p is 2/20 = 0.1 > 0.05.
  const std::vector<double> a3 = {1, 2, 3}, b3 = {7, 8, 9};
  EXPECT_FALSE(mann_whitney_u(a3, b3, 0.05).enough);
  EXPECT_NEAR(min_two_sided_p(3, 3), 0.1, 1e-12);
  const std::vector<double> a4 = {1, 2, 3, 4}, b4 = {7, 8, 9, 10};
  EXPECT_TRUE(mann_whitney_u(a4, b4, 0.05).enough);
  EXPECT_EQ(repetitions_needed(0.05), 4u);
  EXPECT_EQ(repetitions_needed(0.01), 5u);  // 2/252 < 0.01 < 2/70
  // Never from fewer than 3 on one side, whatever the other has.
  const std::vector<double> two = {1, 2};
  std::vector<double> many(50);
  for (size_t i = 0; i < many.size(); ++i) many[i] = 10.0 + double(i);
  EXPECT_FALSE(mann_whitney_u(two, many, 0.05).enough);
  EXPECT_FALSE(mann_whitney_u({}, many, 0.05).enough);
}

TEST(MannWhitney, ExactTailsSumToOneAcrossAllOutcomes) {
  // With n=3, m=7 every U from 0 to 21 is reachable; the exact p of the middle is capped at 1
  // and of the extremes is 2/C(10,3).
  std::vector<double> a = {0.5, 1.5, 2.5}, b = {3, 4, 5, 6, 7, 8, 9};
  EXPECT_NEAR(mann_whitney_u(a, b, 0.05).p, 2.0 / 120, 1e-12);
  a = {3.5, 5.5, 7.5};
  const UTest mid = mann_whitney_u(a, b, 0.05);
  EXPECT_TRUE(mid.exact);
  EXPECT_GT(mid.p, 0.5);
  EXPECT_LE(mid.p, 1.0);
}

TEST(SignedRank, ScipyDocumentedExample) {
  // scipy.stats.wilcoxon docs: 15 paired differences in height, statistic 24.0 (the smaller
  // rank sum: -48 and -67 have ranks 10 and 14), exact two-sided p 0.041259765625 = 1352/2^15.
  const std::vector<double> d = {6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75};
  const SignedRankTest t = wilcoxon_signed_rank(d, 0.05);
  EXPECT_EQ(t.n, 15u);
  EXPECT_EQ(t.w_plus, 120 - 24);
  EXPECT_TRUE(t.enough);
  EXPECT_NEAR(t.p, 0.041259765625, 1e-15);
}

TEST(SignedRank, SmallCasesByHand) {
  // All six positive: only the all-positive and all-negative outcomes are as extreme: 2/64.
  EXPECT_NEAR(wilcoxon_signed_rank(std::vector<double>{1, 2, 3, 4, 5, 6}, 0.05).p, 2.0 / 64, 1e-15);
  // Rank 2 negative: W+ = 19; W+ >= 19 when the negatives sum to at most 2 ({}, {1}, {2}).
  EXPECT_NEAR(wilcoxon_signed_rank(std::vector<double>{1, -2, 3, 4, 5, 6}, 0.05).p, 6.0 / 64,
              1e-15);
  // Zeros carry no sign and are dropped.
  const SignedRankTest zeros = wilcoxon_signed_rank(std::vector<double>{0, 1, 2, 0, 3, 4, 5, 6}, 0.05);
  EXPECT_EQ(zeros.n, 6u);
  EXPECT_NEAR(zeros.p, 2.0 / 64, 1e-15);
  // Ties share their average rank: |d| 1, 1, 2, 2, 3 rank 1.5, 1.5, 3.5, 3.5, 5; W+ = 13.5, and
  // W+ >= 13.5 when the negatives sum to at most 1.5: {} or either 1.5. p = 2 · 3/32.
  const SignedRankTest ties = wilcoxon_signed_rank(std::vector<double>{1, -1, 2, 2, 3}, 0.05);
  EXPECT_EQ(ties.w_plus, 13.5);
  EXPECT_NEAR(ties.p, 6.0 / 32, 1e-15);
  // Every value the same sign and size, as identical rounds of a real slowdown give.
  EXPECT_NEAR(wilcoxon_signed_rank(std::vector<double>(6, 0.18), 0.05).p, 2.0 / 64, 1e-15);
}

TEST(SignedRank, SaysWhenRoundsCannotReachSignificance) {
  EXPECT_EQ(pairs_needed(0.05), 6u);  // 2/2^5 = 0.0625, 2/2^6 = 0.031
  EXPECT_EQ(pairs_needed(0.1), 5u);
  EXPECT_FALSE(wilcoxon_signed_rank(std::vector<double>{1, 2, 3, 4, 5}, 0.05).enough);
  EXPECT_TRUE(wilcoxon_signed_rank(std::vector<double>{1, 2, 3, 4, 5}, 0.1).enough);
  EXPECT_FALSE(wilcoxon_signed_rank(std::vector<double>{0, 0, 0, 0, 0, 0, 0}, 0.05).enough);
  EXPECT_EQ(wilcoxon_signed_rank(std::vector<double>{0, 0, 0, 0, 0, 0, 0}, 0.05).p, 1.0);
  EXPECT_FALSE(wilcoxon_signed_rank(std::vector<double>(kMaxSignedRankPairs + 1, 1.0), 0.05).enough);
  for (double bad : {NAN, INFINITY, -INFINITY}) {
    const SignedRankTest t = wilcoxon_signed_rank(std::vector<double>{1, 2, 3, bad, 5, 6, 7}, 0.05);
    EXPECT_FALSE(t.enough) << bad;
    EXPECT_EQ(t.p, 1.0) << bad;
  }
}

TEST(SignedRank, MatchesEverySignAssignmentEnumerated) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 40; ++trial) {
    const size_t n = 3 + trial % 10;
    std::vector<double> d(n);
    // Magnitudes from a small set, so ties are common; random signs.
    for (double& x : d) x = double(1 + rng() % 5) * ((rng() & 1) ? 1 : -1);
    const SignedRankTest t = wilcoxon_signed_rank(d, 0.05);
    // Ranks of |d| with ties averaged, then the share of the 2^n sign flips whose W+ is at
    // least as far from its mean n(n+1)/4 as the observed one.
    std::vector<double> ranks(n);
    for (size_t i = 0; i < n; ++i) {
      double below = 0, equal = 0;
      for (size_t j = 0; j < n; ++j) {
        below += std::fabs(d[j]) < std::fabs(d[i]);
        equal += std::fabs(d[j]) == std::fabs(d[i]);
      }
      ranks[i] = below + (equal + 1) / 2;
    }
    double w = 0;
    for (size_t i = 0; i < n; ++i) w += d[i] > 0 ? ranks[i] : 0;
    double lower = 0, upper = 0;
    for (uint32_t mask = 0; mask < (1u << n); ++mask) {
      double s = 0;
      for (size_t i = 0; i < n; ++i) s += (mask >> i & 1) ? ranks[i] : 0;
      lower += s <= w + 1e-9;
      upper += s >= w - 1e-9;
    }
    const double expected = std::min(1.0, 2 * std::min(lower, upper) / double(1u << n));
    EXPECT_EQ(t.w_plus, w) << "trial " << trial;
    EXPECT_NEAR(t.p, expected, 1e-12) << "trial " << trial;
  }
}

}  // namespace
}  // namespace vitbench::reports
