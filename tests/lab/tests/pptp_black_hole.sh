#!/usr/bin/env bash
# pptp_black_hole.sh — profile "pptp-black-hole" (NAT with the PPTP helper,
# 1280-byte uplink, no ICMP "fragmentation needed"). PPTP's control
# connection and GRE work, so its handshake passes; its data (MPPE in GRE)
# is sent with DF as Linux's PPTP sends it, so the small packets pass both
# ways and the full-size ones (1440 bytes) never reach the reflector. PPTP is
# `restricted`, with the PPP MTU to set.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "pptp-black-hole: PPTP restricted by its full-size data, with the MTU to set"
t_need_bins
t_need_python_jsonschema
t_start pptp-black-hole

t_vpncheck --protocols pptp
v="$(t_verdict pptp)"
echo "  facts: pptp=$v findings=$(t_json "proto('pptp').get('findings', [])" 2>/dev/null)"
echo "  facts: summary: $(t_json "proto('pptp').get('summary', '')" 2>/dev/null)"
echo "  facts: data: $(t_json "next((p.get('data_phase') for p in proto('pptp')['probes'] if p.get('piece') == 'gre' and p.get('kind') == 'genuine' and p.get('family', 'ipv4') == 'ipv4'), None)" 2>/dev/null)"
t_probe_table pptp
t_check "report validates against $T_SCHEMA" t_report_valid
t_check "nat.path_mtu is 1280" t_eq "$(t_json "r['nat']['path_mtu']")" 1280
t_check "control piece answered" t_eq "$(t_pptp_piece control inbound)" true
t_check "GRE went both ways" t_eq "$(t_pptp_piece gre outbound)/$(t_pptp_piece gre inbound)" "true/true"
t_check "small data packets came back" test "$(t_data pptp ipv4 47 small echoed)" -ge 1
t_check "no full-size data packet came back" t_eq "$(t_data pptp ipv4 47 full echoed)" 0
t_check "pptp restricted (got '$v')" t_eq "$v" restricted
t_check "pptp has the finding full_size_packets_dropped" t_eq "$(t_finding_of pptp full_size_packets_dropped)" true
t_check "pptp has the finding upload_lost" t_eq "$(t_finding_of pptp upload_lost)" true
t_check "not a box that stops all data" t_eq "$(t_finding_of pptp data_dropped_after_handshake)" false
t_check "advice: PPP mtu 1236 (1280 less 44)" t_eq "$(t_advice_has pptp 'PPTP: mtu 1236 and mru 1236')" true
t_check "the advice still warns that PPTP's security is broken" t_eq "$(t_advice_has pptp 'security is broken')" true
t_check "exit code 0 (nothing --require'd)" t_eq "$T_RC" 0
[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
