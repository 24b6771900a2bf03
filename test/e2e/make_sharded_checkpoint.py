#!/usr/bin/env python3
"""Turns an F32 safetensors file into a sharded HuggingFace checkpoint
(model.safetensors.index.json + model-0000i-of-0000n.safetensors, routed
experts one tensor per expert) in --dtype (bf16 or f16, converted by torch),
and writes its F32 twin: the same rounded values widened back to F32, one
file. Loading either must give the same tokens."""
import argparse
import json
import os
import struct

import torch


def read(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        values = torch.frombuffer(bytearray(body[a:b]), dtype=torch.float32)
        yield name, info["shape"], values.reshape(info["shape"])


def hf_tensors(path):
    """Stacked experts [E, ...] become <prefix>.experts.<e>.<proj>.weight."""
    for name, shape, values in read(path):
        proj = name.rsplit(".experts.", 1)
        if len(proj) == 2 and proj[1] in ("gate_proj", "up_proj", "down_proj",
                                          "w1", "w2", "w3"):
            for e in range(shape[0]):
                yield f"{proj[0]}.experts.{e}.{proj[1]}.weight", values[e]
        else:
            yield name, values


def write(path, tensors, dtype_name):
    header, chunks, offset = {}, [], 0
    for name, t in tensors:
        raw = t.contiguous().view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": dtype_name, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("src")
    p.add_argument("out_dir")
    p.add_argument("twin")
    p.add_argument("--dtype", choices=["bf16", "f16"], default="bf16")
    p.add_argument("--shards", type=int, default=3)
    args = p.parse_args()
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float16
    tensors = [(n, v.to(dtype)) for n, v in hf_tensors(args.src)]
    os.makedirs(args.out_dir, exist_ok=True)
    per = -(-len(tensors) // args.shards)
    weight_map = {}
    for s in range(args.shards):
        name = f"model-{s + 1:05d}-of-{args.shards:05d}.safetensors"
        part = tensors[s * per:(s + 1) * per]
        write(os.path.join(args.out_dir, name), part, args.dtype.upper())
        weight_map.update({n: name for n, _ in part})
    total = sum(v.numel() * v.element_size() for _, v in tensors)
    with open(os.path.join(args.out_dir, "model.safetensors.index.json"),
              "w") as f:
        json.dump({"metadata": {"total_size": total},
                   "weight_map": weight_map}, f, indent=2)
    write(args.twin, [(n, v.to(torch.float32)) for n, v in tensors], "F32")


if __name__ == "__main__":
    main()
