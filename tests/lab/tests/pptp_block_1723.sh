#!/usr/bin/env bash
# pptp_block_1723.sh — profile "block-1723" ("PPTP passthrough" off the way
# DD-WRT and D-Link firmware do it: outgoing TCP 1723 dropped).
# Expected: pptp `blocked`; GRE is not tried without a control connection.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "block-1723: pptp blocked"
t_need_bins
t_need_python_jsonschema
t_start block-1723

t_vpncheck --protocols pptp
v="$(t_verdict pptp)"
summary="$(t_json "proto('pptp').get('summary', '')" 2>/dev/null || true)"
echo "  facts: pptp=$v"
echo "  facts: summary: $summary"
t_probe_table pptp

t_check "report validates against $T_SCHEMA" t_report_valid
t_check "pptp verdict is blocked (got '$v')" t_eq "$v" blocked
t_check "the control probe did not get out" t_eq "$(t_pptp_piece control outbound)" false
t_check "GRE was not run without a control connection" t_eq "$(t_pptp_piece gre outcome)" not_run
t_check "the summary names TCP 1723" t_eq "$([[ "$summary" == *"TCP 1723"* ]] && echo y)" y
t_check "findings say the port is blocked" \
	t_eq "$(t_json "'port_blocking' in proto('pptp').get('findings', [])")" true

[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
