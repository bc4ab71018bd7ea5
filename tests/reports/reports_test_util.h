// Shared by the reports tests: fixtures, temporary folders, and running commands.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "reports/report.h"
#include "tests/run_command.h"

namespace vitbench::reports::testing {

using vitbench::testing::CommandResult;
using vitbench::testing::quote;
using vitbench::testing::read_bytes;
using vitbench::testing::run_command;
using vitbench::testing::TempDir;
using vitbench::testing::write_bytes;

inline std::string fixture(const std::string& name) {
  return std::string(VITBENCH_SOURCE_DIR) + "/tests/reports/data/" + name;
}

inline nlohmann::json fixture_json(const std::string& name) {
  return parse_report_text(read_bytes(fixture(name)), fixture(name));
}

}  // namespace vitbench::reports::testing
