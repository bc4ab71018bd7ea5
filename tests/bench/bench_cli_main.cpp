// `vitbench bench` alone, built from cli/bench_command.cpp, so the tests can run the command as
// a process (and kill it) whatever else the vitbench binary wires up.
#include <cstdio>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "core/error.h"

namespace vitbench::cli {
// Declared in cli/commands.h once the command is wired into vitbench; repeated here so this
// driver builds either way.
Command add_bench_command(CLI::App& app);
}  // namespace vitbench::cli

int main(int argc, char** argv) {
  CLI::App app{"vitbench bench, for tests"};
  app.require_subcommand(1);
  const vitbench::cli::Command bench = vitbench::cli::add_bench_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return bench.run();
  } catch (const vitbench::core::Error& e) {
    std::fprintf(stderr, "vitbench: error: %s\n", e.what());
    return 2;
  }
}
