#!/usr/bin/env bash
# Installs what is missing, then configures and builds vpncheck into build/
# (or $VPNCHECK_BUILD_DIR).
#   build.sh [CMAKE ARGS...]             -> everything: the programs, unit tests,
#                                           fuzz replays, benchmarks (tests/run-all.sh)
#   build.sh --programs [CMAKE ARGS...]  -> only vpncheck and vpncheck-reflector
#                                           (packaging/try-vpncheck.sh)
# Extra arguments go to cmake's configure step. VPNCHECK_BUILD_DRY_RUN=1: install
# nothing, configure, then list what would be built without building it
# (packaging/test-setup.sh).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${VPNCHECK_BUILD_DIR:-$repo/build}

programs_only=false
if [[ "${1:-}" == --programs ]]; then
  programs_only=true
  shift
fi

# The options are given every time, not left to the cache: one build directory
# serves both commands, and each must get what it asks for whatever ran before.
dry_run=${VPNCHECK_BUILD_DRY_RUN:-0}
if $programs_only; then
  [[ $dry_run == 1 ]] || "$repo/packaging/install-deps.sh" --programs
  options=(-DVPNCHECK_BUILD_TESTS=OFF -DVPNCHECK_BUILD_BENCHMARKS=OFF)
  targets=(--target vpncheck vpncheck-reflector)
else
  [[ $dry_run == 1 ]] || "$repo/packaging/install-deps.sh"
  options=(-DVPNCHECK_BUILD_TESTS=ON -DVPNCHECK_BUILD_BENCHMARKS=ON)
  targets=()
fi
# ccache (when installed) makes a rebuild in a fresh clone cheap: paths are
# hashed relative to the clone, and the build directory is left out of the
# hash (-g would otherwise put it in), so any clone of the same sources hits.
launcher=()
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR="$repo" CCACHE_NOHASHDIR=1
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$repo" -B "$build_dir" -G Ninja "${launcher[@]}" "${options[@]}" "$@" >/dev/null
if [[ $dry_run == 1 ]]; then
  exec cmake --build "$build_dir" "${targets[@]}" -- -n
fi
cmake --build "$build_dir" --parallel "$(nproc)" "${targets[@]}"
echo "build: $build_dir/vpncheck and $build_dir/vpncheck-reflector are ready"
