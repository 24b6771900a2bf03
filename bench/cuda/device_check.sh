#!/usr/bin/env bash
# The CUDA device check, one command on a machine with an NVIDIA GPU, the
# driver, and PyTorch with CUDA (plus the safetensors package). Takes the
# artifacts bench/cuda/prepare_device_check.sh made (the folder, or the
# .tar.xz beside it) and writes device_check.{txt,json} under $OUT
# (default /tmp/strata-device-check). Exits non-zero if a check failed.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ART="${1:-$ROOT/.device}"
if [ ! -x "$ART/strata-run" ] && [ -f "$ART.tar.xz" ]; then
  mkdir -p "$ART" && tar -C "$ART" -xJf "$ART.tar.xz"
fi
export OUT="${OUT:-/tmp/strata-device-check}"
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv \
  2>&1 | tee "$OUT/nvidia-smi.txt"
PYTHONUNBUFFERED=1 python3 "$ROOT/bench/cuda/device_check.py" "$ART"
