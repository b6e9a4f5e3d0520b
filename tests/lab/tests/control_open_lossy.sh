#!/usr/bin/env bash
# control_open_lossy.sh — the control session opens through heavy random
# loss. Profile "lossy" at 50 % loss each way (LAB_LOSS_PERCENT overrides):
# a lost SYN, SYN-ACK, request or answer would cost TCP a retransmission
# timeout of 1 s or more, and the run has 3 s in all; the client asks again on
# new connections, every copy with one Idempotency-Key. Every run must:
#   - open its session (exit 0, no "could not open a session");
#   - open one session on the reflector, however many copies arrived (the
#     reflector's "session ... opened" log lines count one per run), and no
#     other later: a copy still on its way once the run has closed its
#     session would open an orphan (the client resets the connections of the
#     copies it gave up, so their kernel stops retransmitting them);
#   - give WireGuard `pass` or `inconclusive`: loss alone is never a failing verdict.
# Env: LAB_CONTROL_OPEN_RUNS  how many runs (default 8)
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"

RUNS="${LAB_CONTROL_OPEN_RUNS:-8}"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "LAB_CONTROL_OPEN_RUNS must be a positive whole number (got '$RUNS')"; exit 2; }
export LAB_LOSS_PERCENT="${LAB_LOSS_PERCENT:-50}"

t_init "control session through ${LAB_LOSS_PERCENT}% loss: $RUNS runs, each opens one session"
t_need_bins
t_start lossy
echo "  facts: loss ${LAB_LOSS_PERCENT_IN_FORCE}% of forwarded packets per direction, $RUNS runs"

opened_before() { grep -cE 'session ([0-9a-f]+ )?opened' "$LAB_STATE_DIR/reflector.log" || true; }
for run in $(seq 1 "$RUNS"); do
	before="$(opened_before)"
	t_vpncheck --protocols wireguard -4
	# The reflector logs the opening as it answers; give the log a moment.
	sleep 0.2
	after="$(opened_before)"
	verdict="$(t_verdict wireguard)"
	echo "  facts: run $run: exit $T_RC, sessions opened $((after - before)), wireguard '${verdict}'"
	t_check "run $run: the session opened (exit 0, got $T_RC)" t_eq "$T_RC" 0
	t_check "run $run: no 'could not open a session'" bash -c "! grep -q 'could not open a session' '$T_ERR'"
	t_check "run $run: one session on the reflector for all copies (got $((after - before)))" t_eq "$((after - before))" 1
	t_check "run $run: wireguard pass or inconclusive (got '$verdict')" t_verdict_in "$verdict" pass inconclusive
	[[ $T_FAILS -eq 0 ]] || { t_show_run; break; }
done
sleep 2  # copies of the last run's request would arrive within this
opened="$(opened_before)"
t_check "one session opened per run, none by a late copy ($opened for $RUNS runs)" t_eq "$opened" "$RUNS"

t_finish
