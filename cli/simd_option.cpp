#include "cli/simd_option.h"

#include <cstdio>

#include "optimized/hwy/kernels.h"

namespace vitbench::cli {

std::shared_ptr<std::string> add_simd_option(CLI::App* sub) {
  auto target = std::make_shared<std::string>();
  sub->add_option("--simd", *target,
                  "Run the Highway kernels on this SIMD target or lower, e.g. AVX2 on an AVX-512 "
                  "CPU, to measure what an older CPU runs (default: this CPU's best; BLIS and "
                  "the peers keep their own choice)")
      ->check([](const std::string& value) {
        return value.empty() ? std::string("names no SIMD target") : std::string();
      });
  return target;
}

void apply_simd_option(const std::string& target) {
  if (target.empty()) return;
  optimized::hwy::limit_targets(target);
  // On stderr, so that infer --json's stdout stays one JSON document.
  std::fprintf(stderr, "--simd: the Highway kernels run on %s (this CPU's best: %s)\n",
               optimized::hwy::chosen_target(), optimized::hwy::supported_targets().front());
}

}  // namespace vitbench::cli
