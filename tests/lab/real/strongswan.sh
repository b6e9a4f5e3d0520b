#!/usr/bin/env bash
# real/strongswan.sh PROFILE — does a real IPsec (IKEv2) tunnel work through PROFILE?
#
# Brings up the lab with PROFILE and runs strongSwan's charon (Debian's
# 5.9.8) in the reflector ns as the responder (203.0.113.5) and in the client
# ns (192.168.1.10, behind the router's NAT) as the initiator: IKEv2 with a
# pre-shared key, the standard ports (IKE on UDP 500, then NAT-T on UDP
# 4500). The client asks for a virtual IP and gets 10.99.0.2 from the
# responder's pool; the responder's tunnel end is 10.99.0.1 (on its lo).
# Then it pings 10.99.0.1 from the client through the tunnel.
#
# ESP is handled in user space by the kernel-libipsec plugin (ESP over a TUN
# device: this kernel has no ESP/XFRM). kernel-libipsec can only send ESP in
# UDP (RFC 3948), so `encap = yes` is set: ESP always travels in UDP 4500,
# with or without NAT. The experiment therefore covers IKE (UDP 500) and
# NAT-T (UDP 4500); raw ESP (IP protocol 50) is never used by it.
#
# Output: a summary line "strongswan: ... tunnel: up|down ...", then, as the
# last line, TUNNEL_UP or TUNNEL_DOWN (the contract of every real/*.sh script,
# read by tests/lab/tests/lib/agreement.sh); exit 0 either way.
# Exit 2 when the experiment itself could not be set up (missing package or
# plugin, a daemon did not start, the configuration was not accepted) — that
# is NOT a "down" tunnel.
#
# Isolation of the two daemons (they share one file system):
#  - config: each charon reads its own strongswan.conf (STRONGSWAN_CONF) with
#    an explicit plugin list (no /etc/strongswan.d), a file log and its vici
#    socket in its own directory; swanctl gets --file and --uri.
#  - charon's PID file path is compiled in (/var/run/charon.pid). Each charon
#    is therefore started with a private directory bind-mounted over /run.
#    `ip netns exec` already runs the command in a new mount namespace whose
#    mounts never propagate back to the host, so the bind mount is private to
#    that daemon and disappears with it.
# Everything lives in the lab's state dir (deleted by lab_down), and both
# daemons are started with lab_bg, so lab_down stops them by PID.
#
# Env: REAL_TUNNEL_WAIT  seconds to wait for the tunnel (IKE + ping; default 10)
#      REAL_PING_SIZES   then ping these ICMP payload sizes through it ("ping size=N ok|lost");
#                        kernel-libipsec's TUN device has MTU 1400 (its default), so 1372 fills it
#      LAB_KEEP=1        keep configs and charon logs for debugging
#      REAL_VERBOSE=1    print the tail of both charon logs even when up
#      STRONGSWAN_CHARON, STRONGSWAN_PLUGIN_DIR   where the availability check
#                        looks (Debian: /usr/lib/ipsec/charon, /usr/lib/ipsec/plugins)
#
# `real/strongswan.sh --missing` prints what is missing here (one item a line,
# nothing when usable) and exits 0: the tests skip on it.
set -eEuo pipefail

# shellcheck source=../lab.sh
source "$(cd "$(dirname "$0")/.." && pwd)/lab.sh"

real_init "$@"
SERVER_TUN_IP=10.99.0.1
CLIENT_VIP=10.99.0.2
CHARON="${STRONGSWAN_CHARON:-/usr/lib/ipsec/charon}"
PLUGIN_DIR="${STRONGSWAN_PLUGIN_DIR:-/usr/lib/ipsec/plugins}"

