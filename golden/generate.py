#!/usr/bin/python3
"""Writes the golden cases: expected taps and logits of torchvision's VisionTransformer, float64.

Nothing here shares code with the C++ forward passes. The model is torchvision's own
VisionTransformer built in float64 and filled with the weights core::generate_weights draws
(reproduced bit for bit by golden/weights.py: torchvision's initialisation zeroes the classifier,
so its own weights are never used). Variants torchvision lacks are made by adjusting its modules,
not by reimplementing the model.

    /usr/bin/python3 golden/generate.py [--out golden/cases] [--case NAME ...] [--spec FILE.json]
    /usr/bin/python3 golden/generate.py --float32-report      # headroom of the float32 policy

Output is deterministic: running it twice on one machine writes byte-identical files (the test
suite checks that when PyTorch is present). See golden/README.md.
"""

import os

# One thread everywhere: PyTorch's and OpenBLAS's pools otherwise oversubscribe two cores, and a
# fixed thread count keeps every run's arithmetic the same. Must precede the torch import.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
from functools import partial  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tolerances  # noqa: E402
import weights  # noqa: E402

GENERATOR_VERSION = 1
FORMAT_VERSION = 1

# Every image's top-1 logit must beat its runner-up by this fraction of max|logits| (over the
# whole batch). It is more than twice the largest float32 logits tolerance, so a backend within
# tolerance on every logit cannot flip a top-1 class, and top-1 agreement is a fair check.
MIN_TOP1_MARGIN = 0.02
MAX_INPUT_SEEDS = 200

ALL_TAPS = "all"


def _case(name, description, batch, taps=ALL_TAPS, tap_dtype="float64", weight_seed=None,
          **config):
    """A case: a config (core::config_to_json fields), a batch size and which taps to keep."""
    cfg = {"num_channels": 3, "layer_norm_eps": 1e-6, "hidden_act": "gelu", "qkv_bias": True,
           "vitbench_position_embedding": "learned", "vitbench_pooling": "cls"}
    cfg.update(config)
    return {
        "name": name,
        "description": description,
        "batch": batch,
        "taps": taps,
        "tap_dtype": tap_dtype,
        # Distinct seeds per case, fixed so adding a case never changes another.
        "weight_seed": weight_seed if weight_seed is not None else weights.fnv1a64(name) >> 32,
        "config": cfg,
    }


def _preset(hidden, layers, heads, mlp):
    return {"hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
            "intermediate_size": mlp, "image_size": 224, "patch_size": 16, "num_labels": 1000}


CASES = [
    _case("odd-72x3-b3",
          "odd sizes everywhere: D=72, 3 heads of 24, 26 tokens, M=150, patch 7 (K=147), "
          "7 classes, batch 3",
          batch=3, hidden_size=72, num_hidden_layers=2, num_attention_heads=3,
          intermediate_size=150, image_size=35, patch_size=7, num_labels=7),
    _case("small-65tok-b2", "a small model with 65 tokens (8x8 patches), batch 2",
          batch=2, hidden_size=64, num_hidden_layers=3, num_attention_heads=4,
          intermediate_size=256, image_size=32, patch_size=4, num_labels=10),
    # ViT-Ti's taps would be 300 KB each in float64; float32 halves that, at a storage rounding
    # of 2^-24 relative that the policy adds to every tolerance for these files (README).
    _case("vit-ti16-224", "ViT-Ti/16 at 224, batch 1: logits and a few taps",
          batch=1, taps=["embed", "block.0.attn_out", "block.0.out", "block.11.out",
                         "final_norm", "logits"],
          tap_dtype="float32", **_preset(192, 12, 3, 768)),
    _case("vit-s16-224-logits", "ViT-S/16 at 224, batch 1: logits only",
          batch=1, taps=["logits"], **_preset(384, 12, 6, 1536)),
    _case("vit-b16-224-logits", "ViT-B/16 at 224, batch 1: logits only",
          batch=1, taps=["logits"], **_preset(768, 12, 12, 3072)),
    _case("long-1025tok", "a long sequence: 32x32 patches of 2 pixels, 1025 tokens, batch 1",
          batch=1, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
          intermediate_size=48, image_size=64, patch_size=2, num_labels=5),
    _case("sincos-b2", "2-D sin-cos position embeddings (MAE / MoCo v3), batch 2",
          batch=2, hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
          intermediate_size=96, image_size=32, patch_size=8, num_labels=6,
          vitbench_position_embedding="sincos"),
    _case("meanpool-noqkvbias-b1",
          "mean pooling over the patch tokens (class token left out) and no q/k/v bias, batch 1",
          batch=1, hidden_size=40, num_hidden_layers=2, num_attention_heads=5,
          intermediate_size=120, image_size=24, patch_size=4, num_labels=9,
          vitbench_pooling="mean", qkv_bias=False),
    _case("gelu-tanh-eps12-b2",
          "tanh GELU, and HuggingFace's LayerNorm eps of 1e-12, batch 2",
          batch=2, hidden_size=32, num_hidden_layers=3, num_attention_heads=2,
          intermediate_size=128, image_size=12, patch_size=4, num_labels=4,
          hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-12),
]


