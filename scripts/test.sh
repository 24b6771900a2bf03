#!/usr/bin/env bash
# Set up, build, and run the whole test suite (lit + unit tests via ctest).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
BUILD="${STRATA_BUILD_DIR:-$ROOT/build}"
ctest --test-dir "$BUILD" --output-on-failure
