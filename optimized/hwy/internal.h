// Entry points that exist for the tests (and for benchmarks that time pieces of a kernel); the
// backends use kernels.h only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace vitbench::optimized::hwy {

// y[i] = our erf approximation of x[i] (the one GELU's erf form uses; see math-inl.h), so its
// error can be measured on its own over a dense sweep.
void erf_approx(const float* x, float* y, size_t n);

// y[i] = FastExp(x[i]) (math-inl.h; the softmax's and flash attention's exp), likewise.
void exp_approx(const float* x, float* y, size_t n);

// Lanes of a float vector on the dispatched target, so tests can size edge cases (Lanes ± 1).
size_t float_lanes();

// limit_targets' rule, on target bit masks: the targets to disable so that dispatch picks the one
// called `name` (any case), i.e. the compiled targets better than it. Throws core::Error (for
// --simd) naming the choices when `name` is not compiled in or `supported` lacks it.
int64_t targets_above(const std::string& name, int64_t compiled, int64_t supported);

}  // namespace vitbench::optimized::hwy
