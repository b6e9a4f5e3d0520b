#!/usr/bin/env bash
# block_ike.sh — profile "block-ike" (NAT router that drops UDP 500 and 4500,
# but not TCP 4500): IKE over UDP gets nowhere, IKEv2 over TCP 4500 (RFC 8229)
# does, so IPsec is restricted with the TCP encapsulation advice. Then the
# router drops TCP 4500 too: IPsec is blocked, and the advice names both UDP
# ports. Other UDP (WireGuard) is unaffected.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
# shellcheck source=lib/ipsec.sh
source "$(dirname "$0")/lib/ipsec.sh"
t_init "block-ike: ipsec restricted to IKE over TCP, blocked without it"
t_need_bins
t_need_python_jsonschema
t_start block-ike

t_vpncheck --protocols ipsec,wireguard --require ipsec
t_ipsec_facts

t_check "exit code 1 with --require ipsec (got $T_RC)" t_eq "$T_RC" 1
t_check "report validates against $T_SCHEMA" t_report_valid
t_check "ipsec verdict is restricted" t_eq "$(t_verdict ipsec)" restricted
t_check "wireguard verdict is pass" t_eq "$(t_verdict wireguard)" pass
t_check "ikev2 did not reach the reflector" t_eq "$(t_ipsec_piece ikev2 "p.get('outbound')")" false
t_check "nat-t did not reach the reflector" t_eq "$(t_ipsec_piece nat-t "p.get('outbound')")" false
t_check "ike-tcp was answered over TCP 4500" \
	t_eq "$(t_ipsec_piece ike-tcp "(p.get('outcome'), p.get('transport'), p.get('port'))")" "('reply', 'tcp', 4500)"
t_check "the working variant is TCP 4500" \
	t_eq "$(t_json "proto('ipsec').get('working_variant')")" "TCP 4500"
t_check "the summary says IKE over TCP works" t_eq "$(t_ipsec_summary_has "IKEv2 over TCP 4500 (RFC 8229) works")" true
t_check "the advice names libreswan's enable-tcp" t_eq "$(t_ipsec_advice_has "enable-tcp=fallback")" true
t_check "the advice names UDP 500" t_eq "$(t_ipsec_advice_has "UDP 500")" true
t_check "the advice names UDP 4500" t_eq "$(t_ipsec_advice_has "UDP 4500")" true
t_check "findings contain port_blocking (random UDP 500 probes were dropped too)" \
	t_eq "$(t_ipsec_has_finding port_blocking)" true
t_check "the router's IKE rules dropped packets" test "$(t_router_counter 'IKE and NAT-T')" -gt 0
[[ $T_FAILS -eq 0 ]] || t_show_run

# The same network with IKE over TCP dropped too.
lab_exec router nft add rule inet filter forward tcp dport 4500 counter drop comment '"IKE over TCP"'
t_vpncheck --protocols ipsec --require ipsec
t_ipsec_facts
t_check "ipsec verdict is blocked without TCP 4500" t_eq "$(t_verdict ipsec)" blocked
t_check "ike-tcp did not reach the reflector" t_eq "$(t_ipsec_piece ike-tcp "p.get('outbound')")" false
t_check "the summary says the TCP fallback is blocked too" \
	t_eq "$(t_ipsec_summary_has "the fallback, is blocked too")" true
t_check "no TCP advice" t_eq "$(t_ipsec_advice_has "enable-tcp")" false
t_check "the advice names UDP 500" t_eq "$(t_ipsec_advice_has "UDP 500")" true
t_check "the router's TCP 4500 rule dropped packets" test "$(t_router_counter 'IKE over TCP')" -gt 0

[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
