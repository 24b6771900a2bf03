#!/usr/bin/env python3
"""Copies a safetensors file (F32 tensors), replacing every tensor whose name
ends with SUFFIX by deterministic non-zero values: value i is
SCALE * sin(1.7 * i + 0.3). Used where seeded initialisation gives zeros
that would hide a term (DeepSeek-V3's e_score_correction_bias).

Usage: perturb_weights.py SRC DST SUFFIX SCALE
"""
import json
import math
import struct
import sys


def main(src, dst, suffix, scale):
    data = open(src, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = bytearray(data[8 + n:])
    hit = 0
    for name, info in header.items():
        if name == "__metadata__" or not name.endswith(suffix):
            continue
        a, b = info["data_offsets"]
        count = (b - a) // 4
        values = [scale * math.sin(1.7 * i + 0.3) for i in range(count)]
        body[a:b] = struct.pack(f"<{count}f", *values)
        hit += 1
    if not hit:
        sys.exit(f"no tensor ends with {suffix}")
    with open(dst, "wb") as f:
        f.write(data[:8 + n] + bytes(body))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]))
