#!/usr/bin/env bash
# no_fragments.sh — profile "no-fragments" (NAT router that drops every IPv4
# fragment): small IKE messages pass, the IKE_AUTH-sized one (2600 B, hence
# fragmented) does not -> finding "fragments_dropped" and advice to enable
# IKEv2 fragmentation (RFC 7383). The path test reports fragments dropped on
# the way out with a 1500-byte path MTU, so OpenVPN over UDP (default tun-mtu
# 1500: its full-size packets need fragments) is restricted with tun-mtu /
# mssfix advice, while WireGuard (1480-byte packets, no fragments) passes.
# L2TP leaves DF clear and its full-size data messages (1538 bytes) leave as
# fragments: restricted, with the PPP MTU that fits in one packet.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
# shellcheck source=lib/ipsec.sh
source "$(dirname "$0")/lib/ipsec.sh"
t_init "no-fragments: large-IKE finding, fragments dropped, openvpn and l2tp restricted, wireguard pass"
t_need_bins
t_need_python_jsonschema
t_start no-fragments

t_vpncheck --protocols ipsec,wireguard,openvpn,l2tp --require wireguard
t_ipsec_facts

t_check "exit code 0 with --require wireguard (got $T_RC)" t_eq "$T_RC" 0
t_check "report validates against $T_SCHEMA" t_report_valid
t_check "wireguard verdict is pass" t_eq "$(t_verdict wireguard)" pass
t_check "ipsec findings contain fragments_dropped" t_eq "$(t_ipsec_has_finding fragments_dropped)" true
t_check "the advice names IKEv2 fragmentation (RFC 7383)" t_eq "$(t_ipsec_advice_has "RFC 7383")" true
t_check "the advice gives strongSwan's fragmentation=yes" t_eq "$(t_ipsec_advice_has "fragmentation=yes")" true
t_check "small IKEv2 went both ways" t_eq "$(t_ipsec_piece ikev2 "p.get('inbound')")" true
t_check "the large IKE message did not reach the reflector" t_eq "$(t_ipsec_piece ike-large "p.get('outbound')")" false
t_check "the router dropped IPv4 fragments" test "$(t_router_counter 'IPv4 fragments')" -gt 0
t_check "nat.fragments_pass is false" t_eq "$(t_json "r['nat']['fragments_pass']")" false
t_check "they were lost on the way out" t_eq "$(t_json "r['nat']['tests']['path']['fragments_lost']")" out
t_check "nat.path_mtu is 1500 (DF packets of every size pass)" t_eq "$(t_json "r['nat']['path_mtu']")" 1500
t_check "openvpn verdict is restricted" t_eq "$(t_verdict openvpn)" restricted
t_check "openvpn findings contain full_size_packets_dropped" \
	t_eq "$(t_json "'full_size_packets_dropped' in proto('openvpn')['findings']")" true
t_check "openvpn advice gives tun-mtu and mssfix" \
	t_eq "$(t_json "any('tun-mtu' in a and 'mssfix' in a for a in proto('openvpn')['advice'])")" true
t_check "wireguard has no such finding" \
	t_eq "$(t_json "'full_size_packets_dropped' in proto('wireguard')['findings']")" false
t_check "the text report's NAT section says fragments are dropped" grep -q "IP fragments are dropped on the way out" "$T_OUT"
t_check "l2tp verdict is restricted (got '$(t_verdict l2tp)')" t_eq "$(t_verdict l2tp)" restricted
t_check "l2tp findings contain full_size_packets_dropped" \
	t_eq "$(t_json "'full_size_packets_dropped' in proto('l2tp')['findings']")" true
t_check "l2tp advice: PPP mtu 1456 (1500 less 44)" \
	t_eq "$(t_json "any('L2TP: mtu 1456 and mru 1456' in a for a in proto('l2tp')['advice'])")" true
t_check "the path test's L2TP entry says it breaks" \
	t_eq "$(t_json "next(m['breaks'] for m in r['nat']['tests']['path']['protocols'] if m['protocol'] == 'l2tp')")" true
t_check "l2tp's small data messages still came back" test "$(t_data l2tp ipv4 1701 small echoed)" -ge 1

[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
