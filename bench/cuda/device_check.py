#!/usr/bin/env python3
"""The CUDA device check: numerics and benchmarks on one GPU.

Runs on the device machine over the artifacts that prepare_device_check.sh
built (strata-run and compiled executables in one folder); needs PyTorch
with CUDA and the safetensors package there. Every result is printed and
written to $OUT/device_check.json and $OUT/device_check.txt.

Numerics: each model's CUDA executable against its CPU executable, same
seeded weights: logits of a prompt within tolerance, and identical greedy
tokens (prefill plus cached decode). The GEMM and attention kernel modules
are checked against torch on the weights they were called with.

Benchmarks, each against a peer measured in the same run:
  GEMM 4096^3: Strata (f32) vs torch.matmul (cuBLAS) in f32 and bf16.
  int8 GEMM 4096^3 (a w8a8-dynamic linear layer on s8 mma.sync): Strata vs
  the same layer in torch (quantize, torch._int_mm, dequantize) and vs
  _int_mm alone (cuBLAS int8).
  Attention (causal, seq 4096, 8 heads of 128): Strata vs torch SDPA.
  MoE layer (4096 tokens, 16 experts of 512 on 1024, top 2): Strata's
  grouped expert GEMMs vs the eager per-expert loop of HF Mixtral in torch.
  Decode: ms/token vs the bound set by reading the weights once at the
  device-to-device copy bandwidth measured here.
"""
import json
import os
import subprocess
import sys
import time

import torch

