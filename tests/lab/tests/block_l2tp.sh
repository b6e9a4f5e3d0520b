#!/usr/bin/env bash
# block_l2tp.sh — profile "block-l2tp" (the router drops UDP 1701 towards the
# WAN, as "L2TP passthrough" off does). Expected:
#   l2tp `blocked`: no L2TP message reached the reflector, the random control
#   probe on UDP 1701 died too (port blocking, not signature), and the advice
#   names the router's "L2TP passthrough" setting;
#   wireguard unaffected: `pass`.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "block-l2tp: l2tp blocked, wireguard pass"
t_need_bins
t_need_python_jsonschema
t_start block-l2tp

t_vpncheck --protocols l2tp,wireguard --require l2tp
l2tp="$(t_verdict l2tp)"
wg="$(t_verdict wireguard)"
findings="$(t_json "proto('l2tp').get('findings', [])" 2>/dev/null || true)"
echo "  facts: l2tp=$l2tp wireguard=$wg l2tp.findings=$findings"
t_probe_table l2tp

t_check "exit code 1 with --require l2tp (got $T_RC)" t_eq "$T_RC" 1
t_check "report exit_code equals process exit code" t_report_exit_code_matches
t_check "report validates against $T_SCHEMA" t_report_valid
t_check "l2tp verdict is blocked (got '$l2tp')" t_eq "$l2tp" blocked
t_check "wireguard verdict is pass (got '$wg')" t_eq "$wg" pass
t_check "the genuine l2tp probe udp/1701 did not get out" \
	t_eq "$(t_probe_field l2tp genuine udp 1701 outbound)/$(t_probe_field l2tp genuine udp 1701 inbound)" "false/false"
t_check "l2tp findings contain port_blocking (the control probe died too)" \
	t_eq "$(t_json "'port_blocking' in proto('l2tp').get('findings', [])")" true
t_check "l2tp advice names the router's 'L2TP passthrough' setting" \
	t_eq "$(t_json "any('L2TP passthrough' in a for a in proto('l2tp').get('advice', []))")" true
t_check "no l2tp-ipsec entry without an ipsec result" \
	t_eq "$(t_json "any(p.get('protocol') == 'l2tp-ipsec' for p in r['protocols'])")" false
pkts="$(lab_exec router nft list chain inet filter forward | sed -n 's/.*counter packets \([0-9]*\).*l2tp passthrough off.*/\1/p')"
echo "  facts: router rule dropped ${pkts:-?} packets"
t_check "the router's UDP 1701 rule actually dropped the probes (packets=${pkts:-?})" \
	test "${pkts:-0}" -gt 0

[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
