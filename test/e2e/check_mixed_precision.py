#!/usr/bin/env python3
"""Checks of mixed-precision training (strata-compile --precision).

usage: check_mixed_precision.py grads F32.safetensors OTHER.safetensors --within T
       check_mixed_precision.py scaler METRICS.jsonl --init S --interval N
       check_mixed_precision.py first-update BEFORE.safetensors AFTER.safetensors --lr LR

`grads`: every gradient of the bf16 or f16 step is within T of the f32
step's on the same weights and batch (relative to each gradient's largest
magnitude), and some differ: the rounding happened.
`scaler`: the loss scale of every step follows dynamic loss scaling (torch's
GradScaler): it starts at S, halves after a skipped (overflowed) step,
doubles after N steps in a row without one; a skipped step is one whose
gradients overflowed, and at least one step skipped and one grew.
`first-update`: AFTER is BEFORE after AdamW's first applied update (lr LR,
no weight decay, no clipping), however many skipped steps came before it.
Bias-corrected, the first update moves every element by lr * g / (|g| +
eps): lr itself wherever |g| >> eps (f16 rounding changes g, not its
sign). Counting the skipped steps as updates instead (t = 13 after 12)
would move it by lr * (0.1 / (1 - 0.9^t)) / sqrt(0.001 / (1 - 0.999^t)),
0.48 lr. Passes when the median of |AFTER - BEFORE| / lr over the changed
elements is within 1% of 1.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from model_reference import load_safetensors  # noqa: E402


def grads(a):
    ref, got = load_safetensors(a.reference), load_safetensors(a.other)
    worst, differ = 0.0, 0
    for name, r in ref.items():
        g = got[name]
        scale = max(r.abs().max().item(), 1e-30)
        worst = max(worst, (g - r).abs().max().item() / scale)
        differ += int((g != r).sum())
    if worst > a.within or differ == 0:
        print(f"FAIL: worst relative difference {worst:.3g}, {differ} elements differ")
        return 1
    print(f"PASS: {len(ref)} gradients within {a.within:g} of f32 "
          f"(worst {worst:.2g}); {differ} elements differ")
    return 0


def scaler(a):
    steps = [json.loads(line) for line in open(a.metrics)]
    scale, clean, skipped, grown = a.init, 0, 0, 0
    for m in steps:
        if m["loss_scale"] != scale:
            print(f"FAIL: step {m['step']} ran with loss scale {m['loss_scale']}, expected {scale}")
            return 1
        if m["skipped"]:
            skipped += 1
            scale, clean = scale / 2, 0
        else:
            clean += 1
            if clean == a.interval:
                grown += 1
                scale, clean = scale * 2, 0
    if not skipped or not grown:
        print(f"FAIL: {skipped} skipped steps, {grown} growths: the run did not show both")
        return 1
    print(f"PASS: {len(steps)} steps follow the loss-scale rule: {skipped} skipped, "
          f"{grown} growths, last scale {scale:g}")
    return 0


def first_update(a):
    import torch
    before, after = load_safetensors(a.before), load_safetensors(a.after)
    steps = [((after[k].double() - before[k].double()).abs() / a.lr).flatten()
             for k in before]
    moved = torch.cat(steps)
    moved = moved[moved > 0]
    median = moved.median().item()
    verdict = "PASS" if abs(median - 1) < 0.01 else "FAIL"
    print(f"{verdict}: the first update moved {moved.numel()} elements by "
          f"{median:.3f} lr (median)")
    return 0 if verdict == "PASS" else 1


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("grads")
    g.add_argument("reference")
    g.add_argument("other")
    g.add_argument("--within", type=float, required=True)
    s = sub.add_parser("scaler")
    s.add_argument("metrics")
    s.add_argument("--init", type=float, required=True)
    s.add_argument("--interval", type=int, required=True)
    f = sub.add_parser("first-update")
    f.add_argument("before")
    f.add_argument("after")
    f.add_argument("--lr", type=float, required=True)
    a = p.parse_args()
    return {"grads": grads, "scaler": scaler,
            "first-update": first_update}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
