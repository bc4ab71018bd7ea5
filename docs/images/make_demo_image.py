#!/usr/bin/python3
"""Draws docs/images/demo_scene.png, the README's example input: a procedurally generated scene
(sky gradient, sun, hills, a house), so the picture raises no licence question. Python standard
library only; the output is byte-for-byte reproducible.

    /usr/bin/python3 docs/images/make_demo_image.py
"""
import math
import struct
import zlib
from pathlib import Path

W = H = 224


def pixel(x, y):
    # Sky: a vertical gradient from deep to pale blue.
    t = y / (H - 1)
    r, g, b = 70 + 120 * t, 130 + 90 * t, 220 + 30 * t
    # Sun, with a soft edge.
    d = math.hypot(x - 170, y - 52)
    if d < 26:
        r, g, b = 255, 214, 80
    elif d < 32:
        k = (d - 26) / 6
        r, g, b = 255 * (1 - k) + r * k, 214 * (1 - k) + g * k, 80 * (1 - k) + b * k
    # Two hills.
    if y > 150 - 40 * math.exp(-((x - 60) / 45) ** 2) or y > 165 - 30 * math.exp(-((x - 180) / 50) ** 2):
        shade = 0.85 + 0.15 * math.sin(x / 9) * math.sin(y / 7)
        r, g, b = 60 * shade, 150 * shade, 70 * shade
    # A house: red walls, a dark roof, a yellow window, a brown door.
    if 40 <= x < 100 and 120 <= y < 170:
        r, g, b = 190, 60, 50
        if 50 <= x < 66 and 132 <= y < 148:
            r, g, b = 250, 230, 120
        if 76 <= x < 90 and 140 <= y < 170:
            r, g, b = 100, 60, 30
    if 120 > y >= 88 + abs(x - 70) * 0.9 and 32 <= x < 108:
        r, g, b = 60, 50, 60
    return bytes((int(round(r)), int(round(g)), int(round(b))))


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def main():
    rows = b"".join(b"\x00" + b"".join(pixel(x, y) for x in range(W)) for y in range(H))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0)) +
           chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))
    (Path(__file__).resolve().parent / "demo_scene.png").write_bytes(png)


if __name__ == "__main__":
    main()
