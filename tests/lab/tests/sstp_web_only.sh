#!/usr/bin/env bash
# sstp_web_only.sh — profile "web-only" (only TCP 80/443 and UDP 53 get out).
# SSTP is HTTPS on 443, the case it exists for: `pass`, while OpenVPN's
# standard UDP 1194 fails (`restricted`) and the advice for OpenVPN names
# what works here.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "web-only: sstp pass"
t_need_bins
t_need_python_jsonschema
t_start web-only

t_vpncheck --protocols sstp,openvpn --require sstp
v="$(t_verdict sstp)"
ovpn="$(t_verdict openvpn)"
echo "  facts: sstp=$v openvpn=$ovpn"
t_probe_table sstp

t_check "exit code 0 with --require sstp (got $T_RC)" t_eq "$T_RC" 0
t_check "report validates against $T_SCHEMA" t_report_valid
t_check "sstp verdict is pass (got '$v')" t_eq "$v" pass
t_check "sstp passes over IPv4 (the filtered family)" t_eq "$(t_family_verdict sstp ipv4)" pass
t_check "openvpn verdict is restricted (got '$ovpn')" t_eq "$ovpn" restricted
t_check "the reflector answered both SSTP messages (HTTP 200, Call Connect Ack)" \
	t_eq "$(t_probe_field_in ipv4 sstp genuine tcp 443 steps_answered)" 2

[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
