#!/usr/bin/env python3
"""Copies a quantized safetensors file, corrupting the int8 scales tensor
NAME: `zero`, `negative` or `nan` sets its element 3 to that value; `shape`
drops its last element (a tensor one row short); `missing` removes it.

Usage: corrupt_scales.py SRC DST NAME MODE
"""
import json
import struct
import sys


def main(src, dst, name, mode):
    data = open(src, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = bytearray(data[8 + n:])
    info = header[name]
    assert info["dtype"] == "F32", name
    a, b = info["data_offsets"]
    if mode in ("zero", "negative", "nan"):
        value = {"zero": 0.0, "negative": -0.5, "nan": float("nan")}[mode]
        body[a + 12:a + 16] = struct.pack("<f", value)
    elif mode in ("shape", "missing"):
        cut = 4 if mode == "shape" else b - a
        del body[b - cut:b]
        for other in header.values():
            if isinstance(other, dict) and "data_offsets" in other and \
                    other["data_offsets"][0] >= b:
                other["data_offsets"] = [o - cut for o in other["data_offsets"]]
        if mode == "shape":
            info["shape"] = [info["shape"][0] - 1]
            info["data_offsets"] = [a, b - cut]
        else:
            del header[name]
    else:
        sys.exit(f"unknown mode {mode}")
    text = json.dumps(header).encode()
    with open(dst, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + bytes(body))


if __name__ == "__main__":
    main(*sys.argv[1:])
