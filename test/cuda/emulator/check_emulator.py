"""Tests the SIMT emulator itself on hand-written kernels: an mma.sync tile
whose fragments follow the PTX ISA matches numpy and fragments in the
wrong places do not; out-of-bounds accesses, races (missing barriers),
divergent barriers and shuffles and reads of unwritten memory are errors
naming the op; shuffle modes and widths; bf16 rounding and bitcasts
against PyTorch; integer semantics; strata-plan-memory's arena (views of
one strata_arena_acquire buffer: two in use at once on the same bytes, or
a read of what an earlier view left, are errors), affine.apply, math.erf,
index-typed memrefs, and launches' locations in the stats."""

import numpy as np

import harness

simt = harness.simt


# ---------------------------------------------------------------------------
# An mma.sync m16n8k16 tile per warp, written from the ISA's fragment
# tables. `a_regs[r]` / `b_regs[r]` give the (row, col) expressions of the
# low and high halves of register r; `c_elems[i]` those of c_i.
# Expressions are in g = lane / 4 and t = lane % 4: (g_coef, t_coef, const).
# ---------------------------------------------------------------------------

ISA_A = [[((1, 0, 0), (0, 2, 0)), ((1, 0, 0), (0, 2, 1))],     # a0, a1: row g, k 2t(+1)
         [((1, 0, 8), (0, 2, 0)), ((1, 0, 8), (0, 2, 1))],     # a2, a3: row g+8
         [((1, 0, 0), (0, 2, 8)), ((1, 0, 0), (0, 2, 9))],     # a4, a5: k 2t+8(+1)
         [((1, 0, 8), (0, 2, 8)), ((1, 0, 8), (0, 2, 9))]]     # a6, a7
ISA_B = [[((0, 2, 0), (1, 0, 0)), ((0, 2, 1), (1, 0, 0))],     # b0, b1: k 2t(+1), col g
         [((0, 2, 8), (1, 0, 0)), ((0, 2, 9), (1, 0, 0))]]     # b2, b3: k 2t+8(+1)
ISA_C = [((1, 0, 0), (0, 2, 0)), ((1, 0, 0), (0, 2, 1)),       # c0, c1: row g
         ((1, 0, 8), (0, 2, 0)), ((1, 0, 8), (0, 2, 1))]       # c2, c3: row g+8


