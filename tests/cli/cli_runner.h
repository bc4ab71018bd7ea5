// Runs the real `vitbench` binary the way a user would and captures what it says.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "core/config.h"
#include "tests/run_command.h"

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

// A small model for the commands' tests: 12 wide, 2 layers of 3 heads, 8 px images in 4 px
// patches, 5 labelled classes.
inline core::Config small_config() {
  core::Config c;
  c.name = "small";
  c.hidden_size = 12;
  c.num_layers = 2;
  c.num_heads = 3;
  c.intermediate_size = 20;
  c.image_size = 8;
  c.patch_size = 4;
  c.num_labels = 5;
  c.labels = {"ant", "bee", "cat", "dog", "eel"};
  c.layer_norm_eps = 1e-6;
  c.validate("test");
  return c;
}

}  // namespace vitbench::testing
