// --simd, for the commands that run kernels: the Highway kernels run on a lower SIMD target than
// this CPU's best, so that one machine measures and checks what an older CPU would run (AVX2 on an
// AVX-512 machine, SSE4, the scalar emulation).
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

namespace vitbench::cli {

// Adds --simd to `sub`; the returned string holds its value, empty when it is not given.
std::shared_ptr<std::string> add_simd_option(CLI::App* sub);

// Limits Highway's dispatch to `target` and the targets below it, when `target` is not empty.
// Commands call it first, before any weights are packed for the best target.
void apply_simd_option(const std::string& target);

}  // namespace vitbench::cli
