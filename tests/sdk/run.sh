#!/usr/bin/env bash
# SDK conformance: the vendors' official npm SDK clients against `expbridge emulate`.
# Usage: tests/sdk/run.sh PATH/TO/expbridge
# Installs the pinned clients (npm ci, skipped when node_modules already matches
# package-lock.json), starts the emulators on a free port, runs conformance.mjs against them,
# stops them, and exits with the test's status.
set -uo pipefail

if [[ $# -ne 1 || ! -x "$1" ]]; then
  echo "usage: $0 PATH/TO/expbridge" >&2
  exit 2
fi
expbridge=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here" || exit 2

# 1. Dependencies: npm ci only when the lock changed since the last install (stamp = its hash).
stamp=node_modules/.expbridge-lock-stamp
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
  echo "npm: node_modules matches package-lock.json, skipping npm ci"
else
  echo "npm: installing the pinned SDK clients (npm ci)"
  if ! npm ci --no-audit --no-fund; then
    echo "sdk.conformance: npm ci failed" >&2
    echo "0 passed, 1 failed"
    exit 1
  fi
  echo "$want" >"$stamp"
fi

# 2. Emulators on a free port; the first line of their output is the URL.
log=$(mktemp -t expbridge-emulate.XXXXXX)
emulator_pid=
cleanup() {
  if [[ -n $emulator_pid ]]; then
    kill "$emulator_pid" 2>/dev/null
    wait "$emulator_pid" 2>/dev/null
  fi
  rm -f "$log"
}
trap cleanup EXIT
"$expbridge" emulate --port 0 --duration-s 120 >"$log" 2>&1 &
emulator_pid=$!

url=
for _ in $(seq 1 100); do  # up to 10 s
  line=$(head -n 1 "$log" 2>/dev/null)
  if [[ $line == "emulators listening on "* ]]; then
    url=${line#emulators listening on }
    break
  fi
  if ! kill -0 "$emulator_pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if [[ -z $url ]]; then
  echo "sdk.conformance: the emulators did not start; their output:" >&2
  cat "$log" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
echo "emulators: $url"

# 3. The test (it prints one PASS/FAIL line per check and `N passed, M failed`).
AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true node conformance.mjs "$url"
status=$?
exit "$status"
