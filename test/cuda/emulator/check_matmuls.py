"""Emulates strata-tiled-matmuls' kernels (f32 FMA tiles, bf16 mma.sync
tiles, and the one-warp-per-output kernel behind the dynamic-row branch)
on random inputs and compares them with float64 numpy products."""

import numpy as np

import harness

MODULE = """
#pa = affine_map<(b, s, h, e, t) -> (b, h, s, t)>
#va = affine_map<(b, s, h, e, t) -> (b, t, h, e)>
#oa = affine_map<(b, s, h, e, t) -> (b, s, h, e)>
func.func @pv(%p: memref<2x3x21x37xf32>, %v: memref<2x37x3x24xf32>, %o: memref<2x21x3x24xf32>) {
  linalg.generic {indexing_maps = [#pa, #va, #oa], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%p, %v : memref<2x3x21x37xf32>, memref<2x37x3x24xf32>) outs(%o : memref<2x21x3x24xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %m = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  return
}
func.func @linear_view(%xx: memref<?x80xf32>, %w: memref<24x40xf32>, %y: memref<?x24xf32>) {
  %c0 = arith.constant 0 : index
  %m = memref.dim %xx, %c0 : memref<?x80xf32>
  %x = memref.subview %xx[0, 16] [%m, 40] [1, 1] : memref<?x80xf32> to memref<?x40xf32, strided<[80, 1], offset: 16>>
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : memref<?x40xf32, strided<[80, 1], offset: 16>>, memref<24x40xf32>) outs(%y : memref<?x24xf32>)
  return
}
func.func @mm(%a: memref<70x33xf32>, %b: memref<33x50xf32>, %c: memref<70x50xf32>) {
  linalg.matmul ins(%a, %b : memref<70x33xf32>, memref<33x50xf32>) outs(%c : memref<70x50xf32>)
  return
}
func.func @mm_dyn(%a: memref<?x?xf32>, %b: memref<?x?xf32>, %c: memref<?x?xf32>) {
  linalg.matmul ins(%a, %b : memref<?x?xf32>, memref<?x?xf32>) outs(%c : memref<?x?xf32>)
  return
}
func.func @bmm(%a: memref<?x?x8xf32>, %b: memref<?x8x?xf32>, %c: memref<?x?x?xf32>) {
  linalg.batch_matmul ins(%a, %b : memref<?x?x8xf32>, memref<?x8x?xf32>) outs(%c : memref<?x?x?xf32>)
  return
}
func.func @linear(%x: memref<?x72xf32>, %w: memref<70x72xf32>, %y: memref<?x70xf32>) {
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : memref<?x72xf32>, memref<70x72xf32>) outs(%y : memref<?x70xf32>)
  return
}
func.func @linear_fill(%x: memref<?x40xf32>, %w: memref<24x40xf32>, %init: f32) -> memref<?x24xf32> {
  %c0 = arith.constant 0 : index
  %m = memref.dim %x, %c0 : memref<?x40xf32>
  %y = memref.alloc(%m) : memref<?x24xf32>
  linalg.fill ins(%init : f32) outs(%y : memref<?x24xf32>)
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : memref<?x40xf32>, memref<24x40xf32>) outs(%y : memref<?x24xf32>)
  return %y : memref<?x24xf32>
}
func.func @linear_rows(%x: memref<64x48xf32>, %w: memref<32x48xf32>, %y: memref<64x32xf32>) {
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : memref<64x48xf32>, memref<32x48xf32>) outs(%y : memref<64x32xf32>)
  return
}
func.func @linear_i8(%x: memref<?x72xi8>, %w: memref<70x72xi8>, %y: memref<?x70xi32>) {
  linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x72xi8>, memref<70x72xi8>) outs(%y : memref<?x70xi32>) {
  ^bb0(%a: i8, %b: i8, %acc: i32):
    %ea = arith.extsi %a : i8 to i32
    %eb = arith.extsi %b : i8 to i32
    %m = arith.muli %ea, %eb : i32
    %s = arith.addi %acc, %m : i32
    linalg.yield %s : i32
  }
  return
}
func.func @linear_w8(%x: memref<?x72xf32>, %w: memref<70x72xi8>, %y: memref<?x70xf32>) {
  linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x72xf32>, memref<70x72xi8>) outs(%y : memref<?x70xf32>) {
  ^bb0(%a: f32, %b: i8, %acc: f32):
    %eb = arith.sitofp %b : i8 to f32
    %m = arith.mulf %a, %eb : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  return
}
func.func @nt(%x: memref<4x64xf32>, %w: memref<16x64xf32>, %y: memref<4x16xf32>) {
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : memref<4x64xf32>, memref<16x64xf32>) outs(%y : memref<4x16xf32>)
  return
}
"""

