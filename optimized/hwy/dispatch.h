// Shared by the Highway translation units' dispatch code. Include it only in the HWY_ONCE part:
// Highway 1.0.3's foreach_target.h loses track of targets when highway.h (included here) comes
// before it in a translation unit.
#pragma once

#include "hwy/highway.h"

namespace vitbench::optimized::hwy {
// HWY_EXPORT and HWY_DYNAMIC_DISPATCH expand to `hwy::...` without a leading `::`. Inside this
// namespace, whose last component is also `hwy`, that would name us instead of Highway; this
// alias makes `hwy::` mean Highway here and in the per-target namespaces nested in it.
namespace hwy = ::hwy;
}  // namespace vitbench::optimized::hwy
