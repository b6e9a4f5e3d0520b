#!/usr/bin/env bash
# cgnat.sh — a home router behind a carrier-grade NAT: the test inserts the
# home router as an "inner" namespace (client 10.10.0.10 -> home router, WAN
# 100.64.0.2) and re-addresses the lab router's LAN to 100.64.0.1/24, the
# shared address space of RFC 6598, so the lab router plays the carrier's NAT
# (its WAN 203.0.113.1 is the public address). No router answers a port-mapping
# protocol, so only the path's hops can tell: vpncheck must report double NAT
# and CGNAT with the hop that shows it, and still pass WireGuard.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "cgnat: a carrier's NAT is named from the path's hops"
t_need_bins
t_need_python_jsonschema
t_start home
# shellcheck source=lib/inner_router.sh
source "$T_DIR/inner_router.sh"
_cgnat_cleanup() {
	local rc=$?
	t_inner_router_cleanup
	(exit "$rc")
	_t_cleanup
}
trap _cgnat_cleanup EXIT
t_inner_router 100.64.0.2/24 100.64.0.1/24

t_vpncheck -4 --protocols wireguard
echo "  facts: double_nat=$(t_json "r['nat']['double_nat']") cgnat=$(t_json "r['nat']['cgnat']") hops=$(t_json "r['nat']['path_hops']")"
t_check "report validates against the schema" t_report_valid
t_check "no port-mapping protocol answered" t_eq "$(t_json "r['nat']['port_mapping']['topology']")" unknown
t_check "hop 1 is the home router 10.10.0.1" t_eq "$(t_json "r['nat']['path_hops']['hops'][0]['address']")" 10.10.0.1
t_check "hop 2 is the carrier's NAT 100.64.0.1, in shared address space" \
	t_eq "$(t_json "(lambda h: h['address'] + ' ' + h['class'])(r['nat']['path_hops']['hops'][1])")" "100.64.0.1 shared"
t_check "nat.double_nat is true" t_eq "$(t_json "r['nat']['double_nat']")" true
t_check "nat.cgnat is true" t_eq "$(t_json "r['nat']['cgnat']")" true
t_check "text report names the carrier's NAT and its hop" grep -q "hop 2 (100.64.0.1).*carrier-grade NAT" "$T_OUT"
t_check "wireguard still passes through both NATs" t_eq "$(t_verdict wireguard)" pass
[[ $T_FAILS -eq 0 ]] || t_show_run

t_finish
