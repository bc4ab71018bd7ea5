// The tolerance policy: how close a backend's tap must be to the golden one, per tap and per
// class of backend. golden/README.md gives the reasoning; golden/tolerances.py is the Python
// copy that writes the figures into each manifest, and verify refuses a manifest whose copy
// disagrees with this one (a loosened tolerance in a golden is tampering).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/npy.h"

namespace vitbench::golden {

inline constexpr int kTolerancePolicyVersion = 1;

// "reference": float64 accumulation (the oracle). "float32": an optimized backend computing in
// float32 (including one that keeps some reductions wider).
inline const char* const kReferenceClass = "reference";
inline const char* const kFloat32Class = "float32";
std::vector<std::string> tolerance_classes();
bool is_tolerance_class(const std::string& name);

struct Tolerance {
  double max_rel = 0;  // max |a - e| / max |e|
  double nmse = 0;     // Σ(a - e)² / Σe²
};

// K: the longest dot product on the path from the pixels to `tap`.
size_t reduction_length(const core::Config& config, const std::string& tap);
// Rounding stages (embedding, each attention and MLP branch, final norm, head) up to `tap`.
size_t rounding_stages(const core::Config& config, const std::string& tap);

// Throws core::Error for an unknown class or a tap name that is not standard for `config`.
// `stored` is the golden file's dtype: a float32 golden carries its own rounding.
Tolerance tolerance_for(const core::Config& config, const std::string& tap,
                        const std::string& tolerance_class, core::NpyDtype stored);

}  // namespace vitbench::golden
