"""A SIMT emulator for the kernel-level MLIR that Strata's CUDA passes emit.

Checks the numerics of generated CUDA kernels on a machine without a GPU.
Input is MLIR in the generic form (`strata-opt ... --mlir-print-op-generic`)
after the kernel passes (strata-tiled-matmuls, strata-grouped-matmul-kernels,
strata-expert-sort-kernel, strata-flash-attention-kernels,
strata-warp-reductions, strata-map-loops-to-gpu; strata-plan-memory and
gpu-launch-sink-index-computations may have run too) and before kernel
outlining: a func.func on memrefs whose host code (memref.dim, arith,
scf.if choosing a kernel, the arena and its views, ...) contains gpu.launch
ops. A whole model's forward runs too (check_model.py), and its decode
over a KV cache (check_decode.py).

Usage (as a module; /usr/bin/python3, numpy only):

    import simt
    module = simt.Module(generic_mlir_text)
    results = module.run("linear", x, w, y)   # numpy arrays, updated in place
    module.stats   # launches (grid, block, workgroup bytes, location, and
                   # the warp mma / shuffle and block barrier instructions
                   # each executed), those counts in all, the arena sizes
                   # requested and the number of views of them
    module.reset_stats()

Arguments are numpy arrays for memref parameters (C-contiguous, of the
element type: f32 float32, bf16 float32 holding bf16 values, f16 float16,
iN intN, index int64; they are the buffers the function reads and writes,
and may alias) and Python numbers for scalar ones. Results are returned as
numpy arrays (memrefs) or one-element arrays (scalars). Errors are
EmulatorError, naming the op, its line in the input and the thread.
`python3 simt.py FILE` lists a file's functions and the ops the emulator
does not support. Locations (`--mlir-print-debuginfo`, aliases included)
are read: a launch's is in its stats record, so that a kernel can be
traced to the op it came from. Meant for small shapes: every op is a numpy
call over all threads of up to 65536-thread chunks of a launch's blocks.

What it models:
- Host code runs as one scalar thread. Each gpu.launch checks its grid and
  block sizes against CUDA's limits (and static workgroup memory against
  48 KiB) and runs every block: the threads of a chunk of blocks execute
  op by op in lockstep, vectorised with numpy (each SSA value is an array
  over threads); chunks run one after another (blocks are independent).
- Divergence is an active-thread mask. scf.if runs each region under its
  mask (a region no thread takes is skipped) and merges results with
  np.where; scf.for / scf.while with per-thread bounds run until no thread
  is active, masking finished threads. Loads and stores touch memory only
  for active threads, so inactive lanes may hold any index.
- Every load and store is bounds-checked against the memref's shape (views
  from subview, cast, collapse/expand_shape and reinterpret_cast keep
  offsets and strides) and against its buffer.
- Memory from memref.alloc/alloca, uninitialised globals and workgroup
  attributions starts as NaN (ints: a garbage pattern) and a read of an
  element never written is an error. Workgroup memory is fresh per block,
  private attributions and in-kernel allocas per thread. Stores to
  constant globals are errors.
- gpu.barrier is a no-op in lockstep (a valid schedule) but must be reached
  by all threads of a block or none. A race detector tracks, per element and
  launch, the last writer and the readers since each block's last barrier:
  a read of another thread's write, or a write over another thread's read or
  write (or a different value stored by another thread in the same op),
  with no barrier of the same block in between (or from another block) is
  an error. This catches the missing barriers that lockstep hides.
- gpu.shuffle (xor/idx/down/up, width) follows the GPU dialect's
  definition: the first `width` lanes of the warp must all be active (and
  the warp complete); invalid lanes get NaN (floats) or their own value
  (ints) with valid = false. Warps are 32 consecutive linear thread ids.
- nvvm.mma.sync m16n8k16 with bf16 or f16 A/B (row/col, packed in i32) and
  f32 C/D: all 32 lanes of the warp must be active. Fragment ownership is
  taken from the PTX ISA (the _MMA tables below), not from Strata's code
  generator. Products are exact and the sum of the 16 products and C is
  rounded once to f32 (hardware rounds its accumulation its own way: a few
  ulp of difference). m16n8k32 with s8 A/B (four per i32 register, the
  first in the low byte) and s32 C/D is exact, wrapping at 32 bits
  (intOverflowBehavior = wrapped; satfinite is refused).
- bf16 values are float32 arrays holding bf16-representable values; truncf
  rounds to nearest even, extf is exact, bitcasts move the bits. f32
  arithmetic is numpy float32 (IEEE); math.fma is computed in float64 and
  rounded once; exp/log/... are numpy's (within an ulp or two).
- Integer ops wrap at their width; unsigned ops reinterpret; division by
  zero, out-of-range shifts and out-of-range fptosi/fptoui are errors.
  affine.apply evaluates one-result maps (floordiv, ceildiv and mod round
  as affine does); math.erf is Python's, rounded once.
- strata-plan-memory's arena: a func.call to a declaration named in
  EXTERNALS runs Python; `strata_arena_acquire(bytes)` returns a fresh
  byte buffer. Each memref.view of it is a buffer of its own that starts
  unwritten (NaN), so reading what an earlier user of the bytes left is an
  error, and claims its bytes: an access through a view whose bytes a
  later view has claimed is an error (two buffers in use at once in one
  slot). Views do not otherwise share data, which is exact for programs
  these rules accept.

What it does not model: timing, occupancy, memory coalescing, bank
conflicts, caches, the memory model beyond the race rules above (no
atomics, fences or inter-block synchronisation), warp schedules other than
lockstep (a race outside the detector's rules is not found), libdevice's
exact ulp error for exp/log, denormal flushing, dynamic shared memory,
clusters, and outlined kernels (gpu.func / gpu.launch_func). Ops without a
handler in _HANDLERS (vector, cf, affine but affine.apply, linalg, atomics,
ldmatrix, cp.async, other mma shapes and types, ...) raise an
EmulatorError naming the op.
"""

import math
import re
import sys

import numpy as np

__all__ = ["Module", "EmulatorError", "EXTERNALS", "parse", "round_bf16", "unsupported_ops"]


class EmulatorError(Exception):
    pass


# ----------------------------------------------------------------------------
# Types
# ----------------------------------------------------------------------------

class MemRefType:
    def __init__(self, shape, elem, strides=None, offset=0, space=None):
        self.shape = shape          # list of int or None (dynamic)
        self.elem = elem            # scalar type string
        self.strides = strides      # None (identity) or list of int/None
        self.offset = offset        # int or None
        self.space = space

    def __repr__(self):
        return "memref<%s x %s>" % (self.shape, self.elem)


class StructType:
    def __init__(self, fields):
        self.fields = fields


class VectorType:
    def __init__(self, size, elem):
        self.size = size
        self.elem = elem

    def __eq__(self, other):
        return isinstance(other, VectorType) and (self.size, self.elem) == (other.size, other.elem)

    def __hash__(self):
        return hash((self.size, self.elem))

    def __repr__(self):
        return "vector<%dx%s>" % (self.size, self.elem)


class Vec:
    """A value of a 1-D vector type: one array over threads per element."""

    __slots__ = ("elems",)

    def __init__(self, elems):
        self.elems = list(elems)


class OpaqueType:
    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


_FLOATS = {"f16", "bf16", "f32", "f64"}
_NP_DTYPE = {"f16": np.float16, "bf16": np.float32, "f32": np.float32,
             "f64": np.float64, "i1": np.bool_, "i8": np.int8,
             "i16": np.int16, "i32": np.int32, "i64": np.int64,
             "index": np.int64}
_UNSIGNED = {8: np.uint8, 16: np.uint16, 32: np.uint32, 64: np.uint64}
_SIGNED = {8: np.int8, 16: np.int16, 32: np.int32, 64: np.int64}


def int_bits(t):
    if t == "index":
        return 64
    if isinstance(t, str) and t[0] == "i" and t[1:].isdigit():
        return int(t[1:])
    raise EmulatorError("not an integer type: %r" % (t,))


def _split_top(s, sep=","):
    """Splits s at top-level separators (outside <>, (), [], {})."""
    parts, depth, cur, i = [], 0, [], 0
    while i < len(s):
        c = s[i]
        if c == "-" and s[i + 1:i + 2] == ">":
            cur.append("->")
            i += 2
            continue
        if c in "<([{":
            depth += 1
        elif c in ">)]}":
            depth -= 1
        if c == sep and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


_type_cache = {}


def parse_type(s):
    s = s.strip()
    if s in _type_cache:
        return _type_cache[s]
    t = _parse_type(s)
    _type_cache[s] = t
    return t


def _parse_type(s):
    if s in _NP_DTYPE:
        return s
    if s.startswith("memref<") and s.endswith(">"):
        body = s[len("memref<"):-1]
        parts = _split_top(body)
        m = re.match(r"((?:(?:\?|\d+)x)*)(.+)$", parts[0].strip())
        elem = m.group(2)
        shape = [None if d == "?" else int(d) for d in m.group(1).split("x")[:-1]]
        strides, offset, space = None, 0, None
        for p in parts[1:]:
            if p.startswith("strided<"):
                m = re.match(r"strided<\[([^\]]*)\](?:,\s*offset:\s*([-?\d]+))?>", p)
                if not m:
                    raise EmulatorError("cannot parse layout " + p)
                strides = [None if x.strip() == "?" else int(x)
                           for x in m.group(1).split(",") if x.strip()]
                off = m.group(2)
                offset = 0 if off is None else (None if off == "?" else int(off))
            elif p.startswith("affine_map"):
                # Only the identity map is accepted.
                m = re.match(r"affine_map<\(([^)]*)\)\s*->\s*\(([^)]*)\)>", p)
                if not m or m.group(1).replace(" ", "") != m.group(2).replace(" ", ""):
                    raise EmulatorError("unsupported memref layout " + p)
            else:
                space = p
        if elem not in _NP_DTYPE:
            raise EmulatorError("unsupported memref element type " + elem)
        return MemRefType(shape, elem, strides, offset, space)
    m = re.match(r"vector<(\d+)x(\w+)>$", s)
    if m and m.group(2) in _NP_DTYPE:
        return VectorType(int(m.group(1)), m.group(2))
    if s.startswith("!llvm.struct<(") and s.endswith(")>"):
        return StructType([parse_type(x) for x in _split_top(s[len("!llvm.struct<("):-2])])
    return OpaqueType(s)


# ----------------------------------------------------------------------------
# Parser for the generic op form
# ----------------------------------------------------------------------------

class Op:
    __slots__ = ("name", "results", "operands", "props", "attrs", "regions",
                 "in_types", "out_types", "line", "handler", "loc")

    def where(self):
        res = (" " + ", ".join(self.results) + " =") if self.results else ""
        return "%s (line %d%s)" % (self.name, self.line, res)


class Block:
    __slots__ = ("args", "ops")

    def __init__(self, args):
        self.args = args
        self.ops = []


class Region:
    __slots__ = ("blocks",)

    def __init__(self, blocks):
        self.blocks = blocks


_NAME_RE = re.compile(r"%[\w$.\-]+")
_USE_RE = re.compile(r"%[\w$.\-]+(?:#\d+)?")
_BARE_RE = re.compile(r"[\w$.\-]+")
_COUNT_RE = re.compile(r":(\d+)")
_BLOCK_RE = re.compile(r"\^[\w$.\-]+")


