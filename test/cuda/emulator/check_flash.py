"""Emulates strata-flash-attention-kernels on random inputs (causal,
sliding-window and key-padding masks, grouped and single KV heads, head
dims below, above and at multiples of 32, queries aligned to the end of
longer keys, several query and key tiles) and compares with a float64
numpy softmax attention."""

import numpy as np

import harness

MODULE = """
func.func @gqa_causal_window_pad(%q: memref<?x?x4x16xf32>, %k: memref<?x?x2x16xf32>, %v: memref<?x?x2x8xf32>, %pad: memref<?xi32>, %out: memref<?x?x4x8xf32>) {
  strata_kernel.flash_attention %q, %k, %v key_padding(%pad : memref<?xi32>) into %out {causal = true, window = 4, scale = 0.25 : f64} : memref<?x?x4x16xf32>, memref<?x?x2x16xf32>, memref<?x?x2x8xf32>, memref<?x?x4x8xf32>
  return
}
func.func @mqa_pad(%q: memref<?x?x3x40xf32>, %k: memref<?x?x1x40xf32>, %v: memref<?x?x1x24xf32>, %pad: memref<?xi32>, %out: memref<?x?x3x24xf32>) {
  strata_kernel.flash_attention %q, %k, %v key_padding(%pad : memref<?xi32>) into %out {causal = false, scale = 0.15 : f64} : memref<?x?x3x40xf32>, memref<?x?x1x40xf32>, memref<?x?x1x24xf32>, memref<?x?x3x24xf32>
  return
}
func.func @causal_pad(%q: memref<?x?x2x32xf32>, %k: memref<?x?x2x32xf32>, %v: memref<?x?x2x33xf32>, %pad: memref<?xi32>, %out: memref<?x?x2x33xf32>) {
  strata_kernel.flash_attention %q, %k, %v key_padding(%pad : memref<?xi32>) into %out {causal = true, scale = 0.2 : f64} : memref<?x?x2x32xf32>, memref<?x?x2x32xf32>, memref<?x?x2x33xf32>, memref<?x?x2x33xf32>
  return
}
func.func @window(%q: memref<?x?x2x16xf32>, %k: memref<?x?x2x16xf32>, %v: memref<?x?x2x16xf32>, %out: memref<?x?x2x16xf32>) {
  strata_kernel.flash_attention %q, %k, %v into %out {causal = false, window = 3, scale = 0.5 : f64} : memref<?x?x2x16xf32>, memref<?x?x2x16xf32>, memref<?x?x2x16xf32>, memref<?x?x2x16xf32>
  return
}
func.func @full(%q: memref<?x?x2x32xf32>, %k: memref<?x?x1x32xf32>, %v: memref<?x?x1x16xf32>, %out: memref<?x?x2x16xf32>) {
  strata_kernel.flash_attention %q, %k, %v into %out {causal = false, scale = 0.18 : f64} : memref<?x?x2x32xf32>, memref<?x?x1x32xf32>, memref<?x?x1x16xf32>, memref<?x?x2x16xf32>
  return
}
func.func @pad_noncausal(%q: memref<?x?x2x32xf32>, %k: memref<?x?x2x32xf32>, %v: memref<?x?x2x24xf32>, %pad: memref<?xi32>, %out: memref<?x?x2x24xf32>) {
  strata_kernel.flash_attention %q, %k, %v key_padding(%pad : memref<?xi32>) into %out {causal = false, scale = 0.18 : f64} : memref<?x?x2x32xf32>, memref<?x?x2x32xf32>, memref<?x?x2x24xf32>, memref<?x?x2x24xf32>
  return
}
func.func @mla(%q: memref<?x?x2x192xf32>, %k: memref<?x?x2x192xf32>, %v: memref<?x?x2x128xf32>, %out: memref<?x?x2x128xf32>) {
  strata_kernel.flash_attention %q, %k, %v into %out {causal = true, scale = 0.072 : f64} : memref<?x?x2x192xf32>, memref<?x?x2x192xf32>, memref<?x?x2x128xf32>, memref<?x?x2x128xf32>
  return
}
func.func @mla_absorbed(%q: memref<?x?x2x576xf32>, %k: memref<?x?x1x576xf32>, %v: memref<?x?x1x512xf32>, %out: memref<?x?x2x512xf32>) {
  strata_kernel.flash_attention %q, %k, %v into %out {causal = true, scale = 0.072 : f64} : memref<?x?x2x576xf32>, memref<?x?x1x576xf32>, memref<?x?x1x512xf32>, memref<?x?x2x512xf32>
  return
}
func.func @d128(%q: memref<1x?x2x128xf32>, %out: memref<1x?x2x128xf32>) {
  strata_kernel.flash_attention %q, %q, %q into %out {causal = true, scale = 0.088 : f64} : memref<1x?x2x128xf32>, memref<1x?x2x128xf32>, memref<1x?x2x128xf32>, memref<1x?x2x128xf32>
  return
}
"""

