#!/usr/bin/env bash
# The test command (README quickstart 2, and what CI runs): build, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
ctest --preset default
