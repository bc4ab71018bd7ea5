// The seed of a randomized test run: fresh each run, or the one a failing run printed, replayed
// with VITBENCH_TEST_SEED=<n>. One variable for every suite, read here only.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <random>

namespace vitbench::tests {

inline uint64_t run_seed() {
  if (const char* env = std::getenv("VITBENCH_TEST_SEED")) return std::strtoull(env, nullptr, 10);
  return (uint64_t{std::random_device{}()} << 32) | std::random_device{}();
}

}  // namespace vitbench::tests
