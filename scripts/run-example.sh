#!/usr/bin/env bash
# The main job: set up, build, then compile the bundled example config and
# show what Strata made of it (per-layer statistics, the strata IR), compile
# it with its training entry points, train it for a few steps on the CPU
# (byte-level tokens of the license texts Debian ships; a progress bar,
# metrics and a checkpoint), and generate tokens with the trained weights.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
BUILD="${STRATA_BUILD_DIR:-$ROOT/build}"
CONFIG="${1:-$ROOT/examples/tiny.yaml}"
OUT="$BUILD/example"
rm -rf "$OUT" && mkdir -p "$OUT"

echo "== strata-compile $CONFIG --stats"
"$BUILD/bin/strata-compile" "$CONFIG" --stats
echo
echo "== strata-compile $CONFIG --emit=mlir -o $OUT/model.mlir"
"$BUILD/bin/strata-compile" "$CONFIG" --emit=mlir -o "$OUT/model.mlir"
head -n 40 "$OUT/model.mlir"
echo "   ... ($(wc -l < "$OUT/model.mlir") lines)"
echo

# The seed's schedule warms up over 2,000 of 100,000 steps; a demonstration
# of 30 steps uses a short one (the flags override the training section).
echo "== strata-compile $CONFIG --train --lr 2e-3 --warmup 5 --total-steps 30 --emit=executable -o $OUT/model.strata"
"$BUILD/bin/strata-compile" "$CONFIG" --train --lr 2e-3 --warmup 5 \
  --total-steps 30 --emit=executable -o "$OUT/model.strata"
"$BUILD/bin/strata-run" inspect "$OUT/model.strata"
echo

echo "== training data: the bytes of /usr/share/common-licenses/* as token ids"
python3 - "$OUT/data.bin" <<'PY'
import glob, struct, sys
data = b"".join(open(p, "rb").read() for p in sorted(glob.glob("/usr/share/common-licenses/*"))
                if not p.endswith("/GPL") and not p.endswith("/LGPL"))
open(sys.argv[1], "wb").write(struct.pack("<%dI" % len(data), *data))
print(f"{len(data)} tokens")
PY
echo
echo "== strata-run train $OUT/model.strata --data $OUT/data.bin --steps 30 --checkpoint-dir $OUT/checkpoints --metrics $OUT/metrics.jsonl"
"$BUILD/bin/strata-run" train "$OUT/model.strata" --data "$OUT/data.bin" \
  --steps 30 --seed 1 --checkpoint-dir "$OUT/checkpoints" \
  --metrics "$OUT/metrics.jsonl" --save-weights "$OUT/trained.safetensors"
tail -n 1 "$OUT/metrics.jsonl"
ls "$OUT/checkpoints"
echo

PROMPT=$(python3 -c 'print(",".join(str(b) for b in b"Permission is "))')
echo "== strata-run infer $OUT/model.strata --weights $OUT/trained.safetensors --tokens $PROMPT --max-new-tokens 32"
"$BUILD/bin/strata-run" infer "$OUT/model.strata" \
  --weights "$OUT/trained.safetensors" --tokens "$PROMPT" \
  --max-new-tokens 32 --verbose | tee "$OUT/generated.txt"
python3 -c 'import sys; ids = open(sys.argv[1]).read().split()[-1].split(","); print("as text: " + repr("Permission is " + bytes(int(i) for i in ids if int(i) < 256).decode("latin-1")))' "$OUT/generated.txt"
