// ThreadPool: persistent workers that pick up one parallel region ("job") at a time.
//
// Why it is built this way:
// - A ViT-B forward has ~100 parallel regions, some only tens of microseconds long, so waking a
//   worker through a futex (~5-50 us) on every region would cost as much as the work. Workers
//   therefore spin (with a pause hint) for kSpinTime after a job before blocking on a condition
//   variable; back-to-back regions find them spinning and start within ~1 us.
// - The spin is time-bounded, so an idle pool costs nothing, and a machine shared with other
//   processes is not starved for long.
// - Tasks are handed out by one atomic counter (dynamic scheduling): a worker delayed by the OS
//   simply takes fewer tasks. Which worker runs a task never changes a result, because kernels
//   give each task its own outputs.
// - Every hand-over is an atomic with acquire/release ordering or a mutex, so ThreadSanitizer
//   sees all of them (no OpenMP runtime it cannot instrument).
#include "optimized/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/parallel.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace vitbench::optimized {
namespace {

// Long enough to bridge the serial code between two parallel regions of a forward pass (a few
// microseconds), short enough that an idle pool gives its cores back almost at once.
constexpr std::chrono::microseconds kSpinTime{200};

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Spins until pred() holds or kSpinTime passes; true if pred() held. The clock is read only
// every 64 polls because reading it costs more than a poll.
template <typename Pred>
bool spin_until(Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + kSpinTime;
  for (uint32_t i = 1;; ++i) {
    if (pred()) return true;
    cpu_relax();
    if ((i & 63) == 0 && std::chrono::steady_clock::now() > deadline) return pred();
  }
}

}  // namespace

struct ThreadPool::State {
  // The current job. Written by the caller only while no worker is inside a job (run() waits for
  // `active` to drop to zero before returning), and published by the release increment of
  // `generation`, so workers read them after an acquire load without further locking.
  const std::function<void(size_t, size_t)>* task = nullptr;
  size_t tasks = 0;

  // Idle accounting. `accounting` changes only between runs (set_idle_accounting refuses
  // otherwise), so the next job's release of `generation` publishes it like the fields above.
  // busy[w] is written by worker w before it leaves the job (helpers then release `active`,
  // which run() acquires), and read by run() after every helper has left.
  bool accounting = false;
  std::vector<double> busy;
  ThreadPool::Idle idle;

  std::atomic<uint64_t> generation{0};  // bumped once per job
  std::atomic<size_t> next{0};          // next task index to hand out
  std::atomic<size_t> active{0};        // helper workers still inside the current job
  std::atomic<bool> stop{false};
  std::atomic<bool> running{false};     // run() is not reentrant; detects misuse

  std::mutex wake_mutex;  // guards sleepers and pairs with wake_cv
  std::condition_variable wake_cv;
  size_t sleepers = 0;

  std::mutex done_mutex;  // pairs with done_cv: the caller sleeping until `active` is zero
  std::condition_variable done_cv;

  std::mutex error_mutex;
  std::exception_ptr error;  // the first exception a task threw in this job

  std::vector<std::thread> threads;

  void shutdown() {
    {
      std::lock_guard lock(wake_mutex);
      stop.store(true, std::memory_order_release);
    }
    wake_cv.notify_all();
    for (auto& t : threads) t.join();
  }

  // work(), timed into busy[worker] when the job is accounted.
  void work_accounted(size_t worker) {
    if (!accounting) return work(worker);
    const auto start = std::chrono::steady_clock::now();
    work(worker);
    busy[worker] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  // Runs tasks of the current job until none are left. Stops handing out tasks after an error,
  // so run() returns soon; the tasks already running finish.
  void work(size_t worker) {
    for (;;) {
      const size_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= tasks) return;
      try {
        (*task)(i, worker);
      } catch (...) {
        {
          std::lock_guard lock(error_mutex);
          if (!error) error = std::current_exception();
        }
        next.store(tasks, std::memory_order_relaxed);
      }
    }
  }

