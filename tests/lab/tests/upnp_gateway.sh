#!/usr/bin/env bash
# upnp_gateway.sh — profile "upnp-gateway": the router runs miniupnpd (Debian
# package) with UPnP IGD, NAT-PMP and PCP on its LAN side. vpncheck must find
# all three on the default gateway, report only what the gateway says about
# its external address, create no mapping (miniupnpd's chains and lease file
# stay empty) and keep SSDP on the LAN (it reaches the router, it is never
# forwarded). Without miniupnpd (profile home) nothing answers, and the run
# still ends within its timeout.
#
# Note: miniupnpd 2.3.1 refuses to announce a reserved address (the lab's WAN
# is 203.0.113.1, TEST-NET-3): NAT-PMP answers "network failure" and UPnP an
# empty NewExternalIPAddress, so the report must carry no external address
# (and never a wrong one); double NAT then stays unknown (null).
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "upnp_gateway: UPnP / NAT-PMP / PCP found, no mapping left"
t_need_bins
t_need_python_jsonschema
command -v miniupnpd >/dev/null 2>&1 || t_skip "miniupnpd is not installed (packaging/install-deps.sh)"
t_start upnp-gateway

conf="$T_WORK/miniupnpd.conf"
leases="$T_WORK/miniupnpd.leases"
cat >"$conf" <<CONF
ext_ifname=wan
listening_ip=lan
port=5000
enable_natpmp=yes
enable_upnp=yes
secure_mode=yes
system_uptime=yes
uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b
lease_file=$leases
allow 1024-65535 192.168.1.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
CONF
lab_bg miniupnpd router miniupnpd -f "$conf" -d
lab_wait_tcp client "$LAB_ROUTER_LAN_IP" 5000 10 || t_fatal "miniupnpd did not start: $(cat "$LAB_STATE_DIR/miniupnpd.log")"

t_vpncheck -4 --protocols wireguard
pm() { t_json "(r['nat']['port_mapping'] or {})$1"; }
echo "  facts: port_mapping=$(pm '')"
t_check "report validates against the schema" t_report_valid
t_check "the gateway asked is the default route's $LAB_ROUTER_LAN_IP" t_eq "$(pm "['gateway']")" "$LAB_ROUTER_LAN_IP"
t_check "UPnP IGD found" t_eq "$(pm "['upnp']['answered']")" true
t_check "UPnP server is MiniUPnPd" t_eq "$(pm "['upnp']['server']" | grep -c MiniUPnPd)" 1
t_check "NAT-PMP found" t_eq "$(pm "['nat_pmp']['answered']")" true
t_check "PCP found" t_eq "$(pm "['pcp']['answered']")" true
ext="$(pm "['external_address']")"
t_check "external address is the router's WAN address or none (miniupnpd hides reserved ones), got $ext" \
	bash -c "[[ '$ext' == null || '$ext' == '$LAB_ROUTER_WAN_IP' ]]"
t_check "mappings_created is 0" t_eq "$(pm "['mappings_created']")" 0
t_check "text report names the protocols found" grep -q "Your router ($LAB_ROUTER_LAN_IP) speaks UPnP IGD, NAT-PMP, PCP" "$T_OUT"

# Nothing left behind: miniupnpd's chains and lease file are empty.
for chain in miniupnpd prerouting_miniupnpd postrouting_miniupnpd; do
	rules="$(lab_exec router nft list chain inet filter "$chain" | grep -cvE '^\s*(table|chain|\}|$)' || true)"
	t_check "no rule in miniupnpd's chain $chain (got $rules)" t_eq "$rules" 0
done
t_check "miniupnpd's lease file is empty" bash -c "[[ ! -s '$leases' ]]"
# SSDP stayed on the LAN.
counter() { lab_exec router nft list counter inet filter "$1" | awk '/packets/ { print $2 }'; }
t_check "SSDP M-SEARCH reached the router ($(counter ssdp_to_router) packets)" \
	awk -v n="$(counter ssdp_to_router)" 'BEGIN { exit !(n >= 1) }'
t_check "no SSDP was forwarded beyond the router" t_eq "$(counter ssdp_forwarded)" 0
[[ $T_FAILS -eq 0 ]] || { t_show_run; sed 's/^/  miniupnpd| /' "$LAB_STATE_DIR/miniupnpd.log" | tail -30; }

# Without miniupnpd nothing answers, and that costs no more than the timeout.
lab_down
t_start home
t_vpncheck -4 --protocols wireguard
echo "  facts (home): port_mapping=$(pm '')"
t_check "home: no port-mapping protocol answered" \
	t_eq "$(pm "['upnp']['answered']")/$(pm "['nat_pmp']['answered']")/$(pm "['pcp']['answered']")" "false/false/false"
t_check "home: double NAT unknown (null)" t_eq "$(t_json "r['nat']['double_nat']")" null
t_check "home: the run still ends in time (${T_SECS}s < 8s)" awk -v s="$T_SECS" 'BEGIN { exit !(s < 8) }'

[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
