#!/usr/bin/env bash
# small_mtu.sh — profile "small-mtu" (home router with a 1400-byte uplink):
# the path test finds 1400 (1420 does not pass with DF) and names the router
# that reported it (ICMP "fragmentation needed"); fragments are re-fragmented
# by the router and pass, so OpenVPN and WireGuard still pass. Then the router
# stops sending ICMP errors (a black hole): the same MTU is found, the report
# says no router said why, and both are restricted (their Linux clients send
# packets that fit this host's MTU with DF set), with the MTU to set.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "small-mtu: path MTU 1400 found, with and without ICMP"
t_need_bins
t_need_python_jsonschema
t_start small-mtu

t_vpncheck --protocols wireguard,openvpn
t_check "exit code 0 (got $T_RC)" t_eq "$T_RC" 0
t_check "report validates against $T_SCHEMA" t_report_valid
t_check "nat.path_mtu is 1400" t_eq "$(t_json "r['nat']['path_mtu']")" 1400
t_check "1420 was the smallest size that failed" t_eq "$(t_json "r['nat']['tests']['path']['smallest_failed']")" 1420
t_check "fragments pass (the router fragments)" t_eq "$(t_json "r['nat']['fragments_pass']")" true
t_check "the text report names the router's MTU report" \
	grep -q "the router $LAB_ROUTER_LAN_IP reports an MTU of 1400" "$T_OUT"
t_check "wireguard passes (its packets are fragmented, and fragments pass)" t_eq "$(t_verdict wireguard)" pass
t_check "openvpn passes" t_eq "$(t_verdict openvpn)" pass
[[ $T_FAILS -eq 0 ]] || t_show_run

lab_exec router nft add rule inet filter output icmp type destination-unreachable counter drop
t_vpncheck --protocols wireguard,openvpn
t_check "black hole: nat.path_mtu is still 1400" t_eq "$(t_json "r['nat']['path_mtu']")" 1400
t_check "black hole: the report says no router said why" grep -q "no router said why" "$T_OUT"
t_check "black hole: wireguard restricted (wireguard-go sets DF on its 1480-byte packets)" \
	t_eq "$(t_verdict wireguard)" restricted
t_check "black hole: openvpn restricted (DF on its 1492-byte mssfix-sized TCP packets)" t_eq "$(t_verdict openvpn)" restricted
t_check "black hole: wireguard advice is MTU = 1340" \
	t_eq "$(t_json "any('WireGuard: MTU = 1340 ' in a for a in proto('wireguard')['advice'])")" true
t_check "black hole: the router really dropped its ICMP errors" \
	test "$(lab_exec router nft list chain inet filter output | sed -n 's/.*packets \([0-9]*\).*/\1/p' | head -n 1)" -gt 0
[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
