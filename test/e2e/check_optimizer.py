#!/usr/bin/env python3
"""Checks strata-run train's optimizer steps against PyTorch.

Replays the run on the PyTorch reference (model_reference.py, autograd)
from the same initial weights: every step is one batch holding all of the
data's windows (so the shuffle only reorders rows), the mean cross-entropy
is backpropagated, the gradients clipped with clip_grad_norm_, the
learning rate set by the documented schedule and the parameters updated by
torch.optim.AdamW, torch.optim.SGD (momentum, no dampening) or the Lion
reference below (Chen et al. 2023). Then compares each step's lr and
grad_norm with the metrics file and every final parameter with Strata's
(within --atol, 1e-5). With --bias-update-rate, routers' selection biases
(e_score_correction_bias) take no optimizer step: after each step each
moves by rate * sign(mean load - its expert's load), the loads counted
from the step's routing (DeepSeek-V3's aux-loss-free balancing). Lion's update is the sign of a blend, which is
ill-conditioned where the blend is at rounding level: elements whose blend
is below 1e-6 of the largest are excluded from the comparison, and
counted.
"""
import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F
import yaml

sys.path.insert(0, os.path.dirname(__file__))
from model_reference import forward, load_safetensors  # noqa: E402


def schedule(args, t):
    """docs/training.md: the rate of update t (1-based)."""
    lr = args.lr
    if args.schedule == "linear_warmup_cosine_decay":
        p = min(max((t - args.warmup) / (args.total - args.warmup), 0.0), 1.0)
        lr = args.lr * (args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * p)))
    if args.schedule != "constant" and args.warmup > 0 and t < args.warmup:
        lr = args.lr * t / args.warmup
    return lr


class Lion:
    def __init__(self, params, b1, b2, wd):
        self.params, self.b1, self.b2, self.wd = params, b1, b2, wd
        self.m = [torch.zeros_like(p) for p in params]
        self.ill = 0

    @torch.no_grad()
    def step(self, lr):
        masks = []
        for p, m in zip(self.params, self.m):
            blend = m * self.b1 + p.grad * (1 - self.b1)
            scale = blend.abs().max()
            masks.append(blend.abs() > 1e-6 * scale if scale > 0 else torch.ones_like(blend, dtype=torch.bool))
            p.mul_(1 - lr * self.wd)
            p.add_(torch.sign(blend), alpha=-lr)
            m.mul_(self.b2).add_(p.grad, alpha=1 - self.b2)
        return masks


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--config", required=True)
    a.add_argument("--init", required=True)
    a.add_argument("--trained", required=True)
    a.add_argument("--metrics", required=True)
    a.add_argument("--data", required=True)
    a.add_argument("--seq-len", type=int, required=True)
    a.add_argument("--steps", type=int, required=True)
    a.add_argument("--optimizer", default="adamw")
    a.add_argument("--lr", type=float, required=True)
    a.add_argument("--weight-decay", type=float, default=0.0)
    a.add_argument("--beta1", type=float, default=0.9)
    a.add_argument("--beta2", type=float, default=0.999)
    a.add_argument("--eps", type=float, default=1e-8)
    a.add_argument("--clip", type=float, default=0.0)
    a.add_argument("--schedule", default="constant")
    a.add_argument("--warmup", type=int, default=0)
    a.add_argument("--total", type=int, default=0)
    a.add_argument("--min-lr-ratio", type=float, default=0.0)
    a.add_argument("--atol", type=float, default=1e-5)
    a.add_argument("--bias-update-rate", type=float, default=0.0)
    args = a.parse_args()

    cfg = (json.load(open(args.config)) if args.config.endswith(".json")
           else yaml.safe_load(open(args.config)))
    P = {k: v.clone().requires_grad_(True) for k, v in load_safetensors(args.init).items()}
    data = torch.frombuffer(bytearray(open(args.data, "rb").read()), dtype=torch.int32).long()
    T = args.seq_len
    n = (len(data) - 1) // T
    assert n * T + 1 == len(data), "the data must be whole windows"
    tokens = torch.stack([data[w * T:w * T + T] for w in range(n)])
    labels = torch.stack([data[w * T + 1:w * T + T + 1] for w in range(n)])
    balanced = [k for k in P if k.endswith("e_score_correction_bias")] if args.bias_update_rate else []
    params = [v for k, v in P.items() if k not in balanced]
    if args.optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=args.lr, betas=(args.beta1, args.beta2),
                                eps=args.eps, weight_decay=args.weight_decay)
    elif args.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=args.lr, momentum=args.beta1,
                              weight_decay=args.weight_decay)
    else:
        opt = Lion(params, args.beta1, args.beta2, args.weight_decay)
    metrics = [json.loads(line) for line in open(args.metrics)]
    failed = 0
    masks = None
    for t in range(1, args.steps + 1):
        for p in params:
            p.grad = None
        routing = {}
        logits = forward(cfg, P, tokens, routing)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, args.clip if args.clip > 0 else float("inf"))
        lr = schedule(args, t)
        got = metrics[t - 1]
        if abs(got["loss"] - loss.item()) > 1e-4 * abs(loss.item()):
            print(f"FAIL: step {t} loss {got['loss']} != reference {loss.item()}")
            failed += 1
        if abs(got["lr"] - lr) > 1e-6 * lr:
            print(f"FAIL: step {t} lr {got['lr']} != reference {lr}")
            failed += 1
        if abs(got["grad_norm"] - norm.item()) > 1e-4 * norm.item():
            print(f"FAIL: step {t} grad_norm {got['grad_norm']} != reference {norm.item()}")
            failed += 1
        with torch.no_grad():
            for name in balanced:
                idx = routing[name[:-len(".e_score_correction_bias")]]
                load = torch.bincount(idx.reshape(-1), minlength=P[name].numel()).float()
                P[name].add_(torch.sign(load.mean() - load), alpha=args.bias_update_rate)
        if isinstance(opt, Lion):
            step_masks = opt.step(lr)
            masks = step_masks if masks is None else [m & s for m, s in zip(masks, step_masks)]
        else:
            for g in opt.param_groups:
                g["lr"] = lr
            opt.step()
    trained = load_safetensors(args.trained)
    excluded = 0
    init = load_safetensors(args.init)
    moved = 0
    for name in balanced:
        moved += int((trained[name] != init[name]).sum())
        err = (trained[name] - P[name].detach()).abs().max().item()
        if err > args.atol:
            print(f"FAIL: {name}: max error {err:.3g} after {args.steps} steps")
            failed += 1
    if balanced and not moved:
        print("FAIL: no selection bias moved")
        failed += 1
    for i, (name, ref) in enumerate((k, v) for k, v in P.items() if k not in balanced):
        mine = trained[name]
        diff = (mine - ref.detach()).abs()
        if masks is not None:
            excluded += int((~masks[i]).sum())
            diff = diff[masks[i]]
        err = diff.max().item() if diff.numel() else 0.0
        if err > args.atol:
            print(f"FAIL: {name}: max error {err:.3g} after {args.steps} steps")
            failed += 1
    if failed:
        sys.exit(1)
    print(f"PASS: {args.optimizer}: {args.steps} steps, {len(P)} parameters "
          f"within {args.atol}" + (f" ({excluded} ill-conditioned sign elements excluded)"
                                    if masks is not None else "")
          + (f"; {len(balanced)} balanced selection biases, {moved} elements moved"
             if balanced else ""))


if __name__ == "__main__":
    main()
