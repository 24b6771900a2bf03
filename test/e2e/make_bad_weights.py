#!/usr/bin/env python3
"""Writes corrupted variants of a valid safetensors file, one per defect."""
import json
import struct
import sys


def read(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def write(path, header, body, raw_header=None):
    text = raw_header if raw_header is not None else json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + body)


def main(src, out):
    header, body = read(src)
    names = [k for k in header if k != "__metadata__"]
    first, second = names[0], names[1]
    # A tensor the model needs is missing (its bytes removed too).
    h = dict(header)
    a, b = h.pop(first)["data_offsets"]
    for k in names[1:]:
        h[k] = dict(h[k], data_offsets=[o - (b - a) for o in h[k]["data_offsets"]])
    write(f"{out}/missing.safetensors", h, body[:a] + body[b:])
    # Same bytes, different shape.
    h = json.loads(json.dumps(header))
    shape = h[first]["shape"]
    h[first]["shape"] = [shape[-1], shape[0]] if len(shape) == 2 and shape[0] != shape[-1] else [1] + shape
    h[first]["shape"] = [int(x) for x in h[first]["shape"]]
    write(f"{out}/shape.safetensors", h, body)
    # Same size, another dtype.
    h = json.loads(json.dumps(header))
    h[first]["dtype"] = "I32"
    write(f"{out}/dtype.safetensors", h, body)
    # Truncated data.
    write(f"{out}/truncated.safetensors", header, body[:len(body) // 2])
    # Two tensors overlap: the second starts 4 bytes early.
    h = json.loads(json.dumps(header))
    s0, s1 = h[second]["data_offsets"]
    h[second]["data_offsets"] = [s0 - 4, s1 - 4]
    write(f"{out}/overlap.safetensors", h, body)
    # Not JSON.
    write(f"{out}/badjson.safetensors", None, body, raw_header=b'{"a": [1, 2')
    # A header length far beyond the file.
    with open(f"{out}/hugeheader.safetensors", "wb") as f:
        f.write(struct.pack("<Q", 1 << 60) + b"{}")
    print(first)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
