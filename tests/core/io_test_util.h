// What the readers' tests (npy, safetensors, model folders) share: a scratch folder per test,
// raw file writing, the one-line error contract (tests/error_contract.h), and a numpy script
// runner that skips when numpy is missing.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/error_contract.h"
#include "tests/file_bytes.h"
#include "tests/temp_dir.h"

namespace vitbench::core::io_test {

namespace fs = std::filesystem;

using vitbench::testing::error_of;
using vitbench::testing::expect_message;
using vitbench::testing::TempDir;
using vitbench::testing::write_bytes;

// Runs `/usr/bin/python3 script arg`; its exit status, or 77 (skip) without python3. Scripts
// start with kPythonPrelude, which exits 77 without numpy.
inline int run_python(const std::string& script, const std::string& arg) {
  if (::access("/usr/bin/python3", X_OK) != 0) return 77;
  const std::string command = "/usr/bin/python3 " + script + " " + arg;
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline constexpr const char* kPythonPrelude = R"(import sys
try:
    import numpy as np
except ImportError:
    sys.exit(77)
)";

}  // namespace vitbench::core::io_test
