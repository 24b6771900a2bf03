#!/usr/bin/env python3
"""What int8 quantization costs a model trained on real text.

Byte-level tokens of the text files Debian ships: /usr/share/common-licenses
and /usr/share/doc/*/copyright, each copyright file held out for evaluation
when the CRC-32 of its path is 0 mod 10 (the rest are training data).
Trains bench/configs/bytes-lm.yaml with strata-run train (or takes
--weights), compiles it in f32 and with each --quantize scheme, quantizes
the trained weights (strata-run quantize) and runs strata-run eval on the
held-out tokens against the f32 model: perplexity, top-1 agreement and
mean KL. Static w8a8 is calibrated on the first --calibration-samples
windows of 256 training tokens, once per observer (minmax, percentile,
mse). Targets (issue 16): top-1 agreement >= 99% and perplexity within
+1% for w8a16, >= 97% and +3% for static w8a8. Run from the repository
root after a build:

    /usr/bin/python3 bench/quantization_accuracy.py [--steps 400] [--weights W]
        [--work DIR] [--json OUT.json]
"""
import argparse
import glob
import json
import os
import struct
import subprocess
import tempfile
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_tokens(path, data):
    with open(path, "wb") as f:
        f.write(struct.pack(f"<{len(data)}I", *data))


def build_data(work):
    train, held = bytearray(), bytearray()
    for f in sorted(glob.glob("/usr/share/common-licenses/*")):
        if os.path.isfile(f):
            train += open(f, "rb").read()
    held_files = 0
    for f in sorted(glob.glob("/usr/share/doc/*/copyright")):
        text = open(f, "rb").read()
        if zlib.crc32(f.encode()) % 10 == 0:
            held += text
            held_files += 1
        else:
            train += text
    write_tokens(os.path.join(work, "train.bin"), train)
    write_tokens(os.path.join(work, "held.bin"), held)
    return len(train), len(held), held_files


def run(*args, capture=False):
    out = subprocess.run([str(a) for a in args], check=True, text=True,
                         capture_output=capture)
    return out.stdout if capture else None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--config", default=os.path.join(ROOT, "bench", "configs", "bytes-lm.yaml"))
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--weights", help="trained f32 weights (skips training)")
    p.add_argument("--work", help="keep the files here")
    p.add_argument("--eval-windows", type=int, default=0,
                   help="evaluate only the first N windows of 256 tokens")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--calibration-samples", type=int, default=64,
                   help="static w8a8: training windows to calibrate on")
    a = p.parse_args()
    bin_dir = os.path.join(a.build, "bin")
    compile_, strata_run = (os.path.join(bin_dir, t) for t in ("strata-compile", "strata-run"))
    work = a.work or tempfile.mkdtemp()
    os.makedirs(work, exist_ok=True)
    n_train, n_held, held_files = build_data(work)
    print(f"data: {n_train} training bytes, {n_held} held-out bytes ({held_files} files)")
    weights = a.weights
    if not weights:
        exe = os.path.join(work, "train.strata")
        run(compile_, a.config, "--train", "--emit=executable", "-o", exe)
        weights = os.path.join(work, "trained.safetensors")
        print(run(strata_run, "train", exe, "--data", os.path.join(work, "train.bin"),
                  "--steps", a.steps, "--progress", "none", "--save-weights", weights,
                  capture=True).strip())
    f32 = os.path.join(work, "f32.strata")
    run(compile_, a.config, "--weights-dtype", "f32", "--emit=executable", "-o", f32)
    results = {"steps": a.steps if not a.weights else None, "train_bytes": n_train,
               "held_out_bytes": n_held, "schemes": {}}
    extra = ["--max-windows", a.eval_windows] if a.eval_windows else []
    variants = [("w8a16", "w8a16", []), ("w8a8-dynamic", "w8a8-dynamic", [])]
    calibration = ["--calibration-data", os.path.join(work, "train.bin"), "--samples",
                   a.calibration_samples, "--seq-len", 256]
    for observer in ("minmax", "percentile", "mse"):
        variants.append((f"w8a8-{observer}", "w8a8", calibration + ["--observer", observer]))
    for name, scheme, quantize_args in variants:
        exe = os.path.join(work, f"{scheme}.strata")
        qw = os.path.join(work, f"{name}.safetensors")
        out_json = os.path.join(work, f"{name}.json")
        if not os.path.exists(exe):
            run(compile_, a.config, "--quantize", scheme, "--emit=executable", "-o", exe)
        run(strata_run, "quantize", exe, "--weights", weights, "-o", qw, *quantize_args,
            capture=True)
        text = run(strata_run, "eval", exe, "--weights", qw, "--data",
                   os.path.join(work, "held.bin"), "--seq-len", 256, "--reference", f32,
                   "--reference-weights", weights, "--json", out_json, *extra, capture=True)
        print(f"--- {name}\n{text.strip()}")
        r = json.load(open(out_json))
        r["perplexity_change"] = r["perplexity"] / r["reference_perplexity"] - 1
        results["schemes"][name] = r
    for scheme, r in results["schemes"].items():
        print(f"{scheme}: top-1 agreement {100 * r['top1_agreement']:.2f}%, perplexity "
              f"{r['perplexity']:.4f} vs f32 {r['reference_perplexity']:.4f} "
              f"({100 * r['perplexity_change']:+.3f}%), mean KL {r['mean_kl']:.3g}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
