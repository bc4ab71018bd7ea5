#!/usr/bin/env python3
"""Writes model folders the way timm and transformers themselves write them, with their float64
outputs: golden cases for the model-folder path, from the libraries users get their models from.

generate.py's cases check the forward pass against torchvision on weights both sides draw from a
seed. These check the other half of "runs real models": that a folder written by timm's
save_for_hf or transformers' save_pretrained (config.json and model.safetensors exactly as the
library writes them) is read as the library means it: dimensions, head count, LayerNorm eps,
GELU form, q/k/v bias, pooling, labels. The expected outputs are the library's own forward pass
in float64, on the float32 weights stored in the folder.

    python3 golden/generate_folders.py [--out golden/folders] [--case NAME ...] [--list]

Needs PyTorch, timm, transformers and safetensors (pip's; Debian packages neither timm nor
transformers), so it runs where those are, and its output is checked in. Each supported case is
a golden case (golden/README.md, "Model-folder cases"): `vitbench verify` runs it on every
backend. Each unsupported case is a folder of a timm variant this suite refuses; tests check the
refusal names the feature, and its outputs are kept for the day it is supported.

Weights are drawn from a seeded numpy generator by module type (LayerNorm gains near 1, biases
near 0, linear weights of unit gain, q/k weights wider so attention is peaked), never left at
the library's initialisation (which zeroes heads and makes attention uniform).
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import inspect  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import traceback  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tolerances  # noqa: E402
import weights  # noqa: E402  (write_atomically, fnv1a64)
# generate.py's file helpers and input rule (it imports PyTorch only where it runs a model)
from generate import (FORMAT_VERSION, MAX_INPUT_SEEDS, MIN_TOP1_MARGIN,  # noqa: E402
                      first_clear_input, json_bytes, npy_bytes, write_index)

GENERATOR_VERSION = 1
FOLDER_FILES = ("config.json", "model.safetensors")

# A small, odd-sized model for every case: 9 patches of 8x8 (10 tokens with the class token),
# D = 48 in 3 heads of 16, MLP 120, 2 blocks, 7 classes.
SMALL = dict(img_size=24, patch_size=8, embed_dim=48, depth=2, num_heads=3, mlp_ratio=2.5,
             num_classes=7)


def timm_case(name, description, architecture, batch, supported=True, variant=None, **kwargs):
    args = dict(SMALL)
    args.update(kwargs)
    return {"name": name, "library": "timm", "architecture": architecture, "batch": batch,
            "model_args": args, "supported": supported, "variant": variant,
            "description": description}


# transformers' classes, with their config class and what their models are in our vocabulary:
# DeiT's distillation token is read by a second head (WithTeacher: our distilled model) or by none
# (our one register token).
HF_CLASSES = {
    "ViTForImageClassification": ("ViTConfig", {}),
    "DeiTForImageClassificationWithTeacher": ("DeiTConfig", {"vitbench_distilled": True}),
    "DeiTForImageClassification": ("DeiTConfig", {"vitbench_register_tokens": 1}),
}


def hf_case(name, description, batch, model_class="ViTForImageClassification", **config):
    cfg = dict(hidden_size=48, num_hidden_layers=2, num_attention_heads=3, intermediate_size=120,
               image_size=24, patch_size=8, num_channels=3, hidden_act="gelu",
               layer_norm_eps=1e-12, qkv_bias=True)
    cfg.update(config)
    return {"name": name, "library": "transformers", "model_class": model_class, "batch": batch,
            "config": cfg, "supported": True, "variant": None, "description": description}


CASES = [
    timm_case("timm-vit-token-b2", "timm vit_small_patch16_224 shape-overridden: class-token "
              "pooling, erf GELU, LayerNorm eps 1e-6, q/k/v bias", "vit_small_patch16_224", 2),
    timm_case("timm-vit-avg-tanh-noqkvbias-b2", "timm VisionTransformer with global_pool avg "
              "and fc_norm False (mean of the normed patch tokens), tanh GELU, no q/k/v bias",
              "vit_small_patch16_224", 2, global_pool="avg", fc_norm=False,
              act_layer="gelu_tanh", qkv_bias=False),
    # No num_heads in model_args: the head count comes from the name's size word, as for the
    # Hub's own deit_tiny folders. D is then tiny's 192; one block of MLP 192 keeps it small.
    timm_case("timm-deit-tiny-namedheads-b1", "timm deit_tiny_patch16_224 at D=192, head count "
              "from the architecture name", "deit_tiny_patch16_224", 1, embed_dim=192,
              num_heads=None, depth=1, mlp_ratio=1.0, img_size=16),
    hf_case("hf-vit-b2", "transformers ViTForImageClassification: erf GELU, LayerNorm eps 1e-12, "
            "named labels", 2),
    hf_case("hf-vit-tanh-noqkvbias-b1", "transformers ViTForImageClassification: "
            "gelu_pytorch_tanh, no q/k/v bias, eps 1e-6, patch 5 (K = 75)", 1,
            hidden_act="gelu_pytorch_tanh", qkv_bias=False, layer_norm_eps=1e-6, image_size=20,
            patch_size=5),
    timm_case("timm-clip-prenorm-b1", "timm CLIP image tower: a LayerNorm before the blocks, "
              "no patch-embedding bias, LayerNorm eps 1e-5", "vit_base_patch16_clip_224", 1),
    timm_case("timm-clip-quickgelu-b1", "timm CLIP image tower with quick GELU "
              "(x * sigmoid(1.702 x)), as OpenAI's CLIP", "vit_base_patch16_clip_quickgelu_224", 1),
    timm_case("timm-deit3-layerscale-b1", "timm DeiT III: layer scale, no position embedding "
              "on the class token", "deit3_small_patch16_224", 1),
    timm_case("timm-vit-fcnorm-b1", "timm global_pool avg with its default fc_norm (a LayerNorm "
              "after pooling)", "vit_small_patch16_224", 1, global_pool="avg"),
    timm_case("timm-deit-distilled-b1", "timm DeiT distilled: a distillation token and head, "
              "the logits the mean of both heads", "deit_tiny_distilled_patch16_224", 1),
    hf_case("hf-deit-distilled-b1", "transformers DeiTForImageClassificationWithTeacher: a "
            "distillation token and its own head, the logits the mean of both heads", 1,
            model_class="DeiTForImageClassificationWithTeacher"),
    hf_case("hf-deit-b2", "transformers DeiTForImageClassification: the distillation token "
            "attended but read by no head, eps 1e-6", 2,
            model_class="DeiTForImageClassification", layer_norm_eps=1e-6),
    timm_case("timm-vit-reg4-b1", "timm VisionTransformer with 4 register tokens and no class "
              "token, mean pooling with fc_norm (timm's *_reg4_gap_* models)",
              "vit_base_patch16_reg4_gap_256", 1, reg_tokens=4),
    timm_case("timm-vit-qknorm-b1", "timm VisionTransformer with qk_norm (LayerNorm on q and k "
              "per head)", "vit_small_patch16_224", 1, qk_norm=True),
    # A variant this suite refuses is listed with supported=False and a `variant` name, the
    # words its refusal must use: its folder goes to --unsupported-out with the logits only,
    # for the day it is supported.
    timm_case("timm-vit-map-b1", "timm VisionTransformer with global_pool map: attention "
              "pooling by a learned latent query and no class token, as SigLIP's image tower",
              "vit_small_patch16_224", 1, supported=False, variant="attention pooling",
              global_pool="map", class_token=False),
    timm_case("timm-vit-rope-b1", "timm vit_*_rope_*: rotary position embeddings, which timm "
              "builds with its Eva class", "vit_base_patch16_rope_reg1_gap_256", 1,
              supported=False, variant="rotary position embeddings"),
]


# ---- Weights ------------------------------------------------------------------------------------

def fill_weights(model, seed):
    """Every parameter drawn from a seeded generator by what it is; none left from init."""
    import torch
    from torch import nn

    rng = np.random.default_rng(seed)
    done = set()

    def draw(param, offset, scale):
        u = rng.uniform(-1.0, 1.0, size=tuple(param.shape))
        param.data.copy_(torch.from_numpy((offset + scale * u).astype(np.float32)))
        done.add(id(param))

    for mname, module in model.named_modules():
        if isinstance(module, nn.LayerNorm):
            if module.weight is not None:
                draw(module.weight, 1.0, 0.25)
            if module.bias is not None:
                draw(module.bias, 0.0, 0.1)
        elif isinstance(module, (nn.Linear, nn.Conv2d)):
            fan_in = int(np.prod(module.weight.shape[1:]))
            # q and k wider, so the attention logits spread by about 2: peaked, not uniform.
            qk = mname.endswith(("qkv", "query", "key"))
            draw(module.weight, 0.0, (1.5 if qk else 1.0) * np.sqrt(3.0 / fan_in))
            if module.bias is not None:
                draw(module.bias, 0.0, 0.1)
    for pname, param in model.named_parameters():
        if id(param) in done:
            continue
        if "pos" in pname:
            draw(param, 0.0, 0.5)
        elif pname.endswith("gamma"):  # layer scale: gains in [0.5, 1.5]
            draw(param, 1.0, 0.5)
        else:  # class, register and distillation tokens
            draw(param, 0.0, 1.0)


# ---- The libraries' models --------------------------------------------------------------------

def build_timm(case, seed):
    import timm

    args = {k: v for k, v in case["model_args"].items() if v is not None}
    img = args["img_size"]
    model = timm.create_model(case["architecture"], pretrained=False,
                              pretrained_cfg_overlay=dict(input_size=(3, img, img)), **args)
    fill_weights(model, seed)
    return model.eval(), args


def save_timm(model, model_args, folder):
    """timm's own writer: config.json and model.safetensors as push_to_hf_hub uploads them."""
    from timm.models import _hub

    sig = inspect.signature(_hub.save_for_hf).parameters
    kwargs = {}
    if "model_args" in sig:
        kwargs["model_args"] = model_args
    if "safe_serialization" in sig:
        kwargs["safe_serialization"] = True
    _hub.save_for_hf(model, folder, **kwargs)


