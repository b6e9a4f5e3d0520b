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

INNER_NS="vpnc-inner-$LAB_SUFFIX"
RESPONDER_PID=""
_inner_cleanup() {
	local rc=$?
	if [[ -n "$RESPONDER_PID" ]] && kill -0 "$RESPONDER_PID" 2>/dev/null; then
		kill "$RESPONDER_PID" 2>/dev/null || true
		wait "$RESPONDER_PID" 2>/dev/null || true
	fi
	[[ -e "/run/netns/$INNER_NS" ]] && ip netns del "$INNER_NS" 2>/dev/null
	(exit "$rc")
	_t_cleanup
}
trap _inner_cleanup EXIT

# Re-wire: router lan <-> inner wan, inner lan <-> client eth0 (veths created inside the namespaces).
ip netns add "$INNER_NS"
ip -n "$INNER_NS" link set lo up
ip -n "$LAB_NS_ROUTER" link del lan   # also removes the client's eth0
ip -n "$LAB_NS_ROUTER" link add lan type veth peer name wan netns "$INNER_NS"
ip -n "$LAB_NS_ROUTER" addr add "$LAB_ROUTER_LAN_IP/24" dev lan
ip -n "$LAB_NS_ROUTER" link set lan up
ip -n "$INNER_NS" link add lan type veth peer name eth0 netns "$LAB_NS_CLIENT"
ip -n "$INNER_NS" addr add 192.168.1.2/24 dev wan
ip -n "$INNER_NS" addr add 10.10.0.1/24 dev lan
ip -n "$INNER_NS" link set wan up
ip -n "$INNER_NS" link set lan up
ip -n "$INNER_NS" route add default via "$LAB_ROUTER_LAN_IP"
ip netns exec "$INNER_NS" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$INNER_NS" nft -f - <<'NFT'
table ip nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan" masquerade
	}
}
NFT
ip -n "$LAB_NS_CLIENT" addr add 10.10.0.10/24 dev eth0
ip -n "$LAB_NS_CLIENT" link set eth0 up
ip -n "$LAB_NS_CLIENT" route add default via 10.10.0.1

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
[[ $T_FAILS -eq 0 ]] || t_show_run

t_finish
