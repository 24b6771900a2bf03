"""Emulates strata-warp-reductions' kernels with a row epilogue joined in
(RMSNorm: the sum of squares and the scaling of the row; softmax: the
sum of exponentials and the division) and a case the epilogue must not
join, and compares them with float64 numpy."""

import numpy as np

import harness

MODULE = """
#row = affine_map<(r, d) -> (r, d)>
#red = affine_map<(r, d) -> (r)>
#w = affine_map<(r, d) -> (d)>
func.func @rmsnorm(%x: memref<?x96xf32>, %g: memref<96xf32>) -> memref<?x96xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = memref.dim %x, %c0 : memref<?x96xf32>
  %ss = memref.alloc(%n) : memref<?xf32>
  linalg.fill ins(%zero : f32) outs(%ss : memref<?xf32>)
  linalg.generic {indexing_maps = [#row, #red], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x96xf32>) outs(%ss : memref<?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %sq = arith.mulf %a, %a : f32
    %s = arith.addf %acc, %sq : f32
    linalg.yield %s : f32
  }
  %y = memref.alloc(%n) : memref<?x96xf32>
  linalg.generic {indexing_maps = [#row, #red, #w, #row], iterator_types = ["parallel", "parallel"]}
      ins(%x, %ss, %g : memref<?x96xf32>, memref<?xf32>, memref<96xf32>) outs(%y : memref<?x96xf32>) {
  ^bb0(%a: f32, %s: f32, %gw: f32, %o: f32):
    %dim = arith.constant 96.0 : f32
    %eps = arith.constant 1.0e-6 : f32
    %mean = arith.divf %s, %dim : f32
    %me = arith.addf %mean, %eps : f32
    %r = math.rsqrt %me : f32
    %t = arith.mulf %a, %r : f32
    %u = arith.mulf %t, %gw : f32
    linalg.yield %u : f32
  }
  return %y : memref<?x96xf32>
}
func.func @softmax(%x: memref<?x40xf32>) -> memref<?x40xf32> {
  %c0 = arith.constant 0 : index
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %n = memref.dim %x, %c0 : memref<?x40xf32>
  %m = memref.alloc(%n) : memref<?xf32>
  linalg.fill ins(%ninf : f32) outs(%m : memref<?xf32>)
  linalg.generic {indexing_maps = [#row, #red], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x40xf32>) outs(%m : memref<?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.maximumf %acc, %a : f32
    linalg.yield %s : f32
  }
  %sum = memref.alloc(%n) : memref<?xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<?xf32>)
  linalg.generic {indexing_maps = [#row, #red, #red], iterator_types = ["parallel", "reduction"]}
      ins(%x, %m : memref<?x40xf32>, memref<?xf32>) outs(%sum : memref<?xf32>) {
  ^bb0(%a: f32, %mx: f32, %acc: f32):
    %d = arith.subf %a, %mx : f32
    %e = math.exp %d : f32
    %s = arith.addf %acc, %e : f32
    linalg.yield %s : f32
  }
  %y = memref.alloc(%n) : memref<?x40xf32>
  linalg.generic {indexing_maps = [#row, #red, #red, #row], iterator_types = ["parallel", "parallel"]}
      ins(%x, %m, %sum : memref<?x40xf32>, memref<?xf32>, memref<?xf32>) outs(%y : memref<?x40xf32>) {
  ^bb0(%a: f32, %mx: f32, %s: f32, %o: f32):
    %d = arith.subf %a, %mx : f32
    %e = math.exp %d : f32
    %q = arith.divf %e, %s : f32
    linalg.yield %q : f32
  }
  return %y : memref<?x40xf32>
}
func.func @in_place(%x: memref<?x64xf32>, %ss: memref<?xf32>) {
  linalg.generic {indexing_maps = [#row, #red], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%ss : memref<?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %sq = arith.mulf %a, %a : f32
    %s = arith.addf %acc, %sq : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#red, #row], iterator_types = ["parallel", "parallel"]}
      ins(%ss : memref<?xf32>) outs(%x : memref<?x64xf32>) {
  ^bb0(%s: f32, %o: f32):
    %u = arith.divf %o, %s : f32
    linalg.yield %u : f32
  }
  return
}
func.func @copied_init(%x: memref<?x64xf32>, %init: memref<?xf32>) -> memref<?x64xf32> {
  %c0 = arith.constant 0 : index
  %n = memref.dim %x, %c0 : memref<?x64xf32>
  %ss = memref.alloc(%n) : memref<?xf32>
  memref.copy %init, %ss : memref<?xf32> to memref<?xf32>
  linalg.generic {indexing_maps = [#row, #red], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%ss : memref<?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  }
  %y = memref.alloc(%n) : memref<?x64xf32>
  linalg.generic {indexing_maps = [#row, #red, #row], iterator_types = ["parallel", "parallel"]}
      ins(%x, %ss : memref<?x64xf32>, memref<?xf32>) outs(%y : memref<?x64xf32>) {
  ^bb0(%a: f32, %s: f32, %o: f32):
    %q = arith.divf %a, %s : f32
    linalg.yield %q : f32
  }
  return %y : memref<?x64xf32>
}
func.func @gathered(%ids: memref<?xi32>, %table: memref<50x64xf32>) -> memref<?x64xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = memref.dim %ids, %c0 : memref<?xi32>
  %x = memref.alloc(%n) : memref<?x64xf32>
  linalg.generic {indexing_maps = [#red, #row], iterator_types = ["parallel", "parallel"]}
      ins(%ids : memref<?xi32>) outs(%x : memref<?x64xf32>) {
  ^bb0(%id: i32, %o: f32):
    %j = linalg.index 1 : index
    %r = arith.index_cast %id : i32 to index
    %v = memref.load %table[%r, %j] : memref<50x64xf32>
    linalg.yield %v : f32
  }
  %ss = memref.alloc(%n) : memref<?xf32>
  linalg.fill ins(%zero : f32) outs(%ss : memref<?xf32>)
  linalg.generic {indexing_maps = [#row, #red], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%ss : memref<?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %sq = arith.mulf %a, %a : f32
    %s = arith.addf %acc, %sq : f32
    linalg.yield %s : f32
  }
  %y = memref.alloc(%n) : memref<?x64xf32>
  linalg.generic {indexing_maps = [#red, #red, #row], iterator_types = ["parallel", "parallel"]}
      ins(%ids, %ss : memref<?xi32>, memref<?xf32>) outs(%y : memref<?x64xf32>) {
  ^bb0(%id: i32, %s: f32, %o: f32):
    %j = linalg.index 1 : index
    %r = arith.index_cast %id : i32 to index
    %v = memref.load %table[%r, %j] : memref<50x64xf32>
    %q = arith.divf %v, %s : f32
    linalg.yield %q : f32
  }
  return %y : memref<?x64xf32>
}
func.func @body_load(%x: memref<?x64xf32>) -> memref<?x64xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %n = memref.dim %x, %c0 : memref<?x64xf32>
  %last = arith.subi %n, %c1 : index
  %ss = memref.alloc(%n) : memref<?xf32>
  linalg.fill ins(%zero : f32) outs(%ss : memref<?xf32>)
  linalg.generic {indexing_maps = [#row, #red], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%ss : memref<?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  }
  %y = memref.alloc(%n) : memref<?x64xf32>
  linalg.generic {indexing_maps = [#row, #red, #row], iterator_types = ["parallel", "parallel"]}
      ins(%x, %ss : memref<?x64xf32>, memref<?xf32>) outs(%y : memref<?x64xf32>) {
  ^bb0(%a: f32, %s: f32, %o: f32):
    %i = linalg.index 0 : index
    %j = arith.subi %last, %i : index
    %other = memref.load %ss[%j] : memref<?xf32>
    %q = arith.divf %a, %other : f32
    linalg.yield %q : f32
  }
  return %y : memref<?x64xf32>
}
"""

