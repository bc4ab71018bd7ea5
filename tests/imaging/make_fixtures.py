#!/usr/bin/python3
"""Writes tests/imaging/data/: images and the values an independent implementation computes
from them, for tests/imaging/*.cpp. The C++ tests never run Python; rerun this only to change the
cases, then commit the outputs (the manifest records the PIL and numpy versions used).

    /usr/bin/python3 tests/imaging/make_fixtures.py     # Debian 12: python3-pil, python3-numpy

The independent implementation is PIL itself for resampling and decoding, and numpy code that
follows transformers' image processors step by step (transformers is not a Debian package, so
its functions are transcribed below with their names; their source is in
transformers/image_transforms.py and image_processing_utils.py, v4.3x):
  resize       -> PIL.Image.resize((w, h), resample, reducing_gap=None) on the uint8 image
  center_crop  -> image_transforms.center_crop (window at floor((size - crop) / 2), zero padding)
  rescale      -> (image.astype(np.float64) * scale).astype(np.float32)
  normalize    -> (image - mean.astype(float32)) / std.astype(float32), in float32
timm folders are preprocessed by timm's eval transform (timm/data/transforms_factory.py,
transforms_imagenet_eval, with resolve_data_config's defaults), whose steps are torchvision's on a
PIL image, transcribed the same way:
  Resize(int)  -> shorter side to floor(size / crop_pct), the other int(new_short * long / short)
                  (torchvision's _compute_resized_output_size), then PIL resize as above
  CenterCrop   -> window at int(round((size - crop) / 2.0)) (Python's round: half to even); where
                  the crop is larger, zero padding of (crop - size) // 2 before the image
  ToTensor     -> image.astype(float32) / float32(255)
  Normalize    -> (x - float32(mean)) / float32(std)
Expected images are stored as binary PPM (P6), which the tests parse by hand, so a decoder bug
cannot hide in both the input and the expectation.
"""
import io
import json
import math
import struct
import zlib
from pathlib import Path

import numpy as np
import PIL
from PIL import Image

OUT = Path(__file__).resolve().parent / "data"


def ppm_bytes(array):
    h, w, _ = array.shape
    return b"P6\n%d %d\n255\n" % (w, h) + array.astype(np.uint8).tobytes()


def write(name, data):
    (OUT / name).write_bytes(data)


def png_bytes(image, **kwargs):
    buf = io.BytesIO()
    image.save(buf, format="PNG", **kwargs)
    return buf.getvalue()


def npy_float32(array):
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array, dtype=np.float32))
    return buf.getvalue()


