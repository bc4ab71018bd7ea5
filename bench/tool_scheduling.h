// What the standalone benchmark tools (gemm_bench, attention_bench) say about how the kernel
// schedules them, as `vitbench bench` does in its report: the policy and the real-time throttle
// (core/scheduling.h), and a warning when the throttle stretches the run's times.
#pragma once

#include <string>

#include "core/scheduling.h"

namespace vitbench::bench {

// The value of the "scheduling" entry in the tools' context block, e.g.
// "SCHED_FIFO priority 10, real-time throttle 950000 of every 1000000 us".
std::string scheduling_context(const core::SchedulingInfo& scheduling);

// Adds "scheduling" to this process's Google Benchmark context, and prints "TOOL: note: ..." on
// stderr when a real-time policy runs under the throttle. Call after benchmark::Initialize.
void record_scheduling(const char* tool);

}  // namespace vitbench::bench
