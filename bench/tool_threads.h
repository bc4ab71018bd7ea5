// The thread counts the standalone benchmark tools (gemm_bench, attention_bench) run at.
//
// By default: 1 thread and every logical CPU this process may run on, the two ends of a
// machine's range (1 and 2 on a 2-core machine, 1 and 16 on a 16-core one), so that a report
// from any CPU holds its single-core and its whole-machine figures. `--threads=1,4,16` picks
// others. The flag is taken out of argv before Google Benchmark parses the rest.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace vitbench::bench {

// The counts of a comma-separated list, in order, repeats dropped; or an empty vector after
// printing one line on stderr, "TOOL: --threads: 'ITEM' is not a thread count from 1 to 1024"
// (optimized::kMaxThreads).
std::vector<size_t> parse_thread_counts(const std::string& list, const char* tool);

// Takes --threads=LIST out of argv (argc shrinks) and returns its counts, or the default above;
// an empty vector after a bad list (the error is printed; the caller exits non-zero).
std::vector<size_t> take_thread_counts(int& argc, char** argv, const char* tool);

}  // namespace vitbench::bench
