#include "bench/progress.h"

#include <regex.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace vitbench::bench {

std::string format_duration(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  char text[32];
  if (s >= 3600) {
    std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  } else {
    std::snprintf(text, sizeof text, "%ld:%02ld", s / 60, s % 60);
  }
  return text;
}

Progress::Progress(const Plan& plan, std::ostream& log) : plan_(plan), log_(log) {
  set_filter("");
}

void Progress::set_filter(const std::string& filter) {
  selected_.clear();
  bool negate = false;
  std::string pattern = filter;
  if (!pattern.empty() && pattern[0] == '-') {
    negate = true;
    pattern.erase(0, 1);
  }
  const bool all = pattern.empty() || pattern == "." || pattern == "all";
  // POSIX extended regular expressions, as Google Benchmark's own filter uses.
  regex_t re;
  const bool valid = !all && ::regcomp(&re, pattern.c_str(), REG_EXTENDED | REG_NOSUB) == 0;
  for (size_t i = 0; i < plan_.cases.size(); ++i) {
    // An invalid pattern: Google Benchmark will complain itself; count everything meanwhile.
    bool match =
        all || !valid || ::regexec(&re, plan_.cases[i]->info().name.c_str(), 0, nullptr, 0) == 0;
    if (negate && !all) match = !match;
    if (match) selected_.push_back(i);
  }
  if (valid) ::regfree(&re);
}

void Progress::start(size_t index) {
  if (!started_.insert(index).second) return;
  const auto now = std::chrono::steady_clock::now();
  if (!clock_started_) {
    t0_ = now;
    clock_started_ = true;
  }
  const double elapsed = std::chrono::duration<double>(now - t0_).count();
  double remaining = 0;
  size_t position = 0;
  for (size_t k = 0; k < selected_.size(); ++k) {
    const size_t i = selected_[k];
    if (i == index) position = k + 1;
    if (!started_.count(i) || i == index) remaining += plan_.cases[i]->info().estimated_seconds;
  }
  // Estimates are rough; once some benchmarks are done, scale them by how they fared.
  double scale = estimated_done_ > 0 && elapsed > 1 ? elapsed / estimated_done_ : 1.0;
  scale = std::clamp(scale, 0.25, 4.0);
  estimated_done_ += plan_.cases[index]->info().estimated_seconds;
  if (position == 0) position = started_.size();
  char head[32];
  const int digits = static_cast<int>(std::to_string(selected_.size()).size());
  std::snprintf(head, sizeof head, "[%*zu/%zu]", digits, position, selected_.size());
  log_ << head << " " << plan_.cases[index]->info().name << "   " << format_duration(elapsed)
       << " elapsed, about " << format_duration(remaining * scale) << " left" << std::endl;
}

}  // namespace vitbench::bench
