#include "bench/backends.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "core/model_loader.h"
#include "reference/vit.h"

namespace vitbench::bench {
namespace {

// The reference behind the PreparedModel interface, so timing code never special-cases it.
class ReferenceModel final : public optimized::PreparedModel {
 public:
  ReferenceModel(const core::Model& model, size_t threads) : model_(model), threads_(threads) {}
  core::Tensor forward(const core::Tensor& images, core::Taps* taps) override {
    return core::convert<float>(reference::forward(model_, images, taps, threads_));
  }

 private:
  const core::Model& model_;
  size_t threads_;
};

}  // namespace

std::vector<std::string> optimized_backend_names() { return optimized::backend_names(); }

std::vector<std::string> all_backend_names() {
  std::vector<std::string> names = optimized_backend_names();
  names.push_back("reference");
  return names;
}

BenchBackend find_bench_backend(const std::string& name) {
  BenchBackend b;
  b.name = name;
  if (name == "reference") {
    b.is_reference = true;
    b.prepare = [](const core::Model& model, size_t threads) {
      return std::make_unique<ReferenceModel>(model, threads);
    };
    return b;
  }
  const auto names = optimized_backend_names();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    std::string known;
    for (const std::string& n : all_backend_names()) known += (known.empty() ? "" : ", ") + n;
    core::fail("--backends", "unknown backend \"" + name + "\" (known: " + known + ")");
  }
  const optimized::Backend& backend = optimized::find_backend(name);
  b.prepare = [&backend](const core::Model& model, size_t threads) {
    return backend.prepare(model, threads);
  };
  b.kernels = &optimized::kernel_set(name);
  return b;
}

std::string model_id(const std::string& source, const core::Config& config) {
  std::string base = source;
  if (!core::is_preset_name(source)) {
    std::filesystem::path p(source);
    if (p.filename().empty()) p = p.parent_path();  // "dir/" names the folder "dir"
    base = p.filename().string();
    if (base.empty()) base = "model";
  }
  const auto at = base.find('@');
  if (at != std::string::npos) base = base.substr(0, at);
  std::string id = base + "@" + std::to_string(config.image_size);
  for (char& c : id) {
    if (c == '/' || c == ' ' || c == '\t' || c == '\n') c = '_';
  }
  return id;
}

ModelUnderTest load_model_under_test(const std::string& name, uint64_t seed) {
  ModelUnderTest m;
  m.source = name;
  m.model = core::load_model(name, seed);
  m.id = model_id(name, m.model.config);
  return m;
}

}  // namespace vitbench::bench
