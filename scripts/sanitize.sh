#!/usr/bin/env bash
# The runtime under sanitizers; scripts/test.sh runs it after the suite.
#
#   ASan+UBSan (build-asan/): the runtime's own unit tests
#     (strata-runtime-core-tests) and strata-run generating from the micro
#     fixture that the normal build compiled (sampled batch, threads, saving
#     and loading weights), whose tokens must equal the normal build's.
#   TSan (build-tsan/): the thread-pool and multi-session tests, and
#     strata-run generating with four threads from the tiny fixture.
#
# Only runtime targets are built, so nothing links MLIR's codegen; the
# kernel libraries the runtime loads and MLIR/LLVM are not instrumented.
# Needs the normal build (scripts/setup.sh) first.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${STRATA_BUILD_DIR:-$ROOT/build}"
ASAN_BUILD="${STRATA_ASAN_BUILD_DIR:-$ROOT/build-asan}"
TSAN_BUILD="${STRATA_TSAN_BUILD_DIR:-$ROOT/build-tsan}"
TSAN_FILTER="${STRATA_TSAN_FILTER:-*ThreadPool*:*MultiSession*}"
start=$SECONDS

# Debug: -O0 compiles fastest, and keeps asserts and exact stack traces.
build() { # DIR SANITIZERS TARGET...
  local dir=$1 sanitize=$2
  shift 2
  if [ ! -f "$dir/build.ninja" ]; then
    mkdir -p "$dir"
    cmake -G Ninja -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=Debug \
      -DSTRATA_SANITIZE="$sanitize" > "$dir/configure.log" \
      || { cat "$dir/configure.log"; exit 1; }
  fi
  ninja -C "$dir" -j "$(nproc)" "$@"
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
micro="$BUILD/test/fixtures/micro.strata"
# The multi-session tests load the normal build's fixtures.
export STRATA_FIXTURES_DIR="$BUILD/test/fixtures"
[ -f "$micro" ] || { echo "sanitize: $micro missing: build first"; exit 1; }

echo "== ASan+UBSan"
build "$ASAN_BUILD" address,undefined strata-runtime-core-tests strata-run
export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
"$ASAN_BUILD/bin/strata-runtime-core-tests"
infer=(infer "$micro" --seed 11 --tokens 3,1,4 --tokens 5,9
       --max-new-tokens 8 --temperature 0.8 --top-k 5 --sample-seed 7)
"$BUILD/bin/strata-run" "${infer[@]}" > "$tmp/expected.txt"
"$ASAN_BUILD/bin/strata-run" "${infer[@]}" --threads 2 \
  --save-weights "$tmp/w.safetensors" > "$tmp/asan.txt"
"$ASAN_BUILD/bin/strata-run" infer "$micro" --weights "$tmp/w.safetensors" \
  --tokens 3,1,4 --max-new-tokens 8 > "$tmp/asan-greedy.txt"
"$BUILD/bin/strata-run" infer "$micro" --seed 11 --tokens 3,1,4 \
  --max-new-tokens 8 > "$tmp/expected-greedy.txt"
diff "$tmp/expected.txt" "$tmp/asan.txt"
diff "$tmp/expected-greedy.txt" "$tmp/asan-greedy.txt"
unset ASAN_OPTIONS UBSAN_OPTIONS

echo "== TSan"
build "$TSAN_BUILD" thread strata-runtime-core-tests strata-run
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
"$TSAN_BUILD/bin/strata-runtime-core-tests" \
  --gtest_filter="$TSAN_FILTER"
# The tiny model's loops are large enough to wake the session's workers.
tiny=(infer "$BUILD/test/fixtures/tiny.strata" --seed 3 --tokens 3,1,4
      --tokens 5,9 --max-new-tokens 4 --threads 4)
"$BUILD/bin/strata-run" "${tiny[@]}" > "$tmp/expected-tiny.txt"
"$TSAN_BUILD/bin/strata-run" "${tiny[@]}" > "$tmp/tsan-tiny.txt"
diff "$tmp/expected-tiny.txt" "$tmp/tsan-tiny.txt"
unset TSAN_OPTIONS

echo "sanitizers: clean in $((SECONDS - start)) s"
