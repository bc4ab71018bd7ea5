// The statistics compare needs, with no dependency: medians, the Mann-Whitney U test that
// Google Benchmark's tools/compare.py runs (through scipy) to tell a change from noise, and
// Wilcoxon's signed-rank test for rounds of an alternated run (compare --rounds).
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace vitbench::reports {

// Median of a non-empty sample (mean of the two middle values when even); NaN when empty.
double median(std::vector<double> values);

struct UTest {
  // False when no outcome could reach p < alpha with this many repetitions (e.g. 3 against 3:
  // the smallest two-sided p is 2/20 = 0.1), or fewer than 3 on either side. Then the p-value
  // proves nothing and callers say "not enough repetitions".
  bool enough = false;
  double p = 1.0;       // two-sided
  double u = 0;         // U statistic of the first sample: pairs (a_i > b_j), ties counting 1/2
  bool exact = false;   // exact distribution, or the normal approximation
};

// Two-sided test as scipy.stats.mannwhitneyu(method="auto") does it: the exact distribution of U
// when either sample has at most 8 values and there are no ties; otherwise the normal
// approximation with tie correction and continuity correction.
UTest mann_whitney_u(std::span<const double> a, std::span<const double> b, double alpha);

// The smallest two-sided p-value any outcome can give: 2 / C(n+m, n), capped at 1.
double min_two_sided_p(size_t n, size_t m);

// Repetitions needed per side (equal counts) for a two-sided test at `alpha` to be able to
// succeed; used in the "not enough repetitions" message.
size_t repetitions_needed(double alpha);

struct SignedRankTest {
  // False when no outcome could reach p < alpha with this many non-zero differences (5 or fewer
  // at 0.05: the smallest two-sided p is 2/2^n), so the p-value proves nothing.
  bool enough = false;
  double p = 1.0;     // two-sided, exact
  size_t n = 0;       // non-zero differences (zeros carry no sign and are dropped)
  double w_plus = 0;  // the sum of the positive differences' ranks
};

// Wilcoxon's signed-rank test that paired differences (here the log of each round's new/base
// ratio) are centred on zero, two-sided, with the exact distribution of W+ given the ranks: ties
// in |d| share their average rank, zeros are dropped, as scipy.stats.wilcoxon(zero_method="wilcox")
// does, but exact with ties too. At most kMaxSignedRankPairs differences; a NaN or infinite one
// makes the test inconclusive (enough false, p 1).
inline constexpr size_t kMaxSignedRankPairs = 100;
SignedRankTest wilcoxon_signed_rank(std::span<const double> d, double alpha);

// Pairs (rounds) needed for the signed-rank test at `alpha` to be able to succeed.
size_t pairs_needed(double alpha);

}  // namespace vitbench::reports
