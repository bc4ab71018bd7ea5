#include "bench/verification.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <limits>

#include "bench/text_table.h"
#include "core/error.h"
#include "core/metrics.h"
#include "core/weights.h"
#include "reference/vit.h"

namespace vitbench::bench {

nlohmann::json to_json(const Verification& v) {
  return {{"backend", v.backend}, {"passed", v.passed}, {"source", v.source}, {"cases", v.cases}};
}

ReferenceRun run_reference(const ModelUnderTest& model, size_t batch, uint64_t input_seed,
                           size_t threads) {
  ReferenceRun run;
  run.model = &model;
  run.images = core::generate_images(model.model.config, batch, input_seed);
  run.logits = reference::forward(model.model, run.images, &run.taps, threads);
  return run;
}

LogitCheck check_logits(const core::TensorD& actual, const core::TensorD& expected,
                        double tolerance) {
  LogitCheck check;
  const size_t labels = expected.rank() == 2 ? expected.dim(1) : expected.size();
  const core::Comparison c = core::compare(actual.span(), expected.span(), labels);
  const double max_expected = c.max_abs_expected;
  for (size_t r = 0; labels && r < expected.size() / labels; ++r) {
    const double* e = expected.data() + r * labels;
    const double* a = actual.data() + r * labels;
    size_t best = 0;
    double second = -std::numeric_limits<double>::infinity();
    for (size_t j = 1; j < labels; ++j) {
      if (e[j] > e[best]) {
        second = e[best];
        best = j;
      } else {
        second = std::max(second, e[j]);
      }
    }
    if (labels > 1 && e[best] - second <= 2 * tolerance * max_expected) {
      ++check.ambiguous_rows;
      continue;
    }
    ++check.top1_checked;
    const size_t got = static_cast<size_t>(std::max_element(a, a + labels) - a);
    if (got == best) ++check.top1_agree;
  }
  check.passed = c.finite() && c.max_rel_error <= tolerance && check.top1_agree == check.top1_checked;
  check.figures = core::to_json(c);
  check.figures["tolerance"] = tolerance;
  check.figures["ambiguous_rows"] = check.ambiguous_rows;
  check.figures["top1_checked"] = check.top1_checked;
  check.figures["top1_agree"] = check.top1_agree;
  return check;
}

Verification verify_against_reference(const BenchBackend& backend,
                                      const std::vector<const ReferenceRun*>& runs,
                                      size_t threads) {
  Verification v;
  v.backend = backend.name;
  if (backend.is_reference) {
    // The oracle is what everything else is checked against; only goldens can check it.
    v.passed = true;
    v.source = "oracle";
    v.summary = "the oracle (no golden cases to check it against)";
    return v;
  }
  v.source = "reference";
  v.passed = true;
  double worst = 0;
  std::string failures;
  for (const ReferenceRun* run : runs) {
    const std::string name = run->model->id + " b" + std::to_string(run->images.dim(0)) +
                             " vs reference";
    nlohmann::json c = {{"case", name}, {"first_failing_tap", nullptr}};
    try {
      auto prepared = backend.prepare(run->model->model, threads);
      core::Taps taps = core::Taps::standard();
      const core::Tensor logits = prepared->forward(run->images, &taps);
      const LogitCheck check = check_logits(core::convert<double>(logits), run->logits);
      c["logits"] = check.figures;
      // The first tap, in forward order, beyond the same relative tolerance: where a wrong
      // result starts, which the logits alone cannot say.
      nlohmann::json tap_errors = nlohmann::json::object();
      for (const std::string& tap :
           core::standard_tap_names(run->model->model.config.num_layers)) {
        if (!run->taps.has(tap)) continue;
        if (!taps.has(tap)) {
          if (c["first_failing_tap"].is_null()) c["first_failing_tap"] = tap;
          tap_errors[tap] = nullptr;
          continue;
        }
        const core::Comparison t = core::compare(taps.get(tap).span(), run->taps.get(tap).span());
        const bool ok = t.finite() && t.max_rel_error <= kLogitTolerance;
        tap_errors[tap] = std::isfinite(t.max_rel_error) ? nlohmann::json(t.max_rel_error)
                                                          : nlohmann::json(nullptr);
        if (!ok && c["first_failing_tap"].is_null()) c["first_failing_tap"] = tap;
      }
      c["taps_max_rel_error"] = tap_errors;
      // The pass the benchmarks time records no tap, and so skips rows only the taps need
      // (optimized/forward.cpp): its logits are checked as well.
      const LogitCheck untapped = check_logits(
          core::convert<double>(prepared->forward(run->images, nullptr)), run->logits);
      c["logits_without_taps"] = untapped.figures;
      // A case passes only when every tap does too, so first_failing_tap is null exactly when
      // the case passed (the untapped logits aside, which name themselves).
      const bool passed = check.passed && untapped.passed && c["first_failing_tap"].is_null();
      c["passed"] = passed;
      const double rel = check.figures["max_rel_error"].is_number()
                             ? check.figures["max_rel_error"].get<double>()
                             : std::numeric_limits<double>::infinity();
      worst = std::max(worst, rel);
      if (!passed) {
        v.passed = false;
        failures += (failures.empty() ? "" : "; ") + run->model->id + ": " +
                    format("max rel error %.3g, top-1 %g/", rel, double(check.top1_agree)) +
                    std::to_string(check.top1_checked);
        if (!c["first_failing_tap"].is_null()) {
          failures += ", first failing tap " + c["first_failing_tap"].get<std::string>();
        }
        if (!untapped.passed) failures += ", logits without taps fail";
      }
    } catch (const std::exception& e) {
      v.passed = false;
      c["passed"] = false;
      c["error"] = e.what();
      // No figures: the backend produced no logits.
      c["logits"] = {{"max_rel_error", nullptr}, {"nmse", nullptr}, {"cosine", nullptr},
                     {"argmax_agree", nullptr}, {"rows", run->images.dim(0)}};
      failures += (failures.empty() ? "" : "; ") + run->model->id + ": " + e.what();
    }
    v.cases.push_back(std::move(c));
  }
  v.summary = v.passed ? format("vs reference: max rel error %.2g (tolerance %.0e)", worst,
                                kLogitTolerance)
                       : "FAILED vs reference: " + failures;
  return v;
}

}  // namespace vitbench::bench
