"""Runs models' CUDA `decode` entry point (generation with a KV cache) in
the SIMT emulator, the way the runtime calls it, and compares its logits
with the CPU build's.

`decode` takes new tokens [B, S], their positions, each row's leading
padding [B] and per-layer caches [B, T, w] (keys and values; latent
attention's normalised latent and rotated rope key), and returns the
logits [B, S, vocab] and the S new rows of each cache. The runtime
prefills with one call over the prompt and empty caches (T = 0), appends
the rows, and then calls it with one token per step (runtime/Session.cpp,
decodeStep). Here, per model and build (f32, --tensor-cores):

- the decode function is cut from `strata-compile --target=cuda
  --emit=mlir` and lowered up to gpu-kernel-outlining with the pass list
  check_model.py takes from strata-lower-to-nvvm-cuda (arena included);
- weights are check_model.py's (seeded by the CPU build, sharpened); the
  CPU build's own decode (`strata-run infer`, greedy) gives the tokens
  that follow the prompt, and `strata-run logits` over prompt + those
  tokens the reference: position p's logits are what decode must return
  for the token at p;
- the emulated prefill's logits must match the prompt's positions and
  each one-token step's the next position (1e-4 relative to the largest
  magnitude for f32, 2e-2 with tensor cores), each step attending over
  the rows earlier calls returned; the emulated greedy tokens must be the
  CPU's wherever the reference's top two logits are further apart than
  twice the tolerance;
- the cache rows the prefill and steps returned must match the rows of
  one decode call over the whole sequence (different kernels: one row
  against many), whose logits must match too;
- a batch of two, the second a shorter prompt left-padded as the CPU
  runtime batches generation (key_padding hides the padding, positions
  count from each row's first token; CUDA sessions run rows one by one
  for now), must give each row's logits, prefill and one step;
- the checks can fail: logits with two vocabulary columns (or cache rows
  with two channels) swapped are rejected, and so is the last step run
  over caches whose keys (MLA: latents) are in reverse order and their
  values (rope keys) not;
- the intended kernels ran, by the strata op each launch came from:
  one warp per output for the one-row linears and experts, the
  one-warp-per-query flash attention kernel for the single query, the
  tile or mma.sync kernels where a call has 16 rows or more (a prompt of
  16; MLA's kv_b projection of the whole latent cache at every step), the
  cache concatenation's copy kernels; no mma.sync in f32 builds; every
  arena buffer viewed once.

--keep DIR keeps the strata modules, the lowered IR, the executables and
the weights."""

import os
import re
import sys
import time

import numpy as np

import harness
import check_model as cm

# Kernel expectations per op kind, each a tuple of:
#   "warps"    some launch used shuffles and no workgroup memory (one warp
#              per output, row or query),
#   "tiles"    some launch used workgroup memory and barriers, no mma.sync,
#   "mma"      some launch executed mma.sync,
#   "no tiles" no launch used workgroup memory or mma.sync,
#   "ran"      some launch came from it.
ONE_ROW = {"linear": ("warps", "no tiles"), "lm_head": ("warps", "no tiles"),
           "moe_experts": ("warps", "no tiles")}
SMALL = dict(ONE_ROW, **{"tensor.concat": ("ran",)})
QUANTIZED_SMALL = {"quantized_linear": ("warps", "no tiles"), "lm_head": ("warps", "no tiles"),
                   "quantized_moe_experts": ("warps", "no tiles"), "tensor.concat": ("ran",)}

