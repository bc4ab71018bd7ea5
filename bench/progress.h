// Progress of a long run, one line per benchmark as it starts, on the log stream:
//   [ 3/12] model/vit-b16@224/b1/t2/hwy   0:41 elapsed, about 1:05 left
// "Left" sums the planned benchmarks' estimated durations, rescaled by how the estimates of the
// benchmarks done so far compared with the time they actually took.
#pragma once

#include <chrono>
#include <cstddef>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "bench/registration.h"

namespace vitbench::bench {

class Progress {
 public:
  Progress(const Plan& plan, std::ostream& log);
  // Google Benchmark's --benchmark_filter (an extended regex; a leading '-' negates it):
  // benchmarks it excludes are not counted.
  void set_filter(const std::string& filter);
  // Case `index` is starting; repeated starts of one case (random interleaving) print nothing.
  void start(size_t index);
  size_t total() const { return selected_.size(); }

 private:
  const Plan& plan_;
  std::ostream& log_;
  std::vector<size_t> selected_;
  std::set<size_t> started_;
  double estimated_done_ = 0;
  bool clock_started_ = false;
  std::chrono::steady_clock::time_point t0_;
};

// "1:05", "12:03", "1:02:03"
std::string format_duration(double seconds);

}  // namespace vitbench::bench
