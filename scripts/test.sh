#!/usr/bin/env bash
# Set up, build, and run the whole test suite (lit + unit tests via ctest),
# then the runtime under ASan+UBSan and TSan (scripts/sanitize.sh; skipped
# with STRATA_SANITIZERS=0).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
BUILD="${STRATA_BUILD_DIR:-$ROOT/build}"
ctest --test-dir "$BUILD" --output-on-failure
if [ "${STRATA_SANITIZERS:-1}" != 0 ]; then
  STRATA_BUILD_DIR="$BUILD" "$ROOT/scripts/sanitize.sh"
fi