# Per model: prompt length, decode steps after it, the padding before the
# shorter second prompt of a batch of two, weight seed (one whose
# greedy tokens are not all the same; for deepseek-v2-small also one whose
# tensor-core error is not near the tolerance: seed 2's prefill is 1.3e-2
# off, 9's 6e-3), and per phase and build the kernels that must have run.
MODELS = {
    # Grouped KV (one key/value head for two query heads), MoE with a
    # shared expert. Its 16 positions at most allow a prompt of 12: every
    # call is below the tiles' 16 rows, so even the tensor-core build runs
    # warp kernels (f32) throughout.
    "micro": dict(prompt=12, steps=3, seed=11, pad=5,
                  prefill={b: dict(SMALL, attention=("warps", "no tiles")) for b in ("f32", "tc")},
                  step={b: dict(SMALL, attention=("warps", "no tiles")) for b in ("f32", "tc")}),
    # Latent attention over the compressed cache (16 + 4 values per
    # position and layer), YaRN rope at positions past the original 16,
    # group-limited routing. The 16-token prefill takes the tile and
    # tensor-core kernels; a step's query runs the warp flash kernel
    # while kv_b_proj expands all T cached latents (T >= 16: tiles).
    "deepseek-v2-small": dict(prompt=16, steps=3, seed=9, pad=5,
                              prefill={"f32": {"linear": ("tiles",), "latent_attention": ("tiles",),
                                               "tensor.concat": ("ran",)},
                                       "tc": {"linear": ("mma",), "latent_attention": ("mma",),
                                              "tensor.concat": ("ran",)}},
                              step={"f32": dict(SMALL, latent_attention=("warps", "tiles")),
                                    "tc": dict(SMALL, latent_attention=("warps", "mma"))}),
    # Static w8a8 (check_model.py's micro-w8a8: calibrated int8 weights and
    # activations): every call below 16 rows, so the int8 products run on
    # the warp kernels with integer shuffles.
    "micro-w8a8": dict(prompt=12, steps=3, seed=11, pad=5,
                       prefill={b: dict(QUANTIZED_SMALL, attention=("warps", "no tiles"))
                                for b in ("f32", "tc")},
                       step={b: dict(QUANTIZED_SMALL, attention=("warps", "no tiles"))
                             for b in ("f32", "tc")}),
}


def extra_options(p):
    p.add_argument("--models", default=",".join(m for m in MODELS if m not in cm.DERIVED),
                   help="comma-separated subset of " + ", ".join(MODELS))


def check_launches(check, label, kinds, stats, build, expect):
    """The kernels `expect` names ran (see MODELS), and no mma.sync in f32
    builds."""
    if build == "f32":
        mma = stats["warp_mma"]
        check.expect("%s ran no mma.sync" % label, mma == 0, "%d warp mma executed" % mma if mma else "")
    tests = {
        "warps": lambda r: r["warp_shuffle"] and not r["workgroup_bytes"] and not r["warp_mma"],
        "tiles": lambda r: r["workgroup_bytes"] and r["barriers"] and not r["warp_mma"],
        "mma": lambda r: r["warp_mma"],
        "ran": lambda r: True,
    }
    for kind, features in sorted(expect.items()):
        recs = kinds.get(kind, [])
        for feature in features:
            if feature == "no tiles":
                bad = [r for r in recs if r["workgroup_bytes"] or r["warp_mma"]]
                check.expect("%s %s ran no tile or mma.sync kernel" % (label, kind), recs and not bad,
                             "%d of %d launches" % (len(bad), len(recs)))
            else:
                hits = [r for r in recs if tests[feature](r)]
                check.expect("%s %s ran %s" % (label, kind, {
                    "warps": "warp kernels", "tiles": "the tile kernel", "mma": "the mma.sync kernel",
                    "ran": "kernels"}[feature]), hits, "%d of %d launches" % (len(hits), len(recs)))


def cache_widths(func):
    """The cache arguments' last dimensions: the arguments after the
    tokens, positions and padding that are not parameters, two per layer
    (keys and values; MLA: latents and rope keys)."""
    attrs = harness.simt._split_top(func.props["arg_attrs"].strip()[1:-1])
    plain = [t for raw, (_, t) in zip(attrs, func.regions[0].blocks[0].args) if "strata.param" not in raw]
    if len(plain) < 5 or len(plain) % 2 == 0 or any(t.shape[-1] is None for t in plain[3:]):
        sys.exit("decode: expected tokens, positions, padding and caches, got %s" % plain)
    return [t.shape[-1] for t in plain[3:]]


