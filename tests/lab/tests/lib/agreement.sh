# shellcheck shell=bash
# agreement.sh — shared body of the agreement_<proto>_<profile>.sh tests:
# vpncheck's verdict for PROTO through PROFILE must agree with what the real
# VPN software does through the same profile:
#     verdict == pass   <=>   real tunnel carries a ping (TUNNEL_UP)
# ("pass" means: works on the protocol's standard transport, which is exactly
# what the real-software scripts use: OpenVPN UDP 1194, WireGuard UDP 51820,
# IPsec IKEv2 on UDP 500 then NAT-T on UDP 4500 via strongSwan, L2TP on UDP
# 1701 via xl2tpd.) For L2TP, TUNNEL_UP means the control connection and a
# call came up: this kernel has no PPP, so no packet crosses xl2tpd's tunnel,
# and only profiles that do not act on L2TP's data can be compared.
#
# Also checks the real software against what the profile is known to do, so
# a broken lab (both sides down) cannot make the test pass by agreement.

# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# agreement_tool PROTO -> the real software agreement runs for PROTO.
agreement_tool() {
	case "$1" in
	openvpn) echo openvpn ;;
	wireguard) echo wireguard-go ;;
	ipsec) echo strongswan ;;
	l2tp) echo xl2tpd ;;
	esac
}

# agreement_real_script PROTO -> the real/<name>.sh that runs it.
agreement_real_script() {
	case "$1" in
	ipsec) echo strongswan ;;
	l2tp) echo xl2tpd ;;
	*) echo "$1" ;;
	esac
}

# agreement_need_real PROTO TOOL -> skips the test (exit 77) unless the real
# software and /dev/net/tun are usable here; after t_init.
agreement_need_real() {
	local proto="$1" tool="$2" missing
	t_need_bins
	if [[ $proto == ipsec ]]; then
		# charon + swanctl + the kernel-libipsec plugin (and the crypto
		# plugins it needs); the script knows the exact list.
		missing="$(bash "$LAB_DIR/real/strongswan.sh" --missing 2>/dev/null)" ||
			t_fatal "real/strongswan.sh --missing failed"
		[[ -z "$missing" ]] || t_skip "strongSwan is not usable here, missing: $(sed ":a;N;\$!ba;s/\n/; /g" <<<"$missing") (packaging/install-deps.sh installs it)"
	else
		command -v "$tool" >/dev/null || t_skip "$tool is not installed"
	fi
	[[ $proto == l2tp || -c /dev/net/tun ]] || t_skip "/dev/net/tun is missing (needed by $tool)"
}

# agreement_main PROTO PROFILE EXPECTED_REAL(TUNNEL_UP|TUNNEL_DOWN)
# If the test defines agreement_extra_checks, it is called after the common
# checks with VERDICT TUNNEL as arguments and the vpncheck report in $T_JSON.
agreement_main() {
	local proto="$1" profile="$2" expected="$3"
	# real/<script>.sh runs the real software (tool) for PROTO.
	local tool real
	tool="$(agreement_tool "$proto")"
	real="$(agreement_real_script "$proto")"
	t_init "agreement $proto/$profile: vpncheck verdict vs real $tool"
	agreement_need_real "$proto" "$tool"

	# 1. vpncheck through the profile, reflector running.
	t_start "$profile"
	t_vpncheck --protocols "$proto"
	local verdict
	verdict="$(t_verdict "$proto")"
	t_probe_table "$proto"
	[[ $T_RC -eq 0 ]] || { echo "  vpncheck exit code $T_RC:"; t_show_run; }

	# 2. Stop the reflector (frees the ports the real server needs) and the
	#    lab; the real-software script builds a fresh lab with the same profile.
	lab_reflector_stop
	lab_down

	# 3. Real software.
	local real_out real_rc=0 tunnel
	real_out="$T_WORK/real.txt"
	timeout -k 5 120 bash "$LAB_DIR/real/$real.sh" "$profile" >"$real_out" 2>"$T_WORK/real.err" || real_rc=$?
	tunnel="$(tail -n 1 "$real_out")"
	sed 's/^/    real| /' "$real_out"
	grep -v '^\[lab\]' "$T_WORK/real.err" | sed 's/^/    real| /' || true
	if [[ $real_rc -ne 0 || ( "$tunnel" != TUNNEL_UP && "$tunnel" != TUNNEL_DOWN ) ]]; then
		t_fatal "real $tool experiment could not be run (exit $real_rc)"
	fi

	echo "  facts: vpncheck verdict=${verdict:-<none>} (exit $T_RC); real $tool: $tunnel"
	local agrees=false
	if [[ "$verdict" == pass && "$tunnel" == TUNNEL_UP ]] ||
		[[ "$verdict" != pass && "$tunnel" == TUNNEL_DOWN ]]; then
		agrees=true
	fi
	t_check "vpncheck ran to completion (exit 0, got $T_RC)" t_eq "$T_RC" 0
	t_check "agreement: (verdict == pass) <=> TUNNEL_UP [verdict=${verdict:-<none>}, real=$tunnel]" \
		t_eq "$agrees" true
	t_check "real $tool through $profile is $expected as the profile implies (got $tunnel)" \
		t_eq "$tunnel" "$expected"
	if declare -F agreement_extra_checks >/dev/null; then
		agreement_extra_checks "$verdict" "$tunnel"
	fi
	t_finish
}

