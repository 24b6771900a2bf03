#!/usr/bin/env python3
"""CPU benchmark: Strata against the PyTorch reference, same model, same
weights, same work.

Compiles a config, saves seeded weights, then times prefill (forward over a
prompt) and greedy decode (each step recomputes the sequence: Strata has no
KV cache yet, so the reference does the same) in strata-run and in eager
PyTorch with the same thread count. Prints both and the ratios
(>1 means Strata is faster). Run from the repository root after a build:

    /usr/bin/python3 bench/cpu_vs_torch.py [--config examples/tiny.yaml]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
from model_reference import forward, load_safetensors  # noqa: E402

import json  # noqa: E402
import yaml  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", default=os.path.join(ROOT, "examples", "tiny.yaml"))
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--prefill", type=int, default=64)
    p.add_argument("--decode", type=int, default=8)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    bin_dir = os.path.join(a.build, "bin")
    tmp = tempfile.mkdtemp()
    exe = os.path.join(tmp, "model.strata")
    weights = os.path.join(tmp, "w.safetensors")
    subprocess.run([os.path.join(bin_dir, "strata-compile"), a.config,
                    "--emit=executable", "-o", exe], check=True)
    subprocess.run([os.path.join(bin_dir, "strata-run"), "logits", exe, "--seed", "1",
                    "--tokens", "1", "--save-weights", weights], check=True,
                   stdout=subprocess.DEVNULL)
    def strata(*extra):
        out = subprocess.run([os.path.join(bin_dir, "strata-run"), "bench", exe,
                              "--weights", weights, "--prefill", str(a.prefill),
                              "--decode", str(a.decode), "--repeats", str(a.repeats),
                              "--threads", str(a.threads), *extra],
                             check=True, capture_output=True, text=True).stdout.split()
        return dict(zip(out[0::2], map(float, out[1::2])))
    s = strata("--no-kv-cache")
    cached = strata()

    cfg = (json.load(open(a.config)) if a.config.endswith(".json")
           else yaml.safe_load(open(a.config)))
    P = load_safetensors(weights)
    vocab = P["model.embed_tokens.weight"].shape[0]
    tokens = torch.tensor([[(i * 7919 + 13) % vocab for i in range(a.prefill)]])
    torch.set_num_threads(a.threads)
    prefill, decode = [], []
    with torch.no_grad():
        forward(cfg, P, tokens)  # warm up
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            forward(cfg, P, tokens)
            t1 = time.perf_counter()
            seq = tokens
            for _ in range(a.decode):
                nxt = forward(cfg, P, seq)[0, -1].argmax()
                seq = torch.cat([seq, nxt.view(1, 1)], 1)
            t2 = time.perf_counter()
            prefill.append((t1 - t0) * 1000)
            decode.append((t2 - t1) * 1000 / a.decode)
    tp, td = statistics.median(prefill), statistics.median(decode)
    print(f"config {os.path.relpath(a.config, ROOT)}, prefill {a.prefill} tokens, "
          f"decode {a.decode} tokens, {a.threads} thread(s), "
          f"median of {a.repeats}")
    print(f"prefill tokens/s: strata {s['prefill_tokens_per_s']:.1f}, "
          f"pytorch {a.prefill / (tp / 1000):.1f}, "
          f"ratio {s['prefill_tokens_per_s'] / (a.prefill / (tp / 1000)):.2f}x")
    print(f"decode ms/token, both recomputing the sequence: strata "
          f"{s['decode_ms_per_token']:.3f}, pytorch {td:.3f}, "
          f"ratio {td / s['decode_ms_per_token']:.2f}x")
    print(f"decode ms/token, strata with its KV cache (where the model has one): "
          f"{cached['decode_ms_per_token']:.3f} "
          f"({s['decode_ms_per_token'] / cached['decode_ms_per_token']:.2f}x its own "
          f"recompute)")


if __name__ == "__main__":
    main()
