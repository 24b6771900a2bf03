"""PyTorch reference of strata.quantized_linear's schemes (docs/quantization.md).

An int8 weight `q` [out, in] with f32 scales `s` [out] stands for s[n] * q[n, :]:
- w8a16: y = (x @ q^T) * s, x in f32;
- w8a8-dynamic: per row of x, s_x = max|x| / 127 (1 for a zero row),
  x_q = round-half-even(x / s_x) clamped to [-127, 127]; the int8 products
  are summed exactly (int32 in Strata, f64 here: exact below 2^53) and
  y = acc * s_x * s.
Routed experts (stacked [E, out, in] with scales [E, out]) index to one
expert's weight, so model_reference's experts_ref runs them unchanged: each
(token, expert) row is its own activation row.
`quantize_rows` is the runtime's weight quantizer (runtime/Quantize.cpp).
"""
import torch


def quantize_rows(w):
    """Symmetric per-row int8 of f32 `w`: (q, scales)."""
    amax = w.abs().amax(-1)
    s = torch.where(amax > 0, amax / 127.0, torch.ones_like(amax))
    q = torch.round(w / s.unsqueeze(-1)).clamp(-127, 127).to(torch.int8)
    return q, s


def quantize_activations(x):
    amax = x.abs().amax(-1, keepdim=True)
    sx = torch.where(amax > 0, amax / 127.0, torch.ones_like(amax))
    return torch.round(x / sx).clamp(-127, 127), sx


class QuantizedWeight:
    """Stands where model_reference.forward reads a weight as `h @ W.T`."""

    def __init__(self, q, s, scheme):
        self.q, self.s, self.scheme = q, s, scheme

    @property
    def T(self):
        return self

    def __getitem__(self, e):
        """Expert e of stacked [E, out, in] weights (scales [E, out])."""
        return QuantizedWeight(self.q[e], self.s[e], self.scheme)

    def __rmatmul__(self, x):
        if self.scheme == "w8a16":
            return (x @ self.q.float().T) * self.s
        xq, sx = quantize_activations(x)
        acc = (xq.double() @ self.q.double().T).float()
        return acc * sx * self.s


def quantized_weights(P, scheme):
    """P with each int8 weight (and its `_scale`) as one QuantizedWeight."""
    out = {}
    for name, t in P.items():
        if name.endswith("_scale") and name[:-len("_scale")] in P:
            continue
        if t.dtype == torch.int8:
            out[name] = QuantizedWeight(t, P[name + "_scale"], scheme)
        else:
            out[name] = t
    return out
