// vitbench: keeps a Vision Transformer honest and fast on CPUs. This file only dispatches to
// subcommands; every failure the suite can foresee ends here as one line and exit code 2.
#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "core/error.h"

int main(int argc, char** argv) {
  using namespace vitbench::cli;
  CLI::App app{"vitbench: a Vision Transformer kept honest and fast on CPUs"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Print help for every subcommand");
  const Command commands[] = {
      add_infer_command(app),
      add_backends_command(app),
      add_verify_command(app),
      add_bench_command(app),
      add_compare_command(app),
      add_export_command(app),
      add_dashboard_command(app),
      add_attention_command(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
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
  } catch (const std::exception& e) {
    // What the suite did not foresee (a library's or the system's own exception) still ends
    // as one line and a non-zero exit, never as std::terminate's abort.
    std::fprintf(stderr, "vitbench: error: %s\n", vitbench::core::one_line(e.what()).c_str());
    return 2;
  }
}
