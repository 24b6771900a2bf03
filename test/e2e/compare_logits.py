#!/usr/bin/env python3
"""Compares two strata-run logits outputs: the same rows, every value
within TOL times the largest magnitude, and the same argmax per row.
Prints PASS with the largest difference.

    compare_logits.py A.txt B.txt TOL"""
import sys


def rows(path):
    out = []
    for line in open(path):
        try:
            values = [float(x) for x in line.split()]
        except ValueError:
            continue  # a header line
        if len(values) > 1:
            out.append(values)
    return out


a, b, tol = rows(sys.argv[1]), rows(sys.argv[2]), float(sys.argv[3])
if len(a) != len(b) or not a or any(len(x) != len(y) for x, y in zip(a, b)):
    sys.exit(f"FAIL: shapes differ ({len(a)} and {len(b)} rows)")
scale = max(abs(v) for r in a for v in r)
diff = max(abs(x - y) for r, s in zip(a, b) for x, y in zip(r, s))
if diff > tol * max(scale, 1.0):
    sys.exit(f"FAIL: max abs difference {diff:.3g} over {tol} x {scale:.3g}")
for i, (r, s) in enumerate(zip(a, b)):
    if r.index(max(r)) != s.index(max(s)):
        sys.exit(f"FAIL: row {i}: argmax {r.index(max(r))} != {s.index(max(s))}")
print(f"PASS: {len(a)} rows, max abs difference {diff:.3g} (largest value {scale:.3g}), argmax identical")
