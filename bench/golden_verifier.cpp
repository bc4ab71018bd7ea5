#include "bench/golden_verifier.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <cstdio>
#include <memory>
#include <mutex>

#include "core/error.h"
#include "core/flops.h"
#include "golden/manifest.h"
#include "golden/verify.h"
#include "reference/vit.h"

namespace vitbench::bench {
namespace {

struct Cases {
  std::once_flag loaded;
  std::vector<golden::Case> cases;
  std::vector<std::string> problems;  // corrupted or unreadable cases: skipped, and said so
};

nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

}  // namespace

GoldenVerifier make_golden_verifier(const std::string& golden_dir, double reference_max_gflop) {
  auto state = std::make_shared<Cases>();
  return [state, golden_dir, reference_max_gflop](const BenchBackend& backend,
                                                  size_t threads) -> std::optional<Verification> {
    std::call_once(state->loaded, [&] {
      std::vector<golden::CaseRef> refs;
      try {
        refs = golden::list_cases(golden_dir);
      } catch (const core::Error&) {
        return;  // no golden folder, or no case in it
      }
      for (const golden::CaseRef& ref : refs) {
        try {
          state->cases.push_back(golden::load_case(ref));
        } catch (const core::Error& e) {
          state->problems.push_back(e.what());
        }
      }
    });
    std::vector<golden::Case> cases;
    for (const golden::Case& c : state->cases) {
      const double gflop =
          core::flops::model_per_image(c.config) * static_cast<double>(c.batch()) * 1e-9;
      if (backend.is_reference && gflop > reference_max_gflop) continue;
      cases.push_back(c);
    }
    if (cases.empty()) return std::nullopt;

    golden::Runner runner;
    runner.name = backend.name;
    if (backend.is_reference) {
      // Straight to the float64 oracle: its logits must not pass through float32 here.
      runner.tolerance_class = golden::kReferenceClass;
      runner.run = [](const core::Model& model, const core::Tensor& images, core::Taps* taps,
                      size_t t) { return reference::forward(model, images, taps, t); };
    } else {
      runner.tolerance_class = golden::kFloat32Class;
      runner.run = [&backend](const core::Model& model, const core::Tensor& images,
                              core::Taps* taps, size_t t) {
        return core::convert<double>(backend.prepare(model, t)->forward(images, taps));
      };
    }
    const golden::VerifyReport report = golden::verify(cases, {runner}, threads);
    std::map<std::string, const golden::Case*> cases_by_name;
    for (const golden::Case& c : cases) cases_by_name[c.name] = &c;

    Verification v;
    v.backend = backend.name;
    v.source = "golden";
    v.passed = true;
    double worst_used = 0;
    std::string failures;
    for (const golden::CaseResult& r : report.results) {
      nlohmann::json c = {{"case", r.case_name},
                          {"passed", r.passed()},
                          {"first_failing_tap", r.first_failing_tap.empty()
                                                    ? nlohmann::json()
                                                    : nlohmann::json(r.first_failing_tap)},
                          {"tolerance_class", r.tolerance_class},
                          {"seconds", r.seconds}};
      if (!r.error.empty()) c["error"] = r.error;
      if (const golden::TapResult* logits = r.find_tap("logits"); logits && logits->recorded) {
        const core::Comparison& m = logits->comparison;
        c["logits"] = {{"max_rel_error", number(m.max_rel_error)},
                       {"nmse", number(m.nmse)},
                       {"cosine", number(m.cosine)},
                       {"argmax_agree", m.argmax_agree},
                       {"rows", m.rows},
                       {"tolerance_max_rel", logits->tolerance.max_rel},
                       {"tolerance_nmse", logits->tolerance.nmse}};
      } else {
        // The backend threw or produced no logits: no figures, only the case's size.
        const size_t rows = std::max<size_t>(1, cases_by_name.at(r.case_name)->batch());
        c["logits"] = {{"max_rel_error", nullptr}, {"nmse", nullptr}, {"cosine", nullptr},
                       {"argmax_agree", nullptr}, {"rows", rows}};
      }
      double used = 0;
      for (const golden::TapResult& t : r.taps) used = std::max(used, t.tolerance_used());
      c["tolerance_used"] = number(used);
      worst_used = std::max(worst_used, used);
      if (!r.passed()) {
        v.passed = false;
        failures += (failures.empty() ? "" : "; ") + r.case_name +
                    (r.error.empty() ? (r.first_failing_tap.empty()
                                            ? std::string(" failed")
                                            : " first fails at " + r.first_failing_tap)
                                     : ": " + r.error);
      }
      v.cases.push_back(std::move(c));
    }
    char line[160];
    std::snprintf(line, sizeof line, "%zu golden case(s), worst tap at %.0f%% of its tolerance",
                  report.results.size(), 100 * worst_used);
    v.summary = v.passed ? std::string("pass: ") + line : "FAILED on goldens: " + failures;
    if (!state->problems.empty()) {
      v.summary += " (" + std::to_string(state->problems.size()) + " unreadable case(s) skipped)";
    }
    return v;
  };
}

}  // namespace vitbench::bench
