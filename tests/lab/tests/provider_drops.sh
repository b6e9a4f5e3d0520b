#!/usr/bin/env bash
# provider_drops.sh — where on the path a protocol dies. Two routers: the
# home router (an "inner" namespace, LAN 10.10.0.1, WAN 100.64.0.2) and the
# provider (the lab router, LAN 100.64.0.1, shared address space, NAT to its
# WAN). A DPI rule that drops WireGuard's handshake initiation by its
# payload (the dpi-wireguard profile's signature) sits first at the
# provider, then at the home router. The walk of the genuine probe with
# rising TTL must say "dropped beyond your router, at hop 2 (100.64.0.1, your
# provider)" in the first run and "dropped at hop 1, your router (10.10.0.1)"
# in the second, each with its advice, and neither run may take longer than
# its deadline allows. First, before the second router goes in, the same
# over IPv6 (hop limit, ICMPv6) through the lab's one router.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "provider-drops: a protocol dropped beyond the home router is placed at the provider's hop"
t_need_bins
t_need_python_jsonschema
t_start home
# shellcheck source=lib/inner_router.sh
source "$T_DIR/inner_router.sh"
_provider_drops_cleanup() {
	local rc=$?
	t_inner_router_cleanup
	(exit "$rc")
	_t_cleanup
}
trap _provider_drops_cleanup EXIT

# The DPI rule in the forward path of one router's namespace ($1: a namespace name).
dpi_on() {
	ip netns exec "$1" nft -f - <<'NFT'
table inet walkdpi {
	chain forward {
		type filter hook forward priority filter; policy accept;
		udp length 156 @th,64,32 0x01000000 counter drop comment "wireguard handshake initiation"
	}
}
NFT
}
dpi_off() { ip netns exec "$1" nft delete table inet walkdpi; }
dpi_packets() {
	ip netns exec "$1" nft list table inet walkdpi | sed -n 's/.*counter packets \([0-9]*\).*/\1/p'
}
# The dropped_at entry of WireGuard's standard variant (UDP 51820), field $1.
wg_drop() { t_json "next((d.get('$1') for d in proto('wireguard').get('dropped_at', []) if d['variant'] == 'UDP 51820'), 'none')"; }

echo "== IPv6 (routed, one router): the router drops it"
# Before the second router goes in: its topology is IPv4 only.
dpi_on "$LAB_NS_ROUTER"
T_NO_DEFAULT_REFLECTOR=1 t_vpncheck --reflector "$LAB_REFLECTOR_NAME" -6 --protocols wireguard
echo "  facts: dropped_at=$(t_json "[(d['variant'], d['family'], d['result'], d['hop'], d['address']) for d in proto('wireguard').get('dropped_at', [])]")"
t_check "report validates against the schema" t_report_valid
t_check "IPv6 UDP 51820 was dropped at hop 1, the router's 2001:db8:1::1 (hop limit walk)" \
	t_eq "$(wg_drop family) $(wg_drop result) $(wg_drop hop) $(wg_drop address) $(wg_drop where)" \
	"ipv6 dropped 1 2001:db8:1::1 your_router"
t_check "text report: dropped at hop 1, your router (2001:db8:1::1)" \
	grep -q "UDP 51820: dropped at hop 1, your router (2001:db8:1::1)" "$T_OUT"
[[ $T_FAILS -eq 0 ]] || t_show_run
dpi_off "$LAB_NS_ROUTER"

t_inner_router 100.64.0.2/24 100.64.0.1/24

echo "== the provider drops it"
dpi_on "$LAB_NS_ROUTER"
t_vpncheck -4 --protocols wireguard,openvpn
echo "  facts: wireguard=$(t_verdict wireguard) dropped_at=$(t_json "proto('wireguard').get('dropped_at')")"
t_check "report validates against the schema" t_report_valid
t_check "wireguard is blocked" t_eq "$(t_verdict wireguard)" blocked
t_check "openvpn passes, with no drop to place" \
	t_eq "$(t_verdict openvpn) $(t_json "len(proto('openvpn').get('dropped_at', []))")" "pass 0"
