// Which Highway target runs, which were compiled, the limit on them, and the per-thread scratch
// buffers.
#include <array>
#include <cctype>
#include <cstdint>
#include <memory>
#include <string>

#include "core/error.h"
#include "hwy/aligned_allocator.h"
#include "hwy/targets.h"
#include "optimized/hwy/internal.h"
#include "optimized/hwy/kernels.h"
#include "optimized/hwy/workspace.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "optimized/hwy/targets.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace vitbench::optimized::hwy {
namespace HWY_NAMESPACE {
namespace hn = ::hwy::HWY_NAMESPACE;

const char* TargetNameImpl() { return ::hwy::TargetName(HWY_TARGET); }
size_t FloatLanesImpl() { return hn::Lanes(hn::ScalableTag<float>()); }

}  // namespace HWY_NAMESPACE
}  // namespace vitbench::optimized::hwy
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "optimized/hwy/dispatch.h"

namespace vitbench::optimized::hwy {

HWY_EXPORT(TargetNameImpl);
HWY_EXPORT(FloatLanesImpl);

const char* chosen_target() { return HWY_DYNAMIC_DISPATCH(TargetNameImpl)(); }

size_t float_lanes() { return HWY_DYNAMIC_DISPATCH(FloatLanesImpl)(); }

namespace {

// Highway's target bits, best first (a better target has a lower bit), as names.
std::vector<const char*> target_names(int64_t targets) {
  std::vector<const char*> names;
  for (; targets != 0; targets &= targets - 1) {
    names.push_back(::hwy::TargetName(targets & ~(targets - 1)));
  }
  return names;
}

// What this CPU supports of the compiled targets, read once, before any limit: SupportedTargets()
// leaves out the targets DisableTargets has turned off.
int64_t cpu_targets() {
  static const int64_t targets = ::hwy::SupportedTargets() & HWY_TARGETS;
  return targets;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string joined(const std::vector<const char*>& names) {
  std::string list;
  for (const char* n : names) list += (list.empty() ? "" : ", ") + std::string(n);
  return list;
}

}  // namespace

std::vector<const char*> compiled_targets() { return target_names(HWY_TARGETS); }

std::vector<const char*> supported_targets() { return target_names(cpu_targets()); }

int64_t targets_above(const std::string& name, int64_t compiled, int64_t supported) {
  for (int64_t targets = compiled; targets != 0; targets &= targets - 1) {
    const int64_t bit = targets & ~(targets - 1);
    if (upper(name) != upper(::hwy::TargetName(bit))) continue;
    if (!(supported & bit)) {
      core::fail("--simd", "this CPU cannot run " + std::string(::hwy::TargetName(bit)) +
                               " (it runs: " + joined(target_names(supported & compiled)) + ")");
    }
    return compiled & (bit - 1);
  }
  core::fail("--simd", "unknown SIMD target \"" + name + "\" (compiled in: " +
                           joined(target_names(compiled)) + ")");
}

void limit_targets(const std::string& name) {
  ::hwy::DisableTargets(targets_above(name, HWY_TARGETS, cpu_targets()));
}

float* thread_scratch(Scratch slot, size_t floats) {
  struct Buffer {
    ::hwy::AlignedFreeUniquePtr<float[]> data;
    size_t size = 0;
  };
  thread_local std::array<Buffer, static_cast<size_t>(Scratch::Count)> buffers;
  Buffer& b = buffers[static_cast<size_t>(slot)];
  if (b.size < floats) {
    b.data = ::hwy::AllocateAligned<float>(floats);
    if (!b.data) throw std::bad_alloc();
    b.size = floats;
  }
  return b.data.get();
}

}  // namespace vitbench::optimized::hwy
#endif  // HWY_ONCE
