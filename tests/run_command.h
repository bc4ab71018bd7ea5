// Runs a program the way a user's shell would, with its stdout and stderr captured through files
// in a test's scratch folder, and reads what it said.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/file_bytes.h"
#include "tests/temp_dir.h"

namespace vitbench::testing {

struct CommandResult {
  int exit_code = -1;  // 128 + the signal's number when a signal ended it
  std::string out;
  std::string err;
};

// `s` quoted for /bin/sh, whatever it holds.
inline std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs `program args...` with stdin from /dev/null; the capture files are removed afterwards.
inline CommandResult run_command(const std::string& program, const std::vector<std::string>& args,
                                 const TempDir& dir) {
  std::string command = quote(program);
  for (const auto& a : args) command += " " + quote(a);
  const std::string out = dir / "command.stdout", err = dir / "command.stderr";
  command += " >" + quote(out) + " 2>" + quote(err) + " </dev/null";
  const int status = std::system(command.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_bytes(out);
  r.err = read_bytes(err);
  std::filesystem::remove(out);
  std::filesystem::remove(err);
  return r;
}

}  // namespace vitbench::testing
