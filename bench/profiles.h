// Named sets of defaults for `vitbench bench --profile NAME`. Every field can still be
// overridden by its own flag (--models, --threads, ...).
//
//   default  ViT-B/16 at 224, batch 1, every backend, the machine's thread count, whole models
//            only, 5 repetitions of at least 0.5 s. About 1.5 minutes on 2 Zen3 cores, most of
//            it the float64 reference's one ViT-B forward for verification (when no golden
//            cases cover the backends) and the weight generation.
//   quick    ViT-Ti/16 at 224, batch 1, every op and the whole model, the machine's threads,
//            3 repetitions of at least 0.05 s: a smoke run of well under a minute.
//   full     ViT-Ti, ViT-S and ViT-B at 224, batches 1 and 8, 1 thread and the machine's
//            threads, every op, 5 repetitions of at least 0.5 s: tens of minutes.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace vitbench::bench {

struct Profile {
  std::string name;
  std::string description;
  std::vector<std::string> models;
  std::vector<size_t> batches;
  // Thread counts; 0 stands for the machine's (the logical CPUs this process may use).
  std::vector<size_t> threads;
  std::vector<std::string> ops;  // empty: whole models only
  int repetitions = 5;
  double min_time = 0.5;
};

const std::vector<Profile>& profiles();
// Throws core::Error naming the unknown profile and listing the known ones.
const Profile& find_profile(const std::string& name);

}  // namespace vitbench::bench
