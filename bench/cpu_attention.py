#!/usr/bin/env python3
"""CPU benchmark: flash attention (online-softmax row loops) against the
materialised lowering (scores, softmax, P·V) and eager PyTorch, on causal
multi-head attention of one sequence.

For each shape, compiles a kernel module twice (--attention=flash and
--attention=materialized), calls each with `strata-run call` on the same
seeded inputs (median of --repeats), checks both against float64 PyTorch,
and times softmax(q·kᵀ)·v in eager PyTorch with the same thread count.
Prints milliseconds and ratios (>1: flash is faster). Run from the
repository root after a build:

    /usr/bin/python3 bench/cpu_attention.py [--threads 1]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
from model_reference import load_safetensors  # noqa: E402

MODULE = """func.func @attention() -> tensor<1x{S}x{W}xf32> {{
  %q = strata.param "q" : tensor<1x{S}x{W}xf32>
  %k = strata.param "k" : tensor<1x{S}x{W}xf32>
  %v = strata.param "v" : tensor<1x{S}x{W}xf32>
  %r = strata.attention %q, %k, %v {{num_heads = {H}, num_kv_heads = {H}, head_dim = {D}, v_head_dim = {D}}}
      : tensor<1x{S}x{W}xf32>, tensor<1x{S}x{W}xf32>, tensor<1x{S}x{W}xf32>
  return %r : tensor<1x{S}x{W}xf32>
}}
"""


def reference(P, S, H, D, dtype):
    q, k, v = (P[n].to(dtype).reshape(1, S, H, D).transpose(1, 2) for n in "qkv")
    scores = q @ k.transpose(-1, -2) / D ** 0.5
    mask = torch.ones(S, S, dtype=torch.bool).tril()
    scores = scores.masked_fill(~mask, float("-inf"))
    return (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(1, S, H * D)


def strata_ms(bin_dir, exe, threads, repeats, weights, out):
    r = subprocess.run([os.path.join(bin_dir, "strata-run"), "call", exe,
                        "--entry", "attention", "--seed", "7",
                        "--save-weights", weights, "--output", out,
                        "--repeats", str(repeats), "--threads", str(threads)],
                       capture_output=True, text=True, check=True)
    return float(re.search(r"call_ms ([0-9.]+)", r.stdout).group(1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--shapes", default="512x8x64,1024x8x64,2048x8x64,1024x8x128",
                   help="S x heads x head_dim, comma-separated")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--cpu", default="x86-64-v4",
                   help="strata-compile --cpu (llc -mcpu names)")
    a = p.parse_args()
    bin_dir = os.path.join(a.build, "bin")
    torch.set_num_threads(a.threads)
    print(f"threads {a.threads}")
    print(f"{'shape':>14} {'flash ms':>9} {'mat. ms':>9} {'torch ms':>9} "
          f"{'flash/mat':>9} {'flash/torch':>11} {'rel err':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for shape in a.shapes.split(","):
            S, H, D = (int(x) for x in shape.split("x"))
            src = os.path.join(tmp, f"attn-{shape}.mlir")
            with open(src, "w") as f:
                f.write(MODULE.format(S=S, H=H, D=D, W=H * D))
            ms, err = {}, 0.0
            for kind in ("flash", "materialized"):
                exe = os.path.join(tmp, f"{kind}-{shape}.strata")
                subprocess.run([os.path.join(bin_dir, "strata-compile"), src,
                                f"--attention={kind}", f"--cpu={a.cpu}",
                                "--emit=executable", "-o", exe], check=True)
                w = os.path.join(tmp, "w.safetensors")
                out = os.path.join(tmp, "out.f32")
                ms[kind] = strata_ms(bin_dir, exe, a.threads, a.repeats, w, out)
                P = load_safetensors(w)
                got = torch.from_numpy(
                    __import__("numpy").fromfile(out, dtype="float32"))
                ref = reference(P, S, H, D, torch.float64).flatten()
                e = ((got.double() - ref).abs().max() / ref.abs().max()).item()
                if not e < 1e-4:
                    sys.exit(f"{kind} {shape}: relative error {e:.2e} against float64")
                err = max(err, e)
            times = []
            for _ in range(a.repeats):
                t0 = time.perf_counter()
                reference(P, S, H, D, torch.float32)
                times.append((time.perf_counter() - t0) * 1e3)
            t = statistics.median(times)
            print(f"{shape:>14} {ms['flash']:9.2f} {ms['materialized']:9.2f} "
                  f"{t:9.2f} {ms['materialized'] / ms['flash']:9.2f} "
                  f"{t / ms['flash']:11.2f} {err:8.1e}")


if __name__ == "__main__":
    main()
