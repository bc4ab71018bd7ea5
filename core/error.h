// One error type for everything the suite refuses: its message is a single line that names
// the file (and the tensor or field) and the problem, so the CLI can print it as it is.
#pragma once

#include <cstdio>
#include <stdexcept>
#include <string>

namespace vitbench::core {

// `text` with its control characters written as escapes (\n, \r, \t, \xNN): a message that
// quotes a hostile file's field (a benchmark name with a newline in it, say) stays one line.
inline std::string one_line(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\x%02x", static_cast<unsigned>(c));
      out += escape;
    } else {
      out += ch;
    }
  }
  return out;
}

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(one_line(message)) {}
};

// "where: what" — `where` is a file path, optionally followed by a tensor or field name.
[[noreturn]] inline void fail(const std::string& where, const std::string& what) {
  throw Error(where.empty() ? what : where + ": " + what);
}

}  // namespace vitbench::core