class _Parser:
    def __init__(self, text):
        self.s = text
        self.i = 0
        self.n = len(text)
        # line starts, for error messages
        self.nl = [m.start() for m in re.finditer("\n", text)]

    def line(self):
        import bisect
        return bisect.bisect_left(self.nl, self.i) + 1

    def err(self, msg):
        ctx = self.s[self.i:self.i + 60].replace("\n", "\\n")
        raise EmulatorError("parse error at line %d: %s near '%s'" % (self.line(), msg, ctx))

    def ws(self):
        s, i, n = self.s, self.i, self.n
        while i < n:
            c = s[i]
            if c in " \t\r\n":
                i += 1
            elif c == "/" and s.startswith("//", i):
                j = s.find("\n", i)
                i = n if j < 0 else j + 1
            else:
                break
        self.i = i

    def peek(self, tok):
        self.ws()
        return self.s.startswith(tok, self.i)

    def expect(self, tok):
        self.ws()
        if not self.s.startswith(tok, self.i):
            self.err("expected '%s'" % tok)
        self.i += len(tok)

    def string(self):
        self.expect('"')
        j = self.i
        out = []
        while self.s[j] != '"':
            if self.s[j] == "\\":
                out.append(self.s[j:j + 2])
                j += 2
            else:
                out.append(self.s[j])
                j += 1
        self.i = j + 1
        return "".join(out)

    def scan(self, stops, stop_ws=False):
        """Raw text up to a top-level stop character."""
        s, i, depth = self.s, self.i, 0
        start = i
        while i < self.n:
            c = s[i]
            if depth == 0 and (c in stops or (stop_ws and c in " \t\r\n")):
                break
            if c == '"':
                i += 1
                while s[i] != '"':
                    i += 2 if s[i] == "\\" else 1
            elif c == "-" and s.startswith("->", i):
                i += 1
            elif c in "<([{":
                depth += 1
            elif c in ">)]}":
                if depth == 0:
                    break
                depth -= 1
            i += 1
        self.i = i
        return s[start:i].strip()

    def attr_dict(self):
        self.expect("{")
        d = {}
        if self.peek("}"):
            self.i += 1
            return d
        while True:
            self.ws()
            if self.s[self.i] == '"':
                key = self.string()
            else:
                m = _BARE_RE.match(self.s, self.i)
                if not m:
                    self.err("expected attribute name")
                key = m.group(0)
                self.i = m.end()
            if self.peek("="):
                self.i += 1
                self.ws()
                d[key] = self.scan(",}")
            else:
                d[key] = "unit"
            if self.peek(","):
                self.i += 1
                continue
            self.expect("}")
            return d

    def type_list(self):
        self.expect("(")
        out = []
        if self.peek(")"):
            self.i += 1
            return out
        while True:
            self.ws()
            out.append(parse_type(self.scan(",)")))
            if self.peek(","):
                self.i += 1
                continue
            self.expect(")")
            return out

    def op(self):
        self.ws()
        op = Op()
        op.line = self.line()
        results = []
        if self.s[self.i] == "%":
            while True:
                self.ws()
                m = _NAME_RE.match(self.s, self.i)
                if not m:
                    self.err("expected result name")
                self.i = m.end()
                name = m.group(0)
                mm = _COUNT_RE.match(self.s, self.i)
                if mm:
                    self.i = mm.end()
                    results += ["%s#%d" % (name, k) for k in range(int(mm.group(1)))]
                else:
                    results.append(name)
                if self.peek(","):
                    self.i += 1
                    continue
                break
            self.expect("=")
        op.results = results
        self.ws()
        op.name = self.string()
        self.expect("(")
        operands = []
        while not self.peek(")"):
            self.ws()
            m = _USE_RE.match(self.s, self.i)
            if not m:
                self.err("expected operand")
            operands.append(m.group(0))
            self.i = m.end()
            if self.peek(","):
                self.i += 1
        self.i += 1
        op.operands = operands
        if self.peek("["):
            self.err("successors are not supported")
        op.props = {}
        if self.peek("<{"):
            self.i += 1
            op.props = self.attr_dict()
            self.expect(">")
        op.regions = []
        if self.peek("("):
            self.i += 1
            while True:
                op.regions.append(self.region())
                if self.peek(","):
                    self.i += 1
                    continue
                self.expect(")")
                break
        op.attrs = {}
        if self.peek("{"):
            op.attrs = self.attr_dict()
        self.expect(":")
        op.in_types = self.type_list()
        self.expect("->")
        if self.peek("("):
            op.out_types = self.type_list()
        else:
            self.ws()
            op.out_types = [parse_type(self.scan(",){}", stop_ws=True))]
        op.loc = None
        if self.peek("loc("):
            self.i += 4
            op.loc = self.scan(")")
            self.expect(")")
        op.handler = None
        if len(op.out_types) != len(op.results):
            self.err("%s: %d results but %d result types" % (op.name, len(op.results), len(op.out_types)))
        return op

    def region(self):
        self.expect("{")
        blocks = []
        cur = None
        while True:
            self.ws()
            c = self.s[self.i]
            if c == "}":
                self.i += 1
                break
            if c == "^":
                m = _BLOCK_RE.match(self.s, self.i)
                self.i = m.end()
                args = []
                if self.peek("("):
                    self.i += 1
                    while not self.peek(")"):
                        self.ws()
                        m = _NAME_RE.match(self.s, self.i)
                        self.i = m.end()
                        self.expect(":")
                        self.ws()
                        t = parse_type(self.scan(",)", stop_ws=True))
                        if self.peek("loc("):
                            self.i += 4
                            self.scan(")")
                            self.expect(")")
                        args.append((m.group(0), t))
                        if self.peek(","):
                            self.i += 1
                    self.i += 1
                self.expect(":")
                cur = Block(args)
                blocks.append(cur)
                continue
            if cur is None:
                cur = Block([])
                blocks.append(cur)
            cur.ops.append(self.op())
        return Region(blocks)

    def module(self):
        ops = []
        while True:
            self.ws()
            if self.i >= self.n:
                return ops
            ops.append(self.op())


_ALIAS_RE = re.compile(r"^([#!][\w$.\-]+)\s*=\s*(.*)$", re.M)


def _expand_aliases(text):
    """Removes attribute and type alias definitions (`#map = ...`,
    `!t = ...`, printed before the ops; location aliases `#loc3 = loc(...)`
    of --mlir-print-debuginfo also after them) and substitutes their uses.
    The definitions' lines are blanked, so line numbers stay those of the
    input."""
    aliases = {}
    lines = text.split("\n")
    for k, line in enumerate(lines):
        if not line.startswith(("#", "!")):
            continue
        m = _ALIAS_RE.match(line)
        if m:
            aliases[m.group(1)] = m.group(2).strip()
            lines[k] = ""
    if not aliases:
        return text
    text = "\n".join(lines)
    pat = re.compile("|".join(re.escape(a) for a in sorted(aliases, key=len, reverse=True))
                     + r"(?![\w$.\-])")
    for _ in range(4):   # aliases may use aliases
        new = pat.sub(lambda m: aliases[m.group(0)], text)
        if new == text:
            break
        text = new
    return text


def parse(text):
    """The top-level ops of a generic-form MLIR text."""
    return _Parser(_expand_aliases(text)).module()


def _walk(ops):
    for op in ops:
        yield op
        for r in op.regions:
            for b in r.blocks:
                yield from _walk(b.ops)


# ----------------------------------------------------------------------------
# Attribute helpers
# ----------------------------------------------------------------------------

def attr_int(raw):
    raw = raw.strip()
    if raw in ("true", "false"):
        return int(raw == "true")
    return int(raw.split(":")[0].strip(), 0)


def attr_array(raw):
    m = re.match(r"array<\w+(?::\s*(.*))?>$", raw.strip())
    if not m:
        raise EmulatorError("expected a dense array attribute, got " + raw)
    if not m.group(1):
        return []
    return [int(x) for x in m.group(1).split(",")]


def attr_enum(raw):
    """#gpu<shuffle_mode xor> -> 'xor', #nvvm.mma_layout<row> -> 'row'."""
    m = re.match(r"#[\w.]+<(?:\w+\s+)?([\w]+)>$", raw.strip())
    if not m:
        raise EmulatorError("cannot read enum attribute " + raw)
    return m.group(1)


_DYNAMIC = -9223372036854775808  # ShapedType::kDynamic


# ----------------------------------------------------------------------------
# Float helpers
# ----------------------------------------------------------------------------

def round_bf16(x):
    """float32/float64 -> float32 holding the nearest-even bf16 value."""
    x = np.asarray(x)
    if x.dtype == np.float64:
        x = _f64_to_f32_odd(x)
    x = np.ascontiguousarray(x, dtype=np.float32)
    b = x.view(np.uint32).astype(np.uint64)
    r = ((b + 0x7FFF + ((b >> 16) & 1)) & 0xFFFF0000).astype(np.uint32)
    nan = np.isnan(x)
    if nan.any():
        r = np.where(nan, (b.astype(np.uint32) & np.uint32(0x80000000)) | np.uint32(0x7FC00000), r)
    return r.view(np.float32)


def _f64_to_f32_odd(x):
    """float64 -> float32 rounded to odd (so that a second rounding to a
    narrower format is correct)."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = x.astype(np.float32)
    inexact = np.isfinite(x) & (y.astype(np.float64) != x)
    if not inexact.any():
        return y
    bits = y.view(np.uint32).copy()
    # step toward zero where rounding went away from zero
    away = inexact & (np.abs(y.astype(np.float64)) > np.abs(x))
    bits = np.where(away, bits - 1, bits).astype(np.uint32)
    bits = np.where(inexact, bits | 1, bits).astype(np.uint32)
    return bits.view(np.float32)


def to_float(x, t):
    """Rounds array x to float type t's representation."""
    if t == "f32":
        if x.dtype == np.float64:
            return x.astype(np.float32)
        return x.astype(np.float32, copy=False)
    if t == "bf16":
        return round_bf16(x)
    if t == "f16":
        return x.astype(np.float16)
    if t == "f64":
        return x.astype(np.float64)
    raise EmulatorError("not a float type: %r" % (t,))


def _is_bf16_exact(x):
    b = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    return bool(((b & 0xFFFF) == 0).all())


# ----------------------------------------------------------------------------
# mma.sync m16n8k16 fragment ownership, from the PTX ISA: "Matrix Fragments
# for mma.m16n8k16 with floating point type" (section 9.7.14.5.8 of PTX ISA
# 9.x; 9.7.13.4.8 in older numbering). With groupID = %laneid >> 2 and
# threadID_in_group = %laneid % 4:
#   A (16x16, .f16/.bf16: four .f16x2 registers holding a0..a7, low to high)
#     row = groupID      for ai where 0 <= i < 2 || 4 <= i < 6
#           groupID + 8  otherwise
#     col = threadID_in_group * 2 + (i & 1)      for ai where i < 4
#           threadID_in_group * 2 + (i & 1) + 8  for ai where i >= 4
#   B (16x8, two .f16x2 registers holding b0..b3, low to high)
#     row = threadID_in_group * 2 + (i & 1)      for bi where i < 2
#           threadID_in_group * 2 + (i & 1) + 8  for bi where i >= 2
#     col = groupID
#   C/D (16x8, .f32: four registers c0..c3)
#     row = groupID for ci where i < 2, groupID + 8 for i >= 2
#     col = threadID_in_group * 2 + (i & 1)
# "Elements (low to high)": element 2r is in the low 16 bits of register r,
# element 2r + 1 in the high 16 bits.
# ----------------------------------------------------------------------------

def _mma_a(lane, i):
    g, t = lane >> 2, lane % 4
    row = g if (i < 2 or 4 <= i < 6) else g + 8
    col = t * 2 + (i & 1) + (8 if i >= 4 else 0)
    return row, col


def _mma_b(lane, i):
    g, t = lane >> 2, lane % 4
    return t * 2 + (i & 1) + (8 if i >= 2 else 0), g


def _mma_c(lane, i):
    g, t = lane >> 2, lane % 4
    return (g if i < 2 else g + 8), t * 2 + (i & 1)


# m16n8k32 with .s8/.u8 multiplicands ("Matrix Fragments for mma.m16n8k32",
# same section): four 8-bit elements per .b32 register, low byte first.
#   A (16x32: four registers holding a0..a15)
#     row = groupID      for ai where 0 <= i < 4 || 8 <= i < 12
#           groupID + 8  otherwise
#     col = threadID_in_group * 4 + (i & 3)       for ai where i < 8
#           threadID_in_group * 4 + (i & 3) + 16  for ai where i >= 8
#   B (32x8: two registers holding b0..b7)
#     row = threadID_in_group * 4 + (i & 3)       for bi where i < 4
#           threadID_in_group * 4 + (i & 3) + 16  for bi where i >= 4
#     col = groupID
#   C/D (16x8, .s32): as for the floating point shape above.

def _mma8_a(lane, i):
    g, t = lane >> 2, lane % 4
    row = g if (i < 4 or 8 <= i < 12) else g + 8
    return row, t * 4 + (i & 3) + (16 if i >= 8 else 0)


def _mma8_b(lane, i):
    g, t = lane >> 2, lane % 4
    return t * 4 + (i & 3) + (16 if i >= 4 else 0), g


def _mma_tables():
    lanes = np.arange(32)
    tabs = {}
    for name, fn, count, shape in (("a", _mma_a, 8, (16, 16)),
                                   ("b", _mma_b, 4, (16, 8)),
                                   ("c", _mma_c, 4, (16, 8)),
                                   ("a8", _mma8_a, 16, (16, 32)),
                                   ("b8", _mma8_b, 8, (32, 8))):
        rows = np.array([[fn(l, i)[0] for l in lanes] for i in range(count)])
        cols = np.array([[fn(l, i)[1] for l in lanes] for i in range(count)])
        # Each element of the matrix belongs to exactly one (lane, i).
        seen = np.zeros(shape, dtype=int)
        np.add.at(seen, (rows.ravel(), cols.ravel()), 1)
        assert (seen == 1).all(), "mma fragment table for %s is not a bijection" % name
        tabs[name] = (rows, cols)   # [i][lane]
    return tabs