TOL = 1e-5


def main():
    args = harness.arguments(__doc__)
    check = harness.Checker()
    rng = np.random.default_rng(7)
    rand = lambda *s: rng.standard_normal(s).astype(np.float32)
    text = harness.lower(args.strata_opt, MODULE,
                         ["--strata-copies-to-linalg", "--strata-warp-reductions",
                          "--convert-linalg-to-parallel-loops",
                          "--strata-map-loops-to-gpu"],
                         args.keep, "row_epilogues")
    mod = harness.simt.Module(text)

    g = rand(96)
    for n in (1, 7, 50):
        x = rand(n, 96)
        _, (got,), st = harness.run(mod, "rmsnorm", x, g)
        xd = x.astype(np.float64)
        ref = xd / np.sqrt((xd * xd).mean(axis=1, keepdims=True) + 1e-6) * g
        check.close("rmsnorm rows=%d" % n, got, ref, TOL)
        check.expect("rmsnorm rows=%d: one launch" % n, len(st["launches"]) == 1,
                     "%d launches" % len(st["launches"]))

    for n in (3, 33):
        x = rand(n, 40) * 4
        _, (got,), st = harness.run(mod, "softmax", x)
        xd = x.astype(np.float64)
        e = np.exp(xd - xd.max(axis=1, keepdims=True))
        check.close("softmax rows=%d" % n, got, e / e.sum(axis=1, keepdims=True), TOL)
        # The maximum, then the sum with the division joined in.
        check.expect("softmax rows=%d: two launches" % n, len(st["launches"]) == 2,
                     "%d launches" % len(st["launches"]))

    # The epilogue writes the reduction's own input: it must stay a launch
    # of its own (other warps may still be reading the rows).
    x, ss = rand(9, 64), rand(9)
    (gx, gss), _, st = harness.run(mod, "in_place", x, ss)
    xd = x.astype(np.float64)
    total = ss + (xd * xd).sum(axis=1)
    check.close("in_place sums", gss, total, TOL)
    check.close("in_place rows", gx, xd / total[:, None], TOL)
    check.expect("in_place: epilogue not joined", len(st["launches"]) == 2,
                 "%d launches" % len(st["launches"]))

    # The sums start from a copy, not a fill: every lane reads the initial
    # value and lane 0 stores the total, which the race detector checks.
    x = rand(37, 64)
    init = rand(37) + 80
    _, (got,), st = harness.run(mod, "copied_init", x, init)
    total = init.astype(np.float64) + x.astype(np.float64).sum(axis=1)
    check.close("copied_init", got, x / total[:, None], TOL)
    check.expect("copied_init: one launch after the copy", len(st["launches"]) == 2,
                 "%d launches" % len(st["launches"]))

    # The epilogue's body gathers its row again from a table neither kernel
    # writes (as an embedding lookup fused into a norm does): joined.
    ids = rng.integers(0, 50, 13).astype(np.int32)
    table = rand(50, 64)
    _, (got,), st = harness.run(mod, "gathered", ids, table)
    rows = table[ids].astype(np.float64)
    check.close("gathered", got, rows / (rows * rows).sum(axis=1)[:, None], TOL)
    check.expect("gathered: the gather, then one launch", len(st["launches"]) == 2,
                 "%d launches" % len(st["launches"]))

    # The epilogue's body reads another row's sum: not joined.
    x = rand(21, 64) + 1
    _, (got,), st = harness.run(mod, "body_load", x)
    sums = x.astype(np.float64).sum(axis=1)
    check.close("body_load", got, x / sums[::-1][:, None], TOL)
    check.expect("body_load: epilogue not joined", len(st["launches"]) == 2,
                 "%d launches" % len(st["launches"]))
    check.finish()


if __name__ == "__main__":
    main()
