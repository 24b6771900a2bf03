#!/usr/bin/env bash
# The main job: set up, build, then compile the bundled example config and
# show what Strata made of it: per-layer statistics and the strata IR; then
# package it as an executable and generate tokens with it on the CPU
# (weights initialised from a seed). Then the half of training that exists
# (docs/training.md): a dense config compiled with --train, one batch's loss
# and gradients. The example config itself cannot be differentiated yet
# (dropout, router noise and expert capacity need training semantics), and
# the optimizer step is still to come.
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
echo "== strata-compile $CONFIG --emit=executable -o $BUILD/example.strata"
"$BUILD/bin/strata-compile" "$CONFIG" --emit=executable -o "$BUILD/example.strata"
"$BUILD/bin/strata-run" inspect "$BUILD/example.strata"
echo
echo "== strata-run infer $BUILD/example.strata --seed 1 --tokens 1,5,9,42 --max-new-tokens 16"
"$BUILD/bin/strata-run" infer "$BUILD/example.strata" --seed 1 --tokens 1,5,9,42 \
  --max-new-tokens 16 --verbose
echo
TRAIN_CONFIG="$ROOT/test/configs/yaml/local-window.yaml"
echo "== strata-compile $TRAIN_CONFIG --train --emit=executable -o $BUILD/train.strata"
"$BUILD/bin/strata-compile" "$TRAIN_CONFIG" --train --emit=executable \
  -o "$BUILD/train.strata"
echo "== strata-run grad $BUILD/train.strata --seed 1 --tokens 1,5,9,42,7 --tokens 3,1,4,1,5 -o $BUILD/train-grads.safetensors"
"$BUILD/bin/strata-run" grad "$BUILD/train.strata" --seed 1 \
  --tokens 1,5,9,42,7 --tokens 3,1,4,1,5 -o "$BUILD/train-grads.safetensors"