_MMA = _mma_tables()


def _unpack_halves(reg, ptx_type):
    """A 32-bit register (int32 array) -> (low element, high element) as float64."""
    u = np.ascontiguousarray(reg).astype(np.int64) & 0xFFFFFFFF
    lo = (u & 0xFFFF).astype(np.uint16)
    hi = (u >> 16).astype(np.uint16)
    if ptx_type == "bf16":
        conv = lambda h: (h.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    elif ptx_type == "f16":
        conv = lambda h: h.view(np.float16).astype(np.float64)
    else:
        raise EmulatorError("mma.sync: multiplicand type %s is not supported" % ptx_type)
    return conv(lo), conv(hi)


# ----------------------------------------------------------------------------
# Memory
# ----------------------------------------------------------------------------

_GARBAGE = {np.int8: 0x5A, np.int16: 0x5A5A, np.int32: 0x5A5A5A5A,
            np.int64: 0x5A5A5A5A5A5A5A5A}


class Buffer:
    """A flat allocation with init and race bookkeeping."""

    def __init__(self, data, elem, name, track_init):
        self.data = data
        self.elem = elem
        self.name = name
        self.init = np.zeros(data.size, dtype=bool) if track_init else None
        self.freed = False
        self.race = None
        self.arena = None       # for a memref.view: the Buffer it views
        self.owner = None       # for a viewed buffer: claiming view per byte

    @staticmethod
    def fresh(size, elem, name):
        dt = _NP_DTYPE[elem]
        data = np.empty(size, dtype=dt)
        if elem in _FLOATS:
            data.fill(np.nan)
        elif dt is np.bool_:
            data.fill(True)
        else:
            data.fill(_GARBAGE[dt])
        return Buffer(data, elem, name, True)

    def race_state(self):
        if self.race is None:
            n = self.data.size
            self.race = {k: np.full(n, -1, dtype=np.int64) for k in
                         ("wl", "wg", "wb", "we", "rl", "rg", "rb", "re")}
        return self.race


class MemRef:
    """A view of a Buffer: offset (int, or int64 array over threads),
    shape and strides (ints)."""

    __slots__ = ("buf", "offset", "shape", "strides", "elem")

    def __init__(self, buf, offset, shape, strides):
        self.buf = buf
        self.offset = offset
        self.shape = tuple(int(s) for s in shape)
        self.strides = tuple(int(s) for s in strides)
        self.elem = buf.elem

    def numpy(self):
        if not isinstance(self.offset, (int, np.integer)):
            raise EmulatorError("a per-thread view cannot be returned")
        item = self.buf.data.itemsize
        return np.lib.stride_tricks.as_strided(
            self.buf.data[int(self.offset):], shape=self.shape,
            strides=[s * item for s in self.strides])


def _contiguous_strides(shape):
    strides, acc = [], 1
    for s in reversed(shape):
        strides.append(acc)
        acc *= s
    return list(reversed(strides))


# ----------------------------------------------------------------------------
# Execution contexts
# ----------------------------------------------------------------------------

class _Kernel:
    """Per-chunk launch state: which block and thread each lane is."""

    def __init__(self, launch_id, grid, block, first_block, nblocks):
        self.launch_id = launch_id
        self.grid = grid
        self.block = block
        T = block[0] * block[1] * block[2]
        self.T = T
        self.nb = nblocks
        n = T * nblocks
        lanes = np.arange(n, dtype=np.int64)
        self.blk = lanes // T                      # chunk-local block
        self.tid = lanes % T                       # linear thread id in block
        self.gblk = self.blk + first_block         # global linear block id
        self.gtid = self.gblk * T + self.tid       # unique thread id in launch
        self.wpb = -(-T // 32)
        self.warp = self.blk * self.wpb + self.tid // 32
        self.lane = self.tid % 32
        # lanes present in each warp (the last warp may be partial)
        self.warp_size = np.minimum(32, T - (np.arange(self.wpb) * 32))
        self.epoch = np.zeros(nblocks, dtype=np.int64)


class _Ctx:
    __slots__ = ("n", "mask", "kernel")

    def __init__(self, n, mask, kernel):
        self.n = n
        self.mask = mask
        self.kernel = kernel


_TERMINATORS = {"scf.yield", "scf.condition", "func.return", "scf.reduce",
                "gpu.terminator", "linalg.yield"}


def _full(x, n):
    x = np.asarray(x)
    if x.shape == (n,):
        return x
    return np.broadcast_to(x, (n,))


def _scalar(x, what):
    """A uniform value's Python int (host code, launch sizes)."""
    x = np.asarray(x)
    if x.size != 1 and not (x == x.flat[0]).all():
        raise EmulatorError("%s must be uniform across threads" % what)
    return x.flat[0].item()


class Module:
    """A parsed module whose functions can be run."""

    CHUNK_LANES = 1 << 16

    def __init__(self, text, check_races=True):
        self.ops = parse(text)
        self.funcs = {}
        self.global_decls = {}
        self.globals_ = {}
        for op in _walk(self.ops):
            if op.name in ("func.func", "memref.global"):
                name = (op.props.get("sym_name") or op.attrs.get("sym_name")).strip('"')
                (self.funcs if op.name == "func.func" else self.global_decls)[name] = op
        self.check_races = check_races
        self.launch_id = 0
        self.externals = dict(EXTERNALS)
        self.views = []
        self.reset_stats()
        self.env = {}

    def reset_stats(self):
        self.stats = {"launches": [], "warp_mma": 0, "warp_mma_s8": 0, "warp_shuffle": 0,
                      "barriers": 0, "arena_bytes": [], "arena_views": 0,
                      # one per strata_arena_acquire: the function whose
                      # frame it is, its bytes and the views made of it
                      "frames": []}
        self.call_stack = []

    # ------------------------------------------------------------ running
    def run(self, name, *args):
        if name not in self.funcs:
            raise EmulatorError("no function @%s (have %s)" % (name, sorted(self.funcs)))
        f = self.funcs[name]
        block = f.regions[0].blocks[0]
        if len(args) != len(block.args):
            raise EmulatorError("@%s takes %d arguments, got %d" % (name, len(block.args), len(args)))
        vals = []
        for (argname, t), a in zip(block.args, args):
            vals.append(self._argument(argname, t, a))
        ctx = _Ctx(1, np.ones(1, dtype=bool), None)
        self.env = {}
        self.call_stack = [name]
        with np.errstate(all="ignore"):
            kind, res = self._run_block(block, ctx, vals)
        out = []
        for v in res:
            out.append(v.numpy() if isinstance(v, MemRef) else v)
        return out

    def _argument(self, name, t, a):
        if isinstance(t, MemRefType):
            if not isinstance(a, np.ndarray):
                raise EmulatorError("argument %s: expected a numpy array for %r" % (name, t))
            dt = _NP_DTYPE[t.elem]
            if a.dtype != dt:
                raise EmulatorError("argument %s: dtype %s, expected %s for %s" % (name, a.dtype, np.dtype(dt), t.elem))
            if not a.flags.c_contiguous:
                raise EmulatorError("argument %s must be C-contiguous" % name)
            if len(t.shape) != a.ndim or any(s is not None and s != d for s, d in zip(t.shape, a.shape)):
                raise EmulatorError("argument %s: shape %s does not match %r" % (name, a.shape, t))
            if t.elem == "bf16" and not _is_bf16_exact(a):
                raise EmulatorError("argument %s: values are not bf16-representable" % name)
            if t.strides is not None and t.strides != _contiguous_strides(a.shape):
                raise EmulatorError("argument %s: strided layouts need a view; pass a contiguous type" % name)
            buf = Buffer(a.reshape(-1), t.elem, name, False)
            return MemRef(buf, 0, a.shape, _contiguous_strides(a.shape))
        if isinstance(t, str) and t in _NP_DTYPE:
            return np.array([a], dtype=_NP_DTYPE[t])
        raise EmulatorError("argument %s: unsupported type %r" % (name, t))

    def _run_block(self, block, ctx, args):
        env = self.env
        for (name, _), v in zip(block.args, args):
            env[name] = v
        for op in block.ops:
            if op.name in _TERMINATORS:
                return op.name, [env[x] for x in op.operands]
            h = op.handler
            if h is None:
                h = _HANDLERS.get(op.name)
                if h is None:
                    raise EmulatorError("unsupported op %s" % op.where())
                op.handler = h
            try:
                ins = [env[x] for x in op.operands]
            except KeyError as e:
                raise EmulatorError("%s: operand %s is undefined" % (op.where(), e))
            try:
                outs = h(self, op, ctx, ins)
            except EmulatorError as e:
                if getattr(e, "located", False):
                    raise
                err = EmulatorError("%s: %s" % (op.where(), e))
                err.located = True
                raise err from None
            except Exception as e:   # a bug in a handler: say where
                err = EmulatorError("%s: internal error: %s: %s" % (op.where(), type(e).__name__, e))
                err.located = True
                raise err
            for r, v in zip(op.results, outs):
                env[r] = v
        return None, []

    def _run_region(self, region, ctx, args):
        if len(region.blocks) != 1:
            raise EmulatorError("regions with %d blocks are not supported" % len(region.blocks))
        return self._run_block(region.blocks[0], ctx, args)

    # ------------------------------------------------------------ memory
    def _flat(self, op, mr, idxs, ctx):
        """Flat indices (for active lanes) of mr[idxs], bounds-checked."""
        if mr.buf.freed:
            raise EmulatorError("access to a deallocated buffer")
        n, act = ctx.n, ctx.mask
        if len(idxs) != len(mr.shape):
            raise EmulatorError("%d indices for a rank-%d memref" % (len(idxs), len(mr.shape)))
        flat = _full(mr.offset, n)
        flat = flat[act] if flat.shape == (n,) else flat
        flat = np.array(flat, dtype=np.int64)
        for d, (i, size, stride) in enumerate(zip(idxs, mr.shape, mr.strides)):
            i = _full(i, n)[act].astype(np.int64)
            bad = (i < 0) | (i >= size)
            if bad.any():
                k = int(np.flatnonzero(bad)[0])
                raise EmulatorError(
                    "out of bounds: index %d is %d, dim size %d (memref %s of shape %s)%s"
                    % (d, i[k], size, mr.buf.name, list(mr.shape), self._who(ctx, k)))
            flat = flat + i * stride
        bad = (flat < 0) | (flat >= mr.buf.data.size)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise EmulatorError("out of bounds: element %d of a buffer of %d (%s)%s"
                                % (flat[k], mr.buf.data.size, mr.buf.name, self._who(ctx, k)))
        if mr.buf.arena is not None:
            self._check_owner(mr.buf, flat, ctx)
        return flat

    def _check_owner(self, buf, flat, ctx):
        """A view's elements must still be its own: no later memref.view of
        the same bytes while it is in use."""
        arena, vid, off, size = buf.arena
        owner = arena.owner[off + flat * size]
        bad = owner != vid
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise EmulatorError(
                "element %d of %s was since claimed by %s: two buffers in use at once share "
                "arena bytes%s" % (flat[k], buf.name, self.views[int(owner[k])], self._who(ctx, k)))

    def _who(self, ctx, k):
        """Describes the k-th active lane."""
        kern = ctx.kernel
        if kern is None:
            return " in host code"
        lane = int(np.flatnonzero(ctx.mask)[k])
        return " in block %d thread %d" % (kern.gblk[lane], kern.tid[lane])

    def _load(self, op, mr, idxs, ctx):
        flat = self._flat(op, mr, idxs, ctx)
        buf = mr.buf
        if buf.init is not None:
            ok = buf.init[flat]
            if not ok.all():
                k = int(np.flatnonzero(~ok)[0])
                raise EmulatorError("read of an element of %s that was never written (element %d)%s"
                                    % (buf.name, flat[k], self._who(ctx, k)))
        if ctx.kernel is not None and self.check_races:
            self._race_read(buf, flat, ctx)
        out = np.zeros(ctx.n, dtype=buf.data.dtype)
        out[ctx.mask] = buf.data[flat]
        return out

    def _store(self, op, value, mr, idxs, ctx):
        flat = self._flat(op, mr, idxs, ctx)
        buf = mr.buf
        if getattr(buf, "constant", False):
            raise EmulatorError("store to the constant global %s" % buf.name)
        v = _full(value, ctx.n)[ctx.mask]
        if ctx.kernel is not None and self.check_races:
            self._race_write(buf, flat, v, ctx)
        buf.data[flat] = v
        if buf.init is not None:
            buf.init[flat] = True

    def _lane_ids(self, ctx):
        k = ctx.kernel
        act = ctx.mask
        return k.gtid[act], k.gblk[act], k.epoch[k.blk[act]]

    def _race_read(self, buf, f, ctx):
        st = buf.race_state()
        L = self.launch_id
        g, b, e = self._lane_ids(ctx)
        wl, wg, wb, we = st["wl"][f], st["wg"][f], st["wb"][f], st["we"][f]
        bad = (wl == L) & (wg != g) & ~((wb == b) & (we < e))
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise EmulatorError(
                "race: thread %d of block %d reads element %d of %s written by thread %d of block %d "
                "with no barrier in between" % (g[k] - b[k] * ctx.kernel.T, b[k], f[k], buf.name,
                                                wg[k] - wb[k] * ctx.kernel.T, wb[k]))
        # Summarise this op's readers per element (the epoch is the same
        # for readers of one block; it matters only then).
        order = np.argsort(f, kind="stable")
        fs = f[order]
        dup = fs[1:] == fs[:-1]
        if not dup.any():     # one reader per element
            uf, ng, nb_, ne = fs, g[order], b[order], e[order]
        else:
            gs, bs, es = g[order], b[order], e[order]
            starts = np.flatnonzero(np.concatenate(([True], ~dup)))
            uf = fs[starts]
            gmin, gmax = np.minimum.reduceat(gs, starts), np.maximum.reduceat(gs, starts)
            bmin, bmax = np.minimum.reduceat(bs, starts), np.maximum.reduceat(bs, starts)
            nb_ = np.where(bmin == bmax, bmin, -2)
            ng = np.where(gmin == gmax, gmin, -2)
            ne = es[starts]
        rl, rb, re_, rg = st["rl"][uf], st["rb"][uf], st["re"][uf], st["rg"][uf]
        fresh = rl != L
        blk = np.where(fresh, nb_, np.where((rb == -2) | (nb_ == -2) | (rb != nb_), -2, rb))
        same = ~fresh & (blk != -2)
        newer = same & (ne > re_)
        equal = same & (ne == re_)
        st["re"][uf] = np.where(fresh | newer, ne, re_)
        st["rg"][uf] = np.where(fresh | newer, ng, np.where(equal & (rg != ng), -2, rg))
        st["rb"][uf] = blk
        st["rl"][uf] = L

    def _race_write(self, buf, f, v, ctx):
        st = buf.race_state()
        L = self.launch_id
        g, b, e = self._lane_ids(ctx)
        T = ctx.kernel.T
        rl, rb, re_, rg = st["rl"][f], st["rb"][f], st["re"][f], st["rg"][f]
        war = (rl == L) & ((rb == -2) | (rb != b) | ((re_ == e) & (rg != g)))
        if war.any():
            k = int(np.flatnonzero(war)[0])
            who = ("threads of several blocks" if rb[k] == -2 else
                   "several threads of block %d" % rb[k] if rg[k] == -2 else
                   "thread %d of block %d" % (rg[k] - rb[k] * T, rb[k]))
            raise EmulatorError(
                "race: thread %d of block %d writes element %d of %s read by %s with no barrier in between"
                % (g[k] - b[k] * T, b[k], f[k], buf.name, who))
        wl, wg, wb, we = st["wl"][f], st["wg"][f], st["wb"][f], st["we"][f]
        waw = (wl == L) & (wg != g) & ~((wb == b) & (we < e))
        if waw.any():
            k = int(np.flatnonzero(waw)[0])
            raise EmulatorError(
                "race: thread %d of block %d writes element %d of %s written by thread %d of block %d "
                "with no barrier in between" % (g[k] - b[k] * T, b[k], f[k], buf.name,
                                                wg[k] - wb[k] * T, wb[k]))
        # Several threads storing to one element in the same op.
        if f.size > 1:
            order = np.argsort(f, kind="stable")
            fs, gs, vs = f[order], g[order], v[order]
            dup = (fs[1:] == fs[:-1]) & (gs[1:] != gs[:-1])
            if dup.any():
                same = vs[1:] == vs[:-1]
                if vs.dtype.kind == "f":
                    same = same | (np.isnan(vs[1:]) & np.isnan(vs[:-1]))
                differ = dup & ~same
                if differ.any():
                    k = int(np.flatnonzero(differ)[0])
                    raise EmulatorError(
                        "race: thread %d of block %d and thread %d of block %d store different values "
                        "to element %d of %s" % (gs[k] % T, gs[k] // T, gs[k + 1] % T, gs[k + 1] // T,
                                                 fs[k], buf.name))
        st["wl"][f], st["wg"][f], st["wb"][f], st["we"][f] = L, g, b, e


# ----------------------------------------------------------------------------
# Op handlers: h(module, op, ctx, ins) -> list of results
# ----------------------------------------------------------------------------

_HANDLERS = {}


def handler(*names):
    def deco(fn):
        for n in names:
            _HANDLERS[n] = fn
        return fn
    return deco


def _rtype(op, k=0):
    return op.out_types[k]


# --- constants and casts ----------------------------------------------------

@handler("arith.constant")
def _constant(m, op, ctx, ins):
    raw = op.props.get("value", op.attrs.get("value"))
    t = _rtype(op)
    if not isinstance(t, str):
        raise EmulatorError("constants of type %r are not supported" % (t,))
    text = raw.rsplit(":", 1)[0].strip() if ":" in raw else raw.strip()
    if t == "i1":
        return [np.array([text in ("true", "1", "-1")], dtype=bool)]
    if t in _FLOATS:
        if text.startswith("0x"):
            bits = int(text, 16)
            if t == "f32":
                v = np.array([bits], dtype=np.uint32).view(np.float32)
            elif t == "f64":
                v = np.array([bits], dtype=np.uint64).view(np.float64)
            elif t == "bf16":
                v = np.array([bits << 16], dtype=np.uint32).view(np.float32)
            else:
                v = np.array([bits], dtype=np.uint16).view(np.float16)
            return [v.copy()]
        return [to_float(np.array([float(text)], dtype=np.float64), t)]
    bits = int_bits(t)
    v = int(text, 0)
    v &= (1 << bits) - 1
    if v >= 1 << (bits - 1):
        v -= 1 << bits
    return [np.array([v], dtype=_NP_DTYPE[t])]


@handler("ub.poison")
def _poison(m, op, ctx, ins):
    t = _rtype(op)
    if isinstance(t, str) and t in _FLOATS:
        return [np.array([np.nan], dtype=_NP_DTYPE[t])]
    if isinstance(t, str) and t in _NP_DTYPE:
        return [np.zeros(1, dtype=_NP_DTYPE[t])]
    raise EmulatorError("poison of type %r" % (t,))


def _as_unsigned(a, bits):
    if bits == 1:
        return a.astype(np.uint8)
    return a.astype(_UNSIGNED[bits])


def _int_result(a, t):
    if t == "i1":
        return (a & 1).astype(bool) if a.dtype != bool else a
    return a.astype(_NP_DTYPE[t])


@handler("arith.index_cast", "arith.extsi", "arith.trunci")
def _sext_or_trunc(m, op, ctx, ins):
    a, src, dst = ins[0], op.in_types[0], _rtype(op)
    sb, db = int_bits(src), int_bits(dst)
    if db == 1:
        return [(a.astype(np.int64) & 1).astype(bool)]
    if sb == 1:  # sign extension of i1: true -> -1
        return [np.where(a, -1, 0).astype(_NP_DTYPE[dst])]
    return [a.astype(_NP_DTYPE[dst])]   # numpy wraps on narrowing


@handler("arith.index_castui", "arith.extui")
def _zext(m, op, ctx, ins):
    a, src, dst = ins[0], op.in_types[0], _rtype(op)
    sb, db = int_bits(src), int_bits(dst)
    if db < sb:
        if db == 1:
            return [(a.astype(np.int64) & 1).astype(bool)]
        return [a.astype(_NP_DTYPE[dst])]
    u = _as_unsigned(a, sb)
    if db == 64:
        return [u.astype(np.uint64).astype(np.int64)]
    return [u.astype(_UNSIGNED[db]).astype(_NP_DTYPE[dst])]


@handler("arith.sitofp", "arith.uitofp")
def _itofp(m, op, ctx, ins):
    a, src, dst = ins[0], op.in_types[0], _rtype(op)
    if op.name == "arith.uitofp":
        a = _as_unsigned(a, int_bits(src))
    elif a.dtype == bool:
        a = np.where(a, -1, 0)
    return [to_float(a.astype(np.float64), dst)]


@handler("arith.fptosi", "arith.fptoui")
def _fptoi(m, op, ctx, ins):
    a, dst = ins[0], _rtype(op)
    bits = int_bits(dst)
    t = np.trunc(_full(a, ctx.n).astype(np.float64))
    if op.name == "arith.fptosi":
        lo, hi = -(2.0 ** (bits - 1)), 2.0 ** (bits - 1)
    else:
        lo, hi = 0.0, 2.0 ** bits
    bad = ctx.mask & ~((t >= lo) & (t < hi))
    if bad.any():
        raise EmulatorError("%s of an out-of-range value (%r) is poison" % (op.name, t[bad][0]))
    t = np.where(ctx.mask, t, 0)
    if op.name == "arith.fptoui":
        return [t.astype(np.uint64).astype(_NP_DTYPE[dst])]
    return [t.astype(np.int64).astype(_NP_DTYPE[dst])]


@handler("arith.truncf", "arith.extf")
def _fconv(m, op, ctx, ins):
    return [to_float(ins[0], _rtype(op))]


@handler("arith.bitcast")
def _bitcast(m, op, ctx, ins):
    a, src, dst = ins[0], op.in_types[0], _rtype(op)
    a = np.ascontiguousarray(a)
    if src == dst:
        return [a]
    pair = (src, dst)
    if pair == ("bf16", "i16"):
        b = a.astype(np.float32).view(np.uint32)
        if (b & 0xFFFF).any():
            raise EmulatorError("a bf16 value is not bf16-representable (emulator bug)")
        return [(b >> 16).astype(np.uint16).view(np.int16)]
    if pair == ("i16", "bf16"):
        return [(a.view(np.uint16).astype(np.uint32) << 16).view(np.float32)]
    sizes = {"f16": 16, "i16": 16, "f32": 32, "i32": 32, "f64": 64, "i64": 64}
    if src in sizes and dst in sizes and sizes[src] == sizes[dst]:
        return [a.view(_NP_DTYPE[dst]).copy()]
    raise EmulatorError("bitcast %s -> %s is not supported" % pair)


# --- integer arithmetic -----------------------------------------------------

def _check_divisor(ctx, b, what):
    zero = (_full(b, ctx.n) == 0)
    if (zero & ctx.mask).any():
        raise EmulatorError("%s by zero" % what)
    return np.where(zero, 1, b).astype(b.dtype)


def _int_binop(fn):
    def h(m, op, ctx, ins):
        t = _rtype(op)
        return [_int_result(fn(ins[0], ins[1], int_bits(t), ctx), t)]
    return h


def _divui(a, b, bits, ctx):
    b = _check_divisor(ctx, b, "division")
    return _as_unsigned(a, bits) // _as_unsigned(b, bits)


def _remui(a, b, bits, ctx):
    b = _check_divisor(ctx, b, "remainder")
    return _as_unsigned(a, bits) % _as_unsigned(b, bits)


def _ceildivui(a, b, bits, ctx):
    b = _check_divisor(ctx, b, "division")
    ua, ub = _as_unsigned(a, bits), _as_unsigned(b, bits)
    return ua // ub + (ua % ub != 0)


def _divsi(a, b, bits, ctx):
    b = _check_divisor(ctx, b, "division")
    a64, b64 = a.astype(np.int64), b.astype(np.int64)
    q = a64 // b64
    q = q + (((a64 % b64) != 0) & ((a64 < 0) != (b64 < 0)))
    return q


def _remsi(a, b, bits, ctx):
    q = _divsi(a, b, bits, ctx)
    b = np.where(_full(b, ctx.n) == 0, 1, b)
    return a.astype(np.int64) - q * b.astype(np.int64)


def _floordivsi(a, b, bits, ctx):
    b = _check_divisor(ctx, b, "division")
    return a.astype(np.int64) // b.astype(np.int64)


def _ceildivsi(a, b, bits, ctx):
    b = _check_divisor(ctx, b, "division")
    return -((-a.astype(np.int64)) // b.astype(np.int64))


def _shift(kind):
    def fn(a, b, bits, ctx):
        sh = _full(b, ctx.n).astype(np.int64)
        if ((sh < 0) | (sh >= bits))[ctx.mask].any():
            raise EmulatorError("shift amount out of range (poison)")
        sh = np.where((sh < 0) | (sh >= bits), 0, sh)
        if kind == "shl":
            return (_as_unsigned(a, bits) << sh.astype(_as_unsigned(a, bits).dtype))
        if kind == "shru":
            u = _as_unsigned(a, bits)
            return u >> sh.astype(u.dtype)
        return a >> sh.astype(a.dtype)
    return fn


_HANDLERS.update({
    "arith.addi": _int_binop(lambda a, b, w, c: a + b),
    "arith.subi": _int_binop(lambda a, b, w, c: a - b),
    "arith.muli": _int_binop(lambda a, b, w, c: a * b),
    "arith.divui": _int_binop(_divui),
    "arith.remui": _int_binop(_remui),
    "arith.ceildivui": _int_binop(_ceildivui),
    "arith.divsi": _int_binop(_divsi),
    "arith.remsi": _int_binop(_remsi),
    "arith.floordivsi": _int_binop(_floordivsi),
    "arith.ceildivsi": _int_binop(_ceildivsi),
    "arith.minsi": _int_binop(lambda a, b, w, c: np.minimum(a, b)),
    "arith.maxsi": _int_binop(lambda a, b, w, c: np.maximum(a, b)),
    "arith.minui": _int_binop(lambda a, b, w, c: np.minimum(_as_unsigned(a, w), _as_unsigned(b, w))),
    "arith.maxui": _int_binop(lambda a, b, w, c: np.maximum(_as_unsigned(a, w), _as_unsigned(b, w))),
    "arith.andi": _int_binop(lambda a, b, w, c: a & b),
    "arith.ori": _int_binop(lambda a, b, w, c: a | b),
    "arith.xori": _int_binop(lambda a, b, w, c: a ^ b),
    "arith.shli": _int_binop(_shift("shl")),
    "arith.shrui": _int_binop(_shift("shru")),
    "arith.shrsi": _int_binop(_shift("shrs")),
})

_CMPI = {0: "eq", 1: "ne", 2: "slt", 3: "sle", 4: "sgt", 5: "sge",
         6: "ult", 7: "ule", 8: "ugt", 9: "uge"}


@handler("arith.cmpi")
def _cmpi(m, op, ctx, ins):
    p = _CMPI[attr_int(op.props["predicate"])]
    a, b = ins
    if p[0] == "u":
        w = int_bits(op.in_types[0])
        a, b = _as_unsigned(a, w), _as_unsigned(b, w)
    fn = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
          "gt": np.greater, "ge": np.greater_equal}[p[-2:] if p not in ("eq", "ne") else p]
    return [fn(a, b)]


_CMPF = {0: "false", 1: "oeq", 2: "ogt", 3: "oge", 4: "olt", 5: "ole", 6: "one",
         7: "ord", 8: "ueq", 9: "ugt", 10: "uge", 11: "ult", 12: "ule", 13: "une",
         14: "uno", 15: "true"}


@handler("arith.cmpf")
def _cmpf(m, op, ctx, ins):
    p = _CMPF[attr_int(op.props["predicate"])]
    a, b = ins
    unordered = np.isnan(a) | np.isnan(b)
    if p == "false":
        return [np.zeros(np.broadcast(a, b).shape, dtype=bool)]
    if p == "true":
        return [np.ones(np.broadcast(a, b).shape, dtype=bool)]
    if p == "ord":
        return [~unordered]
    if p == "uno":
        return [unordered]
    fn = {"eq": np.equal, "gt": np.greater, "ge": np.greater_equal, "lt": np.less,
          "le": np.less_equal, "ne": np.not_equal}[p[1:]]
    r = fn(a, b)
    return [(r & ~unordered) if p[0] == "o" else (r | unordered)]


@handler("arith.select")
def _select(m, op, ctx, ins):
    c, a, b = ins
    if isinstance(a, MemRef) or isinstance(b, MemRef):
        cv = _full(c, ctx.n)[ctx.mask]
        if cv.all():
            return [a]
        if not cv.any():
            return [b]
        raise EmulatorError("a divergent select of memrefs is not supported")
    if isinstance(a, list):
        raise EmulatorError("select of aggregates is not supported")
    return [np.where(c, a, b)]


# --- float arithmetic -------------------------------------------------------

def _float_op(fn, wide=False):
    def h(m, op, ctx, ins):
        t = _rtype(op)
        if t not in _FLOATS:
            raise EmulatorError("%s on %r" % (op.name, t))
        if wide or t == "bf16":
            args = [x.astype(np.float64) if wide else x for x in ins]
            return [to_float(np.asarray(fn(*args)), t)]
        return [np.asarray(fn(*ins)).astype(_NP_DTYPE[t], copy=False)]
    return h


def _rsqrt(x):
    return np.asarray(1, dtype=x.dtype) / np.sqrt(x)


_ERF = np.frompyfunc(math.erf, 1, 1)


def _erf(x):
    return _ERF(np.asarray(x, dtype=np.float64)).astype(np.float64)


_HANDLERS.update({
    "arith.addf": _float_op(np.add),
    "arith.subf": _float_op(np.subtract),
    "arith.mulf": _float_op(np.multiply),
    "arith.divf": _float_op(np.divide),
    "arith.remf": _float_op(np.fmod),
    "arith.negf": _float_op(np.negative),
    "arith.maximumf": _float_op(np.maximum),
    "arith.minimumf": _float_op(np.minimum),
    "arith.maxnumf": _float_op(np.fmax),
    "arith.minnumf": _float_op(np.fmin),
    "math.fma": _float_op(lambda a, b, c: a * b + c, wide=True),
    "math.absf": _float_op(np.abs),
    "math.exp": _float_op(np.exp),
    "math.exp2": _float_op(np.exp2),
    "math.expm1": _float_op(np.expm1),
    "math.log": _float_op(np.log),
    "math.log2": _float_op(np.log2),
    "math.log1p": _float_op(np.log1p),
    "math.sqrt": _float_op(np.sqrt),
    "math.rsqrt": _float_op(_rsqrt),
    "math.tanh": _float_op(np.tanh),
    "math.erf": _float_op(_erf, wide=True),
    "math.sin": _float_op(np.sin),
    "math.cos": _float_op(np.cos),
    "math.floor": _float_op(np.floor),
    "math.ceil": _float_op(np.ceil),
    "math.roundeven": _float_op(np.rint),  # numpy rounds halves to even
    "math.copysign": _float_op(np.copysign),
    "math.powf": _float_op(np.power),
})


# --- memref -----------------------------------------------------------------

@handler("memref.dim")
def _dim(m, op, ctx, ins):
    mr, d = ins
    return [np.array([mr.shape[_scalar(d, "memref.dim's index")]], dtype=np.int64)]


@handler("memref.load")
def _mload(m, op, ctx, ins):
    return [m._load(op, ins[0], ins[1:], ctx)]


@handler("memref.store")
def _mstore(m, op, ctx, ins):
    m._store(op, ins[0], ins[1], ins[2:], ctx)
    return []


def _alloc_shape(op, ins, ctx):
    t = _rtype(op)
    dyn = list(ins)
    shape = []
    for s in t.shape:
        shape.append(_scalar(dyn.pop(0), "an allocation size") if s is None else s)
    if t.strides is not None and t.strides != _contiguous_strides(shape):
        raise EmulatorError("allocation with a non-identity layout")
    return t, shape


@handler("memref.alloc", "memref.alloca")
def _alloc(m, op, ctx, ins):
    seg = attr_array(op.props["operandSegmentSizes"]) if "operandSegmentSizes" in op.props else [len(ins), 0]
    t, shape = _alloc_shape(op, ins[:seg[0]], ctx)
    size = int(np.prod(shape)) if shape else 1
    name = op.results[0]
    if ctx.kernel is None:
        return [MemRef(Buffer.fresh(size, t.elem, name), 0, shape, _contiguous_strides(shape))]
    if op.name == "memref.alloc":
        raise EmulatorError("memref.alloc inside a kernel is not supported")
    # alloca in a kernel: private to each thread
    buf = Buffer.fresh(size * ctx.n, t.elem, name)
    return [MemRef(buf, np.arange(ctx.n, dtype=np.int64) * size, shape, _contiguous_strides(shape))]


def _dense_values(raw, t):
    """The elements of a dense<...> attribute for memref type t, flat."""
    raw = raw.strip()
    body = raw[len("dense<"):raw.rindex(">")] if raw.startswith("dense<") else raw
    size = int(np.prod(t.shape)) if t.shape else 1
    dt = _NP_DTYPE[t.elem]
    if body.startswith('"0x'):
        data = bytes.fromhex(body[3:-1])
        if t.elem == "bf16":
            vals = (np.frombuffer(data, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            vals = np.frombuffer(data, dtype=dt)
        if vals.size == 1:
            return np.full(size, vals[0], dtype=dt)
        return vals.astype(dt).copy()
    toks = re.findall(r"true|false|[-+]?(?:inf|nan|0x[0-9a-fA-F]+|\d+\.?\d*(?:[eE][-+]?\d+)?)", body)
    if t.elem in _FLOATS:
        conv = [float(x) if not x.startswith("0x") else
                np.array([int(x, 16)], dtype=np.uint32).view(np.float32)[0] for x in toks]
        vals = to_float(np.array(conv, dtype=np.float64), t.elem)
    else:
        vals = np.array([1 if x == "true" else 0 if x == "false" else int(x, 0) for x in toks]).astype(dt)
    if vals.size == 1:
        return np.full(size, vals[0], dtype=vals.dtype)
    if vals.size != size:
        raise EmulatorError("dense attribute with %d values for %d elements" % (vals.size, size))
    return vals


@handler("memref.global")
def _global_decl(m, op, ctx, ins):
    return []


@handler("memref.get_global")
def _get_global(m, op, ctx, ins):
    name = (op.props.get("name") or op.attrs.get("name")).strip().lstrip("@")
    if name not in m.globals_:
        decl = m.global_decls.get(name)
        if decl is None:
            raise EmulatorError("no memref.global @%s" % name)
        props = dict(decl.attrs, **decl.props)
        t = parse_type(props["type"])
        size = int(np.prod(t.shape)) if t.shape else 1
        init = props.get("initial_value", "uninitialized")
        if init.strip() == "uninitialized" or not init.strip():
            buf = Buffer.fresh(size, t.elem, "@" + name)
        else:
            buf = Buffer(_dense_values(init.split(" : ")[0] if " : tensor" in init else init, t),
                         t.elem, "@" + name, False)
        buf.constant = "constant" in props
        m.globals_[name] = MemRef(buf, 0, t.shape, _contiguous_strides(t.shape))
    mr = m.globals_[name]
    return [mr]


@handler("memref.dealloc")
def _dealloc(m, op, ctx, ins):
    if ctx.kernel is not None:
        raise EmulatorError("memref.dealloc inside a kernel")
    ins[0].buf.freed = True
    return []


@handler("memref.cast", "memref.memory_space_cast")
def _mcast(m, op, ctx, ins):
    mr, t = ins[0], _rtype(op)
    if len(t.shape) != len(mr.shape) or any(s is not None and s != d for s, d in zip(t.shape, mr.shape)):
        raise EmulatorError("cast to %r of a memref of shape %s fails at run time" % (t, list(mr.shape)))
    return [mr]


def _static_or_dynamic(static, dyn, what):
    out = []
    dyn = list(dyn)
    for s in static:
        out.append(_scalar(dyn.pop(0), what) if s == _DYNAMIC else s)
    return out


@handler("memref.subview")
def _subview(m, op, ctx, ins):
    seg = attr_array(op.props["operandSegmentSizes"])
    src = ins[0]
    rest = ins[1:]
    dyn_off, rest = rest[:seg[1]], rest[seg[1]:]
    dyn_size, dyn_stride = rest[:seg[2]], rest[seg[2]:]
    offs_static = attr_array(op.props["static_offsets"])
    sizes = _static_or_dynamic(attr_array(op.props["static_sizes"]), dyn_size, "subview size")
    strides = _static_or_dynamic(attr_array(op.props["static_strides"]), dyn_stride, "subview stride")
    # offsets may differ per thread
    dyn_off = list(dyn_off)
    offset = src.offset
    for d, s in enumerate(offs_static):
        o = dyn_off.pop(0) if s == _DYNAMIC else s
        if isinstance(o, np.ndarray):
            o = o.astype(np.int64)
            if o.size == 1:
                o = int(o[0])
        if isinstance(o, int):
            if o < 0 or (sizes[d] > 0 and o + (sizes[d] - 1) * strides[d] >= src.shape[d]) or o > src.shape[d]:
                raise EmulatorError("subview dim %d [%d, +%d step %d) outside size %d" % (d, o, sizes[d], strides[d], src.shape[d]))
        offset = offset + o * src.strides[d]
    new_strides = [st * s for st, s in zip(src.strides, strides)]
    t = _rtype(op)
    if len(t.shape) < len(sizes):
        # rank-reducing: drop unit dims not matched by the result shape
        keep, j = [], 0
        for d, s in enumerate(sizes):
            if j < len(t.shape) and (t.shape[j] is None or t.shape[j] == s) and \
                    not (s == 1 and len(sizes) - d > len(t.shape) - j):
                keep.append(d)
                j += 1
        if len(keep) != len(t.shape):
            raise EmulatorError("cannot match rank-reducing subview to %r" % (t,))
        sizes = [sizes[d] for d in keep]
        new_strides = [new_strides[d] for d in keep]
    if isinstance(offset, np.ndarray) and ctx.kernel is None:
        offset = int(offset[0])
    return [MemRef(src.buf, offset, sizes, new_strides)]


@handler("memref.reinterpret_cast")
def _reinterpret(m, op, ctx, ins):
    seg = attr_array(op.props["operandSegmentSizes"])
    src, rest = ins[0], ins[1:]
    dyn_off, rest = rest[:seg[1]], rest[seg[1]:]
    dyn_size, dyn_stride = rest[:seg[2]], rest[seg[2]:]
    off = _static_or_dynamic(attr_array(op.props["static_offsets"]), dyn_off, "offset")[0]
    sizes = _static_or_dynamic(attr_array(op.props["static_sizes"]), dyn_size, "size")
    strides = _static_or_dynamic(attr_array(op.props["static_strides"]), dyn_stride, "stride")
    base = src.offset
    if isinstance(base, np.ndarray):
        raise EmulatorError("reinterpret_cast of a per-thread view")
    return [MemRef(src.buf, off, sizes, strides)]


def _reassociation(op):
    raw = op.props.get("reassociation") or op.attrs.get("reassociation")
    groups = re.findall(r"\[([^\[\]]*)\]", raw)
    return [[int(x) for x in g.split(",") if x.strip()] for g in groups]


@handler("memref.collapse_shape")
def _collapse(m, op, ctx, ins):
    src = ins[0]
    shape, strides = [], []
    for grp in _reassociation(op):
        size = 1
        for a, b in zip(grp, grp[1:]):
            if src.shape[b] != 1 and src.shape[a] != 1 and src.strides[a] != src.strides[b] * src.shape[b]:
                raise EmulatorError("collapse_shape of non-contiguous dims")
        for d in grp:
            size *= src.shape[d]
        shape.append(size)
        strides.append(src.strides[grp[-1]] if grp else 1)
    return [MemRef(src.buf, src.offset, shape, strides)]


@handler("memref.expand_shape")
def _expand(m, op, ctx, ins):
    src = ins[0]
    static = attr_array(op.props["static_output_shape"])
    out_shape = _static_or_dynamic(static, ins[1:], "expand_shape size")
    strides = [0] * len(out_shape)
    for d, grp in enumerate(_reassociation(op)):
        acc = src.strides[d]
        prod = 1
        for o in reversed(grp):
            strides[o] = acc
            acc *= out_shape[o]
            prod *= out_shape[o]
        if prod != src.shape[d]:
            raise EmulatorError("expand_shape: %s does not multiply to %d" % ([out_shape[o] for o in grp], src.shape[d]))
    return [MemRef(src.buf, src.offset, out_shape, strides)]


@handler("memref.copy")
def _mcopy(m, op, ctx, ins):
    if ctx.kernel is not None:
        raise EmulatorError("memref.copy inside a kernel")
    src, dst = ins
    if src.shape != dst.shape:
        raise EmulatorError("memref.copy shapes differ")
    s = src.numpy()
    if src.buf.init is not None and s.size:
        idx = np.lib.stride_tricks.as_strided(np.arange(src.buf.data.size)[int(src.offset):], shape=src.shape,
                                              strides=[x * 8 for x in src.strides])
        if not src.buf.init[idx].all():
            raise EmulatorError("memref.copy reads elements never written")
    d = dst.numpy()
    d[...] = s
    if dst.buf.init is not None:
        idx = np.lib.stride_tricks.as_strided(np.arange(dst.buf.data.size)[int(dst.offset):], shape=dst.shape,
                                              strides=[x * 8 for x in dst.strides])
        dst.buf.init[idx] = True
    return []


_ELEM_BYTES = {"f16": 2, "bf16": 2, "f32": 4, "f64": 8, "i1": 1, "i8": 1,
               "i16": 2, "i32": 4, "i64": 8, "index": 8}


def _arena_acquire(m, ins):
    """strata-plan-memory's `memref<?xi8> @strata_arena_acquire(index
    bytes)`: a fresh byte buffer (its bytes owned by no view yet)."""
    nbytes = _scalar(ins[0], "the arena size")
    if nbytes < 0:
        raise EmulatorError("strata_arena_acquire(%d)" % nbytes)
    buf = Buffer.fresh(nbytes, "i8", "arena")
    buf.owner = np.full(nbytes, -1, dtype=np.int64)
    buf.frame = {"func": m.call_stack[-1] if m.call_stack else None,
                 "bytes": nbytes, "views": 0}
    m.stats["arena_bytes"].append(nbytes)
    m.stats["frames"].append(buf.frame)
    return [MemRef(buf, 0, [nbytes], [1])]


def _arena_release(m, ins):
    """`@strata_arena_release(memref<?xi8>)`, before each planned function
    returns: its frame's bytes belong to no view any more, so a stale view
    read after the release is caught as a read of unowned bytes."""
    buf = ins[0].buf
    if buf.owner is None:
        raise EmulatorError("strata_arena_release of a buffer no acquire returned")
    buf.owner[:] = -1
    return []


# Functions that a module declares but does not define (func.call to a
# declaration): name -> fn(module, operands) -> results.
EXTERNALS = {"strata_arena_acquire": _arena_acquire,
             "strata_arena_release": _arena_release}


@handler("memref.view")
def _view(m, op, ctx, ins):
    if ctx.kernel is not None:
        raise EmulatorError("memref.view inside a kernel is not supported")
    src, shift = ins[0], _scalar(ins[1], "memref.view's byte shift")
    t = _rtype(op)
    if src.elem != "i8" or len(src.shape) != 1 or src.strides != (1,) or \
            not isinstance(src.offset, (int, np.integer)):
        raise EmulatorError("memref.view of a source that is not a contiguous 1-D i8 buffer")
    if t.strides is not None:
        raise EmulatorError("memref.view to a non-identity layout")
    shape = _static_or_dynamic([_DYNAMIC if s is None else s for s in t.shape], ins[2:], "view size")
    size = int(np.prod(shape)) if shape else 1
    esize = _ELEM_BYTES[t.elem]
    start = int(src.offset) + shift
    if shift < 0 or shift + size * esize > src.shape[0]:
        raise EmulatorError("view of bytes [%d, %d) of a %d-byte buffer" % (shift, shift + size * esize, src.shape[0]))
    if start % esize:
        raise EmulatorError("view at byte %d is not aligned to its %d-byte elements" % (start, esize))
    arena = src.buf
    if arena.owner is None:
        arena.owner = np.full(arena.data.size, -1, dtype=np.int64)
    # The view's elements live in a buffer of their own, which starts
    # unwritten (NaN), so that reading what an earlier user of these bytes
    # left is an error; the bytes are claimed, so that using an earlier view
    # of them from now on is one too.
    vid = len(m.views)
    name = "%s (arena bytes [%d, %d))" % (op.results[0], start, start + size * esize)
    m.views.append(name)
    buf = Buffer.fresh(size, t.elem, name)
    buf.arena = (arena, vid, start, esize)
    arena.owner[start:start + size * esize] = vid
    m.stats["arena_views"] += 1
    if getattr(arena, "frame", None) is not None:
        arena.frame["views"] += 1
    return [MemRef(buf, 0, shape, _contiguous_strides(shape))]


# --- affine.apply -------------------------------------------------------------

_AFFINE_TOKEN = re.compile(r"\s*(?:(\d+)|([ds]\d+)|(floordiv|ceildiv|mod)|([-+*()]))")
_affine_cache = {}


def _affine_map(raw):
    """affine_map<(d0, ...)[s0, ...] -> (expr)> -> fn(dims, syms)."""
    if raw in _affine_cache:
        return _affine_cache[raw]
    mm = re.match(r"affine_map<\(([^)]*)\)\s*(?:\[([^\]]*)\])?\s*->\s*\((.*)\)>$", raw.strip())
    if not mm:
        raise EmulatorError("cannot parse " + raw)
    dims = [d.strip() for d in mm.group(1).split(",") if d.strip()]
    syms = [d.strip() for d in (mm.group(2) or "").split(",") if d.strip()]
    results = _split_top(mm.group(3))
    if len(results) != 1:
        raise EmulatorError("affine.apply needs a map with one result: " + raw)
    toks, text, i = [], results[0], 0
    while i < len(text):
        t = _AFFINE_TOKEN.match(text, i)
        if not t or t.end() == i:
            if text[i:].strip() == "":
                break
            raise EmulatorError("cannot parse affine expression " + text)
        toks.append(next(g for g in t.groups() if g is not None))
        i = t.end()
    names = {n: ("d", k) for k, n in enumerate(dims)}
    names.update({n: ("s", k) for k, n in enumerate(syms)})
    pos = [0]

    def peek():
        return toks[pos[0]] if pos[0] < len(toks) else None

    def take():
        pos[0] += 1
        return toks[pos[0] - 1]

    def atom():
        t = take()
        if t == "(":
            e = expr()
            if take() != ")":
                raise EmulatorError("unbalanced parentheses in " + text)
            return e
        if t == "-":
            a = atom()
            return lambda d, s: -a(d, s)
        if t.isdigit():
            v = int(t)
            return lambda d, s: v
        if t in names:
            kind, k = names[t]
            return (lambda d, s: d[k]) if kind == "d" else (lambda d, s: s[k])
        raise EmulatorError("unexpected '%s' in affine expression %s" % (t, text))

    def term():
        a = atom()
        while peek() in ("*", "floordiv", "ceildiv", "mod"):
            o, b = take(), atom()
            a = {"*": lambda x, y: lambda d, s: x(d, s) * y(d, s),
                 "floordiv": lambda x, y: lambda d, s: x(d, s) // y(d, s),
                 "ceildiv": lambda x, y: lambda d, s: -((-x(d, s)) // y(d, s)),
                 "mod": lambda x, y: lambda d, s: x(d, s) % y(d, s)}[o](a, b)
        return a

    def expr():
        a = term()
        while peek() in ("+", "-"):
            o, b = take(), term()
            a = (lambda x, y: lambda d, s: x(d, s) + y(d, s))(a, b) if o == "+" else \
                (lambda x, y: lambda d, s: x(d, s) - y(d, s))(a, b)
        return a

    fn = expr()
    if pos[0] != len(toks):
        raise EmulatorError("cannot parse affine expression " + text)
    _affine_cache[raw] = (fn, len(dims), len(syms))
    return _affine_cache[raw]


@handler("affine.apply")
def _affine_apply(m, op, ctx, ins):
    fn, nd, ns = _affine_map(op.props.get("map") or op.attrs.get("map"))
    if len(ins) != nd + ns:
        raise EmulatorError("%d operands for a map with %d dims and %d symbols" % (len(ins), nd, ns))
    args = [np.asarray(x).astype(np.int64) for x in ins]
    out = fn(args[:nd], args[nd:])
    return [np.asarray(out, dtype=np.int64) + np.zeros(1, dtype=np.int64)]


# --- scf ----------------------------------------------------------------------

@handler("scf.if")
def _if(m, op, ctx, ins):
    cond = _full(ins[0], ctx.n)
    act = ctx.mask
    tm, em = act & cond, act & ~cond
    outs = []
    tres = eres = None
    if tm.any():
        _, tres = m._run_region(op.regions[0], _Ctx(ctx.n, tm, ctx.kernel), [])
    if em.any() and len(op.regions) > 1 and op.regions[1].blocks:
        _, eres = m._run_region(op.regions[1], _Ctx(ctx.n, em, ctx.kernel), [])
    if not op.results:
        return []
    if tres is None and eres is None:
        raise EmulatorError("scf.if with no active thread")
    if tres is None:
        return eres
    if eres is None:
        return tres
    for a, b in zip(tres, eres):
        if isinstance(a, MemRef) or isinstance(b, MemRef):
            if a is not b:
                raise EmulatorError("a divergent scf.if yields different memrefs")
            outs.append(a)
        elif isinstance(a, list):
            outs.append([np.where(cond, x, y) for x, y in zip(a, b)])
        else:
            outs.append(np.where(cond, a, b))
    return outs


def _merge(active, new, old):
    out = []
    for a, b in zip(new, old):
        if isinstance(a, MemRef) or isinstance(b, MemRef):
            if a is not b:
                raise EmulatorError("loop-carried memrefs that change are not supported")
            out.append(a)
        else:
            out.append(np.where(active, a, b))
    return out


@handler("scf.for")
def _for(m, op, ctx, ins):
    n = ctx.n
    lb, ub, step = ins[0], ins[1], ins[2]
    vals = list(ins[3:])
    unsigned = "unsignedCmp" in op.props or "unsignedCmp" in op.attrs
    ity = op.in_types[0]
    w = int_bits(ity)
    st = _full(step, n)
    if (st[ctx.mask] <= 0).any() if not unsigned else (st[ctx.mask] == 0).any():
        raise EmulatorError("scf.for with a step that is not positive")
    uniform = all(np.asarray(x).size == 1 for x in (lb, ub, step))
    body = op.regions[0].blocks[0]
    if uniform:
        # Every active thread runs the same iterations.
        lo, hi, s = (int(np.asarray(x).flat[0]) for x in (lb, ub, step))
        if unsigned:
            lo, hi, s = (v & ((1 << w) - 1) for v in (lo, hi, s))
        iv = lo
        while iv < hi:
            kind, new = m._run_block(body, ctx, [np.array([iv], dtype=_NP_DTYPE[ity])] + vals)
            vals = new
            iv += s
        return vals
    iv = np.array(_full(lb, n), dtype=_NP_DTYPE[ity])
    ubf = _full(ub, n)

    def less(a, b):
        return _as_unsigned(a, w) < _as_unsigned(b, w) if unsigned else a < b
    active = ctx.mask & less(iv, ubf)
    vals = [v if isinstance(v, MemRef) else np.array(_full(v, n)) for v in vals]
    guard = 0
    while active.any():
        kind, new = m._run_block(body, _Ctx(n, active, ctx.kernel), [iv] + vals)
        vals = _merge(active, new, vals)
        iv = np.where(active, iv + st, iv).astype(iv.dtype)
        active = active & less(iv, ubf)
        guard += 1
        if guard > 50_000_000:
            raise EmulatorError("scf.for runs too long")
    return vals


@handler("scf.parallel")
def _parallel(m, op, ctx, ins):
    """A parallel loop inside a kernel (a thread's own nest, which the NVVM
    lowering turns into sequential loops): run serially, every active
    thread the same iterations. Reductions (init values) are not taken."""
    rank = (len(ins)) // 3
    if len(ins) != 3 * rank:
        raise EmulatorError("scf.parallel with reductions is not emulated")
    bounds = [ins[:rank], ins[rank:2 * rank], ins[2 * rank:]]
    if not all(np.asarray(x).size == 1 for group in bounds for x in group):
        raise EmulatorError("scf.parallel with per-thread bounds is not emulated")
    lo, hi, st = ([int(np.asarray(x).flat[0]) for x in group] for group in bounds)
    body = op.regions[0].blocks[0]
    ity = "index"

    def nest(d, ivs):
        if d == rank:
            m._run_block(body, ctx, [np.array([iv], dtype=_NP_DTYPE[ity]) for iv in ivs])
            return
        for iv in range(lo[d], hi[d], st[d]):
            nest(d + 1, ivs + [iv])
    nest(0, [])
    return []


@handler("scf.while")
def _while(m, op, ctx, ins):
    n = ctx.n
    before, after = op.regions[0].blocks[0], op.regions[1].blocks[0]
    args = [v if isinstance(v, MemRef) else np.array(_full(v, n)) for v in ins]
    active = ctx.mask.copy()
    results = None
    while True:
        kind, cv = m._run_block(before, _Ctx(n, active, ctx.kernel), args)
        if kind != "scf.condition":
            raise EmulatorError("scf.while's before region must end in scf.condition")
        cond, vals = _full(cv[0], n), cv[1:]
        exiting = active & ~cond
        if results is None:
            results = [v if isinstance(v, MemRef) else np.array(_full(v, n)) for v in vals]
        else:
            results = _merge(exiting, vals, results)
        active = active & cond
        if not active.any():
            return results
        kind, new = m._run_block(after, _Ctx(n, active, ctx.kernel), vals)
        args = _merge(active, new, args)


@handler("scf.execute_region")
def _exec_region(m, op, ctx, ins):
    _, res = m._run_region(op.regions[0], ctx, [])
    return res


# --- func ---------------------------------------------------------------------

@handler("func.call")
def _call(m, op, ctx, ins):
    if ctx.kernel is not None:
        raise EmulatorError("func.call inside a kernel")
    callee = (op.props.get("callee") or op.attrs.get("callee")).lstrip("@")
    f = m.funcs.get(callee)
    if (f is None or not f.regions or not f.regions[0].blocks) and callee in m.externals:
        return m.externals[callee](m, ins)
    if f is None or not f.regions or not f.regions[0].blocks:
        raise EmulatorError("no body for @%s" % callee)
    block = f.regions[0].blocks[0]
    saved, m.env = m.env, {}       # the callee's SSA names are its own
    m.call_stack.append(callee)
    try:
        _, res = m._run_block(block, ctx, ins)
    finally:
        m.env = saved
        m.call_stack.pop()
    return res


# --- llvm aggregates ----------------------------------------------------------

@handler("llvm.extractvalue")
def _extractvalue(m, op, ctx, ins):
    v = ins[0]
    for p in attr_array(op.props["position"]):
        v = v[p]
    if v is None:
        raise EmulatorError("extractvalue of an undefined field")
    return [v]


@handler("llvm.insertvalue")
def _insertvalue(m, op, ctx, ins):
    agg, v = ins
    pos = attr_array(op.props["position"])
    if len(pos) != 1:
        raise EmulatorError("nested insertvalue is not supported")
    out = list(agg)
    out[pos[0]] = v
    return [out]


# --- 1-D vectors (what mma.sync's f16 operands need) --------------------------

@handler("vector.from_elements")
def _from_elements(m, op, ctx, ins):
    return [Vec(ins)]


@handler("vector.extract", "llvm.extractelement")
def _vextract(m, op, ctx, ins):
    v = ins[0]
    if op.name == "vector.extract":
        pos = attr_array(op.props["static_position"])
        if len(pos) != 1 or len(ins) != 1:
            raise EmulatorError("only static positions in 1-D vectors are supported")
        return [v.elems[pos[0]]]
    return [v.elems[_scalar(ins[1], "extractelement's position")]]


@handler("llvm.insertelement")
def _vinsert(m, op, ctx, ins):
    v, x, pos = ins
    out = list(v.elems)
    out[_scalar(pos, "insertelement's position")] = x
    return [Vec(out)]


@handler("llvm.bitcast")
def _llvm_bitcast(m, op, ctx, ins):
    a, src, dst = ins[0], op.in_types[0], _rtype(op)
    if src == "i32" and isinstance(dst, VectorType) and dst.size == 2 and dst.elem in ("f16", "bf16", "i16"):
        u = np.ascontiguousarray(a).astype(np.int64) & 0xFFFFFFFF
        halves = [(u & 0xFFFF).astype(np.uint16), (u >> 16).astype(np.uint16)]
        if dst.elem == "f16":
            return [Vec([h.view(np.float16).copy() for h in halves])]
        if dst.elem == "bf16":
            return [Vec([(h.astype(np.uint32) << 16).view(np.float32) for h in halves])]
        return [Vec([h.view(np.int16).copy() for h in halves])]
    if isinstance(src, VectorType) and src.size == 2 and dst == "i32":
        bits = [_half_bits(e, src.elem) for e in a.elems]
        return [(bits[0] | (bits[1] << 16)).astype(np.uint32).view(np.int32)]
    if src in ("f32", "i32") and dst in ("f32", "i32") or src in ("f16", "i16") and dst in ("f16", "i16"):
        return [np.ascontiguousarray(a).view(_NP_DTYPE[dst]).copy()]
    raise EmulatorError("llvm.bitcast %r -> %r is not supported" % (src, dst))


def _half_bits(x, elem):
    x = np.ascontiguousarray(x)
    if elem == "f16":
        return x.astype(np.float16).view(np.uint16).astype(np.uint32)
    if elem == "bf16":
        return (x.astype(np.float32).view(np.uint32) >> 16).astype(np.uint32)
    return x.astype(np.int16).view(np.uint16).astype(np.uint32)


@handler("llvm.mlir.undef", "llvm.mlir.poison")
def _undef(m, op, ctx, ins):
    t = _rtype(op)
    if isinstance(t, StructType):
        return [[None] * len(t.fields)]
    if isinstance(t, VectorType):
        return [Vec([np.zeros(1, dtype=_NP_DTYPE[t.elem])] * t.size)]
    return _poison(m, op, ctx, ins)


# --- gpu ----------------------------------------------------------------------

@handler("gpu.launch")
def _launch(m, op, ctx, ins):
    if ctx.kernel is not None:
        raise EmulatorError("nested gpu.launch")
    seg = attr_array(op.props["operandSegmentSizes"])
    pos = 0
    parts = []
    for s in seg:
        parts.append(ins[pos:pos + s])
        pos += s
    if any(parts[7:10]):
        raise EmulatorError("cluster launches are not supported")
    if len(parts) > 10 and parts[10]:
        raise EmulatorError("dynamic shared memory is not supported")
    grid = [_scalar(parts[i][0], "grid size") for i in (1, 2, 3)]
    block = [_scalar(parts[i][0], "block size") for i in (4, 5, 6)]
    for g, lim, axis in zip(grid, (2 ** 31 - 1, 65535, 65535), "xyz"):
        if not 1 <= g <= lim:
            raise EmulatorError("grid size %s = %d outside [1, %d]" % (axis, g, lim))
    for b, lim, axis in zip(block, (1024, 1024, 64), "xyz"):
        if not 1 <= b <= lim:
            raise EmulatorError("block size %s = %d outside [1, %d]" % (axis, b, lim))
    T = block[0] * block[1] * block[2]
    if T > 1024:
        raise EmulatorError("%d threads per block (at most 1024)" % T)
    nwg = attr_int(op.attrs.get("workgroup_attributions", op.props.get("workgroup_attributions", "0")))
    body = op.regions[0].blocks[0]
    attrs = body.args[12:]
    wg_types = [t for _, t in attrs[:nwg]]
    priv_types = [t for _, t in attrs[nwg:]]
    wg_bytes = 0
    for t in wg_types + priv_types:
        if not isinstance(t, MemRefType) or any(s is None for s in t.shape):
            raise EmulatorError("memory attributions must have static shapes")
    for t in wg_types:
        wg_bytes += int(np.prod(t.shape)) * {"f64": 8, "i64": 8, "index": 8, "f32": 4, "i32": 4,
                                             "i8": 1, "i1": 1}.get(t.elem, 2)
    if wg_bytes > 48 * 1024:
        raise EmulatorError("%d bytes of static workgroup memory (at most 48 KiB)" % wg_bytes)
    m.launch_id += 1
    G = grid[0] * grid[1] * grid[2]
    record = {"line": op.line, "loc": op.loc, "grid": tuple(grid), "block": tuple(block),
              "workgroup_bytes": wg_bytes}
    m.stats["launches"].append(record)
    before = {k: m.stats[k] for k in ("warp_mma", "warp_mma_s8", "warp_shuffle", "barriers")}
    per = max(1, m.CHUNK_LANES // T)
    for first in range(0, G, per):
        nb = min(per, G - first)
        k = _Kernel(m.launch_id, grid, block, first, nb)
        n = nb * T
        gb = k.gblk
        bx, by, bz = gb % grid[0], (gb // grid[0]) % grid[1], gb // (grid[0] * grid[1])
        tx, ty, tz = k.tid % block[0], (k.tid // block[0]) % block[1], k.tid // (block[0] * block[1])
        const = lambda v: np.array([v], dtype=np.int64)
        args = [bx, by, bz, tx, ty, tz] + [const(g) for g in grid] + [const(b) for b in block]
        for (name, t) in attrs[:nwg]:
            size = int(np.prod(t.shape))
            buf = Buffer.fresh(size * nb, t.elem, "workgroup " + name)
            args.append(MemRef(buf, k.blk * size, t.shape, _contiguous_strides(t.shape)))
        for (name, t) in attrs[nwg:]:
            size = int(np.prod(t.shape))
            buf = Buffer.fresh(size * n, t.elem, "private " + name)
            args.append(MemRef(buf, np.arange(n, dtype=np.int64) * size, t.shape, _contiguous_strides(t.shape)))
        kctx = _Ctx(n, np.ones(n, dtype=bool), k)
        kind, _ = m._run_block(body, kctx, args)
        if kind != "gpu.terminator":
            raise EmulatorError("kernel body ended without gpu.terminator")
    for k, v in before.items():
        record[k] = m.stats[k] - v
    return [None] * len(op.results)   # async token, if any


@handler("gpu.barrier")
def _barrier(m, op, ctx, ins):
    k = ctx.kernel
    if k is None:
        raise EmulatorError("gpu.barrier outside a kernel")
    counts = np.bincount(k.blk[ctx.mask], minlength=k.nb)
    partial = (counts != 0) & (counts != k.T)
    if partial.any():
        b = int(np.flatnonzero(partial)[0])
        raise EmulatorError("reached by %d of the %d threads of block %d (divergent barrier)"
                            % (counts[b], k.T, b + int(k.gblk[0])))
    k.epoch[counts == k.T] += 1
    m.stats["barriers"] += int((counts == k.T).sum())
    return []


def _check_warps(ctx, op_what, need_lanes=None):
    """The warps with an active lane, after checking that all their lanes
    (or those < need_lanes) are active. Returns their lanes as (W, 32)."""
    k = ctx.kernel
    if k is None:
        raise EmulatorError("%s outside a kernel" % op_what)
    act = ctx.mask
    warps = np.unique(k.warp[act])
    wib = warps % k.wpb
    if (k.warp_size[wib] != 32).any():
        raise EmulatorError("%s in a partial warp (block of %d threads)" % (op_what, k.T))
    base = (warps // k.wpb) * k.T + wib * 32
    lanes = base[:, None] + np.arange(32)[None, :]
    need = act[lanes]
    if need_lanes is not None:
        need = need | (np.arange(32)[None, :] >= need_lanes[:, None])
    if not need.all():
        w = int(np.flatnonzero(~need.all(axis=1))[0])
        raise EmulatorError("%s with only %d of 32 lanes of warp %d of block %d active"
                            % (op_what, act[lanes[w]].sum(), wib[w], k.gblk[lanes[w][0]]))
    return lanes


@handler("gpu.shuffle")
def _shuffle(m, op, ctx, ins):
    k = ctx.kernel
    mode = attr_enum(op.props.get("mode", op.attrs.get("mode", "")))
    n = ctx.n
    val, off, width = _full(ins[0], n), _full(ins[1], n).astype(np.int64), _full(ins[2], n).astype(np.int64)
    act = ctx.mask
    if k is None:
        raise EmulatorError("gpu.shuffle outside a kernel")
    warps_w = width[act]
    # width uniform per warp
    wl = k.warp[act]
    order = np.argsort(wl, kind="stable")
    ws, ww = wl[order], warps_w[order]
    if ((ws[1:] == ws[:-1]) & (ww[1:] != ww[:-1])).any():
        raise EmulatorError("width differs between lanes of a warp")
    uw, first = np.unique(ws, return_index=True)
    wid = ww[first]
    if ((wid < 1) | (wid > 32)).any():
        raise EmulatorError("width %d outside [1, 32]" % wid[0])
    _check_warps(ctx, "gpu.shuffle", need_lanes=wid)
    lane = k.lane
    if mode == "xor":
        src = lane ^ off
    elif mode == "down":
        src = lane + off
    elif mode == "up":
        src = lane - off
    elif mode == "idx":
        src = off
    else:
        raise EmulatorError("shuffle mode " + mode)
    valid = (lane < width) & (src >= 0) & (src < width)
    gsrc = np.where(valid, np.arange(n) - lane + src, np.arange(n))
    got = val[gsrc]
    if val.dtype.kind == "f":
        got = np.where(valid, got, np.nan).astype(val.dtype)
    m.stats["warp_shuffle"] += len(uw)
    return [got, valid]


@handler("gpu.thread_id", "gpu.block_id", "gpu.block_dim", "gpu.grid_dim", "gpu.lane_id")
def _ids(m, op, ctx, ins):
    k = ctx.kernel
    if k is None:
        raise EmulatorError("%s outside a kernel" % op.name)
    if op.name == "gpu.lane_id":
        return [k.lane.copy()]
    d = "xyz".index(attr_enum(op.props["dimension"]))
    if op.name == "gpu.thread_id":
        t = k.tid
        return [[t % k.block[0], (t // k.block[0]) % k.block[1], t // (k.block[0] * k.block[1])][d]]
    if op.name == "gpu.block_id":
        gb = k.gblk
        g = k.grid
        return [[gb % g[0], (gb // g[0]) % g[1], gb // (g[0] * g[1])][d]]
    return [np.array([(k.block if op.name == "gpu.block_dim" else k.grid)[d]], dtype=np.int64)]


# --- nvvm ---------------------------------------------------------------------

def _halves(reg, lanes, ptx_type, n):
    """The two 16-bit elements (low, high) of an A/B register at `lanes`."""
    if isinstance(reg, Vec):
        return tuple(_full(e, n)[lanes].astype(np.float64) for e in reg.elems)
    return _unpack_halves(reg[lanes], ptx_type)


@handler("nvvm.mma.sync")
def _mma(m, op, ctx, ins):
    p = op.props
    shape = re.sub(r"\s", "", p.get("shape", ""))
    la, lb = attr_enum(p.get("layoutA", "")), attr_enum(p.get("layoutB", ""))
    if (la, lb) != ("row", "col"):
        raise EmulatorError("mma.sync needs layoutA = row, layoutB = col (PTX), got %s, %s" % (la, lb))
    ta = attr_enum(p["multiplicandAPtxType"]) if "multiplicandAPtxType" in p else None
    tb = attr_enum(p["multiplicandBPtxType"]) if "multiplicandBPtxType" in p else None
    if shape == "#nvvm.shape<m=16,n=8,k=32>" and ta == tb == "s8":
        return _mma_s8(m, op, ctx, ins)
    if shape != "#nvvm.shape<m=16,n=8,k=16>":
        raise EmulatorError("only m16n8k16 (bf16, f16) and m16n8k32 (s8) are supported, not %s %s" % (shape, ta))
    if ta is None or ta != tb or ta not in ("bf16", "f16"):
        raise EmulatorError("multiplicand types %s, %s are not supported" % (ta, tb))
    seg = attr_array(p["operandSegmentSizes"])
    if seg != [4, 2, 4]:
        raise EmulatorError("expected 4 A, 2 B and 4 C operands, got %s" % seg)
    # A and B: i32 registers (bf16) or vector<2 x f16> (f16); C: f32.
    pair = VectorType(2, ta)
    if any(t != "i32" and t != pair for t in op.in_types[:6]) or any(t != "f32" for t in op.in_types[6:]):
        raise EmulatorError("operand types %s are not supported (A/B as i32 or vector<2x%s>, C as f32)"
                            % (op.in_types, ta))
    lanes, W, n, wi = _mma_warps(op, ctx, "f32")
    regs = [x if isinstance(x, Vec) else _full(x, n) for x in ins]
    A = np.zeros((W, 16, 16))
    B = np.zeros((W, 16, 8))
    C = np.zeros((W, 16, 8))
    rows, cols = _MMA["a"]
    for r in range(4):
        lo, hi = _halves(regs[r], lanes, ta, n)
        A[wi, rows[2 * r][None, :], cols[2 * r][None, :]] = lo
        A[wi, rows[2 * r + 1][None, :], cols[2 * r + 1][None, :]] = hi
    rows, cols = _MMA["b"]
    for r in range(2):
        lo, hi = _halves(regs[4 + r], lanes, tb, n)
        B[wi, rows[2 * r][None, :], cols[2 * r][None, :]] = lo
        B[wi, rows[2 * r + 1][None, :], cols[2 * r + 1][None, :]] = hi
    rows, cols = _MMA["c"]
    for i in range(4):
        C[wi, rows[i][None, :], cols[i][None, :]] = regs[6 + i][lanes].astype(np.float64)
    D = (np.matmul(A, B) + C).astype(np.float32)
    out = []
    for i in range(4):
        d = np.array(regs[6 + i], dtype=np.float32)
        d[lanes] = D[wi, rows[i][None, :], cols[i][None, :]]
        out.append(d)
    m.stats["warp_mma"] += W
    return [out]


def _mma_warps(op, ctx, acc):
    """Checks an mma.sync's result struct (four `acc`) and that whole warps
    run it: (lanes (W, 32), W, the context's thread count, a (W, 1) index)."""
    rt = _rtype(op)
    if not isinstance(rt, StructType) or [f for f in rt.fields] != [acc] * 4:
        raise EmulatorError("mma.sync result must be !llvm.struct<(%s)>" % ", ".join([acc] * 4))
    lanes = _check_warps(ctx, "nvvm.mma.sync")     # (W, 32)
    W = lanes.shape[0]
    return lanes, W, ctx.n, np.arange(W)[:, None]


def _mma_s8(m, op, ctx, ins):
    """mma.sync m16n8k32 .s32.s8.s8.s32: exact products, the sum wrapped to
    32 bits."""
    p = op.props
    overflow = attr_enum(p.get("intOverflowBehavior", "")) if "intOverflowBehavior" in p else None
    if overflow != "wrapped":
        raise EmulatorError("s8 mma.sync: only intOverflowBehavior = wrapped is modelled, not %s" % overflow)
    seg = attr_array(p["operandSegmentSizes"])
    if seg != [4, 2, 4]:
        raise EmulatorError("expected 4 A, 2 B and 4 C operands, got %s" % seg)
    if any(t != "i32" for t in op.in_types):
        raise EmulatorError("s8 mma.sync operands must all be i32, got %s" % (op.in_types,))
    lanes, W, n, wi = _mma_warps(op, ctx, "i32")
    regs = [_full(x, n) for x in ins]

    def bytes_of(reg):
        u = np.ascontiguousarray(reg[lanes]).astype(np.int64) & 0xFFFFFFFF
        return [((u >> (8 * j)) & 0xFF).astype(np.uint8).view(np.int8).astype(np.int64) for j in range(4)]

    A = np.zeros((W, 16, 32), dtype=np.int64)
    B = np.zeros((W, 32, 8), dtype=np.int64)
    C = np.zeros((W, 16, 8), dtype=np.int64)
    rows, cols = _MMA["a8"]
    for r in range(4):
        for j, v in enumerate(bytes_of(regs[r])):
            A[wi, rows[4 * r + j][None, :], cols[4 * r + j][None, :]] = v
    rows, cols = _MMA["b8"]
    for r in range(2):
        for j, v in enumerate(bytes_of(regs[4 + r])):
            B[wi, rows[4 * r + j][None, :], cols[4 * r + j][None, :]] = v
    rows, cols = _MMA["c"]
    for i in range(4):
        C[wi, rows[i][None, :], cols[i][None, :]] = regs[6 + i][lanes].astype(np.int64)
    D = ((np.matmul(A, B) + C + 2 ** 31) % 2 ** 32 - 2 ** 31).astype(np.int32)
    out = []
    for i in range(4):
        d = np.array(regs[6 + i], dtype=np.int32)
        d[lanes] = D[wi, rows[i][None, :], cols[i][None, :]]
        out.append(d)
    m.stats["warp_mma"] += W
    m.stats["warp_mma_s8"] += W
    return [out]


def unsupported_ops(text):
    """Names of ops in `text` that the emulator has no handler for."""
    names = set()
    for op in _walk(parse(text)):
        if op.name not in _HANDLERS and op.name not in _TERMINATORS and \
                op.name not in ("builtin.module", "func.func", "gpu.module"):
            names.add(op.name)
    return sorted(names)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    src = open(sys.argv[1]).read()
    mod = Module(src)
    print("functions:", ", ".join(sorted(mod.funcs)))
    missing = unsupported_ops(src)
    print("unsupported ops:", ", ".join(missing) if missing else "none")
