#!/usr/bin/env bash
# Runs every test: installs what is missing, builds once, runs the unit tests,
# then the lab tests (network namespaces; they skip with a reason without root).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${VPNCHECK_BUILD_DIR:-$repo/build}
export VPNCHECK_BUILD_DIR=$build_dir

"$repo/packaging/build.sh"

echo "== unit tests =="
unit_status=0
ctest --test-dir "$build_dir" -L unit --output-on-failure --timeout 120 -j "$(nproc)" || unit_status=$?

echo "== lab tests =="
lab_status=0
ctest --test-dir "$build_dir" -L lab --output-on-failure || lab_status=$?

if ((unit_status != 0 || lab_status != 0)); then
  echo "run-all: FAILED (unit: $unit_status, lab: $lab_status)"
  exit 1
fi
echo "run-all: all tests passed"
