#!/usr/bin/env bash
# demo.sh [vpncheck args...] — see vpncheck's normal text report through the
# `home` lab: builds the lab, starts vpncheck-reflector in the reflector ns,
# runs `vpncheck --reflector 203.0.113.5 [args...]` in the client ns (on your
# terminal, so colours/progress behave as for a user), then tears down.
# Exits with vpncheck's exit code.
#
# The reflector gets the lab's second address (--alt-address), so every NAT
# mapping/filtering test runs, as it does on a reflector set up for them.
#
#   tests/lab/demo.sh                        # as root; default protocols
#   tests/lab/demo.sh -v --protocols wireguard
#   LAB_PROFILE=web-only tests/lab/demo.sh   # another profile
set -euo pipefail

# Read before sourcing lab.sh, which (re)sets its own LAB_* state variables.
PROFILE="${LAB_PROFILE:-home}"

# shellcheck source=lab.sh
source "$(cd "$(dirname "$0")" && pwd)/lab.sh"

main() {
	lab_require_root
	lab_have_bins || { echo "build vpncheck first: missing $(lab_bin vpncheck) or $(lab_bin vpncheck-reflector)" >&2; exit 2; }
	trap lab_down EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	lab_up "$PROFILE"
	lab_reflector_start --alt-address "$LAB_REFLECTOR_ALT_IP"
	local rc=0
	lab_exec client timeout -k 5 120 "$(lab_bin vpncheck)" --reflector "$LAB_REFLECTOR_IP" "$@" || rc=$?
	echo "(vpncheck exit code $rc; profile $PROFILE)" >&2
	echo "To test a real network: run vpncheck-reflector on a server with a public address, then packaging/try-vpncheck.sh --reflector THAT-SERVER"
	exit "$rc"
}

main "$@"
