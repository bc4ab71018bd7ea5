// How the kernel schedules a process, as far as it bears on timings: a real-time policy (`chrt -f`
// or `-r`) keeps other processes off the CPUs, but under the kernel's real-time throttle
// (sched_rt_runtime_us of every sched_rt_period_us; 950 000 of 1 000 000 by default) a run that
// keeps every CPU busy is stopped for the rest of each period. Measured on this project's VM: one
// ViT-B forward in ten took ~50 ms longer, once a second (docs/performance.md, "chrt and the
// real-time throttle"). Shared by the benchmark, which records it, and the report readers, which
// warn about it.
#pragma once

#include <cstdint>
#include <string>

namespace vitbench::core {

struct SchedulingInfo {
  std::string policy;  // "SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "SCHED_IDLE"
                       // or "unknown"
  int64_t priority = 0;  // the real-time priority; 0 under the other policies
  // /proc/sys/kernel/sched_rt_{runtime,period}_us; runtime -1 means no throttle. Both 0 when
  // unknown.
  int64_t rt_runtime_us = 0, rt_period_us = 0;
};

// One line saying that times taken under `scheduling` are stretched by the real-time throttle, and
// by how much; "" when the policy is not real-time or no throttle applies.
std::string rt_throttle_note(const SchedulingInfo& scheduling);

}  // namespace vitbench::core