def mma_kernel(a_regs, b_regs, c_elems, warps=2, ty="bf16"):
    lines = []
    names = {}
    counter = [0]

    def fresh(prefix):
        counter[0] += 1
        return "%%%s%d" % (prefix, counter[0])

    def idx(expr):
        """g * gc + t * tc + k as an index value (computed once)."""
        if ("idx", expr) in names:
            return names[("idx", expr)]
        gc, tc, k = expr
        acc = "%c0"
        for base, coef in (("%g", gc), ("%t", tc)):
            if coef == 0:
                continue
            term = base
            if coef != 1:
                term = fresh("m")
                lines.append("%s = arith.muli %s, %%c%d : index" % (term, base, coef))
            nxt = fresh("s")
            lines.append("%s = arith.addi %s, %s : index" % (nxt, acc, term))
            acc = nxt
        v = fresh("i")
        lines.append("%s = arith.addi %s, %%c%d : index" % (v, acc, k))
        names[("idx", expr)] = v
        return v

    def half(mem, row, col, shift):
        r, c = idx(row), idx(col)
        n = len(names)
        names[("h", n)] = n
        lines.append("%%ld%d = memref.load %s[%%w, %s, %s] : memref<%s>" % (
            n, mem, r, c, ("%dx16x16x" % warps if mem == "%A" else "%dx16x8x" % warps) + ty))
        if ty == "f16":   # f16 operands are vector<2xf16>: no packing
            return "%%ld%d" % n
        lines.append("%%bc%d = arith.bitcast %%ld%d : %s to i16" % (n, n, ty))
        lines.append("%%ex%d = arith.extui %%bc%d : i16 to i32" % (n, n))
        if shift:
            lines.append("%%sh%d = arith.shli %%ex%d, %%c16_i32 : i32" % (n, n))
            return "%%sh%d" % n
        return "%%ex%d" % n

    def reg(mem, pair):
        lo = half(mem, pair[0][0], pair[0][1], False)
        hi = half(mem, pair[1][0], pair[1][1], True)
        n = len(names)
        names[("r", n)] = n
        if ty == "f16":
            lines.append("%%reg%d = vector.from_elements %s, %s : vector<2xf16>" % (n, lo, hi))
        else:
            lines.append("%%reg%d = arith.ori %s, %s : i32" % (n, lo, hi))
        return "%%reg%d" % n

    a = [reg("%A", p) for p in a_regs]
    b = [reg("%B", p) for p in b_regs]
    c = []
    for row, col in c_elems:
        r, cc = idx(row), idx(col)
        n = len(names)
        names[("c", n)] = n
        lines.append("%%cv%d = memref.load %%C[%%w, %s, %s] : memref<%dx16x8xf32>" % (n, r, cc, warps))
        c.append(("%%cv%d" % n, r, cc))
    lines.append("%%d = nvvm.mma.sync A[%s] B[%s] C[%s] {layoutA = #nvvm.mma_layout<row>, "
                 "layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<%s>, "
                 "multiplicandBPtxType = #nvvm.mma_type<%s>, shape = #nvvm.shape<m = 16, n = 8, k = 16>} "
                 ": (%s, %s, f32) -> !llvm.struct<(f32, f32, f32, f32)>"
                 % (", ".join(a), ", ".join(b), ", ".join(x[0] for x in c), ty, ty,
                    "vector<2xf16>" if ty == "f16" else "i32", "vector<2xf16>" if ty == "f16" else "i32"))
    for i, (_, r, cc) in enumerate(c):
        lines.append("%%d%d = llvm.extractvalue %%d[%d] : !llvm.struct<(f32, f32, f32, f32)>" % (i, i))
        lines.append("memref.store %%d%d, %%D[%%w, %s, %s] : memref<%dx16x8xf32>" % (i, r, cc, warps))
    consts = "\n".join("    %%c%d = arith.constant %d : index" % (k, k) for k in range(0, 33))
    body = "\n".join("    " + l for l in lines)
    return """
func.func @mma(%A: memref<{W}x16x16x{ty}>, %B: memref<{W}x16x8x{ty}>, %C: memref<{W}x16x8xf32>, %D: memref<{W}x16x8xf32>) {{
  %one = arith.constant 1 : index
  %threads = arith.constant {T} : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %one, %gy = %one, %gz = %one) threads(%tx, %ty, %tz) in (%sx = %threads, %sy = %one, %sz = %one) {{
{consts}
    %c16_i32 = arith.constant 16 : i32
    %w = arith.divui %tx, %c32 : index
    %lane = arith.remui %tx, %c32 : index
    %g = arith.divui %lane, %c4 : index
    %t = arith.remui %lane, %c4 : index
{body}
    gpu.terminator
  }}
  return
}}
""".format(W=warps, T=32 * warps, consts=consts, body=body, ty=ty)


# ---------------------------------------------------------------------------
# Small kernels, each exercising one rule.
# ---------------------------------------------------------------------------

def launch(body, args, threads=32, blocks=1, workgroup=""):
    return """
func.func @k({args}) {{
  %one = arith.constant 1 : index
  %nb = arith.constant {blocks} : index
  %nt = arith.constant {threads} : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %nb, %gy = %one, %gz = %one) threads(%tx, %ty, %tz) in (%sx = %nt, %sy = %one, %sz = %one) {workgroup} {{
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c16 = arith.constant 16 : index
    %c32 = arith.constant 32 : index
{body}
    gpu.terminator
  }}
  return
}}
""".format(args=args, blocks=blocks, threads=threads, workgroup=workgroup, body=body)


