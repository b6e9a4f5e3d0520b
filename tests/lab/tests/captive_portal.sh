#!/usr/bin/env bash
# captive_portal.sh — profile "captive-portal" (hotel Wi-Fi before login: the
# router redirects every web request to its own login page, resets HTTPS and
# drops everything else but DNS). Expected:
#   1. vpncheck exits 3 within its deadline and names the portal and its
#      login page (text and JSON), instead of "TCP 80 not a vpncheck reflector";
#   2. a portal that intercepts only the web while the rest gets out: the
#      session opens on the control port, the report names the portal, and
#      the verdicts carry on (WireGuard passes);
#   3. the same client through `home` (no portal): `detected` is false, from
#      the reflector's own token echo.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "captive_portal: named with its login page, exit 3"
t_need_bins
t_need_python_jsonschema
t_start captive-portal

login_url="http://$LAB_ROUTER_LAN_IP:8081/login"
lab_bg portal router "$T_PY" "$LAB_REPO/tests/lab/portal.py" 8081 "$login_url"
lab_wait_tcp client "$LAB_ROUTER_LAN_IP" 8081 10 || t_fatal "the portal server did not start: $(cat "$LAB_STATE_DIR/portal.log")"

timeout=2
t_vpncheck --protocols wireguard,openvpn --timeout "$timeout"
echo "  facts: exit=$T_RC secs=$T_SECS error=$(t_json "r.get('error')")"
t_check "exit code 3 (got $T_RC)" t_eq "$T_RC" 3
t_check "report validates against $T_SCHEMA" t_report_valid
t_check "ended within timeout + 0.5 s (took ${T_SECS}s)" \
	awk -v s="$T_SECS" -v t="$timeout" 'BEGIN { exit !(s <= t + 0.5) }'
t_check "JSON: captive_portal.detected is true" t_eq "$(t_json "r['captive_portal']['detected']")" true
t_check "JSON: the login page is the portal's redirect target" \
	t_eq "$(t_json "r['captive_portal']['login_url']")" "$login_url"
t_check "JSON: the error names the portal and its login page" \
	t_eq "$(t_json "r['error']")" "A captive portal intercepts this network's web traffic (login page: $login_url). Log in, then run vpncheck again."
t_check "stderr names the portal" grep -q "captive portal intercepts this network's web traffic" "$T_ERR"
t_check "the text report gives the evidence (the redirect)" grep -q "redirected (HTTP 302) to $login_url" "$T_OUT"
[[ $T_FAILS -eq 0 ]] || t_show_run

# 2. Only the web is intercepted: everything else gets out.
lab_exec router nft add rule inet filter forward iifname lan oifname wan accept
t_vpncheck --protocols wireguard --timeout "$timeout"
echo "  facts: exit=$T_RC wireguard=$(t_verdict wireguard) control_port=$(t_json "r['reflector']['control_port']")"
t_check "exit code 0 with the session on the control port (got $T_RC)" t_eq "$T_RC" 0
t_check "report validates against $T_SCHEMA" t_report_valid
t_check "JSON: captive_portal.detected is still true" t_eq "$(t_json "r['captive_portal']['detected']")" true
t_check "the verdicts carry on: wireguard passes" t_eq "$(t_verdict wireguard)" pass
t_check "the text report names the portal and its login page" \
	grep -q "Captive portal: .*Its login page is $login_url" "$T_OUT"
[[ $T_FAILS -eq 0 ]] || t_show_run

# 3. No portal: the web reaches the reflector, which echoes the token.
lab_exec router nft flush table ip nat
lab_exec router nft add table ip nat
lab_exec router nft add chain ip nat postrouting '{ type nat hook postrouting priority srcnat; policy accept; }'
lab_exec router nft add rule ip nat postrouting oifname wan masquerade
lab_exec router nft flush chain inet filter forward
lab_exec router nft add rule inet filter forward accept
t_vpncheck --protocols wireguard --timeout "$timeout"
t_check "without a portal: exit 0 (got $T_RC)" t_eq "$T_RC" 0
t_check "without a portal: captive_portal.detected is false" t_eq "$(t_json "r['captive_portal']['detected']")" false
t_check "without a portal: the evidence is the reflector's token echo" \
	t_eq "$(t_json "'one-time challenge came back' in r['captive_portal']['evidence']")" true
t_check "without a portal: no portal line in the text report" t_eq "$(grep -c 'Captive portal' "$T_OUT" || true)" 0

[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
