#include "bench/profiles.h"

#include "bench/registration.h"
#include "core/error.h"

namespace vitbench::bench {

const std::vector<Profile>& profiles() {
  static const std::vector<Profile> all = [] {
    std::vector<Profile> p;
    p.push_back({"default",
                 "ViT-B/16 at 224, batch 1, every backend at the machine's thread count, whole "
                 "models only (about 1.5 minutes on 2 cores)",
                 {"vit-b16"}, {1}, {0}, {}, 5, 0.5});
    p.push_back({"quick",
                 "ViT-Ti/16 at 224, batch 1, every op and the whole model, the machine's threads "
                 "(a smoke run, well under a minute)",
                 {"vit-ti16"}, {1}, {0}, op_names(), 3, 0.05});
    p.push_back({"full",
                 "ViT-Ti/S/B at 224, batches 1 and 8, 1 thread and the machine's threads, every "
                 "op (tens of minutes)",
                 {"vit-ti16", "vit-s16", "vit-b16"}, {1, 8}, {1, 0}, op_names(), 5, 0.5});
    return p;
  }();
  return all;
}

const Profile& find_profile(const std::string& name) {
  for (const Profile& p : profiles()) {
    if (p.name == name) return p;
  }
  std::string known;
  for (const Profile& p : profiles()) known += (known.empty() ? "" : ", ") + p.name;
  core::fail("--profile", "unknown profile \"" + name + "\" (known: " + known + ")");
}

}  // namespace vitbench::bench
