#include "cli/backends.h"

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

}  // namespace vitbench::cli
