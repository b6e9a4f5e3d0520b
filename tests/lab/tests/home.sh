#!/usr/bin/env bash
# home.sh — profile "home" (plain NAT router, everything forwarded):
# WireGuard, OpenVPN and L2TP (its whole control exchange on UDP 1701, plain
# UDP through NAPT) must all `pass`, the report must see the NAT
# (public 203.0.113.1 != local 192.168.1.10), --require of all three exits 0,
# and the report must validate against the schema. The reflector is named
# reflector.lab (A and AAAA), so both families are tested by default: over
# IPv6 (routed, no NAT66) both protocols must pass too, without translation.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "home: wireguard+openvpn+l2tp pass behind NAT"
t_need_bins
t_need_python_jsonschema
t_start home

T_NO_DEFAULT_REFLECTOR=1 t_vpncheck --reflector "$LAB_REFLECTOR_NAME" --protocols wireguard,openvpn,l2tp \
	--require wireguard,openvpn,l2tp
wg="$(t_verdict wireguard)"
ovpn="$(t_verdict openvpn)"
l2tp="$(t_verdict l2tp)"
echo "  facts: wireguard=$wg openvpn=$ovpn l2tp=$l2tp"
t_probe_table wireguard
t_probe_table openvpn
t_probe_table l2tp

t_check "exit code 0 with --require wireguard,openvpn,l2tp (got $T_RC)" t_eq "$T_RC" 0
t_check "report exit_code equals process exit code" t_report_exit_code_matches
t_check "report validates against $T_SCHEMA" t_report_valid
t_check "schema field is vpncheck.report/1" t_eq "$(t_json "r.get('schema')")" "vpncheck.report/1"
t_check "wireguard verdict is pass (got '$wg')" t_eq "$wg" pass
t_check "openvpn verdict is pass (got '$ovpn')" t_eq "$ovpn" pass
t_check "wireguard standard probe udp/51820 went both ways" \
	t_eq "$(t_probe_field wireguard genuine udp 51820 outbound)/$(t_probe_field wireguard genuine udp 51820 inbound)" "true/true"
t_check "openvpn standard probe udp/1194 went both ways" \
	t_eq "$(t_probe_field openvpn genuine udp 1194 outbound)/$(t_probe_field openvpn genuine udp 1194 inbound)" "true/true"
t_check "l2tp verdict is pass (got '$l2tp')" t_eq "$l2tp" pass
t_check "l2tp udp/1701 completed all 3 steps (SCCRP, ZLB, ZLB)" \
	t_eq "$(t_probe_field_in ipv4 l2tp genuine udp 1701 steps_answered)" 3
t_check "the reflector saw the SCCRQ, SCCCN and StopCCN of the ipv4 l2tp probe" \
	t_eq "$(t_probe_field_in ipv4 l2tp genuine udp 1701 arrivals)" 3
t_check "l2tp through NAT: observed source is the router's WAN address" \
	t_eq "$(t_json "next(p['translation']['observed_as']['address'] for p in proto('l2tp')['probes'] if p.get('family', 'ipv4') == 'ipv4' and p.get('kind') == 'genuine' and p.get('translation'))")" "$LAB_ROUTER_WAN_IP"
wg6="$(t_family_verdict wireguard ipv6)"
ovpn6="$(t_family_verdict openvpn ipv6)"
echo "  facts: ipv6: wireguard=$wg6 openvpn=$ovpn6"
t_check "wireguard ipv4 family verdict is pass" t_eq "$(t_family_verdict wireguard ipv4)" pass
t_check "l2tp ipv6 family verdict is pass" t_eq "$(t_family_verdict l2tp ipv6)" pass
t_check "wireguard ipv6 family verdict is pass (got '$wg6')" t_eq "$wg6" pass
t_check "openvpn ipv6 family verdict is pass (got '$ovpn6')" t_eq "$ovpn6" pass
t_check "wireguard ipv6 udp/51820 went both ways" \
	t_eq "$(t_probe_field_in ipv6 wireguard genuine udp 51820 outbound)/$(t_probe_field_in ipv6 wireguard genuine udp 51820 inbound)" "true/true"
t_check "ipv6 probe arrived from the client's own address $LAB_CLIENT_IP6 (no NAT66)" \
	t_eq "$(t_json "next(p['translation']['observed_as']['address'] for p in proto('wireguard')['probes'] if p.get('family') == 'ipv6' and p.get('translation'))")" "$LAB_CLIENT_IP6"
t_check "reflector.address_v6 is $LAB_REFLECTOR_IP6" t_eq "$(t_json "r['reflector'].get('address_v6')")" "$LAB_REFLECTOR_IP6"
local_addr="$(t_json "r['client'].get('local_address')" 2>/dev/null || true)"
public_addr="$(t_json "r['client'].get('public_address')" 2>/dev/null || true)"
nat="$(t_json "r['client'].get('behind_nat')" 2>/dev/null || true)"
echo "  facts: local_address=$local_addr public_address=$public_addr behind_nat=$nat"
t_check "client.behind_nat is true" t_eq "$nat" true
t_check "client.local_address is $LAB_CLIENT_IP" t_eq "$local_addr" "$LAB_CLIENT_IP"
t_check "client.public_address is the router's WAN address $LAB_ROUTER_WAN_IP" t_eq "$public_addr" "$LAB_ROUTER_WAN_IP"

[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
