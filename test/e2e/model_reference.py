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
from check_ops_numerics import (attention_ref, block_sparse_keep, experts_ref, mla_ref, rope_ref,  # noqa: E402
                                router_ref, yarn_inv_freq, yarn_mscale)


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
        dtype = {"F32": torch.float32, "BF16": torch.bfloat16,
                 "F16": torch.float16, "I8": torch.int8}[info["dtype"]]
        a, b = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[base + a:base + b]), dtype=dtype)
        t = t.reshape(info["shape"])
        # Narrow floats widen exactly; int8 weights stay int8 (quant_reference).
        tensors[name] = t if dtype in (torch.float32, torch.int8) else t.float()
    return tensors


def save_safetensors(path, tensors):
    """Writes f32 tensors as safetensors (what strata-run --weights reads)."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def normalize(cfg):
    """One description of the model from either config form."""
    if "model_type" in cfg:  # HuggingFace config.json
        t = cfg["model_type"]
        H = cfg["num_attention_heads"]
        rs = cfg.get("rope_scaling") or {}
        n = dict(
            D=cfg["hidden_size"], L=cfg["num_hidden_layers"], H=H,
            KV=cfg.get("num_key_value_heads", H), eps=cfg.get("rms_norm_eps", 1e-6),
            theta=cfg.get("rope_theta", 10000.0), tie=cfg.get("tie_word_embeddings", False),
            window=None, causal=True, interleaved=False, latent=None, comp=None,
            yarn=rs if rs.get("type", rs.get("rope_type")) == "yarn" else None,
            E=0, K=2, first_dense=0, freq=1, shared=0, gate="linear",
            sigmoid=False, norm=False, scale=1.0, groups=1, keep=1)
        n["hd"] = cfg.get("head_dim", n["D"] // H)
        if t == "mixtral":
            n.update(E=cfg["num_local_experts"], K=cfg["num_experts_per_tok"], norm=True,
                     moe_module="block_sparse_moe", experts=("w1", "w3", "w2"))
        if t in ("deepseek", "deepseek_v2", "deepseek_v3"):
            n.update(E=cfg.get("n_routed_experts") or 0, K=cfg.get("num_experts_per_tok", 2),
                     first_dense=cfg.get("first_k_dense_replace", 0),
                     freq=cfg.get("moe_layer_freq", 1), shared=cfg.get("n_shared_experts") or 0,
                     norm=cfg.get("norm_topk_prob", False),
                     sigmoid=cfg.get("scoring_func") == "sigmoid")
        if t in ("deepseek_v2", "deepseek_v3"):
            n.update(interleaved=True, scale=cfg.get("routed_scaling_factor", 1.0),
                     latent=dict(q_rank=cfg.get("q_lora_rank") or 0,
                                 kv_rank=cfg["kv_lora_rank"], nope=cfg["qk_nope_head_dim"],
                                 rope=cfg["qk_rope_head_dim"], v=cfg["v_head_dim"]))
            if cfg.get("topk_method") in ("group_limited_greedy", "noaux_tc"):
                n.update(groups=cfg.get("n_group", 1), keep=cfg.get("topk_group", 1))
        return n
    m = cfg["model"]
    H = m["num_attention_heads"]
    attn = m.get("attention", {}) or {}
    scaling = ((m.get("rope", {}) or {}).get("scaling", {}) or {})
    moe = m.get("moe", {}) or {}
    router = moe.get("router", {}) or {}
    return dict(
        D=m["hidden_size"], L=m["num_layers"], H=H, KV=m.get("num_kv_heads", H),
        hd=m.get("head_dim", m["hidden_size"] // H), eps=m.get("norm_eps", 1e-6),
        theta=(m.get("rope", {}) or {}).get("theta", 10000.0), yarn=None,
        # Linear scaling divides positions (so the frequencies) by factor.
        linear=scaling.get("factor", 1.0) if scaling.get("type") == "linear" else 1.0,
        softmax_scale=attn.get("softmax_scale"),
        tie=m.get("tie_word_embeddings", False),
        window=attn.get("window") if attn.get("type") == "local" else None,
        sparse=attn if attn.get("type") == "block_sparse" else None,
        causal=attn.get("causal", True), interleaved=False, latent=None,
        comp=m.get("memory_compression"),
        E=m.get("moe_num_experts", moe.get("num_experts", 0)),
        K=m.get("moe_top_k", moe.get("top_k", 2)),
        first_dense=moe.get("first_dense_layers", 0), freq=moe.get("layer_freq", 1),
        shared=moe.get("num_shared_experts", 0), gate=router.get("type", "linear"),
        sigmoid=router.get("scoring") == "sigmoid", norm=router.get("norm_topk_prob", False),
        scale=router.get("routed_scaling_factor", 1.0), groups=router.get("n_group", 1),
        keep=router.get("topk_group", 1))


def forward(cfg, P, tokens, routing=None):
    """Logits of `tokens`; with a dict `routing`, each MoE layer's router
    records its selected expert indices under the layer's gate prefix."""
    n = normalize(cfg)
    D, H, KV, hd, eps = n["D"], n["H"], n["KV"], n["hd"], n["eps"]
    rms = lambda t, w: t * torch.rsqrt(t.pow(2).mean(-1, keepdim=True) + eps) * w
    S = tokens.shape[1]
    pos = torch.arange(S).expand(tokens.shape[0], S)

    def ffn(h, prefix):
        g = h @ P[prefix + ".gate_proj.weight"].T
        u = h @ P[prefix + ".up_proj.weight"].T
        return (F.silu(g) * u) @ P[prefix + ".down_proj.weight"].T

    def self_attention(h, a):
        lat = n["latent"]
        if lat:
            y = n["yarn"]
            rope = lat["rope"]
            if y:
                inv = yarn_inv_freq(n["theta"], rope, y["factor"],
                                    y["original_max_position_embeddings"],
                                    y.get("beta_fast", 32), y.get("beta_slow", 1))
                ms = yarn_mscale(y["factor"], y.get("mscale", 1)) / yarn_mscale(
                    y["factor"], y.get("mscale_all_dim", 0))
                m_all = y.get("mscale_all_dim", 0)
                extra = yarn_mscale(y["factor"], m_all) ** 2 if m_all else 1.0
            else:
                inv = 1.0 / (n["theta"] ** (torch.arange(0, rope, 2, dtype=torch.float32) / rope))
                ms, extra = 1.0, 1.0
            scale = (lat["nope"] + rope) ** -0.5 * extra
            qa = P.get(a + ".q_a_proj.weight")
            return mla_ref(h, H, qa, P.get(a + ".q_a_layernorm.weight"),
                           P[a + (".q_b_proj.weight" if qa is not None else ".q_proj.weight")],
                           P[a + ".kv_a_proj_with_mqa.weight"], P[a + ".kv_a_layernorm.weight"],
                           P[a + ".kv_b_proj.weight"], P[a + ".o_proj.weight"], lat["kv_rank"],
                           lat["nope"], rope, lat["v"], inv, ms, scale)
        inv = 1.0 / (n["theta"] ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        inv = inv / n.get("linear", 1.0)
        bias = lambda name: P.get(a + name + ".bias", 0)
        q = rope_ref(h @ P[a + ".q_proj.weight"].T + bias(".q_proj"), H, hd, hd, inv, 1.0, False, pos)
        k = rope_ref(h @ P[a + ".k_proj.weight"].T + bias(".k_proj"), KV, hd, hd, inv, 1.0, False, pos)
        v = h @ P[a + ".v_proj.weight"].T + bias(".v_proj")
        keep = None
        sp = n.get("sparse")
        if sp:
            keep = block_sparse_keep(S, S, sp.get("block_size", 64), sp.get("num_local_blocks", 1),
                                     sp.get("num_global_blocks", 1), sp.get("num_random_blocks", 3),
                                     sp.get("seed", 0), causal=n["causal"])
        o = attention_ref(q, k, v, H, KV, hd, hd, causal=n["causal"], window=n["window"],
                          scale=n.get("softmax_scale"), keep_mask=keep)
        return o @ P[a + ".o_proj.weight"].T + bias(".o_proj")

    x = P["model.embed_tokens.weight"][tokens]
    for i in range(n["L"]):
        pre = f"model.layers.{i}"
        h = rms(x, P[pre + ".input_layernorm.weight"])
        x = x + self_attention(h, pre + ".self_attn")
        h = rms(x, P[pre + ".post_attention_layernorm.weight"])
        if n["E"] and i >= n["first_dense"] and i % n["freq"] == 0:
            mlp = pre + "." + n.get("moe_module", "mlp")
            g_name, u_name, d_name = n.get("experts", ("gate_proj", "up_proj", "down_proj"))
            if n["gate"] == "mlp":
                z = F.gelu(h @ P[mlp + ".gate.fc1.weight"].T + P[mlp + ".gate.fc1.bias"])
                logits = z @ P[mlp + ".gate.fc2.weight"].T + P[mlp + ".gate.fc2.bias"]
            else:
                logits = h @ P[mlp + ".gate.weight"].T
            w, idx = router_ref(logits, n["K"], sigmoid=n["sigmoid"], norm=n["norm"],
                                scale=n["scale"], bias=P.get(mlp + ".gate.e_score_correction_bias"),
                                groups=n["groups"], keep=n["keep"])
            if routing is not None:
                routing[mlp + ".gate"] = idx
            f = experts_ref(h, w, idx, P[mlp + ".experts." + g_name],
                            P[mlp + ".experts." + u_name], P[mlp + ".experts." + d_name])
            if n["shared"]:
                f = f + ffn(h, mlp + ".shared_experts")
        else:
            f = ffn(h, pre + ".mlp")
        x = x + f
        if n["comp"]:
            c = pre + ".compression"
            enc = F.gelu(x @ P[c + ".encoder.weight"].T + P[c + ".encoder.bias"])
            dec = enc @ P[c + ".decoder.weight"].T + P[c + ".decoder.bias"]
            x = F.layer_norm(x + dec, (D,), P[c + ".norm.weight"], P[c + ".norm.bias"],
                             n["comp"].get("eps", 1e-5))
    x = rms(x, P["model.norm.weight"])
    head = P["model.embed_tokens.weight"] if n["tie"] else P["lm_head.weight"]
    return x @ head.T


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--tokens", required=True)
    p.add_argument("--strata-logits", required=True)
    p.add_argument("--strata-generated", default=None,
                   help="token ids strata-run infer printed for --tokens")
    p.add_argument("--quantize", choices=["w8a16", "w8a8-dynamic", "w8a8"], default=None,
                   help="the weights are int8 with <name>_scale: run the "
                   "scheme's quantized linear layers (quant_reference.py)")
    p.add_argument("--rtol", type=float, default=1e-4)
    p.add_argument("--atol", type=float, default=1e-5)
    args = p.parse_args()
    cfg = (json.load(open(args.config)) if args.config.endswith(".json")
           else yaml.safe_load(open(args.config)))
    P = load_safetensors(args.weights)
    if args.quantize:
        from quant_reference import quantized_weights
        P = quantized_weights(P, args.quantize)
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
        eos = (cfg.get("eos_token_id", -1) if "model_type" in cfg
               else cfg["model"].get("eos_token_id", -1))
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
