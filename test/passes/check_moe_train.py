#!/usr/bin/env python3
"""Checks training-mode router noise and expert capacity against a
reference of their generator and drop rule under torch autograd.

@f routes `logits` (an argument, so that the reference hashes the same
bits) through a softmax router with noise_std > 0 and norm_topk_prob,
adds the router balance loss, runs the routed experts (with and without a
capacity factor), projects to a vocabulary and takes the cross-entropy.
strata-autodiff gives the router the step (the last argument of @f_grad)
and salt 1, and puts strata.expert_capacity before the experts. Lowered
and run, @f_grad's loss and gradients must equal torch autograd's through
the noise Python draws from the same counter-based hash (Box-Muller over
splitmix64 of seed, salt, step, element index and the logit's bits) and
the same drop rule (per expert, the first ceil(cf * P / E) (token, slot)
assignments in token-then-slot order are kept).

Also run directly: a router with a step on zero logits (sigmoid scoring,
so that its scores give the noise back: noise = logit(score)) against the
reference noise, and strata.expert_capacity on fixed indices against the
reference mask and dropped count.
"""
import argparse
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "codegen"))
from check_ops_numerics import literal, run_all  # noqa: E402
sys.path.insert(0, os.path.dirname(__file__))
from counter_hash import counter_hash, f32_bits  # noqa: E402

def normal(h):
    u1 = ((h >> 40) + 1) / 2.0**24
    u2 = ((h >> 8) & 0xFFFFFF) / 2.0**24
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def noise(logits, seed, salt, step):
    out = []
    for i, v in enumerate(logits.flatten().tolist()):
        out.append(normal(counter_hash(seed, salt, (step, i, f32_bits(v)))))
    return torch.tensor(out, dtype=torch.float32).reshape(logits.shape)


def capacity_keep(indices, num_experts, cf):
    pairs = indices.numel()
    cap = math.ceil(cf * pairs / num_experts)
    counts = [0] * num_experts
    keep = []
    for e in indices.flatten().tolist():
        keep.append(counts[e] < cap)
        counts[e] += 1
    return torch.tensor(keep).reshape(indices.shape), cap


def T(shape, e="f32"):
    return "tensor<" + "".join(f"{d}x" for d in shape) + e + ">"


