// One small persistent pool per run: every optimized kernel takes its threads from here, so the
// run's thread count is honoured everywhere (BLIS is set to the same count separately).
// std::thread-based rather than OpenMP so ThreadSanitizer can see every synchronisation.
#pragma once

#include <cstddef>
#include <functional>

namespace vitbench::optimized {

// The most threads a run may ask for (--threads, everywhere). More than any CPU this suite
// measures has hardware threads for; far beyond that, starting them is what a run would do:
// this VM refuses the 32 452nd thread after ~10 s of starting the others, and a benchmark's
// peak measurement would first spin that many threads on two cores.
inline constexpr size_t kMaxThreads = 1024;

class ThreadPool {
 public:
  explicit ThreadPool(size_t threads);  // 1 <= threads <= kMaxThreads; the caller is worker 0
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t size() const { return threads_; }

  // What the workers did not spend in tasks while run() was in progress, for `vitbench bench
  // --breakdown`: per region, the region's duration (from its hand-out to the last worker's
  // return) times the workers, less the time each worker spent taking and running tasks. That is
  // the late start of a woken worker plus the wait at the end for the slowest one. Counted only
  // while accounting is on (off by default: no clock is read) and for regions that run on more
  // than one worker; turn it on or off only between runs.
  struct Idle {
    double thread_seconds = 0;
    size_t regions = 0;
  };
  void set_idle_accounting(bool on);
  Idle idle() const;

  // Calls task(i, worker) for every i in [0, tasks), spread over the workers, and returns when
  // all are done. Which worker runs which task may vary; kernels must make results independent
  // of that (each task writes its own outputs, reductions are not split across tasks).
  // An exception thrown by a task is rethrown here.
  void run(size_t tasks, const std::function<void(size_t task, size_t worker)>& task);

 private:
  struct State;
  size_t threads_;
  State* state_;
};

}  // namespace vitbench::optimized
