#!/usr/bin/env python3
"""Copies a safetensors file (F32 tensors), setting elements of every tensor
whose name ends with SUFFIX to VALUE (nan, inf, -inf or a number): all of
them, or only those of the first ROWS rows with ROWS given. Used to check
that NaN and Inf weights neither crash generated code nor make it
nondeterministic.

Usage: poison_weights.py SRC DST SUFFIX VALUE [ROWS]
"""
import json
import struct
import sys


def main(src, dst, suffix, value, rows=None):
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
        if rows is not None:
            row = count // info["shape"][0]
            count = min(count, rows * row)
        body[a:a + 4 * count] = struct.pack(f"<{count}f", *[value] * count)
        hit += 1
    if not hit:
        sys.exit(f"no tensor ends with {suffix}")
    with open(dst, "wb") as f:
        f.write(data[:8 + n] + bytes(body))


if __name__ == "__main__":
    rows = int(sys.argv[5]) if len(sys.argv) > 5 else None
    main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), rows)
