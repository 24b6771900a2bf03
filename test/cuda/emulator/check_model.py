"""Runs whole models' CUDA forward pass in the SIMT emulator and compares
its logits with the CPU build's.

For each model config: `strata-compile --target=cuda --emit=mlir` gives
the strata-dialect module; its forward function (the passes work function
by function; the other entry points are left out, check_decode.py runs
decode) goes through the CUDA lowering pipeline up to gpu-kernel-outlining
(every kernel pass, strata-map-loops-to-gpu, strata-plan-memory and
gpu-launch-sink-index-computations), with the pass list taken from
`strata-opt --dump-pass-pipeline` of strata-lower-to-nvvm-cuda (the
builder strata-compile runs) rather than copied, and the emulator runs it
on seeded weights. The CPU build (`strata-compile --emit=executable`,
`strata-run logits --seed N --save-weights`) gives the weights, which are
sharpened (norm weights and biases off their initial ones and zeros, query
and key projections scaled up so that attention is far from uniform; see
sharpen()), and then, on those (`--weights`), the reference logits (the LM
head's; a second result, like tiny's classification logits, is not
compared). Checks:

- the dumped pipeline, run whole by strata-opt, gives what
  `strata-compile --target=cuda --emit=gpu` gives (once per build), so the
  list cannot drift from what strata-compile runs;
- the emulated logits are within 1e-4 of the CPU's (relative to their
  largest magnitude) for the f32 build, 2e-2 with --tensor-cores, and a
  wrong answer (two vocabulary columns swapped) would be rejected;
- the kernels meant to run did: no mma.sync in f32 builds; mma.sync in the
  launches of each op kind the case names for tensor-core builds; the
  64x64 tile kernels (workgroup memory, barriers) where the case names
  them. Launches are attributed to the strata op they came from through
  their locations (the strata module's line, kept by every pass);
- every buffer strata-plan-memory placed in the arena was viewed once,
  and no two views in use at once shared arena bytes (the emulator checks
  that on every access).

CPU executables are compiled in the background while earlier models are
emulated (that compile is most of the run time). --keep DIR keeps the
strata modules, the lowered IR, the executables and the weights."""

import json
import os
import re
import struct
import sys
import tempfile
import threading
import time
from collections import defaultdict

import numpy as np

import harness

ROOT = os.path.normpath(os.path.join(harness.HERE, "..", "..", ".."))

# Per model: config, prompt length (tokens from a fixed formula), weight
# seed, and per build the op kinds whose launches must show a kernel:
# "mma" (some launch executed mma.sync) or "tiles" (some launch used
# workgroup memory and barriers: the 64x64 tile kernels).
MODELS = {
    # MoE with a shared expert, grouped KV (head dim 8). 16 tokens: x·Wᵀ
    # has 16 rows (tile kernels) and the routed experts 32 rows over 4
    # experts (grouped tile kernel from 8 rows per expert).
    "micro": dict(config="test/configs/yaml/micro.yaml", tokens=16, seed=11,
                  f32={"linear": "tiles", "lm_head": "tiles", "moe_experts": "tiles"},
                  tc={"linear": "mma", "lm_head": "mma", "moe_experts": "mma"}),
    # Latent attention (MLA, YaRN rope), group-limited routing over 8
    # experts: 16 tokens, 32 rows, below the grouped tile kernel.
    "deepseek-v2-small": dict(config="test/configs/hf-small/deepseek-v2-small.json", tokens=16, seed=5,
                              f32={"linear": "tiles", "latent_attention": "tiles"},
                              tc={"linear": "mma", "latent_attention": "mma"}),
    # Head dim 16 (the tensor-core flash attention kernel from 16 queries),
    # 8 experts with an MLP router, memory compression, both heads. 32
    # tokens: 64 routed rows, the grouped tile kernel's threshold.
    "tiny": dict(config="examples/tiny.yaml", tokens=32, seed=3,
                 f32={"linear": "tiles", "moe_experts": "tiles"},
                 tc={"linear": "mma", "attention": "mma", "moe_experts": "mma",
                     "memory_compression": "mma"}),
}

