#!/usr/bin/env bash
# lab.sh — network lab for vpncheck: three network namespaces and an emulated
# router whose nftables profile reproduces one real-world network.
#
#   +---------------------+        +----------------------------+        +-----------------------+
#   | client ns           |        | router ns                  |        | reflector ns          |
#   | eth0 192.168.1.10/24|--veth--| lan 192.168.1.1/24         |        |                       |
#   | default via .1      |        |   ip_forward=1             |        |                       |
#   |                     |        |   profiles/<name>.nft      |        |                       |
#   |                     |        |   (filter + masquerade)    |        |                       |
#   |                     |        | wan 203.0.113.1/24         |--veth--| eth0 203.0.113.5/24   |
#   +---------------------+        +----------------------------+        | no route to the LAN   |
#                                                                        +-----------------------+
#
#   client ns (192.168.1.10/24, gw .1) --veth-- router ns (LAN 192.168.1.1/24 | WAN 203.0.113.1/24) --veth-- reflector ns (203.0.113.5/24)
#
# Addresses are only ever assigned inside the lab's own namespaces; no
# interface of the lab exists in the host namespace (both veth ends are
# created directly inside the namespaces), so lab traffic cannot leave it.
# The reflector only knows 203.0.113.0/24, so answers to the client can only
# come back through the router's NAT — exactly like a server on the Internet.
#
# Namespace names carry a suffix unique per `up` (PID of the caller plus a
# random tag), so several labs can run at the same time.
#
# Use as a CLI:
#   eval "$(tests/lab/lab.sh up home)"      # prints export lines (LAB_SUFFIX, LAB_NS_*)
#   tests/lab/lab.sh exec client ping -c1 203.0.113.5
#   tests/lab/lab.sh down                    # uses $LAB_SUFFIX (or: down SUFFIX)
#   tests/lab/lab.sh list | profiles
#
# Use as a library (from bash; the caller sets its own shell options):
#   source tests/lab/lab.sh
#   trap lab_down EXIT
#   lab_up home
#   lab_reflector_start                 # vpncheck-reflector in the reflector ns, waits until ready
#   lab_exec client "$(lab_bin vpncheck)" --reflector "$LAB_REFLECTOR_IP" ...   (IPv4 only)
#   lab_exec client "$(lab_bin vpncheck)" --reflector "$LAB_REFLECTOR_NAME" ... (both families)
#   lab_bg NAME ROLE CMD...             # background process in a ns, PID recorded, stopped by lab_down
#   lab_add_client2                     # optional second LAN host (role client2, $LAB_CLIENT2_IP)
#
# Environment:
#   VPNCHECK_BUILD_DIR   where vpncheck and vpncheck-reflector live (default <repo>/build)
#   VPNCHECK_BIN, VPNCHECK_REFLECTOR_BIN   exact binary paths (override the build dir)
#   LAB_KEEP=1           keep the state directory (logs) after lab_down
#   LAB_STASH_DIR        lab_down copies the lab's logs and captures to DIR/<suffix> first
#   LAB_LOSS_PERCENT     random loss of a profile with "# lab-loss-percent: N" (default N)
#   LAB_REFLECTOR_LOG_LEVEL   vpncheck-reflector's --log-level (default debug)
#   LAB_SUFFIX           (CLI exec/down) which lab to use

# ---- constants -------------------------------------------------------------

LAB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LAB_REPO="$(cd "$LAB_DIR/../.." && pwd)"
LAB_PROFILES_DIR="$LAB_DIR/profiles"

LAB_CLIENT_IP=192.168.1.10
# An optional second LAN host behind the same router (lab_add_client2), on a
# LAN port of its own ("lan2", its own /24) so the first client's link and
# every existing profile stay exactly as they are.
LAB_CLIENT2_IP=192.168.2.10
LAB_ROUTER_LAN2_IP=192.168.2.1
LAB_ROUTER_LAN_IP=192.168.1.1
LAB_ROUTER_WAN_IP=203.0.113.1
LAB_REFLECTOR_IP=203.0.113.5
# A second reflector address for the NAT mapping/filtering tests (RFC 5780
# style): always configured, used only when a test starts the reflector with
# --alt-address "$LAB_REFLECTOR_ALT_IP" (lab_reflector_start passes extra args).
LAB_REFLECTOR_ALT_IP=203.0.113.6
LAB_CONTROL_PORT=8780
# IPv6 (documentation prefixes, only ever inside the lab's namespaces): routed,
# no NAT66 — on IPv6 the router is a firewall only.
LAB_CLIENT_IP6=2001:db8:1::10
LAB_ROUTER_LAN_IP6=2001:db8:1::1
LAB_ROUTER_WAN_IP6=2001:db8:2::1
LAB_REFLECTOR_IP6=2001:db8:2::5
# A name with both an A and an AAAA record, from the client's /etc/hosts
# (ip netns exec bind-mounts /etc/netns/<client ns>/hosts over /etc/hosts).
LAB_REFLECTOR_NAME=reflector.lab

