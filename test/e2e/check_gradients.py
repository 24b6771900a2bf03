#!/usr/bin/env python3
"""Checks whole-model gradients against torch autograd.

Runs model_reference.py's forward on the same weights and tokens, takes
the mean cross-entropy against the labels (each position's next token, the
last ignored, as strata-run grad's default), backpropagates, and compares
the loss strata-run grad printed and every parameter's gradient it wrote
(rtol 1e-4 relative to the gradient's largest magnitude). --perturb NAME
scales one of Strata's gradients by 1.01 to show the check can fail.
"""
import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F
import yaml

sys.path.insert(0, os.path.dirname(__file__))
import model_reference  # noqa: E402
from model_reference import forward, load_safetensors  # noqa: E402

# Each router call's scores and selections, for the balance loss.
routed = []
_router_ref = model_reference.router_ref


def recording_router(logits, k, sigmoid=False, **kw):
    w, idx = _router_ref(logits, k, sigmoid=sigmoid, **kw)
    routed.append((torch.sigmoid(logits) if sigmoid else torch.softmax(logits, -1), idx))
    return w, idx


model_reference.router_ref = recording_router


def balance_loss(coef):
    """Strata's router_aux_loss summed over the MoE layers:
    coef * E * sum_e f_e P_e, f_e the share of selections, P_e the mean
    renormalised score (docs/spec.md)."""
    total = 0.0
    for scores, idx in routed:
        E = scores.shape[-1]
        n = scores.shape[0] * scores.shape[1]
        f = torch.bincount(idx.reshape(-1), minlength=E).float() / (n * idx.shape[-1])
        p = (scores / scores.sum(-1, keepdim=True)).reshape(n, E).mean(0)
        total = total + coef * E * (f * p).sum()
    return total


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--gradients", required=True)
    p.add_argument("--loss", required=True, help="strata-run grad's output")
    p.add_argument("--tokens", action="append", required=True)
    p.add_argument("--rtol", type=float, default=1e-4)
    p.add_argument("--perturb", default="")
    p.add_argument("--aux-coef", type=float, default=0.0,
                   help="the router balance loss's coef (the model's @loss adds it)")
    args = p.parse_args()
    cfg = (json.load(open(args.config)) if args.config.endswith(".json")
           else yaml.safe_load(open(args.config)))
    P = {k: v.clone().requires_grad_(True) for k, v in load_safetensors(args.weights).items()}
    tokens = torch.tensor([[int(t) for t in row.split(",")] for row in args.tokens])
    labels = torch.cat([tokens[:, 1:], torch.full((tokens.shape[0], 1), -100)], 1)
    logits = forward(cfg, P, tokens)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                           ignore_index=-100)
    if args.aux_coef:
        loss = loss + balance_loss(args.aux_coef)
    loss.backward()
    got_loss = float(open(args.loss).read().split()[1])
    failed = 0
    if abs(got_loss - loss.item()) > args.rtol * abs(loss.item()):
        print(f"FAIL: loss {got_loss} != reference {loss.item()}")
        failed += 1
    grads = load_safetensors(args.gradients)
    if name := args.perturb:
        grads[name] = grads[name] * 1.01
    worst = 0.0
    for name, param in P.items():
        want = param.grad if param.grad is not None else torch.zeros_like(param)
        got = grads.get(name)
        if got is None or got.shape != want.shape:
            print(f"FAIL: {name}: missing or shaped {None if got is None else tuple(got.shape)}")
            failed += 1
            continue
        scale = want.abs().max().clamp_min(1e-12)
        err = ((got - want).abs().max() / scale).item()
        worst = max(worst, err)
        if err > args.rtol:
            print(f"FAIL: {name}: max error {err:.2e} of the gradient's largest magnitude")
            failed += 1
    if not failed:
        print(f"PASS: loss and {len(P)} gradients (worst relative error {worst:.1e})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
