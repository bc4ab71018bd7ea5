// Golden cases on disk: finding them, and reading one whole after checking everything its
// manifest vouches for. Any problem with a golden (a missing or truncated file, a hash that
// does not match, a shape or tolerance that disagrees) is a CorruptedGolden, never mistaken for
// a backend that computed the wrong thing.
//
// Layout (written by golden/generate.py, see golden/README.md):
//   DIR/index.json              {"cases": {name: sha256 of its manifest.json}}   (optional)
//   DIR/<case>/manifest.json    config, seeds, taps, sha256 of every file, tolerances, provenance
//   DIR/<case>/config.json      the model's config (core::parse_config reads it)
//   DIR/<case>/input.npy        float32 [N, C, H, W]
//   DIR/<case>/<tap>.npy        expected taps and logits, float64 (or float32 for big taps)
// The model itself is rebuilt from the config and the weight seed (core::generate_weights).
//
// A model-folder case (golden/generate_folders.py, in golden/folders/) is instead a model folder
// as timm or transformers wrote it: config.json is the library's own and model.safetensors holds
// the weights, both hashed. Its manifest's "config" is what the library built, in
// core::config_to_json's words, and the case's model is whatever core::load_model_folder reads
// from the folder: verify checks that the two agree before it runs a backend.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "core/error.h"
#include "core/npy.h"
#include "core/tensor.h"
#include "core/weights.h"

namespace vitbench::golden {

inline constexpr int kGoldenFormatVersion = 1;

class CorruptedGolden : public core::Error {
 public:
  using core::Error::Error;
};

struct ExpectedTap {
  std::string name;
  std::string file;
  core::NpyDtype dtype = core::NpyDtype::Float64;  // as stored
  core::TensorD values;
};

struct Case {
  std::string name;  // the case's folder name
  std::string dir;
  std::string description;
  core::Config config;          // what the golden model is (for a model folder: what it should read as)
  uint64_t weight_seed = 0;     // core::generate_weights' seed, unless model_folder is set
  std::string model_folder;     // a model-folder case: the folder load_model_folder reads
  std::string library;          // ... and the library that wrote it ("timm", "transformers")
  uint64_t input_seed = 0;
  core::Tensor input;               // [N, C, H, W]
  std::vector<ExpectedTap> taps;    // forward order; the last is "logits"
  nlohmann::json provenance;        // torch/torchvision versions, generator version, ...

  size_t batch() const { return input.dim(0); }
  const ExpectedTap* find_tap(const std::string& name) const;
};

// Where a case lives, as found by list_cases.
struct CaseRef {
  std::string name;
  std::string dir;
  std::optional<std::string> manifest_sha256;  // from index.json, when there is one
};

// The repository's golden/ folder (VITBENCH_SOURCE_DIR/golden at build time).
std::string default_golden_dir();

// DIR may be a single case (holding manifest.json), a folder of cases, or a folder with a
// cases/ sub-folder (the repository's golden/). Every sub-folder is a case, with or without a
// manifest (a case whose manifest went missing must not vanish silently); so is every case
// named in index.json, present or not. Sorted by name.
// Throws core::Error when DIR does not exist or holds no case; CorruptedGolden when its
// index.json is unreadable.
std::vector<CaseRef> list_cases(const std::string& golden_dir);

// The cases named, in the order given; all of them when `names` is empty. Throws core::Error
// for an unknown name, listing the known ones.
std::vector<CaseRef> select_cases(const std::vector<CaseRef>& all,
                                  const std::vector<std::string>& names);

// The case's model: rebuilt from its seed, or read from its model folder. Throws core::Error when
// the folder cannot be read or reads as another model than the case's config (a fault of the
// loader, not of the golden).
core::Model load_case_model(const Case& c);

// Reads and checks one case whole. Throws CorruptedGolden naming the file and the problem.
Case load_case(const CaseRef& ref);
Case load_case(const std::string& dir);

}  // namespace vitbench::golden
