#!/usr/bin/env bash
# pptp_block_gre.sh — profile "block-gre" (PPTP helper on, but GRE dropped).
# Expected: the control connection works, GRE never reaches the reflector:
# pptp not `pass` (`blocked`, the summary names GRE).
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "block-gre: pptp not pass, GRE does not get out"
t_need_bins
t_need_python_jsonschema
t_start block-gre

t_vpncheck --protocols pptp
v="$(t_verdict pptp)"
summary="$(t_json "proto('pptp').get('summary', '')" 2>/dev/null || true)"
echo "  facts: pptp=$v"
echo "  facts: summary: $summary"
t_probe_table pptp

t_check "report validates against $T_SCHEMA" t_report_valid
t_check "pptp verdict is not pass (got '$v')" test "$v" != pass
t_check "pptp verdict is blocked (got '$v')" t_eq "$v" blocked
t_check "the control connection works" t_eq "$(t_pptp_piece control inbound)" true
t_check "GRE did not reach the reflector" t_eq "$(t_pptp_piece gre outbound)" false
t_check "the summary says GRE does not get out" \
	t_eq "$([[ "$summary" == *"GRE (IP protocol 47) does not get out"* ]] && echo y)" y

[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
