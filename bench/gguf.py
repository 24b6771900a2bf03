"""A GGUF writer for Llama- and Mixtral-style checkpoints (bench only).

Writes what llama.cpp's `llama` architecture reads: the hyper-parameters
as metadata, a placeholder SentencePiece-style vocabulary (the benchmarks
feed token ids, never text), and the tensors in F32, F16 or Q8_0 under
llama.cpp's names. Written from the GGUF specification (version 3,
little-endian); only the types these models need.

HuggingFace checkpoints apply rotary embedding to the two halves of each
head (rotate_half); llama.cpp's `llama` architecture rotates adjacent
pairs. The q and k projections' rows are therefore permuted per head so
that row 2i of a head is HF's row i and row 2i+1 is HF's row i + d/2,
which makes llama.cpp compute the same attention scores.
"""
import struct

import numpy as np

# gguf_type of metadata values.
_U32, _I32, _F32, _BOOL, _STRING, _ARRAY = 4, 5, 6, 7, 8, 9
# ggml_type of tensors.
GGML_F32, GGML_F16, GGML_Q8_0 = 0, 1, 8
_FILE_TYPE = {GGML_F32: 0, GGML_F16: 1, GGML_Q8_0: 7}  # llama_ftype
ALIGNMENT = 32
Q8_0_BLOCK = 32


def _string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def _value(v):
    """(gguf_type, bytes) of a metadata value."""
    if isinstance(v, bool):
        return _BOOL, struct.pack("<B", v)
    if isinstance(v, int):
        return (_U32, struct.pack("<I", v)) if v >= 0 else (_I32, struct.pack("<i", v))
    if isinstance(v, float):
        return _F32, struct.pack("<f", v)
    if isinstance(v, str):
        return _STRING, _string(v)
    if isinstance(v, tuple) and v[0] == "f32[]":
        a = np.asarray(v[1], dtype="<f4")
        return _ARRAY, struct.pack("<IQ", _F32, a.size) + a.tobytes()
    if isinstance(v, tuple) and v[0] == "i32[]":
        a = np.asarray(v[1], dtype="<i4")
        return _ARRAY, struct.pack("<IQ", _I32, a.size) + a.tobytes()
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return _ARRAY, struct.pack("<IQ", _STRING, len(v)) + b"".join(_string(x) for x in v)
    raise TypeError(f"no GGUF encoding for {v!r}")


def quantize_q8_0(a):
    """llama.cpp's Q8_0 of a float array whose last dimension is a multiple
    of 32: per block of 32, an f16 scale d = max|x| / 127 and 32 int8
    round(x / d)."""
    blocks = a.astype(np.float32).reshape(-1, Q8_0_BLOCK)
    d = np.abs(blocks).max(axis=1) / 127.0
    inv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1.0), 0.0)
    q = np.round(blocks * inv[:, None]).astype(np.int8)
    out = np.empty(blocks.shape[0], dtype=[("d", "<f2"), ("q", "i1", (Q8_0_BLOCK,))])
    out["d"] = d.astype(np.float16)
    out["q"] = q
    return out.tobytes()


def encode(a, ggml_type):
    if ggml_type == GGML_F32:
        return a.astype("<f4").tobytes()
    if ggml_type == GGML_F16:
        return a.astype("<f2").tobytes()
    if ggml_type == GGML_Q8_0:
        return quantize_q8_0(a)
    raise ValueError(ggml_type)


def write_gguf(path, metadata, tensors):
    """metadata: ordered dict of key -> value; tensors: list of
    (name, numpy array in row-major PyTorch order, ggml_type)."""
    infos, blobs, offset = [], [], 0
    for name, a, ggml_type in tensors:
        data = encode(a, ggml_type)
        # GGUF lists dimensions fastest first: PyTorch's shape reversed.
        dims = list(reversed(a.shape))
        infos.append(_string(name) + struct.pack("<I", len(dims)) +
                     b"".join(struct.pack("<Q", d) for d in dims) +
                     struct.pack("<IQ", ggml_type, offset))
        pad = (-len(data)) % ALIGNMENT
        blobs.append(data + b"\0" * pad)
        offset += len(data) + pad
    kv = b""
    for key, v in metadata.items():
        t, b = _value(v)
        kv += _string(key) + struct.pack("<I", t) + b
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata)) + kv + b"".join(infos)
    head += b"\0" * ((-len(head)) % ALIGNMENT)
    with open(path, "wb") as f:
        f.write(head)
        for b in blobs:
            f.write(b)


