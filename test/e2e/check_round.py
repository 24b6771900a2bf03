"""strata.round against torch's conversions, bit for bit.

usage: check_round.py make X.safetensors
       check_round.py check bf16|f16 X.safetensors RESULT.f32

`make` writes 4096 values chosen to hit every case of the rounding: ties
to even in both formats, f16's overflow threshold (65504 stays, 65520
becomes inf), its subnormals and their ties, bf16's overflow near f32's
largest value, signed zeros, inf and NaN, and normal values over the
whole f32 range. `check` compares the rounded values with
`x.to(dtype).float()`; NaN must stay NaN.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from model_reference import load_safetensors, save_safetensors  # noqa: E402

N = 4096


def inputs():
    g = torch.Generator().manual_seed(5)
    special = [0.0, -0.0, float("inf"), float("-inf"), float("nan"),
               65504.0, 65519.0, 65520.0, -65520.0, 65536.0, 1e6,
               2.0 ** -14, 2.0 ** -24, 2.0 ** -25, 3 * 2.0 ** -25, 2.0 ** -26,
               1.5 * 2.0 ** -24, 2.5 * 2.0 ** -24, 6e-8, -6e-8,
               3.4028235e38, -3.4028235e38, 3.3961e38, 1e-45, 1.17549435e-38]
    # Exact midpoints between neighbours of each format (ties go to even).
    base = torch.randn(200, generator=g)
    bits = base.view(torch.int32)
    tie_bf16 = ((bits & ~0xFFFF) | 0x8000).view(torch.float32)
    tie_f16 = ((bits & ~0x1FFF) | 0x1000).view(torch.float32)
    subnormal = torch.randn(300, generator=g) * 2.0 ** -16
    wide = torch.randn(N, generator=g) * torch.exp2(
        torch.randint(-130, 128, (N,), generator=g).float())
    x = torch.cat([torch.tensor(special), tie_bf16, tie_f16, subnormal,
                   torch.randn(500, generator=g) * 60000, wide])
    return x[:N].contiguous()


def main():
    if sys.argv[1] == "make":
        save_safetensors(sys.argv[2], {"x": inputs()})
        return 0
    to, weights, result = sys.argv[2:5]
    x = load_safetensors(weights)["x"]
    ref = x.to(torch.bfloat16 if to == "bf16" else torch.float16).float()
    ours = torch.from_file(result, size=N, dtype=torch.float32)
    same = (ours.view(torch.int32) == ref.view(torch.int32)) | (
        ours.isnan() & ref.isnan())
    bad = (~same).nonzero().flatten()
    for i in bad[:5].tolist():
        print(f"x = {x[i].item()!r}: ours {ours[i].item()!r}, torch {ref[i].item()!r}")
    print(f"{to}: {N - len(bad)}/{N} identical to torch "
          f"({int(ref.isinf().sum())} inf, {int(ref.isnan().sum())} nan, "
          f"{int(((ref != 0) & (ref.abs() < 2.0 ** -14)).sum())} f16 subnormals)")
    return 0 if len(bad) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
