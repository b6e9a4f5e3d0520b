#!/usr/bin/env bash
# reflector_port_taken.sh — a reflector host where another program already
# holds probe ports (UDP 1701 and TCP 1194 here; UDP 53 held by a local DNS
# resolver is the common case): the reflector says which port and why, serves
# every other port, lists the ports in its capabilities' unavailable_ports, and
# vpncheck reports those probes as not run — L2TP, whose only port it is,
# inconclusive with the reflector's reason, never a failing verdict.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "reflector_port_taken: a port held by another program is reported, not blamed on the network"
t_need_bins
lab_up home || t_fatal "could not build the lab"
lab_bg squatter reflector "$T_PY" -c '
import socket, sys, time
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind((sys.argv[1], 1701))
tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
tcp.bind((sys.argv[1], 1194))
tcp.listen()
print("bound", flush=True)
time.sleep(600)
' "$LAB_REFLECTOR_IP"
for _ in $(seq 100); do grep -q bound "$LAB_STATE_DIR/squatter.log" 2>/dev/null && break; sleep 0.05; done
t_check "the other program holds UDP 1701 and TCP 1194" grep -q bound "$LAB_STATE_DIR/squatter.log"
lab_reflector_start || t_fatal "vpncheck-reflector did not start with two of its ports taken"
log="$LAB_STATE_DIR/reflector.log"
t_check "the reflector names UDP 1701 and why" grep -q "UDP 1701 probes will not run (address in use" "$log"
t_check "the reflector names TCP 1194 and why" grep -q "TCP 1194 probes will not run (address in use" "$log"

caps="$(lab_exec client "$T_PY" -c '
import json, sys, urllib.request
req = urllib.request.Request("http://%s:%s/v1/sessions" % (sys.argv[1], sys.argv[2]), data=b"{}", method="POST",
                             headers={"Content-Type": "application/json"})
print(json.dumps(json.load(urllib.request.urlopen(req, timeout=5))["capabilities"]))
' "$LAB_REFLECTOR_IP" "$LAB_CONTROL_PORT")" || caps="{}"
echo "  capabilities: $caps"
caps_has() { "$T_PY" -c "import json, sys; c = json.loads(sys.argv[1]); sys.exit(0 if ($1) else 1)" "$caps"; }
t_check "capabilities list UDP 1701 as unavailable, with the reason" \
	caps_has "any(u['transport'] == 'udp' and u['port'] == 1701 and 'address in use' in u['reason'] for u in c['unavailable_ports'])"
t_check "capabilities list TCP 1194 as unavailable" \
	caps_has "any(u['transport'] == 'tcp' and u['port'] == 1194 for u in c['unavailable_ports'])"
t_check "UDP 1701 and TCP 1194 are not offered" caps_has "1701 not in c['udp_ports'] and 1194 not in c['tcp_ports']"
t_check "the other ports are still offered" \
	caps_has "{51820, 1194, 53, 443, 500, 4500} <= set(c['udp_ports']) and {443, 1723} <= set(c['tcp_ports'])"

t_vpncheck -4 --protocols wireguard,openvpn,l2tp
t_check "vpncheck exits 0" t_eq "$T_RC" 0
t_check "wireguard still passes" t_eq "$(t_verdict wireguard)" pass
t_check "openvpn still passes (UDP 1194 works)" t_eq "$(t_verdict openvpn)" pass
t_check "l2tp is inconclusive, not blocked" t_eq "$(t_verdict l2tp)" inconclusive
t_check "l2tp's summary gives the reflector's reason" \
	t_eq "$(t_json "'could not listen on UDP 1701: address in use' in proto('l2tp')['summary']")" true
t_check "openvpn's TCP 1194 probe did not run" t_eq "$(t_probe_field openvpn genuine tcp 1194 outcome)" not_run
t_check "the text says why L2TP was not tested" grep -q "could not listen on UDP 1701" "$T_OUT"
[[ $T_FAILS -eq 0 ]] || { t_show_run; lab_reflector_log; }
t_finish
