#!/usr/bin/env bash
# dpi_wireguard.sh — profile "dpi-wireguard" (a DPI box drops the WireGuard
# handshake initiation on any port). Expected:
#   wireguard `blocked`, but its random control probes of the same size on
#   the same ports got out (so it is the signature, not the ports), and
#   findings contain "signature_blocking";
#   openvpn unaffected: `pass`.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "dpi-wireguard: wireguard blocked by signature, openvpn pass"
t_need_bins
t_need_python_jsonschema
t_start dpi-wireguard

t_vpncheck --protocols wireguard,openvpn --require wireguard
wg="$(t_verdict wireguard)"
ovpn="$(t_verdict openvpn)"
findings="$(t_json "proto('wireguard').get('findings', [])" 2>/dev/null || true)"
echo "  facts: wireguard=$wg openvpn=$ovpn wireguard.findings=$findings"
t_probe_table wireguard

t_check "exit code 1 with --require wireguard (got $T_RC)" t_eq "$T_RC" 1
t_check "report exit_code equals process exit code" t_report_exit_code_matches
t_check "report validates against $T_SCHEMA" t_report_valid
t_check "wireguard verdict is blocked (got '$wg')" t_eq "$wg" blocked
t_check "openvpn verdict is pass (got '$ovpn')" t_eq "$ovpn" pass
t_check "no genuine wireguard probe got out" \
	t_eq "$(t_json "any(p.get('outbound') for p in proto('wireguard').get('probes', []) if p.get('kind') == 'genuine')")" false
t_check "wireguard has control probes" \
	t_eq "$(t_json "any(p.get('kind') == 'control' for p in proto('wireguard').get('probes', []))")" true
t_check "every wireguard control probe got out (outbound=true)" \
	t_eq "$(t_json "all(p.get('outbound') is True for p in proto('wireguard').get('probes', []) if p.get('kind') == 'control')")" true
t_check "control probes cover the genuine probes' ports" \
	t_eq "$(t_json "sorted({(p['transport'], int(p['port'])) for p in proto('wireguard')['probes'] if p.get('kind') == 'genuine'}) == sorted({(p['transport'], int(p['port'])) for p in proto('wireguard')['probes'] if p.get('kind') == 'control'})")" true
t_check "wireguard findings contain signature_blocking" \
	t_eq "$(t_json "'signature_blocking' in proto('wireguard').get('findings', [])")" true
pkts="$(lab_exec router nft list chain inet filter forward | sed -n 's/.*counter packets \([0-9]*\).*wireguard handshake.*/\1/p')"
echo "  facts: router DPI rule dropped ${pkts:-?} packets"
t_check "the router's DPI rule actually dropped the handshakes (packets=${pkts:-?})" \
	test "${pkts:-0}" -gt 0

[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
