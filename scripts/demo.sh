#!/usr/bin/env bash
# README quickstart 1: build, then apply the bundled sample updates to in-process emulators of the
# four vendors (AppConfig, LaunchDarkly, Auth0, Evidently) and print each report.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh expbridge_cli   # the demo needs the command only; scripts/test.sh builds the rest
./build/expbridge validate --config samples/backends.yaml samples/updates/*.yaml
./build/expbridge demo "$@"
