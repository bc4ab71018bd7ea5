// Per-thread scratch memory for the Highway kernels.
#pragma once

#include <cstddef>

namespace vitbench::optimized::hwy {

// Scratch buffers that belong to the calling thread, 64-byte aligned, grown on demand and kept:
// the pool's workers live as long as the pool, so after the first forward pass no kernel
// allocates. `slot` separates buffers one kernel needs at the same time (attention holds its
// scores, the transposed queries and, for head sizes that are not whole vectors, padded copies of
// V and of the output at once). Contents are unspecified on return.
enum class Scratch : size_t { GemmPartials = 0, Scores, TransposedQ, PaddedV, PaddedOut, Count };
float* thread_scratch(Scratch slot, size_t floats);

}  // namespace vitbench::optimized::hwy