ART = sys.argv[1] if len(sys.argv) > 1 else ".device"
OUT = os.environ.get("OUT", "/tmp/strata-device-check")
os.makedirs(OUT, exist_ok=True)
RUN = os.path.join(ART, "strata-run")
PROMPT = "1,5,9,13,17,21,25,29"
report = {"date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
lines = []
failures = []


def say(text):
    print(text, flush=True)
    lines.append(text)


def strata(*args, timeout=300):
    proc = subprocess.run([RUN, *args], capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"strata-run {' '.join(args)} failed: "
                           f"{proc.stderr.strip()}")
    return proc.stdout


def cuda_time_ms(fn, repeats=10, warmup=3):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start, stop = (torch.cuda.Event(enable_timing=True) for _ in range(2))
    times = []
    for _ in range(repeats):
        start.record()
        fn()
        stop.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(stop))
    times.sort()
    return times[len(times) // 2]


def parse_call(text):
    for line in text.splitlines():
        if line.startswith("call_ms"):
            words = line.split()
            return float(words[1]), float(words[3])
    raise RuntimeError("no timing line in: " + text)


def check(name, ok, detail):
    say(f"{'PASS' if ok else 'FAIL'} {name}: {detail}")
    report.setdefault("checks", {})[name] = {"pass": ok, "detail": detail}
    if not ok:
        failures.append(name)


def logits(exe, cuda=False):
    """`strata-run logits` of the check's prompt with seed 7, as a tensor."""
    args = ["logits", exe, "--seed", "7", "--tokens",
            PROMPT] + (["--device=cuda"] if cuda else [])
    return torch.tensor([[float(v) for v in l.split()]
                         for l in strata(*args).splitlines()])


def numerics():
    for model in ["tiny", "micro", "mixtral-small", "deepseek-v2-small"]:
        cpu_exe = os.path.join(ART, f"{model}-cpu.strata")
        gpu_exe = os.path.join(ART, f"{model}-cuda.strata")
        try:
            cpu = logits(cpu_exe)
            gpu = logits(gpu_exe, cuda=True)
            err = (cpu - gpu).abs().max().item()
            rel = err / max(cpu.abs().max().item(), 1e-30)
            check(f"logits {model}", rel < 1e-4,
                  f"max abs err {err:.3g}, relative {rel:.3g} (f32; "
                  f"tolerance 1e-4 relative)")
            args = ["infer", "--seed", "7", "--tokens", "1,2,3",
                    "--max-new-tokens", "24", "--verbose"]
            cpu_out = strata(args[0], cpu_exe, *args[1:]).splitlines()
            gpu_out = strata(args[0], gpu_exe, *args[1:],
                             "--device=cuda").splitlines()
            check(f"greedy {model}", cpu_out[-1] == gpu_out[-1],
                  f"cpu {cpu_out[-1]} | cuda {gpu_out[-1]} | {gpu_out[0]}")
        except Exception as e:  # one model's failure must not hide others
            check(f"model {model}", False, str(e))
    for model in ["tiny", "deepseek-v2-small"]:
        try:  # tensor cores round operands to bf16: bf16 tolerance
            cpu = logits(os.path.join(ART, f"{model}-cpu.strata"))
            tc = logits(os.path.join(ART, f"{model}-cuda-tc.strata"), cuda=True)
            rel = ((cpu - tc).abs().max() / cpu.abs().max()).item()
            check(f"logits {model} --tensor-cores", rel < 2e-2,
                  f"relative max error {rel:.3g} (bf16 operands; tolerance "
                  f"2e-2 relative)")
        except Exception as e:
            check(f"model {model} --tensor-cores", False, str(e))
    for model in ["micro-w8a16", "micro-w8a8-dynamic"]:
        try:  # int8 models: the same quantized weights; bf16 tolerance for
            # w8a16's rounded activations, a quantization step for w8a8's
            cpu_exe = os.path.join(ART, f"{model}-cpu.strata")
            tc_exe = os.path.join(ART, f"{model}-cuda-tc.strata")
            cpu = logits(cpu_exe)
            tc = logits(tc_exe, cuda=True)
            rel = ((cpu - tc).abs().max() / cpu.abs().max()).item()
            check(f"logits {model} --tensor-cores", rel < 2e-2,
                  f"relative max error {rel:.3g} (tolerance 2e-2 relative)")
            args = ["infer", "--seed", "7", "--tokens", "1,2,3",
                    "--max-new-tokens", "16"]
            cpu_out = strata(args[0], cpu_exe, *args[1:]).splitlines()
            gpu_out = strata(args[0], tc_exe, *args[1:],
                             "--device=cuda").splitlines()
            check(f"greedy {model} --tensor-cores", cpu_out[-1] == gpu_out[-1],
                  f"cpu {cpu_out[-1]} | cuda {gpu_out[-1]}")
        except Exception as e:
            check(f"model {model} --tensor-cores", False, str(e))
    try:
        auto = strata("infer", os.path.join(ART, "tiny-cpu.strata"),
                      "--seed", "7", "--tokens", "1,2,3",
                      "--max-new-tokens", "4", "--verbose", "--device=auto")
        check("device=auto on a CPU executable", ", cpu)" in auto,
              auto.splitlines()[0])
    except Exception as e:
        check("device=auto on a CPU executable", False, str(e))


def call_kernel_module(name, seed, repeats, elements, build=None):
    """Calls `name` of .device/<build or name>-cuda.strata with seeded
    weights; returns (call ms, device ms, the weights on the GPU, the
    result)."""
    from safetensors.torch import load_file
    exe = os.path.join(ART, f"{build or name}-cuda.strata")
    w, out = f"/tmp/{name}.safetensors", f"/tmp/{name}.out"
    text = strata("call", exe, "--entry", name, "--seed", str(seed),
                  "--repeats", str(repeats), "--device=cuda",
                  "--save-weights", w, "--output", out)
    call_ms, device_ms = parse_call(text)
    weights = {k: v.cuda() for k, v in load_file(w).items()}
    os.remove(w)
    result = torch.from_file(out, size=elements, dtype=torch.float32).cuda()
    return call_ms, device_ms, weights, result


def gemm():
    n = 4096
    call_ms, device_ms, P, ours = call_kernel_module("gemm", 3, 5, n * n)
    ref = (P["a"].double() @ P["b"].double()).float().reshape(-1)
    rel = ((ours - ref).abs().max() / ref.abs().max()).item()
    check("gemm 4096^3 vs torch (f64 reference)", rel < 1e-4,
          f"relative max error {rel:.3g}")
    flop = 2 * n ** 3
    torch.backends.cuda.matmul.allow_tf32 = False
    a32, b32 = P["a"], P["b"]
    f32_ms = cuda_time_ms(lambda: a32 @ b32)
    a16, b16 = a32.bfloat16(), b32.bfloat16()
    bf16_ms = cuda_time_ms(lambda: a16 @ b16)
    r = {"strata_f32_ms": device_ms, "strata_call_ms": call_ms,
         "strata_tflops": flop / device_ms / 1e9,
         "cublas_f32_ms": f32_ms, "cublas_f32_tflops": flop / f32_ms / 1e9,
         "cublas_bf16_ms": bf16_ms,
         "cublas_bf16_tflops": flop / bf16_ms / 1e9}
    r["ratio_vs_cublas_f32"] = f32_ms / device_ms
    r["ratio_vs_cublas_bf16"] = bf16_ms / device_ms
    report["gemm"] = r
    say(f"GEMM 4096^3: Strata {r['strata_tflops']:.2f} TFLOP/s (f32, "
        f"{device_ms:.2f} ms) | cuBLAS f32 {r['cublas_f32_tflops']:.1f} "
        f"TFLOP/s | cuBLAS bf16 {r['cublas_bf16_tflops']:.1f} TFLOP/s | "
        f"ratio vs bf16 {r['ratio_vs_cublas_bf16']:.4f}, vs f32 "
        f"{r['ratio_vs_cublas_f32']:.4f}")
    # The tensor-core build (--tensor-cores: bf16 mma.sync, f32
    # accumulation): against the f64 product of the bf16-rounded inputs,
    # which is what it computes up to f32 summation order.
    call_ms, tc_ms, P, ours = call_kernel_module("gemm", 3, 5, n * n,
                                                 build="gemm-tc")
    a, b = (P[x].bfloat16().double() for x in "ab")
    ref = (a @ b).float().reshape(-1)
    rel = ((ours - ref).abs().max() / ref.abs().max()).item()
    check("gemm 4096^3 on tensor cores vs f64 of bf16 inputs", rel < 1e-3,
          f"relative max error {rel:.3g}")
    r.update({"strata_tc_ms": tc_ms, "strata_tc_tflops": flop / tc_ms / 1e9,
              "tc_ratio_vs_cublas_bf16": bf16_ms / tc_ms})
    say(f"GEMM 4096^3 tensor cores: Strata {r['strata_tc_tflops']:.2f} "
        f"TFLOP/s ({tc_ms:.2f} ms) | ratio vs cuBLAS bf16 "
        f"{r['tc_ratio_vs_cublas_bf16']:.4f} (target 0.7)")


def quantize_rows(x):
    """w8a8-dynamic's activations: each row of x rounded half-even to
    [-127, 127] by s_x = max|x| / 127 (1 for a zero row); (x_q, s_x)."""
    amax = x.abs().amax(-1, keepdim=True)
    sx = torch.where(amax > 0, amax / 127.0, torch.ones_like(amax))
    return torch.round(x / sx).clamp(-127, 127), sx


def int8_reference(P):
    """w8a8-dynamic's linear on the saved weights (int8 W and its scales):
    quantize_rows in f64, exact int products (sums below 2^53),
    dequantized."""
    xq, sx = quantize_rows(P["x"].reshape(-1, P["x"].shape[-1]).double())
    acc = xq @ P["w"].double().t()
    return (acc * sx * P["w_scale"].double()).float().reshape(-1)


def gemm_int8():
    """The w8a8-dynamic linear layer at 4096^3 (quantize rows, int8 GEMM,
    dequantize) on s8 mma.sync tiles, against torch: the same three steps
    with torch._int_mm (cuBLAS int8), and _int_mm alone."""
    n = 4096
    call_ms, tc_ms, P, ours = call_kernel_module("gemm_int8", 3, 5, n * n,
                                                 build="gemm-int8-tc")
    ref = int8_reference(P)
    rel = ((ours - ref).abs().max() / ref.abs().max()).item()
    # A row scale differing in its last bit can move one x_q by a step.
    check("gemm_int8 4096^3 (w8a8-dynamic) vs torch's reference of the "
          "scheme", rel < 1e-3, f"relative max error {rel:.3g}")
    x = P["x"].reshape(n, n)
    w = P["w"].to(torch.int8)
    wt = w.t()
    sw = P["w_scale"]

    def torch_layer():
        xq, sx = quantize_rows(x)
        return torch._int_mm(xq.to(torch.int8), wt).float() * sx * sw

    xq = quantize_rows(x)[0].to(torch.int8)
    layer_ms = cuda_time_ms(torch_layer)
    int_mm_ms = cuda_time_ms(lambda: torch._int_mm(xq, wt))
    flop = 2 * n ** 3
    r = {"strata_tc_ms": tc_ms, "strata_call_ms": call_ms,
         "strata_tops": flop / tc_ms / 1e9,
         "torch_layer_ms": layer_ms, "int_mm_ms": int_mm_ms,
         "int_mm_tops": flop / int_mm_ms / 1e9,
         "ratio_vs_torch_layer": layer_ms / tc_ms,
         "ratio_vs_int_mm": int_mm_ms / tc_ms}
    report["gemm_int8"] = r
    say(f"int8 GEMM 4096^3 (w8a8-dynamic layer, s8 mma.sync): Strata "
        f"{tc_ms:.2f} ms ({r['strata_tops']:.1f} TOP/s) | torch quantize + "
        f"_int_mm + dequantize {layer_ms:.2f} ms | _int_mm alone "
        f"{int_mm_ms:.3f} ms ({r['int_mm_tops']:.0f} TOP/s) | ratio vs the "
        f"torch layer {r['ratio_vs_torch_layer']:.3f}, vs _int_mm "
        f"{r['ratio_vs_int_mm']:.4f}")


def attention():
    S, H, D = 4096, 8, 128
    call_ms, device_ms, P, ours = call_kernel_module("attention", 5, 3,
                                                     S * H * D)
    q, k, v = (P[n].reshape(1, S, H, D).transpose(1, 2) for n in "qkv")
    sdpa = torch.nn.functional.scaled_dot_product_attention
    ref = sdpa(q.double(), k.double(), v.double(), is_causal=True)
    ref = ref.transpose(1, 2).reshape(-1).float()
    rel = ((ours - ref).abs().max() / ref.abs().max()).item()
    check("attention 4096x8x128 vs torch SDPA (f64)", rel < 1e-4,
          f"relative max error {rel:.3g}")
    f32_ms = cuda_time_ms(lambda: sdpa(q, k, v, is_causal=True))
    qb, kb, vb = q.bfloat16(), k.bfloat16(), v.bfloat16()
    bf16_ms = cuda_time_ms(lambda: sdpa(qb, kb, vb, is_causal=True))
    r = {"strata_f32_ms": device_ms, "strata_call_ms": call_ms,
         "sdpa_f32_ms": f32_ms, "sdpa_bf16_ms": bf16_ms,
         "ratio_vs_sdpa_bf16": bf16_ms / device_ms,
         "ratio_vs_sdpa_f32": f32_ms / device_ms}
    report["attention"] = r
    say(f"Attention causal S=4096 H=8 D=128: Strata {device_ms:.2f} ms (f32) "
        f"| SDPA f32 {f32_ms:.3f} ms | SDPA bf16 {bf16_ms:.3f} ms | "
        f"throughput ratio vs bf16 {r['ratio_vs_sdpa_bf16']:.4f}, vs f32 "
        f"{r['ratio_vs_sdpa_f32']:.4f}")
    # The tensor-core build (64-query tiles, q·kᵀ and P·V as bf16
    # mma.sync; probabilities rounded to bf16 as SDPA's bf16 kernels do):
    # against f64 SDPA of the bf16-rounded inputs, at bf16 tolerance.
    call_ms, tc_ms, P, ours = call_kernel_module("attention", 5, 3, S * H * D,
                                                 build="attention-tc")
    q, k, v = (P[n].reshape(1, S, H, D).transpose(1, 2) for n in "qkv")
    ref = sdpa(*(x.bfloat16().double() for x in (q, k, v)), is_causal=True)
    ref = ref.transpose(1, 2).reshape(-1).float()
    rel = ((ours - ref).abs().max() / ref.abs().max()).item()
    check("attention 4096x8x128 on tensor cores vs f64 SDPA of bf16 inputs",
          rel < 2e-2, f"relative max error {rel:.3g}")
    r.update({"strata_tc_ms": tc_ms,
              "tc_ratio_vs_sdpa_bf16": bf16_ms / tc_ms})
    say(f"Attention tensor cores: Strata {tc_ms:.3f} ms | throughput ratio "
        f"vs SDPA bf16 {r['tc_ratio_vs_sdpa_bf16']:.4f} (target 0.5)")


def moe_eager(P, dtype, route=None):
    """HF Mixtral's sparse MoE block: softmax router, top 2 renormalised,
    then a loop over experts on the tokens that selected each. `route`
    (weights, experts) overrides the routing."""
    x = P["x"].reshape(-1, P["x"].shape[-1]).to(dtype)
    if route is None:
        scores = torch.softmax(x.float() @ P["gate"].float().t(), dim=-1)
        weights, experts = torch.topk(scores, 2, dim=-1)
        weights = weights / weights.sum(dim=-1, keepdim=True)
    else:
        weights, experts = route
    weights = weights.to(dtype)
    w1, w3, w2 = (P[n].to(dtype) for n in ("w1", "w3", "w2"))
    out = torch.zeros_like(x)
    for e in range(w1.shape[0]):
        token, slot = torch.where(experts == e)
        if token.numel() == 0:
            continue
        h = x[token]
        y = (torch.nn.functional.silu(h @ w1[e].t()) * (h @ w3[e].t())) @ w2[e].t()
        out.index_add_(0, token, y * weights[token, slot, None])
    return out


def moe():
    n, d, f, e = 4096, 1024, 512, 16
    call_ms, device_ms, P, ours = call_kernel_module("moe", 9, 3, n * d)
    # Routing in f32 as Strata does; the experts in f64. A token whose 2nd
    # and 3rd scores tie within f32 rounding may route differently: at
    # most 0.1% of rows may differ.
    scores = torch.softmax(P["x"].reshape(n, d) @ P["gate"].t(), dim=-1)
    weights, experts = torch.topk(scores, 2, dim=-1)
    weights = (weights / weights.sum(dim=-1, keepdim=True)).double()
    ref = moe_eager(P, torch.float64, (weights, experts)).float()
    ours = ours.reshape(n, d)
    row_err = (ours - ref).abs().amax(dim=1) / ref.abs().max()
    bad = int((row_err > 1e-4).sum().item())
    check("moe 4096 tokens, 16 experts, top 2 vs torch (f64 experts)",
          bad <= n // 1000,
          f"{bad} rows over 1e-4 relative; median row error "
          f"{row_err.median().item():.3g}")
    torch.backends.cuda.matmul.allow_tf32 = False
    f32_ms = cuda_time_ms(lambda: moe_eager(P, torch.float32), repeats=5)
    bf16_ms = cuda_time_ms(lambda: moe_eager(P, torch.bfloat16), repeats=5)
    flop = 2 * n * 2 * d * f * 3
    r = {"strata_f32_ms": device_ms, "strata_call_ms": call_ms,
         "strata_tflops": flop / device_ms / 1e9,
         "eager_f32_ms": f32_ms, "eager_bf16_ms": bf16_ms,
         "ratio_vs_eager_f32": f32_ms / device_ms,
         "ratio_vs_eager_bf16": bf16_ms / device_ms}
    call_ms, tc_ms, _, _ = call_kernel_module("moe", 9, 3, n * d,
                                              build="moe-tc")
    r.update({"strata_tc_ms": tc_ms,
              "tc_ratio_vs_eager_bf16": bf16_ms / tc_ms})
    report["moe"] = r
    say(f"MoE 4096 tokens x 16 experts (top 2): Strata {device_ms:.2f} ms "
        f"(f32, {r['strata_tflops']:.2f} TFLOP/s of expert GEMMs), "
        f"{tc_ms:.2f} ms (tensor cores) | eager torch f32 {f32_ms:.2f} ms, "
        f"bf16 {bf16_ms:.2f} ms | ratio vs eager f32 "
        f"{r['ratio_vs_eager_f32']:.3f}, tensor cores vs eager bf16 "
        f"{r['tc_ratio_vs_eager_bf16']:.3f}")


def decode():
    exe = os.path.join(ART, "decode-bench-cuda.strata")
    inspect = strata("inspect", exe)
    elements = next(int(l.split("(")[1].split()[0]) for l in
                    inspect.splitlines() if l.startswith("parameters:"))
    weight_bytes = elements * 4
    buf = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(buf)
    copy_ms = cuda_time_ms(lambda: dst.copy_(buf))
    bandwidth = 2 * buf.numel() / (copy_ms / 1e3)  # bytes read + written
    del buf, dst
    bound_ms = weight_bytes / bandwidth * 1e3
    text = strata("bench", exe, "--seed", "1", "--prefill", "32",
                  "--decode", "32", "--repeats", "3", "--device=cuda",
                  timeout=600)
    words = text.split()
    prefill_ms = float(words[words.index("prefill_ms") + 1])
    decode_ms = float(words[words.index("decode_ms_per_token") + 1])
    step_device_ms = float(words[words.index("last_step_device_ms") + 1])
    step_ms = float(words[words.index("decode_step_ms") + 1])
    r = {"weight_bytes": weight_bytes, "copy_bandwidth_gbs": bandwidth / 1e9,
         "bound_ms": bound_ms, "decode_ms_per_token": decode_ms,
         "prefill_ms_32": prefill_ms, "ratio_to_bound": decode_ms / bound_ms,
         "last_step_device_ms": step_device_ms, "decode_step_ms": step_ms,
         "step_ratio_to_bound": step_ms / bound_ms}
    report["decode"] = r
    say(f"Decode (decode-bench, {weight_bytes / 1e9:.2f} GB f32 weights): "
        f"{decode_ms:.3f} ms/token | bandwidth bound {bound_ms:.3f} ms "
        f"({bandwidth / 1e12:.2f} TB/s copy) | {r['ratio_to_bound']:.1f}x "
        f"the bound | one step alone {step_ms:.3f} ms "
        f"({step_ms / bound_ms:.1f}x) | GPU time of one step "
        f"{step_device_ms:.3f} ms | "
        f"prefill of 32: {prefill_ms:.2f} ms")
    # Prefill is where x·Wᵀ has rows enough for tensor-core tiles.
    for build in ("decode-bench-cuda", "decode-bench-cuda-tc"):
        text = strata("bench", os.path.join(ART, f"{build}.strata"), "--seed",
                      "1", "--prefill", "512", "--decode", "1", "--repeats",
                      "3", "--device=cuda", timeout=600)
        words = text.split()
        r[f"prefill_ms_512_{build}"] = float(
            words[words.index("prefill_ms") + 1])
    say(f"Prefill of 512 (decode-bench): f32 "
        f"{r['prefill_ms_512_decode-bench-cuda']:.2f} ms | tensor cores "
        f"{r['prefill_ms_512_decode-bench-cuda-tc']:.2f} ms")


def nccl():
    """The NCCL backend through one rank on this GPU (strata-comm-check),
    with the libnccl.so.2 PyTorch ships when the machine has no other."""
    env = dict(os.environ)
    if "STRATA_NCCL_LIBRARY" not in env:
        try:
            import nvidia.nccl
            lib = os.path.join(list(nvidia.nccl.__path__)[0], "lib", "libnccl.so.2")
            if os.path.exists(lib):
                env["STRATA_NCCL_LIBRARY"] = lib
        except ImportError:
            pass
    proc = subprocess.run([os.path.join(ART, "strata-comm-check"), "nccl"],
                          capture_output=True, text=True, timeout=120, env=env)
    out = (proc.stdout + proc.stderr).strip()
    report["nccl"] = out
    check("nccl one-rank collectives", proc.returncode == 0 and "PASS" in out,
          out.replace("\n", "; "))


def main():
    say(f"Strata device check, {report['date']}")
    say(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}")
    for part in (numerics, nccl, gemm, gemm_int8, attention, moe, decode):
        try:
            part()
        except Exception as e:
            check(part.__name__, False, f"did not run: {e}")
    report["failures"] = failures
    with open(os.path.join(OUT, "device_check.json"), "w") as f:
        json.dump(report, f, indent=1)
    with open(os.path.join(OUT, "device_check.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    say("device check: " + ("all passed" if not failures else
                            f"{len(failures)} failed: {', '.join(failures)}"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