# Variants of a base model compiled with extra flags, run on the base's
# float weights (sharpened) converted by the CPU build of the variant.
# int8 post-training quantization (--quantize; weights through strata-run
# quantize): micro's linear layers and routed experts with int8 weights.
# w8a16 widens them as it reads (the float tile kernels); w8a8-dynamic
# and w8a8 (static, calibrated) sum int8 products exactly in i32: integer
# tiles in f32 builds, s8 mma.sync m16n8k32 ("mma_s8") with tensor cores.
# Narrow weights (--weights-dtype bf16; the f32 checkpoint rounded as the
# CPU build loads it): the products widen bf16 weights as they read them.
DERIVED = {
    "micro-w8a16": dict(base="micro", flags=["--quantize", "w8a16"],
                        f32={"quantized_linear": "tiles", "quantized_moe_experts": "tiles"},
                        tc={"quantized_linear": "mma", "quantized_moe_experts": "mma"}),
    "micro-w8a8-dynamic": dict(base="micro", flags=["--quantize", "w8a8-dynamic"],
                               f32={"quantized_linear": "tiles", "quantized_moe_experts": "tiles"},
                               tc={"quantized_linear": "mma_s8", "quantized_moe_experts": "mma_s8"}),
    "micro-w8a8": dict(base="micro", flags=["--quantize", "w8a8"],
                       f32={"quantized_linear": "tiles", "quantized_moe_experts": "tiles"},
                       tc={"quantized_linear": "mma_s8", "quantized_moe_experts": "mma_s8"}),
    "micro-bf16": dict(base="micro", flags=["--weights-dtype", "bf16"]),
}
# Their CPU builds make one kernel library, not the portable four (most of
# the test's time otherwise).
DERIVED_CPU = ["--cpu", "x86-64-v2"]
for _name, _q in DERIVED.items():
    MODELS[_name] = dict(MODELS[_q["base"]], **_q)

TOLERANCE = {"f32": 1e-4, "tc": 2e-2}
# Quantized activations: a last-bit difference before a rounding to int8
# (a norm summed in another order) moves a value by one step.
QUANTIZED_TOLERANCE = {"f32": 2e-3, "tc": 2e-2}


def scheme(m):
    """The --quantize scheme of model `m`, if any."""
    flags = MODELS[m].get("flags", [])
    return flags[flags.index("--quantize") + 1] if "--quantize" in flags else None


def extra_options(p):
    p.add_argument("--models", default=",".join(m for m in MODELS if m not in DERIVED),
                   help="comma-separated subset of " + ", ".join(MODELS))


# ---------------------------------------------------------------------------
# The pipeline
# ---------------------------------------------------------------------------

def cuda_pipeline(opt, tc):
    """The passes of strata-lower-to-nvvm-cuda (stop-after=gpu) as strata-opt
    dumps them: a list of `name{options}` strings."""
    spec = "builtin.module(strata-lower-to-nvvm-cuda{stop-after=gpu tensor-cores=%s})" % (
        "true" if tc else "false")
    _, err = harness.tool([opt, "-", "--pass-pipeline=" + spec, "--dump-pass-pipeline",
                           "-o", os.devnull], input="module {}\n", what="strata-opt --dump-pass-pipeline")
    at = err.find("builtin.module(")
    if at < 0:
        sys.exit("no pipeline in strata-opt --dump-pass-pipeline's output:\n" + err)
    body = " ".join(line.strip() for line in err[at:].splitlines())
    body = body[len("builtin.module("):body.rindex(")")]
    return harness.simt._split_top(body)


def pass_name(entry):
    return re.match(r"[\w.\-]+", entry).group(0)


def spec(entries):
    return "builtin.module(%s)" % ",".join(entries)


