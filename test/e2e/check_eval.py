"""Checks `strata-run eval --json` figures against PyTorch.

usage: check_eval.py CONFIG DATA.bin SEQ_LEN EVAL.json MODEL_WEIGHTS SCHEME [REF_WEIGHTS]

Recomputes with model_reference.forward over the same windows (consecutive
windows of SEQ_LEN inputs, each predicting the next tokens; the last may
be shorter): the model's perplexity (SCHEME none: float weights, else the
int8 scheme of quant_reference.py) and, with REF_WEIGHTS (float), the
reference's perplexity, top-1 agreement and mean KL(reference || model).
Each must match the JSON within 1e-4 relative (KL within 1e-3 relative or
1e-9 absolute: it is a small difference of large terms).
"""
import json
import os
import struct
import sys

import torch
import yaml

sys.path.insert(0, os.path.dirname(__file__))
from model_reference import forward, load_safetensors  # noqa: E402
from quant_reference import quantized_weights  # noqa: E402

config, data, seq_len, result, weights, scheme = sys.argv[1:7]
ref_weights = sys.argv[7] if len(sys.argv) > 7 else None
cfg = json.load(open(config)) if config.endswith(".json") else yaml.safe_load(open(config))
raw = open(data, "rb").read()
ids = list(struct.unpack(f"<{len(raw) // 4}I", raw))
T = int(seq_len)
P = load_safetensors(weights)
if scheme != "none":
    P = quantized_weights(P, scheme)
R = load_safetensors(ref_weights) if ref_weights else None

nll = ref_nll = kl = 0.0
agree = n = 0
with torch.no_grad():
    for start in range(0, len(ids) - 1, T):
        length = min(T, len(ids) - 1 - start)
        x = torch.tensor([ids[start:start + length]])
        y = torch.tensor(ids[start + 1:start + 1 + length])
        lp = torch.log_softmax(forward(cfg, P, x)[0].double(), -1)
        nll += -lp[torch.arange(length), y].sum().item()
        n += length
        if R is not None:
            rp = torch.log_softmax(forward(cfg, R, x)[0].double(), -1)
            ref_nll += -rp[torch.arange(length), y].sum().item()
            agree += (lp.argmax(-1) == rp.argmax(-1)).sum().item()
            kl += (rp.exp() * (rp - lp)).sum().item()

got = json.load(open(result))
want = {"tokens": n, "perplexity": torch.tensor(nll / n).exp().item()}
if R is not None:
    want.update(reference_perplexity=torch.tensor(ref_nll / n).exp().item(),
                top1_agreement=agree / n, mean_kl=kl / n)
ok = got["tokens"] == n
for key, value in want.items():
    if key == "tokens":
        continue
    err = abs(got[key] - value)
    tol = max(1e-3 * abs(value), 1e-9) if key == "mean_kl" else 1e-4 * abs(value)
    ok &= err <= tol
    print(f"{key}: strata {got[key]:.9g}, torch {value:.9g}")
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
