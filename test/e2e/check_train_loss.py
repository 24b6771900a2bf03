#!/usr/bin/env python3
"""Reads a strata-run train metrics file: every loss must be finite, no
step skipped, and the mean of the last three losses below the mean of the
first three (training on a small data set that repeats every step, so the
loss falls). Prints the losses and PASS."""
import json
import math
import sys

steps = [json.loads(line) for line in open(sys.argv[1])]
losses = [m["loss"] for m in steps]
print("losses " + " ".join(f"{l:.4f}" for l in losses))
if len(losses) < 6:
    sys.exit(f"FAIL: {len(losses)} steps, expected at least 6")
if not all(math.isfinite(l) for l in losses) or any(m["skipped"] for m in steps):
    sys.exit("FAIL: a loss is not finite or a step was skipped")
first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
if not last < first:
    sys.exit(f"FAIL: the loss did not decrease ({first:.4f} -> {last:.4f})")
print(f"PASS: {len(losses)} finite losses, {first:.4f} -> {last:.4f}")