def until_outlining(check, passes, tc):
    """The passes before gpu-kernel-outlining, after checking that they hold
    what the emulated IR must have been through."""
    names = [pass_name(p) for p in passes]
    ok = "gpu-kernel-outlining" in names
    prefix = passes[:names.index("gpu-kernel-outlining")] if ok else []
    pnames = names[:len(prefix)]
    need = ["strata-flash-attention-kernels", "strata-expert-sort-kernel",
            "strata-grouped-matmul-kernels", "strata-tiled-matmuls",
            "strata-warp-reductions", "strata-map-loops-to-gpu", "strata-plan-memory"]
    missing = [n for n in need if n not in pnames] if ok else ["gpu-kernel-outlining"]
    flag = "tensor-cores=%s" % ("true" if tc else "false")
    with_flag = {pass_name(p) for p in prefix if flag in p}
    wrong = [pass_name(p) for p in prefix if "tensor-cores=" in p and flag not in p] + [
        n for n in ("strata-flash-attention-kernels", "strata-grouped-matmul-kernels",
                    "strata-tiled-matmuls") if n not in with_flag]
    shown = [pass_name(p) + ("{%s}" % flag if "tensor-cores=" in p else "") for p in prefix]
    check.expect("%s pipeline before gpu-kernel-outlining: %s" % ("tc" if tc else "f32", ", ".join(shown)),
                 not missing and not wrong,
                 "" if not missing and not wrong else "missing %s; not %s: %s" % (missing, flag, wrong))
    return prefix


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------

_DTYPES = {"F32": np.float32, "I8": np.int8, "BF16": np.uint16, "F16": np.float16}


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in _DTYPES:
            sys.exit("%s: %s is %s, expected F32, BF16, F16 or I8" % (path, name, info["dtype"]))
        a, b = info["data_offsets"]
        t = np.frombuffer(data[8 + n + a:8 + n + b], dtype=_DTYPES[info["dtype"]]).reshape(info["shape"])
        if info["dtype"] == "BF16":     # the emulator holds bf16 as f32
            t = (t.astype(np.uint32) << 16).view(np.float32)
        out[name] = t.copy()
    return out


def save_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype=np.float32)
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        blobs.append(a.tobytes())
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


# Query and key projections (MLA: kv_b_proj, which makes the keys) are
# scaled by this; see sharpen().
QK_SCALE = 8.0


def sharpen(weights, seed):
    """The seeded initialisation leaves norm weights at one, biases at zero
    and attention almost uniform (scores of order 1e-2), where a kernel
    that skipped a norm weight or a bias, or got the softmax wrong, would
    still pass. 1-D parameters get 0.1 N(0, 1) added and the query and key
    projections are scaled by QK_SCALE (scores of order 1)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name in sorted(weights):
        a = weights[name]
        if a.ndim == 1:
            a = a + np.float32(0.1) * rng.standard_normal(a.shape).astype(np.float32)
        elif re.search(r"\.(q_proj|k_proj|kv_b_proj)\.", name):
            a = a * np.float32(QK_SCALE)
        out[name] = a
    return out


def entry_arguments(func, weights, plain):
    """The arguments of a lowered entry point: `plain` (a list of arrays) for
    the arguments that are not parameters, in order, and each parameter
    (strata-params-to-arguments names it in the argument's `strata.param`
    attribute) from `weights`."""
    name = (func.props.get("sym_name") or func.attrs.get("sym_name")).strip('"')
    attrs = harness.simt._split_top(func.props["arg_attrs"].strip()[1:-1])
    block_args = func.regions[0].blocks[0].args
    args, used, rest = [], set(), list(plain)
    for raw, _ in zip(attrs, block_args):
        m = re.search(r'strata\.param = "([^"]*)"', raw)
        if m:
            if m.group(1) not in weights:
                sys.exit("no weight %s in the saved weights" % m.group(1))
            args.append(weights[m.group(1)])
            used.add(m.group(1))
        elif rest:
            args.append(rest.pop(0))
        else:
            sys.exit("%s: more arguments besides the parameters than the %d given" % (name, len(plain)))
    if rest or len(attrs) != len(block_args):
        sys.exit("%s: expected %d arguments besides the parameters" % (name, len(plain)))
    unused = sorted(set(weights) - used)
    if unused:
        sys.exit("saved weights %s does not take: %s" % (name, unused))
    return args


def forward_arguments(func, weights, tokens):
    """The lowered forward's arguments: the token ids, then the parameters."""
    return entry_arguments(func, weights, [np.array([tokens], dtype=np.int32)])


