// Text for what bench prints and names: fixed-width columns for its tables (the summary, the
// breakdown), so that every table aligns its numbers the same way, printf-style formatting for
// its log lines and notes, and the "AxBxC" form of shapes in benchmark names.
#pragma once

#include <cstdio>
#include <initializer_list>
#include <string>

namespace vitbench::bench {

// `v` with `decimals` digits after the point.
inline std::string fixed(double v, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, v);
  return text;
}

// `s` padded with spaces to `width`: on the left (right-aligned, for numbers) unless `left`.
inline std::string pad(const std::string& s, size_t width, bool left = false) {
  if (s.size() >= width) return s;
  return left ? s + std::string(width - s.size(), ' ') : std::string(width - s.size(), ' ') + s;
}

// printf into a std::string of whatever length the result needs.
template <typename... Args>
std::string format(const char* fmt, Args... args) {
  const int length = std::snprintf(nullptr, 0, fmt, args...);
  if (length <= 0) return {};
  std::string text(static_cast<size_t>(length), '\0');
  std::snprintf(text.data(), text.size() + 1, fmt, args...);
  return text;
}

// A shape as benchmark names write it: {197, 768} -> "197x768".
inline std::string dims(std::initializer_list<size_t> ds) {
  std::string s;
  for (size_t d : ds) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

}  // namespace vitbench::bench