# The functions: heads, KV heads, head dim, value dim, masks and scale.
FUNCS = {
    "gqa_causal_window_pad": dict(H=4, KV=2, D=16, Dv=8, causal=True, window=4, pad=True, scale=0.25),
    "mqa_pad": dict(H=3, KV=1, D=40, Dv=24, causal=False, window=None, pad=True, scale=0.15),
    "causal_pad": dict(H=2, KV=2, D=32, Dv=33, causal=True, window=None, pad=True, scale=0.2),
    "window": dict(H=2, KV=2, D=16, Dv=16, causal=False, window=3, pad=False, scale=0.5),
    "full": dict(H=2, KV=1, D=32, Dv=16, causal=False, window=None, pad=False, scale=0.18),
    "pad_noncausal": dict(H=2, KV=2, D=32, Dv=24, causal=False, window=None, pad=True, scale=0.18),
    "mla": dict(H=2, KV=2, D=192, Dv=128, causal=True, window=None, pad=False, scale=0.072),
    "mla_absorbed": dict(H=2, KV=1, D=576, Dv=512, causal=True, window=None, pad=False, scale=0.072),
    "d128": dict(H=2, KV=2, D=128, Dv=128, causal=True, window=None, pad=False, scale=0.088, same=True),
}

# Runs: function, batch, queries, keys, padding per batch row.
CASES = [
    ("gqa_causal_window_pad", 2, 7, 9, [0, 3]),     # queries at the end of longer keys
    ("gqa_causal_window_pad", 1, 1, 6, [2]),        # a decode step
    ("gqa_causal_window_pad", 2, 20, 75, [0, 9]),   # two key tiles of 64
    ("mqa_pad", 2, 6, 6, [3, 0]),                   # padding queries see themselves
    ("mqa_pad", 1, 18, 18, [4]),
    ("causal_pad", 2, 5, 8, [5, 1]),
    ("causal_pad", 1, 17, 20, [2]),
    ("window", 1, 4, 10, None),                     # later keys visible too
    ("window", 1, 20, 80, None),
    ("full", 1, 17, 130, None),                     # three key tiles, the last partial
    ("pad_noncausal", 2, 18, 70, [5, 66]),          # a whole key tile of padding
    ("mla", 1, 20, 23, None),                       # DeepSeek-V2's head dims
    ("mla_absorbed", 1, 3, 5, None),                # MLA with absorbed projections (MQA)
    ("d128", 1, 5, 5, None),                        # q, k and v one buffer
    ("d128", 1, 70, 70, None),                      # two query tiles
]

# One entry per kernel variant: name, pass flags, whether the variant has
# bf16 tensor-core tiles (used where the function's head dims allow them,
# from 16 queries), tolerance for those tiles relative to the output's
# largest magnitude (the reference rounds q, k and v to bf16 but not the
# probabilities, which the kernel rounds for P·V). Other kernels are f32
# and held to 1e-5.
VARIANTS = [
    ("warp-per-row", ["--strata-flash-attention-kernels"], False, None),
    ("grid-stride", ["--strata-flash-attention-kernels=warps-per-block=2 max-blocks=3"], False, None),
    ("tensor-cores", ["--strata-flash-attention-kernels=tensor-cores=true"], True, 1e-2),
]
F32_TOL = 1e-5
TC_MIN_QUERIES = 16