class Decoder:
    """Calls a lowered decode in the emulator as the runtime does."""

    def __init__(self, module, weights):
        self.module = module
        self.func = module.funcs["decode"]
        self.widths = cache_widths(self.func)
        self.weights = weights

    def empty(self, batch=1):
        return [np.zeros((batch, 0, w), dtype=np.float32) for w in self.widths]

    def call(self, tokens, start, caches):
        """decode on one sequence's `tokens` at positions start, start + 1,
        ... over `caches`: (logits [S, vocab], the new rows of each cache,
        stats, seconds)."""
        logits, rows, stats, t = self.batch([tokens], [range(start, start + len(tokens))], [0], caches)
        return logits[0], rows, stats, t

    def batch(self, tokens, positions, padding, caches):
        """decode on a batch: tokens and positions [B, S], each row's
        leading padding [B]; (logits [B, S, vocab], new rows, stats,
        seconds)."""
        tokens = np.array(tokens, dtype=np.int32)
        plain = [tokens, np.array(positions, dtype=np.int32), np.array(padding, dtype=np.int32)] + list(caches)
        args = cm.entry_arguments(self.func, self.weights, plain)
        t0 = time.time()
        _, results, stats = harness.run(self.module, "decode", *args)
        rows = [np.asarray(r) for r in results[1:]]
        if len(rows) != len(caches) or any(r.shape != tokens.shape + (c.shape[2],) for r, c in zip(rows, caches)):
            sys.exit("decode returned rows of shapes %s for caches %s" % (
                [r.shape for r in rows], [c.shape for c in caches]))
        return np.asarray(results[0]), rows, stats, time.time() - t0


def append(caches, rows):
    return [np.concatenate([c, r], axis=1) for c, r in zip(caches, rows)]


def main():
    cm.drive(__doc__, MODELS, extra_options, run_models, "check_decode.")


