#!/usr/bin/env bash
# The main job: set up, build, then compile the bundled example config and
# show what Strata made of it: per-layer statistics, the strata IR, and the
# x86-64 object with the model's entry points. (Running it needs the
# runtime, which comes with the CPU end-to-end work.)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
BUILD="${STRATA_BUILD_DIR:-$ROOT/build}"
CONFIG="${1:-$ROOT/examples/tiny.yaml}"

echo "== strata-compile $CONFIG --stats"
"$BUILD/bin/strata-compile" "$CONFIG" --stats
echo
echo "== strata-compile $CONFIG --emit=mlir -o $BUILD/example.mlir"
"$BUILD/bin/strata-compile" "$CONFIG" --emit=mlir -o "$BUILD/example.mlir"
cat "$BUILD/example.mlir"
echo
echo "== strata-compile $CONFIG --emit=obj -o $BUILD/example.o   (x86-64 code for the CPU)"
"$BUILD/bin/strata-compile" "$CONFIG" --emit=obj -o "$BUILD/example.o"
echo "entry points in $BUILD/example.o ($(stat -c %s "$BUILD/example.o") bytes):"
/usr/lib/llvm-22/bin/llvm-nm "$BUILD/example.o" | grep " T "
