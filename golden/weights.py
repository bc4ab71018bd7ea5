"""The Python twin of core/weights.cpp's seeded generator, bit for bit.

Every element is a pure function of (seed, tensor name, element index): a 64-bit hash of the
name (FNV-1a), SplitMix64's finaliser twice, the top 24 bits as u = k / 2^24, and
float32(offset + scale * (2u - 1)). Everything here is integer arithmetic modulo 2^64 (numpy's
uint64 wraps) followed by the same two float64 operations in the same order as the C++ code and
one rounding to float32, so the values are identical, not merely close. tests/golden checks that.

Only numpy is needed (no torch), so the twin test runs wherever numpy does. Run as a script, it
prints the sha256 of every tensor of a config for the C++ test to compare:

    /usr/bin/python3 golden/weights.py --config CONFIG.json --seed 7 [--images N --image-seed S]
    /usr/bin/python3 golden/weights.py --write-check golden/generator_check.json
"""

import argparse
import hashlib
import json
import math
import os
import sys
import tempfile

import numpy as np

MASK64 = (1 << 64) - 1
_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)


def fnv1a64(text):
    h = 0xCBF29CE484222325
    for byte in text.encode("utf-8"):
        h ^= byte
        h = (h * 0x100000001B3) & MASK64
    return h


def mix64(z):
    """SplitMix64's finaliser on a uint64 array (wrapping arithmetic)."""
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = z ^ (z >> np.uint64(30))
        z = z * np.uint64(0xBF58476D1CE4E5B9)
        z = z ^ (z >> np.uint64(27))
        z = z * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return z


