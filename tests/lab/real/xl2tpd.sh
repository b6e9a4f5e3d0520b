#!/usr/bin/env bash
# real/xl2tpd.sh PROFILE — does a real L2TP tunnel and call come up through PROFILE?
#
# Brings up the lab with PROFILE and runs xl2tpd in the reflector ns as the
# LNS (UDP 1701, the standard port) and in the client ns as the LAC (lns =
# 203.0.113.5, autodial), then waits for the LAC to log that its call is
# established: SCCRQ/SCCRP/SCCCN and ICRQ/ICRP/ICCN went both ways, retried
# by xl2tpd itself, through the router (RFC 2661 §5.1, §5.2).
#
# Only the control plane is tested. This machine's kernel has no PPP, so the
# pppd that xl2tpd starts for the call cannot open /dev/ppp and ends it
# (CDN): no packet is carried through the tunnel. vpncheck's own L2TP data
# phase is what tests the data; this is what real software says of the rest.
#
# Output: last line TUNNEL_UP (the call was established) or TUNNEL_DOWN;
# exit 0 either way. Exit 2 when the experiment itself could not be set up.
#
# Env: REAL_TUNNEL_WAIT  seconds to wait for the call (default 10)
#      LAB_KEEP=1        keep logs for debugging
set -eEuo pipefail

# shellcheck source=../lab.sh
source "$(cd "$(dirname "$0")/.." && pwd)/lab.sh"

real_init "$@"
L2TP_PORT=1701

real_need xl2tpd ip timeout

real_cleanup_on_exit

lab_up "$PROFILE"
D="$LAB_STATE_DIR/xl2tpd"
mkdir -p "$D"
# pppd's options for the call; it cannot run here (no /dev/ppp), but xl2tpd
# needs a file to hand it.
printf 'noauth\nnodefaultroute\n' >"$D/ppp-options"

# xl2tpd.conf(5). Each instance has its own control pipe and pid file, so
# labs can run in parallel and nothing of the system's is touched.
cat >"$D/lns.conf" <<EOF
[global]
port = $L2TP_PORT
listen-addr = $LAB_REFLECTOR_IP

[lns default]
ip range = 10.9.2.2-10.9.2.20
local ip = 10.9.2.1
require authentication = no
pppoptfile = $D/ppp-options
EOF
cat >"$D/lac.conf" <<EOF
[global]
port = $L2TP_PORT

[lac vpncheck]
lns = $LAB_REFLECTOR_IP
autodial = yes
redial = no
require authentication = no
pppoptfile = $D/ppp-options
EOF

# start_xl2tpd ROLE CONF -> xl2tpd in the foreground (-D), backgrounded by lab_bg.
start_xl2tpd() {
	local role="$1" conf="$2"
	lab_bg "xl2tpd-$role" "$role" xl2tpd -D -c "$conf" -p "$D/$role.pid" -C "$D/$role.control"
}

start_xl2tpd reflector "$D/lns.conf"
LNS_PID=$LAB_LAST_PID
# The LNS binds UDP 1701 before the LAC dials; bounded.
for ((i = 0; i < 100; i++)); do
	lab_exec reflector ss -Hlun "sport = :$L2TP_PORT" 2>/dev/null | grep -q . && break
	_lab_alive "$LNS_PID" || break
	sleep 0.05
done
if ! lab_exec reflector ss -Hlun "sport = :$L2TP_PORT" 2>/dev/null | grep -q .; then
	echo "SETUP_ERROR: the LNS did not bind UDP $L2TP_PORT; log:" >&2
	sed 's/^/    /' "$LAB_STATE_DIR/xl2tpd-reflector.log" >&2
	exit 2
fi

START="$(lab_now)"
start_xl2tpd client "$D/lac.conf"
result=TUNNEL_DOWN
while awk -v e="$(lab_elapsed "$START")" -v l="$WAIT" 'BEGIN { exit !(e < l) }'; do
	if grep -q "Call established with" "$LAB_STATE_DIR/xl2tpd-client.log" 2>/dev/null; then
		result=TUNNEL_UP
		break
	fi
	sleep 0.1
done
tunnel_up=no
grep -q "Connection established to" "$LAB_STATE_DIR/xl2tpd-client.log" 2>/dev/null && tunnel_up=yes
echo "xl2tpd: profile=$PROFILE transport=udp/$L2TP_PORT result=$result after $(lab_elapsed "$START")s (control connection established: $tunnel_up; data not testable: no kernel PPP)"
grep -E "Connection established|Call established|Maximum retries|no route|denied" "$LAB_STATE_DIR/xl2tpd-client.log" 2>/dev/null |
	head -n 5 | sed 's/^/  lac: /' || true
[[ "${LAB_KEEP:-0}" == 1 ]] && echo "logs kept in $LAB_STATE_DIR" >&2
echo "$result"
exit 0
