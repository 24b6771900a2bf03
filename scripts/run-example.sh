#!/usr/bin/env bash
# The main job: set up, build, then compile the bundled example config and
# show what Strata made of it (per-layer statistics and the strata IR).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
BUILD="${STRATA_BUILD_DIR:-$ROOT/build}"
CONFIG="${1:-$ROOT/examples/tiny.yaml}"

echo "== strata-compile $CONFIG --stats"
"$BUILD/bin/strata-compile" "$CONFIG" --stats
echo
echo "== strata-compile $CONFIG --emit=mlir -o $BUILD/tiny.mlir"
"$BUILD/bin/strata-compile" "$CONFIG" --emit=mlir -o "$BUILD/tiny.mlir"
cat "$BUILD/tiny.mlir"
