// Verification before timing: a backend is timed only once it computes the right function.
// Golden cases (expected outputs from PyTorch) are the first choice; the CLI supplies them
// through a GoldenVerifier so bench/ does not depend on golden/. Without goldens, each backend
// is compared with the reference on every benchmarked model.
//
// The bar against the reference (the same as the issue that introduced bench): logits within
// 2e-3 of max|reference logit| everywhere, all finite, and the same top-1 class for every image
// whose reference top-1 margin exceeds twice that tolerance. (An image whose two best classes lie
// closer than that can swap them while inside the tolerance, so its top-1 proves nothing; such
// images are counted as "ambiguous" in the figures. The seeded weights make them rare.)
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/backends.h"
#include "core/taps.h"
#include "core/tensor.h"

namespace vitbench::bench {

inline constexpr double kLogitTolerance = 2e-3;

// One backend's verdict, in the report's `context.vitbench.verification` form
// (docs/report-format.md).
struct Verification {
  std::string backend;
  bool passed = false;
  std::string source;  // "golden", "reference", or "oracle" (the reference itself)
  nlohmann::json cases = nlohmann::json::array();
  std::string summary;  // one line for the terminal
};
nlohmann::json to_json(const Verification& v);

// Verifies `backend` on the golden cases at `threads`, or returns nullopt when there are none
// for it (bench then falls back to the reference).
using GoldenVerifier =
    std::function<std::optional<Verification>(const BenchBackend& backend, size_t threads)>;

// The reference's answer on one model, computed once and shared by every backend's check.
struct ReferenceRun {
  const ModelUnderTest* model = nullptr;
  core::Tensor images;   // [N, C, H, W]
  core::TensorD logits;  // [N, L]
  core::Taps taps = core::Taps::standard();
};
ReferenceRun run_reference(const ModelUnderTest& model, size_t batch, uint64_t input_seed,
                           size_t threads);

// Compares `backend` with each reference run; any exception counts as a failure with its message.
Verification verify_against_reference(const BenchBackend& backend,
                                      const std::vector<const ReferenceRun*>& runs, size_t threads);

// The figures and verdict of one comparison of logits (exposed for tests).
struct LogitCheck {
  bool passed = false;
  size_t ambiguous_rows = 0;  // rows whose reference top-1 margin is within 2 × tolerance
  size_t top1_checked = 0, top1_agree = 0;
  nlohmann::json figures;
};
LogitCheck check_logits(const core::TensorD& actual, const core::TensorD& expected,
                        double tolerance = kLogitTolerance);

}  // namespace vitbench::bench
