#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Draws resources/icons/duoscope.png (the window icon) with the standard library only.

The picture: a rounded dark-blue tile holding a 6 x 6 weight grid in which whole columns
(activation sparsity) and single cells (weight sparsity) are dark: dual sparsity at a glance,
seen through a round lens. Run once: python3 resources/icons/make_icon.py
"""
import math
import os
import struct
import zlib

SIZE = 128


def tile(x, y):
    """RGBA of pixel (x, y), anti-aliased by 4x4 supersampling."""
    acc = [0.0, 0.0, 0.0, 0.0]
    for sy in range(4):
        for sx in range(4):
            r, g, b, a = sample(x + (sx + 0.5) / 4, y + (sy + 0.5) / 4)
            acc[0] += r * a
            acc[1] += g * a
            acc[2] += b * a
            acc[3] += a
    if acc[3] == 0:
        return (0, 0, 0, 0)
    return (int(acc[0] / acc[3]), int(acc[1] / acc[3]), int(acc[2] / acc[3]), int(acc[3] / 16 * 255))


def rounded(x, y, r):
    cx = min(max(x, r), SIZE - r)
    cy = min(max(y, r), SIZE - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


# Which grid cells are kept: column 1 and 4 are skipped activations, a few single weights pruned.
SKIPPED_COLS = {1, 4}
PRUNED = {(0, 0), (2, 3), (3, 5), (5, 2), (0, 3), (2, 0), (3, 2), (5, 5)}


def sample(x, y):
    if not rounded(x, y, 22):
        return (0, 0, 0, 0)
    cx, cy = SIZE / 2, SIZE / 2
    d = math.hypot(x - cx, y - cy)
    if d > 50:
        return (25, 48, 92, 1.0)  # tile
    if d > 45:
        return (235, 240, 248, 1.0)  # lens rim
    # Inside the lens: the grid.
    g0, cell = cx - 33, 11
    i, j = int((x - g0) // cell), int((y - g0) // cell)
    if 0 <= i < 6 and 0 <= j < 6:
        fx, fy = (x - g0) % cell, (y - g0) % cell
        if 1.2 < fx < cell - 1.2 and 1.2 < fy < cell - 1.2:
            if i in SKIPPED_COLS:
                return (52, 74, 112, 1.0)
            if (i, j) in PRUNED:
                return (70, 98, 146, 1.0)
            return (255, 176, 40, 1.0)
    return (38, 64, 110, 1.0)


def write_png(path, pixels):
    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in pixels)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


if __name__ == "__main__":
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "duoscope.png")
    write_png(out, [[tile(x, y) for x in range(SIZE)] for y in range(SIZE)])
    print(out)
