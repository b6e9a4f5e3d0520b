#!/usr/bin/env bash
# reflector_memory.sh — profile "home". A party in the client's LAN attacks
# the reflector's memory for a minute, the two ways its observations allow,
# at once (tests/bench/memory_attack.py):
#   1. it opens 60 sessions (of the 64 one client address may hold) and
#      sends them, round after round for 60 s, L2TP SCCRQs whose Vendor
#      Name is 1,017 bytes of its choosing (thousands per session: far more
#      than a session keeps);
#   2. over the same minute it asks for sessions' observations on 200
#      connections and never reads the answers.
# The reflector keeps every session's observations compact and within its
# budgets (512 observations, 256 KiB) and answers in pages of 64 KiB,
# so its peak RSS (VmHWM) stays under 128 MiB; an attacked session is told
# that arrivals went unrecorded (observation_limit), and an honest vpncheck
# run in the middle of the attack, and another after it while the unread
# answers are still held, each get their session and WireGuard passes. The per-client connection cap is raised here: it is not what this
# test is about.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "reflector memory: observation floods and unread answers stay under 128 MiB"
t_need_bins
lab_up home || t_fatal "could not build the lab"
lab_reflector_start --max-connections-per-client 512 --log-level info ||
	t_fatal "vpncheck-reflector did not become ready"
budget_kib=$((128 * 1024))
pid="$LAB_REFLECTOR_PID"
[[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == vpncheck-reflec* ]] || t_fatal "pid $pid is not the reflector"
hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$pid/status"; }
echo "  facts: reflector peak RSS before the attack: $(hwm) KiB"

attack="$T_WORK/attack.txt"
attack_s=60
# Sessions, then a minute of flood and unread requests, then those held 30 s more.
lab_bg attacker client python3 "$LAB_REPO/tests/bench/memory_attack.py" "$LAB_REFLECTOR_IP" "$LAB_CONTROL_PORT" \
	"$attack" 30 60 "$attack_s" 200
attacker_pid="$LAB_LAST_PID"
wait_for_line() { # PATTERN TENTHS: until the attack's output has it, or the attacker ends
	for _ in $(seq 1 "$2"); do
		grep -q "$1" "$attack" 2>/dev/null && return 0
		_lab_alive "$attacker_pid" || break
		sleep 0.1
	done
	grep -q "$1" "$attack" 2>/dev/null
}
wait_for_line '^session' 900 || { cat "$LAB_STATE_DIR/attacker.log" >&2; t_fatal "the attack did not start"; }
sleep 20
# In the middle of the attack, an honest run.
t_vpncheck --protocols wireguard --timeout 2
during_rc=$T_RC during_verdict=$(t_verdict wireguard)
wait_for_line '^done' $(((attack_s + 30) * 10)) || { cat "$LAB_STATE_DIR/attacker.log" >&2; t_fatal "the attack did not end"; }
echo "  facts: attack: $(tr '\n' ' ' <"$attack")"
held="$(awk '/^held/ {print $2}' "$attack")"

# After it, while the unread answers are still held, another honest run.
t_vpncheck --protocols wireguard --timeout 2
metrics="$(lab_exec client curl -s --max-time 5 "http://$LAB_REFLECTOR_IP:$LAB_CONTROL_PORT/metrics" || true)"
stored="$(awk '/^vpncheck_reflector_observation_bytes / {print $2}' <<<"$metrics")"
session="$(awk '/^session/ {print $2}' "$attack")"
limits="$(lab_exec client curl -s --max-time 5 \
	"http://$LAB_REFLECTOR_IP:$LAB_CONTROL_PORT/v1/sessions/$session/observations?after=0" |
	python3 -c 'import json,sys; print(" ".join("%s=%d" % (l["limit"], l["count"]) for l in json.load(sys.stdin)["limits"]))' ||
	true)"
peak="$(hwm)"
echo "  facts: reflector peak RSS $peak KiB (budget $budget_kib KiB); observations stored: ${stored:-?} bytes"
echo "  facts: an attacked session's limits: ${limits:-none}"
t_check "the flood was recorded: over 8 MB stored (got ${stored:-none})" \
	awk -v s="${stored:-0}" 'BEGIN { exit !(s > 8000000) }'
t_check "every session stays within its budget: at most 60 x 256 KiB stored (got ${stored:-none})" \
	awk -v s="${stored:-0}" 'BEGIN { exit !(s <= 60 * 262144) }'
t_check "an attacked session is told arrivals went unrecorded (got '${limits:-none}')" \
	bash -c "[[ '$limits' == *observation_limit=* ]]"
t_check "peak RSS under 128 MiB (got $peak KiB)" t_eq "$((peak < budget_kib))" 1
t_check "the attack held its unread requests: at least 150 of 200 (got ${held:-none})" \
	awk -v h="${held:-0}" 'BEGIN { exit !(h >= 150) }'
t_check "the honest run during the attack got its session: exit 0 (got $during_rc)" t_eq "$during_rc" 0
t_check "wireguard passes during the attack (got '$during_verdict')" t_eq "$during_verdict" pass
t_check "the honest run after the attack got its session: exit 0 (got $T_RC)" t_eq "$T_RC" 0
t_check "wireguard passes after the attack (got '$(t_verdict wireguard)')" t_eq "$(t_verdict wireguard)" pass
kill "$attacker_pid" 2>/dev/null || true
wait "$attacker_pid" 2>/dev/null || true
[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
