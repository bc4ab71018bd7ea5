// core::rt_throttle_note: the warning a run under `chrt` gets, from the bench and from the
// report readers.
#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "core/scheduling.h"

namespace vitbench::core {
namespace {

// The note must appear exactly when a real-time policy meets a throttle that stops it for part
// of each period, and say how long and how much that is.
TEST(Scheduling, ThrottleNoteOnlyForARealTimePolicyUnderAThrottle) {
  SchedulingInfo s;
  s.policy = "SCHED_FIFO";
  s.priority = 10;
  s.rt_runtime_us = 950000;
  s.rt_period_us = 1000000;
  const std::string fifo = rt_throttle_note(s);
  EXPECT_NE(fifo.find("SCHED_FIFO"), std::string::npos) << fifo;
  EXPECT_NE(fifo.find("stalls 50 ms each 1000 ms"), std::string::npos) << fifo;
  EXPECT_NE(fifo.find("up to 5% slow"), std::string::npos) << fifo;
  EXPECT_EQ(fifo.find('\n'), std::string::npos);

  s.policy = "SCHED_RR";
  s.rt_runtime_us = 800000;
  const std::string rr = rt_throttle_note(s);
  EXPECT_NE(rr.find("SCHED_RR"), std::string::npos) << rr;
  EXPECT_NE(rr.find("stalls 200 ms each 1000 ms"), std::string::npos) << rr;
  EXPECT_NE(rr.find("up to 20% slow"), std::string::npos) << rr;

  // Read from a report, the figures can be anything: the extremes must not overflow.
  SchedulingInfo extreme = s;
  extreme.rt_runtime_us = 0;
  extreme.rt_period_us = std::numeric_limits<int64_t>::max();
  EXPECT_NE(rt_throttle_note(extreme).find("up to 100% slow"), std::string::npos)
      << rt_throttle_note(extreme);

  SchedulingInfo none = s;
  none.rt_runtime_us = -1;  // the kernel's "no throttle"
  EXPECT_EQ(rt_throttle_note(none), "");
  none.rt_runtime_us = none.rt_period_us;  // the whole period: never stopped
  EXPECT_EQ(rt_throttle_note(none), "");
  none.rt_runtime_us = 0;
  none.rt_period_us = 0;  // the files could not be read
  EXPECT_EQ(rt_throttle_note(none), "");
  for (const char* policy : {"SCHED_OTHER", "SCHED_BATCH", "SCHED_IDLE", "unknown"}) {
    SchedulingInfo other = s;
    other.policy = policy;
    other.priority = 0;
    EXPECT_EQ(rt_throttle_note(other), "") << policy;
  }
}

}  // namespace
}  // namespace vitbench::core
