#!/usr/bin/env bash
# reflector_memory.sh — profile "home". A party in the client's LAN attacks
# the reflector's memory the two ways its observations allow:
#   1. it opens 60 sessions (of the 64 one client address may hold) and
#      sends each of them L2TP SCCRQs whose Vendor Name is 1,017 bytes of
#      its choosing (1,000 per session: more than a session keeps), for at
#      most 30 s (tests/bench/memory_attack.py);
#   2. it asks for 60 sessions' observations on 60 connections and never
#      reads the answers.
# The reflector keeps every session's observations compact and within its
# budgets (512 observations, 256 KiB) and answers in pages of 64 KiB,
# so its peak RSS (VmHWM) stays under 128 MiB; an attacked session is told
# that arrivals went unrecorded (observation_limit), and while the unread
# answers are held an honest vpncheck run gets its session and WireGuard
# passes. The per-client connection cap is raised here: it is not what this
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
# Sessions, then the SCCRQ flood, then the unread requests (held 20 s at most).
lab_bg attacker client python3 "$LAB_REPO/tests/bench/memory_attack.py" "$LAB_REFLECTOR_IP" "$LAB_CONTROL_PORT" "$attack" 20 60
attacker_pid="$LAB_LAST_PID"
for _ in $(seq 1 900); do
	grep -q '^session' "$attack" 2>/dev/null && break
	_lab_alive "$attacker_pid" || break
	sleep 0.1
done
grep -q '^session' "$attack" 2>/dev/null || { cat "$LAB_STATE_DIR/attacker.log" >&2; t_fatal "the attack did not run"; }
echo "  facts: attack: $(tr '\n' ' ' <"$attack")"

# While the unread answers are held, an honest run.
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
t_check "the honest run got its session: exit 0 (got $T_RC)" t_eq "$T_RC" 0
t_check "wireguard passes (got '$(t_verdict wireguard)')" t_eq "$(t_verdict wireguard)" pass
kill "$attacker_pid" 2>/dev/null || true
wait "$attacker_pid" 2>/dev/null || true
[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
