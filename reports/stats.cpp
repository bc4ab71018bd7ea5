#include "reports/stats.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>

namespace vitbench::reports {
namespace {

// Below this no repetition count is meaningful for a rank test, whatever alpha says.
constexpr size_t kMinRepetitions = 3;

double binomial(size_t n, size_t k) {
  k = std::min(k, n - k);
  double c = 1;
  for (size_t i = 1; i <= k; ++i) c = c * double(n - k + i) / double(i);
  return c;
}

// Number of arrangements giving each U, for samples of n and m values without ties: the
// coefficients of the Gaussian binomial [n+m choose n]_q, built as prod_k (1-q^{m+k})/(1-q^k).
// Every intermediate is an exact integer while C(n+m, n) < 2^53, which the caller ensures.
std::vector<int64_t> u_counts(size_t n, size_t m) {
  if (n > m) std::swap(n, m);
  std::vector<int64_t> g(n * m + 1, 0);
  g[0] = 1;
  for (size_t k = 1; k <= n; ++k) {
    const size_t top = k * m;
    for (size_t d = top; d >= m + k && d <= top; --d) g[d] -= g[d - (m + k)];
    for (size_t d = k; d <= top; ++d) g[d] += g[d - k];
  }
  return g;
}

}  // namespace

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  if (v.size() % 2) return v[mid];
  const double upper = v[mid];
  const double lower = *std::max_element(v.begin(), v.begin() + mid);
  return 0.5 * (lower + upper);
}

double min_two_sided_p(size_t n, size_t m) {
  if (n == 0 || m == 0) return 1.0;
  return std::min(1.0, 2.0 / binomial(n + m, n));
}

size_t repetitions_needed(double alpha) {
  size_t n = kMinRepetitions;
  while (n < 64 && min_two_sided_p(n, n) > alpha) ++n;
  return n;
}

UTest mann_whitney_u(std::span<const double> a, std::span<const double> b, double alpha) {
  UTest t;
  const size_t n = a.size(), m = b.size();
  if (n == 0 || m == 0) return t;
  t.enough = n >= kMinRepetitions && m >= kMinRepetitions && min_two_sided_p(n, m) <= alpha;

  // Ranks over the pooled sample, ties sharing their average rank.
  std::vector<std::pair<double, int>> pooled;
  pooled.reserve(n + m);
  for (double x : a) pooled.emplace_back(x, 0);
  for (double y : b) pooled.emplace_back(y, 1);
  std::sort(pooled.begin(), pooled.end(),
            [](const auto& l, const auto& r) { return l.first < r.first; });
  double rank_sum_a = 0, tie_term = 0;
  bool ties = false;
  for (size_t i = 0; i < pooled.size();) {
    size_t j = i;
    while (j < pooled.size() && pooled[j].first == pooled[i].first) ++j;
    const double avg_rank = 0.5 * double(i + 1 + j);  // ranks i+1 .. j
    const double count = double(j - i);
    if (j - i > 1) ties = true;
    tie_term += count * count * count - count;
    for (size_t k = i; k < j; ++k) {
      if (pooled[k].second == 0) rank_sum_a += avg_rank;
    }
    i = j;
  }
  const double nm = double(n) * double(m);
  t.u = rank_sum_a - double(n) * double(n + 1) / 2;
  const double u_max = std::max(t.u, nm - t.u);

  const bool small = std::min(n, m) <= 8;
  if (small && !ties && binomial(n + m, n) < 9e15) {
    const std::vector<int64_t> counts = u_counts(n, m);
    const double total = std::accumulate(counts.begin(), counts.end(), 0.0);
    double upper = 0;
    for (size_t u = static_cast<size_t>(u_max); u < counts.size(); ++u) upper += double(counts[u]);
    t.p = std::min(1.0, 2.0 * upper / total);
    t.exact = true;
    return t;
  }
  const double big_n = double(n + m);
  const double variance = nm / 12.0 * ((big_n + 1) - tie_term / (big_n * (big_n - 1)));
  if (!(variance > 0)) {
    t.p = 1.0;  // every value equal: no evidence of any difference
    return t;
  }
  const double z = (u_max - nm / 2 - 0.5) / std::sqrt(variance);
  t.p = std::min(1.0, std::erfc(z / std::sqrt(2.0)));
  return t;
}

size_t pairs_needed(double alpha) {
  size_t n = 1;
  while (n < 64 && 2.0 * std::ldexp(1.0, -static_cast<int>(n)) > alpha) ++n;
  return n;
}

SignedRankTest wilcoxon_signed_rank(std::span<const double> d, double alpha) {
  SignedRankTest t;
  std::vector<double> nonzero;
  for (double x : d) {
    if (!std::isfinite(x)) return t;  // no rank for it: nothing can be concluded
    if (x != 0) nonzero.push_back(x);
  }
  t.n = nonzero.size();
  t.enough = t.n >= pairs_needed(alpha) && t.n <= kMaxSignedRankPairs;
  if (t.n == 0 || t.n > kMaxSignedRankPairs) return t;

  // Ranks of |d|, ties sharing their average rank; doubled so that every rank is an integer.
  std::sort(nonzero.begin(), nonzero.end(),
            [](double l, double r) { return std::fabs(l) < std::fabs(r); });
  std::vector<size_t> rank2(t.n);
  size_t w2 = 0, total2 = 0;
  for (size_t i = 0; i < t.n;) {
    size_t j = i;
    while (j < t.n && std::fabs(nonzero[j]) == std::fabs(nonzero[i])) ++j;
    for (size_t k = i; k < j; ++k) rank2[k] = i + 1 + j;  // 2 × the average of ranks i+1 .. j
    i = j;
  }
  for (size_t i = 0; i < t.n; ++i) {
    total2 += rank2[i];
    if (nonzero[i] > 0) w2 += rank2[i];
  }
  t.w_plus = 0.5 * static_cast<double>(w2);

  // Under the null each rank's sign is a fair coin: the distribution of 2·W+ by counting,
  // in probabilities (exact enough: sums of multiples of 2^-n).
  std::vector<double> dist(total2 + 1, 0.0);
  dist[0] = 1;
  size_t reach = 0;
  for (size_t r : rank2) {
    for (size_t s = reach + 1; s-- > 0;) {
      dist[s + r] += 0.5 * dist[s];
      dist[s] *= 0.5;
    }
    reach += r;
  }
  double lower = 0, upper = 0;
  for (size_t s = 0; s <= total2; ++s) {
    if (s <= w2) lower += dist[s];
    if (s >= w2) upper += dist[s];
  }
  t.p = std::min(1.0, 2.0 * std::min(lower, upper));
  return t;
}

}  // namespace vitbench::reports
