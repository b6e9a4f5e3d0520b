#!/usr/bin/env bash
# agreement_pmtu_black_hole.sh — through "pmtu-black-hole" (1280-byte uplink,
# no ICMP "fragmentation needed") vpncheck says WireGuard and OpenVPN are
# `restricted` (full_size_packets_dropped) with the MTU to set. Real software
# through the same profile agrees: the tunnels come up and carry small pings,
# but
#   wireguard-go loses every full-size packet (a 1392-byte ping fills its
#   default MTU 1420), and carries them once its MTU is vpncheck's advice
#   (1220: a 1192-byte ping fills it);
#   OpenVPN (tun-mtu 1500, mtu-disc unset) loses packets that fit this host's
#   1500-byte MTU (a 1300-byte ping: its DF is set), while a 1472-byte ping
#   (1500 inside, more than 1500 outside) is fragmented by the host without DF
#   and passes: a full-MTU ping alone would wrongly say OpenVPN is fine.
set -euo pipefail
# shellcheck source=lib/agreement.sh
source "$(dirname "$0")/lib/agreement.sh"
t_init "agreement pmtu-black-hole: vpncheck restricted; real wireguard-go and OpenVPN lose full-size packets"
agreement_need_real wireguard wireguard-go
agreement_need_real openvpn openvpn
t_need_python_jsonschema

t_start pmtu-black-hole
t_vpncheck --protocols wireguard,openvpn
wg_advice="$(t_json "' | '.join(proto('wireguard').get('advice', []))" 2>/dev/null || true)"
echo "  facts: vpncheck wireguard=$(t_verdict wireguard) openvpn=$(t_verdict openvpn); wireguard advice: $wg_advice"
t_check "vpncheck: wireguard restricted" t_eq "$(t_verdict wireguard)" restricted
t_check "vpncheck: openvpn restricted" t_eq "$(t_verdict openvpn)" restricted
t_check "vpncheck: wireguard advice is MTU = 1220" bash -c '[[ "$1" == *"WireGuard: MTU = 1220 "* ]]' _ "$wg_advice"
[[ $T_FAILS -eq 0 ]] || t_show_run
lab_reflector_stop
lab_down

# real_run NAME SCRIPT [ENV...] -> the script's output in $T_WORK/NAME.txt (exit 2: could not be run).
real_run() {
	local name="$1" script="$2" rc=0
	shift 2
	env "$@" timeout -k 5 120 bash "$LAB_DIR/real/$script" pmtu-black-hole >"$T_WORK/$name.txt" 2>"$T_WORK/$name.err" || rc=$?
	sed 's/^/    real| /' "$T_WORK/$name.txt"
	[[ $rc -eq 0 ]] || t_fatal "real/$script could not be run (exit $rc): $(tail -n 3 "$T_WORK/$name.err")"
}
ping_result() { sed -n "s/^ping size=$2 \(ok\|lost\)$/\1/p" "$T_WORK/$1.txt"; }

real_run wg wireguard.sh REAL_PING_SIZES="56 1392"
t_check "wireguard-go: the tunnel comes up" t_eq "$(tail -n 1 "$T_WORK/wg.txt")" TUNNEL_UP
t_check "wireguard-go: small pings pass" t_eq "$(ping_result wg 56)" ok
t_check "wireguard-go: full-size pings (MTU 1420) are lost" t_eq "$(ping_result wg 1392)" lost

real_run wg-advised wireguard.sh REAL_WG_MTU=1220 REAL_PING_SIZES="1192"
t_check "wireguard-go with vpncheck's MTU = 1220: full-size pings pass" t_eq "$(ping_result wg-advised 1192)" ok

real_run ovpn openvpn.sh REAL_PING_SIZES="56 1300 1472"
t_check "openvpn: the tunnel comes up" t_eq "$(tail -n 1 "$T_WORK/ovpn.txt")" TUNNEL_UP
t_check "openvpn: small pings pass" t_eq "$(ping_result ovpn 56)" ok
t_check "openvpn: packets that fit the host's MTU carry DF and are lost" t_eq "$(ping_result ovpn 1300)" lost
t_check "openvpn: only larger ones, fragmented by the host, pass" t_eq "$(ping_result ovpn 1472)" ok
t_finish
