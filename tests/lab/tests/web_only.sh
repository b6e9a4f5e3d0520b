#!/usr/bin/env bash
# web_only.sh — profile "web-only" (hotel Wi-Fi: only TCP 80/443 and UDP 53
# get out). The reflector's control port 8780 is blocked too, so vpncheck has
# to reach the control API over 443/80. Expected:
#   wireguard `restricted` — standard UDP 51820 fails, UDP 53 works;
#   openvpn   `restricted` — standard UDP 1194 fails, TCP 443 works;
#   --require openvpn exits 1 (restricted is not pass); advice is given.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "web-only: wireguard+openvpn restricted"
t_need_bins
t_need_python_jsonschema
t_start web-only

t_vpncheck --protocols wireguard,openvpn --require openvpn
wg="$(t_verdict wireguard)"
ovpn="$(t_verdict openvpn)"
echo "  facts: wireguard=$wg openvpn=$ovpn"
t_probe_table wireguard
t_probe_table openvpn

t_check "exit code 1 with --require openvpn (restricted != pass) (got $T_RC)" t_eq "$T_RC" 1
t_check "report exit_code equals process exit code" t_report_exit_code_matches
t_check "report validates against $T_SCHEMA" t_report_valid
t_check "wireguard verdict is restricted (got '$wg')" t_eq "$wg" restricted
t_check "openvpn verdict is restricted (got '$ovpn')" t_eq "$ovpn" restricted
t_check "wireguard udp/51820 (standard) did not get out" \
	t_eq "$(t_probe_field wireguard genuine udp 51820 outbound)" false
t_check "wireguard udp/53 went both ways" \
	t_eq "$(t_probe_field wireguard genuine udp 53 outbound)/$(t_probe_field wireguard genuine udp 53 inbound)" "true/true"
t_check "openvpn udp/1194 (standard) did not get out" \
	t_eq "$(t_probe_field openvpn genuine udp 1194 outbound)" false
t_check "openvpn tcp/443 went both ways" \
	t_eq "$(t_probe_field openvpn genuine tcp 443 outbound)/$(t_probe_field openvpn genuine tcp 443 inbound)" "true/true"
t_check "openvpn tcp/1194 did not get out" \
	t_eq "$(t_probe_field openvpn genuine tcp 1194 outbound)" false
t_check "wireguard advice is not empty" t_eq "$(t_json "len(proto('wireguard').get('advice', [])) > 0")" true
t_check "openvpn advice is not empty" t_eq "$(t_json "len(proto('openvpn').get('advice', [])) > 0")" true

[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
