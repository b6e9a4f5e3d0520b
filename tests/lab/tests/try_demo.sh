#!/usr/bin/env bash
# try_demo.sh — the lab demo that packaging/try-vpncheck.sh shows a new user
# (tests/lab/demo.sh): its reflector has a second address, so every NAT
# mapping and filtering test runs and none is reported as not run, and it
# ends with the one line that says how to test a real network.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "try_demo: the demo runs every NAT test and says how to go on"
t_need_bins
T_JSON="$T_WORK/demo.json"
T_OUT="$T_WORK/demo.txt"
set +e
LAB_PROFILE=home timeout -k 5 120 bash "$LAB_DIR/demo.sh" --protocols wireguard --json "$T_JSON" \
	>"$T_OUT" 2>"$T_WORK/demo.err"
T_RC=$?
set -e
echo "  ran  - tests/lab/demo.sh --protocols wireguard --json FILE -> exit $T_RC"
# --json FILE keeps the text report on stdout; the demo's own lines follow it.
t_check "the demo exits 0" t_eq "$T_RC" 0
t_check "no NAT mapping test was left out" t_eq "$(t_json "r['nat']['tests']['mapping']['not_run']")" "[]"
t_check "no NAT filtering test was left out" t_eq "$(t_json "r['nat']['tests']['filtering']['not_run']")" "[]"
t_check "nat.mapping decided (endpoint_independent)" t_eq "$(t_json "r['nat']['mapping']")" endpoint_independent
t_check "the text says nothing was untested" bash -c "! grep -qi 'not tested\|untested' '$T_OUT'"
t_check "the last line says how to test a real network" \
	bash -c "tail -n 1 '$T_OUT' | grep -q 'To test a real network: .*vpncheck-reflector.*--reflector'"
if [[ $T_FAILS -ne 0 ]]; then
	sed 's/^/  | /' "$T_OUT"
	sed 's/^/  err| /' "$T_WORK/demo.err"
fi
t_finish
