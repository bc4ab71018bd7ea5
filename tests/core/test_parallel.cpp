// core::parallel_for, the reference's one way of splitting work over threads: every index once,
// in the chunks (n, threads) fix, a task's exception back to the caller, and a system that
// refuses a thread as one core::Error.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/parallel.h"
#include "tests/address_space_cap.h"

namespace vitbench::core {
namespace {

TEST(ParallelFor, CoversEveryIndexOnceAndRethrowsATasksError) {
  for (size_t threads : {1, 2, 3, 8}) {
    for (size_t n : {0, 1, 2, 7, 100}) {
      std::vector<std::atomic<int>> seen(n);
      parallel_for(n, threads, [&](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) seen[i].fetch_add(1);
      });
      for (size_t i = 0; i < n; ++i) {
        EXPECT_EQ(seen[i].load(), 1) << "n " << n << ", threads " << threads << ", index " << i;
      }
    }
  }
  EXPECT_THROW(parallel_for(10, 3,
                            [](size_t begin, size_t) {
                              if (begin > 0) throw std::runtime_error("task");
                            }),
               std::runtime_error);
}

// Threads the system will not start end as one core::Error once the started ones are joined, not
// in std::terminate from a joinable std::thread destroyed (core::rethrow_thread_start_failure).
TEST(ParallelFor, ASystemThatRefusesThreadsGivesOneError) {
  testing::expect_one_error_with_address_space_capped(
      [] { parallel_for(64, 64, [](size_t, size_t) {}); },
      "parallel_for: cannot start 64 threads (the system refused after ");
}

}  // namespace
}  // namespace vitbench::core
