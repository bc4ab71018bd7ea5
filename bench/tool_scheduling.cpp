#include "bench/tool_scheduling.h"

#include <benchmark/benchmark.h>

#include <cstdio>

#include "bench/machine_info.h"

namespace vitbench::bench {

std::string scheduling_context(const core::SchedulingInfo& s) {
  std::string text = s.policy + " priority " + std::to_string(s.priority);
  if (s.rt_period_us > 0) {
    text += s.rt_runtime_us < 0 ? ", no real-time throttle"
                                : ", real-time throttle " + std::to_string(s.rt_runtime_us) +
                                      " of every " + std::to_string(s.rt_period_us) + " us";
  }
  return text;
}

void record_scheduling(const char* tool) {
  const core::SchedulingInfo s = scheduling_info();
  benchmark::AddCustomContext("scheduling", scheduling_context(s));
  const std::string note = core::rt_throttle_note(s);
  if (!note.empty()) std::fprintf(stderr, "%s: note: %s\n", tool, note.c_str());
}

}  // namespace vitbench::bench
