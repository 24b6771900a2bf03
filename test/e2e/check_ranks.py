#!/usr/bin/env python3
"""Compares a multi-rank training run with a one-rank run of the same global
batch: every step's loss and grad_norm within a relative tolerance (lr and
tokens equal), and every parameter of the final weights within the tolerance
relative to the largest magnitude of that parameter.

  check_ranks.py METRICS_A METRICS_B WEIGHTS_A WEIGHTS_B [--rtol 1e-5]
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from model_reference import load_safetensors  # noqa: E402


def load_metrics(path):
    return {m["step"]: m for m in map(json.loads, open(path))}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("metrics_a")
    p.add_argument("metrics_b")
    p.add_argument("weights_a")
    p.add_argument("weights_b")
    p.add_argument("--rtol", type=float, default=1e-5)
    args = p.parse_args()
    a, b = load_metrics(args.metrics_a), load_metrics(args.metrics_b)
    if sorted(a) != sorted(b) or not a:
        sys.exit(f"FAIL: steps {sorted(a)} != {sorted(b)}")
    for step in sorted(a):
        for key in ("lr", "tokens", "skipped"):
            if a[step][key] != b[step][key]:
                sys.exit(f"FAIL: step {step} {key} {a[step][key]} != {b[step][key]}")
        for key in ("loss", "grad_norm"):
            x, y = a[step][key], b[step][key]
            if abs(x - y) > args.rtol * abs(y):
                sys.exit(f"FAIL: step {step} {key} {x} != {y} (rtol {args.rtol})")
    wa, wb = load_safetensors(args.weights_a), load_safetensors(args.weights_b)
    if sorted(wa) != sorted(wb):
        sys.exit("FAIL: the weights files hold different parameters")
    worst = 0.0
    for name in sorted(wa):
        scale = float(wb[name].abs().max()) or 1.0
        err = float((wa[name] - wb[name]).abs().max()) / scale
        worst = max(worst, err)
        if err > args.rtol:
            sys.exit(f"FAIL: {name} differs by {err:.3g} of its largest "
                     f"magnitude (rtol {args.rtol})")
    print(f"PASS: {len(a)} steps and {len(wa)} parameters within "
          f"{args.rtol:g} (worst {worst:.2g})")


main()
