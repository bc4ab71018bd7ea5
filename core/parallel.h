// The one way work is split across threads outside the optimized kernels: contiguous chunks of
// [0, n), one per thread, joined before returning. Chunks are fixed by (n, threads), so a result
// never depends on scheduling.
#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "core/error.h"

namespace vitbench::core {

// For a catch block around starting `wanted` threads, of which `started` ran (and have been
// joined; a pool counts its caller's thread): the system's refusal to start one more
// (std::system_error: a limit on threads, or no memory for a stack) becomes one core::Error
// naming `where`, where it would otherwise reach std::terminate; anything else is rethrown.
[[noreturn]] inline void rethrow_thread_start_failure(const std::string& where, size_t wanted,
                                                      size_t started) {
  try {
    throw;
  } catch (const std::system_error& e) {
    fail(where, "cannot start " + std::to_string(wanted) + " threads (the system refused after " +
                    std::to_string(started) + ": " + e.what() + ")");
  }
}

template <typename Fn>  // Fn(size_t begin, size_t end)
void parallel_for(size_t n, size_t threads, Fn&& fn) {
  threads = std::max<size_t>(1, std::min(threads, n));
  if (threads == 1) {
    if (n) fn(size_t{0}, n);
    return;
  }
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(threads);
  try {
    pool.reserve(threads);
    for (size_t t = 0; t < threads; ++t) {
      const size_t begin = n * t / threads, end = n * (t + 1) / threads;
      pool.emplace_back([&, t, begin, end] {
        try {
          fn(begin, end);
        } catch (...) {
          errors[t] = std::current_exception();
        }
      });
    }
  } catch (...) {
    for (auto& th : pool) th.join();  // a joinable thread left behind would be std::terminate
    rethrow_thread_start_failure("parallel_for", threads, pool.size());
  }
  for (auto& th : pool) th.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

}  // namespace vitbench::core
