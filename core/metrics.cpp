#include "core/metrics.h"

#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace vitbench::core {

Comparison compare(std::span<const double> actual, std::span<const double> expected,
                   size_t row_length) {
  if (actual.size() != expected.size()) {
    fail("compare", "sizes differ: " + std::to_string(actual.size()) + " vs " +
                        std::to_string(expected.size()));
  }
  Comparison c;
  c.count = actual.size();
  double err2 = 0, exp2 = 0, act2 = 0, dot = 0;
  for (size_t i = 0; i < c.count; ++i) {
    const double a = actual[i], e = expected[i];
    if (!std::isfinite(a)) {
      if (c.nonfinite++ == 0) c.worst_index = i;
      continue;
    }
    const double d = std::fabs(a - e);
    if (d > c.max_abs_error && c.nonfinite == 0) {
      c.max_abs_error = d;
      c.worst_index = i;
    }
    c.max_abs_expected = std::max(c.max_abs_expected, std::fabs(e));
    err2 += d * d;
    exp2 += e * e;
    act2 += a * a;
    dot += a * e;
  }
  if (c.nonfinite) {
    // A NaN is never "close": every error figure says so.
    c.max_abs_error = c.max_rel_error = c.nmse = INFINITY;
    c.cosine = NAN;
  } else {
    c.max_rel_error = c.max_abs_expected > 0 ? c.max_abs_error / c.max_abs_expected
                                             : (c.max_abs_error > 0 ? INFINITY : 0.0);
    c.nmse = exp2 > 0 ? err2 / exp2 : (err2 > 0 ? INFINITY : 0.0);
    c.cosine = (act2 > 0 && exp2 > 0) ? dot / std::sqrt(act2 * exp2) : (act2 == exp2 ? 1.0 : 0.0);
  }
  if (row_length > 0 && c.count % row_length == 0) {
    c.rows = c.count / row_length;
    for (size_t r = 0; r < c.rows; ++r) {
      size_t ia = 0, ie = 0;
      for (size_t j = 1; j < row_length; ++j) {
        if (actual[r * row_length + j] > actual[r * row_length + ia]) ia = j;
        if (expected[r * row_length + j] > expected[r * row_length + ie]) ie = j;
      }
      if (ia == ie && c.finite()) ++c.argmax_agree;
    }
  }
  return c;
}

nlohmann::json to_json(const Comparison& c) {
  auto num = [](double v) -> nlohmann::json {
    if (std::isfinite(v)) return v;
    return nullptr;  // JSON has no Inf or NaN: null means "not finite"
  };
  nlohmann::json j = {
      {"count", c.count},
      {"max_abs_error", num(c.max_abs_error)},
      {"max_abs_expected", num(c.max_abs_expected)},
      {"max_rel_error", num(c.max_rel_error)},
      {"nmse", num(c.nmse)},
      {"cosine", num(c.cosine)},
      {"worst_index", c.worst_index},
      {"nonfinite", c.nonfinite},
  };
  if (c.rows) {
    j["rows"] = c.rows;
    j["argmax_agree"] = c.argmax_agree;
  }
  return j;
}

std::string summarize(const Comparison& c) {
  char buf[256];
  if (!c.finite()) {
    std::snprintf(buf, sizeof buf, "%zu non-finite values (first at index %zu)", c.nonfinite,
                  c.worst_index);
    return buf;
  }
  std::snprintf(buf, sizeof buf, "max rel %.2e, max abs %.2e at %zu, nmse %.2e, cos %.9f",
                c.max_rel_error, c.max_abs_error, c.worst_index, c.nmse, c.cosine);
  std::string s = buf;
  if (c.rows) s += ", top-1 " + std::to_string(c.argmax_agree) + "/" + std::to_string(c.rows);
  return s;
}

}  // namespace vitbench::core