def only_function(strata, name):
    """The strata-dialect module (as strata-compile prints it) with only
    function `name` and the private layer bodies it calls: the passes work
    function by function, and the other entry points would triple the
    lowering and parsing."""
    funcs, order, current = {}, [], None
    head = []
    for line in strata.split("\n"):
        m = re.match(r"  func\.func (?:private )?@([\w$.\-]+)\(", line)
        if m:
            current = m.group(1)
            order.append(current)
            funcs[current] = []
        if current is None:
            if not order:
                head.append(line)
        else:
            funcs[current].append(line)
            if line == "  }":
                current = None
    if name not in funcs:
        sys.exit("cannot cut the strata module to its %s function" % name)
    keep, todo = set(), [name]
    while todo:
        f = todo.pop()
        if f in keep:
            continue
        keep.add(f)
        todo += re.findall(r"call @([\w$.\-]+)\(", "\n".join(funcs[f]))
    out = head + [l for f in order if f in keep for l in funcs[f]] + ["}"]
    return "\n".join(out)


_VIEW = re.compile(r'("memref\.view"\(%[\w$.\-]+, )(%[\w$.\-]+)')


def one_slot(text):
    """The module with every memref.view of a frame at the first view's
    offset in that function (a memory plan that puts every buffer in one
    slot), and the number of distinct offsets there were."""
    # Each function names its own SSA values: rewrite function by function.
    chunks = re.split(r'(?=^\s*(?:"func\.func"|func\.func))', text, flags=re.M)
    out, distinct = [], 0
    for chunk in chunks:
        offsets = [m.group(2) for m in _VIEW.finditer(chunk)]
        if offsets:
            distinct += len(set(offsets))
            chunk = _VIEW.sub(lambda m: m.group(1) + offsets[0], chunk)
        out.append(chunk)
    return "".join(out), distinct


# ---------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------

def launch_kinds(stats, strata_lines):
    """Per strata op kind (from each launch's location; `tensor.concat` and
    the like by their full name): the launches' records."""
    kinds = defaultdict(list)
    for rec in stats["launches"]:
        m = re.search(r":(\d+):\d+", rec.get("loc") or "")
        kind = "?"
        if m and 0 < int(m.group(1)) <= len(strata_lines):
            op = re.search(r"\b(strata|tensor)\.(\w+)", strata_lines[int(m.group(1)) - 1])
            kind = (op.group(2) if op.group(1) == "strata" else op.group(0)) if op else "?"
        kinds[kind].append(rec)
    return kinds


def summary(kinds):
    parts = []
    for k in sorted(kinds):
        recs = kinds[k]
        feats = []
        for what, key in (("mma", "warp_mma"), ("s8 mma", "warp_mma_s8"), ("shuffle", "warp_shuffle"),
                          ("barrier", "barriers")):
            c = sum(1 for r in recs if r[key])
            if c:
                feats.append("%d %s" % (c, what))
        parts.append("%s %d%s" % (k, len(recs), " (%s)" % ", ".join(feats) if feats else ""))
    return "; ".join(parts)


def check_kernels(check, label, kinds, stats, build, expect):
    mma = stats["warp_mma"]
    if build == "f32":
        check.expect("%s ran no mma.sync" % label, mma == 0, "%d warp mma executed" % mma if mma else "")
    for kind, feature in sorted(expect.items()):
        recs = kinds.get(kind, [])
        if feature == "mma":
            hits = [r for r in recs if r["warp_mma"]]
        elif feature == "mma_s8":
            hits = [r for r in recs if r["warp_mma_s8"]]
        else:
            hits = [r for r in recs if r["workgroup_bytes"] and r["barriers"] and not r["warp_mma"]]
        name = {"mma": "mma.sync", "mma_s8": "s8 mma.sync"}.get(feature, "tile")
        check.expect("%s %s ran the %s kernel" % (label, kind, name),
                     hits, "%d of %d launches" % (len(hits), len(recs)))


