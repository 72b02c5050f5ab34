#!/usr/bin/env bash
# The test suite under AddressSanitizer + UndefinedBehaviorSanitizer: clang 19, preset
# `sanitize` (build-sanitize/, which also holds the fuzzers for scripts/fuzz.sh). Any
# sanitizer report, leaks included, fails its test. The ctest preset leaves out package.*
# and sdk.* (see CMakePresets.json); scripts/test.sh runs those.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh sanitize
source scripts/sanitizer-env.sh
build_sanitized
ctest --preset sanitize "$@"