def noise(h, w, seed):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def smooth(h, w):
    """Gradients and a disc: what JPEG is for (noise would make its error meaningless)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255 * x / max(w - 1, 1)
    g = 255 * y / max(h - 1, 1)
    b = np.where((x - w / 2) ** 2 + (y - h / 2) ** 2 < (min(h, w) / 3) ** 2, 220.0, 40.0)
    return np.stack([r, g, b], axis=-1).round().astype(np.uint8)


# ---- transformers' steps, transcribed ---------------------------------------------------------

def hf_resize_output_size(h, w, size):
    if "height" in size:
        return size["height"], size["width"]
    # get_resize_output_image_size(default_to_square=False)
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size["shortest_edge"], int(size["shortest_edge"] * long / short)
    return (new_long, new_short) if w <= h else (new_short, new_long)


def hf_center_crop(image, crop_h, crop_w):
    orig_h, orig_w = image.shape[:2]
    top = (orig_h - crop_h) // 2
    bottom = top + crop_h
    left = (orig_w - crop_w) // 2
    right = left + crop_w
    if top >= 0 and bottom <= orig_h and left >= 0 and right <= orig_w:
        return image[top:bottom, left:right]
    new_h, new_w = max(crop_h, orig_h), max(crop_w, orig_w)
    new_image = np.zeros((new_h, new_w) + image.shape[2:], dtype=image.dtype)
    top_pad = int(np.ceil((new_h - orig_h) / 2))
    left_pad = int(np.ceil((new_w - orig_w) / 2))
    new_image[top_pad:top_pad + orig_h, left_pad:left_pad + orig_w] = image
    top += top_pad
    bottom += top_pad
    left += left_pad
    right += left_pad
    return new_image[max(0, top):min(new_h, bottom), max(0, left):min(new_w, right)]


def as_size(value):
    return {"height": value, "width": value} if isinstance(value, int) else value


def hf_preprocess(image, cfg, image_size):
    """ViTImageProcessor.preprocess (and its DeiT/CLIP/BiT siblings' order of steps)."""
    size = as_size(cfg.get("size", image_size))
    crop = as_size(cfg.get("crop_size", image_size))
    if cfg.get("do_resize", True):
        h, w = hf_resize_output_size(image.shape[0], image.shape[1], size)
        image = np.array(Image.fromarray(image).resize((w, h), resample=cfg.get("resample", 2),
                                                       reducing_gap=None))
    if cfg.get("do_center_crop", False):
        image = hf_center_crop(image, crop["height"], crop["width"])
    if cfg.get("do_rescale", True):
        image = (image.astype(np.float64) * cfg.get("rescale_factor", 1 / 255)).astype(np.float32)
    if cfg.get("do_normalize", True):
        image = image.astype(np.float32) if not np.issubdtype(image.dtype, np.floating) else image
        mean = cfg.get("image_mean", [0.5, 0.5, 0.5])
        std = cfg.get("image_std", [0.5, 0.5, 0.5])
        mean = np.array([mean] * 3 if np.isscalar(mean) else mean, dtype=image.dtype)
        std = np.array([std] * 3 if np.isscalar(std) else std, dtype=image.dtype)
        image = (image - mean) / std
    return np.transpose(image.astype(np.float32), (2, 0, 1))  # to [C, H, W]


# ---- timm's eval transform (torchvision's steps), transcribed -----------------------------------

def tv_center_crop(image, crop_h, crop_w):
    h, w = image.shape[:2]
    if crop_w > w or crop_h > h:
        left = (crop_w - w) // 2 if crop_w > w else 0
        top = (crop_h - h) // 2 if crop_h > h else 0
        right = (crop_w - w + 1) // 2 if crop_w > w else 0
        bottom = (crop_h - h + 1) // 2 if crop_h > h else 0
        padded = np.zeros((h + top + bottom, w + left + right) + image.shape[2:], dtype=image.dtype)
        padded[top:top + h, left:left + w] = image
        image = padded
        h, w = image.shape[:2]
        if (h, w) == (crop_h, crop_w):
            return image
    top = int(round((h - crop_h) / 2.0))
    left = int(round((w - crop_w) / 2.0))
    return image[top:top + crop_h, left:left + crop_w]


def timm_preprocess(image, cfg, image_size):
    _, size_h, size_w = cfg.get("input_size") or (3, image_size, image_size)
    crop_pct = cfg.get("crop_pct") or 0.875
    resample = {"bilinear": 2, "bicubic": 3}[cfg.get("interpolation") or "bicubic"]
    scale_h, scale_w = math.floor(size_h / crop_pct), math.floor(size_w / crop_pct)
    h, w = image.shape[:2]
    if (cfg.get("crop_mode") or "center") == "squash":
        new_h, new_w = scale_h, scale_w
    else:
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = scale_h, int(scale_h * long / short)
        new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    if (new_h, new_w) != (h, w):
        image = np.array(Image.fromarray(image).resize((new_w, new_h), resample=resample))
    image = tv_center_crop(image, size_h, size_w)
    x = image.astype(np.float32) / np.float32(255)
    mean = np.array(cfg.get("mean", [0.485, 0.456, 0.406]), dtype=np.float32)
    std = np.array(cfg.get("std", [0.229, 0.224, 0.225]), dtype=np.float32)
    return np.transpose((x - mean) / std, (2, 0, 1))


# ---- a 16-bit RGB PNG, which PIL cannot write ------------------------------------------------

def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def rgb16_png(h, w):
    rows = b"".join(b"\x00" + struct.pack(">%dH" % (3 * w), *range(y * 3 * w * 257 % 60000,
                                                                   y * 3 * w * 257 % 60000 + 3 * w))
                    for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)) +
            png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b""))


