#!/usr/bin/env python3
"""Checks strata-autodiff against torch autograd, end to end on the CPU.

Each case is a function @f returning a cross-entropy loss; its inputs are
random (fixed seed) and embedded as constants. `strata-opt
--strata-autodiff=functions=f` adds @f_grad, the CPU pipeline lowers it,
mlir-runner runs it and prints the loss and every float argument's
gradient, which must match torch's (rtol 1e-4, atol 1e-5). The last case
differentiates through two calls of one layer body (its _vjp recomputes
the forward). --break NAME perturbs one backward op's lowering input to
show that the comparison fails.
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "codegen"))
from check_ops_numerics import (experts_ref, literal, mla_ref, router_ref, run_all,  # noqa: E402
                                yarn_inv_freq, yarn_mscale)

RTOL, ATOL = 1e-4, 1e-5


def t(shape, elt="f32"):
    return "tensor<" + "".join(f"{d}x" for d in shape) + elt + ">"


def program(inputs, func, num_results):
    lines = ["func.func private @printMemrefF32(memref<*xf32>)", func,
             "func.func @main() {"]
    types = []
    for i, x in enumerate(inputs):
        lit, ty = literal(x)
        types.append(ty)
        lines.append(f"  %in{i} = arith.constant {lit}")
    float_types = [ty for ty in types if ty.endswith("f32>")]
    result_types = ["tensor<f32>"] + float_types
    args = ", ".join(f"%in{i}" for i in range(len(inputs)))
    # Declared for the call; strata-autodiff defines it.
    lines.insert(1, f"func.func private @f_grad({', '.join(types)}) -> ({', '.join(result_types)})")
    lines.append(f"  %g:{num_results} = call @f_grad({args}) : ({', '.join(types)})"
                 f" -> ({', '.join(result_types)})")
    for k, ty in enumerate(result_types):
        shape = ty[len("tensor<"):-1]
        lines.append(f"  %m{k} = bufferization.to_buffer %g#{k} : {ty} to memref<{shape}>")
        lines.append(f"  %u{k} = memref.cast %m{k} : memref<{shape}> to memref<*xf32>")
        lines.append(f"  call @printMemrefF32(%u{k}) : (memref<*xf32>) -> ()")
    lines += ["  return", "}"]
    return "\n".join(lines) + "\n"


def cases():
    g = torch.Generator().manual_seed(0)
    rnd = lambda *s: torch.randn(*s, generator=g)
    B, S, D, V = 2, 3, 8, 7
    labels = torch.randint(0, V, (B, S), generator=g, dtype=torch.int32)
    labels[1, 2] = -100
    L = t([B, S], "i32")
    xent = lambda z: F.cross_entropy(z.reshape(-1, V), labels.reshape(-1).long(),
                                     ignore_index=-100)
    x, w, b = rnd(B, S, D), rnd(V, D), rnd(V)
    yield ("linear+bias", [x, w, b, labels],
           f"""func.func @f(%x: {t([B,S,D])}, %w: {t([V,D])}, %b: {t([V])}, %l: {L}) -> tensor<f32> {{
  %y = strata.linear %x, %w, %b : {t([B,S,D])}, {t([V,D])}, {t([V])}
  %r = strata.cross_entropy %y, %l : {t([B,S,V])}, {L}
  return %r : tensor<f32>
}}""", lambda x, w, b: xent(F.linear(x, w, b)))
    nw = rnd(D)
    yield ("rmsnorm+lm_head", [x, nw, w, labels],
           f"""func.func @f(%x: {t([B,S,D])}, %n: {t([D])}, %w: {t([V,D])}, %l: {L}) -> tensor<f32> {{
  %h = strata.rmsnorm %x, %n {{eps = 1.0e-5 : f64}} : {t([B,S,D])}, {t([D])}
  %y = strata.lm_head %h, %w : {t([B,S,D])}, {t([V,D])}
  %r = strata.cross_entropy %y, %l : {t([B,S,V])}, {L}
  return %r : tensor<f32>
}}""", lambda x, n, w: xent(x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * n @ w.T))
    lw, lb = rnd(D), rnd(D)
    yield ("layernorm", [x, lw, lb, w, labels],
           f"""func.func @f(%x: {t([B,S,D])}, %n: {t([D])}, %nb: {t([D])}, %w: {t([V,D])}, %l: {L}) -> tensor<f32> {{
  %h = strata.layernorm %x, %n, %nb {{eps = 1.0e-5 : f64}} : {t([B,S,D])}, {t([D])}, {t([D])}
  %y = strata.lm_head %h, %w : {t([B,S,D])}, {t([V,D])}
  %r = strata.cross_entropy %y, %l : {t([B,S,V])}, {L}
  return %r : tensor<f32>
}}""", lambda x_, n_, nb_, w_: xent(F.layer_norm(x_, (D,), n_, nb_, 1e-5) @ w_.T))
    R = 3
    ew, eb, dw_, db_ = rnd(R, D), rnd(R), rnd(D, R), rnd(D)
    yield ("memory_compression", [x, ew, eb, dw_, db_, lw, lb, w, labels],
           f"""func.func @f(%x: {t([B,S,D])}, %ew: {t([R,D])}, %eb: {t([R])}, %dw: {t([D,R])}, %db: {t([D])}, %n: {t([D])}, %nb: {t([D])}, %w: {t([V,D])}, %l: {L}) -> tensor<f32> {{
  %h = strata.memory_compression %x enc(%ew, %eb) dec(%dw, %db) norm(%n, %nb) {{ratio = 0.4 : f64}} : {t([B,S,D])}, {t([R,D])}, {t([R])}, {t([D,R])}, {t([D])}, {t([D])}, {t([D])}
  %y = strata.lm_head %h, %w : {t([B,S,D])}, {t([V,D])}
  %r = strata.cross_entropy %y, %l : {t([B,S,V])}, {L}
  return %r : tensor<f32>
}}""", lambda x_, ew_, eb_, dw2, db2, n_, nb_, w_: xent(
               F.layer_norm(x_ + F.linear(F.gelu(F.linear(x_, ew_, eb_)), dw2, db2), (D,), n_, nb_, 1e-5)
               @ w_.T))
    gl = rnd(B, S, 1)
    yield ("sigmoid_gate", [x, gl, w, labels],
           f"""func.func @f(%x: {t([B,S,D])}, %g: {t([B,S,1])}, %w: {t([V,D])}, %l: {L}) -> tensor<f32> {{
  %h = strata.sigmoid_gate %x, %g : {t([B,S,D])}, {t([B,S,1])}
  %y = strata.lm_head %h, %w : {t([B,S,D])}, {t([V,D])}
  %r = strata.cross_entropy %y, %l : {t([B,S,V])}, {L}
  return %r : tensor<f32>
}}""", lambda x_, g_, w_: xent((x_ * torch.sigmoid(g_)) @ w_.T))
    z, u = rnd(B, S, V), rnd(B, S, V)
    for name, attr, fn in [("silu", "", F.silu), ("gelu", "", F.gelu),
                           ("gelu-tanh", " {approximate = #strata.gelu_approx<tanh>}",
                            lambda v: F.gelu(v, approximate="tanh"))]:
        op = "silu" if name == "silu" else "gelu"
        yield (name, [z, labels],
               f"""func.func @f(%z: {t([B,S,V])}, %l: {L}) -> tensor<f32> {{
  %y = strata.{op} %z{attr} : {t([B,S,V])}
  %r = strata.cross_entropy %y, %l : {t([B,S,V])}, {L}
  return %r : tensor<f32>
}}""", lambda v, fn=fn: xent(fn(v)))
    yield ("swiglu+add", [z, u, labels],
           f"""func.func @f(%g: {t([B,S,V])}, %u: {t([B,S,V])}, %l: {L}) -> tensor<f32> {{
  %s = strata.swiglu %g, %u : {t([B,S,V])}
  %y = strata.add %s, %g : {t([B,S,V])}
  %r = strata.cross_entropy %y, %l : {t([B,S,V])}, {L}
  return %r : tensor<f32>
}}""", lambda g_, u_: xent(F.silu(g_) * u_ + g_))
    tokens = torch.randint(0, V, (B, S), generator=g, dtype=torch.int32)
    tokens[0, 0] = tokens[1, 1]  # a row of the table read twice
    table = rnd(V, D)
    yield ("embedding+tied-head", [tokens, table, labels],
           f"""func.func @f(%t: {L}, %e: {t([V,D])}, %l: {L}) -> tensor<f32> {{
  %h = strata.embedding %t, %e : {L}, {t([V,D])}
  %y = strata.lm_head %h, %e : {t([B,S,D])}, {t([V,D])}
  %r = strata.cross_entropy %y, %l : {t([B,S,V])}, {L}
  return %r : tensor<f32>
}}""", lambda e: xent(e[tokens.long()] @ e.T))
    ignored = torch.full((B, S), 3, dtype=torch.int32)
    yield ("cross_entropy-all-ignored", [z, ignored],
           f"""func.func @f(%z: {t([B,S,V])}, %l: {L}) -> tensor<f32> {{
  %r = strata.cross_entropy %z, %l {{ignore_index = 3}} : {t([B,S,V])}, {L}
  return %r : tensor<f32>
}}""", lambda v: (v * 0).sum())
    # Attention: causal GQA (4 query heads over 2 KV heads), then a window.
    H, KVH, HD = 4, 2, 4
    aq, ak, av = rnd(B, S, H * HD), rnd(B, S, KVH * HD), rnd(B, S, KVH * HD)
    wo = rnd(V, H * HD)

    def sdpa(q_, k_, v_, window=None):
        q4 = q_.reshape(B, S, H, HD).transpose(1, 2)
        k4 = k_.reshape(B, S, KVH, HD).transpose(1, 2).repeat_interleave(H // KVH, 1)
        v4 = v_.reshape(B, S, KVH, HD).transpose(1, 2).repeat_interleave(H // KVH, 1)
        i = torch.arange(S)
        mask = i[None, :] <= i[:, None]
        if window:
            mask &= i[None, :] > i[:, None] - window
        scores = (q4 @ k4.transpose(-1, -2)) / HD ** 0.5
        o = torch.softmax(scores.masked_fill(~mask, float("-inf")), -1) @ v4
        return o.transpose(1, 2).reshape(B, S, H * HD)
    for name, attr, window in [("attention-gqa-causal", "", None),
                               ("attention-window", ", window = 2", 2)]:
        yield (name, [aq, ak, av, wo, labels],
               f"""func.func @f(%q: {t([B,S,H*HD])}, %k: {t([B,S,KVH*HD])}, %v: {t([B,S,KVH*HD])}, %w: {t([V,H*HD])}, %l: {L}) -> tensor<f32> {{
  %a = strata.attention %q, %k, %v {{num_heads = {H} : i64, num_kv_heads = {KVH} : i64, head_dim = {HD} : i64, v_head_dim = {HD} : i64{attr}}} : {t([B,S,H*HD])}, {t([B,S,KVH*HD])}, {t([B,S,KVH*HD])}
  %y = strata.linear %a, %w : {t([B,S,H*HD])}, {t([V,H*HD])}
  %r = strata.cross_entropy %y, %l : {t([B,S,V])}, {L}
  return %r : tensor<f32>
}}""", lambda q_, k_, v_, w_, window=window: xent(F.linear(sdpa(q_, k_, v_, window), w_)))
    # Rotary: half-split with pass-through dims, and interleaved pairs.
    RH, RD = 2, 8
    rx, rw = rnd(B, S, RH * RD), rnd(V, RH * RD)

    def rotary(x_, rd, interleaved):
        x4 = x_.reshape(B, S, RH, RD)
        keep, rot = x4[..., :RD - rd], x4[..., RD - rd:]
        inv = 10000.0 ** (-torch.arange(0, rd, 2, dtype=torch.float64) / rd)
        ang = torch.arange(S, dtype=torch.float64)[:, None] * inv[None, :]
        cos, sin = ang.cos().float()[None, :, None, :], ang.sin().float()[None, :, None, :]
        if interleaved:
            a, b_ = rot[..., 0::2], rot[..., 1::2]
            out = torch.stack([a * cos - b_ * sin, b_ * cos + a * sin], -1).flatten(-2)
        else:
            a, b_ = rot[..., :rd // 2], rot[..., rd // 2:]
            out = torch.cat([a * cos - b_ * sin, b_ * cos + a * sin], -1)
        return torch.cat([keep, out], -1).reshape(B, S, RH * RD)
    for name, rd, inter in [("rotary-partial", 4, False), ("rotary-interleaved", 8, True)]:
        yield (name, [rx, rw, labels],
               f"""func.func @f(%x: {t([B,S,RH*RD])}, %w: {t([V,RH*RD])}, %l: {L}) -> tensor<f32> {{
  %r0 = strata.rotary %x {{head_dim = {RD} : i64, num_heads = {RH} : i64, rope = #strata.rope<>, rotary_dim = {rd} : i64, interleaved = {str(inter).lower()}}} : {t([B,S,RH*RD])}
  %y = strata.linear %r0, %w : {t([B,S,RH*RD])}, {t([V,RH*RD])}
  %r = strata.cross_entropy %y, %l : {t([B,S,V])}, {L}
  return %r : tensor<f32>
}}""", lambda x_, w_, rd=rd, inter=inter: xent(F.linear(rotary(x_, rd, inter), w_)))
    # Routed experts behind a router: softmax with renormalisation, and
    # DeepSeek-V3's sigmoid scoring with a selection bias, group-limited
    # routing and routed scaling (the bias and groups pick, the weights
    # carry the gradient), then the balance loss on the router's scores.
    E, FE, MD = 4, 6, 8
    mx, mg = rnd(B, S, MD), rnd(E, MD) * 0.5
    wg, wu, wd = rnd(E, FE, MD) * 0.5, rnd(E, FE, MD) * 0.5, rnd(E, MD, FE) * 0.5
    head = rnd(V, MD)
    mbias = torch.tensor([0.3, -0.2, 0.1, 0.0])
    ety = f"{t([E,FE,MD])}, {t([E,FE,MD])}, {t([E,MD,FE])}"
    for name, extra, kw in [
            ("moe-softmax-norm", "norm_topk_prob = true", dict(norm=True)),
            ("moe-sigmoid-groups-bias",
             "scoring = #strata.scoring<sigmoid>, norm_topk_prob = true, routed_scaling_factor = 2.5 : f64, n_group = 2 : i64, topk_group = 1 : i64",
             dict(sigmoid=True, norm=True, scale=2.5, groups=2, keep=1))]:
        bias_arg = " bias(%b : tensor<4xf32>)" if "sigmoid" in name else ""
        aux = "" if "sigmoid" in name else f"""
  %aux = strata.router_aux_loss %sc, %i {{coef = 0.1 : f64}} : {t([B,S,E])}, tensor<{B}x{S}x2xi32>
  %sum = strata.add %ce, %aux : tensor<f32>"""
        ret = "%ce" if "sigmoid" in name else "%sum"

        def moe_loss(x_, g_, wg_, wu_, wd_, h_, kw=kw, name=name):
            logits = x_ @ g_.T
            w, idx = router_ref(logits, 2, bias=mbias if "sigmoid" in name else None, **kw)
            y = experts_ref(x_, w, idx, wg_, wu_, wd_)
            loss = xent(y @ h_.T)
            if "sigmoid" not in name:
                sc = torch.softmax(logits, -1)
                f = torch.bincount(idx.reshape(-1), minlength=E).float() / (B * S * 2)
                p_ = (sc / sc.sum(-1, keepdim=True)).reshape(-1, E).mean(0)
                loss = loss + 0.1 * E * (f * p_).sum()
            return loss
        yield (name, [mx, mg, wg, wu, wd, head, mbias, labels],
               f"""func.func @f(%x: {t([B,S,MD])}, %g: {t([E,MD])}, %wg: {t([E,FE,MD])}, %wu: {t([E,FE,MD])}, %wd: {t([E,MD,FE])}, %h: {t([V,MD])}, %b: tensor<4xf32>, %l: {L}) -> tensor<f32> {{
  %lg = strata.linear %x, %g : {t([B,S,MD])}, {t([E,MD])}
  %w, %i, %sc = strata.router %lg{bias_arg} {{num_experts = {E} : i64, top_k = 2 : i64, {extra}}} : {t([B,S,E])}
  %y = strata.moe_experts %x, %w, %i experts(%wg, %wu, %wd) {{num_experts = {E} : i64, top_k = 2 : i64}} : {t([B,S,MD])}, {t([B,S,2])}, tensor<{B}x{S}x2xi32>, {ety}
  %z = strata.lm_head %y, %h : {t([B,S,MD])}, {t([V,MD])}
  %ce = strata.cross_entropy %z, %l : {t([B,S,V])}, {L}{aux}
  return {ret} : tensor<f32>
}}""", lambda x_, g_, wg_, wu_, wd_, h_, b_, moe_loss=moe_loss: moe_loss(x_, g_, wg_, wu_, wd_, h_))
    # Two layers of one body (rmsnorm, SwiGLU MLP, residual): body_vjp.
    F_ = 16
    ng, wg, wu, wd, fn = rnd(D), rnd(F_, D) * 0.3, rnd(F_, D) * 0.3, rnd(D, F_) * 0.3, rnd(D)
    body_args = f"%x: {t([B,S,D])}, %n: {t([D])}, %g: {t([F_,D])}, %u: {t([F_,D])}, %d: {t([D,F_])}"
    body_types = f"{t([B,S,D])}, {t([D])}, {t([F_,D])}, {t([F_,D])}, {t([D,F_])}"
    def layer(x, n, g_, u_, d_):
        h = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * n
        return x + F.linear(F.silu(F.linear(h, g_)) * F.linear(h, u_), d_)
    yield ("two-layer-body", [tokens, table, ng, wg, wu, wd, fn, labels],
           f"""func.func private @body({body_args}) -> {t([B,S,D])} {{
  %0 = strata.rmsnorm %x, %n : {t([B,S,D])}, {t([D])}
  %1 = strata.linear %0, %g : {t([B,S,D])}, {t([F_,D])}
  %2 = strata.linear %0, %u : {t([B,S,D])}, {t([F_,D])}
  %3 = strata.swiglu %1, %2 : {t([B,S,F_])}
  %4 = strata.linear %3, %d : {t([B,S,F_])}, {t([D,F_])}
  %5 = strata.add %x, %4 : {t([B,S,D])}
  return %5 : {t([B,S,D])}
}}
func.func @f(%t: {L}, %e: {t([V,D])}, %n: {t([D])}, %g: {t([F_,D])}, %u: {t([F_,D])}, %d: {t([D,F_])}, %fn: {t([D])}, %l: {L}) -> tensor<f32> {{
  %x = strata.embedding %t, %e : {L}, {t([V,D])}
  %h1 = func.call @body(%x, %n, %g, %u, %d) : ({body_types}) -> {t([B,S,D])}
  %h2 = func.call @body(%h1, %n, %g, %u, %d) : ({body_types}) -> {t([B,S,D])}
  %o = strata.rmsnorm %h2, %fn : {t([B,S,D])}, {t([D])}
  %y = strata.lm_head %o, %e : {t([B,S,D])}, {t([V,D])}
  %r = strata.cross_entropy %y, %l : {t([B,S,V])}, {L}
  return %r : tensor<f32>
}}""", lambda e, n, g_, u_, d_, f_: xent(
               F.linear(layer(layer(e[tokens.long()], n, g_, u_, d_), n, g_, u_, d_)
                        * torch.rsqrt(layer(layer(e[tokens.long()], n, g_, u_, d_), n, g_, u_, d_)
                                      .pow(2).mean(-1, keepdim=True) + 1e-6) * f_, e)))

    # Latent attention (DeepSeek-V2 without q_lora under YaRN with its
    # softmax mscale; V3's q_lora with plain rope) through an lm_head: the
    # rule recomputes it as strata ops and runs their rules in reverse.
    MH, KR, NOPE, ROPE, VD, QR = 2, 8, 4, 4, 6, 6
    lx = rnd(B, S, D)
    lqa, lqn, lqb = rnd(QR, D) * 0.5, rnd(QR), rnd(MH * (NOPE + ROPE), QR) * 0.5
    lq = rnd(MH * (NOPE + ROPE), D) * 0.5
    lkva, lkvn = rnd(KR + ROPE, D) * 0.5, rnd(KR)
    lkvb, lo = rnd(MH * (NOPE + VD), KR) * 0.5, rnd(D, MH * VD) * 0.5
    yarn = ("#strata.rope<scaling = yarn, factor = 40.0, original_max_position = 4, "
            "mscale = 0.707, mscale_all_dim = 0.707>")
    ym = yarn_mscale(40.0, 0.707)
    mla_attrs = (f"num_heads = {MH}, kv_lora_rank = {KR}, qk_nope_head_dim = {NOPE}, "
                 f"qk_rope_head_dim = {ROPE}, v_head_dim = {VD}, interleaved = true")
    kv_types = f"{t([KR+ROPE,D])}, {t([KR])}, {t([MH*(NOPE+VD),KR])}, {t([D,MH*VD])}"
    kv_args = f"%kva: {t([KR+ROPE,D])}, %kvn: {t([KR])}, %kvb: {t([MH*(NOPE+VD),KR])}, %o: {t([D,MH*VD])}"
    yield ("latent_attention-v2-yarn", [lx, lq, lkva, lkvn, lkvb, lo, w, labels],
           f"""func.func @f(%x: {t([B,S,D])}, %q: {t([MH*(NOPE+ROPE),D])}, {kv_args}, %w: {t([V,D])}, %l: {L}) -> tensor<f32> {{
  %a = strata.latent_attention %x q(%q) kv_a(%kva, %kvn) kv_b(%kvb) out(%o) {{{mla_attrs}, rope = {yarn}}} : {t([B,S,D])}, {t([MH*(NOPE+ROPE),D])}, {kv_types}
  %y = strata.lm_head %a, %w : {t([B,S,D])}, {t([V,D])}
  %r = strata.cross_entropy %y, %l : {t([B,S,V])}, {L}
  return %r : tensor<f32>
}}""", lambda x_, q_, kva_, kvn_, kvb_, o_, w_: xent(mla_ref(
               x_, MH, None, None, q_, kva_, kvn_, kvb_, o_, KR, NOPE, ROPE, VD,
               yarn_inv_freq(10000.0, ROPE, 40.0, 4, 32.0, 1.0), 1.0,
               (NOPE + ROPE) ** -0.5 * ym * ym) @ w_.T))
    yield ("latent_attention-v3-q-lora", [lx, lqa, lqn, lqb, lkva, lkvn, lkvb, lo, w, labels],
           f"""func.func @f(%x: {t([B,S,D])}, %qa: {t([QR,D])}, %qn: {t([QR])}, %q: {t([MH*(NOPE+ROPE),QR])}, {kv_args}, %w: {t([V,D])}, %l: {L}) -> tensor<f32> {{
  %a = strata.latent_attention %x q_a(%qa, %qn) q(%q) kv_a(%kva, %kvn) kv_b(%kvb) out(%o) {{{mla_attrs}, q_lora_rank = {QR}, rope = #strata.rope<>}} : {t([B,S,D])}, {t([QR,D])}, {t([QR])}, {t([MH*(NOPE+ROPE),QR])}, {kv_types}
  %y = strata.lm_head %a, %w : {t([B,S,D])}, {t([V,D])}
  %r = strata.cross_entropy %y, %l : {t([B,S,V])}, {L}
  return %r : tensor<f32>
}}""", lambda x_, qa_, qn_, q_, kva_, kvn_, kvb_, o_, w_: xent(mla_ref(
               x_, MH, qa_, qn_, q_, kva_, kvn_, kvb_, o_, KR, NOPE, ROPE, VD,
               1.0 / (10000.0 ** (torch.arange(0, ROPE, 2, dtype=torch.float32) / ROPE)),
               1.0, (NOPE + ROPE) ** -0.5) @ w_.T))
    # Classification head (last-token pooling with a bias; mean pooling),
    # one label per sequence.
    C = 5
    cw, cb = rnd(C, D), rnd(C)
    clabels = torch.randint(0, C, (B,), generator=g, dtype=torch.int32)
    CL = t([B], "i32")
    for name, attr, pool in [("classification_head-last", "", lambda x_: x_[:, -1]),
                             ("classification_head-mean", " {pooling = #strata.pooling<mean>}",
                              lambda x_: x_.mean(1))]:
        yield (name, [x, cw, cb, clabels],
               f"""func.func @f(%x: {t([B,S,D])}, %w: {t([C,D])}, %b: {t([C])}, %l: {CL}) -> tensor<f32> {{
  %y = strata.classification_head %x, %w, %b{attr} : {t([B,S,D])}, {t([C,D])}, {t([C])}
  %r = strata.cross_entropy %y, %l : {t([B,C])}, {CL}
  return %r : tensor<f32>
}}""", lambda x_, w_, b_, pool=pool: F.cross_entropy(F.linear(pool(x_), w_, b_), clabels.long()))

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--strata-opt", required=True)
    p.add_argument("--mlir-runner", required=True)
    p.add_argument("--shared-libs", nargs="+", required=True)
    p.add_argument("--pipeline-options", default="")
    p.add_argument("--break", dest="broken", default="",
                   help="scale this case's first gradient by 1.01 (must fail)")
    args = p.parse_args()
    failed = 0
    for name, inputs, func, reference in cases():
        floats = [x.clone().requires_grad_(True) for x in inputs
                  if x.dtype == torch.float32]
        loss = reference(*floats)
        loss.backward()
        # An input no gradient reaches (a selection bias) gets zeros.
        expected = [loss.detach()] + [x.grad if x.grad is not None else torch.zeros_like(x)
                                      for x in floats]
        got = run_all(args, program(inputs, func, len(expected)),
                      ["--strata-autodiff=functions=f"])
        if name == args.broken:
            got[1] = got[1] * 1.01
        for k, (e, r) in enumerate(zip(expected, got)):
            label = "loss" if k == 0 else f"gradient {k}"
            if r.numel() != e.numel() or not torch.allclose(
                    r, e.flatten(), rtol=RTOL, atol=ATOL):
                diff = (r - e.flatten()).abs().max() if r.numel() == e.numel() else "shape"
                print(f"FAIL: {name}: {label} differs from torch (max diff {diff})")
                failed += 1
                break
        else:
            print(f"ok: {name}: loss and {len(expected) - 1} gradients")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