def tc_eligible(f):
    """Head dims the tensor-core kernel takes: q·kᵀ in mma k-steps of 16,
    P·V in n-steps of 8, key and value tiles in 48 KiB of shared memory."""
    tiles = 2 * (64 * (f["D"] + 8) + f["Dv"] * (64 + 8))
    return f["D"] % 16 == 0 and f["Dv"] % 8 == 0 and tiles <= 48 * 1024


def attention(q, k, v, scale, causal, window=None, pad=None, bf16=False):
    """float64 softmax attention of strata_kernel.flash_attention: q [B, S, H, D],
    k [B, T, KV, D], v [B, T, KV, Dv]; queries aligned to the end of the
    keys; pad[b] leading keys hidden from every other query of row b."""
    f = harness.bf16 if bf16 else (lambda x: np.asarray(x, dtype=np.float64))
    q, k, v = f(q), f(k), f(v)
    B, S, H, _ = q.shape
    T, KV = k.shape[1], k.shape[2]
    out = np.zeros((B, S, H, v.shape[3]))
    t = np.arange(T)
    for b in range(B):
        for s in range(S):
            pos = T - S + s
            visible = np.ones(T, dtype=bool)
            if pad is not None:
                visible &= (t >= pad[b]) | (t == pos)
            if causal:
                visible &= t <= pos
            if window is not None:
                visible &= t > pos - window
            for h in range(H):
                kv = h // (H // KV)
                x = scale * (k[b, :, kv] @ q[b, s, h])
                x = np.where(visible, x, -np.inf)
                p = np.exp(x - x.max())
                out[b, s, h] = (p / p.sum()) @ v[b, :, kv]
    return out


def main():
    args = harness.arguments(__doc__)
    check = harness.Checker()
    rng = np.random.default_rng(11)
    rand = lambda *s: rng.standard_normal(s).astype(np.float32)

    for name, passes, tensor_cores, tc_tol in VARIANTS:
        text = harness.lower(args.strata_opt, MODULE, passes, args.keep, "flash_" + name)
        mod = harness.simt.Module(text)
        for func, B, S, T, pad in CASES:
            f = FUNCS[func]
            tc = tensor_cores and tc_eligible(f) and S >= TC_MIN_QUERIES
            out = np.full((B, S, f["H"], f["Dv"]), np.nan, dtype=np.float32)
            if f.get("same"):
                q = k = v = rand(B, S, f["H"], f["D"])
                ins = (q, out)
            else:
                q, k, v = rand(B, S, f["H"], f["D"]), rand(B, T, f["KV"], f["D"]), rand(B, T, f["KV"], f["Dv"])
                ins = (q, k, v) + ((np.array(pad, dtype=np.int32),) if f["pad"] else ()) + (out,)
            outs, _, st = harness.run(mod, func, *ins)
            ref = attention(q, k, v, f["scale"], f["causal"], f["window"],
                            pad if f["pad"] else None, bf16=tc)
            what = "%s %s B=%d S=%d T=%d%s" % (name, func, B, S, T, " pad=%s" % pad if f["pad"] else "")
            check.close(what, outs[-1], ref, tc_tol if tc else F32_TOL)
            (launch,) = st["launches"]
            if tc:
                check.expect(what + ": ran the tensor-core kernel", st["warp_mma"] > 0,
                             "%d mma, grid %s, block %s" % (st["warp_mma"], launch["grid"], launch["block"]))
            else:
                warps = launch["grid"][0] * launch["block"][0] // 32
                rows = B * S * f["H"]
                strided = "max-blocks" in passes[0]
                ok = st["warp_mma"] == 0 and st["warp_shuffle"] > 0 and \
                    (warps < rows if strided and rows > 6 else warps >= rows)
                check.expect(what + ": ran the warp-per-row kernel, %d warps for %d rows" % (warps, rows), ok,
                             "grid %s, block %s" % (launch["grid"], launch["block"]))

    check.finish()


if __name__ == "__main__":
    main()