def print_lines(values):
    lines = []
    for k, (v, ty, elt) in enumerate(values):
        shape = ty[len("tensor<"):-1]
        fn = "printMemrefF32" if elt == "f32" else "printMemrefI32"
        lines.append(f"  %m{k} = bufferization.to_buffer {v} : {ty} to memref<{shape}>")
        lines.append(f"  %u{k} = memref.cast %m{k} : memref<{shape}> to memref<*x{elt}>")
        lines.append(f"  call @{fn}(%u{k}) : (memref<*x{elt}>) -> ()")
    return lines


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--strata-opt", required=True)
    a.add_argument("--mlir-runner", required=True)
    a.add_argument("--shared-libs", nargs="+", required=True)
    a.add_argument("--pipeline-options", default="")
    args = a.parse_args()
    g = torch.Generator().manual_seed(0)
    B, S, D, E, K, Fw, V = 2, 8, 16, 4, 2, 12, 7
    NS, SEED, COEF, STEP = 0.5, 7, 0.1, 9
    x = torch.randn(B, S, D, generator=g)
    logits = torch.randn(B, S, E, generator=g)
    gate = torch.randn(E, Fw, D, generator=g) * 0.3
    up = torch.randn(E, Fw, D, generator=g) * 0.3
    down = torch.randn(E, D, Fw, generator=g) * 0.3
    wo = torch.randn(V, D, generator=g) * 0.3
    labels = torch.randint(0, V, (B, S), generator=g, dtype=torch.int32)
    inputs = [x, logits, gate, up, down, wo, labels]
    types = [T([B, S, D]), T([B, S, E]), T([E, Fw, D]), T([E, Fw, D]), T([E, D, Fw]),
             T([V, D]), T([B, S], "i32")]
    grad_types = [T([B, S, D]), T([B, S, E]), T([E, Fw, D]), T([E, Fw, D]),
                  T([E, D, Fw]), T([V, D])]
    # Direct checks: noise on zero logits, the capacity mask on fixed ids.
    NZ = (4, 32, 8)
    ids = torch.randint(0, E, (B, S, K), generator=g, dtype=torch.int32)
    ids[0, :, 0] = 1  # a popular expert, so that some assignments drop
    wts = torch.rand(B, S, K, generator=g)
    failed = 0

    def check(what, got, want, rtol=1e-4, atol=1e-5):
        nonlocal failed
        diff = (got - want.flatten()).abs().max().item()
        ok = torch.allclose(got, want.flatten().float(), rtol=rtol, atol=atol)
        print(f"{what}: max diff {diff:.3g}" + ("" if ok else "  FAIL"))
        if not ok:
            failed += 1

    for cf in (0.0, 0.75):
        moe_types = ", ".join([T([B, S, D]), T([B, S, K]), T([B, S, K], "i32"),
                               T([E, Fw, D]), T([E, Fw, D]), T([E, D, Fw])])
        # With a capacity, @f_grad's second result counts the dropped
        # assignments.
        off = 1 if cf > 0 else 0
        result_list = ["tensor<f32>"] + ["tensor<i32>"] * off + grad_types
        result_types = ", ".join(result_list)
        lines = ["func.func private @printMemrefF32(memref<*xf32>)",
                 "func.func private @printMemrefI32(memref<*xi32>)",
                 f"func.func private @f_grad({', '.join(types)}, tensor<i32>) -> ({result_types})",
                 f"""func.func @f(%x: {types[0]}, %lg: {types[1]}, %g: {types[2]}, %u: {types[3]}, %d: {types[4]}, %wo: {types[5]}, %l: {types[6]}) -> tensor<f32> {{
  %w, %i, %s = strata.router %lg {{num_experts = {E}, top_k = {K}, norm_topk_prob = true, noise_std = {NS} : f64, seed = {SEED}}} : {T([B, S, E])}
  %a = strata.router_aux_loss %s, %i {{coef = {COEF} : f64}} : {T([B, S, E])}, {T([B, S, K], 'i32')}
  %y = strata.moe_experts %x, %w, %i experts(%g, %u, %d) {{num_experts = {E}, top_k = {K}, capacity_factor = {cf} : f64}} : {moe_types}
  %o = strata.linear %y, %wo : {T([B, S, D])}, {T([V, D])}
  %c = strata.cross_entropy %o, %l : {T([B, S, V])}, {T([B, S], 'i32')}
  %r = strata.add %c, %a : tensor<f32>
  return %r : tensor<f32>
}}""", "func.func @main() {"]
        for i, t in enumerate(inputs):
            lines.append(f"  %in{i} = arith.constant {literal(t)[0]}")
        lines.append(f"  %s = arith.constant dense<{STEP}> : tensor<i32>")
        lines.append(f"  %gr:{len(result_list)} = call @f_grad(%in0, %in1, %in2, %in3, %in4, %in5, %in6, %s) : "
                     f"({', '.join(types)}, tensor<i32>) -> ({result_types})")
        lines.append(f"  %zl = arith.constant dense<0.0> : {T(NZ)}")
        lines.append(f"  %nw, %ni, %ns = strata.router %zl step(%s) {{num_experts = {NZ[2]}, top_k = 1, "
                     f"scoring = #strata.scoring<sigmoid>, noise_std = 1.0 : f64, seed = {SEED}, salt = 5}} : {T(NZ)}")
        lines.append(f"  %cw = arith.constant {literal(wts)[0]}")
        lines.append(f"  %ci = arith.constant {literal(ids)[0]}")
        lines.append(f"  %kept, %dropped = strata.expert_capacity %cw, %ci {{num_experts = {E}, "
                     f"capacity_factor = 0.75 : f64}} : {T([B, S, K])}, {T([B, S, K], 'i32')}")
        values = [(f"%gr#{k}", ty, "i32" if ty == "tensor<i32>" else "f32")
                  for k, ty in enumerate(result_list)]
        values += [("%ns", T(NZ), "f32"), ("%kept", T([B, S, K]), "f32"),
                   ("%dropped", "tensor<i32>", "i32")]
        lines += print_lines(values)
        lines += ["  return", "}"]
        got = run_all(args, "\n".join(lines) + "\n", ["--strata-autodiff=functions=f"])

        # The reference, under autograd.
        leaves = [t.clone().requires_grad_(True) for t in inputs[:6]]
        xr, lr, gr, ur, dr, wr = leaves
        noisy = lr + NS * noise(logits, SEED, 1, STEP)
        scores = torch.softmax(noisy, -1)
        top, idx = scores.topk(K, -1)
        w = top / top.sum(-1, keepdim=True)
        dropped = 0
        if cf > 0:
            keep, cap = capacity_keep(idx, E, cf)
            dropped = int((~keep).sum())
            w = w * keep
        y = torch.zeros(B, S, D)
        for k in range(K):
            e = idx[..., k]
            h = F.silu(torch.einsum("bsd,bsfd->bsf", xr, gr[e])) * \
                torch.einsum("bsd,bsfd->bsf", xr, ur[e])
            y = y + w[..., k, None] * torch.einsum("bsf,bsdf->bsd", h, dr[e])
        counts = torch.zeros(E).index_add_(0, idx.flatten(), torch.ones(idx.numel()))
        prob = (scores / scores.sum(-1, keepdim=True)).reshape(-1, E).mean(0)
        aux = COEF * E * (counts / idx.numel() * prob).sum()
        loss = F.cross_entropy((y @ wr.T).reshape(-1, V), labels.reshape(-1).long()) + aux
        loss.backward()
        tag = f"capacity {cf}" if cf > 0 else "no capacity"
        if cf > 0:
            print(f"{tag}: capacity {cap} per expert, {dropped} of {idx.numel()} assignments dropped")
            if dropped == 0:
                print(f"FAIL: {tag}: the case drops nothing")
                failed += 1
        check(f"{tag}: loss", got[0], loss.detach())
        if cf > 0:
            counted = int(got[1][0])
            print(f"{tag}: loss_grad counted {counted} dropped (reference {dropped})")
            if counted != dropped:
                print(f"FAIL: {tag}: loss_grad's dropped count")
                failed += 1
        for name, leaf, r in zip(["x", "logits", "gate_proj", "up_proj", "down_proj", "head"],
                                 leaves, got[1 + off:7 + off]):
            check(f"{tag}: {name} gradient", r, leaf.grad)

    # The noise itself: sigmoid(0 + noise) = score.
    s = got[7 + off].clamp(1e-7, 1 - 1e-7)
    implied = torch.log(s / (1 - s))
    want = noise(torch.zeros(NZ), SEED, 5, STEP)
    check("router noise (logit of the scores)", implied, want, rtol=1e-3, atol=1e-4)
    print(f"noise mean {want.mean():.3f} std {want.std():.3f} over {want.numel()} draws")
    if abs(want.mean()) > 0.1 or abs(want.std() - 1) > 0.1:
        print("FAIL: the noise is not standard normal")
        failed += 1
    keep, cap = capacity_keep(ids, E, 0.75)
    check("expert_capacity kept weights", got[8 + off], wts * keep, rtol=0, atol=1e-6)
    want_dropped = int((~keep).sum())
    print(f"expert_capacity: capacity {cap}, dropped {int(got[9 + off][0])} (reference {want_dropped})")
    if int(got[9 + off][0]) != want_dropped:
        print("FAIL: dropped counts differ")
        failed += 1
    if not failed:
        print("PASS: router noise, capacity masks, loss and gradients match the reference")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
