#!/usr/bin/env bash
# pptp_home.sh — profile "home" (plain NAT, no PPTP helper). The control
# connection on TCP 1723 works and GRE reaches the reflector, but the
# reflector's GRE (keyed to the client's Call ID) is not mapped back through
# the NAT: Linux's GRE tracker only does that with the PPTP helper's keymap
# (PROTOCOLS.md §2.5, confirmed here). Expected: pptp not `pass` but
# `outbound_only`, and the summary says the NAT has no PPTP passthrough.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "home: pptp outbound_only without the PPTP helper"
t_need_bins
t_need_python_jsonschema
t_start home

t_vpncheck --protocols pptp --require pptp
v="$(t_verdict pptp)"
summary="$(t_json "proto('pptp').get('summary', '')" 2>/dev/null || true)"
echo "  facts: pptp=$v"
echo "  facts: summary: $summary"
t_probe_table pptp

t_check "exit code 1 with --require pptp (got $T_RC)" t_eq "$T_RC" 1
t_check "report validates against $T_SCHEMA" t_report_valid
t_check "pptp verdict is not pass (got '$v')" test "$v" != pass
t_check "pptp verdict is outbound_only (got '$v')" t_eq "$v" outbound_only
t_check "the control connection works" t_eq "$(t_pptp_piece control inbound)" true
t_check "GRE reached the reflector but got no answer back" \
	t_eq "$(t_pptp_piece gre outbound)/$(t_pptp_piece gre inbound)" "true/false"
t_check "no ALG rewrote the Call ID" t_eq "$(t_pptp_ocrq call_id_rewritten)" false
t_check "the summary gives the reason (no PPTP passthrough)" \
	t_eq "$([[ "$summary" == *"no PPTP passthrough"* ]] && echo y)" y
t_check "the advice says to turn on PPTP passthrough" \
	t_eq "$(t_json "any('PPTP passthrough' in a for a in proto('pptp').get('advice', []))")" true

[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
