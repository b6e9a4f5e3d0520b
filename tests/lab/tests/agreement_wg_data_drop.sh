#!/usr/bin/env bash
# agreement_wg_data_drop.sh — through "wg-data-drop" (WireGuard handshakes
# pass, its transport data stops after the first 400 bytes per flow)
# vpncheck says WireGuard is `restricted` with data_dropped_after_handshake.
# Real wireguard-go through the same profile agrees: its handshake completes
# and the tunnel carries its first ping, then even small pings are lost (not
# an MTU problem: nothing of any size passes any more).
set -euo pipefail
# shellcheck source=lib/agreement.sh
source "$(dirname "$0")/lib/agreement.sh"
t_init "agreement wg-data-drop: vpncheck restricted; real wireguard-go's handshake completes, then its data stops"
agreement_need_real wireguard wireguard-go
t_need_python_jsonschema

t_start wg-data-drop
t_vpncheck --protocols wireguard
echo "  facts: vpncheck wireguard=$(t_verdict wireguard) findings=$(t_json "proto('wireguard').get('findings', [])" 2>/dev/null)"
t_check "vpncheck: wireguard restricted" t_eq "$(t_verdict wireguard)" restricted
t_check "vpncheck: data_dropped_after_handshake" \
	t_eq "$(t_json "'data_dropped_after_handshake' in proto('wireguard').get('findings', [])")" true
[[ $T_FAILS -eq 0 ]] || t_show_run
lab_reflector_stop
lab_down

out="$T_WORK/wg.txt"
rc=0
env REAL_PING_SIZES="56 56 56" timeout -k 5 120 bash "$LAB_DIR/real/wireguard.sh" wg-data-drop >"$out" 2>"$T_WORK/wg.err" || rc=$?
sed 's/^/    real| /' "$out"
[[ $rc -eq 0 ]] || t_fatal "real/wireguard.sh could not be run (exit $rc): $(tail -n 3 "$T_WORK/wg.err")"
t_check "wireguard-go: the handshake completes and the first ping passes" t_eq "$(tail -n 1 "$out")" TUNNEL_UP
t_check "wireguard-go: a handshake is recorded" grep -q "latest-handshake=[1-9]" "$out"
t_check "wireguard-go: then even small pings are lost" \
	t_eq "$(sed -n 's/^ping size=56 \(ok\|lost\)$/\1/p' "$out" | tail -n 1)" lost
t_finish
