#!/usr/bin/env bash
# bench.sh [N] — wall-clock benchmark of vpncheck through the lab (not a test).
#   (a) full run (wireguard+openvpn) through `home`, reflector running:
#       median/min/max of N runs (default 5); the same with every protocol
#       but PPTP (IPsec's raw ESP/AH, L2TP), and the default run (every
#       protocol: behind `home` PPTP's GRE gets no answer, as there is no
#       passthrough, so that run waits for the probe deadline);
#       then the default run again with the router losing 15 % of forwarded
#       packets each way: it must end within --timeout (3 s) + 0.5 s;
#   (b) no reflector running, --timeout 2: the client must give up after one
#       timeout, i.e. within timeout + 0.5 s. Measured twice: "refused"
#       (nothing listens, TCP RST) and "silent" (a firewall drops everything
#       to the reflector, so only the deadline ends the run).
# Times include `ip netns exec` (a few ms). Prints a small table.
set -euo pipefail

# shellcheck source=lab.sh
source "$(cd "$(dirname "$0")" && pwd)/lab.sh"
# Timings: the reflector logs at info, not the lab's default debug (a line per datagram).
export LAB_REFLECTOR_LOG_LEVEL="${LAB_REFLECTOR_LOG_LEVEL:-info}"

N="${1:-5}"
NOREF_TIMEOUT=2
LOSS_PERCENT=15

# time_run RESULT_VAR CMD... -> seconds CMD took (exit status ignored).
time_run() {
	local __var="$1" start
	shift
	start="$(lab_now)"
	"$@" >/dev/null 2>&1 || true
	printf -v "$__var" '%s' "$(lab_elapsed "$start")"
}

# stats "t1 t2 ..." -> "median min max"
stats() {
	tr ' ' '\n' <<<"$1" | sort -g | awk '{ a[NR] = $1 } END {
		m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
		printf "%.3f %.3f %.3f", m, a[1], a[NR] }'
}

vpncheck_in_client() {
	lab_exec client timeout -k 5 60 "$(lab_bin vpncheck)" "$@"
}

main() {
	lab_require_root
	lab_have_bins || { echo "build vpncheck first ($(lab_build_dir))" >&2; exit 2; }
	trap lab_down EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	lab_up home
	# shellcheck disable=SC2119 # default reflector arguments
	lab_reflector_start

	local i t full=() no_pptp=() every=() lossy=() refused=() silent=()
	for ((i = 0; i < N; i++)); do
		time_run t vpncheck_in_client --reflector "$LAB_REFLECTOR_IP" --protocols wireguard,openvpn --json /dev/null
		full+=("$t")
		time_run t vpncheck_in_client --reflector "$LAB_REFLECTOR_IP" --protocols wireguard,openvpn,ipsec,l2tp --json /dev/null
		no_pptp+=("$t")
		time_run t vpncheck_in_client --reflector "$LAB_REFLECTOR_IP" --json /dev/null
		every+=("$t")
	done
	# The same router losing LOSS_PERCENT of forwarded packets at random, each way.
	local loss_handle
	loss_handle="$(lab_exec router nft --echo --handle insert rule inet filter forward \
		numgen random mod 100 '<' "$LOSS_PERCENT" drop | sed -n 's/.*# handle \([0-9]*\).*/\1/p')"
	for ((i = 0; i < N; i++)); do
		time_run t vpncheck_in_client --reflector "$LAB_REFLECTOR_IP" --json /dev/null
		lossy+=("$t")
	done
	# The unreachable cases measure the deadline, not the kernel's SYN retransmission after a loss.
	lab_exec router nft delete rule inet filter forward handle "$loss_handle"
	lab_reflector_stop
	for ((i = 0; i < N; i++)); do
		time_run t vpncheck_in_client --reflector "$LAB_REFLECTOR_IP" --timeout "$NOREF_TIMEOUT"
		refused+=("$t")
	done
	lab_exec router nft add rule inet filter forward ip daddr "$LAB_REFLECTOR_IP" drop
	for ((i = 0; i < N; i++)); do
		time_run t vpncheck_in_client --reflector "$LAB_REFLECTOR_IP" --timeout "$NOREF_TIMEOUT"
		silent+=("$t")
	done

	local limit
	limit="$(awk -v t="$NOREF_TIMEOUT" 'BEGIN { printf "%.1f", t + 0.5 }')"
	printf '\n%-44s %4s %9s %9s %9s  %s\n' scenario runs median_s min_s max_s expectation
	row() { # name "times" expectation_max
		local s med min max ok
		s="$(stats "$2")"
		read -r med min max <<<"$s"
		if [[ -n "$3" ]]; then
			ok="$(awk -v m="$max" -v l="$3" 'BEGIN { print (m <= l) ? "ok" : "SLOW" }')"
			printf '%-44s %4d %9s %9s %9s  max <= %ss: %s\n' "$1" "$N" "$med" "$min" "$max" "$3" "$ok"
		else
			printf '%-44s %4d %9s %9s %9s  -\n' "$1" "$N" "$med" "$min" "$max"
		fi
	}
	row "home, reflector up, wireguard+openvpn" "${full[*]}" "1.0"
	row "home, reflector up, all but pptp" "${no_pptp[*]}" "1.0"
	row "home, reflector up, every protocol" "${every[*]}" ""
	row "home losing $LOSS_PERCENT %, every protocol (timeout 3)" "${lossy[*]}" "3.5"
	row "no reflector (refused), --timeout $NOREF_TIMEOUT" "${refused[*]}" "$limit"
	row "no reflector (silent drop), --timeout $NOREF_TIMEOUT" "${silent[*]}" "$limit"
}

main "$@"
