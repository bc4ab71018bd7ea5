// Which Highway target runs, which were compiled, and the per-thread scratch buffers.
#include <array>
#include <memory>

#include "hwy/aligned_allocator.h"
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

std::vector<const char*> compiled_targets() {
  std::vector<const char*> names;
  for (int64_t targets = HWY_TARGETS; targets != 0; targets &= targets - 1) {
    names.push_back(::hwy::TargetName(targets & ~(targets - 1)));
  }
  return names;
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
