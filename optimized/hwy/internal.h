// Entry points that exist for the tests (and for benchmarks that time pieces of a kernel); the
// backends use kernels.h only.
#pragma once

#include <cstddef>

namespace vitbench::optimized::hwy {

// y[i] = our erf approximation of x[i] (the one GELU's erf form uses; see math-inl.h), so its
// error can be measured on its own over a dense sweep.
void erf_approx(const float* x, float* y, size_t n);

// y[i] = FastExp(x[i]) (math-inl.h; the softmax's and flash attention's exp), likewise.
void exp_approx(const float* x, float* y, size_t n);

// Lanes of a float vector on the dispatched target, so tests can size edge cases (Lanes ± 1).
size_t float_lanes();

}  // namespace vitbench::optimized::hwy