def build_hf(case, seed):
    import transformers

    cfg = dict(case["config"])
    labels = [f"class {chr(ord('a') + i)}" for i in range(7)]
    config_class = getattr(transformers, HF_CLASSES[case["model_class"]][0])
    config = config_class(**cfg, num_labels=len(labels),
                          id2label={i: s for i, s in enumerate(labels)},
                          label2id={s: i for i, s in enumerate(labels)})
    model = getattr(transformers, case["model_class"])(config)
    fill_weights(model, seed)
    return model.eval(), cfg


def save_hf(model, folder):
    model.save_pretrained(folder, safe_serialization=True)


def activation_name(act):
    """transformers' name for what the MLP's activation module computes, found by evaluating it
    (timm's act_layer classes have changed names across versions: GELUTanh, QuickGELU, ...)."""
    import math
    import torch

    points = [-3.0, -1.0, -0.25, 0.5, 2.0]
    forms = {
        "gelu": lambda x: 0.5 * x * (1 + math.erf(x / math.sqrt(2))),
        "gelu_pytorch_tanh": lambda x: 0.5 * x * (1 + math.tanh(
            math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))),
        "quick_gelu": lambda x: x / (1 + math.exp(-1.702 * x)),
    }
    with torch.no_grad():
        got = act(torch.tensor(points, dtype=torch.float64)).tolist()
    for name, f in forms.items():
        if all(abs(g - f(x)) <= 1e-12 * max(1.0, abs(f(x))) for g, x in zip(got, points)):
            return name
    raise SystemExit(f"the MLP's activation {type(act).__name__} is none of {list(forms)}")


