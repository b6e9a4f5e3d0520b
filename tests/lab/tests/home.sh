#!/usr/bin/env bash
# home.sh — profile "home" (plain NAT router, everything forwarded):
# WireGuard, OpenVPN and L2TP (its whole control exchange on UDP 1701, plain
# UDP through NAPT, then its data messages, small and full-size) must all `pass`, the report must see the NAT
# (public 203.0.113.1 != local 192.168.1.10), --require of all three exits 0,
# and the report must validate against the schema. The reflector is named
# reflector.lab (A and AAAA), so both families are tested by default: over
# IPv6 (routed, no NAT66) both protocols must pass too, without translation.
# IPsec (IPv4) passes via NAT-T: IKE detects the NAT (both NAT-D hashes shown
# in the -v evidence), UDP source port 500 is kept, AH arrives modified (its
# ICV covers the addresses the NAT rewrote) which is a finding, not a failure.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
# shellcheck source=lib/ipsec.sh
source "$(dirname "$0")/lib/ipsec.sh"
t_init "home: wireguard+openvpn+ipsec+l2tp pass behind NAT"
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
t_check "l2tp udp/1701 completed all 4 steps (SCCRP, ZLB, ICRP, ZLB)" \
	t_eq "$(t_probe_field_in ipv4 l2tp genuine udp 1701 steps_answered)" 4
t_check "the reflector saw the SCCRQ, SCCCN, ICRQ and ICCN of the ipv4 l2tp probe" \
	t_eq "$(t_probe_field_in ipv4 l2tp genuine udp 1701 arrivals)" 4
# The data phase after the control exchange: a ping-sized and a full-size
# (PPP MTU 1500, sent as fragments without DF) data message both came back.
echo "  facts: l2tp data echoed: ipv4 small=$(t_data l2tp ipv4 1701 small echoed) full=$(t_data l2tp ipv4 1701 full echoed); ipv6 small=$(t_data l2tp ipv6 1701 small echoed) full=$(t_data l2tp ipv6 1701 full echoed)"
for family in ipv4 ipv6; do
	for size in small full; do
		t_check "l2tp $family $size data packets came back" test "$(t_data l2tp $family 1701 $size echoed)" -ge 1
	done
done
t_check "l2tp has no data-phase finding" \
	t_eq "$(t_json "[f for f in proto('l2tp').get('findings', []) if f in ('data_dropped_after_handshake', 'full_size_packets_dropped', 'upload_lost', 'download_lost')]")" "[]"
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

# IPsec, over IPv4 (raw ESP/AH are IPv4 only), with the -v evidence.
t_vpncheck --protocols ipsec --require ipsec -v
t_ipsec_facts
t_check "ipsec: exit code 0 with --require ipsec (got $T_RC)" t_eq "$T_RC" 0
t_check "ipsec: report validates against $T_SCHEMA" t_report_valid
t_check "ipsec verdict is pass" t_eq "$(t_verdict ipsec)" pass
t_check "ipsec: the summary says NAT-T works" t_eq "$(t_ipsec_summary_has "NAT-T on UDP 4500")" true
t_check "ipsec: NAT-T IKE, ESP-in-UDP and keepalive answered" t_eq "$(t_ipsec_piece nat-t "p.get('steps_answered')")" 3
t_check "ipsec: raw ESP went both ways through the NAT" 	t_eq "$(t_ipsec_piece esp "p.get('outbound')")/$(t_ipsec_piece esp "p.get('inbound')")" "true/true"
t_check "ipsec: the client decided behind_nat=yes from the responder's NAT-D hash" 	t_eq "$(t_ipsec_piece ikev2 "p.get('reply_fields', {}).get('behind_nat')")" yes
t_check "ipsec: both NAT_DETECTION_DESTINATION_IP hashes are reported and differ" 	t_eq "$(t_ipsec_piece ikev2 "len(p['reply_fields']['nat_d_destination_expected']) == 40 and p['reply_fields']['nat_d_destination_expected'] != p['reply_fields']['nat_d_destination_received']")" true
t_check "ipsec: the reflector's NAT-D check says the source was translated" 	t_eq "$(t_ipsec_piece ikev2 "p.get('observed_fields', {}).get('nat_d_source_translated')")" yes
t_check "ipsec: IKE was sent from UDP source port 500" 	t_eq "$(t_ipsec_piece ikev2 "p['translation']['sent_from']['port']")" 500
t_check "ipsec: the summary reports source port 500 kept" t_eq "$(t_ipsec_summary_has "UDP source port 500 was kept")" true
t_check "ipsec: AH arrived with a broken ICV (icv_valid=no)" 	t_eq "$(t_ipsec_piece ah "p.get('observed_fields', {}).get('icv_valid')")" no
t_check "ipsec: findings contain ah_modified" t_eq "$(t_ipsec_has_finding ah_modified)" true
t_check "ipsec: the summary says AH does not decide the verdict" 	t_eq "$(t_ipsec_summary_has "does not decide the verdict")" true
t_check "ipsec: the advice says AH cannot cross NAT" t_eq "$(t_ipsec_advice_has "AH cannot cross NAT")" true
t_check "ipsec: -v text evidence shows the client's NAT decision" grep -q "behind_nat=yes" "$T_OUT"
t_check "ipsec: -v text evidence shows the reflector's NAT-D hashes" grep -q "nat_d_source_expected=" "$T_OUT"

[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
