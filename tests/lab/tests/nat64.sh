#!/usr/bin/env bash
# nat64.sh — profile "nat64": the client has only IPv6, the reflector only
# IPv4, and the router's tayga translates 2001:db8:64::/96 to a pool its NAT44
# (with the PPTP helper) masquerades. The client is given the reflector's
# synthesized address. vpncheck must name the NAT64 and its prefix (from the
# address, and from the lab's DNS64 for ipv4only.arpa), run PPTP's GRE, ESP
# and AH through the translator to the reflector's IPv4 raw listeners (tayga
# translates the header of any protocol it does not know and carries the
# payload as it is), so PPTP passes instead of "inconclusive", and run the
# NAT tests to the IPv4 NAT test service (alternate address too). Then, with
# the router dropping what leaves the translator as GRE, ESP or AH (as a
# stateful NAT64 that translates only TCP, UDP and ICMP does), PPTP must come
# out as a real failure that names the translator, never inconclusive. Last,
# the reflector by name, resolved through the lab's DNS64 only.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "nat64: an IPv6-only network behind NAT64"
t_need_bins
t_need_python_jsonschema
command -v tayga >/dev/null 2>&1 || t_skip "tayga is not installed (packaging/install-deps.sh)"
T_REFLECTOR_ARGS=(--alt-address "$LAB_REFLECTOR_ALT_IP")
t_start nat64

T_NO_DEFAULT_REFLECTOR=1 t_vpncheck --reflector "$LAB_REFLECTOR_NAT64_IP" --protocols wireguard,ipsec,pptp
t_probe_table pptp
t_probe_table ipsec
echo "  facts: nat64=$(t_json "r['client']['nat64']")"
t_gen6() { t_json "next((p.get('$3') for p in proto('$1').get('probes', []) if p.get('piece') == '$2' and p.get('kind') == 'genuine' and p.get('family') == 'ipv6'), '')" 2>/dev/null || true; }
t_check "exit 0 (got $T_RC)" t_eq "$T_RC" 0
t_check "report validates against $T_SCHEMA" t_report_valid
t_check "client.nat64.detected is true" t_eq "$(t_json "r['client']['nat64']['detected']")" true
t_check "the prefix is 2001:db8:64::/96" t_eq "$(t_json "r['client']['nat64']['prefix']")" "2001:db8:64::/96"
t_check "told by the reflector's address and by DNS64 alike" \
	t_eq "$(t_json "r['client']['nat64']['source']")" reflector_address_and_dns64
t_check "the translator reached the reflector's IPv4 address" \
	t_eq "$(t_json "r['client']['nat64']['reflector_ipv4']")" "$LAB_REFLECTOR_IP"
t_check "the lab's DNS64 was asked for ipv4only.arpa" grep -q "query ipv4only.arpa type 28" "$LAB_STATE_DIR/dns64.log"
t_check "text names the network IPv6-only behind NAT64 and its prefix" \
	grep -q "IPv6-only behind NAT64.*2001:db8:64::/96" "$T_OUT"
t_check "text advises against IPv4-literal VPN endpoints" grep -q "IPv4 literals" "$T_OUT"
t_check "pptp over ipv6: GRE went both ways through the translator" \
	t_eq "$(t_gen6 pptp gre outbound)/$(t_gen6 pptp gre inbound)" "true/true"
t_check "pptp over ipv6: the reflector answered GRE keyed to the client's Call ID" \
	t_eq "$(t_json "next((p['observed_fields'].get('call_known') for p in proto('pptp').get('probes', []) if p.get('piece') == 'gre' and p.get('family') == 'ipv6'), '')")" true
t_check "pptp verdict is pass (was inconclusive: no raw GRE listener over IPv6)" t_eq "$(t_verdict pptp)" pass
t_check "no probe of the run is planned as not run" \
	t_eq "$(t_json "[p['name'] for q in r['protocols'] for p in q.get('probes', []) if p.get('outcome') == 'not_run']")" "[]"
t_check "raw ESP went both ways, arriving from the NAT44's address" \
	t_eq "$(t_gen6 ipsec esp outbound)/$(t_gen6 ipsec esp inbound)/$(t_gen6 ipsec esp translation | "$T_PY" -c 'import json,sys; print(json.load(sys.stdin)["observed_as"]["address"])')" \
	"true/true/$LAB_ROUTER_WAN_IP"
t_check "AH arrived, its ICV broken by the translation (ah_modified)" \
	t_eq "$(t_gen6 ipsec ah outbound)/$(t_json "next((p['observed_fields'].get('icv_valid') for p in proto('ipsec').get('probes', []) if p.get('piece') == 'ah' and p.get('family') == 'ipv6'), '')")/$(t_json "'ah_modified' in proto('ipsec').get('findings', [])")" \
	"true/no/true"
t_check "text says this translator carried GRE" grep -q "This translator carried.*GRE" "$T_OUT"
t_check "NAT tests ran through the translator: mapping endpoint_independent" \
	t_eq "$(t_json "r['nat']['mapping']")" endpoint_independent
t_check "filtering (the alternate address reached via its synthesized address) address_and_port_dependent" \
	t_eq "$(t_json "r['nat']['filtering']")" address_and_port_dependent
t_check "wireguard passes" t_eq "$(t_verdict wireguard)" pass
[[ $T_FAILS -eq 0 ]] || t_show_run

# A translator that carries only TCP, UDP and ICMP (RFC 6146): what leaves
# tayga as GRE, ESP or AH is dropped before the NAT44.
lab_exec router nft add rule inet filter forward iifname nat64 meta l4proto '{ 47, 50, 51 }' counter drop
T_NO_DEFAULT_REFLECTOR=1 t_vpncheck --reflector "$LAB_REFLECTOR_NAT64_IP" --protocols ipsec,pptp
t_probe_table pptp
v="$(t_verdict pptp)"
echo "  facts: pptp=$v summary: $(t_json "proto('pptp').get('summary', '')")"
t_check "report validates" t_report_valid
t_check "pptp is a real failure, not pass or inconclusive (got '$v')" t_verdict_in "$v" blocked restricted
t_check "GRE did not reach the reflector" t_eq "$(t_gen6 pptp gre outbound)" false
t_check "the text names the translator as the reason for GRE" \
	grep -q "GRE (IP protocol 47) did not get through the translator" "$T_OUT"
t_check "the router dropped the translated raw packets" \
	t_eq "$(lab_exec router nft list chain inet filter forward | grep -c 'counter packets [1-9]')" 1
t_check "ipsec still passes over NAT-T" t_eq "$(t_verdict ipsec)" pass
[[ $T_FAILS -eq 0 ]] || t_show_run

# By name: only the lab's DNS64 knows it (AAAA synthesized under the prefix).
T_NO_DEFAULT_REFLECTOR=1 t_vpncheck --reflector "$LAB_REFLECTOR_NAME" --protocols wireguard
t_check "by name: resolved to the synthesized address" \
	t_eq "$(t_json "r['reflector']['address']")" "2001:db8:64::cb00:7105"
t_check "by name: NAT64 detected" t_eq "$(t_json "r['client']['nat64']['detected']")" true
t_check "by name: wireguard passes" t_eq "$(t_verdict wireguard)" pass
[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