def expected_config_timm(model, batch_args):
    """The model timm built, in core::config_to_json's vocabulary, read off timm's modules."""
    import torch.nn as nn

    def present(module):
        return module is not None and not isinstance(module, nn.Identity)

    block = model.blocks[0]
    act = block.mlp.act
    hidden_act = activation_name(act)
    img = model.patch_embed.img_size
    img = img[0] if isinstance(img, (tuple, list)) else img
    patch = model.patch_embed.patch_size
    patch = patch[0] if isinstance(patch, (tuple, list)) else patch
    n = model.num_classes
    labels = [f"LABEL_{i}" for i in range(n)]
    # timm's variants, written as core::config_to_json writes them: only when on.
    variants = {}
    if model.patch_embed.proj.bias is None:
        variants["vitbench_patch_bias"] = False
    if getattr(model, "no_embed_class", False):
        variants["vitbench_no_embed_class"] = True
    if present(getattr(model, "norm_pre", None)):
        variants["vitbench_pre_norm"] = True
    if present(getattr(block, "ls1", None)):
        variants["vitbench_layer_scale"] = True
    if present(getattr(model, "fc_norm", None)):
        variants["vitbench_fc_norm"] = True
    if getattr(model, "dist_token", None) is not None:
        variants["vitbench_distilled"] = True
    if getattr(model, "cls_token", None) is None:
        variants["vitbench_class_token"] = False
    if getattr(model, "num_reg_tokens", 0):
        variants["vitbench_register_tokens"] = model.num_reg_tokens
    if present(getattr(block.attn, "q_norm", None)):
        variants["vitbench_qk_norm"] = True
    return dict({
        "model_type": "vit",
        "hidden_size": model.embed_dim,
        "num_hidden_layers": len(model.blocks),
        "num_attention_heads": block.attn.num_heads,
        "intermediate_size": block.mlp.fc1.out_features,
        "image_size": int(img),
        "patch_size": int(patch),
        "num_channels": model.patch_embed.proj.in_channels,
        "layer_norm_eps": block.norm1.eps,
        "hidden_act": hidden_act,
        "qkv_bias": block.attn.qkv.bias is not None,
        "vitbench_position_embedding": "learned",
        "vitbench_pooling": "mean" if model.global_pool == "avg" else "cls",
        "num_labels": n,
        "id2label": {str(i): s for i, s in enumerate(labels)},
        "label2id": {s: i for i, s in enumerate(labels)},
    }, **variants)


