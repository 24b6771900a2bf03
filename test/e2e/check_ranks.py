#!/usr/bin/env python3
"""Compares a multi-rank training run with a one-rank run of the same global
batch: every step's loss and grad_norm within a relative tolerance (lr and
tokens equal), and every parameter of the final weights within the tolerance
relative to the largest magnitude of that parameter.

  check_ranks.py METRICS_A METRICS_B WEIGHTS_A WEIGHTS_B [--rtol 1e-5]
      [--common-steps] [--state-share LO HI]

--common-steps compares the steps both metrics files have (a resumed run's);
--state-share checks that A's optimizer_state_bytes is between LO and HI
times B's at every step (ZeRO-1: rank 0 keeps its share).
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
    p.add_argument("--common-steps", action="store_true")
    p.add_argument("--state-share", type=float, nargs=2)
    args = p.parse_args()
    a, b = load_metrics(args.metrics_a), load_metrics(args.metrics_b)
    steps = sorted(set(a) & set(b)) if args.common_steps else sorted(a)
    if not steps or (not args.common_steps and sorted(a) != sorted(b)):
        sys.exit(f"FAIL: steps {sorted(a)} != {sorted(b)}")
    share = None
    for step in steps:
        if args.state_share:
            share = a[step]["optimizer_state_bytes"] / b[step]["optimizer_state_bytes"]
            lo, hi = args.state_share
            if not lo <= share <= hi:
                sys.exit(f"FAIL: step {step} holds {share:.3f} of the optimizer "
                         f"state, not within [{lo}, {hi}]")
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
    held = f"; {share:.3f} of the optimizer state" if share is not None else ""
    print(f"PASS: {len(steps)} steps and {len(wa)} parameters within "
          f"{args.rtol:g} (worst {worst:.2g}){held}")


main()
