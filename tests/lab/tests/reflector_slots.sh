#!/usr/bin/env bash
# reflector_slots.sh — profile "home". A party in the client's LAN holds far
# more TCP connections to the reflector's PPTP port than the reflector serves
# (--max-connections 64: 56 for probe ports, 8 kept for the control API),
# each sending the first bytes of a PPTP message and then nothing. While they
# are held, the control API still answers: an honest vpncheck run behind the
# same NAT address opens its session and WireGuard passes. Then the holders
# are closed by the reflector within its first-bytes deadline (5 s), not the
# 30 s PPTP idle allowance.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "reflector connection slots: probe-port flood leaves the control API answering"
t_need_bins
lab_up home || t_fatal "could not build the lab"
lab_reflector_start --max-connections 64 --max-connections-per-client 200 --log-level info ||
	t_fatal "vpncheck-reflector did not become ready"

held="$T_WORK/held.txt"
# Opens 100 connections to TCP 1723, sends a PPTP header prefix on each, and
# reports how many the reflector kept open 1 s later and how long the kept
# ones lived (bounded: 12 s).
lab_bg holder client python3 -c '
import socket, sys, time, select
conns = []
for i in range(100):
    s = socket.create_connection((sys.argv[1], 1723), timeout=2)
    s.sendall(bytes([0x00, 0x9c, 0x00, 0x01, 0x1a, 0x2b, 0x3c, 0x4d]))
    conns.append(s)
time.sleep(1)
def alive(s):
    r, _, _ = select.select([s], [], [], 0)
    if not r:
        return True
    try:
        return s.recv(16) != b""
    except OSError:
        return False
kept = [s for s in conns if alive(s)]
start = time.time()
open(sys.argv[2], "w").write("kept %d\n" % len(kept))
while kept and time.time() - start < 12:
    kept = [s for s in kept if alive(s)]
    time.sleep(0.1)
open(sys.argv[2], "a").write("closed_after %.1f remaining %d\n" % (time.time() - start + 1, len(kept)))
' "$LAB_REFLECTOR_IP" "$held"
holder_pid="$LAB_LAST_PID"
for _ in $(seq 1 40); do [[ -s "$held" ]] && break; sleep 0.1; done

t_vpncheck --protocols wireguard --timeout 2
kept="$(awk '/^kept/ {print $2}' "$held" 2>/dev/null || echo 0)"
echo "  facts: the reflector kept $kept of 100 held PPTP connections"
t_check "the probe ports' slots were full: 56 kept of 100 (got $kept)" t_eq "$kept" 56
t_check "vpncheck ran while they were held: exit 0 (got $T_RC)" t_eq "$T_RC" 0
t_check "wireguard passes (got '$(t_verdict wireguard)')" t_eq "$(t_verdict wireguard)" pass
wait "$holder_pid" || true
closed="$(awk '/^closed_after/ {print $2, $4}' "$held" 2>/dev/null || true)"
echo "  facts: held connections closed after (s, remaining): $closed"
t_check "every held connection was closed within 8 s (got '$closed')" \
	awk -v c="$closed" 'BEGIN { split(c, f, " "); exit !(f[2] == 0 && f[1] <= 8) }'
t_check "the reflector's log names no session id at info" \
	bash -c "! grep -Eq 'session [0-9a-f]{16}' '$LAB_STATE_DIR/reflector.log'"
[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