def planned_buffers(func):
    """How many buffers strata-plan-memory placed in `func`'s frame."""
    plan = re.search(r"array<i64: (\d+), (\d+)", func.attrs.get("strata.memory_plan", ""))
    return (int(plan.group(1)), int(plan.group(2))) if plan else (0, 0)


def check_arena(check, label, module, entry, stats):
    """Every frame (one arena acquire per call of a planned function: the
    entry point and each layer body it calls) viewed each buffer its
    function's plan placed there once (the emulator checks overlaps on
    every access)."""
    planned, slots = planned_buffers(module.funcs[entry])
    frames = stats["frames"]
    bad = [f for f in frames if f["views"] != planned_buffers(module.funcs[f["func"]])[0]]
    entry_frames = sum(1 for f in frames if f["func"] == entry)
    check.expect("%s arena: %d planned buffers in %d slots in @%s, %d frames, %d views, %s bytes" % (
        label, planned, slots, entry, len(frames), stats["arena_views"],
        "+".join(map(str, stats["arena_bytes"]))),
        planned > 0 and entry_frames == 1 and not bad,
        "frames viewed other than planned: %s" % bad if bad else "")


# ---------------------------------------------------------------------------
# The CPU build

def cpu_weights(run, exe, seed, stem):
    """The CPU executable's weights from `seed`, sharpened (sharpen()), and
    the safetensors file (stem.safetensors) that holds them."""
    seeded = stem + ".seeded.safetensors"
    harness.tool([run, "logits", exe, "--seed", str(seed), "--tokens", "0", "--save-weights", seeded])
    weights = sharpen(load_safetensors(seeded), seed)
    path = stem + ".safetensors"
    save_safetensors(path, weights)
    return weights, path


def derived_weights(run, exe, float_weights_path, scheme, vocab, stem):
    """The float weights as a derived executable holds them, and the file:
    for --quantize, strata-run quantize's int8 weights, scales (and, static
    w8a8 calibrated on 8 windows of 16 seeded tokens, zero points); else
    what the build loads them as (narrow weights rounded), saved back."""
    path = stem + ".safetensors"
    if scheme is None:
        harness.tool([run, "logits", exe, "--weights", float_weights_path, "--tokens", "0",
                      "--save-weights", path])
        return load_safetensors(path), path
    cmd = [run, "quantize", exe, "--weights", float_weights_path, "-o", path]
    if scheme == "w8a8":
        data = stem + ".calibration.bin"
        rng = np.random.default_rng(7)
        rng.integers(0, vocab, size=128, dtype=np.uint32).astype("<u4").tofile(data)
        cmd += ["--calibration-data", data, "--samples", "8", "--seq-len", "16"]
    harness.tool(cmd)
    weights = load_safetensors(path)
    if scheme == "w8a8":
        # The runtime computes each int8 weight's row sums as it loads;
        # no file holds them.
        for name, w in list(weights.items()):
            if w.dtype == np.int8:
                weights[name + "_row_sums"] = w.sum(axis=-1, dtype=np.int32)
    return weights, path


def model_weights(args, cpu, m, models, vocab, work):
    """Model m's weights as its CPU build (cpu.wait(m)) holds them, and the
    file: the seeded weights, sharpened; for a derived model its base's,
    converted by its build (derived_weights)."""
    cfg = MODELS[m]
    if m not in DERIVED:
        return cpu_weights(args.strata_run, cpu.wait(m), cfg["seed"], os.path.join(work, m))
    base = cfg["base"]
    float_exe = cpu.wait(base if base in models else m + ".float")
    _, fpath = cpu_weights(args.strata_run, float_exe, cfg["seed"], os.path.join(work, m + ".float"))
    return derived_weights(args.strata_run, cpu.wait(m), fpath, scheme(m), vocab, os.path.join(work, m))