t_check "UDP 51820 was dropped" t_eq "$(wg_drop result)" dropped
t_check "at hop 2, the provider's 100.64.0.1" t_eq "$(wg_drop hop) $(wg_drop address)" "2 100.64.0.1"
t_check "beyond the user's router, in shared address space" \
	t_eq "$(wg_drop own_router) $(wg_drop where) $(wg_drop address_class)" "false beyond_your_router shared"
t_check "the home router forwarded the genuine probe (hop 1 answered it)" \
	t_eq "$(t_json "(lambda g: g['answer'] + ' ' + g['address'])(next(d for d in proto('wireguard')['dropped_at'] if d['variant'] == 'UDP 51820')['steps'][0]['genuine'])")" \
	"time_exceeded 10.10.0.1"
t_check "text report: dropped beyond your router, at hop 2 (100.64.0.1, your provider)" \
	grep -q "UDP 51820: dropped beyond your router, at hop 2 (100.64.0.1, your provider)" "$T_OUT"
t_check "advice: beyond the router, work around it with what works" \
	grep -q "dropped beyond your router, at hop 2 (100.64.0.1): no setting at home changes that. Work around it with what works on this network: OpenVPN" "$T_OUT"
t_check "the provider's rule did the dropping (packets=$(dpi_packets "$LAB_NS_ROUTER"))" \
	test "$(dpi_packets "$LAB_NS_ROUTER")" -gt 0
t_check "the run stayed within its deadline (${T_SECS}s)" \
	python3 -c "import sys; sys.exit(0 if float('$T_SECS') < 4.5 else 1)"
[[ $T_FAILS -eq 0 ]] || t_show_run

echo "== the home router drops it"
dpi_off "$LAB_NS_ROUTER"
dpi_on "$INNER_NS"
# The run before spent the home router's ICMP errors to this client (Linux:
# a burst of 6 per destination, then one a second; its hop trace and walks
# draw on them): a user's first run finds them refilled, so this one waits
# for that. (Without it the walk honestly says "unknown" where hop 1 is silent.)
sleep 6
t_vpncheck -4 --protocols wireguard,openvpn --markdown "$T_WORK/report.md" --junit "$T_WORK/junit.xml"
echo "  facts: wireguard=$(t_verdict wireguard) dropped_at=$(t_json "proto('wireguard').get('dropped_at')")"
t_check "report validates against the schema" t_report_valid
t_check "wireguard is blocked" t_eq "$(t_verdict wireguard)" blocked
t_check "UDP 51820 was dropped at hop 1, 10.10.0.1" \
	t_eq "$(wg_drop result) $(wg_drop hop) $(wg_drop address)" "dropped 1 10.10.0.1"
t_check "by the user's own router" t_eq "$(wg_drop own_router) $(wg_drop where)" "true your_router"
t_check "text report: dropped at hop 1, your router (10.10.0.1)" \
	grep -q "UDP 51820: dropped at hop 1, your router (10.10.0.1)" "$T_OUT"
t_check "advice: a setting of the user's router" \
	grep -q "Your router (10.10.0.1) drops WireGuard on UDP 51820" "$T_OUT"
t_check "Markdown says where" grep -q "Where: UDP 51820: dropped at hop 1, your router (10.10.0.1)" "$T_WORK/report.md"
t_check "JUnit says where" grep -q "where: UDP 51820: dropped at hop 1, your router (10.10.0.1)" "$T_WORK/junit.xml"
t_check "the home router's rule did the dropping (packets=$(dpi_packets "$INNER_NS"))" \
	test "$(dpi_packets "$INNER_NS")" -gt 0
t_check "the run stayed within its deadline (${T_SECS}s)" \
	python3 -c "import sys; sys.exit(0 if float('$T_SECS') < 4.5 else 1)"
[[ $T_FAILS -eq 0 ]] || t_show_run

t_finish
