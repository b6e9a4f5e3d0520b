#!/usr/bin/env bash
# double_nat.sh — a second NAT in front of the client: the test inserts an
# "inner" router namespace between the client and the lab router (client
# 10.10.0.10 -> inner NAT, WAN 192.168.1.2 -> lab router NAT, WAN 203.0.113.1
# -> reflector). The inner router announces its WAN address over NAT-PMP (a
# tiny responder, as routers that report a private uplink address do); the
# reflector sees 203.0.113.1. vpncheck must report double NAT, with the
# gateway's private external address, and still pass WireGuard. (Without any
# answer double NAT stays null: see upnp_gateway.sh. miniupnpd cannot play
# the inner router: it refuses to announce a private WAN address.)
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "double_nat: a NAT behind a NAT is reported"
t_need_bins
t_need_python_jsonschema
t_start home

# shellcheck source=lib/inner_router.sh
source "$T_DIR/inner_router.sh"
RESPONDER_PID=""
_inner_cleanup() {
	local rc=$?
	if [[ -n "$RESPONDER_PID" ]] && kill -0 "$RESPONDER_PID" 2>/dev/null; then
		kill "$RESPONDER_PID" 2>/dev/null || true
		wait "$RESPONDER_PID" 2>/dev/null || true
	fi
	t_inner_router_cleanup
	(exit "$rc")
	_t_cleanup
}
trap _inner_cleanup EXIT
t_inner_router 192.168.1.2/24 "$LAB_ROUTER_LAN_IP/24"

ip netns exec "$INNER_NS" "$T_PY" "$T_DIR/natpmp_responder.py" 192.168.1.2 >"$T_WORK/responder.log" 2>&1 &
RESPONDER_PID=$!
for _ in $(seq 50); do grep -q ready "$T_WORK/responder.log" 2>/dev/null && break; sleep 0.1; done

t_vpncheck -4 --protocols wireguard
echo "  facts: double_nat=$(t_json "r['nat']['double_nat']") port_mapping=$(t_json "r['nat']['port_mapping']")"
t_check "report validates against the schema" t_report_valid
t_check "client.public_address is the outer router's $LAB_ROUTER_WAN_IP" t_eq "$(t_json "r['client']['public_address']")" "$LAB_ROUTER_WAN_IP"
t_check "the gateway asked is the inner router 10.10.0.1" t_eq "$(t_json "r['nat']['port_mapping']['gateway']")" 10.10.0.1
t_check "NAT-PMP answered with the inner router's WAN address 192.168.1.2" \
	t_eq "$(t_json "r['nat']['port_mapping']['nat_pmp']['external_address']")" 192.168.1.2
t_check "nat.double_nat is true" t_eq "$(t_json "r['nat']['double_nat']")" true
t_check "topology is double_nat" t_eq "$(t_json "r['nat']['port_mapping']['topology']")" double_nat
t_check "wireguard still passes through both NATs" t_eq "$(t_verdict wireguard)" pass
t_check "text report explains the second NAT" grep -q "sits behind another NAT" "$T_OUT"
# The hops say the same on their own: the router after the inner one answers from private space.
t_check "hop 1 is the inner router 10.10.0.1" t_eq "$(t_json "r['nat']['path_hops']['hops'][0]['address']")" 10.10.0.1
t_check "hop 2 is the outer router $LAB_ROUTER_LAN_IP, private" \
	t_eq "$(t_json "(lambda h: h['address'] + ' ' + h['class'])(r['nat']['path_hops']['hops'][1])")" "$LAB_ROUTER_LAN_IP private"
t_check "the hops alone say double NAT, not a carrier's" \
	t_eq "$(t_json "(r['nat']['path_hops']['double_nat'], r['nat']['path_hops']['cgnat'])")" "(True, None)"
[[ $T_FAILS -eq 0 ]] || t_show_run

t_finish