# ---- The model --------------------------------------------------------------------------------

def full_config(cfg):
    """The config as core::config_to_json writes it, labels included."""
    out = {"model_type": "vit"}
    out.update(cfg)
    labels = [f"LABEL_{i}" for i in range(cfg["num_labels"])]
    out["id2label"] = {str(i): label for i, label in enumerate(labels)}
    out["label2id"] = {label: i for i, label in enumerate(labels)}
    return out


def standard_taps(cfg):
    names = ["embed"]
    for i in range(cfg["num_hidden_layers"]):
        names += [f"block.{i}.attn_out", f"block.{i}.out"]
    return names + ["final_norm", "logits"]


def build_model(cfg, seed):
    """torchvision's VisionTransformer in float64, eval mode, holding our generator's weights."""
    import torch
    from torch import nn
    from torchvision.models.vision_transformer import VisionTransformer

    if cfg.get("num_channels", 3) != 3:
        raise SystemExit("torchvision's VisionTransformer takes 3 channels only")
    model = VisionTransformer(
        image_size=cfg["image_size"], patch_size=cfg["patch_size"],
        num_layers=cfg["num_hidden_layers"], num_heads=cfg["num_attention_heads"],
        hidden_dim=cfg["hidden_size"], mlp_dim=cfg["intermediate_size"],
        num_classes=cfg["num_labels"],
        norm_layer=partial(nn.LayerNorm, eps=cfg["layer_norm_eps"]))
    if cfg["hidden_act"] in ("gelu_pytorch_tanh", "gelu_new"):
        for layer in model.encoder.layers:
            layer.mlp[1] = nn.GELU(approximate="tanh")
    elif cfg["hidden_act"] != "gelu":
        raise SystemExit(f"unknown hidden_act {cfg['hidden_act']}")

    w = weights.generate_weights(cfg, seed)
    state = {
        "class_token": w["cls_token"],
        "encoder.pos_embedding": w["pos_embed"],  # the sin-cos table for sincos models
        "conv_proj.weight": w["patch_embed.proj.weight"],
        "conv_proj.bias": w["patch_embed.proj.bias"],
        "encoder.ln.weight": w["norm.weight"],
        "encoder.ln.bias": w["norm.bias"],
        "heads.head.weight": w["head.weight"],
        "heads.head.bias": w["head.bias"],
    }
    for i in range(cfg["num_hidden_layers"]):
        src, dst = f"blocks.{i}.", f"encoder.layers.encoder_layer_{i}."
        state.update({
            dst + "ln_1.weight": w[src + "norm1.weight"],
            dst + "ln_1.bias": w[src + "norm1.bias"],
            # nn.MultiheadAttention stacks q, k, v rows exactly as timm's qkv does; a model
            # without q/k/v bias gets the zeros the generator leaves there.
            dst + "self_attention.in_proj_weight": w[src + "attn.qkv.weight"],
            dst + "self_attention.in_proj_bias": w[src + "attn.qkv.bias"],
            dst + "self_attention.out_proj.weight": w[src + "attn.proj.weight"],
            dst + "self_attention.out_proj.bias": w[src + "attn.proj.bias"],
            dst + "ln_2.weight": w[src + "norm2.weight"],
            dst + "ln_2.bias": w[src + "norm2.bias"],
            dst + "mlp.0.weight": w[src + "mlp.fc1.weight"],
            dst + "mlp.0.bias": w[src + "mlp.fc1.bias"],
            dst + "mlp.3.weight": w[src + "mlp.fc2.weight"],
            dst + "mlp.3.bias": w[src + "mlp.fc2.bias"],
        })
    # float32 values widen exactly to float64: the model computes on the very parameters the
    # C++ side holds.
    state = {k: torch.from_numpy(np.ascontiguousarray(v)).to(torch.float64)
             for k, v in state.items()}
    model = model.double()
    model.load_state_dict(state, strict=True)  # every parameter ours, none left from init
    model.eval()
    return model


