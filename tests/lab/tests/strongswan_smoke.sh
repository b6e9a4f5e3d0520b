#!/usr/bin/env bash
# strongswan_smoke.sh — self-test of the real-software IPsec experiment
# (real/strongswan.sh; needs no vpncheck binary): strongSwan's IKEv2 tunnel
# must come up and carry a ping through "home" (plain NAT: IKE on UDP 500,
# then NAT-T on UDP 4500) and must NOT come up through "block-ike" (UDP 500
# and 4500 dropped) -- so the experiment the agreement_ipsec_* tests rely on
# can say both "up" and "down". After each run nothing of it may be left:
# no namespace, no state dir (configs, PSK, logs, vici sockets), no charon.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "strongswan smoke (real IPsec experiment)"

missing="$(bash "$LAB_DIR/real/strongswan.sh" --missing 2>/dev/null)" ||
	t_fatal "real/strongswan.sh --missing failed"
[[ -z "$missing" ]] ||
	t_skip "strongSwan is not usable here, missing: $(sed ":a;N;\$!ba;s/\n/; /g" <<<"$missing") (packaging/install-deps.sh installs it)"

# leftovers SUFFIX -> prints what the run with lab SUFFIX left behind.
leftovers() {
	local s="$1" ns pid
	for ns in client router reflector; do
		[[ -e "/run/netns/vpnc-$ns-$s" ]] && echo "namespace vpnc-$ns-$s"
	done
	[[ -e "${TMPDIR:-/tmp}/vpnc-lab-$s" ]] && echo "state dir ${TMPDIR:-/tmp}/vpnc-lab-$s"
	# Both charons run with STRONGSWAN_CONF inside that state dir.
	for pid in $(pgrep -x charon 2>/dev/null || true); do
		if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -q "^STRONGSWAN_CONF=.*/vpnc-lab-$s/"; then
			echo "charon pid $pid"
		fi
	done
	return 0
}

run_real() {
	local profile="$1" expected="$2" out="$T_WORK/real-$1.txt" err="$T_WORK/real-$1.err" rc=0 start
	start="$(lab_now)"
	timeout -k 5 60 bash "$LAB_DIR/real/strongswan.sh" "$profile" >"$out" 2>"$err" || rc=$?
	local secs tunnel suffix left
	secs="$(lab_elapsed "$start")"
	tunnel="$(tail -n 1 "$out")"
	sed 's/^/    real| /' "$out"
	grep -v '^\[lab\]' "$err" | sed 's/^/    real| /' || true
	suffix="$(sed -n 's/^\[lab\] up: .* suffix=\([^ ]*\) .*/\1/p' "$err" | head -n1)"
	t_check "$profile: the experiment ran (exit 0, got $rc)" t_eq "$rc" 0
	t_check "$profile: strongSwan tunnel is $expected (got ${tunnel:-nothing})" t_eq "$tunnel" "$expected"
	t_check "$profile: finished in under 30 s (${secs}s)" \
		awk -v s="$secs" 'BEGIN { exit !(s < 30) }'
	t_check "$profile: the lab's suffix is in the log" test -n "$suffix"
	left="$(leftovers "$suffix")"
	local l
	[[ -z "$left" ]] || while read -r l; do echo "       left behind: $l"; done <<<"$left"
	t_check "$profile: nothing left behind (namespaces, files, charon)" test -z "$left"
}

run_real home TUNNEL_UP
run_real block-ike TUNNEL_DOWN
t_finish
