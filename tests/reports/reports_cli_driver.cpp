// A `vitbench` holding only compare, export and dashboard, dispatched exactly as cli/main.cpp
// does, so their command lines and exit codes are tested without building every backend.
#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "core/error.h"

namespace vitbench::cli {
Command add_compare_command(CLI::App& app);
Command add_export_command(CLI::App& app);
Command add_dashboard_command(CLI::App& app);
}  // namespace vitbench::cli

int main(int argc, char** argv) {
  using namespace vitbench::cli;
  CLI::App app{"vitbench (reports commands only, for tests)"};
  app.require_subcommand(1);
  const Command commands[] = {add_compare_command(app), add_export_command(app),
                              add_dashboard_command(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string message = e.what();
    for (char& c : message) {
      if (c == '\n') c = ' ';
    }
    std::fprintf(stderr, "vitbench: error: %s (see vitbench --help)\n", message.c_str());
    return 2;
  }
  try {
    for (const Command& command : commands) {
      if (command.app->parsed()) return command.run();
    }
    return 2;
  } catch (const vitbench::core::Error& e) {
    std::fprintf(stderr, "vitbench: error: %s\n", e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "vitbench: error: out of memory\n");
    return 2;
  }
}
