#!/usr/bin/env bash
# sstp_home.sh — profile "home" (plain NAT). Expected: sstp `pass` over IPv4
# and IPv6 (reflector.lab has both addresses): TLS pinned to the certificate the reflector published, the HTTP
# request and the Call Connect Request both answered on one stream, the
# reflector saw both messages of the genuine probe and the control probe
# inside TLS; no tls_intercepted finding.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "home: sstp pass over IPv4 and IPv6"
t_need_bins
t_need_python_jsonschema
t_start home

T_NO_DEFAULT_REFLECTOR=1 t_vpncheck --reflector "$LAB_REFLECTOR_NAME" --protocols sstp --require sstp
v="$(t_verdict sstp)"
echo "  facts: sstp=$v v4=$(t_family_verdict sstp ipv4) v6=$(t_family_verdict sstp ipv6)"
t_probe_table sstp

t_check "exit code 0 with --require sstp (got $T_RC)" t_eq "$T_RC" 0
t_check "report validates against $T_SCHEMA" t_report_valid
t_check "sstp verdict is pass (got '$v')" t_eq "$v" pass
t_check "sstp passes over IPv4" t_eq "$(t_family_verdict sstp ipv4)" pass
t_check "sstp passes over IPv6" t_eq "$(t_family_verdict sstp ipv6)" pass
t_check "tcp/443 genuine went both ways" \
	t_eq "$(t_probe_field_in ipv4 sstp genuine tcp 443 outbound)/$(t_probe_field_in ipv4 sstp genuine tcp 443 inbound)" "true/true"
t_check "tcp/443 control went both ways" \
	t_eq "$(t_probe_field_in ipv4 sstp control tcp 443 outbound)/$(t_probe_field_in ipv4 sstp control tcp 443 inbound)" "true/true"
t_check "no tls_intercepted finding" \
	t_eq "$(t_json "'tls_intercepted' in proto('sstp').get('findings', [])")" false
t_check "listed by --list-probes on TCP 443" \
	bash -c "'$(lab_bin vpncheck)' --list-probes | grep -i sstp | grep -q 'TCP 443'"

[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