def _rotary_rows(w, heads):
    """HF's rotate_half row order -> llama.cpp's adjacent pairs, per head."""
    out, d = w.shape[0] // heads, w.shape[1:]
    return w.reshape(heads, 2, out // 2, *d).swapaxes(1, 2).reshape(w.shape)


def _placeholder_vocab(n):
    """A SentencePiece-style vocabulary of n entries: <unk>, <s>, </s>,
    the 256 byte tokens, then ordinary pieces."""
    tokens, types = ["<unk>", "<s>", "</s>"], [2, 3, 3]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [6] * 256
    while len(tokens) < n:
        tokens.append(f"\u2581t{len(tokens)}")
        types.append(1)
    tokens, types = tokens[:n], types[:n]
    return tokens, [float(-i) for i in range(n)], types


def hf_to_gguf(cfg, weights, path, ggml_type):
    """Writes a HuggingFace Llama/Mixtral config + f32 weights (name ->
    numpy array) as GGUF with the matrices in ggml_type (F32, F16 or
    Q8_0); norms and the router's gate stay F32, as llama.cpp's converter
    keeps them."""
    layers, heads = cfg["num_hidden_layers"], cfg["num_attention_heads"]
    kv_heads = cfg.get("num_key_value_heads", heads)
    hidden = cfg["hidden_size"]
    experts = cfg.get("num_local_experts", 0)
    md = {
        "general.architecture": "llama",
        "general.name": "strata-bench",
        "general.alignment": ALIGNMENT,
        "general.file_type": _FILE_TYPE[ggml_type],
        "llama.vocab_size": cfg["vocab_size"],
        "llama.context_length": cfg.get("max_position_embeddings", 2048),
        "llama.embedding_length": hidden,
        "llama.block_count": layers,
        "llama.feed_forward_length": cfg["intermediate_size"],
        "llama.rope.dimension_count": hidden // heads,
        "llama.rope.freq_base": float(cfg.get("rope_theta", 10000.0)),
        "llama.attention.head_count": heads,
        "llama.attention.head_count_kv": kv_heads,
        "llama.attention.layer_norm_rms_epsilon": float(cfg.get("rms_norm_eps", 1e-6)),
    }
    if experts:
        md["llama.expert_count"] = experts
        md["llama.expert_used_count"] = cfg["num_experts_per_tok"]
    tokens, scores, types = _placeholder_vocab(cfg["vocab_size"])
    md.update({
        "tokenizer.ggml.model": "llama",
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.scores": ("f32[]", scores),
        "tokenizer.ggml.token_type": ("i32[]", types),
        "tokenizer.ggml.bos_token_id": 1,
        "tokenizer.ggml.eos_token_id": 2,
        "tokenizer.ggml.unknown_token_id": 0,
        "tokenizer.ggml.add_bos_token": False,
    })

    W = weights
    t = [("token_embd.weight", W["model.embed_tokens.weight"], ggml_type)]
    for i in range(layers):
        p, b = f"model.layers.{i}.", f"blk.{i}."
        t += [
            (b + "attn_norm.weight", W[p + "input_layernorm.weight"], GGML_F32),
            (b + "attn_q.weight", _rotary_rows(W[p + "self_attn.q_proj.weight"], heads), ggml_type),
            (b + "attn_k.weight", _rotary_rows(W[p + "self_attn.k_proj.weight"], kv_heads), ggml_type),
            (b + "attn_v.weight", W[p + "self_attn.v_proj.weight"], ggml_type),
            (b + "attn_output.weight", W[p + "self_attn.o_proj.weight"], ggml_type),
            (b + "ffn_norm.weight", W[p + "post_attention_layernorm.weight"], GGML_F32),
        ]
        if experts:
            t += [(b + "ffn_gate_inp.weight", W[p + "block_sparse_moe.gate.weight"], GGML_F32)]
            for ours, theirs in (("w1", "ffn_gate_exps"), ("w3", "ffn_up_exps"), ("w2", "ffn_down_exps")):
                # Strata saves each projection stacked over experts; a
                # HuggingFace checkpoint has one tensor per expert.
                stack = W.get(f"{p}block_sparse_moe.experts.{ours}")
                if stack is None:
                    stack = np.stack([W[f"{p}block_sparse_moe.experts.{e}.{ours}.weight"]
                                      for e in range(experts)])
                t.append((b + theirs + ".weight", stack, ggml_type))
        else:
            t += [(b + "ffn_gate.weight", W[p + "mlp.gate_proj.weight"], ggml_type),
                  (b + "ffn_up.weight", W[p + "mlp.up_proj.weight"], ggml_type),
                  (b + "ffn_down.weight", W[p + "mlp.down_proj.weight"], ggml_type)]
    t.append(("output_norm.weight", W["model.norm.weight"], GGML_F32))
    head = W.get("lm_head.weight", W["model.embed_tokens.weight"])
    t.append(("output.weight", head, ggml_type))
    write_gguf(path, md, t)
