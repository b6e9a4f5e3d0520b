# inner_router.sh — sourced by lab tests (after common.sh and t_start) that
# need a second NAT in front of the client: a new "inner" router namespace
# between the client and the lab router. Client 10.10.0.10/24 -> inner router
# (LAN 10.10.0.1, WAN $1) -> lab router (LAN $2, NAT to its WAN) -> reflector.
# With $1/$2 in 192.168.1.0/24 the second NAT is a home modem-router's; in
# 100.64.0.0/10 (RFC 6598) it is a carrier's. The inner router masquerades
# and answers nothing else (no port-mapping protocol). The namespace is
# removed on exit; a test adding its own EXIT trap calls t_inner_router_cleanup.

INNER_NS="vpnc-inner-$LAB_SUFFIX"

t_inner_router_cleanup() {
	[[ -e "/run/netns/$INNER_NS" ]] && ip netns del "$INNER_NS" 2>/dev/null
	return 0
}

# t_inner_router INNER_WAN_CIDR OUTER_LAN_CIDR
t_inner_router() {
	local inner_wan=$1 outer_lan=$2
	ip netns add "$INNER_NS"
	ip -n "$INNER_NS" link set lo up
	# Re-wire: router lan <-> inner wan, inner lan <-> client eth0 (veths created inside the namespaces).
	ip -n "$LAB_NS_ROUTER" link del lan # also removes the client's eth0
	ip -n "$LAB_NS_ROUTER" link add lan type veth peer name wan netns "$INNER_NS"
	ip -n "$LAB_NS_ROUTER" addr add "$outer_lan" dev lan
	ip -n "$LAB_NS_ROUTER" link set lan up
	ip -n "$INNER_NS" link add lan type veth peer name eth0 netns "$LAB_NS_CLIENT"
	ip -n "$INNER_NS" addr add "$inner_wan" dev wan
	ip -n "$INNER_NS" addr add 10.10.0.1/24 dev lan
	ip -n "$INNER_NS" link set wan up
	ip -n "$INNER_NS" link set lan up
	ip -n "$INNER_NS" route add default via "${outer_lan%/*}"
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
}
