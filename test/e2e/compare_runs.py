#!/usr/bin/env python3
"""Compares two strata-run train metrics files step by step: loss, lr,
grad_norm, tokens, skipped, loss_scale and updates (where present) must be identical
(bit for bit as printed, %.9g) for every step both have. Prints PASS with the steps compared.

With `--rtol R`, loss and grad_norm need only agree within R relative
(mixed-precision runs whose sums were split differently); the rest stays
exact.

    compare_runs.py A.jsonl B.jsonl [--rtol R]"""
import json
import sys


def load(path):
    return {m["step"]: m for m in map(json.loads, open(path))}


args = sys.argv[1:]
rtol = None
if "--rtol" in args:
    i = args.index("--rtol")
    rtol = float(args[i + 1])
    del args[i:i + 2]
a, b = load(args[0]), load(args[1])
common = sorted(set(a) & set(b))
if not common:
    sys.exit("FAIL: no common steps")
for step in common:
    for key in ("loss", "lr", "grad_norm", "tokens", "skipped", "loss_scale",
                "updates"):
        x, y = a[step].get(key), b[step].get(key)
        if rtol is not None and key in ("loss", "grad_norm") and x and y:
            if abs(x - y) > rtol * max(abs(x), abs(y)):
                sys.exit(f"FAIL: step {step} {key} {x} != {y} (rtol {rtol})")
        elif x != y:
            sys.exit(f"FAIL: step {step} {key} {x} != {y}")
print(f"PASS: steps {common[0]}-{common[-1]} "
      + (f"within {rtol}" if rtol is not None else "identical"))