WG = "workgroup(%sh : memref<32xf32, #gpu.address_space<workgroup>>)"

ROTATE = """
    %v = memref.load %in[%tx] : memref<32xf32>
    memref.store %v, %sh[%tx] : memref<32xf32, #gpu.address_space<workgroup>>
    {barrier}
    %n1 = arith.addi %tx, %c1 : index
    %n = arith.remui %n1, %c32 : index
    %r = memref.load %sh[%n] : memref<32xf32, #gpu.address_space<workgroup>>
    memref.store %r, %out[%tx] : memref<32xf32>
"""

# Each thread reads its neighbour's slot, then overwrites its own: a
# barrier is needed between the read and the write.
WAR = """
    memref.store %c1f, %sh[%tx] : memref<32xf32, #gpu.address_space<workgroup>>
    gpu.barrier
    %n1 = arith.addi %tx, %c1 : index
    %n = arith.remui %n1, %c32 : index
    %r = memref.load %sh[%n] : memref<32xf32, #gpu.address_space<workgroup>>
    {barrier}
    memref.store %r, %sh[%tx] : memref<32xf32, #gpu.address_space<workgroup>>
    memref.store %r, %out[%tx] : memref<32xf32>
"""

SHUFFLES = """
    %x = memref.load %in[%tx] : memref<32xf32>
    %o1 = arith.constant 1 : i32
    %o2 = arith.constant 2 : i32
    %o5 = arith.constant 5 : i32
    %o3 = arith.constant 3 : i32
    %w32 = arith.constant 32 : i32
    %w16 = arith.constant 16 : i32
    %a, %av = gpu.shuffle xor %x, %o3, %w32 : f32
    %b, %bv = gpu.shuffle down %x, %o1, %w32 : f32
    %c, %cv = gpu.shuffle up %x, %o2, %w16 : f32
    %d, %dv = gpu.shuffle idx %x, %o5, %w32 : f32
    %e, %ev = gpu.shuffle down %x, %o2, %w16 : f32
    %zero = arith.constant 0.0 : f32
    %b0 = arith.select %bv, %b, %zero : f32
    %c0f = arith.select %cv, %c, %zero : f32
    %e0 = arith.select %ev, %e, %zero : f32
    %i1 = arith.addi %tx, %c32 : index
    %i2 = arith.addi %i1, %c32 : index
    %c64 = arith.constant 64 : index
    %i3 = arith.addi %tx, %c64 : index
    %i4 = arith.addi %i3, %c32 : index
    %c128 = arith.constant 128 : index
    %i5 = arith.addi %tx, %c128 : index
    memref.store %a, %out[%tx] : memref<160xf32>
    memref.store %b0, %out[%i1] : memref<160xf32>
    memref.store %c0f, %out[%i3] : memref<160xf32>
    memref.store %d, %out[%i4] : memref<160xf32>
    memref.store %e0, %out[%i5] : memref<160xf32>
"""

DIVERGENT_SHUFFLE = """
    %x = memref.load %in[%tx] : memref<32xf32>
    %lo = arith.cmpi ult, %tx, %c16 : index
    %o1 = arith.constant 1 : i32
    %w32 = arith.constant 32 : i32
    scf.if %lo {
      %a, %av = gpu.shuffle xor %x, %o1, %w32 : f32
      memref.store %a, %out[%tx] : memref<32xf32>
    }
"""

DIVERGENT_BARRIER = """
    %lo = arith.cmpi ult, %tx, %c16 : index
    scf.if %lo {
      gpu.barrier
    }
"""

UNINIT = """
    %r = memref.load %sh[%tx] : memref<32xf32, #gpu.address_space<workgroup>>
    memref.store %r, %out[%tx] : memref<32xf32>
"""

# Every block writes element 0 of the output: a race between blocks.
CROSS_BLOCK = """
    %f = arith.index_cast %bx : index to i32
    %ff = arith.sitofp %f : i32 to f32
    %is0 = arith.cmpi eq, %tx, %c0 : index
    scf.if %is0 {
      memref.store %ff, %out[%c0] : memref<32xf32>
    }
"""