# State of the lab this shell owns (set by lab_up / lab_attach).
LAB_SUFFIX="${LAB_SUFFIX:-}"
LAB_STATE_DIR=""
LAB_NS_CLIENT=""
LAB_NS_CLIENT2=""
LAB_NS_ROUTER=""
LAB_NS_REFLECTOR=""
LAB_PROFILE=""
LAB_REFLECTOR_PID=""
LAB_LAST_PID=""
# Percent of forwarded packets the router drops at random, in this lab
# ("" when the profile drops none on purpose); see lab_up.
LAB_LOSS_PERCENT_IN_FORCE=""
# Behind a NAT64 profile (see _lab_nat64_up): its prefix and the reflector's
# addresses synthesized under it ("" otherwise).
LAB_NAT64_PREFIX=""
LAB_REFLECTOR_NAT64_IP=""
LAB_REFLECTOR_ALT_NAT64_IP=""

# ---- small helpers ---------------------------------------------------------

lab_log() { printf '[lab] %s\n' "$*" >&2; }
lab_die() { printf '[lab] ERROR: %s\n' "$*" >&2; return 1; }

# Monotonic-enough wall clock in seconds with fractions (for deadlines).
lab_now() { date +%s.%N; }

# lab_elapsed START -> seconds since START, 3 decimals.
lab_elapsed() { awk -v s="$1" -v e="$(lab_now)" 'BEGIN { printf "%.3f", e - s }'; }

# lab_ping_sizes ADDRESS SIZE... -> pings ADDRESS from the client ns once per
# ICMP payload size (3 tries, 1 s each) and prints "ping size=N ok" when one
# came back, else "ping size=N lost": what a path does to a tunnel's larger
# packets once its handshake is done.
lab_ping_sizes() {
	local address="$1" size
	shift
	for size in "$@"; do
		if lab_exec client ping -c3 -i0.2 -W1 -q -s "$size" "$address" >/dev/null 2>&1; then
			echo "ping size=$size ok"
		else
			echo "ping size=$size lost"
		fi
	done
}

# real_init "$@" -> what every real-software script (real/*.sh) starts with:
# any unexpected failure during set-up exits 2 (SETUP_ERROR, after the
# clean-up real_cleanup_on_exit arranges); PROFILE is the first argument
# (required), WAIT how long the tunnel may take (REAL_TUNNEL_WAIT, default 10 s).
real_init() {
	trap 'echo "SETUP_ERROR: command failed at line $LINENO" >&2; exit 2' ERR
	PROFILE="${1:-}"
	[[ -n "$PROFILE" ]] || { echo "usage: $0 PROFILE" >&2; exit 2; }
	WAIT="${REAL_TUNNEL_WAIT:-10}"
}

# real_need TOOL... -> the real-software scripts' (real/*.sh) precondition:
# every TOOL on PATH, and root; else SETUP_ERROR and exit 2.
real_need() {
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null || { echo "SETUP_ERROR: $tool not installed" >&2; exit 2; }
	done
	[[ $(id -u) -eq 0 ]] || { echo "SETUP_ERROR: needs root" >&2; exit 2; }
}

# real_cleanup_on_exit [HOOK] -> when a real-software script ends, however it
# ends (an interrupt or a termination included, also one that comes while it
# is cleaning up), the lab goes down (which stops its daemons by PID), then
# HOOK runs; the script's exit code is kept.
real_cleanup_on_exit() {
	REAL_CLEANUP_HOOK="${1:-}"
	trap _real_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}
# shellcheck disable=SC2317 # invoked by the EXIT trap
_real_cleanup() {
	local rc=$?
	# An interrupt now would leave the lab half down: it is finished first.
	trap - ERR
	trap '' INT TERM
	lab_down || true
	if [[ -n "${REAL_CLEANUP_HOOK:-}" ]]; then "$REAL_CLEANUP_HOOK" || true; fi
	exit "$rc"
}

lab_build_dir() { printf '%s\n' "${VPNCHECK_BUILD_DIR:-$LAB_REPO/build}"; }

# lab_bin NAME -> path of a vpncheck binary: $VPNCHECK_BIN /
# $VPNCHECK_REFLECTOR_BIN if set (CMake passes the real target paths),
# otherwise NAME in the build dir.
lab_bin() {
	case "$1" in
	vpncheck) [[ -n "${VPNCHECK_BIN:-}" ]] && { printf '%s\n' "$VPNCHECK_BIN"; return; } ;;
	vpncheck-reflector) [[ -n "${VPNCHECK_REFLECTOR_BIN:-}" ]] && { printf '%s\n' "$VPNCHECK_REFLECTOR_BIN"; return; } ;;
	esac
	printf '%s/%s\n' "$(lab_build_dir)" "$1"
}

# lab_have_bins -> true if both binaries are built and executable.
lab_have_bins() {
	[[ -x "$(lab_bin vpncheck)" && -x "$(lab_bin vpncheck-reflector)" ]]
}

