#!/usr/bin/env bash
# Load benchmark of the reflector (issue #6); a benchmark script, not a test.
#
#   tests/bench/reflector-load.sh [COUNT]        (root; default COUNT 1000000)
#
# Starts the real vpncheck-reflector (default ports, default --rate-limit 200)
# in a network namespace of its own (loopback only; traffic never leaves it),
# floods it over 127.0.0.1 with COUNT random and malformed UDP datagrams and
# some TCP garbage (build/reflector_flood), runs a real `vpncheck --reflector
# 127.0.0.1 --require wireguard,openvpn` in the middle of the flood, then
# reports: datagrams sent, the reflector's drop counters from /metrics, its
# peak RSS (VmHWM), whether it is still alive, and the vpncheck verdicts.
# Then the memory attacks (tests/bench/memory_attack.py: 100 sessions flooded
# with 1,017-byte L2TP Vendor Names, 60 observation answers never read) and
# the observation bytes stored and peak RSS after them.
# Bounded: the flood stops after 90 s whatever COUNT is; vpncheck has --timeout 5;
# the memory attacks take at most 30 s plus 5 s held.
# Exit 0 only if the reflector survived and vpncheck passed both protocols.
set -euo pipefail

count=${1:-1000000}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$root/build}
reflector=$build/vpncheck-reflector
client=$build/vpncheck
flood=$build/reflector_flood
for bin in "$reflector" "$client" "$flood"; do
  [[ -x $bin ]] || { echo "missing $bin (ninja -C build vpncheck vpncheck-reflector reflector_flood)" >&2; exit 2; }
done
(( EUID == 0 )) || { echo "needs root (network namespace)" >&2; exit 2; }

ns=vpnload$$
work=$(mktemp -d /tmp/reflector-load.XXXXXX)
refl_pid=""
cleanup() {
  if [[ -n $refl_pid ]] && kill -0 "$refl_pid" 2>/dev/null; then
    kill "$refl_pid" 2>/dev/null || true
    wait "$refl_pid" 2>/dev/null || true
  fi
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$ns"
ip -n "$ns" link set lo up
in_ns() { ip netns exec "$ns" "$@"; }

# `ip netns exec` execs the program, so $! is the reflector's own PID.
ip netns exec "$ns" "$reflector" --log-level warn >"$work/reflector.log" 2>&1 &
refl_pid=$!
for _ in $(seq 50); do
  in_ns curl -fsS -o /dev/null http://127.0.0.1:8780/v1/health 2>/dev/null && break
  sleep 0.1
done
in_ns curl -fsS -o /dev/null http://127.0.0.1:8780/v1/health || { echo "reflector did not start:"; cat "$work/reflector.log"; exit 1; }
rss_start=$(awk '/^VmRSS/ {print $2}' /proc/$refl_pid/status)

start=$(date +%s.%N)
in_ns "$flood" 127.0.0.1 51820,1194,53,443 1194,443,8780,80 "$count" 90 2000 >"$work/flood.out" &
flood_pid=$!
sleep 2  # the flood is under way
client_rc=0
in_ns "$client" --reflector 127.0.0.1 --timeout 5 --require wireguard,openvpn --json "$work/report.json" \
  --no-color >"$work/client.out" 2>&1 || client_rc=$?
client_done=$(date +%s.%N)
flood_rc=0
wait "$flood_pid" || flood_rc=$?
end=$(date +%s.%N)

hwm=$(awk '/^VmHWM/ {print $2}' /proc/$refl_pid/status 2>/dev/null || echo "?")
# The memory attacks, after the flood (its sessions are the attacker's own).
attack_rc=0
in_ns python3 "$here/memory_attack.py" 127.0.0.1 8780 "$work/attack.out" 5 >"$work/attack.log" 2>&1 || attack_rc=$?
alive=no
kill -0 "$refl_pid" 2>/dev/null && alive=yes
metrics=$(in_ns curl -fsS http://127.0.0.1:8780/metrics 2>/dev/null || true)
hwm_attack=$(awk '/^VmHWM/ {print $2}' /proc/$refl_pid/status 2>/dev/null || echo "?")
rss_end=$(awk '/^VmRSS/ {print $2}' /proc/$refl_pid/status 2>/dev/null || echo "?")
verdicts=$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(" ".join("%s=%s" % (p["protocol"], p["verdict"]) for p in r["protocols"]))' "$work/report.json" 2>&1 || echo "no report")
# Datagrams the kernel dropped before the reflector read them (receive buffer full).
rcvbuf_errors=$(in_ns awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) col[$i] = i; h = 1 } else print $col["RcvbufErrors"] }' /proc/net/snmp)

echo "== reflector load benchmark (rate limit: default 200/s per source)"
echo "flood:      $(cat "$work/flood.out") (exit $flood_rc)"
printf 'wall:       %.1f s (vpncheck finished %.1f s after the flood began)\n' \
  "$(echo "$end - $start" | bc)" "$(echo "$client_done - $start" | bc)"
echo "reflector:  alive=$alive rss_start=${rss_start} kB rss_end=${rss_end} kB peak_rss(VmHWM)=${hwm} kB"
echo "kernel:     UDP RcvbufErrors=$rcvbuf_errors (datagrams dropped before the reflector read them)"
echo "vpncheck:   exit $client_rc; $verdicts"
echo "memory:     attack $(head -2 "$work/attack.out" 2>/dev/null | tr '\n' ' ')(exit $attack_rc);" \
  "observations stored $(awk '/^vpncheck_reflector_observation_bytes / {print $2}' <<<"$metrics") bytes;" \
  "peak_rss(VmHWM) after it ${hwm_attack} kB (budget 131072 kB)"
echo "metrics:"
grep -E '^vpncheck_reflector_(drops|replies|sessions|probes|observation)' <<<"$metrics" | sed 's/^/  /' || true
if [[ $alive != yes ]]; then
  echo "!! the reflector died; its log:"; tail -n 20 "$work/reflector.log"
fi
[[ $alive == yes && $client_rc == 0 ]]
