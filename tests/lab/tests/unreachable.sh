#!/usr/bin/env bash
# unreachable.sh — "reflector unreachable" must never look like "everything
# blocked". Two ways to be unreachable, both through the home profile:
#   refused: nothing listens at the reflector address (TCP RST);
#   silent:  a firewall silently drops everything to the reflector (the
#            client only learns by timing out).
# Each run: exit code 3 within --timeout + 1 s, stderr names host and port,
# and no "blocked" verdict anywhere.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "unreachable reflector: exit 3, not 'blocked'"
t_need_bins
TIMEOUT=3
LIMIT=$((TIMEOUT + 1))

# check_run LABEL HOST PORT -> assertions on the last t_vpncheck run.
check_run() {
	local label="$1" host="$2" port="$3"
	echo "  facts: $label: exit=$T_RC elapsed=${T_SECS}s stderr: $(head -c 300 "$T_ERR" | tr '\n' ' ')"
	t_check "$label: exit code 3 (got $T_RC)" t_eq "$T_RC" 3
	t_check "$label: finished within timeout+1 = ${LIMIT}s (took ${T_SECS}s)" \
		awk -v e="$T_SECS" -v l="$LIMIT" 'BEGIN { exit !(e <= l) }'
	t_check "$label: stderr names the host $host" grep -qF "$host" "$T_ERR"
	t_check "$label: stderr names the port $port" grep -qw "$port" "$T_ERR"
	if [[ -s "$T_JSON" ]]; then
		t_check "$label: report has no 'blocked' verdict" \
			t_eq "$(t_json "any(p.get('verdict') == 'blocked' for p in r.get('protocols', []))")" false
		t_check "$label: report exit_code is 3" t_eq "$(t_json "r.get('exit_code')")" 3
		if [[ -r "$T_SCHEMA" ]]; then
			t_check "$label: report validates against the schema" t_report_valid
		fi
	else
		echo "  info - $label: no JSON report written (acceptable when nothing could be tested)"
	fi
	# Text output must not claim protocols are blocked ("not blocked" is fine).
	t_check "$label: no 'blocked' claim in stdout/stderr" \
		bash -c "! cat '$T_OUT' '$T_ERR' | grep -iw blocked | grep -viqE \"not|n't\""
	[[ $T_FAILS -eq 0 ]] || t_show_run
}

lab_up home || t_fatal "could not build the lab"

# 1. Nothing listening: the reflector host answers with RST / port unreachable.
t_vpncheck --protocols wireguard,openvpn --timeout "$TIMEOUT" --require wireguard
check_run "refused" "$LAB_REFLECTOR_IP" "$LAB_CONTROL_PORT"

# 2. Silent drop of everything towards the reflector (explicit port this time).
lab_exec router nft add rule inet filter forward ip daddr "$LAB_REFLECTOR_IP" drop
T_NO_DEFAULT_REFLECTOR=1 t_vpncheck --reflector "$LAB_REFLECTOR_IP:9999" \
	--protocols wireguard,openvpn --timeout "$TIMEOUT"
check_run "silent" "$LAB_REFLECTOR_IP" 9999

t_finish
