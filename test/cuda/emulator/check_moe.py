"""Emulates the routed-experts kernels: strata-grouped-matmul-kernels (the
tile path from 8 rows per expert, f32 FMA or bf16 mma.sync tiles, and the
one-warp-per-output path below it) with offsets that include empty
experts, and strata-expert-sort-kernel, against numpy (per-expert float64
products; a stable counting sort)."""

import numpy as np

import harness

E, N, D = 6, 70, 40   # experts; N and D not multiples of the tiles

GROUPED = """
func.func @grouped(%rows: memref<?x{D}xf32>, %w: memref<{E}x{N}x{D}xf32>, %offsets: memref<{E1}xi32>) -> memref<?x{N}xf32> {{
  %c0 = arith.constant 0 : index
  %p = memref.dim %rows, %c0 : memref<?x{D}xf32>
  %out = memref.alloc(%p) : memref<?x{N}xf32>
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%out : memref<?x{N}xf32>)
  strata_kernel.grouped_matmul %rows, %w groups(%offsets) into %out : memref<?x{D}xf32>, memref<{E}x{N}x{D}xf32>, memref<{E1}xi32>, memref<?x{N}xf32>
  return %out : memref<?x{N}xf32>
}}
func.func @grouped_acc(%rows: memref<?x{D}xf32>, %w: memref<{E}x{N}x{D}xf32>, %offsets: memref<{E1}xi32>, %out: memref<?x{N}xf32>) {{
  strata_kernel.grouped_matmul %rows, %w groups(%offsets) into %out : memref<?x{D}xf32>, memref<{E}x{N}x{D}xf32>, memref<{E1}xi32>, memref<?x{N}xf32>
  return
}}
""".format(E=E, N=N, D=D, E1=E + 1)

SORT = """
func.func @sort8(%idx: memref<?xi32>, %offsets: memref<9xi32>, %order: memref<?xi32>, %position: memref<?xi32>) {
  strata_kernel.expert_sort %idx into %offsets, %order, %position {num_experts = 8} : memref<?xi32>, memref<9xi32>, memref<?xi32>, memref<?xi32>
  return
}
func.func @sort40(%idx: memref<?xi32>, %offsets: memref<41xi32>, %order: memref<?xi32>, %position: memref<?xi32>) {
  strata_kernel.expert_sort %idx into %offsets, %order, %position {num_experts = 40} : memref<?xi32>, memref<41xi32>, memref<?xi32>, memref<?xi32>
  return
}
func.func @sort1500(%idx: memref<?xi32>, %offsets: memref<1501xi32>, %order: memref<?xi32>, %position: memref<?xi32>) {
  strata_kernel.expert_sort %idx into %offsets, %order, %position {num_experts = 1500} : memref<?xi32>, memref<1501xi32>, memref<?xi32>, memref<?xi32>
  return
}
"""

MODES = [
    ("f32", ["--strata-grouped-matmul-kernels"], False),
    ("tc", ["--strata-grouped-matmul-kernels=tensor-cores=true"], True),
]
TOL = 1e-5


def grouped_reference(rows, w, offsets, init, tc):
    r = harness.bf16(rows) if tc else rows.astype(np.float64)
    wt = harness.bf16(w) if tc else w.astype(np.float64)
    out = init.astype(np.float64).copy()
    for e in range(len(offsets) - 1):
        lo, hi = offsets[e], offsets[e + 1]
        out[lo:hi] += r[lo:hi] @ wt[e].T
    return out


def sort_reference(idx, experts):
    order = np.argsort(idx, kind="stable").astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(idx, minlength=experts))]).astype(np.int32)
    position = np.empty_like(order)
    position[order] = np.arange(len(idx), dtype=np.int32)
    return offsets, order, position


def main():
    args = harness.arguments(__doc__)
    check = harness.Checker()
    rng = np.random.default_rng(7)
    rand = lambda *s: rng.standard_normal(s).astype(np.float32)
    w = rand(E, N, D)

    # Rows per expert: tile path from P >= 8 E = 48 rows.
    cases = [
        ("tiles, empty first/last experts, one of 70 rows", [0, 70, 0, 5, 75, 0], True),
        ("tiles, exactly 8 E rows", [10, 0, 20, 0, 0, 18], True),
        ("warps, 47 rows", [0, 20, 0, 27, 0, 0], False),
        ("warps, decode", [0, 0, 1, 0, 2, 0], False),
        ("no rows", [0] * E, False),
    ]
    for mode, passes, tc in MODES:
        text = harness.lower(args.strata_opt, GROUPED, passes, args.keep, "grouped_" + mode)
        mod = harness.simt.Module(text)
        for name, counts, tiles in cases:
            offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
            P = int(offsets[-1])
            rows = rand(P, D)
            _, (got,), st = harness.run(mod, "grouped", rows, w, offsets)
            ref = grouped_reference(rows, w, offsets, np.zeros((P, N)), tc and tiles)
            check.close("%s grouped %s (P=%d)" % (mode, name, P), got, ref, TOL)
            if P:
                took = (st["barriers"] > 0 and (st["warp_mma"] > 0) == tc) if tiles else \
                    (st["warp_shuffle"] > 0 and st["barriers"] == 0)
                check.expect("%s grouped P=%d ran the %s kernel" % (mode, P, "tile" if tiles else "warp"), took,
                             "%d mma, %d shuffles, %d barriers" % (st["warp_mma"], st["warp_shuffle"], st["barriers"]))
            # Without a fill: the kernels add to init's contents.
            init = rand(P, N)
            (_, _, _, got), _, _ = harness.run(mod, "grouped_acc", rows, w, offsets, init)
            ref = grouped_reference(rows, w, offsets, init, tc and tiles)
            check.close("%s grouped_acc %s (P=%d)" % (mode, name, P), got, ref, TOL)

    text = harness.lower(args.strata_opt, SORT, ["--strata-expert-sort-kernel"], args.keep, "expert_sort")
    mod = harness.simt.Module(text)
    for func, experts, P, used in [("sort8", 8, 37, [1, 2, 5, 6]), ("sort8", 8, 1, [7]),
                                   ("sort8", 8, 0, [0]), ("sort40", 40, 150, list(range(0, 40, 3))),
                                   ("sort1500", 1500, 64, [0, 3, 1024, 1499, 700])]:
        idx = rng.choice(np.array(used, dtype=np.int32), size=P).astype(np.int32)
        garbage = lambda n: np.full(n, -7, dtype=np.int32)
        (_, offsets, order, position), _, st = harness.run(mod, func, idx, garbage(experts + 1), garbage(P),
                                                           garbage(P))
        ref = sort_reference(idx, experts)
        what = "expert_sort %d experts, %d pairs" % (experts, P)
        check.equal(what + ": offsets", offsets, ref[0])
        check.equal(what + ": order", order, ref[1])
        check.equal(what + ": position", position, ref[2])
    check.finish()


if __name__ == "__main__":
    main()
