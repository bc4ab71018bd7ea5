// What the readers' tests (npy, safetensors, model folders) share: a scratch folder per test,
// raw file writing, the message of the core::Error a call throws, the one-line error contract,
// and a numpy script runner that skips when numpy is missing.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "tests/temp_dir.h"

namespace vitbench::core::io_test {

namespace fs = std::filesystem;

using vitbench::testing::TempDir;

inline void write_bytes(const std::string& path, const std::string& bytes) {
  // A fresh file: truncating one with unwritten data makes ext4 flush it first (auto_da_alloc),
  // which costs milliseconds per rewrite.
  fs::remove(path);
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

// The message of the core::Error that fn() throws; a test failure if it throws none.
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a core::Error";
  return "";
}

// Every refusal must be one line that names the file and says what is wrong.
inline void expect_message(const std::string& message, const std::vector<std::string>& parts) {
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  for (const std::string& part : parts) {
    EXPECT_NE(message.find(part), std::string::npos) << "\"" << part << "\" not in: " << message;
  }
}

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
