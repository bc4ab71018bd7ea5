// Nothing lost: every file the suite writes (logits, reports, goldens, dashboards, maps) goes
// through core::write_file_atomically, which writes an unnamed O_TMPFILE in the target's folder
// and names it only once complete. So a process killed at any moment leaves either the previous
// file, intact, or the whole new one, and no other file in the folder. Tested by killing: a
// child in the middle of write_file_atomically on a large buffer, and the real `vitbench infer`
// at a spread of moments during its run.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/atomic_file.h"
#include "core/npy.h"
#include "core/tensor.h"
#include "tests/cli/cli_runner.h"

namespace vitbench::robustness {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using testing::read_bytes;
using testing::TempDir;

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

// Whether process `pid` holds open a file of `dir` that has no name yet (O_TMPFILE shows as
// "<dir>/#<inode> (deleted)") or a named temporary of the fallback path: it is mid-write.
bool writing_into(pid_t pid, const fs::path& dir) {
  std::error_code ec;
  const fs::path fds = "/proc/" + std::to_string(pid) + "/fd";
  for (const auto& fd : fs::directory_iterator(fds, ec)) {
    const fs::path target = fs::read_symlink(fd.path(), ec);
    if (ec) continue;
    const std::string t = target.string();
    if (t.rfind(dir.string() + "/", 0) == 0 &&
        (t.find("(deleted)") != std::string::npos || t.find(".tmp-") != std::string::npos)) {
      return true;
    }
  }
  return false;
}

// Kills `pid` with SIGKILL and reaps it; returns whether it had already exited on its own.
bool kill_and_reap(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) == pid) return true;
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status);
}

TEST(NothingLost, AWriterKilledInTheMiddleLeavesTheOldFileAndNothingElse) {
  TempDir dir;
  const std::string target = dir / "data.bin";
  const std::string old_bytes = "the previous contents\n";
  core::write_file_atomically(target, old_bytes);
  // 128 MiB: long enough (a write plus an fsync) to be caught in the act every time.
  const std::string big(size_t(128) << 20, 'n');

  int caught = 0;
  for (int attempt = 0; attempt < 8 && caught < 2; ++attempt) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      try {
        core::write_file_atomically(target, big);
      } catch (...) {
        ::_exit(3);
      }
      ::_exit(0);
    }
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    bool seen = false;
    while (!seen && Clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) break;  // finished before we looked
      seen = writing_into(pid, dir.path());
      if (!seen) std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    // Let it get some way into the write on alternate attempts, not only its first bytes.
    if (seen && attempt % 2) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const bool exited = kill_and_reap(pid);
    if (seen && !exited) {
      ++caught;
      EXPECT_EQ(names_in(dir.path()), std::set<std::string>{"data.bin"}) << "attempt " << attempt;
      EXPECT_EQ(read_bytes(target), old_bytes) << "attempt " << attempt;
    } else {
      // It completed: then the new file must be whole. Put the old one back and try again.
      EXPECT_EQ(fs::file_size(target), big.size());
      core::write_file_atomically(target, old_bytes);
    }
  }
  EXPECT_GE(caught, 1) << "never caught the writer mid-write; the test proved nothing";
}

// ---- The real binary ----------------------------------------------------------------------------

// Starts `vitbench args...` with its output going nowhere near the folder under test.
pid_t spawn_cli(const std::vector<std::string>& args) {
  std::vector<std::string> argv_strings = {VITBENCH_CLI};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

int wait_exit_code(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string old_logits_bytes() {
  core::Tensor old({1, 1000}, 0.25f);
  return core::encode_npy(old);
}

TEST(NothingLost, KilledInferLeavesThePreviousOutputIntact) {
  // The reference on ViT-B/16 runs for many seconds: a kill half a second in lands mid-run.
  TempDir dir;
  const std::string out = dir / "X.npy";
  const std::string old_bytes = old_logits_bytes();
  core::write_file_atomically(out, old_bytes);
  const pid_t pid = spawn_cli({"infer", "--model", "vit-b16", "--output", out});
  ASSERT_GT(pid, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_FALSE(kill_and_reap(pid)) << "vitbench infer on vit-b16 finished within 0.5 s?";
  EXPECT_EQ(names_in(dir.path()), std::set<std::string>{"X.npy"});
  EXPECT_EQ(read_bytes(out), old_bytes);
}

TEST(NothingLost, InferKilledAtAnyMomentLeavesTheOldOutputOrTheWholeNewOne) {
  TempDir dir;
  const std::string out = dir / "X.npy";
  const std::vector<std::string> args = {"infer", "--model", "vit-ti16", "--backend", "hwy",
                                         "--output", out};
  // A whole run first: its output is what any complete run writes (the run is deterministic),
  // and its duration spaces the kills.
  const auto start = Clock::now();
  ASSERT_EQ(wait_exit_code(spawn_cli(args)), 0);
  const auto duration = Clock::now() - start;
  const std::string new_bytes = read_bytes(out);
  ASSERT_GT(new_bytes.size(), 4000u);
  const std::string old_bytes = old_logits_bytes();

  int old_seen = 0, new_seen = 0;
  for (int k = 1; k <= 6; ++k) {
    core::write_file_atomically(out, old_bytes);
    const pid_t pid = spawn_cli(args);
    ASSERT_GT(pid, 0);
    // From early start-up to just past the expected end, so some kills land near the write.
    std::this_thread::sleep_for(duration * k / 6);
    kill_and_reap(pid);
    EXPECT_EQ(names_in(dir.path()), std::set<std::string>{"X.npy"}) << "kill " << k << " of 6";
    const std::string now = read_bytes(out);
    EXPECT_TRUE(now == old_bytes || now == new_bytes)
        << "kill " << k << " of 6 left a file that is neither the old nor the new output ("
        << now.size() << " bytes)";
    old_seen += now == old_bytes;
    new_seen += now == new_bytes;
  }
  std::cout << "[nothing lost] " << old_seen << " kills left the old file, " << new_seen
            << " the new one\n";
  EXPECT_GE(old_seen, 1) << "no kill landed before the write; the test proved little";
}

}  // namespace
}  // namespace vitbench::robustness
