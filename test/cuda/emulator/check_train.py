"""Runs a training step's CUDA code in the SIMT emulator and compares it
with the CPU's step.

micro (a dense and an MoE layer) compiled with `--train --target=cuda`
(AdamW, warmup, clipping): its `loss_grad` and `optimizer_step`, each cut
out of the strata module with the layer bodies they call, go through the
CUDA pipeline up to gpu-kernel-outlining (check_model.py's pass list) and
run in the emulator: loss_grad on the batch, then optimizer_step (update
1, zero moments) on the emulated gradients. The CPU build runs the same
step with `strata-run train` (one step over a batch of all the data's
windows, so only the row order differs) from the same weights. Checks: the
loss, the learning rate and the gradients' norm against the CPU's metrics,
and every updated parameter against the CPU's trained weights (within 1e-4
relative to each tensor's largest magnitude); a wrong answer is rejected.
--precision bfloat16|float16 compiles both with that training precision."""

import json
import os
import re
import struct
import subprocess
import sys

import numpy as np

import harness
from check_model import (ROOT, cuda_pipeline, load_safetensors, only_function, spec,
                         until_outlining)

CONFIG = "test/configs/yaml/micro.yaml"
FLAGS = ["--train", "--lr", "1e-2", "--warmup", "2", "--schedule", "linear_warmup",
         "--clip", "0.5", "--weight-decay", "0.1"]
BATCH, SEQ = 2, 8


def attributes(func, key):
    """The raw attribute dictionaries of `func`'s arguments or results."""
    raw = func.props.get(key)
    return harness.simt._split_top(raw.strip()[1:-1]) if raw else []


def result_names(strata, name):
    """What optimizer_step's results are, from its strata signature:
    ("lr"|"grad_norm"|"parameter"|"state", name)."""
    sig = re.search(r"func\.func @%s\((.*)\) -> \((.*)\) \{" % name, strata).group(2)
    out = []
    for m in re.finditer(r'\{([^}]*)\}', sig):
        attrs = m.group(1)
        kind = re.search(r'strata\.result = "(\w+)"', attrs).group(1)
        owner = re.search(r'strata\.(?:param|state) = "([^"]+)"', attrs)
        out.append((kind, owner.group(1) if owner else None))
    return out


