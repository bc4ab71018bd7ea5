#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (tests/fuzz/corpus/<reader>/): small valid files of
every dialect each reader accepts, so the fuzzers start from deep inside the formats rather than
from the magic bytes. Standard library only. Re-run after a format change; the outputs are
checked in.

    python3 tests/fuzz/make_seeds.py
"""
import json
import os
import shutil
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def out(reader, name, data):
    folder = os.path.join(HERE, "corpus", reader)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def copy(reader, source, name=None):
    folder = os.path.join(HERE, "corpus", reader)
    os.makedirs(folder, exist_ok=True)
    shutil.copyfile(os.path.join(ROOT, source), os.path.join(folder, name or os.path.basename(source)))


# ---- safetensors: 8-byte little-endian header length, JSON header, data ----------------------
def f16(x):
    return struct.pack("<e", x)


def bf16(x):
    return struct.pack("<f", x)[2:]


def safetensors(tensors, metadata=None, pad=True):
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


values = [0.5, -1.25, 3.0, 0.0, -0.0, 65504.0]
out("safetensors", "f32_two_tensors", safetensors(
    [("weight", "F32", [2, 3], b"".join(struct.pack("<f", v) for v in values)),
     ("bias", "F32", [3], struct.pack("<3f", 1, 2, 3))], {"format": "pt"}))
out("safetensors", "f16_bf16", safetensors(
    [("a", "F16", [2, 2], b"".join(f16(v) for v in [1.0, -2.0, 6.1e-5, 0.0])),
     ("b", "BF16", [1, 3], b"".join(bf16(v) for v in [1.0, -3.5, 1e30]))]))
out("safetensors", "unpadded_any_order", safetensors(
    [("z.last", "F32", [1], struct.pack("<f", 7)), ("a.first", "F16", [4], f16(1) * 4)], pad=False))
out("safetensors", "empty_header", safetensors([]))
out("safetensors", "hf_vit_names", safetensors(
    [("vit.embeddings.cls_token", "F32", [1, 1, 4], struct.pack("<4f", 1, 2, 3, 4)),
     ("vit.encoder.layer.0.attention.attention.query.weight", "BF16", [2, 2], bf16(1) * 4),
     ("classifier.bias", "F16", [2], f16(0.5) * 2)], {"format": "pt", "total": "3"}))

# ---- .npy: magic, version, header length, a Python dict literal, C-order data ------------------
def npy(descr, shape, raw, version=(1, 0), fortran=False, dialect=0):
    shape_text = "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
    if dialect == 0:
        header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
            descr, "True" if fortran else "False", shape_text)
    else:  # keys in another order, double quotes, no trailing comma
        header = '{"shape": %s, "fortran_order": False, "descr": "%s"}' % (shape_text, descr)
    length_size = 2 if version[0] == 1 else 4
    prefix = 6 + 2 + length_size
    header += " " * (-(prefix + len(header) + 1) % 64) + "\n"
    length = struct.pack("<H" if length_size == 2 else "<I", len(header))
    return b"\x93NUMPY" + bytes(version) + length + header.encode("latin-1") + raw


out("npy", "f32_2x3", npy("<f4", [2, 3], struct.pack("<6f", *values)))
out("npy", "f64_nchw", npy("<f8", [1, 3, 2, 2], struct.pack("<12d", *range(12))))
out("npy", "f32_v2", npy("<f4", [4], struct.pack("<4f", 1, 2, 3, 4), version=(2, 0)))
out("npy", "f64_v3_dialect", npy("<f8", [2, 1], struct.pack("<2d", -1, 1), version=(3, 0), dialect=1))
out("npy", "f32_scalar", npy("<f4", [], struct.pack("<f", 42)))
out("npy", "f32_empty", npy("<f4", [0, 5], b""))

# ---- config.json: the golden cases' configs (every variant) and a HuggingFace-style one ---------
cases = os.path.join(ROOT, "golden", "cases")
for case in sorted(os.listdir(cases)):
    if os.path.isfile(os.path.join(cases, case, "config.json")) and not case.startswith("vit-"):
        copy("config", os.path.join("golden", "cases", case, "config.json"), case + ".json")
out("config", "hf_vit_base.json", json.dumps({
    "architectures": ["ViTForImageClassification"], "attention_probs_dropout_prob": 0.0,
    "hidden_act": "gelu_new", "hidden_dropout_prob": 0.0, "hidden_size": 24,
    "id2label": {"0": "tench", "1": "goldfish"}, "label2id": {"tench": 0, "goldfish": 1},
    "image_size": 32, "initializer_range": 0.02, "intermediate_size": 48, "layer_norm_eps": 1e-12,
    "model_type": "vit", "num_attention_heads": 4, "num_channels": 3, "num_hidden_layers": 2,
    "patch_size": 16, "qkv_bias": True, "torch_dtype": "float32"}, indent=2))
out("config", "num_labels_only.json", json.dumps({
    "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16,
    "image_size": 8, "patch_size": 4, "num_labels": 3, "hidden_act": "gelu_pytorch_tanh",
    "vitbench_position_embedding": "sincos", "vitbench_pooling": "cls"}))

# timm's own config.json (save_for_hf), for the fuzz target's fixed tensor shapes: a "tiny" with
# patch 8 at 32 px, 2 blocks, 10 classes.
out("config", "timm_vit_tiny.json", json.dumps({
    "architecture": "vit_tiny_patch8_32", "num_classes": 10, "num_features": 192,
    "global_pool": "token", "label_names": ["c%d" % i for i in range(10)],
    "model_args": {"depth": 2, "img_size": [32, 32], "act_layer": "gelu"},
    "pretrained_cfg": {"tag": "fuzz", "input_size": [3, 32, 32], "interpolation": "bicubic",
                       "crop_pct": 0.9, "crop_mode": "center", "mean": [0.5, 0.5, 0.5],
                       "std": [0.5, 0.5, 0.5], "num_classes": 10, "first_conv": "patch_embed.proj",
                       "classifier": "head"}}, indent=2))

# ---- model folder: the tiny ViT of fuzz_model_folder.cpp's config.json, under every naming -------
# D 4 in 2 heads, one block, MLP 8, 1 channel, 2x2 patches of a 4x4 image (5 tokens), 2 classes.
def tiny_model(prefix_tokens):
    """(canonical name, shape) of every parameter, timm's names; the prefix tokens are the class
    token and, with 2, the distillation token."""
    tokens = 4 + prefix_tokens
    params = [("cls_token", [1, 1, 4])]
    if prefix_tokens == 2:
        params.append(("dist_token", [1, 1, 4]))
    params += [("pos_embed", [1, tokens, 4]), ("patch_embed.proj.weight", [4, 1, 2, 2]),
               ("patch_embed.proj.bias", [4]), ("blocks.0.norm1.weight", [4]),
               ("blocks.0.norm1.bias", [4]), ("blocks.0.attn.qkv.weight", [12, 4]),
               ("blocks.0.attn.qkv.bias", [12]), ("blocks.0.attn.proj.weight", [4, 4]),
               ("blocks.0.attn.proj.bias", [4]), ("blocks.0.norm2.weight", [4]),
               ("blocks.0.norm2.bias", [4]), ("blocks.0.mlp.fc1.weight", [8, 4]),
               ("blocks.0.mlp.fc1.bias", [8]), ("blocks.0.mlp.fc2.weight", [4, 8]),
               ("blocks.0.mlp.fc2.bias", [4]), ("norm.weight", [4]), ("norm.bias", [4]),
               ("head.weight", [2, 4]), ("head.bias", [2])]
    return params


HF_BLOCK = [("norm1.", "layernorm_before."), ("norm2.", "layernorm_after."),
            ("attn.proj.", "attention.output.dense."), ("mlp.fc1.", "intermediate.dense."),
            ("mlp.fc2.", "output.dense.")]


def hf_names(params, base, head, head_dist=None):
    """transformers' state-dict names: q, k and v apart, the base model under `base`."""
    out_params = []
    for name, shape in params:
        if name.startswith("blocks.0.attn.qkv."):
            kind = name.rsplit(".", 1)[1]
            for part in ("query", "key", "value"):
                out_params.append((f"{base}.encoder.layer.0.attention.attention.{part}.{kind}",
                                   [shape[0] // 3] + shape[1:]))
            continue
        fixed = {"cls_token": "embeddings.cls_token", "dist_token": "embeddings.distillation_token",
                 "pos_embed": "embeddings.position_embeddings"}
        if name in fixed:
            name = f"{base}.{fixed[name]}"
        elif name.startswith("patch_embed.proj."):
            name = f"{base}.embeddings.patch_embeddings.projection." + name.rsplit(".", 1)[1]
        elif name.startswith("norm."):
            name = f"{base}.layernorm." + name[5:]
        elif name.startswith("head."):
            name = head + name[5:]
        elif name.startswith("head_dist."):
            name = head_dist + name[10:]
        else:
            rest = name[len("blocks.0."):]
            for timm, hf in HF_BLOCK:
                if rest.startswith(timm):
                    name = f"{base}.encoder.layer.0.{hf}{rest[len(timm):]}"
        out_params.append((name, shape))
    return out_params


def weights_file(params):
    tensors, k = [], 0
    for name, shape in params:
        n = 1
        for d in shape:
            n *= d
        tensors.append((name, "F32", shape,
                        b"".join(struct.pack("<f", ((k + i) % 7 - 3) * 0.25) for i in range(n))))
        k += n
    return safetensors(tensors, {"format": "pt"})


plain, distilled = tiny_model(1), tiny_model(2) + [("head_dist.weight", [2, 4]),
                                                   ("head_dist.bias", [2])]
out("model_folder", "timm_names", weights_file(plain))
out("model_folder", "hf_vit_names", weights_file(hf_names(plain, "vit", "classifier.")))
out("model_folder", "hf_deit_with_teacher", weights_file(
    hf_names(distilled, "deit", "cls_classifier.", "distillation_classifier.")))
out("model_folder", "hf_deit_one_head", weights_file(hf_names(tiny_model(2), "deit", "classifier.")))
out("model_folder", "timm_distilled_names", weights_file(distilled))

# ---- golden manifest: the case the fuzz target copies its files from ---------------------------
copy("golden_manifest", "golden/cases/meanpool-noqkvbias-b1/manifest.json", "meanpool-noqkvbias-b1.json")

# ---- reports: the reports tests' fixtures, the big ones cut down to a few benchmarks -----------
for name in ["missing_fields.json", "nan_timings.json", "wrong_types.json"]:
    copy("report", os.path.join("tests", "reports", "data", name))
for name in ["base.json", "machine_b.json", "new_accuracy.json"]:
    with open(os.path.join(ROOT, "tests", "reports", "data", name)) as f:
        report = json.load(f)
    seen, kept = set(), []
    for b in report.get("benchmarks", []):
        key = b.get("run_name", b.get("name"))
        if key in seen or len(seen) < 3:
            seen.add(key)
            kept.append(b)
    report["benchmarks"] = kept
    out("report", "small_" + name, json.dumps(report, indent=1))

# ---- images: the imaging tests' small fixtures, plus BMP and PPM/PGM written here -------------
for name in ["pixel_1x1.png", "noise_5x7.png", "gray_L.png", "gray_alpha_LA.png", "palette_P.png",
             "bilevel_1.png", "smooth_16x16.png", "smooth_gray.jpg", "smooth_progressive.jpg"]:
    copy("image", os.path.join("tests", "imaging", "data", name))


def bmp24(width, height):
    # Bottom-up rows of B, G, R, each padded to 4 bytes.
    stride = (3 * width + 3) // 4 * 4
    rows = b""
    for y in range(height):
        r = b"".join(bytes([(40 * x + y) % 256, (60 * y) % 256, 128 + x]) for x in range(width))
        rows += r + b"\0" * (stride - len(r))
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(rows), 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + 40 + len(rows), 0, 0, 14 + 40) + info + rows


out("image", "rgb_3x2.bmp", bmp24(3, 2))
out("image", "rgb_2x2.ppm", b"P6\n# a comment\n2 2\n255\n" + bytes(range(0, 240, 20)))
out("image", "gray_3x1.pgm", b"P5 3 1 255\n" + bytes([0, 128, 255]))


def png(width, height, color_type, bit_depth, raw_rows):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    data = b"".join(b"\0" + r for r in raw_rows)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(data)) + chunk(b"IEND", b"")


out("image", "rgb_2x2_handmade.png", png(2, 2, 2, 8, [bytes([255, 0, 0, 0, 255, 0]), bytes([0, 0, 255, 9, 9, 9])]))