def tolerance_of(m):
    """The logits' tolerance per build for model m."""
    return QUANTIZED_TOLERANCE if scheme(m) else TOLERANCE


def cpu_logits(run, exe, weights_path, tokens):
    """The CPU build's logits ([tokens, vocab]) of `strata-run logits`."""
    out, _ = harness.tool([run, "logits", exe, "--weights", weights_path,
                           "--tokens", ",".join(map(str, tokens))])
    return np.array([[float(x) for x in line.split()] for line in out.strip().split("\n")])


class CpuBuilds:
    """strata-compile --emit=executable for each model in the background
    while the main thread lowers and emulates: the last model (the slowest
    to compile) in one thread, the others one after another, in the order
    they are checked, in a second."""

    def __init__(self, compile_, models, work):
        self.paths = {m: os.path.join(work, m + ".strata") for m in models}
        self.done = {m: threading.Event() for m in models}
        self.errors = {}
        # A derived model needs its base's float build too (its weights).
        floats = [m for m in models if m in DERIVED and MODELS[m]["base"] not in models]
        for m in floats:
            self.paths[m + ".float"] = os.path.join(work, m + ".float.strata")
        cmds = [(m, [compile_, os.path.join(ROOT, MODELS[m]["config"]), "--emit=executable",
                     "-o", self.paths[m]] + (DERIVED_CPU + MODELS[m]["flags"] if m in DERIVED else []))
                for m in models]
        cmds = [(m + ".float", [compile_, os.path.join(ROOT, MODELS[m]["config"]), "--emit=executable",
                                "-o", self.paths[m + ".float"]] + DERIVED_CPU) for m in floats] + cmds
        for m, _ in cmds:
            self.done.setdefault(m, threading.Event())
        for lane in (cmds[:-1], cmds[-1:]):
            if lane:
                threading.Thread(target=self._run, args=(lane,), daemon=True).start()

    def _run(self, cmds):
        for m, cmd in cmds:
            try:
                harness.tool(cmd)
            except SystemExit as e:     # harness.tool's failure
                self.errors[m] = str(e)
            self.done[m].set()

    def wait(self, m):
        self.done[m].wait()
        if m in self.errors:
            sys.exit(self.errors[m])
        return self.paths[m]


def drive(doc, models_known, options, run, prefix):
    """The command line both model drivers share: parse the arguments, pick
    the models, run `run(args, models, check, work)` in a work directory
    (--keep's, else a temporary one) and report."""
    args = harness.arguments(doc, ("strata-opt", "strata-compile", "strata-run"), options)
    models = [m for m in args.models.split(",") if m]
    for m in models:
        if m not in models_known:
            sys.exit("unknown model %s (have %s)" % (m, ", ".join(models_known)))
    check = harness.Checker()
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        run(args, models, check, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix=prefix) as work:
            run(args, models, check, work)
    check.finish()


def main():
    drive(__doc__, MODELS, extra_options, run_models, "check_model.")


