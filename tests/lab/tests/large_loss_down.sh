#!/usr/bin/env bash
# large_loss_down.sh — profile "large-loss-down" (packets over 1300 bytes
# towards the LAN are dropped; uploads and small packets pass). Every
# protocol's handshake passes; the data phase shows the difference between
# the directions: full-size data packets reach the reflector, their echoes
# never come back. Expected for wireguard, openvpn, ipsec and l2tp: `restricted`
# with full_size_packets_dropped and download_lost, not upload_lost.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "large-loss-down: full-size data packets lost on the way back"
t_need_bins
t_need_python_jsonschema
t_start large-loss-down

has() { t_json "'$2' in proto('$1').get('findings', [])" 2>/dev/null || true; }

t_vpncheck --protocols wireguard,openvpn,ipsec,l2tp
echo "  facts: wireguard=$(t_verdict wireguard) openvpn=$(t_verdict openvpn) ipsec=$(t_verdict ipsec) l2tp=$(t_verdict l2tp)"
t_check "report validates against $T_SCHEMA" t_report_valid
for spec in wireguard:51820 openvpn:1194 ipsec:4500 l2tp:1701; do
	proto="${spec%%:*}" port="${spec##*:}"
	echo "  facts: $proto findings=$(t_json "proto('$proto').get('findings', [])" 2>/dev/null) ipv4 full sent=$(t_data "$proto" ipv4 "$port" full sent) arrived=$(t_data "$proto" ipv4 "$port" full arrived) echoed=$(t_data "$proto" ipv4 "$port" full echoed)"
	t_check "$proto restricted (got '$(t_verdict "$proto")')" t_eq "$(t_verdict "$proto")" restricted
	t_check "$proto: full_size_packets_dropped" t_eq "$(has "$proto" full_size_packets_dropped)" true
	t_check "$proto: download_lost" t_eq "$(has "$proto" download_lost)" true
	t_check "$proto: not upload_lost" t_eq "$(has "$proto" upload_lost)" false
	t_check "$proto: full-size data packets reached the reflector" test "$(t_data "$proto" ipv4 "$port" full arrived)" -ge 1
	t_check "$proto: none of their echoes came back" t_eq "$(t_data "$proto" ipv4 "$port" full echoed)" 0
	t_check "$proto: small ones came back" test "$(t_data "$proto" ipv4 "$port" small echoed)" -ge 1
done
pkts="$(lab_exec router nft list chain inet filter forward | sed -n 's/.*counter packets \([0-9]*\).*large packets.*/\1/p' | head -n 1)"
t_check "the router dropped large packets towards the LAN (packets=${pkts:-?})" test "${pkts:-0}" -gt 0
[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