# A loop whose trip count differs per thread, with a value carried along.
DIVERGENT_LOOP = """
    %s = scf.for %i = %c0 to %tx step %c1 iter_args(%acc = %c0) -> (index) {
      %n = arith.addi %acc, %i : index
      scf.yield %n : index
    }
    %si = arith.index_cast %s : index to i32
    %sf = arith.sitofp %si : i32 to f32
    memref.store %sf, %out[%tx] : memref<32xf32>
"""

BF16 = """
func.func @bf16(%x: memref<?xf32>, %r: memref<?xf32>, %bits: memref<?xi16>, %back: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?xf32>
  scf.for %i = %c0 to %n step %c1 {
    %v = memref.load %x[%i] : memref<?xf32>
    %b = arith.truncf %v : f32 to bf16
    %e = arith.extf %b : bf16 to f32
    memref.store %e, %r[%i] : memref<?xf32>
    %s = arith.bitcast %b : bf16 to i16
    memref.store %s, %bits[%i] : memref<?xi16>
    %b2 = arith.bitcast %s : i16 to bf16
    %e2 = arith.extf %b2 : bf16 to f32
    memref.store %e2, %back[%i] : memref<?xf32>
  }
  return
}
"""

VIEWS = """
func.func @views(%a: memref<4x6xf32>, %out: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c5 = arith.constant 5 : index
  %flat = memref.collapse_shape %a [[0, 1]] : memref<4x6xf32> into memref<24xf32>
  %x0 = memref.load %flat[%c5] : memref<24xf32>
  %e = memref.expand_shape %flat [[0, 1]] output_shape [2, 12] : memref<24xf32> into memref<2x12xf32>
  %x1 = memref.load %e[%c1, %c3] : memref<2x12xf32>
  %r = memref.reinterpret_cast %a to offset: [2], sizes: [3, 2], strides: [6, 2] : memref<4x6xf32> to memref<3x2xf32, strided<[6, 2], offset: 2>>
  %x2 = memref.load %r[%c2, %c1] : memref<3x2xf32, strided<[6, 2], offset: 2>>
  %s = memref.subview %a[1, 1] [2, 2] [2, 3] : memref<4x6xf32> to memref<2x2xf32, strided<[12, 3], offset: 7>>
  %x3 = memref.load %s[%c1, %c1] : memref<2x2xf32, strided<[12, 3], offset: 7>>
  memref.store %x0, %out[%c0] : memref<4xf32>
  memref.store %x1, %out[%c1] : memref<4xf32>
  memref.store %x2, %out[%c2] : memref<4xf32>
  memref.store %x3, %out[%c3] : memref<4xf32>
  return
}
func.func @past_the_buffer(%a: memref<4x6xf32>) -> f32 {
  %c3 = arith.constant 3 : index
  %r = memref.reinterpret_cast %a to offset: [12], sizes: [4, 4], strides: [4, 1] : memref<4x6xf32> to memref<4x4xf32, strided<[4, 1], offset: 12>>
  %x = memref.load %r[%c3, %c3] : memref<4x4xf32, strided<[4, 1], offset: 12>>
  return %x : f32
}
"""

INTS = """
func.func @ints(%a: i32, %b: i32) -> (i32, i32, i32, i32, i32, i32, i1, i1, i64, i64, i8) {
  %0 = arith.divui %a, %b : i32
  %1 = arith.remui %a, %b : i32
  %2 = arith.divsi %a, %b : i32
  %3 = arith.remsi %a, %b : i32
  %4 = arith.ceildivui %a, %b : i32
  %c3 = arith.constant 3 : i32
  %5 = arith.shrsi %a, %c3 : i32
  %6 = arith.cmpi ult, %a, %b : i32
  %7 = arith.cmpi slt, %a, %b : i32
  %8 = arith.extui %a : i32 to i64
  %9 = arith.extsi %a : i32 to i64
  %10 = arith.trunci %a : i32 to i8
  return %0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10 : i32, i32, i32, i32, i32, i32, i1, i1, i64, i64, i8
}
"""