def expected_config_hf(case, model):
    c = model.config
    return dict({
        "model_type": "vit",
        "hidden_size": c.hidden_size,
        "num_hidden_layers": c.num_hidden_layers,
        "num_attention_heads": c.num_attention_heads,
        "intermediate_size": c.intermediate_size,
        "image_size": c.image_size,
        "patch_size": c.patch_size,
        "num_channels": c.num_channels,
        "layer_norm_eps": c.layer_norm_eps,
        "hidden_act": c.hidden_act,
        "qkv_bias": c.qkv_bias,
        "vitbench_position_embedding": "learned",
        "vitbench_pooling": "cls",
        "num_labels": c.num_labels,
        "id2label": {str(i): s for i, s in c.id2label.items()},
        "label2id": {s: int(i) for s, i in c.label2id.items()},
    }, **HF_CLASSES[case["model_class"]][1])


# ---- Forward and taps -------------------------------------------------------------------------

def first(x):
    return x[0] if isinstance(x, (tuple, list)) else x


def tap_modules(case, model):
    """(tap name, module, 'in' or 'out') for our standard taps, where the library has them."""
    if case["library"] == "timm":
        spots = [("embed", model.blocks, "in")]
        # attn_out is what the branch adds to the residual stream: ls1's output (timm's
        # nn.Identity when the model has no layer scale).
        for i, b in enumerate(model.blocks):
            spots += [(f"block.{i}.attn_out", b.ls1, "out"), (f"block.{i}.out", b, "out")]
        return spots + [("final_norm", model.norm, "out")]
    # transformers renames its submodules between versions (v5's ViTModel has no `encoder`
    # attribute), so the spots are found by class: the embeddings' output, each ViTLayer and
    # its ViTAttention (DeiTLayer, DeiTAttention in DeiT's classes), and the LayerNorm after the
    # last layer.
    def of_class(root, name):
        return [m for _, m in root.named_modules() if type(m).__name__ == name]

    family = "DeiT" if case["model_class"].startswith("DeiT") else "ViT"
    spots = [("embed", of_class(model, family + "Embeddings")[0], "out")]
    for i, layer in enumerate(of_class(model, family + "Layer")):
        spots += [(f"block.{i}.attn_out", of_class(layer, family + "Attention")[0], "out"),
                  (f"block.{i}.out", layer, "out")]
    norms = [m for n, m in model.named_modules() if n.endswith("layernorm")]
    return spots + [("final_norm", norms[-1], "out")]


