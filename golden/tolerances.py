"""The tolerance policy, the Python copy of golden/tolerance.cpp (see golden/README.md).

The C++ side is authoritative: verify recomputes these figures and refuses a manifest whose copy
disagrees (a loosened tolerance is tampering). Both sides evaluate the same few IEEE double
operations in the same order, so the figures agree exactly.
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import weights  # noqa: E402  (num_tokens: the patches and the prefix tokens)

POLICY_VERSION = 1

# Unit roundoff of the arithmetic each class of backend accumulates in.
UNIT_ROUNDOFF = {"reference": 2.0 ** -53, "float32": 2.0 ** -24}
# Headroom over the typical rounding error u·sqrt(K)·sqrt(stages): PyTorch's own float32 forward
# sits 27 to 500 times inside it on every checked-in case (generate.py --float32-report), which
# leaves room for a backend that sums in another order (blocked, tiled, online softmax) and uses
# 1-2 ulp exp/tanh/erf approximations, while an error the size of a wrong GELU form still fails
# the small cases (see README "Tolerances").
HEADROOM = 32.0
# A golden stored as float32 is itself rounded by up to half an ulp of each element.
STORAGE_FLOOR = {"float64": 0.0, "float32": 2.0 ** -24}
# The reference shares every float32 parameter with PyTorch and sums in float64, so the only
# differences are summation order and libm: about 1e-14 in practice. The floor keeps the check
# about the function computed, not about which of two float64 summation orders was used.
REFERENCE_FLOOR = 1e-10


def reduction_length(cfg, tap):
    """K: the longest dot product on the path from the pixels to `tap`."""
    patch_dim = cfg.get("num_channels", 3) * cfg["patch_size"] ** 2
    if tap == "embed":
        return patch_dim
    return max(patch_dim, cfg["hidden_size"], cfg["intermediate_size"], weights.num_tokens(cfg))


def stages(cfg, tap):
    """How many rounding stages (embedding, attention, MLP, final norm, head) precede `tap`.

    Each stage's rounding errors are independent of the others', so they add in quadrature:
    the bound grows with sqrt(stages). Measured float32 error does not even do that: LayerNorm
    rescales every block's input, so relative error does not compound through depth.
    """
    if tap == "embed":
        return 1
    if tap == "final_norm":
        return 2 * cfg["num_hidden_layers"] + 2
    if tap == "logits":
        return 2 * cfg["num_hidden_layers"] + 3
    _, index, kind = tap.split(".")
    return 2 * int(index) + (2 if kind == "attn_out" else 3)


def tolerance(cfg, tap, tolerance_class, stored_dtype):
    """{"max_rel": ..., "nmse": ...} for one tap."""
    growth = HEADROOM * UNIT_ROUNDOFF[tolerance_class]
    growth = growth * math.sqrt(float(reduction_length(cfg, tap)))
    growth = growth * math.sqrt(float(stages(cfg, tap)))
    if tolerance_class == "reference":
        growth = max(growth, REFERENCE_FLOOR)
    max_rel = growth + STORAGE_FLOOR[stored_dtype]
    # NMSE is a mean square: the square of the same relative figure, so an error spread over
    # every element fails it even when no single element reaches max_rel.
    return {"max_rel": max_rel, "nmse": max_rel * max_rel}


def policy_table(cfg, taps):
    """{class: {tap: tolerance}} for the manifest; `taps` is [(name, stored dtype)]."""
    return {
        cls: {name: tolerance(cfg, name, cls, dtype) for name, dtype in taps}
        for cls in ("reference", "float32")
    }
