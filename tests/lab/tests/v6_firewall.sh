#!/usr/bin/env bash
# v6_firewall.sh — profile "v6-firewall": IPv4 is the plain home NAT router,
# IPv6 is routed without NAT66 behind a stateful firewall that lets out only
# UDP 443 (plus answers). vpncheck against reflector.lab (A + AAAA) tests
# both families by default and must report per family:
#   IPv4: wireguard pass, openvpn pass (top-level verdicts stay the IPv4 ones);
#   IPv6: wireguard restricted (works on UDP 443 only), openvpn not pass.
# With -6 every probe is IPv6; the control session, which this firewall
# blocks over IPv6, falls back to the name's IPv4 address, and the IPv6
# verdicts are reported (no NAT claims: the NAT is IPv4's). Against the IPv6
# literal there is no fallback: exit 3 (could not test), never "all blocked".
# With -4 only IPv4 is tested.
# Raw ESP and AH: over IPv6 the firewall drops them (never reach the
# reflector, reported blocked per probe, not "not run"); over IPv4 (home NAT)
# they go both ways. PPTP over IPv6 is blocked (TCP 1723 is dropped).
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
# shellcheck source=lib/ipsec.sh
source "$(dirname "$0")/lib/ipsec.sh"
t_init "v6-firewall: IPv6 firewall reported per family"
t_need_bins
t_need_python_jsonschema
t_start v6-firewall

# --- both families (default) ---------------------------------------------
T_NO_DEFAULT_REFLECTOR=1 t_vpncheck --reflector "$LAB_REFLECTOR_NAME" --protocols wireguard,openvpn \
	--require wireguard,openvpn
wg4="$(t_family_verdict wireguard ipv4)" ov4="$(t_family_verdict openvpn ipv4)"
wg6="$(t_family_verdict wireguard ipv6)" ov6="$(t_family_verdict openvpn ipv6)"
echo "  facts: ipv4: wireguard=$wg4 openvpn=$ov4; ipv6: wireguard=$wg6 openvpn=$ov6"
t_probe_table wireguard
t_probe_table openvpn
t_check "report validates against $T_SCHEMA" t_report_valid
t_check "exit 0: --require looks at the top-level (IPv4) verdicts (got $T_RC)" t_eq "$T_RC" 0
t_check "ipv4 wireguard pass (got '$wg4')" t_eq "$wg4" pass
t_check "ipv4 openvpn pass (got '$ov4')" t_eq "$ov4" pass
t_check "ipv6 wireguard restricted (got '$wg6')" t_eq "$wg6" restricted
t_check "ipv6 openvpn is not pass (got '$ov6')" bash -c "[[ -n '$ov6' && '$ov6' != pass ]]"
t_check "top-level wireguard verdict is the IPv4 one" t_eq "$(t_verdict wireguard)" "$wg4"
t_check "top-level openvpn verdict is the IPv4 one" t_eq "$(t_verdict openvpn)" "$ov4"
t_check "ipv6 wireguard udp/443 went both ways" \
	t_eq "$(t_probe_field_in ipv6 wireguard genuine udp 443 outbound)/$(t_probe_field_in ipv6 wireguard genuine udp 443 inbound)" "true/true"
t_check "ipv6 wireguard udp/51820 never reached the reflector" \
	t_eq "$(t_probe_field_in ipv6 wireguard genuine udp 51820 outbound)" false
t_check "ipv4 wireguard udp/51820 went both ways" \
	t_eq "$(t_probe_field_in ipv4 wireguard genuine udp 51820 outbound)/$(t_probe_field_in ipv4 wireguard genuine udp 51820 inbound)" "true/true"
t_check "probe indices are unique across families (one probe per name and family)" \
	t_eq "$(t_json "len({(p['name'], p['family']) for q in r['protocols'] for p in q['probes']}) == sum(len(q['probes']) for q in r['protocols'])")" true
t_check "text report says where IPv6 disagrees" grep -q "IPv6: restricted" "$T_OUT"
t_check "client.behind_nat is true (the control session is IPv4)" t_eq "$(t_json "r['client'].get('behind_nat')")" true
[[ $T_FAILS -eq 0 ]] || t_show_run

# --- raw ESP and AH per family ----------------------------------------------
T_NO_DEFAULT_REFLECTOR=1 t_vpncheck --reflector "$LAB_REFLECTOR_NAME" --protocols ipsec,pptp --timeout 1.5
t_ipsec_facts
echo "  facts: ipsec ipv4=$(t_family_verdict ipsec ipv4) ipv6=$(t_family_verdict ipsec ipv6)"
t_check "ipsec: report validates" t_report_valid
for piece in esp ah; do
	t_check "ipv6 raw $piece was run (the reflector offers it over IPv6)" \
		t_eq "$(t_ipsec_piece_in ipv6 $piece "p.get('outcome') not in ('not_run', 'not_permitted', None)")" true
	t_check "ipv6 raw $piece never reached the reflector (firewall)" \
		t_eq "$(t_ipsec_piece_in ipv6 $piece "p.get('outbound')")/$(t_ipsec_piece_in ipv6 $piece "p.get('arrivals')")" "false/0"
	t_check "ipv4 raw $piece went both ways (home NAT)" \
		t_eq "$(t_ipsec_piece_in ipv4 $piece "p.get('outbound')")/$(t_ipsec_piece_in ipv4 $piece "p.get('inbound')")" "true/true"
