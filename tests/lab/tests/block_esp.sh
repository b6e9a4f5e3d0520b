#!/usr/bin/env bash
# block_esp.sh — profile "block-esp" (NAT router that drops raw ESP, IP
# protocol 50). Behind NAT a real client moves to UDP 4500 (NAT-T) once IKE
# detects the NAT, so IPsec still passes; raw ESP is reported blocked.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
# shellcheck source=lib/ipsec.sh
source "$(dirname "$0")/lib/ipsec.sh"
t_init "block-esp: ipsec passes via NAT-T, raw ESP blocked"
t_need_bins
t_need_python_jsonschema
t_start block-esp

t_vpncheck --protocols ipsec --require ipsec
t_ipsec_facts

t_check "exit code 0 with --require ipsec (got $T_RC)" t_eq "$T_RC" 0
t_check "report validates against $T_SCHEMA" t_report_valid
t_check "ipsec verdict is pass" t_eq "$(t_verdict ipsec)" pass
t_check "IKE's NAT detection saw the NAT (ikev2 reply behind_nat=yes)" \
	t_eq "$(t_ipsec_piece ikev2 "p.get('reply_fields', {}).get('behind_nat')")" yes
t_check "NAT-T: IKE, ESP-in-UDP and keepalive all answered (steps_answered=3)" \
	t_eq "$(t_ipsec_piece nat-t "p.get('steps_answered')")" 3
t_check "raw ESP did not reach the reflector (outbound=false)" t_eq "$(t_ipsec_piece esp "p.get('outbound')")" false
t_check "the summary reports raw ESP blocked" t_eq "$(t_ipsec_summary_has "Raw ESP (IP protocol 50) is blocked")" true
t_check "the router's ESP rule dropped packets" test "$(t_router_counter 'raw ESP')" -gt 0

[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
