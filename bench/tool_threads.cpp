#include "bench/tool_threads.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "bench/machine_info.h"
#include "optimized/thread_pool.h"

namespace vitbench::bench {

std::vector<size_t> parse_thread_counts(const std::string& list, const char* tool) {
  constexpr unsigned long kMax = optimized::kMaxThreads;
  std::vector<size_t> counts;
  for (size_t begin = 0; begin <= list.size();) {
    const size_t comma = std::min(list.find(',', begin), list.size());
    const std::string item = list.substr(begin, comma - begin);
    char* end = nullptr;
    const bool digits = !item.empty() && std::isdigit(static_cast<unsigned char>(item[0]));
    const unsigned long value = digits ? std::strtoul(item.c_str(), &end, 10) : 0;
    if (!digits || *end != '\0' || value == 0 || value > kMax) {
      std::fprintf(stderr, "%s: --threads: '%s' is not a thread count from 1 to %lu\n", tool,
                   item.c_str(), kMax);
      return {};
    }
    if (std::find(counts.begin(), counts.end(), value) == counts.end()) counts.push_back(value);
    begin = comma + 1;
  }
  return counts;
}

std::vector<size_t> take_thread_counts(int& argc, char** argv, const char* tool) {
  const size_t cpus = available_cpus();
  std::vector<size_t> counts = {1};
  if (cpus > 1) counts.push_back(cpus);
  static constexpr char kFlag[] = "--threads=";
  constexpr size_t kFlagLength = sizeof kFlag - 1;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], kFlag, kFlagLength) == 0) {
      counts = parse_thread_counts(argv[i] + kFlagLength, tool);
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
