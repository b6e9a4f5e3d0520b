#!/usr/bin/env bash
# The main job, as root (no sudo needed; a fresh Debian has none): install what
# is missing, build only vpncheck and vpncheck-reflector, and show vpncheck working.
#   packaging/try-vpncheck.sh                    -> through the lab: a client behind an emulated
#                                                   home router, a reflector on the far side
#   packaging/try-vpncheck.sh --reflector HOST   -> against your own reflector
# Any other arguments are passed to vpncheck.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${VPNCHECK_BUILD_DIR:-$repo/build}

"$repo/packaging/build.sh" --programs

for arg in "$@"; do
  if [[ "$arg" == --reflector || "$arg" == --reflector=* || "$arg" == -r ]]; then
    exec "$build_dir/vpncheck" "$@"
  fi
done

if [[ $EUID -ne 0 ]]; then
  echo "try-vpncheck: the lab needs root (network namespaces); run this as root: $0" >&2
  echo "try-vpncheck: or test a real network: $0 --reflector HOST" >&2
  exit 1
fi
exec "$repo/tests/lab/demo.sh" "$@"
