#!/usr/bin/env bash
# block_natt.sh — profile "block-natt" (NAT router that drops UDP 4500):
# IKE on UDP 500 works and detects the NAT, but behind NAT IPsec needs NAT-T
# on UDP 4500, so it does not pass over UDP, and the advice names UDP 4500.
# TCP 4500 is open, so IKEv2 over TCP (RFC 8229, ESP in the same connection)
# works: restricted, not blocked.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
# shellcheck source=lib/ipsec.sh
source "$(dirname "$0")/lib/ipsec.sh"
t_init "block-natt: ipsec restricted to IKE over TCP behind NAT, advice names UDP 4500"
t_need_bins
t_need_python_jsonschema
t_start block-natt

t_vpncheck --protocols ipsec --require ipsec
t_ipsec_facts
v="$(t_verdict ipsec)"

t_check "exit code 1 with --require ipsec (got $T_RC)" t_eq "$T_RC" 1
t_check "report validates against $T_SCHEMA" t_report_valid
t_check "ipsec verdict is not pass (got '$v')" test "$v" != pass
t_check "ipsec verdict is restricted (got '$v')" t_eq "$v" restricted
t_check "IKEv2 on UDP 500 went both ways" t_eq "$(t_ipsec_piece ikev2 "p.get('inbound')")" true
t_check "IKE's NAT detection saw the NAT" \
	t_eq "$(t_ipsec_piece ikev2 "p.get('reply_fields', {}).get('behind_nat')")" yes
t_check "nat-t did not reach the reflector" t_eq "$(t_ipsec_piece nat-t "p.get('outbound')")" false
t_check "the summary says UDP 4500 is blocked" t_eq "$(t_ipsec_summary_has "UDP 4500 is blocked")" true
t_check "the advice names UDP 4500" t_eq "$(t_ipsec_advice_has "UDP 4500")" true
t_check "IKEv2 over TCP 4500 went both ways" t_eq "$(t_ipsec_piece ike-tcp "p.get('inbound')")" true
t_check "the summary says IKE over TCP works" t_eq "$(t_ipsec_summary_has "IKEv2 over TCP 4500 (RFC 8229) works")" true

[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
