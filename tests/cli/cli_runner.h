// Runs the real `vitbench` binary the way a user would and captures what it says.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "tests/run_command.h"
#include "tests/small_config.h"

namespace vitbench::testing {

// The non-empty lines of a command's output (what a one-line-error check counts).
inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

inline CommandResult run_cli(const std::vector<std::string>& args, const TempDir& dir) {
  return run_command(VITBENCH_CLI, args, dir);
}

}  // namespace vitbench::testing
