#!/usr/bin/env bash
# real/openvpn.sh PROFILE — does a real OpenVPN tunnel work through PROFILE?
#
# Brings up the lab with PROFILE, runs a real OpenVPN 2.6 server in the
# reflector ns (UDP 1194, the protocol's standard transport, TLS mode) and a
# real client in the client ns, then pings the server's tunnel address
# 10.8.0.1 through the tunnel.
#
# Output: last line TUNNEL_UP or TUNNEL_DOWN; exit 0 either way.
# Exit 2 when the experiment itself could not be set up (missing tool, PKI
# generation failed, server did not start) — that is NOT a "down" tunnel.
#
# The PKI (CA, server and client certificates) is throwaway: generated with
# the openssl CLI into the lab's temp state dir with EC P-256 keys (fast) and
# `dh none` (ECDHE only), deleted with the lab.
#
# Env: REAL_TUNNEL_WAIT  seconds to wait for the ping through the tunnel (default 10)
#      REAL_PING_SIZES   then ping these ICMP payload sizes through it ("ping size=N ok|lost")
#      REAL_OPENVPN_WRAP control-channel protection: none (default: the plain
#                        reset), tls-auth or tls-crypt, with a fresh static key
#      LAB_KEEP=1        keep logs/configs (printed path) for debugging
set -eEuo pipefail

# shellcheck source=../lab.sh
source "$(cd "$(dirname "$0")/.." && pwd)/lab.sh"

real_init "$@"
SERVER_TUN_IP=10.8.0.1

real_need openvpn openssl ip timeout
[[ -c /dev/net/tun ]] || { echo "SETUP_ERROR: /dev/net/tun missing" >&2; exit 2; }

real_cleanup_on_exit

# make_pki DIR -> ca.crt, server.{crt,key}, client.{crt,key} in DIR.
make_pki() {
	local d="$1" curve=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
	openssl req -x509 "${curve[@]}" -keyout "$d/ca.key" -out "$d/ca.crt" -days 2 \
		-subj "/CN=vpncheck-lab-ca" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
	local who eku
	for who in server client; do
		[[ $who == server ]] && eku=serverAuth || eku=clientAuth
		openssl req -new "${curve[@]}" -keyout "$d/$who.key" -out "$d/$who.csr" \
			-subj "/CN=vpncheck-lab-$who" 2>/dev/null
		printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\n' \
			"$eku" >"$d/$who.ext"
		# remote-cert-tls (below) checks these key usages, like real deployments.
		openssl x509 -req -in "$d/$who.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
			-set_serial "0x$(openssl rand -hex 8)" -days 2 -extfile "$d/$who.ext" \
			-out "$d/$who.crt" 2>/dev/null
	done
	chmod 600 "$d"/*.key
}

WRAP="${REAL_OPENVPN_WRAP:-none}"
case "$WRAP" in
none | tls-auth | tls-crypt) ;;
*) echo "SETUP_ERROR: REAL_OPENVPN_WRAP=$WRAP (none, tls-auth or tls-crypt)" >&2; exit 2 ;;
esac

lab_up "$PROFILE"
D="$LAB_STATE_DIR/openvpn"
mkdir -p "$D"
make_pki "$D"
# The directive each side adds for WRAP (tls-auth needs opposite key directions).
SERVER_WRAP="" CLIENT_WRAP=""
if [[ $WRAP != none ]]; then
	openvpn --genkey secret "$D/wrap.key" >/dev/null
	chmod 600 "$D/wrap.key"
	if [[ $WRAP == tls-auth ]]; then
		SERVER_WRAP="tls-auth $D/wrap.key 0" CLIENT_WRAP="tls-auth $D/wrap.key 1"
	else
		SERVER_WRAP="tls-crypt $D/wrap.key" CLIENT_WRAP="tls-crypt $D/wrap.key"
	fi
fi

# Server: standard OpenVPN transport (UDP 1194), TLS, tun, 10.8.0.0/24.
# disable-dco: no ovpn-dco kernel module here; use the userspace data path.
cat >"$D/server.conf" <<EOF
dev tun
proto udp4
local $LAB_REFLECTOR_IP
port 1194
server 10.8.0.0 255.255.255.0
topology subnet
ca $D/ca.crt
cert $D/server.crt
key $D/server.key
dh none
remote-cert-tls client
disable-dco
keepalive 2 10
verb 3
$SERVER_WRAP
EOF

# Client: retry fast so a working path comes up well inside $WAIT.
cat >"$D/client.conf" <<EOF
client
dev tun
proto udp4
remote $LAB_REFLECTOR_IP 1194
nobind
ca $D/ca.crt
cert $D/client.crt
key $D/client.key
remote-cert-tls server
disable-dco
connect-retry 1 1
server-poll-timeout 4
hand-window 10
verb 3
$CLIENT_WRAP
EOF

lab_bg openvpn-server reflector openvpn --config "$D/server.conf"
SERVER_PID=$LAB_LAST_PID

# The server is ready once it logs this (bounded; it needs no network peer).
for ((i = 0; i < 100; i++)); do
	grep -q "Initialization Sequence Completed" "$LAB_STATE_DIR/openvpn-server.log" && break
	_lab_alive "$SERVER_PID" || break
	sleep 0.1
done
if ! grep -q "Initialization Sequence Completed" "$LAB_STATE_DIR/openvpn-server.log"; then
	echo "SETUP_ERROR: openvpn server did not start; log:" >&2
	sed 's/^/    /' "$LAB_STATE_DIR/openvpn-server.log" >&2
	exit 2
fi

START="$(lab_now)"
lab_bg openvpn-client client openvpn --config "$D/client.conf"
CLIENT_PID=$LAB_LAST_PID

# Poll until a ping crosses the tunnel or WAIT seconds pass. Before the tun
# is configured ping fails immediately (no route), so the loop is cheap.
result=TUNNEL_DOWN
while awk -v e="$(lab_elapsed "$START")" -v l="$WAIT" 'BEGIN { exit !(e < l) }'; do
	if ! _lab_alive "$CLIENT_PID"; then
		echo "openvpn client exited early; log:" >&2
		sed 's/^/    /' "$LAB_STATE_DIR/openvpn-client.log" >&2
		break
	fi
	if lab_exec client ping -c1 -W1 -q "$SERVER_TUN_IP" >/dev/null 2>&1; then
		result=TUNNEL_UP
		break
	fi
	sleep 0.2
done

# REAL_PING_SIZES: ICMP payload sizes to ping through the working tunnel.
if [[ $result == TUNNEL_UP && -n "${REAL_PING_SIZES:-}" ]]; then
	# shellcheck disable=SC2086 # a list of sizes
	lab_ping_sizes "$SERVER_TUN_IP" $REAL_PING_SIZES
fi
echo "openvpn: profile=$PROFILE transport=udp/1194 wrap=$WRAP result=$result after $(lab_elapsed "$START")s"
if [[ $result == TUNNEL_DOWN || "${REAL_VERBOSE:-0}" == 1 ]]; then
	# Short evidence for the log: what the client saw last.
	tail -n 5 "$LAB_STATE_DIR/openvpn-client.log" | sed 's/^/    client| /' >&2
fi
[[ "${LAB_KEEP:-0}" == 1 ]] && echo "logs kept in $LAB_STATE_DIR" >&2
echo "$result"
exit 0
