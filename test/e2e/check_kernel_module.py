"""Checks `strata-run call` results of test/e2e/Inputs/kernels.mlir
against PyTorch on the weights the call saved.

usage: check_kernel_module.py ENTRY WEIGHTS.safetensors RESULT.f32
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from model_reference import load_safetensors  # noqa: E402

entry, weights, result = sys.argv[1:4]
P = load_safetensors(weights)
if entry == "gemm":
    ref = P["a"].double() @ P["b"].double()
elif entry == "attention":
    S, H, KV, D = 37, 4, 2, 8
    q = P["q"].double().reshape(1, S, H, D).transpose(1, 2)
    k = P["k"].double().reshape(1, S, KV, D).transpose(1, 2)
    v = P["v"].double().reshape(1, S, KV, D).transpose(1, 2)
    k = k.repeat_interleave(H // KV, dim=1)
    v = v.repeat_interleave(H // KV, dim=1)
    scores = q @ k.transpose(-1, -2) / D ** 0.5
    mask = torch.ones(S, S, dtype=torch.bool).tril()
    scores = scores.masked_fill(~mask, float("-inf"))
    ref = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(1, S, H * D)
else:
    sys.exit(f"unknown entry {entry}")
ours = torch.from_file(result, size=ref.numel(), dtype=torch.float32)
err = (ours.double() - ref.reshape(-1)).abs().max().item()
scale = ref.abs().max().item()
print(f"{entry}: max abs err {err:.3g}, relative {err / scale:.3g}")
sys.exit(0 if err <= 1e-5 * scale else 1)
