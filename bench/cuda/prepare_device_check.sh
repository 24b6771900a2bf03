#!/usr/bin/env bash
# Prepares the CUDA device check on this (GPU-less) machine: sets up and
# builds Strata, compiles every executable the check runs (CPU and CUDA
# builds of the same models, the GEMM/attention/MoE kernel modules, the decode
# benchmark model) and packs them with strata-run into .device/ — the only
# things the GPU machine needs (it has no MLIR). Then, on the GPU machine:
#   bench/cuda/device_check.sh .device
# SM=80|89|90 picks the CUDA architecture (default 90, the H100/H200).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
"$ROOT/scripts/setup.sh"
BUILD="${STRATA_BUILD_DIR:-$ROOT/build}"
SM="${SM:-90}"
ART="$ROOT/.device"
mkdir -p "$ART"
COMPILE="$BUILD/bin/strata-compile"
model() { # name config
  "$COMPILE" "$2" --emit=executable -o "$ART/$1-cpu.strata"
  "$COMPILE" "$2" --target=cuda --sm="$SM" --emit=executable \
    -o "$ART/$1-cuda.strata"
}
model tiny "$ROOT/examples/tiny.yaml"
# Tensor-core builds (--tensor-cores), checked against the CPU at bf16
# tolerance and timed against the f32 builds.
for m in tiny:examples/tiny.yaml \
         deepseek-v2-small:test/configs/hf-small/deepseek-v2-small.json \
         decode-bench:bench/cuda/decode-bench.yaml; do
  "$COMPILE" "$ROOT/${m#*:}" --target=cuda --sm="$SM" --tensor-cores \
    --emit=executable -o "$ART/${m%%:*}-cuda-tc.strata"
done
model micro "$ROOT/test/configs/yaml/micro.yaml"
model mixtral-small "$ROOT/test/configs/hf-small/mixtral-small.json"
model deepseek-v2-small "$ROOT/test/configs/hf-small/deepseek-v2-small.json"
for k in gemm attention moe; do
  "$COMPILE" "$ROOT/bench/cuda/$k.mlir" --target=cuda --sm="$SM" \
    --emit=executable -o "$ART/$k-cuda.strata"
done
for k in gemm attention moe; do
  "$COMPILE" "$ROOT/bench/cuda/$k.mlir" --target=cuda --sm="$SM" --tensor-cores \
    --emit=executable -o "$ART/$k-tc-cuda.strata"
done
"$COMPILE" "$ROOT/bench/cuda/gemm_int8.mlir" --target=cuda --sm="$SM" \
  --tensor-cores --emit=executable -o "$ART/gemm-int8-tc-cuda.strata"
# int8 models (--quantize): the CUDA tensor-core build (s8 mma.sync)
# against the CPU build on the same seeded, quantized weights.
for q in w8a16 w8a8-dynamic; do
  "$COMPILE" "$ROOT/test/configs/yaml/micro.yaml" --quantize "$q" \
    --emit=executable -o "$ART/micro-$q-cpu.strata"
  "$COMPILE" "$ROOT/test/configs/yaml/micro.yaml" --quantize "$q" \
    --target=cuda --sm="$SM" --tensor-cores --emit=executable \
    -o "$ART/micro-$q-cuda-tc.strata"
done
"$COMPILE" "$ROOT/bench/cuda/decode-bench.yaml" --target=cuda --sm="$SM" \
  --emit=executable -o "$ART/decode-bench-cuda.strata"
cp "$BUILD/bin/strata-run" "$BUILD/bin/strata-comm-check" "$ART/"
# PTX text compresses well; the device tool carries at most 64 MiB.
tar -C "$ART" -cJf "$ROOT/.device.tar.xz" .
du -sh "$ART" "$ROOT/.device.tar.xz"