def forward(model, cfg, images, record):
    """Logits [N, L]; with `record`, also every standard tap {name: float64 array}."""
    import torch

    taps = {}
    handles = []
    if record:
        def keep(name, value):
            taps[name] = value.detach().numpy().copy()

        # Dropout is the identity in eval mode, so the layers' input is the embedding.
        handles.append(model.encoder.layers.register_forward_pre_hook(
            lambda m, args: keep("embed", args[0])))
        for i, layer in enumerate(model.encoder.layers):
            # The attention module returns (output, weights); output is before the residual add.
            handles.append(layer.self_attention.register_forward_hook(
                lambda m, args, out, i=i: keep(f"block.{i}.attn_out", out[0])))
            handles.append(layer.register_forward_hook(
                lambda m, args, out, i=i: keep(f"block.{i}.out", out)))
        handles.append(model.encoder.ln.register_forward_hook(
            lambda m, args, out: keep("final_norm", out)))
    try:
        with torch.inference_mode():
            x = torch.from_numpy(images).to(model.class_token.dtype)
            if cfg["vitbench_pooling"] == "cls":
                logits = model(x)
            elif cfg["vitbench_pooling"] == "mean":
                # torchvision pools the class token only; mean pooling reuses its own modules and
                # averages the patch tokens after the final norm (timm's global_pool="avg"
                # without fc_norm).
                tokens = model._process_input(x)
                cls = model.class_token.expand(tokens.shape[0], -1, -1)
                encoded = model.encoder(torch.cat([cls, tokens], dim=1))
                logits = model.heads(encoded[:, 1:].mean(dim=1))
            else:
                raise SystemExit(f"unknown pooling {cfg['vitbench_pooling']}")
    finally:
        for h in handles:
            h.remove()
    logits = logits.numpy().copy()
    if record:
        taps["logits"] = logits
    return logits, taps


def top1_margins(logits):
    """(top-1 minus runner-up) / max|logits|, per image."""
    ordered = np.sort(logits, axis=1)
    return (ordered[:, -1] - ordered[:, -2]) / np.max(np.abs(logits))


def first_clear_input(seeds, draw, logits_of, what):
    """(seed, images, margins) for the first of `seeds` whose images, draw(seed), all have a
    clear top-1 class under logits_of(images); `what` names the search when none does."""
    for seed in seeds:
        images = draw(seed)
        margins = top1_margins(logits_of(images))
        if np.all(margins >= MIN_TOP1_MARGIN):
            return seed, images, margins
    raise SystemExit(f"{what}: no input seed gives every image a top-1 margin of "
                     f"{MIN_TOP1_MARGIN}")


def choose_input(model, cfg, batch):
    """The first input seed whose every image has a clear top-1 class."""
    return first_clear_input(range(MAX_INPUT_SEEDS),
                             lambda seed: weights.generate_images(cfg, batch, seed),
                             lambda images: forward(model, cfg, images, record=False)[0],
                             f"seeds below {MAX_INPUT_SEEDS}")


# ---- Files ------------------------------------------------------------------------------------

def npy_bytes(array):
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def json_bytes(obj):
    return (json.dumps(obj, indent=1) + "\n").encode("utf-8")


