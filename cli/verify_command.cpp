// vitbench verify: every golden case on every backend, tap by tap (golden/verify.h).
#include <iostream>
#include <memory>

#include "cli/backends.h"
#include "cli/commands.h"
#include "cli/option_checks.h"
#include "cli/simd_option.h"
#include "golden/verify.h"

namespace vitbench::cli {

std::vector<golden::Runner> golden_runners() {
  std::vector<golden::Runner> runners;
  for (const std::string& name : all_backend_names()) {
    runners.push_back({name, name == "reference" ? golden::kReferenceClass : golden::kFloat32Class,
                       [name](const core::Model& model, const core::Tensor& images,
                              core::Taps* taps, size_t threads) {
                         return run_backend(name, model, images, taps, threads);
                       }});
  }
  return runners;
}

Command add_verify_command(CLI::App& app) {
  auto options = std::make_shared<golden::VerifyOptions>();
  CLI::App* sub = app.add_subcommand(
      "verify", "Check backends against the golden outputs from PyTorch, tap by tap");
  sub->add_option("--backend", options->backends,
                  "Backend(s) to verify (repeatable; default: every backend)");
  sub->add_option("--case", options->cases, "Golden case(s) to run (repeatable; default: all)");
  sub->add_option("--golden", options->golden_dir,
                  "Folder of golden cases (default: the repository's golden/)");
  sub->add_option("--threads", options->threads, thread_count_help())
      ->check(thread_count())
      ->capture_default_str();
  sub->add_option("--json", options->json_path, "Write the results as JSON to this file");
  auto simd = add_simd_option(sub);
  return {sub, [options, simd] {
            apply_simd_option(*simd);
            return golden::run_verify_command(*options, golden_runners(), std::cout, std::cerr);
          }};
}

}  // namespace vitbench::cli
