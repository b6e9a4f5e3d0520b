#!/usr/bin/env bash
# pptp_home_helper.sh — profile "home-pptp-helper" (NAT with the Linux PPTP
# conntrack helper assigned to TCP 1723, i.e. "PPTP passthrough" on).
# Expected: pptp `pass` (control connection and GRE both ways, then the
# call's small and full-size data packets), and the
# reflector saw the OCRQ's Call ID rewritten to the NATed TCP source port
# (nf_nat_pptp), which the summary reports.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "home-pptp-helper: pptp pass with the Call ID rewrite observed"
t_need_bins
t_need_python_jsonschema
t_start home-pptp-helper

t_vpncheck --protocols pptp --require pptp
v="$(t_verdict pptp)"
summary="$(t_json "proto('pptp').get('summary', '')" 2>/dev/null || true)"
echo "  facts: pptp=$v"
echo "  facts: summary: $summary"
echo "  facts: OCRQ call_id=$(t_pptp_ocrq call_id) original=$(t_pptp_ocrq original_call_id) tcp_source_port=$(t_pptp_ocrq tcp_source_port)"
t_probe_table pptp

t_check "exit code 0 with --require pptp (got $T_RC)" t_eq "$T_RC" 0
t_check "report validates against $T_SCHEMA" t_report_valid
t_check "pptp verdict is pass (got '$v')" t_eq "$v" pass
t_check "control piece answered" t_eq "$(t_pptp_piece control inbound)" true
t_check "GRE went both ways" t_eq "$(t_pptp_piece gre outbound)/$(t_pptp_piece gre inbound)" "true/true"
t_check "the call's small data packets came back" test "$(t_data pptp ipv4 47 small echoed)" -ge 1
t_check "the call's full-size data packets came back" test "$(t_data pptp ipv4 47 full echoed)" -ge 1
t_check "no payload change reported for GRE (the IP header changes on every hop)" \
	t_eq "$(t_json "next(p['translation']['payload_modified'] for p in proto('pptp')['probes'] if p.get('piece') == 'gre' and p.get('family', 'ipv4') == 'ipv4')")" false
t_check "the reflector saw the OCRQ's Call ID rewritten" t_eq "$(t_pptp_ocrq call_id_rewritten)" true
t_check "rewritten to the NATed TCP source port (Linux helper)" t_eq "$(t_pptp_ocrq linux_pptp_helper)" true
t_check "the Call ID seen equals the observed TCP source port" \
	t_eq "$(t_pptp_ocrq call_id)" "$(t_pptp_ocrq tcp_source_port)"
t_check "the summary reports the rewrite" t_eq "$([[ "$summary" == *"rewrote the OCRQ's Call ID"* ]] && echo y)" y
t_check "the advice always warns that PPTP's security is broken" \
	t_eq "$(t_json "any('security is broken' in a for a in proto('pptp').get('advice', []))")" true

[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