def main():
    args = harness.arguments(
        __doc__, ("strata-opt", "strata-compile", "strata-run"),
        lambda p: p.add_argument("--precision", default="float32",
                                 choices=["float32", "bfloat16", "float16"]))
    flags = FLAGS + ["--precision", args.precision]
    check = harness.Checker()
    import tempfile
    work = args.keep or tempfile.mkdtemp(prefix="check_train.")
    os.makedirs(work, exist_ok=True)
    config = os.path.join(ROOT, CONFIG)

    # The CPU step: weights, data of exactly BATCH windows, one step.
    exe = os.path.join(work, "micro.strata")
    harness.tool([args.strata_compile, config, *flags, "--cpu", "x86-64-v3", "--emit=executable", "-o", exe])
    wpath = os.path.join(work, "init.safetensors")
    harness.tool([args.strata_run, "logits", exe, "--seed", "4", "--tokens", "0",
                  "--save-weights", wpath])
    weights = load_safetensors(wpath)
    vocab = weights["model.embed_tokens.weight"].shape[0]
    data = [(7 * i * i + 3 * i + 1) % vocab for i in range(BATCH * SEQ + 1)]
    dpath = os.path.join(work, "data.bin")
    with open(dpath, "wb") as f:
        f.write(struct.pack("<%dI" % len(data), *data))
    trained, metrics = os.path.join(work, "trained.safetensors"), os.path.join(work, "m.jsonl")
    harness.tool([args.strata_run, "train", exe, "--data", dpath, "--steps", "1",
                  "--batch", str(BATCH), "--seq-len", str(SEQ), "--weights", wpath,
                  "--metrics", metrics, "--save-weights", trained, "--progress", "none"])
    cpu = json.loads(open(metrics).read().splitlines()[0])
    cpu_trained = load_safetensors(trained)

    # The CUDA step in the emulator.
    strata, _ = harness.tool([args.strata_compile, config, *flags, "--target=cuda", "--emit=mlir"])
    passes = cuda_pipeline(args.strata_opt, False)
    prefix = until_outlining(check, passes, False)
    tokens = np.array([data[w * SEQ:w * SEQ + SEQ] for w in range(BATCH)], dtype=np.int32)
    labels = np.array([data[w * SEQ + 1:w * SEQ + SEQ + 1] for w in range(BATCH)], dtype=np.int32)

    text = harness.lower(args.strata_opt, only_function(strata, "loss_grad"),
                         ["--pass-pipeline=" + spec(prefix)], args.keep, "loss_grad")
    module = harness.simt.Module(text)
    func = module.funcs["loss_grad"]
    fargs = []
    scale = 1.0
    for raw in attributes(func, "arg_attrs"):
        m = re.search(r'strata\.param = "([^"]*)"', raw)
        if 'strata.arg = "loss_scale"' in raw:
            # float16: the dynamic loss scale's start; the runtime divides
            # it out of the gradients, as done below.
            scale = 65536.0
            fargs.append(np.array(scale, dtype=np.float32))
        else:
            fargs.append(weights[m.group(1)] if m else (tokens if not fargs else labels))
    _, results, stats = harness.run(module, "loss_grad", *fargs)
    loss = float(np.asarray(results[0]).reshape(()))
    check.close("loss_grad loss (%d launches)" % len(stats["launches"]),
                np.array([loss]), np.array([cpu["loss"]]), 1e-5)
    grad_names = [re.search(r'strata\.param = "([^"]*)"', raw).group(1)
                  for raw in attributes(func, "arg_attrs") if "strata.param" in raw]
    grads = {n: np.asarray(g).reshape(weights[n].shape) / np.float32(scale)
             for n, g in zip(grad_names, results[1:])}

    text = harness.lower(args.strata_opt, only_function(strata, "optimizer_step"),
                         ["--pass-pipeline=" + spec(prefix)], args.keep, "optimizer_step")
    module = harness.simt.Module(text)
    func = module.funcs["optimizer_step"]
    oargs = []
    for raw in attributes(func, "arg_attrs"):
        role = re.search(r'strata\.arg = "(\w+)"', raw)
        name = re.search(r'strata\.(?:param|state) = "([^"]*)"', raw)
        if role and role.group(1) in ("step", "update_count"):
            oargs.append(np.array(1, dtype=np.int32))
        elif role and role.group(1) == "gradient":
            oargs.append(grads[name.group(1)])
        elif role and role.group(1) == "state":
            owner = name.group(1).rsplit(".", 1)[0]
            oargs.append(np.zeros_like(weights[owner]))
        else:
            oargs.append(weights[name.group(1)])
    _, results, stats = harness.run(module, "optimizer_step", *oargs)
    kinds = result_names(strata, "optimizer_step")
    updated = 0
    worst = None
    for (kind, owner), value in zip(kinds, results):
        value = np.asarray(value)
        if kind == "lr":
            check.close("optimizer_step lr", value.reshape(1), np.array([cpu["lr"]]), 1e-6)
        elif kind == "grad_norm":
            check.close("optimizer_step grad_norm", value.reshape(1), np.array([cpu["grad_norm"]]), 1e-4)
        elif kind == "parameter":
            ref = cpu_trained[owner]
            err = harness.Checker.error(value.reshape(ref.shape), ref)
            worst = max(worst or 0.0, err)
            updated += err <= 1e-4
            if err > 1e-4:
                check.expect("%s updated as on the CPU" % owner, False, "max error %.2e" % err)
    check.expect("optimizer_step (%d launches): %d parameters updated as on the CPU, max error %.2e"
                 % (len(stats["launches"]), updated, worst or 0.0), updated == len(cpu_trained))
    check.finish()


if __name__ == "__main__":
    main()
