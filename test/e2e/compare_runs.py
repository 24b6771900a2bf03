#!/usr/bin/env python3
"""Compares two strata-run train metrics files step by step: loss, lr,
grad_norm, tokens, skipped, loss_scale and updates (where present) must be identical
(bit for bit as printed, %.9g) for every step both have. Prints PASS with the steps compared."""
import json
import sys


def load(path):
    return {m["step"]: m for m in map(json.loads, open(path))}


a, b = load(sys.argv[1]), load(sys.argv[2])
common = sorted(set(a) & set(b))
if not common:
    sys.exit("FAIL: no common steps")
for step in common:
    for key in ("loss", "lr", "grad_norm", "tokens", "skipped", "loss_scale",
                "updates"):
        if a[step].get(key) != b[step].get(key):
            sys.exit(f"FAIL: step {step} {key} {a[step][key]} != {b[step][key]}")
print(f"PASS: steps {common[0]}-{common[-1]} identical")