def forward(case, model, images, record):
    import torch

    taps, handles = {}, []
    if record:
        for name, module, where in tap_modules(case, model):
            def keep(value, name=name):
                taps[name] = first(value).detach().numpy().copy()
            if where == "in":
                handles.append(module.register_forward_pre_hook(
                    lambda m, args, kwargs, keep=keep: keep(
                        args[0] if args else kwargs["hidden_states"]), with_kwargs=True))
            else:
                handles.append(module.register_forward_hook(
                    lambda m, args, out, keep=keep: keep(out)))
    try:
        with torch.no_grad():
            out = model(torch.from_numpy(images).double())
    finally:
        for h in handles:
            h.remove()
    logits = out.logits if hasattr(out, "logits") else out
    return logits.detach().numpy().copy(), taps


def choose_input(case, model, shape, seed):
    """The first seed from the weight seed up whose normal images all have a clear top-1 class."""
    return first_clear_input(
        range(seed, seed + MAX_INPUT_SEEDS),
        lambda s: np.random.default_rng(s).standard_normal(shape).astype(np.float32),
        lambda images: forward(case, model, images, record=False)[0], case["name"])


# ---- Files ------------------------------------------------------------------------------------

def versions(library):
    import safetensors
    import torch
    out = {"torch": torch.__version__, "safetensors": safetensors.__version__,
           "numpy": np.__version__, "python": platform.python_version(),
           "machine": platform.machine()}
    if library == "timm":
        import timm
        out["timm"] = timm.__version__
    else:
        import transformers
        out["transformers"] = transformers.__version__
    return out


