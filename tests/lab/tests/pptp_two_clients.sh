#!/usr/bin/env bash
# pptp_two_clients.sh — two LAN hosts behind one NAT (profile
# "home-pptp-helper", the second host on the router's lan2 port) run vpncheck
# at the same time. Single-session PPTP passthrough is common in routers; the
# Linux helper gives each control connection its own Call ID (the NATed TCP
# source port), so both sessions must work here. The test reports whether the
# second session works and asserts it does for this router.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "two clients behind one NAT: both PPTP sessions work with the Linux helper"
t_need_bins
t_need_python_jsonschema
lab_up home-pptp-helper || t_fatal "could not build the lab"
lab_add_client2 || t_fatal "could not add the second client"
lab_reflector_start || t_fatal "vpncheck-reflector did not become ready"

bin="$(lab_bin vpncheck)"
run_one() {  # ROLE N -> background vpncheck in ROLE, report $T_WORK/two-N.json
	lab_bg "vpncheck-$2" "$1" timeout -k 5 60 "$bin" --reflector "$LAB_REFLECTOR_IP" --protocols pptp \
		--timeout 4 --json "$T_WORK/two-$2.json"
}
run_one client 1
pid1="$LAB_LAST_PID"
run_one client2 2
pid2="$LAB_LAST_PID"
wait "$pid1" || true
wait "$pid2" || true

verdict_of() { T_JSON="$T_WORK/two-$1.json" t_verdict pptp; }
v1="$(verdict_of 1)"
v2="$(verdict_of 2)"
T_JSON="$T_WORK/two-1.json"
id1="$(t_pptp_ocrq call_id)"
T_JSON="$T_WORK/two-2.json"
id2="$(t_pptp_ocrq call_id)"
echo "  facts: first client pptp=$v1 (Call ID at the reflector $id1)"
echo "  facts: second client pptp=$v2 (Call ID at the reflector $id2)"
echo "  facts: second PPTP session behind the same NAT: $([[ "$v2" == pass ]] && echo works || echo "does not work ($v2)")"

for n in 1 2; do
	T_JSON="$T_WORK/two-$n.json"
	t_check "report $n validates against $T_SCHEMA" t_report_valid
done
t_check "first client: pptp pass (got '$v1')" t_eq "$v1" pass
t_check "second client at the same time: pptp pass (got '$v2')" t_eq "$v2" pass
t_check "the two sessions got different Call IDs at the reflector ($id1, $id2)" test "$id1" != "$id2"

if [[ $T_FAILS -ne 0 ]]; then
	for n in 1 2; do
		echo "  --- vpncheck $n log ---"
		sed 's/^/  | /' "$LAB_STATE_DIR/vpncheck-$n.log" 2>/dev/null || true
	done
fi
t_finish
