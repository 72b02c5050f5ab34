#!/usr/bin/env bash
# Installs what is missing, then configures and builds expbridge into build/ (2 jobs).
# With arguments, builds only those targets (the demo needs just `expbridge_cli`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake --preset default "${launcher[@]}" >/dev/null
if [ $# -gt 0 ]; then
  for target in "$@"; do cmake --build --preset default --target "$target"; done
else
  cmake --build --preset default
fi