# strata-plan-memory's form: views of one arena; %off places the second.
ARENA = """
memref.global "private" constant @idx : memref<3xindex> = dense<[5, -1, 7]>
func.func private @strata_arena_acquire(index) -> memref<?xi8>
func.func @arena(%x: memref<4xf32>, %out: memref<4xf32>, %off: index, %write_b: i1) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %bytes = arith.constant 128 : index
  %arena = call @strata_arena_acquire(%bytes) : (index) -> memref<?xi8>
  %a = memref.view %arena[%c0][%c4] : memref<?xi8> to memref<?xf32>
  scf.for %i = %c0 to %c4 step %c1 {
    %v = memref.load %x[%i] : memref<4xf32>
    memref.store %v, %a[%i] : memref<?xf32>
  }
  %b = memref.view %arena[%off][] : memref<?xi8> to memref<2xi64>
  %g = memref.get_global @idx : memref<3xindex>
  %e = memref.load %g[%c1] : memref<3xindex>
  %ei = arith.index_cast %e : index to i64
  scf.if %write_b {
    memref.store %ei, %b[%c1] : memref<2xi64>
  }
  %r = memref.load %b[%c1] : memref<2xi64>
  scf.for %i = %c0 to %c4 step %c1 {
    %v = memref.load %a[%i] : memref<?xf32>
    %rf = arith.sitofp %r : i64 to f32
    %w = arith.addf %v, %rf : f32
    memref.store %w, %out[%i] : memref<4xf32>
  }
  return
}
func.func @affine(%d: index, %s: index) -> index {
  %r = affine.apply affine_map<(d0)[s0] -> (d0 floordiv 3 + s0 * 2 - d0 mod 3 + (d0 + s0) ceildiv 4 - 7)>(%d)[%s]
  return %r : index
}
func.func @erf(%x: memref<?xf32>, %out: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?xf32>
  scf.for %i = %c0 to %n step %c1 {
    %v = memref.load %x[%i] : memref<?xf32>
    %e = math.erf %v : f32
    memref.store %e, %out[%i] : memref<?xf32>
  }
  return
}
"""


