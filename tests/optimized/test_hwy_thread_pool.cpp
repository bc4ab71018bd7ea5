// ThreadPool: every task runs exactly once, workers really run in parallel, exceptions come back
// to the caller and leave the pool usable, misuse is refused. Also run under ThreadSanitizer
// (see docs/performance.md, "Thread pool").
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "optimized/thread_pool.h"
#include "tests/address_space_cap.h"

namespace vitbench::optimized {
namespace {

TEST(HwyThreadPool, RunsEveryTaskOnceWithValidWorkerIds) {
  for (size_t threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (size_t tasks : {0, 1, 2, 3, 7, 100, 1000}) {
      std::vector<std::atomic<int>> hits(tasks);
      std::atomic<bool> bad_worker{false};
      pool.run(tasks, [&](size_t task, size_t worker) {
        hits[task].fetch_add(1, std::memory_order_relaxed);
        if (worker >= threads) bad_worker = true;
      });
      for (size_t i = 0; i < tasks; ++i) EXPECT_EQ(hits[i].load(), 1) << "task " << i;
      EXPECT_FALSE(bad_worker);
    }
  }
}

TEST(HwyThreadPool, WorkersRunConcurrently) {
  // Two tasks that each wait for the other to have started: only possible when two threads
  // run them at the same time. The timeout turns a failure into a test failure, not a hang.
  ThreadPool pool(2);
  std::atomic<int> started{0};
  std::atomic<bool> timed_out{false};
  pool.run(2, [&](size_t, size_t) {
    started.fetch_add(1);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (started.load() < 2) {
      if (std::chrono::steady_clock::now() > deadline) {
        timed_out = true;
        return;
      }
      std::this_thread::yield();
    }
  });
  EXPECT_FALSE(timed_out);
}

TEST(HwyThreadPool, ManyShortRegionsBackToBack) {
  // A forward pass is ~100 regions; this is thousands, alternating with sleeps long enough for
  // the workers to stop spinning and block, so both wake-up paths are exercised.
  ThreadPool pool(3);
  std::atomic<size_t> total{0};
  for (int round = 0; round < 2000; ++round) {
    pool.run(4, [&](size_t task, size_t) { total.fetch_add(task + 1, std::memory_order_relaxed); });
    if (round % 500 == 499) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(total.load(), 2000u * 10u);
}

TEST(HwyThreadPool, RethrowsTaskExceptionsAndStaysUsable) {
  for (size_t threads : {1, 3}) {
    ThreadPool pool(threads);
    EXPECT_THROW(pool.run(50, [](size_t task, size_t) {
                   if (task == 17) throw std::runtime_error("task 17");
                 }),
                 std::runtime_error);
    std::atomic<int> count{0};
    pool.run(10, [&](size_t, size_t) { count.fetch_add(1); });
    EXPECT_EQ(count.load(), 10);
  }
}

TEST(HwyThreadPool, RefusesNestedRunsAndThreadCountsOutOfRange) {
  EXPECT_THROW(ThreadPool(0), core::Error);
  try {
    ThreadPool too_many(kMaxThreads + 1);
    ADD_FAILURE() << "started " << kMaxThreads + 1 << " threads";
  } catch (const core::Error& e) {
    EXPECT_NE(std::string(e.what()).find("at most 1024 threads, not 1025"), std::string::npos)
        << e.what();
  }
  ThreadPool pool(2);
  EXPECT_THROW(pool.run(2, [&](size_t, size_t) { pool.run(1, [](size_t, size_t) {}); }),
               core::Error);
  std::atomic<int> count{0};
  pool.run(3, [&](size_t, size_t) { count.fetch_add(1); });  // still usable
  EXPECT_EQ(count.load(), 3);
}

// Idle accounting (the breakdown's idle %): a region of one 50 ms task and one instant task
// leaves one worker waiting ~50 ms, whichever takes which. Bounded below by that wait, and
// above by the threads' time in run() less the tasks' own time, which a count of whole regions
// (not subtracting what the workers did) would exceed.
TEST(HwyThreadPool, IdleAccountingCountsTheWaitForTheSlowestWorker) {
  using clock = std::chrono::steady_clock;
  ThreadPool pool(2);
  pool.run(4, [](size_t, size_t) {});
  EXPECT_EQ(pool.idle().regions, 0u) << "off by default";
  EXPECT_EQ(pool.idle().thread_seconds, 0.0);

  pool.set_idle_accounting(true);
  constexpr double kSleep = 0.05;
  std::atomic<int64_t> task_ns{0};
  const auto start = clock::now();
  pool.run(2, [&](size_t task, size_t) {
    const auto t0 = clock::now();
    if (task == 0) std::this_thread::sleep_for(std::chrono::duration<double>(kSleep));
    task_ns.fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - t0)
                          .count());
  });
  const double wall = std::chrono::duration<double>(clock::now() - start).count();
  const ThreadPool::Idle idle = pool.idle();
  EXPECT_EQ(idle.regions, 1u);
  EXPECT_GE(idle.thread_seconds, 0.9 * kSleep);
  EXPECT_LE(idle.thread_seconds, 2 * wall - static_cast<double>(task_ns.load()) * 1e-9);

  pool.run(1, [](size_t, size_t) {});  // one task runs inline: no region
  EXPECT_EQ(pool.idle().regions, 1u);
  pool.set_idle_accounting(false);
  pool.run(2, [](size_t, size_t) {});
  EXPECT_EQ(pool.idle().regions, 1u) << "off again";
  EXPECT_THROW(pool.run(2, [&](size_t, size_t) { pool.set_idle_accounting(true); }),
               core::Error);
}

// A system that refuses to start a worker gives one core::Error naming the count, where the
// std::system_error would otherwise reach std::terminate (core::rethrow_thread_start_failure).
TEST(HwyThreadPool, ASystemThatRefusesThreadsGivesOneError) {
  testing::expect_one_error_with_address_space_capped(
      [] { ThreadPool pool(64); }, "ThreadPool: cannot start 64 threads (the system refused after ");
}

}  // namespace
}  // namespace vitbench::optimized
