#!/usr/bin/env bash
# real/wireguard.sh PROFILE — does a real WireGuard tunnel work through PROFILE?
#
# Brings up the lab with PROFILE and runs wireguard-go (userspace; there is no
# kernel WireGuard module here) in the reflector ns as the server
# (ListenPort 51820, the standard port, 10.9.0.1) and in the client ns as the
# peer (Endpoint 203.0.113.5:51820, 10.9.0.2), configured with `wg set` and
# `ip addr`, then pings 10.9.0.1 through the tunnel.
#
# Output: last line TUNNEL_UP or TUNNEL_DOWN; exit 0 either way.
# Exit 2 when the experiment itself could not be set up.
#
# wireguard-go's UAPI socket lives in /var/run/wireguard/<ifname>.sock, which
# is NOT per network namespace, so the interface names carry the lab's unique
# suffix (wgs<suffix>/wgc<suffix>, <= 15 chars) to let labs run in parallel.
#
# Env: REAL_TUNNEL_WAIT  seconds to wait for the ping through the tunnel (default 10)
#      REAL_PING_SIZES   then ping these ICMP payload sizes through it ("ping size=N ok|lost")
#      REAL_WG_MTU       the tunnel interfaces' MTU (wireguard-go's default: 1420)
#      LAB_KEEP=1        keep logs/keys for debugging
set -eEuo pipefail

# shellcheck source=../lab.sh
source "$(cd "$(dirname "$0")/.." && pwd)/lab.sh"

real_init "$@"
SERVER_TUN_IP=10.9.0.1
CLIENT_TUN_IP=10.9.0.2
WG_PORT=51820

real_need wireguard-go wg ip timeout
[[ -c /dev/net/tun ]] || { echo "SETUP_ERROR: /dev/net/tun missing" >&2; exit 2; }

WG_S="" WG_C=""
# wireguard-go removes its socket on a clean exit; after a SIGKILL it may
# not. Only our own, uniquely named sockets are touched.
# shellcheck disable=SC2317 # invoked by the EXIT trap
remove_wg_sockets() {
	[[ -z "$WG_S" ]] || rm -f "/var/run/wireguard/$WG_S.sock" "/var/run/wireguard/$WG_C.sock"
}
real_cleanup_on_exit remove_wg_sockets

# start_wg ROLE IFNAME -> run wireguard-go in the foreground (backgrounded by
# lab_bg so its PID is recorded) and wait, bounded, for its UAPI socket.
start_wg() {
	local role="$1" ifname="$2" i
	lab_bg "wireguard-go-$role" "$role" env WG_PROCESS_FOREGROUND=1 wireguard-go -f "$ifname"
	local pid=$LAB_LAST_PID
	for ((i = 0; i < 100; i++)); do
		[[ -S "/var/run/wireguard/$ifname.sock" ]] && lab_exec "$role" ip link show "$ifname" >/dev/null 2>&1 && return 0
		_lab_alive "$pid" || break
		sleep 0.05
	done
	echo "SETUP_ERROR: wireguard-go ($role, $ifname) did not come up; log:" >&2
	sed 's/^/    /' "$LAB_STATE_DIR/wireguard-go-$role.log" >&2
	exit 2
}

lab_up "$PROFILE"
WG_S="wgs$LAB_SUFFIX"
WG_C="wgc$LAB_SUFFIX"
D="$LAB_STATE_DIR/wireguard"
mkdir -p "$D"
umask 077
wg genkey >"$D/server.key"
wg pubkey <"$D/server.key" >"$D/server.pub"
wg genkey >"$D/client.key"
wg pubkey <"$D/client.key" >"$D/client.pub"

start_wg reflector "$WG_S"
start_wg client "$WG_C"

# Server: standard port, accepts the client's tunnel address only.
lab_exec reflector wg set "$WG_S" listen-port "$WG_PORT" private-key "$D/server.key" \
	peer "$(cat "$D/client.pub")" allowed-ips "$CLIENT_TUN_IP/32"
lab_exec reflector ip addr add "$SERVER_TUN_IP/24" dev "$WG_S"
lab_exec reflector ip link set "$WG_S" up

# Client: the handshake starts with the first packet sent into the tunnel
# (our ping). No keepalive: the ping itself drives it.
lab_exec client wg set "$WG_C" private-key "$D/client.key" \
	peer "$(cat "$D/server.pub")" endpoint "$LAB_REFLECTOR_IP:$WG_PORT" allowed-ips "$SERVER_TUN_IP/32"
lab_exec client ip addr add "$CLIENT_TUN_IP/24" dev "$WG_C"
lab_exec client ip link set "$WG_C" up
if [[ -n "${REAL_WG_MTU:-}" ]]; then
	lab_exec reflector ip link set "$WG_S" mtu "$REAL_WG_MTU"
	lab_exec client ip link set "$WG_C" mtu "$REAL_WG_MTU"
fi

# Poll with pings until one comes back or WAIT seconds pass. The first ping
# triggers the handshake initiation; wireguard-go retransmits it every 5 s,
# so a 10 s budget covers the first try plus one retry.
START="$(lab_now)"
result=TUNNEL_DOWN
while awk -v e="$(lab_elapsed "$START")" -v l="$WAIT" 'BEGIN { exit !(e < l) }'; do
	if lab_exec client ping -c1 -W1 -q "$SERVER_TUN_IP" >/dev/null 2>&1; then
		result=TUNNEL_UP
		break
	fi
	sleep 0.1 # in case ping fails fast (e.g. tun not ready), do not spin
done

# REAL_PING_SIZES: ICMP payload sizes to ping through the working tunnel.
if [[ $result == TUNNEL_UP && -n "${REAL_PING_SIZES:-}" ]]; then
	# shellcheck disable=SC2086 # a list of sizes
	lab_ping_sizes "$SERVER_TUN_IP" $REAL_PING_SIZES
fi
HS="$(lab_exec client wg show "$WG_C" latest-handshakes | awk '{ print $2 }')"
echo "wireguard: profile=$PROFILE transport=udp/$WG_PORT mtu=$(lab_exec client cat "/sys/class/net/$WG_C/mtu") result=$result after $(lab_elapsed "$START")s (client latest-handshake=${HS:-none})"
[[ "${LAB_KEEP:-0}" == 1 ]] && echo "logs kept in $LAB_STATE_DIR" >&2
echo "$result"
exit 0
