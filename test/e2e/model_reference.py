#!/usr/bin/env python3
"""A PyTorch reference of the model family, for end-to-end comparisons.

Reads a seed-format YAML config and a safetensors file of weights (as
written by `strata-run --save-weights`, names as in HuggingFace
checkpoints), runs the forward pass on the given tokens and compares the
logits with Strata's (read from a file of `strata-run logits` output).
Inference semantics: no dropout, no router noise, no expert capacity.
"""
import argparse
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "codegen"))
from check_ops_numerics import attention_ref, experts_ref, rope_ref, router_ref  # noqa: E402


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", name
        a, b = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[base + a:base + b]), dtype=torch.float32)
        tensors[name] = t.reshape(info["shape"])
    return tensors


def forward(cfg, P, tokens):
    m = cfg["model"]
    D, L = m["hidden_size"], m["num_layers"]
    H = m["num_attention_heads"]
    KV = m.get("num_kv_heads", H)
    hd = m.get("head_dim", D // H)
    eps = m.get("norm_eps", 1e-6)
    attn = m.get("attention", {}) or {}
    window = attn.get("window") if attn.get("type") == "local" else None
    theta = (m.get("rope", {}) or {}).get("theta", 10000.0)
    moe = m.get("moe", {}) or {}
    E = m.get("moe_num_experts", moe.get("num_experts", 0))
    K = m.get("moe_top_k", moe.get("top_k", 2))
    router = moe.get("router", {}) or {}
    comp = m.get("memory_compression")
    rms = lambda t, w: t * torch.rsqrt(t.pow(2).mean(-1, keepdim=True) + eps) * w
    inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
    S = tokens.shape[1]
    pos = torch.arange(S).expand(tokens.shape[0], S)

    def ffn(h, prefix):
        g = h @ P[prefix + ".gate_proj.weight"].T
        u = h @ P[prefix + ".up_proj.weight"].T
        return (F.silu(g) * u) @ P[prefix + ".down_proj.weight"].T

    x = P["model.embed_tokens.weight"][tokens]
    for i in range(L):
        pre = f"model.layers.{i}"
        h = rms(x, P[pre + ".input_layernorm.weight"])
        a = pre + ".self_attn"
        q = rope_ref(h @ P[a + ".q_proj.weight"].T, H, hd, hd, inv, 1.0, False, pos)
        k = rope_ref(h @ P[a + ".k_proj.weight"].T, KV, hd, hd, inv, 1.0, False, pos)
        v = h @ P[a + ".v_proj.weight"].T
        o = attention_ref(q, k, v, H, KV, hd, hd, causal=attn.get("causal", True), window=window)
        x = x + o @ P[a + ".o_proj.weight"].T
        h = rms(x, P[pre + ".post_attention_layernorm.weight"])
        first_dense = moe.get("first_dense_layers", 0)
        freq = moe.get("layer_freq", 1)
        if E and i >= first_dense and i % freq == 0:
            mlp = pre + ".mlp"
            if router.get("type") == "mlp":
                z = F.gelu(h @ P[mlp + ".gate.fc1.weight"].T + P[mlp + ".gate.fc1.bias"])
                logits = z @ P[mlp + ".gate.fc2.weight"].T + P[mlp + ".gate.fc2.bias"]
            else:
                logits = h @ P[mlp + ".gate.weight"].T
            w, idx = router_ref(logits, K, sigmoid=router.get("scoring") == "sigmoid",
                                norm=router.get("norm_topk_prob", False),
                                scale=router.get("routed_scaling_factor", 1.0))
            f = experts_ref(h, w, idx, P[mlp + ".experts.gate_proj"],
                            P[mlp + ".experts.up_proj"], P[mlp + ".experts.down_proj"])
            if moe.get("num_shared_experts", 0):
                f = f + ffn(h, mlp + ".shared_experts")
        else:
            f = ffn(h, pre + ".mlp")
        x = x + f
        if comp:
            c = pre + ".compression"
            enc = F.gelu(x @ P[c + ".encoder.weight"].T + P[c + ".encoder.bias"])
            dec = enc @ P[c + ".decoder.weight"].T + P[c + ".decoder.bias"]
            x = F.layer_norm(x + dec, (D,), P[c + ".norm.weight"], P[c + ".norm.bias"],
                             comp.get("eps", 1e-5))
    x = rms(x, P["model.norm.weight"])
    head = P["model.embed_tokens.weight"] if m.get("tie_word_embeddings") else P["lm_head.weight"]
    return x @ head.T


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--tokens", required=True)
    p.add_argument("--strata-logits", required=True)
    p.add_argument("--strata-generated", default=None,
                   help="token ids strata-run infer printed for --tokens")
    p.add_argument("--rtol", type=float, default=1e-4)
    p.add_argument("--atol", type=float, default=1e-5)
    args = p.parse_args()
    cfg = yaml.safe_load(open(args.config))
    P = load_safetensors(args.weights)
    tokens = torch.tensor([[int(t) for t in args.tokens.split(",")]])
    with torch.no_grad():
        expected = forward(cfg, P, tokens)[0]
    got = torch.tensor([[float(v) for v in line.split()]
                        for line in open(args.strata_logits) if line.strip()])
    if got.shape != expected.shape:
        print(f"FAIL: shape {tuple(got.shape)} != reference {tuple(expected.shape)}")
        return 1
    err = (got - expected).abs().max().item()
    rel = ((got - expected).abs() / expected.abs().clamp_min(1e-6)).max().item()
    ok = torch.allclose(got, expected, rtol=args.rtol, atol=args.atol)
    same_argmax = bool((got.argmax(-1) == expected.argmax(-1)).all())
    print(f"{'PASS' if ok else 'FAIL'}: logits {tuple(got.shape)} max abs err {err:.2e}, "
          f"argmax {'identical' if same_argmax else 'DIFFERS'}")
    if not (ok and same_argmax):
        return 1
    if args.strata_generated is not None:
        want = [int(t) for t in args.strata_generated.split(",") if t]
        eos = cfg["model"].get("eos_token_id", -1)
        seq = tokens
        mine = []
        with torch.no_grad():
            for _ in range(len(want)):
                nxt = int(forward(cfg, P, seq)[0, -1].argmax())
                mine.append(nxt)
                seq = torch.cat([seq, torch.tensor([[nxt]])], 1)
                if nxt == eos:
                    break
        same = mine == want
        print(f"{'PASS' if same else 'FAIL'}: {len(want)} greedy tokens "
              f"{'identical' if same else 'differ: ' + str(mine)}")
        return 0 if same else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
