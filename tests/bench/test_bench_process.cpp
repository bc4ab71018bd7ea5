// `vitbench bench` as a process: killed at any moment it leaves either no report or a whole
// one; its reports are read by Google Benchmark's own tools/compare.py.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bench_test_util.h"
#include "reports/validate.h"

namespace vitbench::bench {
namespace {

using nlohmann::json;

std::vector<std::string> bench_command(const std::string& model, const std::string& reports) {
  return {VITBENCH_CLI,    "bench",         "--models",      model,       "--ops",
          "gelu,layer_norm", "--backends",    "hwy,reference", "--threads", "1",
          "--batch",         "1",             "--repetitions", "2",         "--min-time",
          "0.01",            "--reports-dir", reports,         "--no-golden"};
}

// Every file in `dir` must be a complete, valid report.
void expect_only_whole_reports(const std::string& dir, const std::string& when) {
  for (const std::string& f : testing::files_in(dir)) {
    const std::string text = testing::read_text(f);
    EXPECT_EQ(f.substr(f.size() - 5), ".json") << when << ": stray file " << f;
    try {
      reports::validate_report(json::parse(text), f);
    } catch (const std::exception& e) {
      ADD_FAILURE() << when << ": " << f << " is not a whole report (" << text.size()
                    << " bytes): " << e.what();
    }
  }
}

TEST(BenchProcess, AKilledRunLeavesNoPartialReport) {
  testing::TempDir dir;
  const std::string model = testing::write_tiny_model(dir.path());

  // A complete run first: it must succeed and tells how long a run lasts.
  const std::string full = dir / "full";
  testing::fs::create_directories(full);
  const auto t0 = std::chrono::steady_clock::now();
  const testing::CommandResult done = testing::run_command(bench_command(model, full));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(done.exit_code, 0) << done.out;
  ASSERT_EQ(testing::files_in(full).size(), 1u) << done.out;
  expect_only_whole_reports(full, "complete run");

  // Then kills spread over the run, the last ones close to its end, where the report is
  // being written. How long a run lasts moves with the machine's load (ctest runs tests side by
  // side), so a run that ends before its kill shortens the estimate for the next ones, and the
  // fractions come round again until enough runs have been killed.
  const std::vector<double> fractions = {0.2, 0.5, 0.8, 0.95, 0.99, 0.5, 0.8, 0.95};
  const size_t kills_wanted = 3;
  size_t killed = 0;
  for (size_t k = 0; k < fractions.size() && killed < kills_wanted; ++k) {
    const std::string out = dir / ("kill-" + std::to_string(k));
    testing::fs::create_directories(out);
    const std::vector<std::string> argv = bench_command(model, out);
    const auto start = std::chrono::steady_clock::now();
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      const int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::dup2(null, 2);
      std::vector<char*> args;
      for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    const auto kill_at = start + std::chrono::duration<double>(seconds * fractions[k]);
    int status = 0;
    bool ended = false;
    while (!ended && std::chrono::steady_clock::now() < kill_at) {
      ended = ::waitpid(pid, &status, WNOHANG) == pid;
      if (!ended) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (ended) {
      const std::chrono::duration<double> lasted = std::chrono::steady_clock::now() - start;
      seconds = std::min(seconds, lasted.count());
    } else {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
    }
    if (WIFSIGNALED(status)) ++killed;
    expect_only_whole_reports(out, "killed at " + std::to_string(fractions[k]) + " of a run");
    EXPECT_LE(testing::files_in(out).size(), 1u);
  }
  EXPECT_GE(killed, kills_wanted) << "too few runs were killed midway to mean anything";
}

// Google Benchmark's tools/compare.py is not packaged by Debian: it is looked for where a
// checkout or an install would put it, or named by VITBENCH_GBENCH_COMPARE.
std::string find_compare_py() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("VITBENCH_GBENCH_COMPARE")) candidates.push_back(env);
  for (const char* p : {"/usr/share/benchmark/tools/compare.py",
                        "/usr/local/share/benchmark/tools/compare.py",
                        "/usr/share/doc/libbenchmark-dev/tools/compare.py",
                        "/opt/benchmark/tools/compare.py"}) {
    candidates.push_back(p);
  }
  for (const std::string& c : candidates) {
    if (::access(c.c_str(), R_OK) == 0) return c;
  }
  return "";
}

TEST(BenchProcess, GoogleBenchmarksComparePyReadsTwoReports) {
  const std::string compare = find_compare_py();
  if (compare.empty()) {
    GTEST_SKIP() << "SKIPPED: Google Benchmark's tools/compare.py not found (Debian does not "
                    "package it); set VITBENCH_GBENCH_COMPARE=/path/to/benchmark/tools/compare.py "
                    "to run this check";
  }
  if (std::system("python3 -c 'import numpy, scipy' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "SKIPPED: compare.py needs python3 with numpy and scipy";
  }
  testing::TempDir dir;
  const std::string model = testing::write_tiny_model(dir.path());
  std::vector<std::string> reports;
  for (const char* name : {"a", "b"}) {
    const std::string out = dir / name;
    testing::fs::create_directories(out);
    const testing::CommandResult r = testing::run_command(bench_command(model, out));
    ASSERT_EQ(r.exit_code, 0) << r.out;
    ASSERT_EQ(testing::files_in(out).size(), 1u);
    reports.push_back(testing::files_in(out)[0]);
  }
  const testing::CommandResult r =
      testing::run_command({"python3", compare, "benchmarks", reports[0], reports[1]});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("model/tiny@32/b1/t1/hwy"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("op/gelu/tiny@32/17x64/t1/hwy"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace vitbench::bench
