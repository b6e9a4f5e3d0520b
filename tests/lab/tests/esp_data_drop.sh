#!/usr/bin/env bash
# esp_data_drop.sh — profile "esp-data-drop": raw ESP (IP protocol 50) may
# open a flow, then ESP is dropped (300 bytes per LAN address: the probe and
# one small data packet). Over IPv6 (routed, no NAT) clients send raw ESP:
# its handshake passes, its data does not, so IPsec is `restricted` with
# data_dropped_after_handshake and upload_lost, and advice for ESP's own
# place (allow ESP or force UDP encapsulation), not `pass`. Over IPv4 (behind
# the NAT) clients use NAT-T: raw ESP's data is dropped there too but decides
# nothing, and IPsec passes.
# Then the router drops only ESP packets over 1400 bytes (no ICMP): over IPv6
# the small data packets pass both ways and the full-size ones (1460 bytes of
# ESP) never arrive: `restricted` with full_size_packets_dropped, upload_lost
# and the MTU to set.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
# shellcheck source=lib/ipsec.sh
source "$(dirname "$0")/lib/ipsec.sh"
t_init "esp-data-drop: raw ESP's handshake passes, its data does not: IPsec restricted over IPv6"
t_need_bins
t_need_python_jsonschema
t_start esp-data-drop

v6_field() { t_json "proto('ipsec').get('families', {}).get('ipv6', {}).get('$1', '')" 2>/dev/null || true; }

T_NO_DEFAULT_REFLECTOR=1 t_vpncheck --reflector "$LAB_REFLECTOR_NAME" --protocols ipsec --timeout 1.5
t_ipsec_facts
for f in ipv4 ipv6; do
	echo "  facts: $f raw ESP data: small sent=$(t_data ipsec $f 50 small sent) arrived=$(t_data ipsec $f 50 small arrived) echoed=$(t_data ipsec $f 50 small echoed); full sent=$(t_data ipsec $f 50 full sent) arrived=$(t_data ipsec $f 50 full arrived)"
done
echo "  facts: ipv6: $(v6_field verdict): $(v6_field summary)"
t_check "report validates against $T_SCHEMA" t_report_valid
t_check "ipv6 raw ESP's handshake is answered" t_eq "$(t_ipsec_piece_in ipv6 esp "p.get('inbound')")" true
t_check "ipv6 raw ESP ran a data phase, at most one packet of it arrived" \
	bash -c '(( $1 >= 4 && $2 <= 1 ))' _ "$(t_data ipsec ipv6 50 small sent)" "$(t_data ipsec ipv6 50 small arrived)"
t_check "ipv6 ipsec restricted, not pass (got '$(v6_field verdict)')" t_eq "$(v6_field verdict)" restricted
t_check "ipv6 summary names raw ESP's data" \
	bash -c '[[ "$1" == *"over ESP (IP protocol 50)"* && "$1" == *"stops its data"* ]]' _ "$(v6_field summary)"
t_check "ipv4 raw ESP's data was dropped too" \
	bash -c '(( $1 >= 4 && $2 <= 1 ))' _ "$(t_data ipsec ipv4 50 small sent)" "$(t_data ipsec ipv4 50 small arrived)"
t_check "ipv4 ipsec passes (behind the NAT clients use NAT-T; got '$(t_family_verdict ipsec ipv4)')" \
	t_eq "$(t_family_verdict ipsec ipv4)" pass
t_check "the router's ESP rule dropped packets" test "$(t_router_counter "esp after the first few")" -gt 0
[[ $T_FAILS -eq 0 ]] || t_show_run

# IPv6 only (the report's top-level entry is IPv6's), each address's ESP allowance afresh.
lab_exec router nft flush set inet filter esp6
T_NO_DEFAULT_REFLECTOR=1 t_vpncheck --reflector "$LAB_REFLECTOR_NAME" -6 --protocols ipsec --timeout 1.5
t_ipsec_facts
t_check "-6: report validates" t_report_valid
t_check "-6: ipsec restricted (got '$(t_verdict ipsec)')" t_eq "$(t_verdict ipsec)" restricted
t_check "-6: finding data_dropped_after_handshake" t_eq "$(t_ipsec_has_finding data_dropped_after_handshake)" true
t_check "-6: finding upload_lost" t_eq "$(t_ipsec_has_finding upload_lost)" true
t_check "-6: not taken for an MTU problem" t_eq "$(t_ipsec_has_finding full_size_packets_dropped)" false
t_check "-6: advice: allow ESP or force UDP encapsulation" t_eq "$(t_ipsec_advice_has "encap=yes")" true
[[ $T_FAILS -eq 0 ]] || t_show_run

# Only large ESP dropped, without ICMP: a path that loses full-size packets of one protocol.
lab_exec router nft flush chain inet filter forward
lab_exec router nft add rule inet filter forward iifname lan meta l4proto esp meta length gt 1400 counter drop comment '"large esp"'
T_NO_DEFAULT_REFLECTOR=1 t_vpncheck --reflector "$LAB_REFLECTOR_NAME" -6 --protocols ipsec --timeout 1.5
t_ipsec_facts
echo "  facts: ipv6 raw ESP data: small sent=$(t_data ipsec ipv6 50 small sent) echoed=$(t_data ipsec ipv6 50 small echoed); full bytes=$(t_data ipsec ipv6 50 full bytes) sent=$(t_data ipsec ipv6 50 full sent) arrived=$(t_data ipsec ipv6 50 full arrived)"
t_check "large: report validates" t_report_valid
t_check "large: small data packets made the round trip" test "$(t_data ipsec ipv6 50 small echoed)" -ge 1
t_check "large: no full-size one (1460 bytes of ESP) arrived" \
	t_eq "$(t_data ipsec ipv6 50 full bytes)/$(t_data ipsec ipv6 50 full arrived)" "1460/0"
t_check "large: ipsec restricted (got '$(t_verdict ipsec)')" t_eq "$(t_verdict ipsec)" restricted
t_check "large: finding full_size_packets_dropped" t_eq "$(t_ipsec_has_finding full_size_packets_dropped)" true
t_check "large: finding upload_lost" t_eq "$(t_ipsec_has_finding upload_lost)" true
t_check "large: not data_dropped_after_handshake" t_eq "$(t_ipsec_has_finding data_dropped_after_handshake)" false
t_check "large: the advice gives the MTU" t_eq "$(t_ipsec_advice_has "IPsec: keep ESP packets within 1280 bytes")" true
t_check "large: the router's rule dropped packets" test "$(t_router_counter "large esp")" -gt 0
[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
