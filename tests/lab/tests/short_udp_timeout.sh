#!/usr/bin/env bash
# short_udp_timeout.sh — profile "short-udp-timeout" (conntrack forgets idle
# UDP mappings after 5 s): --nat-lifetime with dense short gaps must measure
# a binding lifetime within ±2 s of 5 s and advise a keepalive below it. The
# default gaps of --nat-lifetime must do the same. The
# "home" profile (Linux default 30 s) must keep the same gaps alive, so the
# measurement really comes from the router, not from the tool.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "short_udp_timeout: binding lifetime ~5 s and keepalive below it"
t_need_bins
t_need_python_jsonschema
t_start short-udp-timeout

gaps=2,3,4,5,6,7,8,10
t_vpncheck -4 --protocols wireguard --nat-lifetime-gaps "$gaps"
lifetime="$(t_json "r['nat']['udp_binding_lifetime_s']")"
keepalive="$(t_json "(r['nat']['tests']['keepalive'] or {}).get('wireguard_persistent_keepalive_s')")"
echo "  facts: lifetime=$lifetime keepalive=$keepalive details=$(t_json "r['nat']['tests']['lifetime']")"
t_check "report validates against the schema" t_report_valid
t_check "lifetime $lifetime s is within 5±2 s" awk -v l="$lifetime" 'BEGIN { exit !(l != "null" && l >= 3 && l <= 7) }'
t_check "WireGuard PersistentKeepalive $keepalive is below 5 s" awk -v k="$keepalive" 'BEGIN { exit !(k != "null" && k >= 1 && k < 5) }'
t_check "the text report gives the keepalive" grep -q "PersistentKeepalive = $keepalive" "$T_OUT"
t_check "the run took about the longest gap (${T_SECS}s >= 10s)" awk -v s="$T_SECS" 'BEGIN { exit !(s >= 10) }'
[[ $T_FAILS -eq 0 ]] || t_show_run

# The default gaps (what --nat-lifetime alone tries), up to 10 s: they must
# resolve a 5 s NAT too, not only the dense gaps given above.
t_vpncheck -4 --protocols wireguard --nat-lifetime --nat-lifetime-max 10
default_keepalive="$(t_json "(r['nat']['tests']['keepalive'] or {}).get('wireguard_persistent_keepalive_s')")"
echo "  facts (default gaps): lifetime=$(t_json "r['nat']['udp_binding_lifetime_s']") keepalive=$default_keepalive"
t_check "default gaps: WireGuard PersistentKeepalive $default_keepalive is below 5 s" \
	awk -v k="$default_keepalive" 'BEGIN { exit !(k != "null" && k >= 1 && k < 5) }'
t_check "default gaps: no 'cannot be derived'" t_eq "$(grep -c 'cannot be derived' "$T_OUT" || true)" 0
[[ $T_FAILS -eq 0 ]] || t_show_run

# Control: the same gaps through an ordinary router all survive.
lab_down
t_start home
t_vpncheck -4 --protocols wireguard --nat-lifetime-gaps "$gaps"
echo "  facts (home): lifetime=$(t_json "r['nat']['udp_binding_lifetime_s']") details=$(t_json "r['nat']['tests']['lifetime']")"
t_check "home: every gap up to 10 s survived" t_eq "$(t_json "r['nat']['udp_binding_lifetime_s']")" 10
t_check "home: no failed gap" t_eq "$(t_json "r['nat']['tests']['lifetime']['shortest_failed_s']")" null

[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
