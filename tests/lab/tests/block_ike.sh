#!/usr/bin/env bash
# block_ike.sh — profile "block-ike" (NAT router that drops UDP 500 and 4500):
# IPsec cannot negotiate anything, so it is blocked, and the advice names
# both ports. Other UDP (WireGuard) is unaffected.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
# shellcheck source=lib/ipsec.sh
source "$(dirname "$0")/lib/ipsec.sh"
t_init "block-ike: ipsec blocked"
t_need_bins
t_need_python_jsonschema
t_start block-ike

t_vpncheck --protocols ipsec,wireguard --require ipsec
t_ipsec_facts

t_check "exit code 1 with --require ipsec (got $T_RC)" t_eq "$T_RC" 1
t_check "report validates against $T_SCHEMA" t_report_valid
t_check "ipsec verdict is blocked" t_eq "$(t_verdict ipsec)" blocked
t_check "wireguard verdict is pass" t_eq "$(t_verdict wireguard)" pass
t_check "ikev2 did not reach the reflector" t_eq "$(t_ipsec_piece ikev2 "p.get('outbound')")" false
t_check "nat-t did not reach the reflector" t_eq "$(t_ipsec_piece nat-t "p.get('outbound')")" false
t_check "the advice names UDP 500" t_eq "$(t_ipsec_advice_has "UDP 500")" true
t_check "the advice names UDP 4500" t_eq "$(t_ipsec_advice_has "UDP 4500")" true
t_check "findings contain port_blocking (random UDP 500 probes were dropped too)" \
	t_eq "$(t_ipsec_has_finding port_blocking)" true
t_check "the router's IKE rules dropped packets" test "$(t_router_counter 'IKE and NAT-T')" -gt 0

[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
