#!/usr/bin/env bash
# v6_no_esp.sh — profile "v6-no-esp": IPv4 is the plain home NAT router, IPv6
# is routed (no NAT66) through a stateful firewall that drops ESP (IP
# protocol 50) and lets everything else out. Over IPv6 IKE sees no NAT, so
# clients send raw ESP, which is dropped: IPsec is `restricted` there (NAT-T
# on UDP 4500 works, but only a client forced to encapsulate uses it), with
# advice naming strongSwan's encap = yes; the summary names the firewall, not
# a NAT. Over IPv4 (behind the NAT, NAT-T) IPsec passes. PPTP's summary over
# IPv6 blames no NAT either.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
# shellcheck source=lib/ipsec.sh
source "$(dirname "$0")/lib/ipsec.sh"
t_init "v6-no-esp: IPsec over a routed path that drops ESP is restricted, not pass"
t_need_bins
t_need_python_jsonschema
t_start v6-no-esp

T_NO_DEFAULT_REFLECTOR=1 t_vpncheck --reflector "$LAB_REFLECTOR_NAME" --protocols ipsec,pptp --timeout 1.5
t_ipsec_facts
v6_summary() { t_json "proto('$1').get('families', {}).get('ipv6', {}).get('summary', '')" 2>/dev/null || true; }
echo "  facts: ipv6 ipsec: $(t_family_verdict ipsec ipv6): $(v6_summary ipsec)"
echo "  facts: ipv6 pptp: $(t_family_verdict pptp ipv6): $(v6_summary pptp)"
t_check "report validates against $T_SCHEMA" t_report_valid
t_check "ipv6 raw ESP was run and never reached the reflector" \
	t_eq "$(t_ipsec_piece_in ipv6 esp "p.get('outcome') not in ('not_run', 'not_permitted', None)")/$(t_ipsec_piece_in ipv6 esp "p.get('outbound')")" "true/false"
t_check "ipv6 NAT-T went both ways" \
	t_eq "$(t_ipsec_piece_in ipv6 nat-t "p.get('outbound')")/$(t_ipsec_piece_in ipv6 nat-t "p.get('inbound')")" "true/true"
t_check "ipv6 ipsec restricted, not pass (got '$(t_family_verdict ipsec ipv6)')" t_eq "$(t_family_verdict ipsec ipv6)" restricted
t_check "ipv6 ipsec summary names the firewall on a routed path" \
	bash -c '[[ "$1" == *"firewall on this routed path"* && "$1" != *"the NAT"* ]]' _ "$(v6_summary ipsec)"
t_check "ipv4 ipsec passes (behind the NAT clients use NAT-T)" t_eq "$(t_family_verdict ipsec ipv4)" pass
t_check "the router's ESP rule dropped packets" \
	test "$(lab_exec router nft list chain inet filter forward | sed -n 's/.*esp counter packets \([0-9]*\).*/\1/p' | head -n 1)" -gt 0
t_check "ipv6 pptp summary blames no NAT" bash -c '[[ -n "$1" && "$1" != *"NAT has no"* ]]' _ "$(v6_summary pptp)"
[[ $T_FAILS -eq 0 ]] || t_show_run

# IPv6 only: the report's top-level entry (and its advice) is IPv6's.
T_NO_DEFAULT_REFLECTOR=1 t_vpncheck --reflector "$LAB_REFLECTOR_NAME" -6 --protocols ipsec --timeout 1.5
t_ipsec_facts
t_check "-6: report validates" t_report_valid
t_check "-6: ipsec restricted" t_eq "$(t_verdict ipsec)" restricted
t_check "-6: the advice names strongSwan encap = yes" t_eq "$(t_ipsec_advice_has "encap = yes")" true
t_check "-6: the advice says the built-in clients have no such setting" \
	t_eq "$(t_ipsec_advice_has "Windows, macOS and iOS")" true
[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