# strongswan_missing -> prints what is missing for this experiment (nothing
# when everything is there). Shared with the agreement tests, which skip on it.
strongswan_missing() {
	local missing=() p
	[[ -x "$CHARON" ]] || missing+=("$CHARON (package strongswan-charon)")
	command -v swanctl >/dev/null 2>&1 || missing+=("swanctl (package strongswan-swanctl)")
	[[ -e "$PLUGIN_DIR/libstrongswan-kernel-libipsec.so" ]] ||
		missing+=("kernel-libipsec plugin (package libcharon-extra-plugins)")
	for p in vici socket-default kernel-netlink; do
		[[ -e "$PLUGIN_DIR/libstrongswan-$p.so" ]] || missing+=("$p plugin (package strongswan-libcharon)")
	done
	for p in aes sha2 hmac gmp kdf nonce random; do
		[[ -e "$PLUGIN_DIR/libstrongswan-$p.so" ]] || missing+=("$p plugin (package libstrongswan)")
	done
	[[ -c /dev/net/tun ]] || missing+=("/dev/net/tun")
	((${#missing[@]} == 0)) || printf '%s\n' "${missing[@]}"
}
if [[ "${1:-}" == --missing ]]; then
	strongswan_missing
	exit 0
fi

not_there="$(strongswan_missing)"
if [[ -n "$not_there" ]]; then
	echo "SETUP_ERROR: missing: $(sed ":a;N;\$!ba;s/\n/; /g" <<<"$not_there")" >&2
	exit 2
fi
real_need ip timeout ping mount

real_cleanup_on_exit

# Plugins: only what IKEv2-PSK + kernel-libipsec need, listed explicitly so the
# host's /etc/strongswan.d cannot change the experiment. kernel-libipsec comes
# before kernel-netlink: it provides the IPsec backend (ESP in user space),
# kernel-netlink only addresses and routes (its XFRM part fails here).
PLUGINS="random nonce aes sha1 sha2 hmac gmp kdf kernel-libipsec kernel-netlink socket-default vici"

# write_strongswan_conf DIR -> DIR/strongswan.conf for one charon (and swanctl).
#
# Retransmissions: strongSwan's default (4 s, x1.8, 5 tries) takes 165 s to
# give up. Here: first retransmit after 0.5 s, x1.5, 3 tries -> gives up after
# 0.5+0.75+1.125+1.69 = 4.1 s, so a blocked path is reported quickly and the
# one-retransmit-per-exchange slack is well inside REAL_TUNNEL_WAIT.
write_strongswan_conf() {
	local d="$1"
	cat >"$d/strongswan.conf" <<EOF
charon {
	load_modular = no
	load = $PLUGINS
	port = 500
	port_nat_t = 4500
	retransmit_timeout = 0.5
	retransmit_base = 1.5
	retransmit_tries = 3
	install_routes = yes
	install_virtual_ip = yes
	plugins {
		vici {
			socket = unix://$d/run/charon.vici
		}
	}
	syslog {
		# no syslog: everything goes to the file log below
	}
	filelog {
		charon {
			path = $d/charon.log
			time_format = %H:%M:%S
			default = 1
			ike = 2
			cfg = 2
			flush_line = yes
		}
	}
}
swanctl {
	load = random nonce
	socket = unix://$d/run/charon.vici
}
EOF
}

# start_charon ROLE DIR -> charon in ROLE's namespace with DIR/run over /run
# (private PID file) and DIR/strongswan.conf; waits (bounded, 5 s) until its
# vici socket answers.
start_charon() {
	local role="$1" d="$2"
	mkdir -p "$d/run"
	# $1 = private run dir, $2 = charon; exec keeps lab_bg's PID = charon's.
	# shellcheck disable=SC2016 # expanded by the inner bash
	lab_bg "charon-$role" "$role" env STRONGSWAN_CONF="$d/strongswan.conf" \
		bash -c 'mount --bind "$1" /run && exec "$2"' _ "$d/run" "$CHARON"
	local pid=$LAB_LAST_PID start
	start="$(lab_now)"
	while awk -v e="$(lab_elapsed "$start")" 'BEGIN { exit !(e < 5) }'; do
		if [[ -S "$d/run/charon.vici" ]] &&
			SWAN_TIMEOUT=1 swan "$d" --stats >/dev/null 2>&1; then
			return 0
		fi
		_lab_alive "$pid" || break
		sleep 0.05
	done
	echo "SETUP_ERROR: charon ($role) did not come up; output and log:" >&2
	sed 's/^/    /' "$LAB_STATE_DIR/charon-$role.log" "$d/charon.log" >&2 2>/dev/null || true
	exit 2
}

# swan DIR ARGS... -> swanctl talking to the charon of DIR.
swan() {
	local d="$1"
	shift
	STRONGSWAN_CONF="$d/strongswan.conf" timeout -k 1 "${SWAN_TIMEOUT:-5}" swanctl "$@" --uri "unix://$d/run/charon.vici"
}

lab_up "$PROFILE"
D="$LAB_STATE_DIR/strongswan"
S="$D/reflector" C="$D/client"
mkdir -p "$S" "$C"
chmod 700 "$D"
PSK="$(head -c 24 /dev/urandom | base64)"

write_strongswan_conf "$S"
write_strongswan_conf "$C"

# Proposals every side supports with the plugins above (no GCM plugin, no
# ECDH plugin in the base packages): AES-CBC + HMAC-SHA2, MODP-2048.
cat >"$S/swanctl.conf" <<EOF
connections {
	lab {
		version = 2
		local_addrs = $LAB_REFLECTOR_IP
		proposals = aes128-sha256-modp2048
		encap = yes
		pools = lab
		local {
			auth = psk
			id = reflector.lab
		}
		remote {
			auth = psk
			id = client.lab
		}
		children {
			net {
				local_ts = $SERVER_TUN_IP/32
				esp_proposals = aes128-sha256
			}
		}
	}
}
pools {
	lab {
		addrs = $CLIENT_VIP/32
	}
}
secrets {
	ike-lab {
		id-1 = reflector.lab
		id-2 = client.lab
		secret = "$PSK"
	}
}
EOF

cat >"$C/swanctl.conf" <<EOF
connections {
	lab {
		version = 2
		remote_addrs = $LAB_REFLECTOR_IP
		vips = 0.0.0.0
		proposals = aes128-sha256-modp2048
		encap = yes
		keyingtries = 1
		local {
			auth = psk
			id = client.lab
		}
		remote {
			auth = psk
			id = reflector.lab
		}
		children {
			net {
				remote_ts = $SERVER_TUN_IP/32
				esp_proposals = aes128-sha256
			}
		}
	}
}
secrets {
	ike-lab {
		id-1 = client.lab
		id-2 = reflector.lab
		secret = "$PSK"
	}
}
EOF
chmod 600 "$S/swanctl.conf" "$C/swanctl.conf"

lab_exec reflector ip addr add "$SERVER_TUN_IP/32" dev lo

start_charon reflector "$S"
start_charon client "$C"
swan "$S" --load-all --noprompt --file "$S/swanctl.conf" >"$S/load.txt" 2>&1 ||
	{ echo "SETUP_ERROR: responder rejected its configuration:" >&2; sed 's/^/    /' "$S/load.txt" >&2; exit 2; }
swan "$C" --load-all --noprompt --file "$C/swanctl.conf" >"$C/load.txt" 2>&1 ||
	{ echo "SETUP_ERROR: initiator rejected its configuration:" >&2; sed 's/^/    /' "$C/load.txt" >&2; exit 2; }

# Control: before the tunnel exists the inner address must NOT answer (the
# router has no route to 10.99.0.0/24), so a ping that answers later can only
# have crossed the tunnel.
if lab_exec client ping -c1 -W1 -q "$SERVER_TUN_IP" >/dev/null 2>&1; then
	echo "SETUP_ERROR: $SERVER_TUN_IP answers without the tunnel; the experiment would prove nothing" >&2
	exit 2
fi

# Initiate (blocks until the CHILD_SA is up or IKE gave up, bounded by WAIT),
# then ping through the tunnel until one answer comes back: until WAIT
# seconds from the start, but at least 3 s of pinging once IKE is up (a slow,
# loaded machine must not turn a working tunnel into "down").
START="$(lab_now)"
ike=failed
if timeout -k 2 "$WAIT" env STRONGSWAN_CONF="$C/strongswan.conf" swanctl --initiate --child net \
	--timeout "$WAIT" --uri "unix://$C/run/charon.vici" >"$C/initiate.txt" 2>&1; then
	ike=established
fi
result=TUNNEL_DOWN
if [[ $ike == established ]]; then
	PING_START="$(lab_now)"
	while awk -v e="$(lab_elapsed "$START")" -v l="$WAIT" -v p="$(lab_elapsed "$PING_START")" \
		'BEGIN { exit !(e < l || p < 3) }'; do
		if lab_exec client ping -c1 -W1 -q "$SERVER_TUN_IP" >/dev/null 2>&1; then
			result=TUNNEL_UP
			break
		fi
		sleep 0.1
	done
fi

# Evidence: the IKE SA as the client sees it (ports show NAT-T), or why not.
swan "$C" --list-sas --raw >"$C/sas.txt" 2>/dev/null || true
sa="$(tr '\n' ' ' <"$C/sas.txt")"
local_port="$(sed -n 's/.*local-port=\([0-9]*\).*/\1/p' <<<"$sa" | head -n1)"
remote_port="$(sed -n 's/.*remote-port=\([0-9]*\).*/\1/p' <<<"$sa" | head -n1)"
packets_in="$(sed -n 's/.*child-sas.* packets-in=\([0-9]*\).*/\1/p' <<<"$sa" | head -n1)"
# The ping's answer must have come out of the CHILD_SA (ESP decrypted by
# libipsec), not from anywhere else.
if [[ $result == TUNNEL_UP && ${packets_in:-0} -lt 1 ]]; then
	echo "ping answered but the CHILD_SA counted no inbound ESP packet" >&2
	result=TUNNEL_DOWN
fi
# REAL_PING_SIZES: ICMP payload sizes to ping through the working tunnel.
if [[ $result == TUNNEL_UP && -n "${REAL_PING_SIZES:-}" ]]; then
	# shellcheck disable=SC2086 # a list of sizes
	lab_ping_sizes "$SERVER_TUN_IP" $REAL_PING_SIZES
fi
nat="$(grep -o 'nat-local=yes' <<<"$sa" >/dev/null && echo behind-nat || echo no-nat-seen)"
tunnel=down
[[ $result == TUNNEL_UP ]] && tunnel=up
[[ $ike == established ]] || nat=""
echo "strongswan: profile=$PROFILE ike=$ike${remote_port:+ udp/$local_port->$remote_port}${nat:+ $nat} esp-packets-in=${packets_in:-0} tunnel: $tunnel after $(lab_elapsed "$START")s"
if [[ $result == TUNNEL_DOWN || "${REAL_VERBOSE:-0}" == 1 ]]; then
	tail -n 3 "$C/initiate.txt" | sed 's/^/    initiate| /' >&2
	grep -v -E '^\S+ [0-9]+\[(LIB|NET|ENC)\]|vici client' "$C/charon.log" | tail -n 8 | sed 's/^/    client| /' >&2 || true
	tail -n 4 "$S/charon.log" | sed 's/^/    reflector| /' >&2 || true
fi
[[ "${LAB_KEEP:-0}" == 1 ]] && echo "logs kept in $LAB_STATE_DIR" >&2
echo "$result"
exit 0
