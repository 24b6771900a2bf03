"""Checks `strata-run call` results of test/e2e/Inputs/narrow_weights.mlir
(weights stored in bf16 or f16 by --weights-dtype) against PyTorch.

usage: check_narrow_weights.py ENTRY DTYPE WEIGHTS.safetensors RESULT.f32
       check_narrow_weights.py logits A.txt B.txt

`logits`: two `strata-run logits` outputs (one position per line) agree
within 1e-4 of their largest magnitude and pick the same top token at
every position (the same weights in a narrow-weight and an f32 model).

WEIGHTS are the call's own, saved as f32 (--save-dtype f32): the narrow
weights' exact values. Each weight must be representable in DTYPE (it was
stored so), and the result must match the f64 product of those values
within f32 accumulation error (1e-5 of the largest magnitude).
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from model_reference import load_safetensors  # noqa: E402



def read_logits(path):
    rows = []
    for line in open(path):
        fields = line.split()
        try:
            rows.append([float(v) for v in fields])
        except ValueError:
            continue  # a header or summary line
    return torch.tensor([r for r in rows if r], dtype=torch.float64)


if sys.argv[1] == "logits":
    a, b = read_logits(sys.argv[2]), read_logits(sys.argv[3])
    if a.shape != b.shape or a.numel() == 0:
        sys.exit(f"FAIL: logits of shapes {tuple(a.shape)} and {tuple(b.shape)}")
    err = (a - b).abs().max().item() / a.abs().max().item()
    same = bool((a.argmax(-1) == b.argmax(-1)).all())
    print(f"logits: {a.shape[0]} positions, relative difference {err:.2g}, "
          f"top tokens {'identical' if same else 'differ'}")
    sys.exit(0 if err <= 1e-4 and same else 1)

entry, dtype, weights, result = sys.argv[1:5]
P = load_safetensors(weights)
narrow = torch.bfloat16 if dtype == "bf16" else torch.float16
names = {"linear": ("x", "w", "b"), "linear_odd": ("x_odd", "w_odd", None),
         "lm_head": ("h", "head", None)}[entry]
x, w = P[names[0]].double(), P[names[1]]
if not torch.equal(w, w.to(narrow).float()):
    sys.exit(f"FAIL: weight {names[1]} is not stored as {dtype}")
ref = x @ w.double().T
if names[2]:
    ref = ref + P[names[2]].double()
ours = torch.from_file(result, size=ref.numel(), dtype=torch.float32)
err = (ours.double() - ref.reshape(-1)).abs().max().item()
scale = ref.abs().max().item()
print(f"{entry} ({dtype} weights): max abs err {err:.3g}, relative {err / scale:.3g}")
sys.exit(0 if err <= 1e-5 * scale else 1)
