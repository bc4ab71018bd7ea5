#include "cli/backends.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "optimized/backend.h"
#include "reference/vit.h"

namespace vitbench::cli {

std::vector<std::string> all_backend_names() {
  std::vector<std::string> names = {"reference"};
  for (const std::string& name : optimized::backend_names()) names.push_back(name);
  return names;
}

void check_backend_name(const std::string& name) {
  const auto names = all_backend_names();
  for (const auto& known : names) {
    if (known == name) return;
  }
  std::string list;
  for (const auto& known : names) list += (list.empty() ? "" : ", ") + known;
  core::fail("--backend", "unknown backend \"" + name + "\" (known: " + list + ")");
}

core::TensorD run_backend(const std::string& backend, const core::Model& model,
                          const core::Tensor& images, core::Taps* taps, size_t threads) {
  check_backend_name(backend);
  // The reference answers in float64: rounding its logits to float32 would blur the oracle.
  if (backend == "reference") return reference::forward(model, images, taps, threads);
  auto prepared = optimized::find_backend(backend).prepare(model, threads);
  return core::convert<double>(prepared->forward(images, taps));
}

namespace {
bool all_finite(const core::TensorD& t) {
  return std::all_of(t.data(), t.data() + t.size(), [](double v) { return std::isfinite(v); });
}
}  // namespace

void require_finite_logits(const std::string& backend, const core::Model& model,
                           const core::Tensor& images, size_t threads,
                           const core::TensorD& logits) {
  if (all_finite(logits)) return;
  core::Taps taps = core::Taps::standard();
  (void)run_backend(backend, model, images, &taps, threads);
  std::string first = "logits";
  for (const std::string& name : core::standard_tap_names(model.config.num_layers)) {
    if (taps.has(name) && !all_finite(taps.get(name))) {
      first = name;
      break;
    }
  }
  core::fail(backend, "NaN or Inf in the logits (first appears at tap " + first +
                          "); nothing printed or written");
}

}  // namespace vitbench::cli