done
t_check "ipsec over ipv6 is blocked (IKE, NAT-T and raw ESP all dropped)" t_eq "$(t_family_verdict ipsec ipv6)" blocked
t_probe_table pptp
t_check "pptp over ipv6 is blocked (TCP 1723 dropped, so GRE is never keyed)" t_eq "$(t_family_verdict pptp ipv6)" blocked
t_check "pptp gre over ipv6 never reached the reflector" \
	t_eq "$(t_json "next((p.get('arrivals') for p in proto('pptp').get('probes', []) if p.get('piece') == 'gre' and p.get('family') == 'ipv6'), '')")" 0
[[ $T_FAILS -eq 0 ]] || t_show_run

# --- -6 against the name: probes over IPv6 only; the control session falls
# back to IPv4 because the firewall lets no TCP out over IPv6.
T_NO_DEFAULT_REFLECTOR=1 t_vpncheck --reflector "$LAB_REFLECTOR_NAME" -6 --protocols wireguard,openvpn --timeout 1
t_check "-6: exit 0, tested (got $T_RC)" t_eq "$T_RC" 0
t_check "-6: report validates" t_report_valid
t_check "-6: the report says the control session fell back to IPv4" \
	t_eq "$(t_json "r['reflector']['control_fell_back_to_ipv4']")" true
t_check "-6: control attempts went to $LAB_REFLECTOR_IP6 first, then $LAB_REFLECTOR_IP" \
	t_eq "$(t_json "r['reflector']['address']")/$(t_json "r['reflector']['address_v6']")" "$LAB_REFLECTOR_IP/$LAB_REFLECTOR_IP6"
t_check "-6: only ipv6 probes" t_eq "$(t_json "sorted({p['family'] for q in r['protocols'] for p in q['probes']})")" '["ipv6"]'
# With -6 only two round trips (WireGuard's UDP 443 probes) measure the
# path's loss in the 1 s: too little to rule chance out for the blocked
# standard port, so the verdict that would read `restricted` is withheld.
t_check "-6: wireguard would read restricted (UDP 443 only over IPv6) but is inconclusive on so little evidence" \
	t_eq "$(t_verdict wireguard)/$(t_json "proto('wireguard')['loss_check']['withheld_verdict']")" inconclusive/restricted
t_check "-6: the summary says why" \
	t_eq "$(t_json "'too few answers came back to measure' in proto('wireguard')['summary']")" true
t_check "-6: no NAT claims from the IPv4 control session" \
	t_eq "$(t_json "r['client']['behind_nat']")/$(t_json "r['nat']['tests']")" "null/null"
t_check "-6: the text report says so" grep -q "over IPv4 (IPv6 let no control connection through" "$T_OUT"
# Bounded: IPv6 gets 1 s for the control session, then the probes one timeout.
t_check "-6: done within 1 s + one timeout (${T_SECS}s)" awk -v s="$T_SECS" 'BEGIN { exit !(s < 3.5) }'
[[ $T_FAILS -eq 0 ]] || t_show_run

# --- -6 against the IPv6 literal: no IPv4 to fall back to, so this is "could
# not test" (exit 3), never "all blocked".
T_NO_DEFAULT_REFLECTOR=1 t_vpncheck --reflector "$LAB_REFLECTOR_IP6" -6 --protocols wireguard,openvpn --timeout 1
t_check "-6 literal: exit 3, could not test (got $T_RC)" t_eq "$T_RC" 3
t_check "-6 literal: report validates" t_report_valid
t_check "-6 literal: no protocol verdicts were made up" t_eq "$(t_json "len(r['protocols'])")" 0
[[ $T_FAILS -eq 0 ]] || t_show_run

# --- -4 against the name: only IPv4 ------------------------------------------
T_NO_DEFAULT_REFLECTOR=1 t_vpncheck --reflector "$LAB_REFLECTOR_NAME" -4 --protocols wireguard,openvpn
t_check "-4: only ipv4 probes" t_eq "$(t_json "sorted({p['family'] for q in r['protocols'] for p in q['probes']})")" '["ipv4"]'
t_check "-4: wireguard and openvpn pass" t_eq "$(t_verdict wireguard)/$(t_verdict openvpn)" pass/pass
[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
