#!/usr/bin/env bash
# topology.sh — self-test of the lab (needs no vpncheck binary): for every
# profile, crafted UDP/TCP traffic from the client ns to an echo server in
# the reflector ns must be forwarded / dropped exactly as the profile says,
# and must arrive NATed to the router's WAN address.
#
# The key check is the dpi-wireguard signature: a 148-byte UDP payload that
# starts 01 00 00 00 (WireGuard handshake initiation) must be dropped on every
# port, while 148 random bytes and the same header at 147/149 bytes pass.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "topology (lab self-test)"

LABNET="$LAB_DIR/labnet.py"
UDP_PORTS=(51820 443 53 1194)
TCP_PORTS=(80 443 1194)

# Expected outcome per profile: "udp:PORT:KIND" / "tcp:PORT" -> yes|no.
expect() {
	local profile="$1" probe="$2"
	case "$profile" in
	home) echo yes ;;
	web-only)
		case "$probe" in
		udp:53:*|tcp:80|tcp:443) echo yes ;;
		*) echo no ;;
		esac
		;;
	dpi-wireguard)
		case "$probe" in
		udp:*:wg-init) echo no ;;
		*) echo yes ;;
		esac
		;;
	esac
}

check_profile() {
	local profile="$1"
	echo "profile $profile:"
	lab_up "$profile"

	# Static topology facts.
	t_check "reflector has no route to the LAN" \
		bash -c "! ip netns exec '$LAB_NS_REFLECTOR' ip route get $LAB_CLIENT_IP >/dev/null 2>&1"
	t_check "router has ip_forward=1" \
		t_eq "$(lab_exec router sysctl -n net.ipv4.ip_forward)" 1
	# IPv6 is routed (no NAT66): the reflector's way back is the router.
	t_check "router has IPv6 forwarding=1" \
		t_eq "$(lab_exec router sysctl -n net.ipv6.conf.all.forwarding)" 1
	t_check "reflector routes $LAB_CLIENT_IP6 via the router $LAB_ROUTER_WAN_IP6" \
		bash -c "ip netns exec '$LAB_NS_REFLECTOR' ip -6 route get $LAB_CLIENT_IP6 | grep -q 'via $LAB_ROUTER_WAN_IP6'"
	t_check "$profile: IPv6 is forwarded (client pings $LAB_REFLECTOR_IP6 within 0.5 s)" \
		lab_exec client ping -6 -c1 -W0.5 "$LAB_REFLECTOR_IP6"
	t_check "$profile: reflector.lab resolves to both families in the client ns" \
		t_eq "$(lab_exec client getent ahosts "$LAB_REFLECTOR_NAME" | awk '{print $1}' | sort -u | tr '\n' ' ')" \
		"$(printf '%s\n' "$LAB_REFLECTOR_IP" "$LAB_REFLECTOR_IP6" | sort -u | tr '\n' ' ')"

	local log="$LAB_STATE_DIR/arrivals.jsonl" ready="$LAB_STATE_DIR/ready"
	lab_bg labnet reflector "$T_PY" "$LABNET" serve --bind "$LAB_REFLECTOR_IP" \
		--udp "$(IFS=,; echo "${UDP_PORTS[*]}")" --tcp "$(IFS=,; echo "${TCP_PORTS[*]}")" \
		--log "$log" --ready "$ready"
	local srv=$LAB_LAST_PID i
	for ((i = 0; i < 100; i++)); do [[ -e "$ready" ]] && break; sleep 0.05; done
	[[ -e "$ready" ]] || t_fatal "echo server did not start: $(cat "$LAB_STATE_DIR/labnet.log")"

	# All probes at once, one timeout (the lab's RTT is well under 1 ms).
	local port kind specs=() results
	for port in "${UDP_PORTS[@]}"; do
		for kind in wg-init random wg-init-147 wg-init-149; do
			# Other sizes only matter for the signature; one port is enough.
			[[ "$kind" == wg-init-14? && "$port" != 51820 ]] && continue
			specs+=("udp:$port:$kind")
		done
	done
	for port in "${TCP_PORTS[@]}"; do specs+=("tcp:$port"); done
	results="$(lab_exec client timeout 10 "$T_PY" "$LABNET" batch "$LAB_REFLECTOR_IP" "${specs[@]}" --timeout 0.7)"

	local probe got want
	for probe in "${specs[@]}"; do
		want="$(expect "$profile" "$probe")"
		got="$("$T_PY" -c 'import json,sys; print("yes" if json.loads(sys.argv[1])[sys.argv[2]] else "no")' "$results" "$probe")"
		t_check "$profile: $probe round trip = $want" t_eq "$got" "$want"
	done

	# NAT: everything that arrived came from the router's WAN address.
	local sources
	sources="$("$T_PY" -c 'import json,sys; print(",".join(sorted({json.loads(l)["src"] for l in open(sys.argv[1])})))' "$log")"
	t_check "$profile: reflector saw only source $LAB_ROUTER_WAN_IP (NAT) [saw: $sources]" \
		t_eq "$sources" "$LAB_ROUTER_WAN_IP"

	if [[ "$profile" == dpi-wireguard ]]; then
		# The drop must be the signature rule, not something else.
		local pkts
		pkts="$(lab_exec router nft list chain inet filter forward |
			sed -n 's/.*counter packets \([0-9]*\).*wireguard handshake.*/\1/p')"
		t_check "dpi-wireguard: signature rule counted the 4 dropped handshakes [packets=$pkts]" \
			t_eq "$pkts" 4
	fi

	lab_stop "$srv"
	lab_down
}

for profile in home web-only dpi-wireguard; do
	check_profile "$profile"
done
t_finish
