// The thread counts the standalone benchmark tools (gemm_bench, attention_bench) run at.
//
// By default: 1 thread and every logical CPU this process may run on, the two ends of a
// machine's range (1 and 2 on a 2-core machine, 1 and 16 on a 16-core one), so that a report
// from any CPU holds its single-core and its whole-machine figures. `--threads=1,4,16` picks
// others. The flag is taken out of argv before Google Benchmark parses the rest.
#pragma once

#include <sched.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace vitbench::bench {

// The parsed list, or an empty one after printing a one-line error naming the bad item.
inline std::vector<size_t> parse_thread_counts(const std::string& list, const char* tool) {
  std::vector<size_t> counts;
  size_t begin = 0;
  while (begin <= list.size()) {
    const size_t comma = std::min(list.find(',', begin), list.size());
    const std::string item = list.substr(begin, comma - begin);
    char* end = nullptr;
    const unsigned long value = item.empty() ? 0 : std::strtoul(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || !std::isdigit(static_cast<unsigned char>(item[0])) || value == 0 || value > 4096) {
      std::fprintf(stderr, "%s: --threads: '%s' is not a thread count from 1 to 4096\n", tool,
                   item.c_str());
      return {};
    }
    bool seen = false;
    for (size_t c : counts) seen = seen || c == value;
    if (!seen) counts.push_back(value);
    begin = comma + 1;
  }
  return counts;
}

inline size_t available_cpus() {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (::sched_getaffinity(0, sizeof mask, &mask) != 0) return 1;
  const int n = CPU_COUNT(&mask);
  return n > 0 ? static_cast<size_t>(n) : 1;
}

// Removes --threads=LIST from argv. Returns the counts, or an empty vector on a bad list (the
// error is printed; the caller exits non-zero).
inline std::vector<size_t> take_thread_counts(int& argc, char** argv, const char* tool) {
  std::vector<size_t> counts = {1};
  if (available_cpus() > 1) counts.push_back(available_cpus());
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    constexpr const char* kFlag = "--threads=";
    if (std::strncmp(argv[i], kFlag, std::strlen(kFlag)) == 0) {
      counts = parse_thread_counts(argv[i] + std::strlen(kFlag), tool);
      if (counts.empty()) return {};
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  argv[argc] = nullptr;
  return counts;
}

}  // namespace vitbench::bench
