#!/usr/bin/env python3
"""The default (portable) CPU executable against one built for this CPU.

Compiles a config twice — without --cpu (kernels for x86-64-v2, -v3 and
-v4; the runtime picks the best this CPU runs) and with --cpu=native — and
times prefill and greedy decode of each with strata-run bench, same
weights, same thread count, alternating runs. Prints both and the ratios
(1.00: the default is as fast as native). Also the forced x86-64-v2 build,
what the default used to be. Run from the repository root after a build:

    /usr/bin/python3 bench/cpu_default_vs_native.py [--config examples/tiny.yaml]
"""
import argparse
import os
import re
import statistics
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", default=os.path.join(ROOT, "examples", "tiny.yaml"))
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--prefill", type=int, default=64)
    p.add_argument("--decode", type=int, default=16)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    bin_dir = os.path.join(a.build, "bin")
    tmp = tempfile.mkdtemp()
    exes = {"default": os.path.join(tmp, "default.strata"),
            "native": os.path.join(tmp, "native.strata")}
    subprocess.run([os.path.join(bin_dir, "strata-compile"), a.config,
                    "--emit=executable", "-o", exes["default"]], check=True)
    # This CPU's name as GCC (and LLVM) know it.
    target = subprocess.run(["gcc", "-march=native", "-Q", "--help=target"],
                            capture_output=True, text=True).stdout
    native = re.search(r"-march=\s+(\S+)", target).group(1)
    subprocess.run([os.path.join(bin_dir, "strata-compile"), a.config, f"--cpu={native}",
                    "--emit=executable", "-o", exes["native"]], check=True)
    runs = {"default": exes["default"], "native": exes["native"],
            "x86-64-v2": exes["default"]}
    chosen = subprocess.run([os.path.join(bin_dir, "strata-run"), "inspect", exes["default"]],
                            check=True, capture_output=True, text=True).stdout
    chosen = [l for l in chosen.splitlines() if l.startswith("this machine runs")]
    # decode_step_ms: one step after the first (decode_ms_per_token would
    # include the prompt's prefill).
    results = {k: {"prefill_ms": [], "decode_step_ms": []} for k in runs}
    for _ in range(a.rounds):
        for name, exe in runs.items():
            env = dict(os.environ)
            env.pop("STRATA_CPU", None)
            if name == "x86-64-v2":
                env["STRATA_CPU"] = "x86-64-v2"
            out = subprocess.run([os.path.join(bin_dir, "strata-run"), "bench", exe,
                                  "--seed", "1", "--prefill", str(a.prefill),
                                  "--decode", str(a.decode), "--repeats", str(a.repeats),
                                  "--threads", str(a.threads)],
                                 check=True, capture_output=True, text=True,
                                 env=env).stdout.split()
            d = dict(zip(out[0::2], map(float, out[1::2])))
            for k in results[name]:
                results[name][k].append(d[k])
    med = {n: {k: statistics.median(v) for k, v in r.items()} for n, r in results.items()}
    print(f"config {os.path.basename(a.config)}, prefill {a.prefill}, decode {a.decode}, "
          f"{a.threads} thread(s); native is --cpu={native}; "
          f"{chosen[0] if chosen else ''}")
    for n, r in med.items():
        print(f"{n:10s} prefill_ms {r['prefill_ms']:.2f} decode_step_ms "
              f"{r['decode_step_ms']:.3f}")
    for k in ("prefill_ms", "decode_step_ms"):
        print(f"ratio default/native {k} {med['default'][k] / med['native'][k]:.3f}; "
              f"x86-64-v2/native {med['x86-64-v2'][k] / med['native'][k]:.3f}")


if __name__ == "__main__":
    main()
