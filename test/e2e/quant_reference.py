"""PyTorch reference of strata.quantized_linear's schemes (docs/quantization.md).

An int8 weight `q` [out, in] with f32 scales `s` [out] stands for s[n] * q[n, :]:
- w8a16: y = (x @ q^T) * s, x in f32;
- w8a8-dynamic: per row of x, s_x = max|x| / 127 (1 for a zero row),
  x_q = round-half-even(x / s_x) clamped to [-127, 127]; the int8 products
  are summed exactly (int32 in Strata, f64 here: exact below 2^53) and
  y = acc * s_x * s.
- w8a8 (static): x_q = clamp(round-half-even(x / s_x) + z, 0, 255) with the
  calibrated scale s_x and zero point z (`<module>.input_scale` and
  `.input_zero_point`; per expert for routed experts, up reading gate's);
  the products (x_q - z) * q are summed exactly and y = acc * s_x * s.
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

    def __init__(self, q, s, scheme, act=None):
        self.q, self.s, self.scheme, self.act = q, s, scheme, act

    @property
    def T(self):
        return self

    def __getitem__(self, e):
        """Expert e of stacked [E, out, in] weights (scales [E, out])."""
        act = (self.act[0][e:e + 1], self.act[1][e:e + 1]) if self.act else None
        return QuantizedWeight(self.q[e], self.s[e], self.scheme, act)

    def __rmatmul__(self, x):
        if self.scheme == "w8a16":
            return (x @ self.q.float().T) * self.s
        if self.scheme == "w8a8":
            sx, z = self.act
            xq = (torch.round(x / sx) + z).clamp(0, 255) - z
        else:
            xq, sx = quantize_activations(x)
        acc = (xq.double() @ self.q.double().T).float()
        return acc * sx * self.s


def activation_params(P, name):
    """The calibrated (scale, zero point) of int8 weight `name`'s products."""
    base = name[:-len(".weight")] if name.endswith(".weight") else name
    # An up projection (Mixtral's w3) quantizes its rows with gate's (w1).
    for up, gate in ((".up_proj", ".gate_proj"), (".w3", ".w1")):
        if base + ".input_scale" not in P and base.endswith(up):
            base = base[:-len(up)] + gate
    return P[base + ".input_scale"], P[base + ".input_zero_point"]


def quantized_weights(P, scheme):
    """P with each int8 weight (and its `_scale`) as one QuantizedWeight."""
    out = {}
    for name, t in P.items():
        if name.endswith("_scale") and name[:-len("_scale")] in P:
            continue
        if t.dtype == torch.int8:
            act = activation_params(P, name) if scheme == "w8a8" else None
            out[name] = QuantizedWeight(t, P[name + "_scale"], scheme, act)
        else:
            out[name] = t
    return out
