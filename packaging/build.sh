#!/usr/bin/env bash
# Installs what is missing, then configures and builds vpncheck into build/
# (or $VPNCHECK_BUILD_DIR). Extra arguments go to cmake's configure step.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${VPNCHECK_BUILD_DIR:-$repo/build}

"$repo/packaging/install-deps.sh"
# ccache (when installed) makes a rebuild in a fresh clone cheap: paths are
# hashed relative to the clone, and the build directory is left out of the
# hash (-g would otherwise put it in), so any clone of the same sources hits.
launcher=()
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR="$repo" CCACHE_NOHASHDIR=1
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$repo" -B "$build_dir" -G Ninja "${launcher[@]}" "$@" >/dev/null
cmake --build "$build_dir" --parallel "$(nproc)"
echo "build: $build_dir/vpncheck and $build_dir/vpncheck-reflector are ready"
