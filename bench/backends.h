// What bench times: the optimized backends from the registry and the reference, behind one
// interface, plus the models they run on. Tests add backends of their own (a deliberately wrong
// one proves that a failing backend is never timed).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/weights.h"
#include "optimized/backend.h"
#include "optimized/kernel_set.h"

namespace vitbench::bench {

struct BenchBackend {
  std::string name;
  bool is_reference = false;
  // Packs `model` for `threads`; the result may refer to `model`, which outlives it.
  std::function<std::unique_ptr<optimized::PreparedModel>(const core::Model& model, size_t threads)>
      prepare;
  // The kernels its op benchmarks time; null for backends without op-level entry points (the
  // reference, test doubles).
  const optimized::KernelSet* kernels = nullptr;
};

// "reference" last, after the optimized registry's names (sorted).
std::vector<std::string> all_backend_names();
std::vector<std::string> optimized_backend_names();
// Throws core::Error naming the unknown backend and listing the known ones.
BenchBackend find_bench_backend(const std::string& name);

struct ModelUnderTest {
  std::string id;  // "vit-b16@224": the <model> field of benchmark names, never containing '/'
  std::string source;  // what --models said
  core::Model model;
};

// A preset name or a model folder, through core::load_model; `seed` draws a preset's weights.
ModelUnderTest load_model_under_test(const std::string& name, uint64_t seed);
// "vit-b16" -> "vit-b16@224"; a folder -> its last component, '@' and the image size; any '/'
// or whitespace left becomes '_' so tools can split names on '/'.
std::string model_id(const std::string& source, const core::Config& config);

}  // namespace vitbench::bench
