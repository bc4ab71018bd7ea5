// The backends: one kernel set each, all run by the shared forward pass. Adding a backend is one
// line in kernel_sets(); a combination of existing kernels is one compose() call, e.g.
//   sets.push_back(compose("blis+flash", blis::kernels(), flash::kernels()));
#include <algorithm>
#include <string>
#include <vector>

#include "core/error.h"
#include "optimized/backend.h"
#include "optimized/blis/kernels.h"
#include "optimized/flash/kernels.h"
#include "optimized/forward.h"
#include "optimized/kernel_set.h"

namespace vitbench::optimized {
namespace {

std::vector<KernelSet> kernel_sets() {
  std::vector<KernelSet> sets;
  sets.push_back(hwy_kernels());
  sets.push_back(blis::kernels());
  sets.push_back(flash::kernels());
  sets.push_back(compose("blis+flash", blis::kernels(), flash::kernels()));
  std::sort(sets.begin(), sets.end(),
            [](const KernelSet& a, const KernelSet& b) { return a.name < b.name; });
  return sets;
}

class KernelSetBackend final : public Backend {
 public:
  explicit KernelSetBackend(KernelSet kernels) : kernels_(std::move(kernels)) {}
  std::string name() const override { return kernels_.name; }
  std::string description() const override { return kernels_.description; }
  std::unique_ptr<PreparedModel> prepare(const core::Model& model, size_t threads) const override {
    return prepare_model(model, kernels_, threads);
  }
  const KernelSet& kernels() const { return kernels_; }

 private:
  KernelSet kernels_;
};

// Built on first use (not at static-initialisation time, when Highway's and BLIS's own
// initialisation order is not ours to rely on), then read-only.
const std::vector<KernelSetBackend>& backends() {
  static const std::vector<KernelSetBackend> all = [] {
    std::vector<KernelSetBackend> list;
    for (KernelSet& set : kernel_sets()) list.emplace_back(std::move(set));
    return list;
  }();
  return all;
}

const KernelSetBackend& find(const std::string& name) {
  for (const KernelSetBackend& b : backends()) {
    if (b.name() == name) return b;
  }
  std::string known;
  for (const KernelSetBackend& b : backends()) known += (known.empty() ? "" : ", ") + b.name();
  core::fail("", "unknown backend \"" + name + "\" (known: " + known + ")");
}

}  // namespace

std::vector<std::string> backend_names() {
  std::vector<std::string> names;
  for (const KernelSetBackend& b : backends()) names.push_back(b.name());
  return names;
}

const Backend& find_backend(const std::string& name) { return find(name); }

const KernelSet& kernel_set(const std::string& name) { return find(name).kernels(); }

}  // namespace vitbench::optimized
