// Shared by the golden tests: scratch folders, byte-level file surgery for tampering, and
// finding the Python the generator needs.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor.h"
#include "golden/sha256.h"
#include "tests/file_bytes.h"
#include "tests/temp_dir.h"

namespace vitbench::golden::testing {

namespace fs = std::filesystem;

inline std::string source_dir() { return VITBENCH_SOURCE_DIR; }
inline std::string cases_dir() { return source_dir() + "/golden/cases"; }

using vitbench::testing::read_bytes;
using vitbench::testing::TempDir;
using vitbench::testing::write_bytes;

inline nlohmann::json read_json(const std::string& path) {
  return nlohmann::json::parse(read_bytes(path));
}

inline void write_json(const std::string& path, const nlohmann::json& json) {
  write_bytes(path, json.dump(1) + "\n");
}

// Copies checked-in case `name` (from golden/cases, or the folder `from`) into `dir`/`name` and
// returns the copy's folder.
inline std::string copy_case(const std::string& name, const std::string& dir,
                             const std::string& from = cases_dir()) {
  const fs::path to = fs::path(dir) / name;
  fs::copy(fs::path(from) / name, to, fs::copy_options::recursive);
  return to.string();
}

// Makes the manifest vouch for `file` as it now is: a tamperer who also fixes the hash.
inline void rehash(const std::string& case_dir, const std::string& file) {
  const std::string manifest = case_dir + "/manifest.json";
  nlohmann::json m = read_json(manifest);
  m["files"][file] = sha256_file_hex(case_dir + "/" + file);
  write_json(manifest, m);
}

// Every image's top-1 logit beats its runner-up by >= 2% of max|logits| over the batch: more than
// twice the largest float32 logits tolerance, so a backend within tolerance cannot flip a class
// and top-1 agreement is a fair check (both generators choose their inputs for it).
inline void expect_clear_top1(const core::TensorD& logits, size_t batch, size_t labels,
                              const std::string& name) {
  double max_abs = 0;
  for (double v : logits.span()) max_abs = std::max(max_abs, std::fabs(v));
  for (size_t n = 0; n < batch; ++n) {
    std::vector<double> row(logits.data() + n * labels, logits.data() + (n + 1) * labels);
    std::sort(row.rbegin(), row.rend());
    EXPECT_GE(row[0] - row[1], 0.02 * max_abs) << name << " image " << n;
  }
}

// True when `/usr/bin/python3 -c CODE` succeeds (quietly).
inline bool python_can(const std::string& code) {
  if (!fs::exists("/usr/bin/python3")) return false;
  const std::string cmd = "/usr/bin/python3 -c '" + code + "' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

}  // namespace vitbench::golden::testing
