#include "golden/tolerance.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/taps.h"

namespace vitbench::golden {
namespace {

// Every figure below is evaluated with the same IEEE double operations in the same order as
// golden/tolerances.py, so the manifest's copy matches exactly.

// The unit roundoff of the arithmetic a class accumulates in.
double unit_roundoff(const std::string& cls) {
  if (cls == kReferenceClass) return std::ldexp(1.0, -53);
  if (cls == kFloat32Class) return std::ldexp(1.0, -24);
  core::fail("tolerance", "unknown tolerance class \"" + cls + "\" (reference or float32)");
}

// Headroom over the typical rounding error u·√K·√stages. PyTorch's float32 forward sits 27 to
// 500 times inside the float32 bound on the checked-in cases (generate.py --float32-report);
// the rest is room for other summation orders and 1-2 ulp exp/tanh/erf approximations.
constexpr double kHeadroom = 32.0;

// The reference and PyTorch share every float32 parameter and both sum in float64, so they
// differ only by summation order and libm, about 1e-14. The floor keeps the reference's check
// about the function computed rather than about which float64 summation order was used; it is
// still far below any real mistake (a LayerNorm eps of 1e-12 for 1e-6 moves taps by ~1e-7).
constexpr double kReferenceFloor = 1e-10;

bool is_standard_tap(const core::Config& c, const std::string& tap) {
  const auto names = core::standard_tap_names(c.num_layers);
  return std::find(names.begin(), names.end(), tap) != names.end();
}

}  // namespace

std::vector<std::string> tolerance_classes() { return {kReferenceClass, kFloat32Class}; }

bool is_tolerance_class(const std::string& name) {
  return name == kReferenceClass || name == kFloat32Class;
}

size_t reduction_length(const core::Config& c, const std::string& tap) {
  if (tap == core::tap::embed()) return c.patch_dim();
  // Past the embedding every tap depends on q·k (head_dim), the projections (D), the MLP's fc2
  // (M) and the probability-weighted sum over tokens (T); the longest one dominates.
  return std::max({c.patch_dim(), c.hidden_size, c.intermediate_size, c.num_tokens()});
}

size_t rounding_stages(const core::Config& c, const std::string& tap) {
  if (!is_standard_tap(c, tap)) core::fail("tolerance", "no standard tap named \"" + tap + "\"");
  if (tap == core::tap::embed()) return 1;
  if (tap == core::tap::final_norm()) return 2 * c.num_layers + 2;
  if (tap == core::tap::logits()) return 2 * c.num_layers + 3;
  for (size_t i = 0; i < c.num_layers; ++i) {
    if (tap == core::tap::attn_out(i)) return 2 * i + 2;
    if (tap == core::tap::block_out(i)) return 2 * i + 3;
  }
  core::fail("tolerance", "no standard tap named \"" + tap + "\"");
}

Tolerance tolerance_for(const core::Config& c, const std::string& tap, const std::string& cls,
                        core::NpyDtype stored) {
  double growth = kHeadroom * unit_roundoff(cls);
  growth = growth * std::sqrt(static_cast<double>(reduction_length(c, tap)));
  // Independent rounding in each stage adds in quadrature. Measured float32 error grows even
  // less than that: LayerNorm rescales every block's input, so relative error does not compound.
  growth = growth * std::sqrt(static_cast<double>(rounding_stages(c, tap)));
  if (cls == kReferenceClass) growth = std::max(growth, kReferenceFloor);
  // A float32 golden is itself rounded by up to half an ulp of each element, at most 2^-24 of
  // max|e|.
  const double storage = stored == core::NpyDtype::Float32 ? std::ldexp(1.0, -24) : 0.0;
  Tolerance t;
  t.max_rel = growth + storage;
  // NMSE is a mean square, so it gets the square of the same relative figure: an error spread
  // over every element fails it even where no single element reaches max_rel.
  t.nmse = t.max_rel * t.max_rel;
  return t;
}

}  // namespace vitbench::golden
