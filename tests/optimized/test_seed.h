// Random inputs that can be repeated: one base seed per test process, printed at start
// (VITBENCH_TEST_SEED=<n> repeats a run), and one generator per test derived from it and the
// test's full name (the Highway target included), so a test's inputs do not depend on which
// other tests ran before it.
#pragma once

#include <cstdint>
#include <iostream>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "tests/run_seed.h"

namespace vitbench::test_seed {

inline uint64_t base_seed(const char* suite) {
  static const uint64_t seed = [suite] {
    const uint64_t s = tests::run_seed();
    std::cout << "[" << suite << "] seed " << s << " (VITBENCH_TEST_SEED=" << s << " repeats it)\n";
    return s;
  }();
  return seed;
}

inline std::mt19937_64 test_rng(const char* suite) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string name = std::string(info->test_suite_name()) + "." + info->name();
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (char ch : name) h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
  return std::mt19937_64(base_seed(suite) ^ h);
}

}  // namespace vitbench::test_seed
