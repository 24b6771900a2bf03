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


def run_all(args, text, passes=()):
    """Lowers `text` (after `passes`), runs its main() and returns every
    tensor it printed, in order."""
    # mlir-runner calls main() itself, not through the runtime's packed ABI.
    options = ["entry-points=false"]
    if args.pipeline_options:
        options.append(args.pipeline_options)
    pipeline = "--strata-lower-to-llvm-cpu=" + " ".join(options)
    lowered = subprocess.run([args.strata_opt, "-", *passes, pipeline],
                             input=text, capture_output=True, text=True)
    if lowered.returncode:
        raise RuntimeError("strata-opt failed:\n" + lowered.stderr)
    libs = ",".join(args.shared_libs)
    out = subprocess.run([args.mlir_runner, "-e", "main", "-entry-point-result=void",
                          f"-shared-libs={libs}"],
                         input=lowered.stdout, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError("mlir-runner failed:\n" + out.stderr)
    tensors = []
    for data in out.stdout.split("data =")[1:]:
        data = data.split("Unranked Memref", 1)[0]
        nums = re.findall(r"-?(?:\d+\.?\d*(?:e[-+]?\d+)?|inf|nan)", data)
        tensors.append(torch.tensor([float(n) for n in nums]))
    return tensors


def run(args, text):
    return run_all(args, text)[0]


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
    R = int(D * 0.4)
    ew, eb, dw, db = rnd(R, D), rnd(R), rnd(D, R), rnd(D)
    yield ("memory_compression", [x, ew, eb, dw, db, nw, nb],
           f"  %r = strata.memory_compression %in0 enc(%in1, %in2) dec(%in3, %in4) norm(%in5, %in6) {{ratio = 0.4 : f64}}"
           f" : {t([B,S,D])}, {t([R,D])}, {t([R])}, {t([D,R])}, {t([D])}, {t([D])}, {t([D])}",
           t([B, S, D]),
           F.layer_norm(x + (F.gelu(x @ ew.T + eb) @ dw.T + db), (D,), nw, nb, 1e-5))
    V = 7
    logits = rnd(B, S, V)
    labels = torch.randint(0, V, (B, S), generator=g, dtype=torch.int32)
    labels[0, 1] = -100
    yield ("cross_entropy-ignore", [logits, labels],
           f"  %r = strata.cross_entropy %in0, %in1 : {t([B,S,V])}, tensor<{B}x{S}xi32>",
           "tensor<f32>", F.cross_entropy(logits.reshape(-1, V), labels.reshape(-1).long(),
                                          ignore_index=-100))
    all_ignored = torch.full((B, S), 3, dtype=torch.int32)
    yield ("cross_entropy-all-ignored", [logits, all_ignored],
           f"  %r = strata.cross_entropy %in0, %in1 {{ignore_index = 3}} : {t([B,S,V])}, tensor<{B}x{S}xi32>",
           "tensor<f32>", torch.tensor(0.0))
    C = 3
    cw, cb = rnd(C, D), rnd(C)
    yield ("classification_head-last", [x, cw, cb],
           f"  %r = strata.classification_head %in0, %in1, %in2 : {t([B,S,D])}, {t([C,D])}, {t([C])}",
           t([B, C]), x[:, -1] @ cw.T + cb)
    yield ("classification_head-mean", [x, cw, cb],
           f"  %r = strata.classification_head %in0, %in1, %in2 {{pooling = #strata.pooling<mean>}} : {t([B,S,D])}, {t([C,D])}, {t([C])}",
           t([B, C]), x.mean(1) @ cw.T + cb)
    yield from rotary_cases(rnd, t, g)
    yield from moe_cases(rnd, t)
    yield from mla_cases(rnd, t)
    yield from attention_cases(rnd, t)


def yarn_inv_freq(theta, rd, factor, orig, beta_fast, beta_slow):
    """DeepSeek-V2's YaRN frequencies, written from its reference code."""
    def corr_dim(rot):
        return (rd * math.log(orig / (rot * 2 * math.pi))) / (2 * math.log(theta))
    low = max(math.floor(corr_dim(beta_fast)), 0)
    high = min(math.ceil(corr_dim(beta_slow)), rd - 1)
    if low == high:
        high += 0.001
    extra = 1.0 / (theta ** (torch.arange(0, rd, 2, dtype=torch.float32) / rd))
    inter = 1.0 / (factor * theta ** (torch.arange(0, rd, 2, dtype=torch.float32) / rd))
    ramp = torch.clamp((torch.arange(rd // 2, dtype=torch.float32) - low) / (high - low), 0, 1)
    mask = 1.0 - ramp
    return inter * (1 - mask) + extra * mask


def yarn_mscale(scale, m):
    return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0


def rope_ref(x, heads, hd, rd, inv_freq, mscale, interleaved, pos):
    B, S, _ = x.shape
    x = x.view(B, S, heads, hd)
    xp, xr = x[..., :hd - rd], x[..., hd - rd:]
    ang = pos.to(torch.float32)[..., None] * inv_freq
    cos = (ang.cos() * mscale)[:, :, None, :]
    sin = (ang.sin() * mscale)[:, :, None, :]
    if interleaved:
        x1, x2 = xr[..., 0::2], xr[..., 1::2]
        out = torch.stack([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1).flatten(-2)
    else:
        half = rd // 2
        x1, x2 = xr[..., :half], xr[..., half:]
        out = torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1)
    return torch.cat([xp, out], -1).reshape(B, S, heads * hd)


M64 = (1 << 64) - 1


def splitmix(x):
    z = (x + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def random_blocks(qb, local, glob, r, seed):
    """The layout's random draw for query block qb (see #strata.block_sparse)."""
    count = max(0, qb - local + 1 - glob)
    if count <= r:
        return {glob + c for c in range(count)}
    row = splitmix((seed ^ splitmix(qb)) & M64)
    chosen = []
    for m in range(r):
        n = count - r + m + 1
        v = splitmix((row + m) & M64) % n
        chosen.append(n - 1 if v in chosen else v)
    return {glob + c for c in chosen}


def random_blocks_bidirectional(qb, nb, local, glob, r, seed):
    """The bidirectional draw: candidates are the non-local blocks >= glob."""
    cands = [b for b in range(glob, nb) if not (qb - local + 1 <= b <= qb)]
    if len(cands) <= r:
        return set(cands)
    row = splitmix((seed ^ splitmix(qb)) & M64)
    chosen = []
    for m in range(r):
        n = len(cands) - r + m + 1
        v = splitmix((row + m) & M64) % n
        chosen.append(n - 1 if v in chosen else v)
    return {cands[c] for c in chosen}


def block_sparse_keep(S, T, bs, local, glob, r, seed, causal=True):
    keep = torch.zeros(S, T, dtype=torch.bool)
    nb = (T + bs - 1) // bs
    for s in range(S):
        qpos = s + T - S
        qb = qpos // bs
        blocks = set(range(max(0, qb - local + 1), qb + 1)) | set(range(glob))
        if causal:
            blocks |= random_blocks(qb, local, glob, r, seed)
        else:
            blocks |= random_blocks_bidirectional(qb, nb, local, glob, r, seed)
        for t in range(qpos + 1 if causal else T):
            keep[s, t] = (t // bs) in blocks
    return keep


def attention_ref(q, k, v, H, KV, D, Dv, causal=True, window=None, scale=None, keep_mask=None):
    B, S, _ = q.shape
    T = k.shape[1]
    q = q.view(B, S, H, D).transpose(1, 2)
    k = k.view(B, T, KV, D).transpose(1, 2).repeat_interleave(H // KV, dim=1)
    v = v.view(B, T, KV, Dv).transpose(1, 2).repeat_interleave(H // KV, dim=1)
    scores = q @ k.transpose(-1, -2) * (scale if scale else 1 / math.sqrt(D))
    s_idx = torch.arange(S)[:, None] + (T - S)
    t_idx = torch.arange(T)[None, :]
    keep = torch.ones(S, T, dtype=torch.bool)
    if causal:
        keep &= t_idx <= s_idx
    if window:
        keep &= t_idx > s_idx - window
    if keep_mask is not None:
        keep &= keep_mask
    scores = scores.masked_fill(~keep, float("-inf"))
    out = torch.softmax(scores, -1) @ v
    return out.transpose(1, 2).reshape(B, S, H * Dv)


def attention_cases(rnd, t):
    B, S, H, KV, D = 2, 5, 4, 2, 8
    q, k, v = rnd(B, S, H * D), rnd(B, S, KV * D), rnd(B, S, KV * D)
    base = "num_heads = 4, num_kv_heads = 2, head_dim = 8, v_head_dim = 8"
    ty = f"{t([B,S,H*D])}, {t([B,S,KV*D])}, {t([B,S,KV*D])}"
    yield ("attention-gqa-causal", [q, k, v],
           f"  %r = strata.attention %in0, %in1, %in2 {{{base}}} : {ty}",
           t([B, S, H * D]), attention_ref(q, k, v, H, KV, D, D))
    yield ("attention-window", [q, k, v],
           f"  %r = strata.attention %in0, %in1, %in2 {{{base}, window = 2}} : {ty}",
           t([B, S, H * D]), attention_ref(q, k, v, H, KV, D, D, window=2))
    yield ("attention-bidirectional-scaled", [q, k, v],
           f"  %r = strata.attention %in0, %in1, %in2 {{{base}, causal = false, scale = 0.25}} : {ty}",
           t([B, S, H * D]), attention_ref(q, k, v, H, KV, D, D, causal=False, scale=0.25))
    # Block-sparse over 24 positions in blocks of 2: 12 query blocks, so the
    # random draw runs both branches (all candidates / Floyd's sampling).
    L = 24
    qs, ks, vs = rnd(1, L, H * D), rnd(1, L, KV * D), rnd(1, L, KV * D)
    for seed in (0, 7):
        keep = block_sparse_keep(L, L, 2, 1, 1, 3, seed)
        yield (f"attention-block-sparse-seed{seed}", [qs, ks, vs],
               f"  %r = strata.attention %in0, %in1, %in2 {{{base}, sparsity = #strata.block_sparse<block_size = 2, num_local_blocks = 1, num_global_blocks = 1, num_random_blocks = 3, seed = {seed}>}}"
               f" : {t([1,L,H*D])}, {t([1,L,KV*D])}, {t([1,L,KV*D])}",
               t([1, L, H * D]), attention_ref(qs, ks, vs, H, KV, D, D, keep_mask=keep))
    # Bidirectional: 25 positions (a partial last block), candidates on
    # both sides of the local blocks; r = 2 draws for most query blocks,
    # takes all near the ends of a short layout.
    L2 = 25
    qb_, kb_, vb_ = rnd(1, L2, H * D), rnd(1, L2, KV * D), rnd(1, L2, KV * D)
    for seed in (0, 7):
        keep = block_sparse_keep(L2, L2, 2, 2, 1, 2, seed, causal=False)
        yield (f"attention-block-sparse-bidirectional-seed{seed}", [qb_, kb_, vb_],
               f"  %r = strata.attention %in0, %in1, %in2 {{{base}, causal = false, sparsity = #strata.block_sparse<block_size = 2, num_local_blocks = 2, num_global_blocks = 1, num_random_blocks = 2, seed = {seed}>}}"
               f" : {t([1,L2,H*D])}, {t([1,L2,KV*D])}, {t([1,L2,KV*D])}",
               t([1, L2, H * D]),
               attention_ref(qb_, kb_, vb_, H, KV, D, D, causal=False, keep_mask=keep))
    # Decode: one query against a longer cache, MQA, different value width.
    q1, k7, v7 = rnd(B, 1, H * D), rnd(B, 7, D), rnd(B, 7, 4)
    yield ("attention-decode-mqa", [q1, k7, v7],
           f"  %r = strata.attention %in0, %in1, %in2 {{num_heads = 4, num_kv_heads = 1, head_dim = 8, v_head_dim = 4}}"
           f" : {t([B,1,H*D])}, {t([B,7,D])}, {t([B,7,4])}",
           t([B, 1, H * 4]), attention_ref(q1, k7, v7, H, 1, D, 4))


def rotary_cases(rnd, t, g):
    B, S, H, Dh = 2, 6, 2, 8
    x = rnd(B, S, H * Dh)
    pos = torch.arange(S).expand(B, S)
    inv = lambda rd, theta=10000.0: 1.0 / (theta ** (torch.arange(0, rd, 2, dtype=torch.float32) / rd))
    ty = t([B, S, H * Dh])
    yield ("rotary-rotate-half", [x],
           f"  %r = strata.rotary %in0 {{num_heads = 2, head_dim = 8, rotary_dim = 8, rope = #strata.rope<>}} : {ty}",
           ty, rope_ref(x, H, Dh, 8, inv(8), 1.0, False, pos))
    yield ("rotary-partial-interleaved", [x],
           f"  %r = strata.rotary %in0 {{num_heads = 2, head_dim = 8, rotary_dim = 4, interleaved = true, rope = #strata.rope<theta = 500.0>}} : {ty}",
           ty, rope_ref(x, H, Dh, 4, inv(4, 500.0), 1.0, True, pos))
    yf = yarn_inv_freq(10000.0, 8, 40.0, 4, 32.0, 1.0)
    ms = yarn_mscale(40.0, 0.707) / yarn_mscale(40.0, 0.707)
    yield ("rotary-yarn", [x],
           f"  %r = strata.rotary %in0 {{num_heads = 2, head_dim = 8, rotary_dim = 8, rope = #strata.rope<scaling = yarn, factor = 40.0, original_max_position = 4, mscale = 0.707, mscale_all_dim = 0.707>}} : {ty}",
           ty, rope_ref(x, H, Dh, 8, yf, ms, False, pos))
    ms2 = yarn_mscale(40.0, 1.0) / yarn_mscale(40.0, 0.0)
    yield ("rotary-yarn-mscale", [x],
           f"  %r = strata.rotary %in0 {{num_heads = 2, head_dim = 8, rotary_dim = 8, rope = #strata.rope<scaling = yarn, factor = 40.0, original_max_position = 4, mscale = 1.0, mscale_all_dim = 0.0>}} : {ty}",
           ty, rope_ref(x, H, Dh, 8, yf, ms2, False, pos))
    p = torch.randint(0, 100, (B, S), generator=g, dtype=torch.int32)
    yield ("rotary-positions", [x, p],
           f"  %r = strata.rotary %in0 positions(%in1 : tensor<{B}x{S}xi32>) {{num_heads = 2, head_dim = 8, rotary_dim = 8, rope = #strata.rope<>}} : {ty}",
           ty, rope_ref(x, H, Dh, 8, inv(8), 1.0, False, p))


def router_ref(logits, k, sigmoid=False, norm=False, scale=1.0, bias=None, groups=1, keep=1):
    scores = torch.sigmoid(logits) if sigmoid else torch.softmax(logits, -1)
    sel = scores + bias if bias is not None else scores
    if groups > 1:
        B, S, E = sel.shape
        g = sel.view(B, S, groups, E // groups)
        gs = g.topk(2, -1).values.sum(-1) if sigmoid else g.max(-1).values
        gidx = gs.topk(keep, -1).indices
        gmask = torch.zeros_like(gs).scatter_(-1, gidx, 1).bool()
        sel = sel.masked_fill(~gmask.unsqueeze(-1).expand_as(g).reshape(B, S, E), float("-inf"))
    idx = sel.topk(k, -1).indices
    w = scores.gather(-1, idx)
    if norm:
        w = w / (w.sum(-1, keepdim=True) + 1e-20)
    return w * scale, idx


def experts_ref(x, w, idx, wg, wu, wd):
    out = torch.zeros_like(x)
    B, S, K = idx.shape
    for b in range(B):
        for s in range(S):
            for j in range(K):
                e = int(idx[b, s, j])
                h = F.silu(x[b, s] @ wg[e].T) * (x[b, s] @ wu[e].T)
                out[b, s] += w[b, s, j] * (h @ wd[e].T)
    return out


def moe_cases(rnd, t):
    B, S, D, E, Fw = 2, 3, 8, 8, 6
    x, logits, bias = rnd(B, S, D), rnd(B, S, E), rnd(E) * 0.1
    wg, wu, wd = rnd(E, Fw, D), rnd(E, Fw, D), rnd(E, D, Fw)
    ety = f"{t([E,Fw,D])}, {t([E,Fw,D])}, {t([E,D,Fw])}"
    configs = [
        ("softmax-norm (Mixtral)", 2, "", dict(norm=True), None),
        ("softmax-groups-scaled (V2)", 2, "n_group = 4, topk_group = 1, routed_scaling_factor = 16.0",
         dict(scale=16.0, groups=4, keep=1), None),
        ("sigmoid-bias-groups (V3)", 3,
         "scoring = #strata.scoring<sigmoid>, norm_topk_prob = true, routed_scaling_factor = 2.5, n_group = 4, topk_group = 2",
         dict(sigmoid=True, norm=True, scale=2.5, groups=4, keep=2), bias),
        # Expert 5 wins every token: one large group, most experts empty.
        ("softmax-skewed (one expert wins)", 2, "", dict(norm=True, skew=5), None),
    ]
    for name, k, attrs, kw, b in configs:
        kw = dict(kw)
        skew = kw.pop("skew", None)
        L = logits
        if skew is not None:
            L = logits.clone()
            L[..., skew] += 10.0
        extra = ", " + attrs if attrs else ""
        norm = ", norm_topk_prob = true" if kw.get("norm") and "norm_topk" not in attrs else ""
        bias_part = f" bias(%in5 : {t([E])})" if b is not None else ""
        body = (f"  %w, %i, %sc = strata.router %in1{bias_part} {{num_experts = {E}, top_k = {k}{norm}{extra}}} : {t([B,S,E])}\n"
                f"  %r = strata.moe_experts %in0, %w, %i experts(%in2, %in3, %in4) {{num_experts = {E}, top_k = {k}}}"
                f" : {t([B,S,D])}, {t([B,S,k])}, tensor<{B}x{S}x{k}xi32>, {ety}")
        w, idx = router_ref(L, k, bias=b, **kw)
        inputs = [x, L, wg, wu, wd] + ([b] if b is not None else [])
        yield ("moe " + name, inputs, body, t([B, S, D]), experts_ref(x, w, idx, wg, wu, wd))
        wbody = body.split("\n")[0].replace("%w, %i, %sc", "%r, %i, %sc")
        yield ("router weights " + name, inputs, wbody, t([B, S, k]), w)
    # Balance loss over the softmax router's choices.
    w, idx = router_ref(logits, 2, norm=True)
    scores = torch.softmax(logits, -1)
    frac = torch.zeros(E).scatter_add_(0, idx.flatten(), torch.ones(idx.numel())) / idx.numel()
    prob = (scores / scores.sum(-1, keepdim=True)).reshape(-1, E).mean(0)
    yield ("router_aux_loss", [logits],
           f"  %w, %i, %sc = strata.router %in0 {{num_experts = {E}, top_k = 2, norm_topk_prob = true}} : {t([B,S,E])}\n"
           f"  %r = strata.router_aux_loss %sc, %i {{coef = 0.01 : f64}} : {t([B,S,E])}, tensor<{B}x{S}x2xi32>",
           "tensor<f32>", 0.01 * E * (frac * prob).sum())


def mla_ref(x, H, q_a, q_a_norm, q_b, kv_a, kv_a_norm, kv_b, o, kv_rank, nope, rope, vd,
            inv_freq, mscale, scale):
    """DeepSeek-V2's attention as HF writes it: interleaved rotary inputs are
    permuted to halves and rotated with rotate_half."""
    B, S, _ = x.shape
    rms = lambda t, w: t * torch.rsqrt(t.pow(2).mean(-1, keepdim=True) + 1e-6) * w
    q = rms(x @ q_a.T, q_a_norm) @ q_b.T if q_a is not None else x @ q_b.T
    q = q.view(B, S, H, nope + rope)
    q_nope, q_pe = q[..., :nope], q[..., nope:]
    ckv = x @ kv_a.T
    latent, k_pe = ckv[..., :kv_rank], ckv[..., kv_rank:].view(B, S, 1, rope)
    kv = (rms(latent, kv_a_norm) @ kv_b.T).view(B, S, H, nope + vd)
    k_nope, v = kv[..., :nope], kv[..., nope:]
    ang = torch.arange(S, dtype=torch.float32)[:, None] * inv_freq
    emb = torch.cat([ang, ang], -1)
    cos, sin = (emb.cos() * mscale)[None, :, None], (emb.sin() * mscale)[None, :, None]

    def rot(t):
        t = t.view(*t.shape[:-1], rope // 2, 2).transpose(-1, -2).reshape(t.shape)
        half = torch.cat([-t[..., rope // 2:], t[..., :rope // 2]], -1)
        return t * cos + half * sin
    qs = torch.cat([q_nope, rot(q_pe)], -1)
    ks = torch.cat([k_nope, rot(k_pe).expand(B, S, H, rope)], -1)
    scores = torch.einsum("bshd,bthd->bhst", qs, ks) * scale
    mask = torch.ones(S, S, dtype=torch.bool).tril()
    p = torch.softmax(scores.masked_fill(~mask, float("-inf")), -1)
    out = torch.einsum("bhst,bthd->bshd", p, v).reshape(B, S, H * vd)
    return out @ o.T


def mla_cases(rnd, t):
    B, S, D, H, kv_rank, nope, rope, vd, q_rank = 2, 4, 16, 2, 8, 4, 4, 6, 6
    x = rnd(B, S, D)
    q_a, q_a_norm, q_b = rnd(q_rank, D), rnd(q_rank), rnd(H * (nope + rope), q_rank)
    q_plain = rnd(H * (nope + rope), D)
    kv_a, kv_a_norm = rnd(kv_rank + rope, D), rnd(kv_rank)
    kv_b, o = rnd(H * (nope + vd), kv_rank), rnd(D, H * vd)
    yarn = "#strata.rope<scaling = yarn, factor = 40.0, original_max_position = 4, mscale = 0.707, mscale_all_dim = 0.707>"
    inv = yarn_inv_freq(10000.0, rope, 40.0, 4, 32.0, 1.0)
    m = yarn_mscale(40.0, 0.707)
    scale = (nope + rope) ** -0.5 * m * m
    attrs = (f"num_heads = {H}, kv_lora_rank = {kv_rank}, qk_nope_head_dim = {nope}, "
             f"qk_rope_head_dim = {rope}, v_head_dim = {vd}, interleaved = true, rope = {yarn}")
    kv_types = f"{t([kv_rank+rope,D])}, {t([kv_rank])}, {t([H*(nope+vd),kv_rank])}, {t([D,H*vd])}"
    yield ("latent_attention-v2-lite", [x, q_plain, kv_a, kv_a_norm, kv_b, o],
           f"  %r = strata.latent_attention %in0 q(%in1) kv_a(%in2, %in3) kv_b(%in4) out(%in5) {{{attrs}}}"
           f" : {t([B,S,D])}, {t([H*(nope+rope),D])}, {kv_types}",
           t([B, S, D]),
           mla_ref(x, H, None, None, q_plain, kv_a, kv_a_norm, kv_b, o, kv_rank, nope, rope, vd,
                   inv, yarn_mscale(40.0, 0.707) / yarn_mscale(40.0, 0.707), scale))
    yield ("latent_attention-v3-q-lora", [x, q_a, q_a_norm, q_b, kv_a, kv_a_norm, kv_b, o],
           f"  %r = strata.latent_attention %in0 q_a(%in1, %in2) q(%in3) kv_a(%in4, %in5) kv_b(%in6) out(%in7)"
           f" {{{attrs}, q_lora_rank = {q_rank}}}"
           f" : {t([B,S,D])}, {t([q_rank,D])}, {t([q_rank])}, {t([H*(nope+rope),q_rank])}, {kv_types}",
           t([B, S, D]),
           mla_ref(x, H, q_a, q_a_norm, q_b, kv_a, kv_a_norm, kv_b, o, kv_rank, nope, rope, vd,
                   inv, 1.0, scale))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--strata-opt", required=True)
    p.add_argument("--mlir-runner", required=True)
    p.add_argument("--shared-libs", nargs="+", required=True)
    p.add_argument("--pipeline-options", default="",
                   help="options of strata-lower-to-llvm-cpu, e.g. flash-attention=true")
    p.add_argument("--only", default="",
                   help="run the cases whose name matches this regex")
    args = p.parse_args()
    failures = 0
    selected = [c for c in cases() if re.search(args.only, c[0])]
    for name, inputs, body, rtype, expected in selected:
        got = run(args, program(inputs, body, rtype))
        exp = expected.flatten().to(torch.float32)
        ok = got.shape == exp.shape and torch.allclose(got, exp, rtol=RTOL, atol=ATOL)
        err = (got - exp).abs().max().item() if got.shape == exp.shape else math.inf
        print(f"{'PASS' if ok else 'FAIL'}: {name} (max abs err {err:.2e})")
        failures += not ok
    print(f"{len(selected) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
