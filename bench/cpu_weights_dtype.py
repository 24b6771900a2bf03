#!/usr/bin/env python3
"""CPU decode and prefill with the matrix weights in f32, bf16, f16 or int8.

Compiles a config with --weights-dtype f32, bf16 and f16 (the default,
portable build; --variants adds the int8 schemes w8a16, w8a8-dynamic and
static w8a8, strata-compile --quantize; w8a8's activations are calibrated
by strata-run quantize on the f32 model's seeded weights over a
deterministic token file), times prefill and greedy decode of each with strata-run bench
(same seeded weights, same thread count, alternating runs, median; decode
is strata-run bench's decode_step_ms, the cost of one step after the
first, without the prompt's prefill), and
prints them with the ratios to f32 and each decode step's bound: the bytes
of the weights one token reads, at this machine's read bandwidth (measured
here on a 1 GiB buffer, same thread count). Run from the repository root
after a build:

    /usr/bin/python3 bench/cpu_weights_dtype.py [--config bench/configs/decode-dense.yaml]
        [--threads N]   (bench/configs/decode-moe.yaml: the Mixtral-style one)
        [--variants f32,bf16,f16,w8a16,w8a8-dynamic,w8a16+lm-head,w8a16+bf16,...]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile
import time

import torch
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_bandwidth(threads):
    """GB/s of summing a 1 GiB f32 buffer (best of 5)."""
    torch.set_num_threads(threads)
    x = torch.ones(1 << 28, dtype=torch.float32)
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        x.sum()
        best = min(best, time.perf_counter() - t)
    return x.numel() * 4 / best / 1e9


def experts_read(config):
    """The fraction of each routed expert stack one token reads: top_k / E
    (1 for a dense model)."""
    text = open(config).read()
    cfg = json.loads(text) if config.endswith(".json") else yaml.safe_load(text)
    if "model" in cfg:  # the seed's YAML
        moe = cfg["model"].get("moe") or {}
        experts, k = moe.get("num_experts", 0), moe.get("top_k", 0)
    else:  # a HuggingFace config
        experts = cfg.get("num_local_experts") or cfg.get("n_routed_experts") or 0
        k = cfg.get("num_experts_per_tok", 0)
    return k / experts if experts else 1.0


def weight_bytes(bin_dir, exe, config):
    """Bytes of the parameters one decode step reads: one row of the
    embedding table, top_k / E of each routed expert stack, every other
    parameter whole."""
    routed = experts_read(config)
    table = subprocess.run([os.path.join(bin_dir, "strata-run"), "inspect", exe,
                            "--parameters"], check=True, capture_output=True,
                           text=True).stdout
    total = 0
    for name, shape, dtype in re.findall(r"^  (\S+)\s+\[([0-9, ]+)\] (\w+)$", table, re.M):
        dims = [int(d) for d in shape.split(",")]
        n = 1
        for d in dims:
            n *= d
        if name == "model.embed_tokens.weight":
            n = dims[-1]
        if re.search(r"\.experts\.\w+$", name) and len(dims) == 3:
            n = int(n * routed)
        total += n * {"f32": 4, "bf16": 2, "f16": 2, "i8": 1, "i32": 4}[dtype]
    return total


def compile_flags(variant):
    """strata-compile flags of a --variants name: f32/bf16/f16 are
    --weights-dtype; w8a16, w8a8-dynamic --quantize, +lm-head adding
    --quantize-lm-head, +bf16 storing the float weights left (the LM head)
    in bf16."""
    if variant in ("f32", "bf16", "f16"):
        return [f"--weights-dtype={variant}"]
    scheme, _, head = variant.partition("+")
    extra = {"": [], "lm-head": ["--quantize-lm-head"],
             "bf16": ["--weights-dtype=bf16"]}[head]
    return [f"--quantize={scheme}"] + extra


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", default=os.path.join(ROOT, "bench", "configs", "decode-dense.yaml"))
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--prefill", type=int, default=64)
    p.add_argument("--decode", type=int, default=16)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--variants", default="f32,bf16,f16",
                   help="comma-separated: f32, bf16, f16 (--weights-dtype), "
                   "w8a16, w8a8-dynamic, w8a8 (--quantize; +lm-head adds "
                   "--quantize-lm-head, +bf16 stores the float LM head in "
                   "bf16); the first is the baseline")
    a = p.parse_args()
    variants = a.variants.split(",")
    bin_dir = os.path.join(a.build, "bin")
    tmp = tempfile.mkdtemp()
    exes = {}
    for v in variants:
        exes[v] = os.path.join(tmp, f"{v}.strata")
        subprocess.run([os.path.join(bin_dir, "strata-compile"), a.config, *compile_flags(v),
                        "--emit=executable", "-o", exes[v]], check=True)
    # Static w8a8 runs calibrated weights: the seeded f32 weights (those
    # --seed 1 draws for every variant) quantized and calibrated.
    weights = {v: ["--seed", "1"] for v in variants}
    static = [v for v in variants if v.partition("+")[0] == "w8a8"]
    if static:
        strata_run = os.path.join(bin_dir, "strata-run")
        f32_exe = os.path.join(tmp, "f32-weights.strata")
        subprocess.run([os.path.join(bin_dir, "strata-compile"), a.config,
                        "--weights-dtype=f32", "--emit=executable", "-o", f32_exe], check=True)
        f32_weights = os.path.join(tmp, "f32.safetensors")
        subprocess.run([strata_run, "logits", f32_exe, "--seed", "1", "--tokens", "1",
                        "--save-weights", f32_weights], check=True, capture_output=True)
        text = open(a.config).read()
        cfg = json.loads(text) if a.config.endswith(".json") else yaml.safe_load(text)
        vocab = cfg["model"]["vocab_size"] if "model" in cfg else cfg["vocab_size"]
        tokens = os.path.join(tmp, "calibration.bin")
        with open(tokens, "wb") as f:
            f.write(b"".join(((i * 7919 + 13) % vocab).to_bytes(4, "little")
                             for i in range(4 * 128)))
        for v in static:
            calibrated = os.path.join(tmp, f"{v}.safetensors")
            subprocess.run([strata_run, "quantize", exes[v], "--weights", f32_weights,
                            "--calibration-data", tokens, "--samples", "4", "--seq-len", "128",
                            "-o", calibrated], check=True, capture_output=True)
            weights[v] = ["--weights", calibrated]
    results = {k: {"prefill_ms": [], "decode_step_ms": []} for k in exes}
    for _ in range(a.rounds):
        for name, exe in exes.items():
            out = subprocess.run([os.path.join(bin_dir, "strata-run"), "bench", exe,
                                  *weights[name], "--prefill", str(a.prefill),
                                  "--decode", str(a.decode), "--repeats", str(a.repeats),
                                  "--threads", str(a.threads)],
                                 check=True, capture_output=True, text=True).stdout.split()
            d = dict(zip(out[0::2], map(float, out[1::2])))
            for k in results[name]:
                results[name][k].append(d[k])
    bandwidth = read_bandwidth(a.threads)
    med = {n: {k: statistics.median(v) for k, v in r.items()} for n, r in results.items()}
    print(f"config {os.path.basename(a.config)}, prefill {a.prefill}, decode {a.decode}, "
          f"{a.threads} thread(s), median of {a.rounds} rounds x {a.repeats}; "
          f"read bandwidth {bandwidth:.1f} GB/s")
    for n, r in med.items():
        bound = weight_bytes(bin_dir, exes[n], a.config) / (bandwidth * 1e9) * 1e3
        print(f"{n:5s} prefill_ms {r['prefill_ms']:.2f} decode_step_ms "
              f"{r['decode_step_ms']:.3f} (bound {bound:.3f}, "
              f"{r['decode_step_ms'] / bound:.2f}x it)")
    base = variants[0]
    for n in variants[1:]:
        print(f"ratio {base}/{n}: prefill {med[base]['prefill_ms'] / med[n]['prefill_ms']:.2f}x, "
              f"decode {med[base]['decode_step_ms'] / med[n]['decode_step_ms']:.2f}x "
              f"(>1: {n} faster)")


if __name__ == "__main__":
    main()
