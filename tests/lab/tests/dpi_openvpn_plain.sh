#!/usr/bin/env bash
# dpi_openvpn_plain.sh — profile "dpi-openvpn-plain" (a DPI box drops
# OpenVPN's plain client hard reset on any port, UDP and TCP; the wrapped
# forms pass). Expected:
#   openvpn not `pass`: `restricted`, with the plain form `blocked` by its
#   signature (its same-size random controls got out) and the wrapped forms
#   `pass` on UDP 1194; the advice names the form that passes (tls-crypt);
#   wireguard unaffected: `pass`.
# Before vpncheck tried each form it sent only the tls-auth reset and said
# `pass` here, while a configuration without tls-auth/tls-crypt fails
# (agreement_openvpn_dpi_openvpn_plain.sh runs the real software).
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "dpi-openvpn-plain: openvpn restricted to its wrapped forms, advice names tls-crypt"
t_need_bins
t_need_python_jsonschema
t_start dpi-openvpn-plain

t_vpncheck --protocols wireguard,openvpn
ovpn="$(t_verdict openvpn)"
wg="$(t_verdict wireguard)"
forms="$(t_json "{k: v['verdict'] for k, v in proto('openvpn').get('forms', {}).items()}" 2>/dev/null || true)"
echo "  facts: openvpn=$ovpn wireguard=$wg forms=$forms"
t_probe_table openvpn

t_check "vpncheck ran to completion (exit 0, got $T_RC)" t_eq "$T_RC" 0
t_check "report validates against $T_SCHEMA" t_report_valid
t_check "openvpn verdict is restricted, not pass (got '$ovpn')" t_eq "$ovpn" restricted
t_check "wireguard verdict is pass (got '$wg')" t_eq "$wg" pass
t_check "the plain form is blocked" t_eq "$(t_json "proto('openvpn')['forms']['plain']['verdict']")" blocked
for form in tls-auth tls-auth-sha256 tls-crypt tls-crypt-v2; do
	t_check "the $form form passes on UDP 1194" \
		t_eq "$(t_json "[proto('openvpn')['forms']['$form'][k] for k in ('verdict', 'working_variant')] == ['pass', 'UDP 1194']")" true
done
t_check "no genuine plain probe got out, on any port" \
	t_eq "$(t_json "any(p.get('outbound') for p in proto('openvpn')['probes'] if p.get('piece') == 'plain' and p['kind'] == 'genuine')")" false
t_check "every plain control probe got out" \
	t_eq "$(t_json "all(p.get('outbound') is True for p in proto('openvpn')['probes'] if p.get('piece') == 'plain' and p['kind'] == 'control')")" true
t_check "openvpn findings contain signature_blocking" \
	t_eq "$(t_json "'signature_blocking' in proto('openvpn').get('findings', [])")" true
t_check "the advice names the form that passes (tls-crypt)" \
	t_eq "$(t_json "any('tls-crypt' in a for a in proto('openvpn').get('advice', []))")" true
for transport in udp tcp; do
	pkts="$(lab_exec router nft list chain inet filter forward | sed -n "s/.*counter packets \([0-9]*\).*openvpn plain reset $transport.*/\1/p")"
	echo "  facts: router DPI rule ($transport) dropped ${pkts:-?} packets"
	t_check "the router's $transport DPI rule dropped the plain resets (packets=${pkts:-?})" test "${pkts:-0}" -gt 0
done

[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