def generate_case(case, out_dir, unsupported_dir):
    seed = weights.fnv1a64(case["name"]) >> 32
    if case["library"] == "timm":
        model, args = build_timm(case, seed)
        model_class = f"timm {case['architecture']} ({type(model).__module__}.{type(model).__name__})"
    else:
        model, args = build_hf(case, seed)
        model_class = "transformers." + case["model_class"]
        print(f"{case['name']}: modules {[n for n, _ in model.named_modules()][:24]}",
              file=sys.stderr)

    with tempfile.TemporaryDirectory() as saved:
        # The folder as the library writes it, from the float32 model.
        if case["library"] == "timm":
            save_timm(model, args, saved)
        else:
            save_hf(model, saved)
        written = sorted(os.listdir(saved))
        missing = [f for f in FOLDER_FILES if f not in written]
        if missing:
            raise SystemExit(f"{case['name']}: the library wrote {written}, not {missing}")
        files = {}
        for f in FOLDER_FILES:
            with open(os.path.join(saved, f), "rb") as fh:
                files[f] = fh.read()

    model = model.double()  # float32 weights widen exactly: the folder's values, computed in f64
    channels = 3
    size = args["img_size"] if case["library"] == "timm" else args["image_size"]
    shape = (case["batch"], channels, size, size)
    input_seed, images, margins = choose_input(case, model, shape, seed)
    logits, taps = forward(case, model, images, record=case["supported"])

    files["input.npy"] = npy_bytes(images)
    files["logits.npy"] = npy_bytes(logits.astype(np.float64))
    manifest = {
        "format": "vitbench-golden" if case["supported"] else "vitbench-golden-unsupported",
        "format_version": FORMAT_VERSION,
        "case": case["name"],
        "description": case["description"],
        "config_file": "config.json",
    }
    tap_entries = []
    if case["supported"]:
        cfg = (expected_config_timm(model, args) if case["library"] == "timm"
               else expected_config_hf(case, model))
        manifest["config"] = cfg
        tokens = weights.num_tokens(cfg)  # the patches and the prefix tokens
        for name, value in taps.items():
            if value.shape != (case["batch"], tokens, cfg["hidden_size"]):
                raise SystemExit(f"{case['name']}: tap {name} is shaped {value.shape}")
            files[name + ".npy"] = npy_bytes(value.astype(np.float64))
        order = ["embed"] + [f"block.{i}.{t}" for i in range(cfg["num_hidden_layers"])
                             for t in ("attn_out", "out")] + ["final_norm"]
        for name in order:
            if name in taps:
                tap_entries.append({"name": name, "file": name + ".npy",
                                    "shape": list(taps[name].shape), "dtype": "float64"})
    else:
        manifest["variant"] = case["variant"]
    tap_entries.append({"name": "logits", "file": "logits.npy", "shape": list(logits.shape),
                        "dtype": "float64"})
    manifest["weights"] = {"model_folder": list(FOLDER_FILES), "library": case["library"],
                           "generator": "numpy.random.default_rng", "seed": seed}
    manifest["input"] = {
        "file": "input.npy", "generator": "numpy.random.default_rng(seed).standard_normal",
        "seed": input_seed, "shape": list(shape), "dtype": "float32",
        "min_top1_margin": MIN_TOP1_MARGIN, "top1_margins": [float(m) for m in margins],
        "top1_classes": [int(i) for i in np.argmax(logits, axis=1)],
    }
    manifest["taps"] = tap_entries
    manifest["files"] = {n: hashlib.sha256(d).hexdigest() for n, d in sorted(files.items())}
    if case["supported"]:
        manifest["tolerances"] = {
            "policy_version": tolerances.POLICY_VERSION,
            "classes": tolerances.policy_table(manifest["config"],
                                               [(t["name"], t["dtype"]) for t in tap_entries]),
        }
    manifest["provenance"] = dict(generator="golden/generate_folders.py",
                                  generator_version=GENERATOR_VERSION, model=model_class,
                                  model_args=args if case["library"] == "timm" else None,
                                  dtype="float64", **versions(case["library"]))

    case_dir = os.path.join(out_dir if case["supported"] else unsupported_dir, case["name"])
    os.makedirs(case_dir, exist_ok=True)
    for name, data in files.items():
        weights.write_atomically(os.path.join(case_dir, name), data)
    weights.write_atomically(os.path.join(case_dir, "manifest.json"), json_bytes(manifest))
    print(f"{case['name']}: {model_class}, input seed {input_seed}, min top-1 margin "
          f"{margins.min():.3f}, {len(tap_entries)} taps, "
          f"{sum(len(d) for d in files.values()) / 1e6:.2f} MB", flush=True)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--out", default=os.path.join(here, "folders"),
                        help="folder that receives the supported cases")
    parser.add_argument("--unsupported-out", default=os.path.join(here, "unsupported"),
                        help="folder that receives the variants this suite refuses")
    parser.add_argument("--case", action="append", default=[])
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--keep-going", action="store_true",
                        help="report a case that fails and go on with the others")
    args = parser.parse_args(argv)
    cases = CASES
    if args.list:
        for c in cases:
            print(f"{c['name']:32s} {'' if c['supported'] else '(unsupported) '}{c['description']}")
        return 0
    if args.case:
        unknown = sorted(set(args.case) - {c["name"] for c in cases})
        if unknown:
            raise SystemExit(f"unknown case(s) {unknown}")
        cases = [c for c in cases if c["name"] in args.case]
    import torch
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.unsupported_out, exist_ok=True)
    failed = []
    for case in cases:
        try:
            generate_case(case, args.out, args.unsupported_out)
        except Exception:  # noqa: BLE001  (with --keep-going, one library quirk must not stop all)
            if not args.keep_going:
                raise
            failed.append(case["name"])
            print(f"{case['name']}: FAILED", file=sys.stderr)
            traceback.print_exc()
            for folder in (args.out, args.unsupported_out):
                shutil.rmtree(os.path.join(folder, case["name"]), ignore_errors=True)
    write_index(args.out)
    write_index(args.unsupported_out)
    if failed:
        print(f"failed: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
