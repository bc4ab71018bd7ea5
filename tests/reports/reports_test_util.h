// Shared by the reports tests: fixtures, temporary folders, and running commands.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "reports/report.h"
#include "tests/temp_dir.h"

namespace vitbench::reports::testing {

inline std::string fixture(const std::string& name) {
  return std::string(VITBENCH_SOURCE_DIR) + "/tests/reports/data/" + name;
}

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

inline nlohmann::json fixture_json(const std::string& name) {
  return parse_report_text(slurp(fixture(name)), fixture(name));
}

using vitbench::testing::TempDir;

inline std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

struct CommandResult {
  int exit_code = -1;
  std::string out, err;
};

// Runs `program args...` with stdout and stderr captured through files in `dir`.
inline CommandResult run_command(const std::string& program, const std::vector<std::string>& args,
                                 const TempDir& dir) {
  std::string command = quote(program);
  for (const auto& a : args) command += " " + quote(a);
  const std::string out = dir / "cmd.stdout", err = dir / "cmd.stderr";
  command += " >" + quote(out) + " 2>" + quote(err) + " </dev/null";
  const int status = std::system(command.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out);
  r.err = slurp(err);
  std::filesystem::remove(out);
  std::filesystem::remove(err);
  return r;
}

}  // namespace vitbench::reports::testing