def versions():
    import torch
    import torchvision
    return {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def generate_case(case, out_dir):
    cfg = case["config"]
    batch = case["batch"]
    model = build_model(cfg, case["weight_seed"])
    input_seed, images, margins = choose_input(model, cfg, batch)
    logits, taps = forward(model, cfg, images, record=True)

    wanted = standard_taps(cfg) if case["taps"] == ALL_TAPS else case["taps"]
    unknown = [t for t in wanted if t not in standard_taps(cfg)]
    if unknown or "logits" not in wanted:
        raise SystemExit(f"{case['name']}: bad tap list {wanted}")
    wanted = [t for t in standard_taps(cfg) if t in wanted]  # forward order

    files = {}  # name -> bytes
    config_json = full_config(cfg)
    files["config.json"] = json_bytes(config_json)
    files["input.npy"] = npy_bytes(images)
    tap_entries = []
    for name in wanted:
        # Logits are small and the headline figure: always float64.
        dtype = "float64" if name == "logits" else case["tap_dtype"]
        value = taps[name].astype(dtype)
        file = name + ".npy"
        files[file] = npy_bytes(value)
        tap_entries.append({"name": name, "file": file, "shape": list(value.shape),
                            "dtype": dtype})

    manifest = {
        "format": "vitbench-golden",
        "format_version": FORMAT_VERSION,
        "case": case["name"],
        "description": case["description"],
        "config_file": "config.json",
        "config": config_json,
        "weights": {"generator": "core::generate_weights", "seed": case["weight_seed"]},
        "input": {
            "file": "input.npy", "generator": "core::generate_images", "seed": input_seed,
            "shape": list(images.shape), "dtype": "float32",
            "min_top1_margin": MIN_TOP1_MARGIN,
            "top1_margins": [float(m) for m in margins],
            "top1_classes": [int(i) for i in np.argmax(logits, axis=1)],
        },
        "taps": tap_entries,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
        "tolerances": {
            "policy_version": tolerances.POLICY_VERSION,
            "classes": tolerances.policy_table(
                cfg, [(t["name"], t["dtype"]) for t in tap_entries]),
        },
        "provenance": dict(
            generator="golden/generate.py", generator_version=GENERATOR_VERSION,
            model="torchvision.models.VisionTransformer", dtype="float64",
            **versions()),
    }

    case_dir = os.path.join(out_dir, case["name"])
    os.makedirs(case_dir, exist_ok=True)
    # Data first, manifest last: a half-written case has no manifest that vouches for it.
    for name, data in files.items():
        weights.write_atomically(os.path.join(case_dir, name), data)
    stale = set(os.listdir(case_dir)) - set(files) - {"manifest.json"}
    for name in sorted(stale):
        if name.endswith((".npy", ".json")):
            os.unlink(os.path.join(case_dir, name))
    weights.write_atomically(os.path.join(case_dir, "manifest.json"), json_bytes(manifest))
    size = sum(len(d) for d in files.values())
    print(f"{case['name']}: input seed {input_seed}, min top-1 margin {margins.min():.3f}, "
          f"{len(wanted)} taps, {size / 1e6:.2f} MB")


def write_index(out_dir):
    """index.json: every case folder under `out_dir` with its manifest's sha256.

    verify checks it, so a case deleted whole or a manifest edited after generation is noticed.
    Rebuilt from what is on disk, so regenerating one case keeps the others listed.
    """
    cases = {}
    for name in sorted(os.listdir(out_dir)):
        manifest = os.path.join(out_dir, name, "manifest.json")
        if os.path.isfile(manifest):
            with open(manifest, "rb") as f:
                cases[name] = hashlib.sha256(f.read()).hexdigest()
    index = {"format": "vitbench-golden-index", "cases": cases}
    weights.write_atomically(os.path.join(out_dir, "index.json"), json_bytes(index))


def float32_report(case):
    """Observed float32 error per tap against the float32 policy (README "Tolerances")."""
    import torch

    cfg = case["config"]
    model = build_model(cfg, case["weight_seed"])
    images = weights.generate_images(cfg, case["batch"], 0)
    _, exact = forward(model, cfg, images, record=True)
    model32 = model.float()
    with torch.inference_mode():
        _, approx = forward(model32, cfg, images, record=True)
    for name in standard_taps(cfg):
        e, a = exact[name], approx[name].astype(np.float64)
        rel = np.max(np.abs(a - e)) / np.max(np.abs(e))
        nmse = np.sum((a - e) ** 2) / np.sum(e ** 2)
        tol = tolerances.tolerance(cfg, name, "float32", "float64")
        print(f"  {case['name']:24s} {name:18s} max_rel {rel:.2e} (tol {tol['max_rel']:.2e}, "
              f"x{tol['max_rel'] / rel:5.0f})  nmse {nmse:.2e} (tol {tol['nmse']:.2e}, "
              f"x{tol['nmse'] / max(nmse, 1e-300):5.0f})")


def load_spec(path):
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    return _case(spec["name"], spec.get("description", "custom case"), spec["batch"],
                 taps=spec.get("taps", ALL_TAPS), tap_dtype=spec.get("tap_dtype", "float64"),
                 weight_seed=spec.get("weight_seed"), **spec["config"])


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--out", default=os.path.join(here, "cases"),
                        help="folder that receives one sub-folder per case")
    parser.add_argument("--case", action="append", default=[], help="only these cases")
    parser.add_argument("--spec", action="append", default=[],
                        help="a JSON case spec {name, batch, config, [taps, tap_dtype, "
                             "weight_seed, description]} instead of the built-in list")
    parser.add_argument("--float32-report", action="store_true",
                        help="print float32 PyTorch's error against the float32 policy")
    parser.add_argument("--list", action="store_true", help="list the built-in cases")
    args = parser.parse_args(argv)

    cases = [load_spec(p) for p in args.spec] if args.spec else CASES
    if args.list:
        for c in cases:
            print(f"{c['name']:24s} {c['description']}")
        return 0
    if args.case:
        known = {c["name"] for c in cases}
        missing = [n for n in args.case if n not in known]
        if missing:
            raise SystemExit(f"unknown case(s) {missing}; known: {sorted(known)}")
        cases = [c for c in cases if c["name"] in args.case]

    import torch
    torch.set_num_threads(1)
    if args.float32_report:
        for case in cases:
            float32_report(case)
        return 0
    if not os.path.isdir(args.out):
        raise SystemExit(f"output folder {args.out} does not exist")
    for case in cases:
        generate_case(case, args.out)
    write_index(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
