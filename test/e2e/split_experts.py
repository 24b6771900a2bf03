#!/usr/bin/env python3
"""Rewrites a safetensors file with stacked routed experts
(<prefix>.experts.gate_proj [E, F, D]) into HuggingFace's layout, one
tensor per expert (<prefix>.experts.<e>.gate_proj.weight [F, D])."""
import json
import struct
import sys


def main(src, dst):
    data = open(src, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    out_header, chunks, offset = {}, [], 0

    def add(name, shape, raw):
        nonlocal offset
        out_header[name] = {"dtype": "F32", "shape": shape,
                            "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)

    for name, info in header.items():
        a, b = info["data_offsets"]
        raw = body[a:b]
        proj = name.rsplit(".experts.", 1)
        if len(proj) == 2 and proj[1] in ("gate_proj", "up_proj", "down_proj",
                                          "w1", "w2", "w3"):
            e, *rest = info["shape"]
            size = len(raw) // e
            for i in range(e):
                add(f"{proj[0]}.experts.{i}.{proj[1]}.weight", rest,
                    raw[i * size:(i + 1) * size])
        else:
            add(name, info["shape"], raw)
    text = json.dumps(out_header).encode()
    with open(dst, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
