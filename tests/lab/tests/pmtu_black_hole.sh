#!/usr/bin/env bash
# pmtu_black_hole.sh — profile "pmtu-black-hole" (home router, 1280-byte
# uplink, no ICMP "fragmentation needed"): the path test finds 1280 and calls
# it a black hole; fragments pass (the router fragments what has no DF).
# On Linux wireguard-go, OpenVPN (mtu-disc unset: the system default) and
# strongSwan send their tunnel packets that fit this host's MTU with DF set,
# so every protocol whose handshake passes is `restricted`, with the MTU to
# set; their full-size data packets (the data phase) never reach the
# reflector. L2TP, whose Linux data path leaves DF clear, passes. Then the
# router sends its ICMP again: the same path MTU, reported, and nobody is
# penalised (senders learn it and fragment, the data phase's full-size
# packets too).
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "pmtu-black-hole: DF senders restricted with the MTU to set; working ICMP restricts no one"
t_need_bins
t_need_python_jsonschema
t_start pmtu-black-hole

frag_needed_dropped() {
	lab_exec router nft list chain inet filter output | sed -n 's/.*frag-needed counter packets \([0-9]*\).*/\1/p' | head -n 1
}

t_vpncheck --protocols wireguard,openvpn,ipsec,l2tp
echo "  facts: wireguard=$(t_verdict wireguard) openvpn=$(t_verdict openvpn) ipsec=$(t_verdict ipsec) l2tp=$(t_verdict l2tp)"
echo "  facts: path: $(t_json "r['nat']['tests']['path']" 2>/dev/null)"
t_check "report validates against $T_SCHEMA" t_report_valid
t_check "nat.path_mtu is 1280" t_eq "$(t_json "r['nat']['path_mtu']")" 1280
t_check "the path test calls it a black hole" t_eq "$(t_json "r['nat']['tests']['path']['black_hole']")" true
t_check "fragments pass (the router fragments packets without DF)" t_eq "$(t_json "r['nat']['fragments_pass']")" true
t_check "the router really dropped its \"fragmentation needed\" errors" test "$(frag_needed_dropped)" -gt 0
for proto in wireguard openvpn ipsec; do
	t_check "$proto restricted (got '$(t_verdict $proto)')" t_eq "$(t_verdict $proto)" restricted
	t_check "$proto has the finding full_size_packets_dropped" t_eq "$(t_finding_of $proto full_size_packets_dropped)" true
done
# The data phase measures it directly: full-size data packets with the real
# software's DF never reach the reflector (upload_lost), small ones pass.
for proto in wireguard openvpn ipsec; do
	t_check "$proto: the data phase lost full-size packets on the way out" t_eq "$(t_finding_of $proto upload_lost)" true
	t_check "$proto: not a box that stops all data" t_eq "$(t_finding_of $proto data_dropped_after_handshake)" false
done
# Linux's kernel L2TP leaves DF clear: its full-size data messages (1538
# bytes, fragments already) are fragmented again by the router and pass.
t_check "l2tp pass (got '$(t_verdict l2tp)')" t_eq "$(t_verdict l2tp)" pass
t_check "l2tp: its full-size data messages came back" test "$(t_data l2tp ipv4 1701 full echoed)" -ge 1
t_check "wireguard advice: MTU = 1220 (1280 less 60)" t_eq "$(t_advice_has wireguard 'WireGuard: MTU = 1220')" true
t_check "openvpn advice: tun-mtu 1180" t_eq "$(t_advice_has openvpn 'tun-mtu 1180')" true
t_check "openvpn advice: mtu-disc no (fragments pass here)" t_eq "$(t_advice_has openvpn 'mtu-disc no')" true
t_check "ipsec advice: inner MTU of 1192" t_eq "$(t_advice_has ipsec 'inner MTU of 1192')" true
t_check "the text report says black hole" grep -q "black hole" "$T_OUT"
t_check "exit code 0 (nothing --require'd)" t_eq "$T_RC" 0
[[ $T_FAILS -eq 0 ]] || t_show_run

# The same uplink with working path MTU discovery.
lab_exec router nft flush chain inet filter output
t_vpncheck --protocols wireguard,openvpn,ipsec
echo "  facts: wireguard=$(t_verdict wireguard) openvpn=$(t_verdict openvpn) ipsec=$(t_verdict ipsec)"
t_check "ICMP: report validates" t_report_valid
t_check "ICMP: nat.path_mtu is still 1280" t_eq "$(t_json "r['nat']['path_mtu']")" 1280
t_check "ICMP: not a black hole" t_eq "$(t_json "r['nat']['tests']['path']['black_hole']")" false
t_check "ICMP: the router's report is named" grep -q "the router $LAB_ROUTER_LAN_IP reports an MTU of 1280" "$T_OUT"
for proto in wireguard openvpn ipsec; do
	t_check "ICMP: $proto pass (got '$(t_verdict $proto)')" t_eq "$(t_verdict $proto)" pass
done
[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
