#!/usr/bin/env python3
"""Checks attention dropout's gradient by finite differences.

loss_grad (strata-run grad, the training step's dropout at step 1) of a
model whose attention drops weights: its loss must differ from the same
model compiled without dropout (the mask is active), and the gradients of
the last layer's k_proj and v_proj weights must match central finite
differences of loss_grad's own loss. Perturbing those weights leaves the
mask alone (it is keyed by q and the position), so the differences see
the same mask: they check that the backward recomputes the forward's mask
and scales dP and the weights v's gradient reads.

Usage: check_attention_dropout.py --strata-run BIN --exe M --plain M0
         --weights W --layer N --tokens 1,2,... [--tokens ...] --work DIR
"""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from model_reference import load_safetensors, save_safetensors  # noqa: E402


def run_grad(a, exe, weights, out):
    cmd = [a.strata_run, "grad", exe, "--weights", weights, "-o", out]
    for t in a.tokens:
        cmd += ["--tokens", t]
    text = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return float(next(l for l in text.splitlines() if l.startswith("loss")).split()[1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--strata-run", required=True)
    p.add_argument("--exe", required=True)
    p.add_argument("--plain", required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--layer", type=int, required=True)
    p.add_argument("--tokens", action="append", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--eps", type=float, default=1e-2)
    a = p.parse_args()
    base = os.path.join(a.work, "grads.safetensors")
    loss = run_grad(a, a.exe, a.weights, base)
    plain = run_grad(a, a.plain, a.weights, os.path.join(a.work, "plain.safetensors"))
    failed = 0
    if abs(loss - plain) < 1e-6:
        print(f"FAIL: the loss with attention dropout equals the loss without ({loss})")
        failed += 1
    print(f"loss {loss:.6f} with attention dropout, {plain:.6f} without")
    grads = load_safetensors(base)
    weights = load_safetensors(a.weights)
    checked = 0
    for proj in ("k_proj", "v_proj"):
        name = f"model.layers.{a.layer}.self_attn.{proj}.weight"
        g = grads[name].reshape(-1)
        # The largest gradients, where a wrong mask or scale shows most.
        for i in g.abs().argsort(descending=True)[:4].tolist():
            sides = []
            for sign in (1, -1):
                w = {k: v.clone() for k, v in weights.items()}
                w[name].view(-1)[i] += sign * a.eps
                path = os.path.join(a.work, "perturbed.safetensors")
                save_safetensors(path, w)
                sides.append(run_grad(a, a.exe, path, os.path.join(a.work, "p.safetensors")))
            fd = (sides[0] - sides[1]) / (2 * a.eps)
            err = abs(fd - g[i].item())
            ok = err <= 0.02 * abs(g[i].item()) + 1e-4
            print(f"{'ok' if ok else 'FAIL'}: {name}[{i}] gradient {g[i].item():.6f}, "
                  f"finite difference {fd:.6f}")
            failed += not ok
            checked += 1
    if failed:
        sys.exit(1)
    print(f"PASS: attention dropout active; {checked} gradients match finite differences")


if __name__ == "__main__":
    main()
