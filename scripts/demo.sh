#!/usr/bin/env bash
# README quickstart 1: build, then plan every bundled sample update for the four sample backends.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
./build/expbridge validate --config samples/backends.yaml samples/updates/*.yaml
for update in samples/updates/*.yaml; do
  echo
  echo "=== expbridge plan --config samples/backends.yaml $update"
  ./build/expbridge plan --config samples/backends.yaml "$update"
done