def uniform_draws(seed, name_hash, count):
    """u = k / 2^24 for element indices 0..count-1, as float64 (exact: k has 24 bits)."""
    base = mix64(np.uint64((seed ^ name_hash) & MASK64))
    index = np.arange(1, count + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        bits = mix64(base + index * _GOLDEN_GAMMA)
    return (bits >> np.uint64(40)).astype(np.float64) / 16777216.0


def draw(seed, name, shape, offset, scale):
    u = uniform_draws(seed, fnv1a64(name), int(np.prod(shape, dtype=np.int64)))
    # The same float64 operations as C++ (2u - 1, times scale, plus offset), then one rounding.
    values = offset + scale * (2.0 * u - 1.0)
    return values.astype(np.float32).reshape(shape)


# ---- Config, in the JSON form of core::config_to_json (HuggingFace ViTConfig fields) ----------

def grid_size(cfg):
    return cfg["image_size"] // cfg["patch_size"]


def num_prefix_tokens(cfg):
    """The tokens before the patches: class, distillation, registers (where the model has them)."""
    return (int(cfg.get("vitbench_class_token", True)) + int(cfg.get("vitbench_distilled", False)) +
            cfg.get("vitbench_register_tokens", 0))


def num_tokens(cfg):
    return grid_size(cfg) ** 2 + num_prefix_tokens(cfg)


def num_channels(cfg):
    return cfg.get("num_channels", 3)


def qkv_bias(cfg):
    return cfg.get("qkv_bias", True)


def position_embedding(cfg):
    return cfg.get("vitbench_position_embedding", "learned")


def variant(cfg, key):
    """One of timm's variants (core::Config's patch_bias ... fc_norm), as config_to_json writes
    them: present only when they differ from the plain ViT."""
    return cfg.get("vitbench_" + key, key in ("patch_bias", "class_token"))


def parameter_slots(cfg):
    """(name, shape, stored) in core::parameter_slots' canonical order and timm-style shapes."""
    D, M, P = cfg["hidden_size"], cfg["intermediate_size"], cfg["patch_size"]
    positions = grid_size(cfg) ** 2 if variant(cfg, "no_embed_class") else num_tokens(cfg)
    registers = cfg.get("vitbench_register_tokens", 0)
    slots = ([("cls_token", (1, 1, D), True)] if variant(cfg, "class_token") else []) + (
        [("dist_token", (1, 1, D), True)] if variant(cfg, "distilled") else []) + (
        [("reg_token", (1, registers, D), True)] if registers else []) + [
        ("pos_embed", (1, positions, D), position_embedding(cfg) == "learned"),
        ("patch_embed.proj.weight", (D, num_channels(cfg), P, P), True),
        ("patch_embed.proj.bias", (D,), variant(cfg, "patch_bias")),
    ]
    if variant(cfg, "pre_norm"):
        slots += [("norm_pre.weight", (D,), True), ("norm_pre.bias", (D,), True)]
    scale = variant(cfg, "layer_scale")
    for i in range(cfg["num_hidden_layers"]):
        p = f"blocks.{i}."
        slots += [
            (p + "norm1.weight", (D,), True),
            (p + "norm1.bias", (D,), True),
            (p + "attn.qkv.weight", (3 * D, D), True),
            (p + "attn.qkv.bias", (3 * D,), qkv_bias(cfg)),
        ] + ([(p + f"attn.{qk}_norm.{kind}", (D // cfg["num_attention_heads"],), True)
              for qk in ("q", "k") for kind in ("weight", "bias")]
             if variant(cfg, "qk_norm") else []) + [
            (p + "attn.proj.weight", (D, D), True),
            (p + "attn.proj.bias", (D,), True),
        ] + ([(p + "ls1.gamma", (D,), True)] if scale else []) + [
            (p + "norm2.weight", (D,), True),
            (p + "norm2.bias", (D,), True),
            (p + "mlp.fc1.weight", (M, D), True),
            (p + "mlp.fc1.bias", (M,), True),
            (p + "mlp.fc2.weight", (D, M), True),
            (p + "mlp.fc2.bias", (D,), True),
        ] + ([(p + "ls2.gamma", (D,), True)] if scale else [])
    final = "fc_norm." if variant(cfg, "fc_norm") else "norm."
    slots += [
        (final + "weight", (D,), True),
        (final + "bias", (D,), True),
        ("head.weight", (cfg["num_labels"], D), True),
        ("head.bias", (cfg["num_labels"],), True),
    ]
    if variant(cfg, "distilled"):
        slots += [("head_dist.weight", (cfg["num_labels"], D), True),
                  ("head_dist.bias", (cfg["num_labels"],), True)]
    return slots


def _fan_in_scale(gain, fan_in):
    # Uniform on [-a, a] has standard deviation a/sqrt(3): this gives std gain/sqrt(fan_in).
    return gain * math.sqrt(3.0 / fan_in)


def draw_rule(cfg, name):
    """(offset, scale) of core::draw_rule."""
    D, M = cfg["hidden_size"], cfg["intermediate_size"]
    patch_dim = num_channels(cfg) * cfg["patch_size"] ** 2
    if name in ("cls_token", "dist_token", "reg_token"):
        return 0.0, 1.0
    if name == "pos_embed":
        return 0.0, 0.5
    if name == "patch_embed.proj.weight":
        return 0.0, _fan_in_scale(1.0, patch_dim)
    if (name.endswith(("norm1.weight", "norm2.weight", "q_norm.weight", "k_norm.weight")) or
            name in ("norm.weight", "norm_pre.weight", "fc_norm.weight")):
        return 1.0, 0.25
    if (name.endswith(("norm1.bias", "norm2.bias", "q_norm.bias", "k_norm.bias")) or
            name in ("norm.bias", "norm_pre.bias", "fc_norm.bias")):
        return 0.0, 0.1
    if name.endswith((".ls1.gamma", ".ls2.gamma")):
        return 0.6, 0.4
    if name.endswith("attn.qkv.weight"):
        return 0.0, _fan_in_scale(1.5, D)
    if name.endswith("attn.qkv.bias"):
        return 0.0, 0.1
    if name.endswith(("attn.proj.weight", "mlp.fc1.weight")):
        return 0.0, _fan_in_scale(1.0, D)
    if name.endswith("mlp.fc1.bias"):
        return 0.0, 0.1
    if name.endswith("mlp.fc2.weight"):
        return 0.0, _fan_in_scale(1.0, M)
    if name in ("head.weight", "head_dist.weight"):
        return 0.0, _fan_in_scale(2.0, D)
    return 0.0, 0.02


def sincos_position_embedding(grid, D):
    """MAE's fixed 2-D sin-cos table [grid^2 + 1, D], class-token row zero, rounded to float32.

    Written from the formula in core/weights.h rather than translated from weights.cpp. The C++
    model holds float32 parameters, so the golden model must use the same float32-rounded table;
    math.sin/cos/pow are the C library's, so the rounding lands on the same float32.
    """
    quarter = D // 4
    table = np.zeros((grid * grid + 1, D), dtype=np.float32)
    for r in range(grid):
        for c in range(grid):
            row = table[1 + r * grid + c]
            for k in range(quarter):
                omega = 1.0 / math.pow(10000.0, k / quarter)
                row[k] = math.sin(c * omega)
                row[quarter + k] = math.cos(c * omega)
                row[2 * quarter + k] = math.sin(r * omega)
                row[3 * quarter + k] = math.cos(r * omega)
    return table


def generate_weights(cfg, seed):
    """{canonical name: float32 array in timm's shape}; computed tensors included.

    Tensors the generator does not draw (the q/k/v bias of a qkv_bias=false model, the sin-cos
    position embedding) are filled as core::allocate_weights fills them.
    """
    weights = {}
    for name, shape, stored in parameter_slots(cfg):
        if stored:
            offset, scale = draw_rule(cfg, name)
            weights[name] = draw(seed, name, shape, offset, scale)
        elif name == "pos_embed":
            weights[name] = sincos_position_embedding(grid_size(cfg), cfg["hidden_size"])[None]
        else:
            weights[name] = np.zeros(shape, dtype=np.float32)
    return weights


def generate_images(cfg, batch, seed):
    """Pixels uniform in [-1, 1): float32 [N, C, H, W], drawn under the name "input"."""
    S = cfg["image_size"]
    return draw(seed, "input", (batch, num_channels(cfg), S, S), 0.0, 1.0)


def sha256_of(array):
    """sha256 of the raw little-endian bytes in C order (what a C++ Tensor holds)."""
    return hashlib.sha256(np.ascontiguousarray(array, dtype="<f4").tobytes()).hexdigest()


# Configs for the checked-in generator_check.json: small, but covering every draw rule, both
# computed tensors (zero q/k/v bias, sin-cos table) and seeds that use all 64 bits.
CHECK_CONFIGS = [
    ({"hidden_size": 24, "num_hidden_layers": 2, "num_attention_heads": 3,
      "intermediate_size": 40, "image_size": 12, "patch_size": 4, "num_labels": 5,
      "layer_norm_eps": 1e-6}, 7, 2, 3),
    ({"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
      "intermediate_size": 24, "image_size": 16, "patch_size": 8, "num_labels": 3,
      "qkv_bias": False, "vitbench_position_embedding": "sincos"},
     0xFEDCBA9876543210, 1, 0xFFFFFFFFFFFFFFFF),
    # timm's variants: the slots they add (norm_pre, ls1/ls2, fc_norm), drop (patch bias) or
    # shorten (pos_embed without the class row), and their draw rules.
    ({"hidden_size": 20, "num_hidden_layers": 2, "num_attention_heads": 2,
      "intermediate_size": 28, "image_size": 12, "patch_size": 6, "num_labels": 4,
      "layer_norm_eps": 1e-5, "vitbench_patch_bias": False, "vitbench_no_embed_class": True,
      "vitbench_pre_norm": True, "vitbench_layer_scale": True, "vitbench_fc_norm": True,
      "vitbench_qk_norm": True},
     99, 1, 5),
    # DeiT's distilled models: the distillation token and its head.
    ({"hidden_size": 12, "num_hidden_layers": 1, "num_attention_heads": 2,
      "intermediate_size": 20, "image_size": 8, "patch_size": 4, "num_labels": 3,
      "vitbench_distilled": True}, 3, 1, 4),
    # timm's register models without a class token (*_reg4_gap_*).
    ({"hidden_size": 12, "num_hidden_layers": 1, "num_attention_heads": 3,
      "intermediate_size": 16, "image_size": 8, "patch_size": 4, "num_labels": 3,
      "vitbench_class_token": False, "vitbench_register_tokens": 3,
      "vitbench_no_embed_class": True, "vitbench_pooling": "mean", "vitbench_fc_norm": True},
     11, 1, 6),
]
CHECK_DRAWS = [(0, "cls_token", 0), (1, "input", 12345), (0xFFFFFFFFFFFFFFFF, "head.bias", 2),
               (0x8000000000000000, "blocks.11.mlp.fc2.weight", 2359295)]


def check_document():
    """What tests/golden/test_generator_twin.cpp compares the C++ generator against."""
    configs = []
    for cfg, seed, batch, image_seed in CHECK_CONFIGS:
        w = generate_weights(cfg, seed)
        configs.append({
            "config": cfg, "seed": seed, "images": batch, "image_seed": image_seed,
            "sha256": {name: sha256_of(t) for name, t in w.items()},
            "input_sha256": sha256_of(generate_images(cfg, batch, image_seed)),
            # The first few values as float32 bit patterns, so a mismatch shows its size.
            "first_bits": {name: [int(b) for b in t.ravel()[:3].view(np.uint32)]
                           for name, t in w.items()},
        })
    draws = []
    for seed, name, index in CHECK_DRAWS:
        h = fnv1a64(name)
        u = uniform_draws(seed, h, index + 1)[index]
        draws.append({"seed": seed, "name": name, "index": index, "fnv1a64": h,
                      "k": int(u * 16777216.0)})
    return {"generator": "golden/weights.py", "configs": configs, "draws": draws}


def write_atomically(path, data):
    """The whole file or nothing: a temporary in the same folder, renamed into place."""
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".tmp-",
                               dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="config.json (core::config_to_json form)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--images", type=int, default=0, help="also hash this many images")
    parser.add_argument("--image-seed", type=int, default=0)
    parser.add_argument("--write-check", metavar="FILE",
                        help="write the generator check document (golden/generator_check.json)")
    args = parser.parse_args(argv)
    if args.write_check:
        doc = json.dumps(check_document(), indent=1) + "\n"
        write_atomically(args.write_check, doc.encode("utf-8"))
        return 0
    if args.config is None or args.seed is None:
        parser.error("--config and --seed are required")
    with open(args.config, encoding="utf-8") as f:
        cfg = json.load(f)
    out = {name: sha256_of(t) for name, t in generate_weights(cfg, args.seed).items()}
    if args.images:
        out["input"] = sha256_of(generate_images(cfg, args.images, args.image_seed))
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
