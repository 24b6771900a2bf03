"""Compares two `strata-run logits` outputs: exits 1 when the largest
absolute difference exceeds `tolerance` times the largest magnitude."""
import sys

a, b, tolerance = sys.argv[1], sys.argv[2], float(sys.argv[3])
rows = [[list(map(float, line.split())) for line in open(p)] for p in (a, b)]
if len(rows[0]) != len(rows[1]) or any(
        len(x) != len(y) for x, y in zip(*rows)):
    sys.exit("shapes differ")
err = max(abs(x - y) for r, s in zip(*rows) for x, y in zip(r, s))
scale = max(abs(x) for r in rows[0] for x in r) or 1.0
print(f"max abs err {err:.3g}, relative {err / scale:.3g}")
sys.exit(0 if err <= tolerance * scale else 1)