# agreement_lossy_main PROTO PROFILE -> the agreement through a profile that
# loses packets at random ("# lab-loss-percent", e.g. lossy): there the real
# software retransmits and its tunnel comes up and carries a ping, so
# vpncheck must not call PROTO failing. Its verdict must be `pass` or, when
# the losses leave the evidence too weak, `inconclusive` -- never blocked,
# outbound_only, restricted or modified. The real experiment waits
# REAL_TUNNEL_WAIT seconds (default 20 here: handshakes retransmit, pings are
# lost too) and is tried a second time if the tunnel stayed down: at 15 % loss
# a real client's handshake gives up now and then (strongSwan here retries an
# exchange 3 times: ~1 % of attempts fail), and a user reconnects; two failed
# attempts in a row are not chance. Bounded: vpncheck 20 s, each attempt 40 s.
agreement_lossy_main() {
	local proto="$1" profile="$2" tool real
	tool="$(agreement_tool "$proto")"
	real="$(agreement_real_script "$proto")"
	t_init "agreement $proto/$profile (random loss): vpncheck verdict vs real $tool"
	agreement_need_real "$proto" "$tool"

	# 1. vpncheck through the profile.
	t_start "$profile"
	local loss="$LAB_LOSS_PERCENT_IN_FORCE"
	T_VPNCHECK_LIMIT=20 t_vpncheck --protocols "$proto"
	local verdict dropped
	verdict="$(t_verdict "$proto")"
	dropped="$(lab_exec router nft list ruleset | sed -n 's/.*counter packets \([0-9]*\).*random loss.*/\1/p' | awk '{ s += $1 } END { print s + 0 }')"
	echo "  facts: loss ${loss:-?}% per direction; the router dropped $dropped forwarded packets while this lab was up (the vpncheck run)"
	t_probe_table "$proto"
	lab_reflector_stop
	lab_down

	# 2. Real software, up to two attempts.
	local attempt real_rc tunnel="" real_out
	for attempt in 1 2; do
		real_out="$T_WORK/real-$attempt.txt"
		real_rc=0
		REAL_TUNNEL_WAIT="${REAL_TUNNEL_WAIT:-20}" timeout -k 5 40 bash "$LAB_DIR/real/$real.sh" "$profile" \
			>"$real_out" 2>"$T_WORK/real-$attempt.err" || real_rc=$?
		tunnel="$(tail -n 1 "$real_out")"
		sed "s/^/    real#$attempt| /" "$real_out"
		grep -v '^\[lab\]' "$T_WORK/real-$attempt.err" | sed "s/^/    real#$attempt| /" || true
		if [[ $real_rc -ne 0 || ( "$tunnel" != TUNNEL_UP && "$tunnel" != TUNNEL_DOWN ) ]]; then
			t_fatal "real $tool experiment could not be run (exit $real_rc)"
		fi
		[[ "$tunnel" == TUNNEL_UP ]] && break
	done

	echo "  facts: vpncheck verdict=${verdict:-<none>} (exit $T_RC, ${T_SECS}s); real $tool: $tunnel (attempt $attempt)"
	t_check "vpncheck ran to completion (exit 0, got $T_RC)" t_eq "$T_RC" 0
	t_check "the router did drop packets at random during the run ($dropped)" test "$dropped" -gt 0
	t_check "real $tool comes up through $profile and carries a ping (got $tunnel)" t_eq "$tunnel" TUNNEL_UP
	t_check "vpncheck's $proto verdict is pass or inconclusive, never a failing one (got '${verdict:-<none>}')" \
		t_verdict_in "$verdict" pass inconclusive
	[[ $T_FAILS -eq 0 ]] || t_show_run
	t_finish
}

# agreement_strongswan_full_size PROFILE -> real strongSwan through PROFILE
# (its own lab, after the caller's is down) pings 56, 1372 and 1164 bytes
# through the tunnel, and checks what vpncheck's IPsec advice implies: small
# pings pass, full-size ones (kernel-libipsec's TUN MTU 1400) are lost, and
# ones within the advised inner MTU 1192 pass.
agreement_strongswan_full_size() {
	local profile="$1" out="$T_WORK/strongswan.txt" rc=0
	env REAL_PING_SIZES="56 1372 1164" timeout -k 5 120 bash "$LAB_DIR/real/strongswan.sh" "$profile" \
		>"$out" 2>"$T_WORK/strongswan.err" || rc=$?
	sed 's/^/    real| /' "$out"
	[[ $rc -eq 0 ]] || t_fatal "real/strongswan.sh could not be run (exit $rc): $(tail -n 3 "$T_WORK/strongswan.err")"
	ping_result() { sed -n "s/^ping size=$1 \(ok\|lost\)$/\1/p" "$out"; }
	t_check "strongSwan: the tunnel comes up" t_eq "$(tail -n 1 "$out")" TUNNEL_UP
	t_check "strongSwan: small pings pass" t_eq "$(ping_result 56)" ok
	t_check "strongSwan: full-size pings (TUN MTU 1400) are lost" t_eq "$(ping_result 1372)" lost
	t_check "strongSwan: pings within vpncheck's inner MTU 1192 pass" t_eq "$(ping_result 1164)" ok
}
