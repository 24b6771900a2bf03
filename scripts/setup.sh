#!/usr/bin/env bash
# Installs what Strata needs from Debian 12's packages and configures the
# build. Idempotent: when every package is present it does not touch apt.
set -euo pipefail

PACKAGES=(
  cmake ninja-build g++ ccache python3 python3-torch libgtest-dev
  llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools
  libcli11-dev libflatbuffers-dev flatbuffers-compiler
  libopenblas-dev  # bench/cpu_matmul_vs_openblas.py: the sgemm peer
  libopenmpi-dev openmpi-bin  # the MPI backend plugin and mpirun's tests
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${STRATA_BUILD_DIR:-$ROOT/build}"
if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -G Ninja -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release
fi
# Two cores: one compile job per core, and no more.
ninja -C "$BUILD" -j "$(nproc)"
