// One error type for everything the suite refuses: its message is a single line that names
// the file (and the tensor or field) and the problem, so the CLI can print it as it is.
#pragma once

#include <stdexcept>
#include <string>

namespace vitbench::core {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// "where: what" — `where` is a file path, optionally followed by a tensor or field name.
[[noreturn]] inline void fail(const std::string& where, const std::string& what) {
  throw Error(where.empty() ? what : where + ": " + what);
}

}  // namespace vitbench::core
