// Running a piece of a test where the system refuses to start threads: in a child process whose
// address space is capped just above what it already uses, so that no new thread's 8 MiB stack
// can be mapped (EAGAIN from pthread_create, as at --threads 32452 on this project's VM).
#pragma once

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "core/error.h"

namespace vitbench::testing {

// The sanitizer builds reserve terabytes of address space up front, so a cap on it would stop
// their own runtime: tests that need one skip there.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kAddressSpaceCappable = false;
#elif defined(__has_feature)
inline constexpr bool kAddressSpaceCappable =
    !(__has_feature(address_sanitizer) || __has_feature(thread_sanitizer));
#else
inline constexpr bool kAddressSpaceCappable = true;
#endif
inline constexpr const char* kWhyNotCappable =
    "SKIPPED: the sanitizers reserve terabytes of address space up front, so a cap on it would "
    "stop the sanitizer runtime itself";

struct CappedRun {
  // 0: attempt() threw core::Error, whose message is `message`; 1: it returned; 2: it threw
  // something else; 3 to 5: the harness failed (a short write, no /proc/self/statm, setrlimit);
  // -1: the child did not exit normally (std::terminate's abort, say).
  int exit_code = -1;
  std::string message;
};

// Runs attempt() in a child process under the cap and tells how it ended.
inline CappedRun run_with_address_space_capped(const std::function<void()>& attempt) {
  int fds[2];
  if (::pipe(fds) != 0) return {-1, "pipe failed"};
  const pid_t pid = ::fork();
  if (pid < 0) return {-1, "fork failed"};
  if (pid == 0) {
    ::close(fds[0]);
    const auto say = [&](int code, const std::string& text) {
      const ssize_t written = ::write(fds[1], text.data(), text.size());
      ::_exit(written == static_cast<ssize_t>(text.size()) ? code : 3);
    };
    long pages = 0;
    if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
      if (std::fscanf(f, "%ld", &pages) != 1) pages = 0;
      std::fclose(f);
    }
    if (pages <= 0) say(4, "cannot read /proc/self/statm");
    const rlim_t cap = static_cast<rlim_t>(pages) * static_cast<rlim_t>(::sysconf(_SC_PAGESIZE)) +
                       (16u << 20);
    const rlimit limit{cap, cap};
    if (::setrlimit(RLIMIT_AS, &limit) != 0) say(5, "setrlimit failed");
    try {
      attempt();
      say(1, "returned under the cap");
    } catch (const core::Error& e) {
      say(0, e.what());
    } catch (const std::exception& e) {
      say(2, std::string("not a core::Error: ") + e.what());
    }
  }
  ::close(fds[1]);
  CappedRun run;
  char buffer[512];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;) run.message.append(buffer, n);
  ::close(fds[0]);
  int status = 0;
  if (::waitpid(pid, &status, 0) == pid && WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  return run;
}

// What the tests ask of it: under the cap, attempt() ends in one core::Error whose message holds
// `expected`. Skips the test where the cap cannot be set.
inline void expect_one_error_with_address_space_capped(const std::function<void()>& attempt,
                                                       const std::string& expected) {
  if (!kAddressSpaceCappable) GTEST_SKIP() << kWhyNotCappable;
  const CappedRun run = run_with_address_space_capped(attempt);
  EXPECT_EQ(run.exit_code, 0) << run.message;
  EXPECT_NE(run.message.find(expected), std::string::npos) << run.message;
}

}  // namespace vitbench::testing
