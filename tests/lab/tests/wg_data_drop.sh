#!/usr/bin/env bash
# wg_data_drop.sh — profile "wg-data-drop" (a DPI box lets WireGuard's
# handshake through and drops its transport data after the first 400 bytes of
# it per flow). The handshake passes, so without a data phase vpncheck would
# say `pass`; with it, expected:
#   wireguard `restricted` with data_dropped_after_handshake and upload_lost:
#   the first small data packets reached the reflector, nothing after them;
#   openvpn unaffected: `pass`.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "wg-data-drop: WireGuard's handshake passes, its data does not: restricted"
t_need_bins
t_need_python_jsonschema
t_start wg-data-drop


t_vpncheck --protocols wireguard,openvpn
wg="$(t_verdict wireguard)"
findings="$(t_json "proto('wireguard').get('findings', [])" 2>/dev/null || true)"
echo "  facts: wireguard=$wg findings=$findings openvpn=$(t_verdict openvpn)"
echo "  facts: wireguard ipv4 data: small sent=$(t_data wireguard ipv4 51820 small sent) arrived=$(t_data wireguard ipv4 51820 small arrived) echoed=$(t_data wireguard ipv4 51820 small echoed); full sent=$(t_data wireguard ipv4 51820 full sent) arrived=$(t_data wireguard ipv4 51820 full arrived)"
t_check "report validates against $T_SCHEMA" t_report_valid
t_check "the handshake itself passes (genuine UDP 51820 answered)" \
	t_eq "$(t_probe_field_in ipv4 wireguard genuine udp 51820 inbound)" true
t_check "wireguard restricted (got '$wg')" t_eq "$wg" restricted
t_check "finding data_dropped_after_handshake" \
	t_eq "$(t_json "'data_dropped_after_handshake' in proto('wireguard').get('findings', [])")" true
t_check "finding upload_lost" t_eq "$(t_json "'upload_lost' in proto('wireguard').get('findings', [])")" true
t_check "not taken for an MTU problem" \
	t_eq "$(t_json "'full_size_packets_dropped' in proto('wireguard').get('findings', [])")" false
t_check "the first small data packets reached the reflector" test "$(t_data wireguard ipv4 51820 small arrived)" -ge 1
t_check "no full-size data packet did" t_eq "$(t_data wireguard ipv4 51820 full arrived)" 0
t_check "the summary says the data stopped" grep -q "stops its data" "$T_OUT"
t_check "openvpn pass (got '$(t_verdict openvpn)')" t_eq "$(t_verdict openvpn)" pass
pkts="$(lab_exec router nft list chain inet filter forward | sed -n 's/.*counter packets \([0-9]*\).*wireguard data.*/\1/p' | head -n 1)"
t_check "the router's rule dropped WireGuard data (packets=${pkts:-?})" test "${pkts:-0}" -gt 0
[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