# lab_require_root -> exit 77 (skip) when the lab cannot be built here.
lab_require_root() {
	if [[ $(id -u) -ne 0 ]]; then
		echo "SKIP: the lab needs root (network namespaces, nftables)"
		exit 77
	fi
	local tool
	for tool in ip nft timeout; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			echo "SKIP: '$tool' is not installed"
			exit 77
		fi
	done
}

# lab_ns ROLE -> namespace name of ROLE (client|router|reflector) in this lab.
lab_ns() {
	case "$1" in
	client) printf '%s\n' "$LAB_NS_CLIENT" ;;
	client2) printf '%s\n' "$LAB_NS_CLIENT2" ;;
	router) printf '%s\n' "$LAB_NS_ROUTER" ;;
	reflector) printf '%s\n' "$LAB_NS_REFLECTOR" ;;
	*) lab_die "unknown lab host '$1' (client|client2|router|reflector)" ;;
	esac
}

# Set all derived names from a suffix (used by lab_up and to attach to an
# existing lab from the CLI).
lab_attach() {
	LAB_SUFFIX="$1"
	LAB_NS_CLIENT="vpnc-client-$LAB_SUFFIX"
	LAB_NS_CLIENT2="vpnc-client2-$LAB_SUFFIX"
	LAB_NS_ROUTER="vpnc-router-$LAB_SUFFIX"
	LAB_NS_REFLECTOR="vpnc-reflector-$LAB_SUFFIX"
	LAB_STATE_DIR="${TMPDIR:-/tmp}/vpnc-lab-$LAB_SUFFIX"
	if [[ -r "$LAB_STATE_DIR/profile" ]]; then
		LAB_PROFILE="$(cat "$LAB_STATE_DIR/profile")"
	fi
	LAB_LOSS_PERCENT_IN_FORCE=""
	if [[ -r "$LAB_STATE_DIR/loss_percent" ]]; then
		LAB_LOSS_PERCENT_IN_FORCE="$(cat "$LAB_STATE_DIR/loss_percent")"
	fi
	LAB_NAT64_PREFIX="" LAB_REFLECTOR_NAT64_IP="" LAB_REFLECTOR_ALT_NAT64_IP=""
	if [[ -r "$LAB_STATE_DIR/nat64" ]]; then
		LAB_NAT64_PREFIX="$(awk '{ print $1 }' "$LAB_STATE_DIR/nat64")"
		LAB_REFLECTOR_NAT64_IP="${LAB_NAT64_PREFIX%%/*}$LAB_REFLECTOR_IP"
		LAB_REFLECTOR_ALT_NAT64_IP="${LAB_NAT64_PREFIX%%/*}$LAB_REFLECTOR_ALT_IP"
	fi
}

_lab_ns_exists() { [[ -e "/run/netns/$1" ]]; }

# ---- up / down -------------------------------------------------------------

