#include "golden/manifest.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "core/json_file.h"
#include "core/model_loader.h"
#include "core/taps.h"
#include "golden/sha256.h"
#include "golden/tolerance.h"

#ifndef VITBENCH_SOURCE_DIR
#error "VITBENCH_SOURCE_DIR must be defined by the build"
#endif

namespace vitbench::golden {
namespace fs = std::filesystem;
namespace {

constexpr const char* kManifest = "manifest.json";
constexpr const char* kIndex = "index.json";

[[noreturn]] void corrupt(const std::string& where, const std::string& what) {
  throw CorruptedGolden(where + ": corrupted golden: " + what);
}

// Typed access to the manifest: a field of the wrong type or a missing one is corruption, named.
class Fields {
 public:
  Fields(const nlohmann::json& json, std::string where) : json_(json), where_(std::move(where)) {
    if (!json_.is_object()) corrupt(where_, "expected a JSON object");
  }
  const nlohmann::json* find(const char* key) const {
    auto it = json_.find(key);
    return it == json_.end() ? nullptr : &*it;
  }
  const nlohmann::json& get(const char* key) const {
    auto it = json_.find(key);
    if (it == json_.end()) corrupt(where_, std::string("missing field \"") + key + "\"");
    return *it;
  }
  std::string string(const char* key) const {
    const auto& v = get(key);
    if (!v.is_string()) corrupt(where_, std::string("field \"") + key + "\" must be a string");
    return v.get<std::string>();
  }
  uint64_t uint(const char* key) const {
    const auto& v = get(key);
    if (!v.is_number_unsigned()) {
      corrupt(where_, std::string("field \"") + key + "\" must be a non-negative integer");
    }
    return v.get<uint64_t>();
  }
  const nlohmann::json& object(const char* key) const {
    const auto& v = get(key);
    if (!v.is_object()) corrupt(where_, std::string("field \"") + key + "\" must be an object");
    return v;
  }
  const nlohmann::json& array(const char* key) const {
    const auto& v = get(key);
    if (!v.is_array()) corrupt(where_, std::string("field \"") + key + "\" must be an array");
    return v;
  }
  core::Shape shape(const char* key) const {
    core::Shape shape;
    for (const auto& d : array(key)) {
      if (!d.is_number_unsigned()) corrupt(where_, std::string("bad \"") + key + "\"");
      shape.push_back(d.get<size_t>());
    }
    return shape;
  }

