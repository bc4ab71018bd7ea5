// Softmax of one row, max-subtracted (the row routine and its error bound: softmax-inl.h).
#include "optimized/hwy/kernels.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "optimized/hwy/softmax.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "optimized/hwy/softmax-inl.h"

HWY_BEFORE_NAMESPACE();
namespace vitbench::optimized::hwy {
namespace HWY_NAMESPACE {

void SoftmaxImpl(float* row, size_t n) { SoftmaxRow(hn::ScalableTag<float>(), row, n); }

}  // namespace HWY_NAMESPACE
}  // namespace vitbench::optimized::hwy
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "optimized/hwy/dispatch.h"

namespace vitbench::optimized::hwy {

HWY_EXPORT(SoftmaxImpl);

void softmax(float* row, size_t n) { HWY_DYNAMIC_DISPATCH(SoftmaxImpl)(row, n); }

}  // namespace vitbench::optimized::hwy
#endif  // HWY_ONCE