def main():
    OUT.mkdir(exist_ok=True)
    manifest = {"generator": "tests/imaging/make_fixtures.py", "pillow": PIL.__version__,
                "numpy": np.__version__, "resize": [], "decode": [], "preprocess": []}

    # Sources. noise: every rounding decision visible; 1x1: the degenerate upscale.
    sources = {"noise_37x23.png": noise(23, 37, 1), "noise_5x7.png": noise(7, 5, 2),
               "pixel_1x1.png": noise(1, 1, 3), "smooth_40x30.png": smooth(30, 40)}
    for name, array in sources.items():
        write(name, png_bytes(Image.fromarray(array)))

    # Resizes: down, up, one axis only (the other pass is skipped), and a 12x downscale where the
    # antialiasing support spans many pixels.
    resizes = [("noise_37x23.png", 16, 16), ("noise_37x23.png", 64, 40), ("noise_37x23.png", 37, 11),
               ("noise_37x23.png", 19, 23), ("noise_37x23.png", 3, 2), ("noise_5x7.png", 24, 9),
               ("pixel_1x1.png", 8, 5)]
    for resample, rname in ((2, "bilinear"), (3, "bicubic")):
        for source, w, h in resizes:
            out = np.array(Image.fromarray(sources[source]).resize((w, h), resample=resample,
                                                                   reducing_gap=None))
            expected = "resize_%s_%s_%dx%d.ppm" % (rname, source[:-4], w, h)
            write(expected, ppm_bytes(out))
            manifest["resize"].append({"source": source, "width": w, "height": h,
                                       "resample": rname, "expected": expected})

    # Decoding: PNG colour types against PIL's convert("RGB") (what HF's load_image applies), and a
    # JPEG against PIL's (libjpeg-turbo's) decoding of the same file.
    s = sources["smooth_40x30.png"]
    rgba = np.concatenate([s, noise(30, 40, 4)[..., :1]], axis=-1)
    decodes = {
        "gray_L.png": png_bytes(Image.fromarray(s).convert("L")),
        "gray_alpha_LA.png": png_bytes(Image.fromarray(rgba).convert("LA")),
        "rgba.png": png_bytes(Image.fromarray(rgba, "RGBA")),
        "palette_P.png": png_bytes(Image.fromarray(s).convert("P", palette=Image.ADAPTIVE, colors=16)),
        "bilevel_1.png": png_bytes(Image.fromarray(s).convert("1")),
        "smooth_q90.jpg": None,
        "smooth_progressive.jpg": None,
        "smooth_gray.jpg": None,
    }
    buf = io.BytesIO()
    Image.fromarray(s).save(buf, format="JPEG", quality=90)  # 4:2:0 chroma, as most photos
    decodes["smooth_q90.jpg"] = buf.getvalue()
    buf = io.BytesIO()
    Image.fromarray(s).save(buf, format="JPEG", quality=90, progressive=True)
    decodes["smooth_progressive.jpg"] = buf.getvalue()
    buf = io.BytesIO()
    Image.fromarray(s).convert("L").save(buf, format="JPEG", quality=90)
    decodes["smooth_gray.jpg"] = buf.getvalue()
    for name, data in decodes.items():
        write(name, data)
        expected = name.rsplit(".", 1)[0] + ".expected.ppm"
        write(expected, ppm_bytes(np.array(Image.open(io.BytesIO(data)).convert("RGB"))))
        manifest["decode"].append({"file": name, "expected": expected,
                                   "lossy": name.endswith(".jpg")})

    # 16-bit files, which are refused.
    write("gray16.png", png_bytes(Image.fromarray(
        (np.arange(12 * 10, dtype=np.uint16).reshape(10, 12) * 500), "I;16")))
    write("rgb16.png", rgb16_png(6, 5))

    # Whole preprocessing, one case per option, model image_size 16.
    cases = [
        ("defaults", "noise_37x23.png", None),
        ("legacy_int_size", "noise_37x23.png", {"size": 16, "resample": 2}),
        ("deit_bicubic_crop", "noise_37x23.png",
         {"do_resize": True, "size": {"height": 20, "width": 20}, "resample": 3,
          "do_center_crop": True, "crop_size": {"height": 16, "width": 16},
          "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
          "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}),
        ("shortest_edge_crop", "noise_37x23.png",
         {"size": {"shortest_edge": 18}, "resample": 3, "do_center_crop": True,
          "crop_size": {"height": 16, "width": 16}}),
        ("shortest_edge_portrait", "noise_5x7.png",
         {"size": {"shortest_edge": 16}, "do_center_crop": True, "crop_size": 16}),
        ("crop_pads", "noise_37x23.png",
         {"size": {"height": 12, "width": 10}, "do_center_crop": True,
          "crop_size": {"height": 16, "width": 16}}),
        ("no_resize_no_rescale", "smooth_16x16.png",
         {"do_resize": False, "do_rescale": False, "image_mean": [100, 110, 120], "image_std": 50}),
        ("no_normalize_custom_rescale", "noise_37x23.png",
         {"do_normalize": False, "rescale_factor": 0.5, "resample": 3}),
        ("upscale_1x1", "pixel_1x1.png", {}),
    ]
    write("smooth_16x16.png", png_bytes(Image.fromarray(smooth(16, 16))))
    sources["smooth_16x16.png"] = smooth(16, 16)
    for name, source, cfg in cases:
        expected = "pre_%s.npy" % name
        write(expected, npy_float32(hf_preprocess(sources[source], cfg or {}, 16)))
        manifest["preprocess"].append({"name": name, "image": source, "preprocessor": cfg,
                                       "image_size": 16, "expected": expected})

    # timm's eval transform, one case per option of pretrained_cfg, model image_size 16. crop_pct
    # 0.84 scales to 19 px, so the crops differ by odd numbers (3 px: torchvision's corner 2, HF's
    # 1); squash with crop_pct 1.2 pads 13 px to 16 (torchvision: 1 px before, HF: 2).
    timm_cases = [
        ("defaults", "noise_37x23.png", {}),
        ("hub_fields", "noise_37x23.png",
         {"tag": "augreg_in21k_ft_in1k", "input_size": [3, 16, 16], "fixed_input_size": True,
          "interpolation": "bicubic", "crop_pct": 0.9, "crop_mode": "center",
          "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "num_classes": 1000,
          "first_conv": "patch_embed.proj", "classifier": "head"}),
        ("odd_crop_landscape", "noise_37x23.png",
         {"crop_pct": 0.84, "interpolation": "bilinear", "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.3, 0.4]}),
        ("odd_crop_portrait", "noise_5x7.png", {"crop_pct": 0.84}),
        ("squash", "noise_37x23.png", {"crop_mode": "squash", "crop_pct": 0.9}),
        ("squash_pads", "smooth_40x30.png", {"crop_mode": "squash", "crop_pct": 1.2}),
        ("upscale_1x1", "pixel_1x1.png", {"crop_pct": None, "crop_mode": None}),
    ]
    manifest["timm_preprocess"] = []
    for name, source, cfg in timm_cases:
        expected = "timm_%s.npy" % name
        write(expected, npy_float32(timm_preprocess(sources[source], cfg, 16)))
        manifest["timm_preprocess"].append({"name": name, "image": source, "pretrained_cfg": cfg,
                                            "image_size": 16, "expected": expected})

    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