 private:
  const nlohmann::json& json_;
  std::string where_;
};

bool is_sha256_hex(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// A plain file name inside the case folder: nothing that could reach outside it.
bool is_plain_name(const std::string& s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos &&
         s.find('\\') == std::string::npos && s.find('\0') == std::string::npos;
}

core::NpyDtype parse_dtype(const std::string& s, const std::string& where) {
  if (s == "float64") return core::NpyDtype::Float64;
  if (s == "float32") return core::NpyDtype::Float32;
  corrupt(where, "unknown dtype \"" + s + "\"");
}

const char* dtype_name(core::NpyDtype d) {
  return d == core::NpyDtype::Float64 ? "float64" : "float32";
}

// The shape every implementation records for `tap`.
core::Shape tap_shape(const core::Config& c, size_t batch, const std::string& tap) {
  if (tap == core::tap::logits()) return {batch, c.num_labels};
  return {batch, c.num_tokens(), c.hidden_size};
}

void check_finite(const core::TensorD& t, const std::string& where) {
  for (size_t i = 0; i < t.size(); ++i) {
    if (!std::isfinite(t[i])) corrupt(where, "non-finite value at element " + std::to_string(i));
  }
}

// Loads an .npy whose bytes the manifest vouched for, checking dtype and shape against it.
core::NpyArray read_checked_npy(const std::string& path, core::NpyDtype dtype,
                                const core::Shape& shape) {
  core::NpyArray array;
  try {
    array = core::read_npy(path);
  } catch (const core::Error& e) {
    corrupt(path, e.what());
  }
  if (array.dtype != dtype) {
    corrupt(path, std::string("holds ") + dtype_name(array.dtype) + ", the manifest says " +
                      dtype_name(dtype));
  }
  if (array.values.shape() != shape) {
    corrupt(path, "shape " + core::shape_to_string(array.values.shape()) + ", expected " +
                      core::shape_to_string(shape));
  }
  check_finite(array.values, path);
  return array;
}

// Relative agreement of two tolerances written by Python and recomputed here; both evaluate the
// same IEEE operations, so only a tampered or stale figure differs.
bool same_figure(double a, double b) { return std::fabs(a - b) <= 1e-12 * std::fabs(b); }

void check_tolerances(const Fields& m, const Case& c, const std::string& where) {
  const Fields tol(m.object("tolerances"), where + " \"tolerances\"");
  const uint64_t version = tol.uint("policy_version");
  if (version != static_cast<uint64_t>(kTolerancePolicyVersion)) {
    corrupt(where, "tolerance policy version " + std::to_string(version) + ", this build has " +
                       std::to_string(kTolerancePolicyVersion) + " (regenerate the goldens)");
  }
  const Fields classes(tol.object("classes"), where + " \"tolerances.classes\"");
  for (const std::string& cls : tolerance_classes()) {
    const Fields per_tap(classes.object(cls.c_str()), where + " tolerances." + cls);
    for (const ExpectedTap& t : c.taps) {
      const Fields figures(per_tap.object(t.name.c_str()), where + " tolerances." + cls + "." +
                                                               t.name);
      const Tolerance want = tolerance_for(c.config, t.name, cls, t.dtype);
      for (const auto& [key, value] : {std::pair{"max_rel", want.max_rel},
                                       std::pair{"nmse", want.nmse}}) {
        const auto& got = figures.get(key);
        if (!got.is_number() || !same_figure(got.get<double>(), value)) {
          corrupt(where, "tolerance " + cls + "." + t.name + "." + key + " is " + got.dump() +
                             ", the policy says " + nlohmann::json(value).dump());
        }
      }
    }
  }
}

Case load_case_checked(const CaseRef& ref) {
  const fs::path dir(ref.dir);
  const std::string manifest_path = (dir / kManifest).string();
  std::error_code ec;
  if (!fs::is_directory(dir, ec) || fs::is_empty(dir, ec)) {
    corrupt(ref.dir, "case folder is missing or empty");
  }
  if (!fs::is_regular_file(manifest_path)) corrupt(manifest_path, "missing");
  if (ref.manifest_sha256) {
    const std::string got = sha256_file_hex(manifest_path);
    if (got != *ref.manifest_sha256) {
      corrupt(manifest_path, "sha256 " + got + " differs from " + kIndex + "'s " +
                                 *ref.manifest_sha256);
    }
  }
  const nlohmann::json json = core::read_json_file(manifest_path, size_t(16) << 20);
  const Fields m(json, manifest_path);
  if (m.string("format") != "vitbench-golden") corrupt(manifest_path, "not a vitbench golden");
  if (m.uint("format_version") != static_cast<uint64_t>(kGoldenFormatVersion)) {
    corrupt(manifest_path, "format version " + m.get("format_version").dump() +
                               ", this build reads " + std::to_string(kGoldenFormatVersion));
  }

  // Every file the manifest names must be present with exactly the bytes it was written with.
  std::map<std::string, std::string> files;
  for (const auto& [name, hash] : m.object("files").items()) {
    if (!is_plain_name(name) || name == kManifest) corrupt(manifest_path, "bad file name " + name);
    if (!hash.is_string() || !is_sha256_hex(hash.get<std::string>())) {
      corrupt(manifest_path, "bad sha256 for " + name);
    }
    const fs::path path = dir / name;
    if (!fs::is_regular_file(path)) corrupt(path.string(), "missing");
    const std::string got = sha256_file_hex(path.string());
    if (got != hash.get<std::string>()) {
      corrupt(path.string(), "sha256 " + got + " differs from the manifest's " +
                                 hash.get<std::string>());
    }
    files[name] = path.string();
  }
  auto listed = [&](const std::string& name) -> const std::string& {
    auto it = files.find(name);
    if (it == files.end()) corrupt(manifest_path, name + " is not among the hashed files");
    return it->second;
  };

  Case c;
  c.name = ref.name;
  c.dir = ref.dir;
  c.description = m.get("description").is_string() ? m.string("description") : "";

  const std::string config_path = listed(m.string("config_file"));
  const Fields weights(m.object("weights"), manifest_path + " \"weights\"");
  if (auto folder = weights.find("model_folder")) {
    // config.json is the library's; "config" is what the library built, in our words.
    if (*folder != nlohmann::json{"config.json", "model.safetensors"} ||
        m.string("config_file") != "config.json") {
      corrupt(manifest_path, "a model folder is config.json and model.safetensors");
    }
    listed("model.safetensors");  // hashed, like every file the case relies on
    c.config = core::parse_config(m.object("config"), manifest_path + " \"config\"");
    c.model_folder = ref.dir;
    c.library = weights.string("library");
  } else {
    const nlohmann::json config_json = core::read_json_file(config_path);
    if (config_json != m.object("config")) {
      corrupt(manifest_path, "\"config\" differs from " + config_path);
    }
    c.config = core::parse_config(config_json, config_path);
    if (weights.string("generator") != "core::generate_weights") {
      corrupt(manifest_path, "weights must come from core::generate_weights or a model folder");
    }
  }
  c.weight_seed = weights.uint("seed");

  const Fields input(m.object("input"), manifest_path + " \"input\"");
  const core::Shape input_shape = input.shape("shape");
  if (input_shape.size() != 4 || input_shape[0] == 0 || input_shape[0] > 4096 ||
      input_shape[1] != c.config.num_channels || input_shape[2] != c.config.image_size ||
      input_shape[3] != c.config.image_size) {
    corrupt(manifest_path, "input shape " + core::shape_to_string(input_shape) +
                               " does not fit the config");
  }
  // The golden model saw exactly these float32 pixels; a wider input would be rounded here and
  // no longer be the input the expected values came from.
  if (parse_dtype(input.string("dtype"), manifest_path) != core::NpyDtype::Float32) {
    corrupt(manifest_path, "the input must be float32");
  }
  const std::string input_path = listed(input.string("file"));
  c.input = core::convert<float>(
      read_checked_npy(input_path, core::NpyDtype::Float32, input_shape).values);
  c.input_seed = input.uint("seed");

  // Taps: standard names for this depth, each once, in forward order, ending with the logits.
  const std::vector<std::string> standard = core::standard_tap_names(c.config.num_layers);
  size_t next = 0;  // position in `standard` the next tap may start from
  for (const auto& entry : m.array("taps")) {
    const Fields t(entry, manifest_path + " \"taps\"");
    ExpectedTap tap;
    tap.name = t.string("name");
    auto pos = std::find(standard.begin() + static_cast<std::ptrdiff_t>(next), standard.end(),
                         tap.name);
    if (pos == standard.end()) {
      corrupt(manifest_path, "tap \"" + tap.name +
                                 "\" is not a standard tap of this model, or is out of order");
    }
    next = static_cast<size_t>(pos - standard.begin()) + 1;
    tap.dtype = parse_dtype(t.string("dtype"), manifest_path);
    const core::Shape shape = tap_shape(c.config, c.batch(), tap.name);
    if (t.shape("shape") != shape) {
      corrupt(manifest_path, "tap \"" + tap.name + "\" shape " +
                                 core::shape_to_string(t.shape("shape")) + ", expected " +
                                 core::shape_to_string(shape));
    }
    tap.file = listed(t.string("file"));
    tap.values = read_checked_npy(tap.file, tap.dtype, shape).values;
    c.taps.push_back(std::move(tap));
  }
  if (c.taps.empty() || c.taps.back().name != core::tap::logits()) {
    corrupt(manifest_path, "the taps must include the logits");
  }

  check_tolerances(m, c, manifest_path);
  c.provenance = m.object("provenance");
  return c;
}

}  // namespace

core::Model load_case_model(const Case& c) {
  if (c.model_folder.empty()) return {c.config, core::generate_weights(c.config, c.weight_seed)};
  core::Model model = core::load_model_folder(c.model_folder);
  const nlohmann::json read = core::config_to_json(model.config);
  const nlohmann::json built = core::config_to_json(c.config);
  if (read != built) {
    std::string diff;
    for (const auto& [key, value] : built.items()) {
      if (!read.contains(key) || read[key] != value) {
        diff += (diff.empty() ? "" : ", ") + key + " " + (read.contains(key) ? read[key].dump() : "missing") +
                " (" + c.library + ": " + value.dump() + ")";
      }
    }
    core::fail(c.model_folder, "reads as another model than " + c.library + " built: " + diff);
  }
  return model;
}

const ExpectedTap* Case::find_tap(const std::string& name) const {
  for (const ExpectedTap& t : taps) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::string default_golden_dir() { return std::string(VITBENCH_SOURCE_DIR) + "/golden"; }

std::vector<CaseRef> list_cases(const std::string& golden_dir) {
  std::error_code ec;
  if (!fs::is_directory(golden_dir, ec)) {
    core::fail(golden_dir, fs::exists(golden_dir, ec)
                               ? "is not a folder (give the golden folder, or one case's)"
                               : "golden folder does not exist");
  }
  if (fs::is_regular_file(fs::path(golden_dir) / kManifest)) {
    const fs::path p = fs::path(golden_dir).lexically_normal();
    std::string name = (p.has_filename() ? p : p.parent_path()).filename().string();
    return {{name, golden_dir, std::nullopt}};
  }
  // The repository's golden/ holds two folders of cases: cases/ (generate.py's) and folders/
  // (generate_folders.py's model folders). Any other folder is itself a folder of cases.
  std::vector<fs::path> roots;
  for (const char* sub : {"cases", "folders"}) {
    if (fs::is_directory(fs::path(golden_dir) / sub)) roots.push_back(fs::path(golden_dir) / sub);
  }
  if (roots.empty()) roots.push_back(golden_dir);

  std::map<std::string, CaseRef> cases;
  for (const fs::path& root : roots) {
    std::map<std::string, CaseRef> here;
    for (const auto& entry : fs::directory_iterator(root)) {
      const std::string name = entry.path().filename().string();
      if (!entry.is_directory() || name.empty() || name[0] == '.') continue;
      // An empty folder is no case (git cannot even hold one: it is what a checkout or a copy
      // leaves behind a deleted case), unless the index names it, below.
      std::error_code empty_ec;
      if (fs::is_empty(entry.path(), empty_ec) && !empty_ec) continue;
      here[name] = {name, entry.path().string(), std::nullopt};
    }
    // The index names every case generated into this folder with its manifest's hash, so a case
    // deleted whole, or a manifest edited, is noticed.
    const fs::path index = root / kIndex;
    if (fs::exists(index)) {
      nlohmann::json json;
      try {
        json = core::read_json_file(index.string());
      } catch (const core::Error& e) {
        throw CorruptedGolden(std::string(e.what()) + " (corrupted golden index)");
      }
      const Fields f(json, index.string());
      for (const auto& [name, hash] : f.object("cases").items()) {
        if (!is_plain_name(name) || !hash.is_string() || !is_sha256_hex(hash.get<std::string>())) {
          corrupt(index.string(), "bad entry for case \"" + name + "\"");
        }
        CaseRef& ref = here[name];
        ref.name = name;
        ref.dir = (root / name).string();
        ref.manifest_sha256 = hash.get<std::string>();
      }
    }
    for (auto& [name, ref] : here) {
      if (!cases.emplace(name, std::move(ref)).second) {
        corrupt(root.string(), "case \"" + name + "\" is also in " + roots.front().string());
      }
    }
  }
  if (cases.empty()) core::fail(golden_dir, "holds no golden case");
  std::vector<CaseRef> out;
  for (auto& [name, ref] : cases) out.push_back(std::move(ref));
  return out;
}

std::vector<CaseRef> select_cases(const std::vector<CaseRef>& all,
                                  const std::vector<std::string>& names) {
  if (names.empty()) return all;
  std::vector<CaseRef> out;
  std::set<std::string> seen;
  for (const std::string& name : names) {
    auto it = std::find_if(all.begin(), all.end(), [&](const CaseRef& r) { return r.name == name; });
    if (it == all.end()) {
      std::string known;
      for (const CaseRef& r : all) known += (known.empty() ? "" : ", ") + r.name;
      core::fail("--case", "unknown case \"" + name + "\" (known: " + known + ")");
    }
    if (seen.insert(name).second) out.push_back(*it);
  }
  return out;
}

Case load_case(const CaseRef& ref) {
  try {
    return load_case_checked(ref);
  } catch (const CorruptedGolden&) {
    throw;
  } catch (const core::Error& e) {
    // Anything core refuses inside a golden (malformed JSON, a bad config, a bad .npy header) is
    // the golden's fault.
    throw CorruptedGolden(ref.dir + ": corrupted golden: " + e.what());
  } catch (const nlohmann::json::exception& e) {
    throw CorruptedGolden(ref.dir + ": corrupted golden: " + e.what());
  } catch (const fs::filesystem_error& e) {
    throw CorruptedGolden(ref.dir + ": corrupted golden: " + e.what());
  } catch (const std::bad_alloc&) {
    throw CorruptedGolden(ref.dir + ": corrupted golden: absurd sizes");
  }
}

Case load_case(const std::string& dir) {
  const fs::path p = fs::path(dir).lexically_normal();
  return load_case(CaseRef{(p.has_filename() ? p : p.parent_path()).filename().string(), dir,
                           std::nullopt});
}

}  // namespace vitbench::golden
