// Each subcommand registers itself on the app and returns the action to run when chosen.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace vitbench::cli {

struct Command {
  CLI::App* app;              // the subcommand's parser
  std::function<int()> run;   // returns the process exit code
};

Command add_infer_command(CLI::App& app);
Command add_backends_command(CLI::App& app);
Command add_verify_command(CLI::App& app);
Command add_bench_command(CLI::App& app);
Command add_compare_command(CLI::App& app);
Command add_export_command(CLI::App& app);
Command add_dashboard_command(CLI::App& app);
Command add_attention_command(CLI::App& app);

}  // namespace vitbench::cli
