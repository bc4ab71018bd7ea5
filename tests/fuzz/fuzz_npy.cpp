// The .npy reader on arbitrary bytes. What it accepts must survive a round trip through our own
// writer bit for bit (float64 holds every float32 exactly, so nothing may change).
#include <cstdint>
#include <cstring>

#include "core/npy.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vitbench;
  static fuzz::MemFile file("input.npy");
  static fuzz::MemFile again("again.npy");
  const std::string& path = file.write(fuzz::as_text(data, size));
  fuzz::accepts(path, [&] {
    const core::NpyArray a = core::read_npy(path);
    const core::NpyArray b = core::read_npy(again.write(core::encode_npy(a.values)));
    if (a.values.shape() != b.values.shape() ||
        std::memcmp(a.values.data(), b.values.data(), a.values.size() * sizeof(double)) != 0) {
      fuzz::contract_broken("an accepted .npy does not survive a round trip", path);
    }
  });
  return 0;
}
