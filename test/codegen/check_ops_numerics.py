#!/usr/bin/env python3
"""Checks the CPU lowering of strata ops against PyTorch.

For each case, random inputs (fixed seed) are embedded as dense constants in
a small strata program, lowered with `strata-opt --strata-lower-to-llvm-cpu`,
run with mlir-runner, and the printed result is compared with PyTorch's.
Exits non-zero, naming the case, on any mismatch.
"""
import argparse
import math
import re
import subprocess
import sys

import torch
import torch.nn.functional as F

RTOL, ATOL = 1e-4, 1e-5


def nested(values, shape):
    if not shape:
        return values[0]
    step = len(values) // shape[0]
    return "[" + ", ".join(nested(values[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])) + "]"


def literal(t):
    t = t.contiguous()
    if t.dtype == torch.int32:
        vals = [str(int(v)) for v in t.flatten().tolist()]
        elt = "i32"
    else:
        vals = [repr(float(v)) for v in t.flatten().tolist()]
        elt = "f32"
    shape = list(t.shape)
    ty = "tensor<" + "".join(f"{d}x" for d in shape) + elt + ">"
    return f"dense<{nested(vals, shape)}> : {ty}", ty


def program(inputs, body, result_type):
    """A main() that materialises `inputs` as constants, runs `body` (MLIR
    text using %in0, %in1, ...; result %r) and prints %r."""
    lines = ["func.func private @printMemrefF32(memref<*xf32>)",
             "func.func @main() {"]
    for i, t in enumerate(inputs):
        lit, ty = literal(t)
        lines.append(f"  %in{i} = arith.constant {lit}")
    lines.append(body)
    shape = result_type[len("tensor<"):-1]
    lines.append(f"  %m = bufferization.to_buffer %r : {result_type} to memref<{shape}>")
    lines.append(f"  %u = memref.cast %m : memref<{shape}> to memref<*xf32>")
    lines.append("  call @printMemrefF32(%u) : (memref<*xf32>) -> ()")
    lines.append("  return")
    lines.append("}")
    return "\n".join(lines) + "\n"


def run(args, text):
    lowered = subprocess.run([args.strata_opt, "-", "--strata-lower-to-llvm-cpu"],
                             input=text, capture_output=True, text=True)
    if lowered.returncode:
        raise RuntimeError("strata-opt failed:\n" + lowered.stderr)
    libs = ",".join(args.shared_libs)
    out = subprocess.run([args.mlir_runner, "-e", "main", "-entry-point-result=void",
                          f"-shared-libs={libs}"],
                         input=lowered.stdout, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError("mlir-runner failed:\n" + out.stderr)
    data = out.stdout.split("data =", 1)[1]
    nums = re.findall(r"-?(?:\d+\.?\d*(?:e[-+]?\d+)?|inf|nan)", data)
    return torch.tensor([float(n) for n in nums])


def cases():
    g = torch.Generator().manual_seed(0)
    rnd = lambda *s: torch.randn(*s, generator=g)
    B, S, D, O = 2, 3, 8, 5
    x, w, b = rnd(B, S, D), rnd(O, D), rnd(O)
    nw, nb = rnd(D), rnd(D)
    t = lambda shape: f"tensor<{'x'.join(map(str, shape))}xf32>"
    yield ("linear+bias", [x, w, b],
           f"  %r = strata.linear %in0, %in1, %in2 : {t([B,S,D])}, {t([O,D])}, {t([O])}",
           t([B, S, O]), x @ w.T + b)
    yield ("lm_head", [x, w],
           f"  %r = strata.lm_head %in0, %in1 : {t([B,S,D])}, {t([O,D])}",
           t([B, S, O]), x @ w.T)
    yield ("rmsnorm", [x, nw],
           f"  %r = strata.rmsnorm %in0, %in1 {{eps = 1.0e-6 : f64}} : {t([B,S,D])}, {t([D])}",
           t([B, S, D]), x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * nw)
    yield ("layernorm", [x, nw, nb],
           f"  %r = strata.layernorm %in0, %in1, %in2 : {t([B,S,D])}, {t([D])}, {t([D])}",
           t([B, S, D]), F.layer_norm(x, (D,), nw, nb, 1e-5))
    yield ("gelu", [x], f"  %r = strata.gelu %in0 : {t([B,S,D])}", t([B, S, D]), F.gelu(x))
    yield ("gelu-tanh", [x],
           f"  %r = strata.gelu %in0 {{approximate = #strata.gelu_approx<tanh>}} : {t([B,S,D])}",
           t([B, S, D]), F.gelu(x, approximate="tanh"))
    yield ("silu", [x], f"  %r = strata.silu %in0 : {t([B,S,D])}", t([B, S, D]), F.silu(x))
    y = rnd(B, S, D)
    yield ("swiglu", [x, y], f"  %r = strata.swiglu %in0, %in1 : {t([B,S,D])}",
           t([B, S, D]), F.silu(x) * y)
    yield ("add", [x, y], f"  %r = strata.add %in0, %in1 : {t([B,S,D])}", t([B, S, D]), x + y)
    logit = rnd(B, S, 1)
    yield ("sigmoid_gate", [x, logit],
           f"  %r = strata.sigmoid_gate %in0, %in1 : {t([B,S,D])}, {t([B,S,1])}",
           t([B, S, D]), x * torch.sigmoid(logit))
    table = rnd(11, D)
    tokens = torch.randint(0, 11, (B, S), generator=g, dtype=torch.int32)
    yield ("embedding", [tokens, table],
           f"  %r = strata.embedding %in0, %in1 : tensor<{B}x{S}xi32>, {t([11,D])}",
           t([B, S, D]), table[tokens.long()])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--strata-opt", required=True)
    p.add_argument("--mlir-runner", required=True)
    p.add_argument("--shared-libs", nargs="+", required=True)
    args = p.parse_args()
    failures = 0
    for name, inputs, body, rtype, expected in cases():
        got = run(args, program(inputs, body, rtype))
        exp = expected.flatten().to(torch.float32)
        ok = got.shape == exp.shape and torch.allclose(got, exp, rtol=RTOL, atol=ATOL)
        err = (got - exp).abs().max().item() if got.shape == exp.shape else math.inf
        print(f"{'PASS' if ok else 'FAIL'}: {name} (max abs err {err:.2e})")
        failures += not ok
    print(f"{len(list(cases())) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
