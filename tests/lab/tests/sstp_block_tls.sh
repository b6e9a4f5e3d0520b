#!/usr/bin/env bash
# sstp_block_tls.sh — profile "block-tls" (web-only, and TLS to TCP 443
# reset by its record header). Expected: the control session still opens
# (plain HTTP reaches the control API); sstp is not `pass` over IPv4 but
# `blocked`, with neither the genuine probe nor its TLS-wrapped control
# reaching the reflector; OpenVPN over TCP 443 (a 2-byte length, no TLS
# record) still passes on the same port. Fragile only if the router's
# payload match (@ih) were unsupported: the test then fails on the counter.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "block-tls: sstp blocked, control API and OpenVPN on 443 still work"
t_need_bins
t_need_python_jsonschema
t_start block-tls

t_vpncheck --protocols sstp,openvpn --require sstp
v4="$(t_family_verdict sstp ipv4)"
echo "  facts: sstp=$(t_verdict sstp) v4=$v4 openvpn=$(t_verdict openvpn) findings=$(t_json "proto('sstp').get('findings', [])" 2>/dev/null || true)"
t_probe_table sstp

t_check "the control session opened: exit code 1 (--require sstp failed), not 3 (got $T_RC)" t_eq "$T_RC" 1
t_check "report validates against $T_SCHEMA" t_report_valid
t_check "sstp over IPv4 is blocked (got '$v4')" t_eq "$v4" blocked
t_check "the genuine sstp probe did not get out over IPv4" \
	t_eq "$(t_probe_field_in ipv4 sstp genuine tcp 443 outbound)" false
t_check "its control (random bytes inside TLS) did not either" \
	t_eq "$(t_probe_field_in ipv4 sstp control tcp 443 outbound)" false
t_check "openvpn tcp/443 still went both ways" \
	t_eq "$(t_probe_field_in ipv4 openvpn genuine tcp 443 outbound)/$(t_probe_field_in ipv4 openvpn genuine tcp 443 inbound)" "true/true"
t_check "no tls_intercepted finding (the TLS was cut, not answered)" \
	t_eq "$(t_json "'tls_intercepted' in proto('sstp').get('findings', [])")" false
pkts="$(lab_exec router nft list chain inet filter forward | sed -n 's/.*counter packets \([0-9]*\).*tls to 443.*/\1/p')"
echo "  facts: router rule reset ${pkts:-?} TLS packets"
t_check "the router's rule did reset TLS (packets=${pkts:-?})" test "${pkts:-0}" -gt 0

[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