# lab_up PROFILE -> builds the three namespaces and loads the profile.
lab_up() {
	local profile="${1:?usage: lab_up PROFILE}"
	local nft_file="$LAB_PROFILES_DIR/$profile.nft"
	[[ -r "$nft_file" ]] || { lab_die "no such profile: $nft_file"; return 1; }
	if [[ -n "$LAB_NS_ROUTER" ]] && _lab_ns_exists "$LAB_NS_ROUTER"; then
		lab_die "this shell already has a lab up ($LAB_SUFFIX)"
		return 1
	fi

	# PID + random tag: unique per invocation, and short enough that
	# "wgc<suffix>" still fits IFNAMSIZ (15) for the WireGuard scripts.
	local suffix
	while :; do
		suffix="$(printf '%d-%04x' "$$" "$((RANDOM * 2 + RANDOM % 2))")"
		_lab_ns_exists "vpnc-router-$suffix" || break
	done
	lab_attach "$suffix"
	LAB_PROFILE="$profile"
	mkdir -p "$LAB_STATE_DIR"
	printf '%s\n' "$profile" >"$LAB_STATE_DIR/profile"
	: >"$LAB_STATE_DIR/pids"

	local c="$LAB_NS_CLIENT" r="$LAB_NS_ROUTER" f="$LAB_NS_REFLECTOR" ns
	for ns in "$c" "$r" "$f"; do
		ip netns add "$ns" || { lab_die "ip netns add $ns failed"; return 1; }
		ip -n "$ns" link set lo up
		# IPv6 with static addresses only: no router advertisements or
		# autoconfiguration, no DAD delay (addresses are added with nodad).
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 2>/dev/null || true
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=0 2>/dev/null || true
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_ra=0 2>/dev/null || true
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_ra=0 2>/dev/null || true
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.autoconf=0 2>/dev/null || true
		# No DAD for the link-local addresses either: while they are tentative,
		# neighbour discovery (and so the first IPv6 packets) stalls ~2 s.
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 2>/dev/null || true
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0 2>/dev/null || true
	done

	# Both veth ends are created inside the namespaces (never in the host ns).
	ip -n "$r" link add lan type veth peer name eth0 netns "$c"
	ip -n "$r" link add wan type veth peer name eth0 netns "$f"

	ip -n "$c" addr add "$LAB_CLIENT_IP/24" dev eth0
	ip -n "$c" link set eth0 up
	ip -n "$c" route add default via "$LAB_ROUTER_LAN_IP"
	ip -n "$c" -6 addr add "$LAB_CLIENT_IP6/64" dev eth0 nodad
	ip -n "$c" -6 route add default via "$LAB_ROUTER_LAN_IP6"

	ip -n "$r" addr add "$LAB_ROUTER_LAN_IP/24" dev lan
	ip -n "$r" addr add "$LAB_ROUTER_WAN_IP/24" dev wan
	ip -n "$r" link set lan up
	ip -n "$r" link set wan up
	ip netns exec "$r" sysctl -qw net.ipv4.ip_forward=1
	ip -n "$r" -6 addr add "$LAB_ROUTER_LAN_IP6/64" dev lan nodad
	ip -n "$r" -6 addr add "$LAB_ROUTER_WAN_IP6/64" dev wan nodad
	ip netns exec "$r" sysctl -qw net.ipv6.conf.all.forwarding=1

	# Only the connected /24: the reflector has NO route to 192.168.1.0/24.
	ip -n "$f" addr add "$LAB_REFLECTOR_IP/24" dev eth0
	# Secondary: the reflector's own traffic keeps leaving from .5.
	ip -n "$f" addr add "$LAB_REFLECTOR_ALT_IP/24" dev eth0
	ip -n "$f" link set eth0 up
	ip -n "$f" -6 addr add "$LAB_REFLECTOR_IP6/64" dev eth0 nodad
	# IPv6 is routed (no NAT66): the way back to the client LAN is the router.
	ip -n "$f" -6 route add 2001:db8:1::/64 via "$LAB_ROUTER_WAN_IP6"

	# reflector.lab -> both addresses, for the client only.
	mkdir -p "/etc/netns/$c"
	printf '%s %s\n%s %s\n' "$LAB_REFLECTOR_IP" "$LAB_REFLECTOR_NAME" \
		"$LAB_REFLECTOR_IP6" "$LAB_REFLECTOR_NAME" >"/etc/netns/$c/hosts"

	# A profile may set the uplink's MTU ("# lab-wan-mtu: N"): the router's WAN
	# side and the reflector's link, so the path between them carries at most N.
	local wan_mtu
	wan_mtu="$(sed -n 's/^# lab-wan-mtu: *\([0-9][0-9]*\) *$/\1/p' "$nft_file" | head -n 1)"
	if [[ -n "$wan_mtu" ]]; then
		ip -n "$r" link set wan mtu "$wan_mtu"
		ip -n "$f" link set eth0 mtu "$wan_mtu"
	fi

	# A profile may drop a share of the forwarded packets at random ("# lab-loss-percent: N",
	# the rule using $loss_percent): N is its default, LAB_LOSS_PERCENT overrides it.
	local loss_default nft_defines=()
	loss_default="$(sed -n 's/^# lab-loss-percent: *\([0-9][0-9]*\) *$/\1/p' "$nft_file" | head -n 1)"
	LAB_LOSS_PERCENT_IN_FORCE=""
	if [[ -n "$loss_default" ]]; then
		LAB_LOSS_PERCENT_IN_FORCE="${LAB_LOSS_PERCENT:-$loss_default}"
		if ! [[ "$LAB_LOSS_PERCENT_IN_FORCE" =~ ^[0-9]+$ ]] || ((10#$LAB_LOSS_PERCENT_IN_FORCE > 100)); then
			lab_die "LAB_LOSS_PERCENT must be a whole number 0..100 (got '$LAB_LOSS_PERCENT_IN_FORCE')"
			return 1
		fi
		nft_defines=(-D "loss_percent=$LAB_LOSS_PERCENT_IN_FORCE")
		printf '%s\n' "$LAB_LOSS_PERCENT_IN_FORCE" >"$LAB_STATE_DIR/loss_percent"
	fi

	ip netns exec "$r" nft "${nft_defines[@]}" -f "$nft_file" || { lab_die "loading $nft_file failed"; return 1; }

	# A profile may make the LAN IPv6-only behind NAT64 ("# lab-nat64: PREFIX/96 POOL4").
	local nat64
	nat64="$(sed -n 's/^# lab-nat64: *\([0-9a-fA-F:]*\/96\) \([0-9.]*\/[0-9]*\) *$/\1 \2/p' "$nft_file" | head -n 1)"
	if [[ -n "$nat64" ]]; then
		# shellcheck disable=SC2086 # two words: prefix, pool
		_lab_nat64_up $nat64 || return 1
	fi
	lab_log "up: profile=$profile${LAB_LOSS_PERCENT_IN_FORCE:+ loss=$LAB_LOSS_PERCENT_IN_FORCE%} suffix=$LAB_SUFFIX (client=$c router=$r reflector=$f)"
	export LAB_SUFFIX LAB_NS_CLIENT LAB_NS_ROUTER LAB_NS_REFLECTOR LAB_STATE_DIR LAB_PROFILE
}

# _lab_until SECONDS CMD... -> runs CMD (quietly) until it succeeds; 1 if it
# still fails after SECONDS.
_lab_until() {
	local limit="$1" start
	shift
	start="$(lab_now)"
	until "$@" >/dev/null 2>&1; do
		awk -v e="$(lab_elapsed "$start")" -v l="$limit" 'BEGIN { exit !(e >= l) }' && return 1
		sleep 0.05
	done
}

# _lab_nat64_up PREFIX/96 POOL4 -> the LAN becomes IPv6-only and the reflector
# IPv4-only; tayga in the router translates PREFIX (RFC 6052 embedding of the
# IPv4 address in the last 32 bits) to and from POOL4, which the profile's
# NAT44 masquerades; a DNS64 (dns64.py) answers the client on the router's LAN
# address, through /etc/netns/<client ns>/resolv.conf (removed by lab_down),
# so no lookup of the lab ever reaches the host's resolver. Waits (bounded, 5 s)
# until the reflector answers a ping through the translator.
_lab_nat64_up() {
	local prefix="$1" pool="$2" c="$LAB_NS_CLIENT" r="$LAB_NS_ROUTER" f="$LAB_NS_REFLECTOR"
	command -v tayga >/dev/null 2>&1 || { lab_die "profile $LAB_PROFILE needs tayga (packaging/install-deps.sh)"; return 1; }
	ip -n "$c" addr del "$LAB_CLIENT_IP/24" dev eth0
	ip -n "$r" addr del "$LAB_ROUTER_LAN_IP/24" dev lan
	ip -n "$f" -6 route del 2001:db8:1::/64 via "$LAB_ROUTER_WAN_IP6"
	ip -n "$f" -6 addr del "$LAB_REFLECTOR_IP6/64" dev eth0
	local pool_net="${pool%/*}"
	local tayga_ip4="${pool_net%.*}.$((${pool_net##*.} + 1))"
	mkdir -p "$LAB_STATE_DIR/tayga"
	# ipv6-addr: with the well-known prefix tayga may not derive its own
	# address from a private ipv4-addr (RFC 6052 section 3.1).
	cat >"$LAB_STATE_DIR/tayga.conf" <<EOF2
tun-device nat64
ipv4-addr $tayga_ip4
ipv6-addr 2001:db8:1:ffff::1
prefix $prefix
dynamic-pool $pool
data-dir $LAB_STATE_DIR/tayga
EOF2
	ip netns exec "$r" tayga -c "$LAB_STATE_DIR/tayga.conf" --mktun >"$LAB_STATE_DIR/tayga-mktun.log" 2>&1 ||
		{ lab_die "tayga --mktun failed: $(cat "$LAB_STATE_DIR/tayga-mktun.log")"; return 1; }
	ip -n "$r" link set nat64 up
	ip -n "$r" route add "$pool" dev nat64
	ip -n "$r" -6 route add "$prefix" dev nat64
	ip -n "$r" -6 route add 2001:db8:1:ffff::1/128 dev nat64
	lab_bg tayga router tayga -c "$LAB_STATE_DIR/tayga.conf" --nodetach
	printf '%s %s\n' "$prefix" "$pool" >"$LAB_STATE_DIR/nat64"
	# The distribution's python3: a version manager's shim first on PATH can take seconds to start.
	local py="${PYTHON:-python3}"
	[[ -z "${PYTHON:-}" && -x /usr/bin/python3 ]] && py=/usr/bin/python3
	lab_bg dns64 router "$py" "$LAB_DIR/dns64.py" "$LAB_ROUTER_LAN_IP6" "$prefix" \
		"$LAB_REFLECTOR_NAME=$LAB_REFLECTOR_IP"
	printf '127.0.0.1 localhost\n::1 localhost\n' >"/etc/netns/$c/hosts"
	printf 'nameserver %s\noptions timeout:1 attempts:1\n' "$LAB_ROUTER_LAN_IP6" >"/etc/netns/$c/resolv.conf"
	LAB_NAT64_PREFIX="$prefix"
	LAB_REFLECTOR_NAT64_IP="${prefix%%/*}$LAB_REFLECTOR_IP"
	LAB_REFLECTOR_ALT_NAT64_IP="${prefix%%/*}$LAB_REFLECTOR_ALT_IP"
	if ! _lab_until 5 ip netns exec "$c" ping -6 -c1 -W1 -q "$LAB_REFLECTOR_NAT64_IP"; then
		lab_die "no ping through the NAT64 to $LAB_REFLECTOR_NAT64_IP after 5 s; tayga's log:"
		sed 's/^/    /' "$LAB_STATE_DIR/tayga.log" >&2
		return 1
	fi
	if ! _lab_until 10 grep -q '^dns64: listening' "$LAB_STATE_DIR/dns64.log"; then
		lab_die "the lab's DNS64 did not start; its log:"
		sed 's/^/    /' "$LAB_STATE_DIR/dns64.log" >&2
		return 1
	fi
	lab_log "nat64: $prefix -> $pool (tayga), reflector at $LAB_REFLECTOR_NAT64_IP, DNS64 on $LAB_ROUTER_LAN_IP6"
}

# lab_add_client2 -> a second LAN host behind the same router and NAT: its own
# namespace (role client2), $LAB_CLIENT2_IP/24 via the router's "lan2" port
# ($LAB_ROUTER_LAN2_IP). IPv4 only. Profiles that match iifname "lan" do not
# cover it; profiles meant for two clients must not filter by LAN interface.
lab_add_client2() {
	[[ -n "$LAB_NS_ROUTER" ]] && _lab_ns_exists "$LAB_NS_ROUTER" || { lab_die "lab_add_client2: no lab up"; return 1; }
	local c2="$LAB_NS_CLIENT2" r="$LAB_NS_ROUTER"
	_lab_ns_exists "$c2" && return 0
	ip netns add "$c2" || { lab_die "ip netns add $c2 failed"; return 1; }
	ip -n "$c2" link set lo up
	ip -n "$r" link add lan2 type veth peer name eth0 netns "$c2"
	ip -n "$c2" addr add "$LAB_CLIENT2_IP/24" dev eth0
	ip -n "$c2" link set eth0 up
	ip -n "$c2" route add default via "$LAB_ROUTER_LAN2_IP"
	ip -n "$r" addr add "$LAB_ROUTER_LAN2_IP/24" dev lan2
	ip -n "$r" link set lan2 up
	lab_log "client2: $c2 ($LAB_CLIENT2_IP via lan2)"
}

# _lab_alive PID -> true if PID exists and is not a zombie.
_lab_alive() {
	local state
	[[ -r "/proc/$1/stat" ]] || return 1
	state="$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" || return 1
	[[ -n "$state" && "$state" != Z ]]
}

# _lab_in_our_ns PID -> true if PID runs inside one of this lab's namespaces
# (protects against killing an unrelated process after PID reuse).
_lab_in_our_ns() {
	local ids
	ids="$(ip netns identify "$1" 2>/dev/null)" || return 1
	[[ " $ids " == *" $LAB_NS_CLIENT "* || " $ids " == *" $LAB_NS_CLIENT2 "* || " $ids " == *" $LAB_NS_ROUTER "* ||
		" $ids " == *" $LAB_NS_REFLECTOR "* ]]
}

# lab_stop PID [GRACE_S] -> SIGTERM, wait up to GRACE_S (default 3), then SIGKILL.
# Only acts on processes inside this lab's namespaces. Returns 0.
lab_stop() {
	local pid="$1" grace="${2:-3}" i
	[[ -n "$pid" ]] || return 0
	if _lab_alive "$pid" && _lab_in_our_ns "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < grace * 20; i++)); do
			_lab_alive "$pid" || break
			sleep 0.05
		done
		if _lab_alive "$pid"; then
			lab_log "pid $pid ignored SIGTERM for ${grace}s, sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	# Reap it if it is our child (no-op otherwise); never block for long.
	wait "$pid" 2>/dev/null || true
	return 0
}

# lab_down [SUFFIX] -> stops every process started in the lab, deletes the
# namespaces (which destroys the veths) and the state dir. Idempotent, safe
# to call from an EXIT trap; always returns 0.
lab_down() {
	if [[ $# -ge 1 && -n "$1" ]]; then lab_attach "$1"; fi
	[[ -n "$LAB_SUFFIX" ]] || return 0
	local pid name ns
	# 1. Processes we started and recorded (lab_bg).
	if [[ -r "$LAB_STATE_DIR/pids" ]]; then
		while read -r pid name; do
			[[ -n "$pid" ]] || continue
			lab_stop "$pid" 3
		done <"$LAB_STATE_DIR/pids"
	fi
	# 2. Safety net: anything still running inside OUR namespaces was started
	#    by this lab (e.g. by a caller that did not use lab_bg) — stop it by PID.
	for ns in "$LAB_NS_CLIENT" "$LAB_NS_CLIENT2" "$LAB_NS_ROUTER" "$LAB_NS_REFLECTOR"; do
		_lab_ns_exists "$ns" || continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			lab_stop "$pid" 2
		done
	done
	for ns in "$LAB_NS_CLIENT" "$LAB_NS_CLIENT2" "$LAB_NS_ROUTER" "$LAB_NS_REFLECTOR"; do
		_lab_ns_exists "$ns" && ip netns del "$ns" 2>/dev/null
	done
	# 3. Evidence for a failing test: the logs and captures of this lab, copied
	#    to $LAB_STASH_DIR/<suffix> (set by the tests) now that every writer stopped.
	if [[ -n "${LAB_STASH_DIR:-}" && -d "$LAB_STATE_DIR" ]]; then
		mkdir -p "$LAB_STASH_DIR/$LAB_SUFFIX"
		local f
		# Sub-directories' logs too (real/strongswan.sh: strongswan/client/charon.log
		# -> strongswan_client_charon.log).
		while IFS= read -r -d '' f; do
			f="${f#"$LAB_STATE_DIR"/}"
			cp -p -- "$LAB_STATE_DIR/$f" "$LAB_STASH_DIR/$LAB_SUFFIX/${f//\//_}" 2>/dev/null || true
		done < <(find "$LAB_STATE_DIR" -maxdepth 3 -type f \( -name '*.log' -o -name '*.pcap' -o -name profile -o -name loss_percent \) -print0 2>/dev/null)
	fi
	# The client's hosts file (lab_up); only ever our own namespace's directory.
	if [[ -n "$LAB_NS_CLIENT" && -d "/etc/netns/$LAB_NS_CLIENT" ]]; then
		rm -f -- "/etc/netns/$LAB_NS_CLIENT/hosts" "/etc/netns/$LAB_NS_CLIENT/resolv.conf"
		rmdir -- "/etc/netns/$LAB_NS_CLIENT" 2>/dev/null || true
	fi
	if [[ "${LAB_KEEP:-0}" == 1 ]]; then
		lab_log "down: $LAB_SUFFIX (state kept in $LAB_STATE_DIR)"
	else
		rm -rf -- "$LAB_STATE_DIR"
		lab_log "down: $LAB_SUFFIX"
	fi
	LAB_NS_CLIENT="" LAB_NS_CLIENT2="" LAB_NS_ROUTER="" LAB_NS_REFLECTOR="" LAB_SUFFIX="" LAB_REFLECTOR_PID=""
	return 0
}

# ---- running things in the lab --------------------------------------------

# lab_exec ROLE CMD... -> run CMD inside ROLE's namespace (foreground).
lab_exec() {
	local ns
	ns="$(lab_ns "$1")" || return 2
	shift
	ip netns exec "$ns" "$@"
}

# lab_bg NAME ROLE CMD... -> start CMD in the background inside ROLE's
# namespace, output to $LAB_STATE_DIR/NAME.log; PID in LAB_LAST_PID and
# recorded so lab_down stops it. Must be called in the main shell (not in
# $(...)) so the PID is our child.
lab_bg() {
	local name="$1" ns
	ns="$(lab_ns "$2")" || return 2
	shift 2
	ip netns exec "$ns" "$@" >"$LAB_STATE_DIR/$name.log" 2>&1 </dev/null &
	LAB_LAST_PID=$!
	printf '%s %s\n' "$LAB_LAST_PID" "$name" >>"$LAB_STATE_DIR/pids"
}

# lab_wait_tcp ROLE ADDR PORT TIMEOUT_S -> wait until ADDR:PORT accepts a TCP
# connection from inside ROLE's namespace. Bounded; returns 1 on timeout.
lab_wait_tcp() {
	local role="$1" addr="$2" port="$3" limit="$4" start
	start="$(lab_now)"
	while :; do
		if lab_exec "$role" timeout 1 bash -c "exec 3<>/dev/tcp/$addr/$port" 2>/dev/null; then
			return 0
		fi
		if awk -v e="$(lab_elapsed "$start")" -v l="$limit" 'BEGIN { exit !(e >= l) }'; then
			return 1
		fi
		sleep 0.05
	done
}

# lab_reflector_start [EXTRA ARGS...] -> start vpncheck-reflector in the
# reflector ns and wait (bounded, 10 s) until its control port accepts.
lab_reflector_start() {
	local bin
	bin="$(lab_bin vpncheck-reflector)"
	[[ -x "$bin" ]] || { lab_die "not built: $bin"; return 1; }
	# Debug level by default: one line per datagram (what arrived, from where,
	# answered or why dropped) -- the evidence a failing lab test prints.
	local level=()
	[[ " $* " == *" --log-level "* ]] || level=(--log-level "${LAB_REFLECTOR_LOG_LEVEL:-debug}")
	# Behind a NAT64 (the profile's "# lab-nat64:") the reflector is an IPv4-only server.
	local listen=(--listen "$LAB_REFLECTOR_IP")
	[[ -e "$LAB_STATE_DIR/nat64" ]] || listen+=(--listen "$LAB_REFLECTOR_IP6")
	lab_bg reflector reflector "$bin" "${listen[@]}" \
		--control-port "$LAB_CONTROL_PORT" "${level[@]}" "$@"
	LAB_REFLECTOR_PID="$LAB_LAST_PID"
	local start
	start="$(lab_now)"
	while :; do
		if ! _lab_alive "$LAB_REFLECTOR_PID"; then
			lab_die "vpncheck-reflector exited during start-up; its log:"
			sed 's/^/    /' "$LAB_STATE_DIR/reflector.log" >&2
			return 1
		fi
		if lab_exec reflector timeout 1 bash -c \
			"exec 3<>/dev/tcp/$LAB_REFLECTOR_IP/$LAB_CONTROL_PORT" 2>/dev/null; then
			lab_log "reflector ready after $(lab_elapsed "$start")s (pid $LAB_REFLECTOR_PID)"
			return 0
		fi
		if awk -v e="$(lab_elapsed "$start")" 'BEGIN { exit !(e >= 10) }'; then
			lab_die "vpncheck-reflector not accepting on $LAB_REFLECTOR_IP:$LAB_CONTROL_PORT after 10s; its log:"
			sed 's/^/    /' "$LAB_STATE_DIR/reflector.log" >&2
			return 1
		fi
		sleep 0.05
	done
}

# lab_capture_start -> packet capture on the router's LAN and WAN ports
# ($LAB_STATE_DIR/router-lan.pcap, router-wan.pcap: first 512 bytes of each
# packet, at most 100000 packets each) while the lab is up; stopped by
# lab_down. Without tcpdump it says so and returns 0 (the capture is evidence
# for failures, not a requirement). Waits (bounded, 3 s) until both listen.
lab_capture_start() {
	if ! command -v tcpdump >/dev/null 2>&1; then
		lab_log "capture: tcpdump not installed, no packet capture (packaging/install-deps.sh installs it)"
		return 0
	fi
	local ifc start
	for ifc in lan wan; do
		# -Z root: Debian's tcpdump otherwise drops to its own user before
		# opening the file, which cannot write into the (root's) state dir.
		# --immediate-mode: libpcap otherwise hands packets over a block at a
		# time (TPACKET_V3), and the last second before the stop never reaches
		# the file; that second is often the one the failure is in.
		lab_bg "capture-$ifc" router tcpdump -i "$ifc" -n -U --immediate-mode -s 512 -c 100000 -Z root \
			-w "$LAB_STATE_DIR/router-$ifc.pcap"
	done
	start="$(lab_now)"
	while awk -v e="$(lab_elapsed "$start")" 'BEGIN { exit !(e < 3) }'; do
		if grep -q 'listening on' "$LAB_STATE_DIR/capture-lan.log" 2>/dev/null &&
			grep -q 'listening on' "$LAB_STATE_DIR/capture-wan.log" 2>/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	lab_log "capture: tcpdump did not report listening within 3 s (capture may miss the start)"
	return 0
}

# lab_reflector_stop -> stop the reflector started by lab_reflector_start.
lab_reflector_stop() {
	[[ -n "$LAB_REFLECTOR_PID" ]] || return 0
	lab_stop "$LAB_REFLECTOR_PID" 3
	LAB_REFLECTOR_PID=""
}

# lab_reflector_log -> print the reflector's log (for failure diagnostics).
lab_reflector_log() {
	[[ -r "$LAB_STATE_DIR/reflector.log" ]] && sed 's/^/    reflector| /' "$LAB_STATE_DIR/reflector.log" >&2
	return 0
}

# ---- CLI -------------------------------------------------------------------

_lab_usage() {
	cat >&2 <<EOF
usage: $0 up PROFILE          build a lab; prints export lines for eval
       $0 down [SUFFIX]       tear a lab down (default: \$LAB_SUFFIX)
       $0 exec client|client2|router|reflector CMD...
       $0 list                labs that exist now
       $0 profiles            available profiles
EOF
}

# Pick the lab for exec/down: explicit suffix, $LAB_SUFFIX, or the only one.
_lab_pick() {
	local want="${1:-$LAB_SUFFIX}"
	if [[ -z "$want" ]]; then
		local labs
		mapfile -t labs < <(_lab_list)
		if [[ ${#labs[@]} -eq 1 ]]; then
			want="${labs[0]}"
		else
			lab_die "set LAB_SUFFIX (labs up: ${labs[*]:-none})"
			return 1
		fi
	fi
	lab_attach "$want"
	_lab_ns_exists "$LAB_NS_ROUTER" || { lab_die "no lab with suffix '$want'"; return 1; }
}

_lab_list() {
	ip netns list 2>/dev/null | awk '{ print $1 }' | sed -n 's/^vpnc-router-//p'
}

_lab_main() {
	set -euo pipefail
	local cmd="${1:-}"
	[[ $# -gt 0 ]] && shift
	case "$cmd" in
	up)
		[[ $# -eq 1 ]] || { _lab_usage; exit 2; }
		lab_require_root
		# On failure, do not leave half a lab behind.
		trap 'lab_down' EXIT
		lab_up "$1"
		trap - EXIT
		printf 'export LAB_SUFFIX=%q LAB_NS_CLIENT=%q LAB_NS_ROUTER=%q LAB_NS_REFLECTOR=%q\n' \
			"$LAB_SUFFIX" "$LAB_NS_CLIENT" "$LAB_NS_ROUTER" "$LAB_NS_REFLECTOR"
		;;
	down)
		_lab_pick "${1:-}"
		lab_down "$LAB_SUFFIX"
		;;
	exec)
		[[ $# -ge 2 ]] || { _lab_usage; exit 2; }
		_lab_pick ""
		lab_exec "$@"
		;;
	list) _lab_list ;;
	profiles)
		local f
		for f in "$LAB_PROFILES_DIR"/*.nft; do basename "$f" .nft; done
		;;
	*)
		_lab_usage
		exit 2
		;;
	esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
	_lab_main "$@"
fi
