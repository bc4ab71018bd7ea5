#include "core/scheduling.h"

#include <cmath>

namespace vitbench::core {

std::string rt_throttle_note(const SchedulingInfo& s) {
  const bool real_time = s.policy == "SCHED_FIFO" || s.policy == "SCHED_RR";
  if (!real_time || s.rt_runtime_us < 0 || s.rt_period_us <= 0 ||
      s.rt_runtime_us >= s.rt_period_us) {
    return "";
  }
  const int64_t stall_us = s.rt_period_us - s.rt_runtime_us;
  // In floating point: the figures may come from a report, where no bound holds them.
  const long long percent = std::llround(100.0 * static_cast<double>(stall_us) /
                                         static_cast<double>(s.rt_period_us));
  return s.policy + " under the kernel's real-time throttle (" + std::to_string(s.rt_runtime_us) +
         " of every " + std::to_string(s.rt_period_us) + " us): a run that keeps the CPUs busy " +
         "stalls " + std::to_string(stall_us / 1000) + " ms each " +
         std::to_string(s.rt_period_us / 1000) + " ms, so its times read up to " +
         std::to_string(percent) + "% slow and their CV high; ratios within the run hold";
}

}  // namespace vitbench::core
