#!/usr/bin/env python3
"""Joins a sharded checkpoint (model.safetensors.index.json and its shards)
into one safetensors file, reading each tensor from the shard the index
names — so the check below it also checks the index."""
import json
import os
import struct
import sys


def main(directory, out):
    index = json.load(open(os.path.join(directory, "model.safetensors.index.json")))
    shards = {}
    header, chunks, offset = {}, [], 0
    for name, shard in index["weight_map"].items():
        if shard not in shards:
            data = open(os.path.join(directory, shard), "rb").read()
            (n,) = struct.unpack("<Q", data[:8])
            shards[shard] = (json.loads(data[8:8 + n]), data[8 + n:])
        h, body = shards[shard]
        info = h[name]
        a, b = info["data_offsets"]
        header[name] = {"dtype": info["dtype"], "shape": info["shape"],
                        "data_offsets": [offset, offset + b - a]}
        chunks.append(body[a:b])
        offset += b - a
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