def ints_reference(a, b):
    ua, ub = a & 0xFFFFFFFF, b & 0xFFFFFFFF
    s32 = lambda v: ((v + 2 ** 31) % 2 ** 32) - 2 ** 31
    q = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
    return [s32(ua // ub), s32(ua % ub), s32(q), s32(a - q * b), s32(-(-ua // ub)), a >> 3,
            ua < ub, a < b, ua, a, ((a + 128) % 256) - 128]


def main():
    args = harness.arguments(__doc__)
    check = harness.Checker()
    rng = np.random.default_rng(5)
    opt = lambda text, tag: harness.simt.Module(harness.lower(args.strata_opt, text, [], args.keep, tag))

    # --- mma.sync: the ISA layout matches numpy; misplaced fragments do not.
    A = harness.bf16(rng.standard_normal((2, 16, 16))).astype(np.float32)
    B = harness.bf16(rng.standard_normal((2, 16, 8))).astype(np.float32)
    C = rng.standard_normal((2, 16, 8)).astype(np.float32)
    ref = np.matmul(A.astype(np.float64), B.astype(np.float64)) + C
    wrong = {
        "A registers 1 and 2 swapped": ([ISA_A[0], ISA_A[2], ISA_A[1], ISA_A[3]], ISA_B, ISA_C),
        "A halves swapped": ([[p[1], p[0]] for p in ISA_A], ISA_B, ISA_C),
        "B registers swapped": (ISA_A, [ISA_B[1], ISA_B[0]], ISA_C),
        "B halves swapped": (ISA_A, [[p[1], p[0]] for p in ISA_B], ISA_C),
        "C rows g and g+8 exchanged": (ISA_A, ISA_B, [ISA_C[2], ISA_C[3], ISA_C[0], ISA_C[1]]),
    }
    mod = opt(mma_kernel(ISA_A, ISA_B, ISA_C), "mma_isa")
    (_, _, _, D), _, st = harness.run(mod, "mma", A, B, C, np.zeros((2, 16, 8), np.float32))
    check.close("mma.sync with the ISA's fragment layout (2 warps)", D, ref, 1e-6)
    check.expect("mma.sync ran once per warp", st["warp_mma"] == 2, "%d" % st["warp_mma"])
    A16, B16 = A.astype(np.float16), B.astype(np.float16)   # bf16 values with 8 bits fit f16
    A16[0, 0, 0], B16[1, 3, 2] = 1.0009765625, -0.0999755859375   # and values bf16 cannot hold
    mod = opt(mma_kernel(ISA_A, ISA_B, ISA_C, ty="f16"), "mma_f16")
    (_, _, _, D), _, _ = harness.run(mod, "mma", A16, B16, C, np.zeros((2, 16, 8), np.float32))
    check.close("mma.sync f16 x f16 -> f32", D, np.matmul(A16.astype(np.float64), B16.astype(np.float64)) + C, 1e-6)
    for name, (a, b, c) in wrong.items():
        mod = opt(mma_kernel(a, b, c), "mma_wrong")
        (_, _, _, D), _, _ = harness.run(mod, "mma", A, B, C, np.zeros((2, 16, 8), np.float32))
        err = check.error(D, ref)
        check.expect("mma.sync with %s is caught" % name, err > 1e-2, "error %.2e" % err)

    # --- memory and synchronisation rules.
    x = rng.standard_normal(32).astype(np.float32)
    io = "%in: memref<32xf32>, %out: memref<32xf32>"
    mod = opt(launch(ROTATE.format(barrier="gpu.barrier"), io, workgroup=WG), "rotate")
    (_, out), _, _ = harness.run(mod, "k", x, np.zeros(32, np.float32))
    check.close("shared-memory rotation with a barrier", out, np.roll(x, -1), 0)
    mod = opt(launch(ROTATE.format(barrier=""), io, workgroup=WG), "rotate_race")
    check.raises("read after another thread's write, no barrier (RAW race)",
                 lambda: harness.run(mod, "k", x, np.zeros(32, np.float32)), "memref.load", "race")
    war = "%c1f = arith.constant 1.0 : f32\n" + WAR
    mod = opt(launch(war.format(barrier="gpu.barrier"), io, workgroup=WG), "war")
    harness.run(mod, "k", x, np.zeros(32, np.float32))
    check.expect("write after other threads' reads, with a barrier: no race", True)
    mod = opt(launch(war.format(barrier=""), io, workgroup=WG), "war_race")
    check.raises("write over another thread's read, no barrier (WAR race)",
                 lambda: harness.run(mod, "k", x, np.zeros(32, np.float32)), "memref.store", "race")
    mod = opt(launch(CROSS_BLOCK, "%out: memref<32xf32>", blocks=3), "cross_block")
    check.raises("two blocks writing one element", lambda: harness.run(mod, "k", np.zeros(32, np.float32)),
                 "memref.store", "race", "block")
    mod = opt(launch(UNINIT, io, workgroup=WG), "uninit")
    check.raises("read of workgroup memory never written",
                 lambda: harness.run(mod, "k", x, np.zeros(32, np.float32)), "memref.load", "never written")
    mod = opt(launch(ROTATE.format(barrier="gpu.barrier").replace("%out[%tx]", "%out[%n1]"),
                     "%in: memref<32xf32>, %out: memref<32xf32>", workgroup=WG), "oob")
    check.raises("store one past the end", lambda: harness.run(mod, "k", x, np.zeros(32, np.float32)),
                 "memref.store", "out of bounds", "index 0 is 32", "thread 31")
    mod = opt(launch(DIVERGENT_BARRIER, io), "divergent_barrier")
    check.raises("barrier under divergence", lambda: harness.run(mod, "k", x, np.zeros(32, np.float32)),
                 "gpu.barrier", "16 of the 32 threads")
    mod = opt(launch(DIVERGENT_SHUFFLE, io), "divergent_shuffle")
    check.raises("shuffle with half the warp", lambda: harness.run(mod, "k", x, np.zeros(32, np.float32)),
                 "gpu.shuffle", "16 of 32 lanes")
    mod = opt(launch(DIVERGENT_LOOP, io), "divergent_loop")
    (_, out), _, _ = harness.run(mod, "k", x, np.zeros(32, np.float32))
    t = np.arange(32)
    check.close("loop with per-thread trip counts", out, t * (t - 1) / 2, 0)

    # A constant global read in a kernel (partial warp: 4 threads).
    table = "memref.global \"private\" constant @table : memref<4xf32> = dense<[1.5, -2.0, 3.25, 4.0]>\n"
    body = """
    %t = memref.get_global @table : memref<4xf32>
    %x = memref.load %t[%tx] : memref<4xf32>
    memref.store %x, %out[%tx] : memref<4xf32>
"""
    mod = opt(table + launch(body, "%out: memref<4xf32>", threads=4), "global")
    (out,), _, _ = harness.run(mod, "k", np.zeros(4, np.float32))
    check.close("memref.get_global of a dense constant", out, np.array([1.5, -2.0, 3.25, 4.0]), 0)

    # Views: collapse/expand_shape, reinterpret_cast, a strided subview.
    mod = opt(VIEWS, "views")
    a = np.arange(24, dtype=np.float32).reshape(4, 6)
    (_, out), _, _ = harness.run(mod, "views", a, np.zeros(4, np.float32))
    check.close("memref views keep offsets and strides", out, np.array([a[0, 5], a[2, 3], a[2, 4], a[3, 4]]), 0)
    check.raises("a reinterpret_cast past the buffer", lambda: mod.run("past_the_buffer", a),
                 "memref.load", "out of bounds", "element 27 of a buffer of 24")

    # --- shuffle modes (GPU dialect semantics; invalid lanes read 0 here).
    mod = opt(launch(SHUFFLES, "%in: memref<32xf32>, %out: memref<160xf32>"), "shuffles")
    (_, out), _, _ = harness.run(mod, "k", x, np.zeros(160, np.float32))
    lane = np.arange(32)
    exp = np.concatenate([
        x[lane ^ 3],
        np.where(lane + 1 < 32, x[np.minimum(lane + 1, 31)], 0),
        np.where((lane < 16) & (lane >= 2), x[np.maximum(lane - 2, 0)], 0),
        np.full(32, x[5]),
        np.where(lane + 2 < 16, x[np.minimum(lane + 2, 31)], 0)])
    check.close("gpu.shuffle xor/down/up/idx with widths 32 and 16", out, exp, 0)

    # --- bf16: truncf (nearest even), bitcasts, against PyTorch.
    import torch
    special = np.array([1.0, 1.00390625, 1.005859375, 1.0078125 + 2 ** -9, -1.00390625, 3.4e38, -3.4e38,
                        np.inf, -np.inf, np.nan, 0.0, -0.0, 1e-40, 2.0 ** -133], dtype=np.float32)
    xs = np.concatenate([special, rng.standard_normal(500).astype(np.float32) * 10.0 ** rng.integers(-30, 30, 500)])
    xs = xs.astype(np.float32)
    tref = torch.from_numpy(xs).to(torch.bfloat16)
    ref_vals = tref.to(torch.float32).numpy()
    ref_bits = tref.view(torch.int16).numpy()
    mod = opt(BF16, "bf16")
    n = len(xs)
    (_, r, bits, back), _, _ = harness.run(mod, "bf16", xs, np.zeros(n, np.float32),
                                           np.zeros(n, np.int16), np.zeros(n, np.float32))
    same = lambda u, v: np.array_equal(u.view(np.uint32), v.view(np.uint32)) or \
        (np.array_equal(np.isnan(u), np.isnan(v)) and np.array_equal(u[~np.isnan(u)], v[~np.isnan(v)]))
    check.expect("truncf f32 -> bf16 equals torch's rounding (%d values, ties, inf, NaN, subnormals)" % n,
                 same(r, ref_vals))
    nan = np.isnan(xs)
    check.equal("bitcast bf16 -> i16 equals torch's bits (non-NaN)", bits[~nan], ref_bits[~nan])
    check.expect("bitcast i16 -> bf16 round-trips", same(back, r))

    # --- integer semantics.
    mod = opt(INTS, "ints")
    for a, b in [(7, 2), (-7, 2), (7, -2), (-2147483648, 3), (5, 31), (-1, 4)]:
        got = [int(np.asarray(v).ravel()[0]) for v in mod.run("ints", a, b)]
        exp = [int(v) for v in ints_reference(a, b)]
        check.equal("arith integer ops on (%d, %d)" % (a, b), np.array(got), np.array(exp))
    check.raises("division by zero", lambda: mod.run("ints", 1, 0), "arith.divui", "by zero")

    # --- strata-plan-memory's arena, affine.apply, math.erf.
    mod = opt(ARENA, "arena")
    x4 = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    (_, out, _, _), _, st = harness.run(mod, "arena", x4, np.zeros(4, np.float32), 64, True)
    check.close("two arena views on separate bytes (and an index global)", out, x4 - 1, 0)
    check.expect("the arena call and its views are counted", st["arena_bytes"] == [128] and st["arena_views"] == 2,
                 "%s bytes, %d views" % (st["arena_bytes"], st["arena_views"]))
    check.raises("a view in use whose bytes a later view claimed",
                 lambda: harness.run(mod, "arena", x4, np.zeros(4, np.float32), 0, True),
                 "memref.load", "share arena bytes")
    check.raises("a fresh view's element read before it is written",
                 lambda: harness.run(mod, "arena", x4, np.zeros(4, np.float32), 64, False),
                 "memref.load", "never written")
    check.raises("a view past the arena",
                 lambda: harness.run(mod, "arena", x4, np.zeros(4, np.float32), 120, True),
                 "memref.view", "of a 128-byte buffer")
    got, exp = [], []
    for d, sym in [(0, 0), (7, 2), (-7, 3), (-1, -5), (100, -40)]:
        got.append(int(mod.run("affine", d, sym)[0][0]))
        exp.append(d // 3 + sym * 2 - d % 3 + -((-(d + sym)) // 4) - 7)
    check.equal("affine.apply (floordiv, mod, ceildiv on negatives)", np.array(got), np.array(exp))
    import math
    xs = np.array([-3.0, -0.5, -1e-3, 0.0, 0.25, 1.0, 2.5, 6.0], np.float32)
    (_, out), _, _ = harness.run(mod, "erf", xs, np.zeros(8, np.float32))
    check.close("math.erf", out, np.array([math.erf(v) for v in xs.astype(np.float64)]), 1e-7)

    # --- locations (--mlir-print-debuginfo) reach the launch stats.
    text = launch(ROTATE.format(barrier="gpu.barrier"), io, workgroup=WG)
    line = next(k for k, l in enumerate(text.split("\n"), 1) if "gpu.launch" in l)
    mod = harness.simt.Module(harness.lower(args.strata_opt, text, ["--mlir-print-debuginfo"], args.keep, "locations"))
    _, _, st = harness.run(mod, "k", x, np.zeros(32, np.float32))
    loc = st["launches"][0]["loc"] or ""
    check.expect("a launch's stats carry its location (line %d)" % line, (":%d:" % line) in loc, loc)
    check.finish()


if __name__ == "__main__":
    main()
