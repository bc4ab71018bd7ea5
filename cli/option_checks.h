// The checks the count and duration options share (--threads, --batch, --top, --repetitions,
// --min-time). CLI11's own PositiveNumber refuses 0 as "Value 0 not in range 0.000000 to
// 179769313486231570814527423731704356798070567525844996598917476803157260780028538760..."
// (its range printed as a double): one line, but nothing a user can act on.
#pragma once

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>

#include "optimized/thread_pool.h"

namespace vitbench::cli {

// A check that passes a finite number in (0, max]; anything else gets "must be a positive
// number, not X" or "at most MAX, not X". The option's own type decides the rest ("1.5" for a
// count fails CLI11's conversion).
inline CLI::Validator positive_number(double max = HUGE_VAL) {
  return CLI::Validator(
      [max](std::string& text) -> std::string {
        const char* begin = text.c_str();
        char* end = nullptr;
        errno = 0;
        const double value = std::strtod(begin, &end);
        const bool number = end != begin && *end == '\0' && errno == 0 && std::isfinite(value);
        if (!number || !(value > 0)) return "must be a positive number, not \"" + text + "\"";
        if (value > max) {
          std::ostringstream limit;
          limit << max;
          return "at most " + limit.str() + ", not " + text;
        }
        return "";
      },
      "POSITIVE", "positive_number");
}

// --threads: a positive count up to the suite's limit (optimized::kMaxThreads says why).
inline CLI::Validator thread_count() {
  return positive_number(static_cast<double>(optimized::kMaxThreads));
}
inline std::string thread_count_help() {
  return "Threads (a positive integer, at most " + std::to_string(optimized::kMaxThreads) + ")";
}

}  // namespace vitbench::cli