def run_models(args, models, check, work):
    cpu = CpuBuilds(args.strata_compile, models, work)
    pipelines = {}
    for build in ("f32", "tc"):
        passes = cuda_pipeline(args.strata_opt, build == "tc")
        pipelines[build] = (passes, until_outlining(check, passes, build == "tc"))

    for m in models:
        cfg = MODELS[m]
        config = os.path.join(ROOT, cfg["config"])
        qflags = cfg.get("flags", [])
        strata, _ = harness.tool([args.strata_compile, config, "--target=cuda", "--emit=mlir"] + qflags)
        mlir_path = os.path.join(work, m + ".mlir")
        with open(mlir_path, "w") as f:
            f.write(strata)
        forward = only_function(strata, "forward")
        strata_lines = forward.split("\n")
        vocab = int(re.search(r"func\.func @forward\([^)]*\) -> \(?tensor<\?x\?x(\d+)xf32>", strata).group(1))
        tokens = [(7 * i * i + 13 * i + 5) % vocab for i in range(cfg["tokens"])]

        # Both builds lowered and parsed while the CPU build compiles.
        lowered = {}
        for build in ("f32", "tc"):
            label = "%s %s" % (m, build)
            passes, prefix = pipelines[build]
            t0 = time.time()
            if m == models[0]:
                # The dumped pipeline is what strata-compile runs.
                flags = ["--tensor-cores"] if build == "tc" else []
                mine, _ = harness.tool([args.strata_opt, mlir_path, "--pass-pipeline=" + spec(passes)])
                theirs, _ = harness.tool([args.strata_compile, config, "--target=cuda", "--emit=gpu"] + flags + qflags)
                check.expect("%s: strata-opt with the dumped pipeline gives strata-compile --emit=gpu's module" % label,
                             mine.rstrip() == theirs.rstrip() and "gpu.module" in mine)
            text = harness.lower(args.strata_opt, forward, ["--pass-pipeline=" + spec(prefix), "--mlir-print-debuginfo"],
                                 args.keep, "%s_%s" % (m, build))
            lowered[build] = (text, harness.simt.Module(text), time.time() - t0)

        t0 = time.time()
        exe = cpu.wait(m)
        waited = time.time() - t0
        # The seeded weights, sharpened (quantized by strata-run quantize for
        # a quantized model); the CPU build's logits on them.
        weights, wpath = model_weights(args, cpu, m, models, vocab, work)
        ref = cpu_logits(args.strata_run, exe, wpath, tokens)
        tolerance = tolerance_of(m)

        if "--weights-dtype" in cfg.get("flags", []):
            dtype = cfg["flags"][cfg["flags"].index("--weights-dtype") + 1]
            with open(wpath, "rb") as f:
                (n,) = struct.unpack("<Q", f.read(8))
                header = json.loads(f.read(n))
            stored = sum(1 for k, v in header.items() if k != "__metadata__" and v["dtype"] == dtype.upper())
            taken = len(re.findall(r"memref<[0-9x]*x%s>" % dtype, lowered["f32"][0]))
            check.expect("%s: %d weights stored as %s, %d %s memrefs in the lowered forward" % (
                m, stored, dtype, taken, dtype), stored and taken)

        for build in ("f32", "tc"):
            label = "%s %s" % (m, build)
            text, module, t_lower = lowered[build]
            func = module.funcs["forward"]
            fargs = forward_arguments(func, weights, tokens)
            t0 = time.time()
            try:
                _, results, stats = harness.run(module, "forward", *fargs)
            except harness.simt.EmulatorError as e:
                check.expect("%s forward ran in the emulator" % label, False, str(e))
                continue
            t_run = time.time() - t0
            logits = np.asarray(results[0])
            if logits.shape == (1,) + ref.shape:
                logits = logits[0]
            check.close("%s logits (%d tokens, %d launches, %.1fs)" % (label, len(tokens), len(stats["launches"]), t_run),
                        logits, ref, tolerance[build])
            print("    lowering and parsing %.1fs%s" % (
                t_lower, ", waited %.1fs for the CPU build" % waited if build == "f32" else ""))
            kinds = launch_kinds(stats, strata_lines)
            print("    kernels by strata op: " + summary(kinds))
            check_kernels(check, label, kinds, stats, build, cfg[build])
            check_arena(check, label, module, "forward", stats)
            if m == models[0] and build == "f32":
                # A plan with buffers in use at once in one slot is caught.
                broken, distinct = one_slot(text)
                bad = harness.simt.Module(broken)
                check.raises("%s with all %d slots' buffers at one offset" % (label, distinct),
                             lambda: harness.run(bad, "forward", *fargs), "share arena bytes")
        del lowered


if __name__ == "__main__":
    main()
