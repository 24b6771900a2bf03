#!/usr/bin/env python3
"""CPU benchmark: the int8 quantized linear layer against the f32 one.

For each of a 150M Llama-style model's projection shapes (x·Wᵀ over a
prompt of M tokens), writes a kernel module holding `strata.linear` (f32
weights) or `strata.quantized_linear` (int8 weights with per-channel
scales; w8a16, w8a8_dynamic or static w8a8), compiles each (the default
portable build: on a CPU with AVX-512 VNNI the int8 contractions run
vpdpbusd),
times `strata-run call` (median of --repeats; the wall time includes the
activation quantization, the scale epilogue and copying the result out)
alternating the variants, and prints GFLOP/s and each int8 form's speed
relative to f32 in the same run with the same thread count. Target (issue
16): int8 GEMM throughput on the model's shapes >= 2x the f32 kernel.

    /usr/bin/python3 bench/cpu_int8_gemm.py [--threads 1] [--repeats 7] [--rounds 3]
"""
import argparse
import os
import statistics
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

LINEAR = """\
func.func @mm() -> tensor<{m}x{n}xf32> {{
  %x = strata.param "x" : tensor<{m}x{k}xf32>
  %w = strata.param "w" : tensor<{n}x{k}xf32>
  %y = strata.linear %x, %w : tensor<{m}x{k}xf32>, tensor<{n}x{k}xf32>
  return %y : tensor<{m}x{n}xf32>
}}
"""
QUANTIZED = """\
func.func @mm() -> tensor<{m}x{n}xf32> {{
  %x = strata.param "x" : tensor<{m}x{k}xf32>
  %w = strata.param "w" {{scale = "w_scale"}} : tensor<{n}x{k}xi8>
  %s = strata.param "w_scale" : tensor<{n}xf32>
  %y = strata.quantized_linear %x, %w, %s {{scheme = #strata.quant_scheme<{scheme}>}} : tensor<{m}x{k}xf32>, tensor<{n}x{k}xi8>, tensor<{n}xf32>
  return %y : tensor<{m}x{n}xf32>
}}
"""
# Static w8a8: its activation scale and zero point as parameters (1 and 0
# as drawn; the weight does not name them, so the kernel module is not a
# model waiting for calibration).
STATIC = """\
func.func @mm() -> tensor<{m}x{n}xf32> {{
  %x = strata.param "x" : tensor<{m}x{k}xf32>
  %w = strata.param "w" {{scale = "w_scale"}} : tensor<{n}x{k}xi8>
  %s = strata.param "w_scale" : tensor<{n}xf32>
  %xs = strata.param "x_scale" {{init = #strata.init<ones>}} : tensor<1xf32>
  %xz = strata.param "x_zero" {{init = #strata.init<zeros>}} : tensor<1xf32>
  %y = strata.quantized_linear %x, %w, %s input(%xs, %xz) {{scheme = #strata.quant_scheme<w8a8>}} : tensor<{m}x{k}xf32>, tensor<{n}x{k}xi8>, tensor<{n}xf32> input tensor<1xf32>, tensor<1xf32>
  return %y : tensor<{m}x{n}xf32>
}}
"""
VARIANTS = ["f32", "w8a16", "w8a8_dynamic", "w8a8"]


def compile_module(bin_dir, work, variant, m, n, k):
    text = (LINEAR.format(m=m, n=n, k=k) if variant == "f32"
            else STATIC.format(m=m, n=n, k=k) if variant == "w8a8"
            else QUANTIZED.format(m=m, n=n, k=k, scheme=variant))
    src = os.path.join(work, f"{variant}.mlir")
    exe = os.path.join(work, f"{variant}-{m}x{n}x{k}.strata")
    with open(src, "w") as f:
        f.write(text)
    subprocess.run([os.path.join(bin_dir, "strata-compile"), src, "--emit=executable",
                    "-o", exe], check=True)
    return exe


def call_ms(bin_dir, exe, repeats, threads):
    out = subprocess.run([os.path.join(bin_dir, "strata-run"), "call", exe, "--entry", "mm",
                          "--seed", "1", "--repeats", str(repeats), "--threads", str(threads)],
                         check=True, capture_output=True, text=True).stdout
    return float(next(l for l in out.splitlines() if l.startswith("call_ms")).split()[1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    bin_dir = os.path.join(a.build, "bin")
    # bench/configs/decode-dense.yaml's projections over a 128-token prompt.
    shapes = [("q_proj / o_proj", 128, 768, 768), ("k_proj / v_proj", 128, 256, 768),
              ("gate / up", 128, 2048, 768), ("down", 128, 768, 2048),
              ("lm_head", 128, 32000, 768)]
    print(f"{a.threads} thread(s), median of {a.rounds} rounds x {a.repeats} calls")
    print(f"{'shape':16} {'M':>4} {'N':>6} {'K':>5}  " +
          " ".join(f"{v + ' GFLOP/s':>20}" for v in VARIANTS) + "  int8/f32")
    with tempfile.TemporaryDirectory() as work:
        for name, m, n, k in shapes:
            exes = {v: compile_module(bin_dir, work, v, m, n, k) for v in VARIANTS}
            times = {v: [] for v in VARIANTS}
            for _ in range(a.rounds):
                for v in VARIANTS:
                    times[v].append(call_ms(bin_dir, exes[v], a.repeats, a.threads))
            med = {v: statistics.median(t) for v, t in times.items()}
            flop = 2.0 * m * n * k
            ratios = " ".join(f"{med['f32'] / med[v]:.2f}x" for v in VARIANTS[1:])
            print(f"{name:16} {m:4} {n:6} {k:5}  " +
                  " ".join(f"{flop / med[v] / 1e6:20.2f}" for v in VARIANTS) + f"  {ratios}",
                  flush=True)


if __name__ == "__main__":
    main()
