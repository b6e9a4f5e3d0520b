#!/usr/bin/env bash
# v6_raw.sh — profile "home" (IPv6 routed without NAT66, everything
# forwarded): raw ESP (IP protocol 50), AH (51) and GRE (47) over IPv6 go both ways end
# to end. The reflector (raw IPv6 listeners, rebuilding each datagram's header
# from the socket's facts) observed them from the client's own IPv6 address,
# AH's ICV over the IPv6 header checks out on arrival (no NAT66: nothing
# rewrote it) while over IPv4 the NAT breaks it, and the client got both
# answers. IPsec over IPv6 passes. PPTP over IPv6 (control connection on
# TCP 1723, then GRE keyed to the negotiated Call IDs) passes too: without
# NAT there is nothing for a passthrough helper to do, while over IPv4 the
# home NAT without helper leaves it outbound_only.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
# shellcheck source=lib/ipsec.sh
source "$(dirname "$0")/lib/ipsec.sh"
t_init "v6-raw: raw ESP, AH and GRE over routed IPv6 both ways"
t_need_bins
t_need_python_jsonschema
t_start home

T_NO_DEFAULT_REFLECTOR=1 t_vpncheck --reflector "$LAB_REFLECTOR_NAME" --protocols ipsec,pptp
t_ipsec_facts
t_probe_table pptp
echo "  facts: ipsec ipv6=$(t_family_verdict ipsec ipv6) ipv4=$(t_family_verdict ipsec ipv4)"
t_check "report validates against $T_SCHEMA" t_report_valid
t_check "the reflector offered raw ESP, AH and GRE over IPv6 (log)" \
	grep -q "raw IPv6 esp ah gre" "$LAB_STATE_DIR/reflector.log"
for piece in esp ah; do
	t_check "ipv6 raw $piece went both ways" \
		t_eq "$(t_ipsec_piece_in ipv6 $piece "p.get('outbound')")/$(t_ipsec_piece_in ipv6 $piece "p.get('inbound')")" "true/true"
	t_check "ipv6 raw $piece: outcome reply" t_eq "$(t_ipsec_piece_in ipv6 $piece "p.get('outcome')")" reply
	t_check "ipv6 raw $piece arrived from the client's own address $LAB_CLIENT_IP6 (no NAT66)" \
		t_eq "$(t_ipsec_piece_in ipv6 $piece "p['translation']['observed_as']['address']")" "$LAB_CLIENT_IP6"
	t_check "ipv6 raw $piece: the reflector digested what the client sent" \
		t_eq "$(t_ipsec_piece_in ipv6 $piece "p.get('modifications')")" "[]"
done
t_check "ipv6 AH arrived with a valid ICV over the IPv6 header (icv_valid=yes)" \
	t_eq "$(t_ipsec_piece_in ipv6 ah "p.get('observed_fields', {}).get('icv_valid')")" yes
t_check "ipv4 AH arrived with a broken ICV (the NAT rewrote the source)" \
	t_eq "$(t_ipsec_piece_in ipv4 ah "p.get('observed_fields', {}).get('icv_valid')")" no
t_check "ipv6 ESP: the reflector saw the SPI and sequence 1" \
	t_eq "$(t_ipsec_piece_in ipv6 esp "p.get('observed_fields', {}).get('sequence')")" 1
t_check "ipsec ipv6 family verdict is pass" t_eq "$(t_family_verdict ipsec ipv6)" pass
t_pptp6() { t_json "next((p.get('$2') for p in proto('pptp').get('probes', []) if p.get('piece') == '$1' and p.get('kind') == 'genuine' and p.get('family') == 'ipv6'), '')" 2>/dev/null || true; }
t_check "pptp over ipv6: control connection answered" t_eq "$(t_pptp6 control outcome)" reply
t_check "pptp over ipv6: GRE went both ways (no NAT, nothing to pass through)" \
	t_eq "$(t_pptp6 gre outbound)/$(t_pptp6 gre inbound)" "true/true"
t_check "pptp over ipv6: the reflector answered GRE keyed to the client's Call ID" \
	t_eq "$(t_json "next((p['observed_fields'].get('call_known') for p in proto('pptp').get('probes', []) if p.get('piece') == 'gre' and p.get('family') == 'ipv6'), '')")" true
t_check "pptp over ipv6: the call's small data packets came back" test "$(t_data pptp ipv6 47 small echoed)" -ge 1
t_check "pptp over ipv6: the call's full-size data packets came back" test "$(t_data pptp ipv6 47 full echoed)" -ge 1
t_check "pptp ipv6 family verdict is pass" t_eq "$(t_family_verdict pptp ipv6)" pass
t_check "pptp ipv4 (home NAT, no helper) is still outbound_only" t_eq "$(t_family_verdict pptp ipv4)" outbound_only
[[ $T_FAILS -eq 0 ]] || { t_show_run; lab_reflector_log; }
t_finish