MODES = [
    # name, passes, whether tiles round their operands to bf16
    ("f32", ["--strata-tiled-matmuls", "--strata-warp-reductions"], False),
    ("tc", ["--strata-tiled-matmuls=tensor-cores=true", "--strata-warp-reductions"], True),
]

F32_TOL = 1e-5
TC_TOL = 1e-5   # against the product of bf16-rounded operands


def main():
    args = harness.arguments(__doc__)
    check = harness.Checker()
    rng = np.random.default_rng(2024)
    rand = lambda *s: rng.standard_normal(s).astype(np.float32)

    for mode, passes, tc in MODES:
        text = harness.lower(args.strata_opt, MODULE, passes, args.keep, "matmuls_" + mode)
        mod = harness.simt.Module(text)
        rounded = harness.bf16 if tc else (lambda x: np.asarray(x, dtype=np.float64))

        def expect_tiles(name, stats, tiles):
            """The launch that ran was the tile kernel (or the warp kernel)."""
            if tiles:
                ok = stats["barriers"] > 0 and (stats["warp_mma"] > 0) == tc
            else:
                ok = stats["warp_shuffle"] > 0 and stats["warp_mma"] == 0 and stats["barriers"] == 0
            check.expect("%s %s: ran the %s kernel" % (mode, name, "tile" if tiles else "warp"), ok,
                         "%d mma, %d shuffles, %d barriers (warp instructions)" % (
                             stats["warp_mma"], stats["warp_shuffle"], stats["barriers"]))

        # A·B, static odd sizes.
        a, b, c = rand(70, 33), rand(33, 50), rand(70, 50)
        (_, _, got), _, st = harness.run(mod, "mm", a, b, c)
        check.close("%s mm 70x33x50" % mode, got, c + rounded(a) @ rounded(b), TC_TOL if tc else F32_TOL)
        expect_tiles("mm", st, True)

        # A·B, all sizes dynamic, including empty ones.
        for m, k, n in [(1, 1, 1), (65, 17, 3), (20, 0, 7), (0, 5, 4)]:
            a, b, c = rand(m, k), rand(k, n), rand(m, n)
            (_, _, got), _, st = harness.run(mod, "mm_dyn", a, b, c)
            check.close("%s mm_dyn %dx%dx%d" % (mode, m, k, n), got, c + rounded(a) @ rounded(b),
                        TC_TOL if tc else F32_TOL)

        # Batched, dynamic batch, rows and columns.
        a, b, c = rand(3, 20, 8), rand(3, 8, 9), rand(3, 20, 9)
        (_, _, got), _, st = harness.run(mod, "bmm", a, b, c)
        check.close("%s bmm 3x20x8x9" % mode, got, c + np.matmul(rounded(a), rounded(b)),
                    TC_TOL if tc else F32_TOL)

        # x·Wᵀ with a dynamic row count: tiles from 16 rows, else a warp per
        # output (which stays f32 with tensor cores).
        w = rand(70, 72)
        for m in (130, 40, 16, 15, 5, 1):
            x, y = rand(m, 72), rand(m, 70)
            tiles = m >= 16
            (_, _, got), _, st = harness.run(mod, "linear", x, w, y)
            rnd = rounded if tiles else (lambda v: np.asarray(v, dtype=np.float64))
            check.close("%s linear rows=%d" % (mode, m), got, y + rnd(x) @ rnd(w).T,
                        TC_TOL if (tc and tiles) else F32_TOL)
            expect_tiles("linear rows=%d" % m, st, tiles)

        # The fill folded into both kernels (the output is a fresh buffer:
        # a kernel reading it before writing is an emulator error).
        w = rand(24, 40)
        for m in (33, 7):
            x = rand(m, 40)
            _, (got,), st = harness.run(mod, "linear_fill", x, w, 0.75)
            rnd = rounded if m >= 16 else (lambda v: np.asarray(v, dtype=np.float64))
            check.close("%s linear_fill rows=%d" % (mode, m), got, 0.75 + rnd(x) @ rnd(w).T,
                        TC_TOL if (tc and m >= 16) else F32_TOL)

        # Attention's P·V: [b, h, s, t] x [b, t, h, e] -> [b, s, h, e]
        # (m = s; b and h batch the tiles).
        p, v, o = rand(2, 3, 21, 37), rand(2, 37, 3, 24), rand(2, 21, 3, 24)
        (_, _, got), _, st = harness.run(mod, "pv", p, v, o)
        check.close("%s pv 2x3x21x37x24" % mode, got,
                    o + np.einsum("bhst,bthe->bshe", rounded(p), rounded(v)), TC_TOL if tc else F32_TOL)
        expect_tiles("pv", st, True)

        # x·Wᵀ on a strided view (columns 16..55 of an 80-wide buffer).
        w = rand(24, 40)
        for m in (20, 3):
            xx, y = rand(m, 80), rand(m, 24)
            (_, _, got), _, st = harness.run(mod, "linear_view", xx, w, y)
            rnd = rounded if m >= 16 else (lambda v: np.asarray(v, dtype=np.float64))
            check.close("%s linear_view rows=%d" % (mode, m), got, y + rnd(xx[:, 16:56]) @ rnd(w).T,
                        TC_TOL if (tc and m >= 16) else F32_TOL)
            expect_tiles("linear_view rows=%d" % m, st, m >= 16)

        # 64 static rows: tiles only.
        x, w, y = rand(64, 48), rand(32, 48), rand(64, 32)
        (_, _, got), _, st = harness.run(mod, "linear_rows", x, w, y)
        check.close("%s linear_rows 64" % mode, got, y + rounded(x) @ rounded(w).T, TC_TOL if tc else F32_TOL)
        expect_tiles("linear_rows", st, True)

        # 4 static rows: strata-warp-reductions' kernel.
        x, w, y = rand(4, 64), rand(16, 64), rand(4, 16)
        (_, _, got), _, st = harness.run(mod, "nt", x, w, y)
        check.close("%s nt 4 rows (warp reductions)" % mode, got,
                    y + x.astype(np.float64) @ w.astype(np.float64).T, F32_TOL)
        expect_tiles("nt", st, False)

        # int8 x int8 summed exactly into i32 (w8a8): the int8 tiles (i32
        # multiply-adds, or s8 mma.sync m16n8k32 with tensor cores; k = 72
        # is not a multiple of the 32 an s8 mma consumes), and the warp
        # kernel's integer shuffles below 16 rows. Full-range values, so a
        # misplaced byte or a sign lost in packing shows.
        w8 = rng.integers(-128, 128, size=(70, 72), dtype=np.int8)
        for m in (130, 40, 16, 15, 1):
            x8 = rng.integers(-128, 128, size=(m, 72), dtype=np.int8)
            y32 = rng.integers(-1000, 1000, size=(m, 70), dtype=np.int32)
            (_, _, got), _, st = harness.run(mod, "linear_i8", x8, w8, y32)
            want = y32.astype(np.int64) + x8.astype(np.int64) @ w8.astype(np.int64).T
            wrong = int(np.count_nonzero(np.asarray(got, dtype=np.int64) != want))
            check.expect("%s linear_i8 rows=%d exact" % (mode, m), wrong == 0,
                         "%d of %d sums differ" % (wrong, want.size))
            expect_tiles("linear_i8 rows=%d" % m, st, m >= 16)

        # f32 x int8 weights (w8a16): the weights widened as they are read
        # (exact in bf16 too, so the tensor-core error is x's rounding).
        for m in (40, 5):
            x, y = rand(m, 72), rand(m, 70)
            (_, _, got), _, st = harness.run(mod, "linear_w8", x, w8, y)
            rnd = rounded if m >= 16 else (lambda v: np.asarray(v, dtype=np.float64))
            check.close("%s linear_w8 rows=%d" % (mode, m), got, y + rnd(x) @ w8.astype(np.float64).T,
                        TC_TOL if (tc and m >= 16) else F32_TOL)
            expect_tiles("linear_w8 rows=%d" % m, st, m >= 16)

        if tc:
            # The bf16 rounding is visible: the tiles are not f32 products.
            x, w, y = rand(40, 72), rand(70, 72), np.zeros((40, 70), np.float32)
            (_, _, got), _, _ = harness.run(mod, "linear", x, w, y)
            err = check.error(got, x.astype(np.float64) @ w.astype(np.float64).T)
            check.expect("tc linear rows=40 differs from the f32 product by bf16 rounding",
                         1e-4 < err < 3e-2, "relative error %.2e" % err)

    # The exactness check can fail: one int8 product off by one is caught.
    x8 = rng.integers(-128, 128, size=(16, 72), dtype=np.int8)
    want = x8.astype(np.int64) @ w8.astype(np.int64).T
    bad = want.copy()
    bad[3, 5] += 1
    check.expect("an integer sum off by one is rejected", int(np.count_nonzero(bad != want)) == 1)

    check.finish()


if __name__ == "__main__":
    main()
