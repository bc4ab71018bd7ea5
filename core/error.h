// One error type for everything the suite refuses: its message is a single line that names
// the file (and the tensor or field) and the problem, so the CLI can print it as it is.
#pragma once

#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>

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

// Text quoted from a file (a tensor name, a header key, a value), for a message: cut to
// `max_length` bytes, "..." marking the cut, and written one_line, so that a hostile file's text
// keeps the message short and on one line.
inline std::string excerpt(std::string_view text, size_t max_length = 120) {
  std::string out = one_line(std::string(text.substr(0, max_length)));
  return text.size() > max_length ? out + "..." : out;
}

// excerpt() in double quotes.
inline std::string in_quotes(std::string_view text, size_t max_length = 120) {
  return "\"" + excerpt(text, max_length) + "\"";
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
