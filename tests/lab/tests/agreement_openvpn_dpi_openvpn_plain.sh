#!/usr/bin/env bash
# agreement_openvpn_dpi_openvpn_plain.sh — through profile "dpi-openvpn-plain"
# real OpenVPN without tls-auth/tls-crypt (the lab's default configuration,
# which sends the plain reset) stays down, so vpncheck must not say `pass`;
# real OpenVPN with `tls-crypt` comes up, and vpncheck's tls-crypt form must
# say `pass`.
set -euo pipefail
# shellcheck source=lib/agreement.sh
source "$(dirname "$0")/lib/agreement.sh"

agreement_extra_checks() {
	local form_verdict out rc=0 tunnel
	form_verdict="$(t_json "proto('openvpn')['forms']['tls-crypt']['verdict']")"
	out="$T_WORK/real-tls-crypt.txt"
	REAL_OPENVPN_WRAP=tls-crypt timeout -k 5 120 bash "$LAB_DIR/real/openvpn.sh" dpi-openvpn-plain \
		>"$out" 2>"$T_WORK/real-tls-crypt.err" || rc=$?
	tunnel="$(tail -n 1 "$out")"
	sed 's/^/    real tls-crypt| /' "$out"
	[[ $rc -eq 0 ]] || t_fatal "real openvpn (tls-crypt) could not be run (exit $rc)"
	echo "  facts: vpncheck tls-crypt form=$form_verdict; real openvpn with tls-crypt: $tunnel"
	t_check "real openvpn with tls-crypt is up through dpi-openvpn-plain (got $tunnel)" t_eq "$tunnel" TUNNEL_UP
	t_check "agreement: vpncheck's tls-crypt form passes (got $form_verdict)" t_eq "$form_verdict" pass
}

agreement_main openvpn dpi-openvpn-plain TUNNEL_DOWN
