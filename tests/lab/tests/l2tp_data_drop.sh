#!/usr/bin/env bash
# l2tp_data_drop.sh — profile "l2tp-data-drop" (a box lets L2TP's control
# connection through and drops its data messages after the first 300 bytes
# of them per flow). The control exchange passes, so without a data phase
# vpncheck would say `pass`; with it, expected:
#   l2tp `restricted` with data_dropped_after_handshake and upload_lost: the
#   first small data packets reached the reflector, nothing after them;
#   wireguard unaffected: `pass`.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "l2tp-data-drop: L2TP's control connection passes, its data does not: restricted"
t_need_bins
t_need_python_jsonschema
t_start l2tp-data-drop


t_vpncheck --protocols l2tp,wireguard
l2tp="$(t_verdict l2tp)"
findings="$(t_json "proto('l2tp').get('findings', [])" 2>/dev/null || true)"
echo "  facts: l2tp=$l2tp findings=$findings wireguard=$(t_verdict wireguard)"
echo "  facts: l2tp ipv4 data: small sent=$(t_data l2tp ipv4 1701 small sent) arrived=$(t_data l2tp ipv4 1701 small arrived) echoed=$(t_data l2tp ipv4 1701 small echoed); full sent=$(t_data l2tp ipv4 1701 full sent) arrived=$(t_data l2tp ipv4 1701 full arrived)"
t_check "report validates against $T_SCHEMA" t_report_valid
t_check "the control exchange itself passes (all 4 steps answered)" \
	t_eq "$(t_probe_field_in ipv4 l2tp genuine udp 1701 steps_answered)" 4
t_check "l2tp restricted (got '$l2tp')" t_eq "$l2tp" restricted
t_check "finding data_dropped_after_handshake" \
	t_eq "$(t_json "'data_dropped_after_handshake' in proto('l2tp').get('findings', [])")" true
t_check "finding upload_lost" t_eq "$(t_json "'upload_lost' in proto('l2tp').get('findings', [])")" true
t_check "not taken for an MTU problem" \
	t_eq "$(t_json "'full_size_packets_dropped' in proto('l2tp').get('findings', [])")" false
t_check "the first small data packets reached the reflector" test "$(t_data l2tp ipv4 1701 small arrived)" -ge 1
t_check "no full-size data packet did" t_eq "$(t_data l2tp ipv4 1701 full arrived)" 0
t_check "the summary says the data stopped" grep -q "stops its data" "$T_OUT"
t_check "the advice is L2TP's (inside IPsec)" \
	t_eq "$(t_json "any('L2TP/IPsec' in a for a in proto('l2tp').get('advice', []))")" true
t_check "wireguard pass (got '$(t_verdict wireguard)')" t_eq "$(t_verdict wireguard)" pass
pkts="$(lab_exec router nft list chain inet filter forward | sed -n 's/.*counter packets \([0-9]*\).*l2tp data.*/\1/p' | head -n 1)"
t_check "the router's rule dropped L2TP data (packets=${pkts:-?})" test "${pkts:-0}" -gt 0
[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
