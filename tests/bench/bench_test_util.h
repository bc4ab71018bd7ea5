// Shared by the bench tests: a temporary folder, a tiny model folder that the float64
// reference runs in milliseconds, and quiet harness settings.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "bench/harness.h"
#include "core/config.h"
#include "core/model_loader.h"
#include "core/weights.h"
#include "tests/small_config.h"
#include "tests/temp_dir.h"

namespace vitbench::bench::testing {

namespace fs = std::filesystem;

using vitbench::testing::TempDir;

// D=32, 2 blocks, 2 heads, MLP 64, 32 px in patches of 8 (17 tokens), 10 classes.
inline core::Config tiny_config() {
  return vitbench::testing::shaped_config(
      "tiny", {.hidden = 32, .heads = 2, .mlp = 64, .image = 32, .patch = 8, .labels = 10});
}

// Writes the tiny model as a model folder "<parent>/tiny" and returns its path.
inline std::string write_tiny_model(const std::string& parent) {
  const std::string dir = parent + "/tiny";
  fs::create_directories(dir);
  const core::Config c = tiny_config();
  core::save_model_folder(core::Model{c, core::generate_weights(c, 7)}, dir,
                          core::NameScheme::Timm);
  return dir;
}

// Every backend, ops and models, 1 and 2 threads, very short timings.
inline Options tiny_options(const std::string& model_dir, const std::string& reports_dir) {
  Options o;
  o.profile = "quick";
  o.models = std::vector<std::string>{model_dir};
  o.threads = std::vector<size_t>{1, 2};
  o.batches = std::vector<size_t>{2};
  o.ops = std::vector<std::string>{"linear", "layer_norm", "gelu", "softmax", "attention"};
  o.repetitions = 2;
  o.min_time = 0.005;
  o.reports_dir = reports_dir;
  return o;
}

struct Quiet {
  std::ostringstream log, out;
  Hooks hooks() {
    Hooks h;
    h.log = &log;
    h.out = &out;
    h.console = false;
    h.peak.fma_seconds = 0.02;
    h.peak.bandwidth_seconds = 0.01;
    h.peak.bandwidth_bytes = size_t{8} << 20;
    return h;
  }
};

inline std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct CommandResult {
  int exit_code = -1;
  std::string out;
};

// Runs `argv` with stdout and stderr captured together; exit_code is 128 + signal if killed.
inline CommandResult run_command(const std::vector<std::string>& argv) {
  CommandResult r;
  int pipefd[2];
  if (::pipe(pipefd) != 0) return r;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipefd[1], 1);
    ::dup2(pipefd[1], 2);
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipefd[1]);
  char buf[4096];
  for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof buf)) > 0;) r.out.append(buf, n);
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

}  // namespace vitbench::bench::testing