def run_models(args, models, check, work):
    cpu = cm.CpuBuilds(args.strata_compile, models, work)
    prefixes = {}
    for build in ("f32", "tc"):
        passes = cm.cuda_pipeline(args.strata_opt, build == "tc")
        prefixes[build] = cm.until_outlining(check, passes, build == "tc")

    for m in models:
        cfg = MODELS[m]
        strata, _ = harness.tool([args.strata_compile, os.path.join(cm.ROOT, cm.MODELS[m]["config"]),
                                  "--target=cuda", "--emit=mlir"] + cm.MODELS[m].get("flags", []))
        decode = cm.only_function(strata, "decode")
        strata_lines = decode.split("\n")
        vocab = int(re.search(r"func\.func @decode\([^)]*\) -> \(tensor<\?x\?x(\d+)xf32>", decode).group(1))
        prompt = [(7 * i * i + 13 * i + 5) % vocab for i in range(cfg["prompt"])]
        P, steps = len(prompt), cfg["steps"]

        modules = {}
        for build in ("f32", "tc"):
            t0 = time.time()
            text = harness.lower(args.strata_opt, decode,
                                 ["--pass-pipeline=" + cm.spec(prefixes[build]), "--mlir-print-debuginfo"],
                                 args.keep, "%s_decode_%s" % (m, build))
            modules[build] = (harness.simt.Module(text), time.time() - t0)

        t0 = time.time()
        exe = cpu.wait(m)
        waited = time.time() - t0
        weights, wpath = cm.model_weights(args, cpu, m, models, vocab, work)
        # The CPU's decode: greedy tokens after the prompt.
        out, _ = harness.tool([args.strata_run, "infer", exe, "--weights", wpath, "--tokens",
                               ",".join(map(str, prompt)), "--max-new-tokens", str(steps + 1)])
        greedy = [int(t) for t in out.strip().split("\n")[-1].split(",")]
        if len(greedy) != steps + 1:
            sys.exit("%s: strata-run infer gave %d tokens, not %d (end of sequence?)" % (m, len(greedy), steps + 1))
        sequence = prompt + greedy[:steps]
        ref = cm.cpu_logits(args.strata_run, exe, wpath, sequence)
        # A shorter prompt and a token after it, for a padded batch.
        other = [(3 * i + 4) % vocab for i in range(P - cfg["pad"])]
        next_other = (5 * P + 1) % vocab
        ref_other = cm.cpu_logits(args.strata_run, exe, wpath, other + [next_other])

        for build in ("f32", "tc"):
            label = "%s %s" % (m, build)
            tol = cm.tolerance_of(m)[build]
            module, t_lower = modules[build]
            dec = Decoder(module, weights)
            t_total = time.time()
            try:
                logits, rows, stats, t = dec.call(prompt, 0, dec.empty())
            except harness.simt.EmulatorError as e:
                check.expect("%s prefill ran in the emulator" % label, False, str(e))
                continue
            check.close("%s prefill logits (%d tokens, empty caches %s wide, %d launches, %.1fs)" % (
                label, P, "+".join(map(str, dec.widths)), len(stats["launches"]), t), logits, ref[:P], tol)
            kinds = cm.launch_kinds(stats, strata_lines)
            print("    prefill kernels by strata op: " + cm.summary(kinds))
            check_launches(check, label + " prefill", kinds, stats, build, cfg["prefill"][build])
            caches = rows
            tokens = [int(np.argmax(logits[-1]))]
            for i in range(steps):
                previous = caches
                logits, rows, stats, t = dec.call([sequence[P + i]], P + i, caches)
                check.close("%s step %d logits (position %d over %d cached rows, %d launches, %.1fs)" % (
                    label, i + 1, P + i, P + i, len(stats["launches"]), t), logits[0], ref[P + i], tol)
                tokens.append(int(np.argmax(logits[0])))
                caches = append(caches, rows)
            kinds = cm.launch_kinds(stats, strata_lines)
            print("    step kernels by strata op: " + cm.summary(kinds))
            check_launches(check, label + " step", kinds, stats, build, cfg["step"][build])
            cm.check_arena(check, label + " step", dec.module, "decode", stats)

            # Greedy tokens: the CPU decode's, where the reference's top two
            # logits are further apart than the tolerance allows to blur.
            rows_ref = ref[P - 1:P + steps]
            top2 = np.sort(rows_ref, axis=1)[:, -2:]
            clear = (top2[:, 1] - top2[:, 0]) > 2 * tol * np.abs(rows_ref).max(axis=1)
            got = [t for t, c in zip(tokens, clear) if c]
            want = [t for t, c in zip(greedy, clear) if c]
            check.expect("%s greedy tokens %s, the CPU decode's %s (%d of %d clear of a near tie)" % (
                label, ",".join(map(str, tokens)), ",".join(map(str, greedy)), len(want), len(greedy)),
                got == want and want)

            # The cache rows one call over the whole sequence returns.
            full, full_rows, stats, t = dec.call(sequence, 0, dec.empty())
            check.close("%s one call over all %d tokens: logits (%.1fs)" % (label, len(sequence), t), full, ref, tol)
            for k, (got_rows, want_rows) in enumerate(zip(caches, full_rows)):
                check.close("%s cache %d (%d wide): prefill and step rows against that call's" % (
                    label, k, dec.widths[k]), got_rows[0], want_rows[0], tol)

            # The last step over caches whose keys (MLA: latents) are in
            # reverse order, the values (rope keys) in order.
            broken = [c[:, ::-1].copy() if k % 2 == 0 else c for k, c in enumerate(previous)]
            wrong, _, _, _ = dec.call([sequence[-1]], len(sequence) - 1, broken)
            err = check.error(wrong[0], ref[-1])
            check.expect("%s step %d over caches with every layer's keys in reverse order: rejected" % (
                label, steps), err > tol, "error %.2e (tolerance %.0e)" % (err, tol))

            # A left-padded batch, as the CPU runtime batches generation
            # (CUDA sessions do not yet): row 1 is `other` after `pad`
            # padding tokens, hidden by key_padding, its positions counted
            # from its first token; a prefill and one step.
            pad = P - len(other)
            logits, rows, stats, t = dec.batch([prompt, [0] * pad + other],
                                               [list(range(P)), [0] * pad + list(range(len(other)))],
                                               [0, pad], dec.empty(2))
            check.close("%s batch of 2, the second with %d padding tokens: prefill logits (%.1fs, %d mma.sync)" % (
                label, pad, t, stats["warp_mma"]), np.concatenate([logits[0], logits[1, pad:]]),
                np.concatenate([ref[:P], ref_other[:-1]]), tol)
            if build == "tc":
                check.expect("%s batch of 2: %d rows ran mma.sync" % (label, 2 * P), stats["warp_mma"])
            logits, _, _, t = dec.batch([[sequence[P]], [next_other]], [[P], [len(other)]], [0, pad], rows)
            check.close("%s batch of 2: step logits (%.1fs)" % (label, t), logits[:, 0],
                        np.stack([ref[P], ref_other[-1]]), tol)
            print("    lowering and parsing %.1fs, emulation %.1fs%s" % (
                t_lower, time.time() - t_total, ", waited %.1fs for the CPU build" % waited if build == "f32" else ""))


if __name__ == "__main__":
    main()
