#!/usr/bin/env python3
"""CPU benchmark: Strata's generated matmul kernels against OpenBLAS sgemm.

For each shape, writes a kernel module (bench/cuda/gemm.mlir's form: the
operands are parameters), compiles it for the CPU, times `strata-run call`
(median of --repeats; the wall time includes copying the result out), and
times OpenBLAS's cblas_sgemm on the same shape in the same run with the
same thread count (--threads: strata-run's pool and OpenBLAS's). Shapes are
the model's: x·Wᵀ (NT, what every linear layer computes) and A·B (NN).
Prints GFLOP/s for both and Strata's fraction of OpenBLAS.

    /usr/bin/python3 bench/cpu_matmul_vs_openblas.py [--config examples/tiny.yaml]

Needs Debian's libopenblas-dev (scripts/setup.sh installs it).
"""
import argparse
import ctypes
import os
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODULE = """\
func.func @mm() -> tensor<{m}x{n}xf32> {{
  %a = strata.param "a" : tensor<{m}x{k}xf32>
  %b = strata.param "b" : tensor<{bshape}xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<{m}x{n}xf32>
  %c = linalg.fill ins(%zero : f32) outs(%e : tensor<{m}x{n}xf32>) -> tensor<{m}x{n}xf32>
  %r = linalg.matmul {maps} ins(%a, %b : tensor<{m}x{k}xf32>, tensor<{bshape}xf32>)
                     outs(%c : tensor<{m}x{n}xf32>) -> tensor<{m}x{n}xf32>
  return %r : tensor<{m}x{n}xf32>
}}
"""
NT_MAPS = ("indexing_maps = [affine_map<(m, n, k) -> (m, k)>, "
           "affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]")


def strata_ms(bin_dir, work, m, n, k, transposed, repeats, cpu, threads):
    text = MODULE.format(m=m, n=n, k=k,
                         bshape=f"{n}x{k}" if transposed else f"{k}x{n}",
                         maps=NT_MAPS if transposed else "")
    src = os.path.join(work, "mm.mlir")
    exe = os.path.join(work, "mm.strata")
    with open(src, "w") as f:
        f.write(text)
    subprocess.run([os.path.join(bin_dir, "strata-compile"), src,
                    "--emit=executable", f"--cpu={cpu}", "-o", exe],
                   check=True)
    out = subprocess.run([os.path.join(bin_dir, "strata-run"), "call", exe,
                          "--entry", "mm", "--repeats", str(repeats),
                          "--threads", str(threads)],
                         check=True, capture_output=True, text=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("call_ms"))
    return float(line.split()[1])


def openblas_ms(lib, m, n, k, transposed, repeats):
    a = (ctypes.c_float * (m * k))(*([0.5] * (m * k)))
    b = (ctypes.c_float * (k * n))(*([0.25] * (k * n)))
    c = (ctypes.c_float * (m * n))()
    row_major, no_trans, trans = 101, 111, 112
    ldb = k if transposed else n
    args = (row_major, no_trans, trans if transposed else no_trans, m, n, k,
            ctypes.c_float(1.0), a, k, b, ldb, ctypes.c_float(0.0), c, n)
    lib.cblas_sgemm(*args)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        lib.cblas_sgemm(*args)
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return times[len(times) // 2]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--cpu", default="x86-64-v2",
                   help="strata-compile --cpu (x86-64-v2 is its default)")
    a = p.parse_args()
    bin_dir = os.path.join(a.build, "bin")
    # (name, M, N, K, x·Wᵀ?): the example model's projections over a
    # 256-token prompt and its LM head; a 1024-wide layer; a square GEMM.
    shapes = [("tiny q_proj", 256, 64, 64, True),
              ("tiny up_proj", 256, 128, 64, True),
              ("tiny lm_head", 256, 512, 64, True),
              ("1024-wide up_proj", 128, 2816, 1024, True),
              ("square A·B", 512, 512, 512, False)]
    print(f"Strata --cpu={a.cpu}, {a.threads} thread(s)")
    print(f"{'shape':20} {'M':>5} {'N':>5} {'K':>5}  {'Strata GFLOP/s':>14} "
          f"{'OpenBLAS GFLOP/s':>16} {'ratio':>6}")
    # Strata first, OpenBLAS after: OpenBLAS's worker threads keep spinning
    # between calls, and in this process they would take the cores from
    # strata-run's own workers.
    with tempfile.TemporaryDirectory() as work:
        ours = [strata_ms(bin_dir, work, m, n, k, nt, a.repeats, a.cpu, a.threads)
                for _, m, n, k, nt in shapes]
    os.environ["OPENBLAS_NUM_THREADS"] = str(a.threads)
    lib = ctypes.CDLL("libopenblas.so.0")
    lib.openblas_set_num_threads(a.threads)
    for (name, m, n, k, nt), mine in zip(shapes, ours):
        flop = 2.0 * m * n * k
        blas = openblas_ms(lib, m, n, k, nt, a.repeats)
        print(f"{name:20} {m:5} {n:5} {k:5}  {flop / mine / 1e6:14.2f} "
              f"{flop / blas / 1e6:16.2f} {blas / mine:6.3f}")


if __name__ == "__main__":
    main()
