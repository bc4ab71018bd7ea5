// Fixed-width text for the tables bench prints (the summary, the breakdown), so that every table
// aligns its numbers the same way.
#pragma once

#include <cstdio>
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

}  // namespace vitbench::bench
