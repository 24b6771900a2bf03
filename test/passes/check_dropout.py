#!/usr/bin/env python3
"""Checks training-mode dropout against a reference of its generator.

@f drops its input (p = 0.25, seed 7) before a projection and a
cross-entropy. strata-autodiff gives the dropout the step's number (the
last argument of @f_grad) and salt 1; lowered and run, @f_grad's loss and
gradients must equal torch autograd's through the mask that Python draws
from the same counter-based hash (docs/training.md: splitmix64 over seed,
salt, step, element index and the input's bits). The drop rate over the
2,048 elements is within 0.04 of p, and another step draws another mask.
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "codegen"))
from check_ops_numerics import literal, run_all  # noqa: E402
sys.path.insert(0, os.path.dirname(__file__))
from counter_hash import counter_hash, f32_bits  # noqa: E402

def keeps(x, p, seed, salt, step):
    out = [(counter_hash(seed, salt, (step, i, f32_bits(v))) >> 32) >= int(p * 4294967296.0)
           for i, v in enumerate(x.flatten().tolist())]
    return torch.tensor(out).reshape(x.shape)


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--strata-opt", required=True)
    a.add_argument("--mlir-runner", required=True)
    a.add_argument("--shared-libs", nargs="+", required=True)
    a.add_argument("--pipeline-options", default="")
    args = a.parse_args()
    g = torch.Generator().manual_seed(0)
    B, S, D, V, p = 4, 16, 32, 5, 0.25
    x = torch.randn(B, S, D, generator=g)
    w = torch.randn(V, D, generator=g)
    labels = torch.randint(0, V, (B, S), generator=g, dtype=torch.int32)
    T = lambda shape, e="f32": "tensor<" + "".join(f"{d}x" for d in shape) + e + ">"
    failed = 0
    masks = []
    for step in (5, 6):
        lines = ["func.func private @printMemrefF32(memref<*xf32>)",
                 f"func.func private @f_grad({T([B,S,D])}, {T([V,D])}, {T([B,S],'i32')}, tensor<i32>)"
                 f" -> (tensor<f32>, {T([B,S,D])}, {T([V,D])})",
                 f"""func.func @f(%x: {T([B,S,D])}, %w: {T([V,D])}, %l: {T([B,S],'i32')}) -> tensor<f32> {{
  %d = strata.dropout %x {{p = {p} : f64, seed = 7 : i64}} : {T([B,S,D])}
  %y = strata.linear %d, %w : {T([B,S,D])}, {T([V,D])}
  %r = strata.cross_entropy %y, %l : {T([B,S,V])}, {T([B,S],'i32')}
  return %r : tensor<f32>
}}""", "func.func @main() {"]
        for i, t in enumerate([x, w, labels]):
            lines.append(f"  %in{i} = arith.constant {literal(t)[0]}")
        lines.append(f"  %s = arith.constant dense<{step}> : tensor<i32>")
        lines.append(f"  %g:3 = call @f_grad(%in0, %in1, %in2, %s) : ({T([B,S,D])}, {T([V,D])}, "
                     f"{T([B,S],'i32')}, tensor<i32>) -> (tensor<f32>, {T([B,S,D])}, {T([V,D])})")
        for k, ty in enumerate(["tensor<f32>", T([B, S, D]), T([V, D])]):
            shape = ty[len("tensor<"):-1]
            lines.append(f"  %m{k} = bufferization.to_buffer %g#{k} : {ty} to memref<{shape}>")
            lines.append(f"  %u{k} = memref.cast %m{k} : memref<{shape}> to memref<*xf32>")
            lines.append(f"  call @printMemrefF32(%u{k}) : (memref<*xf32>) -> ()")
        lines += ["  return", "}"]
        got = run_all(args, "\n".join(lines) + "\n", ["--strata-autodiff=functions=f"])
        mask = keeps(x, p, 7, 1, step)
        masks.append(mask)
        xr, wr = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
        y = F.linear(xr * mask / (1 - p), wr)
        loss = F.cross_entropy(y.reshape(-1, V), labels.reshape(-1).long())
        loss.backward()
        for name, e, r in [("loss", loss.detach(), got[0]), ("x gradient", xr.grad, got[1]),
                           ("w gradient", wr.grad, got[2])]:
            if not torch.allclose(r, e.flatten(), rtol=1e-4, atol=1e-5):
                print(f"FAIL: step {step}: {name} differs from the reference mask's "
                      f"(max diff {(r - e.flatten()).abs().max():.3g})")
                failed += 1
        rate = 1 - mask.float().mean().item()
        if abs(rate - p) > 0.04:
            print(f"FAIL: step {step}: drop rate {rate:.3f}, p = {p}")
            failed += 1
        print(f"step {step}: drop rate {rate:.3f}")
    if torch.equal(masks[0], masks[1]):
        print("FAIL: steps 5 and 6 drew the same mask")
        failed += 1
    if not failed:
        print("PASS: dropout masks, loss and gradients match the reference generator")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