  void worker_loop(size_t worker) {
    uint64_t seen = 0;
    for (;;) {
      auto changed = [&] {
        return generation.load(std::memory_order_acquire) != seen ||
               stop.load(std::memory_order_acquire);
      };
      if (!spin_until(changed)) {
        std::unique_lock lock(wake_mutex);
        ++sleepers;
        wake_cv.wait(lock, changed);
        --sleepers;
      }
      if (stop.load(std::memory_order_acquire)) return;
      seen = generation.load(std::memory_order_acquire);
      work_accounted(worker);
      // The last helper out wakes the caller if it went to sleep. Taking done_mutex before
      // notifying closes the window between the caller's predicate check and its wait.
      if (active.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard lock(done_mutex);
        done_cv.notify_one();
      }
    }
  }
};

ThreadPool::ThreadPool(size_t threads) : threads_(threads), state_(new State) {
  if (threads == 0 || threads > kMaxThreads) {
    delete state_;
    core::fail("ThreadPool", threads == 0 ? "needs at least one thread"
                                          : "at most " + std::to_string(kMaxThreads) +
                                                " threads, not " + std::to_string(threads));
  }
  try {
    state_->threads.reserve(threads - 1);
    for (size_t w = 1; w < threads; ++w) {
      state_->threads.emplace_back([this, w] { state_->worker_loop(w); });
    }
  } catch (...) {
    const size_t started = state_->threads.size() + 1;  // the caller's thread is one
    state_->shutdown();  // the threads already started must not outlive the state
    delete state_;
    core::rethrow_thread_start_failure("ThreadPool", threads, started);
  }
}

void ThreadPool::set_idle_accounting(bool on) {
  if (state_->running.load(std::memory_order_acquire)) {
    core::fail("ThreadPool", "idle accounting switched during a run");
  }
  state_->accounting = on;
  if (on) state_->busy.assign(threads_, 0.0);
}

ThreadPool::Idle ThreadPool::idle() const { return state_->idle; }

ThreadPool::~ThreadPool() {
  state_->shutdown();
  delete state_;
}

void ThreadPool::run(size_t tasks, const std::function<void(size_t task, size_t worker)>& task) {
  if (tasks == 0) return;
  State& s = *state_;
  if (s.running.exchange(true, std::memory_order_acquire)) {
    core::fail("ThreadPool", "run() called while a run is in progress (nested or concurrent)");
  }
  struct Release {
    std::atomic<bool>& flag;
    ~Release() { flag.store(false, std::memory_order_release); }
  } release{s.running};

  // One task, or one thread: no hand-over is worth its latency.
  if (tasks == 1 || s.threads.empty()) {
    for (size_t i = 0; i < tasks; ++i) task(i, 0);
    return;
  }

  s.task = &task;
  s.tasks = tasks;
  s.error = nullptr;
  const auto start = s.accounting ? std::chrono::steady_clock::now()
                               : std::chrono::steady_clock::time_point{};
  s.next.store(0, std::memory_order_relaxed);
  s.active.store(s.threads.size(), std::memory_order_relaxed);
  s.generation.fetch_add(1, std::memory_order_release);
  {
    // Taking the mutex orders this wake-up after any worker's predicate check, so a worker that
    // is about to sleep either sees the new generation or receives this notification.
    std::lock_guard lock(s.wake_mutex);
    if (s.sleepers) s.wake_cv.notify_all();
  }

  s.work_accounted(0);

  auto done = [&] { return s.active.load(std::memory_order_acquire) == 0; };
  if (!spin_until(done)) {
    std::unique_lock lock(s.done_mutex);
    s.done_cv.wait(lock, done);
  }
  if (s.accounting) {
    const double region =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (const double b : s.busy) s.idle.thread_seconds += std::max(0.0, region - b);
    ++s.idle.regions;
  }
  s.task = nullptr;
  if (s.error) std::rethrow_exception(std::exchange(s.error, nullptr));
}

}  // namespace vitbench::optimized
