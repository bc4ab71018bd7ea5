#include "cli/backends.h"

#include "core/error.h"
#include "reference/vit.h"

namespace vitbench::cli {

std::vector<std::string> all_backend_names() { return {"reference"}; }

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
  return reference::forward(model, images, taps, threads);
}

}  // namespace vitbench::cli
