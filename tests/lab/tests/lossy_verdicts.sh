#!/usr/bin/env bash
# lossy_verdicts.sh — the whole vpncheck, run again and again through profile
# "lossy" (home NAT dropping 15 % of the forwarded packets at random, each
# direction, IPv4 and IPv6; LAB_LOSS_PERCENT changes the share). Real
# OpenVPN, wireguard-go and strongSwan tunnels work through it
# (agreement_*_lossy), so a loss must never read as a failing verdict. Every
# run must:
#   - complete: exit 0, the report's exit_code the same, the report valid;
#   - end within --timeout + 0.5 s (the default --timeout 3: <= 3.5 s, wall
#     clock around the call), losses or not;
#   - give wireguard, openvpn, ipsec and l2tp `pass` or `inconclusive`, at
#     top level and per family (IPv4 behind the NAT, IPv6 routed), and so
#     any protocol derived from them (l2tp-ipsec);
#   - give pptp, over IPv4 and at top level, `outbound_only` or `inconclusive`:
#     like `home` the profile has no PPTP helper, so GRE cannot come back
#     through the NAT (pptp_home.sh: outbound_only is right there); never
#     `pass` nor `blocked`. Over IPv6 (no NAT) as on `home`: `pass` or
#     `inconclusive`;
#   - report the loss it measured: `path.loss` with a fraction in [0.02, 0.5]
#     (the key holding the fraction is looked up under the names such a
#     share goes by: fraction, measured_fraction, measured, rate, ...).
# One lab and one reflector (with the second address, so the NAT tests run
# as fully as the lab allows) serve all runs, like a user trying again.
#
# Env: LAB_LOSSY_RUNS  how many runs (default 5; the bar for "fixed" is 10 in a row)
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"

RUNS="${LAB_LOSSY_RUNS:-5}"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "LAB_LOSSY_RUNS must be a positive whole number (got '$RUNS')"; exit 2; }
TIMEOUT_S=3   # vpncheck's default --timeout: nothing is passed
SLACK_S=0.5
PROTOCOLS=wireguard,openvpn,ipsec,l2tp,pptp

t_init "lossy: $RUNS full runs, no failing verdict from random loss, each within --timeout + ${SLACK_S}s"
t_need_bins
t_need_python_jsonschema
# shellcheck disable=SC2034 # read by t_start
T_REFLECTOR_ARGS=(--alt-address "$LAB_REFLECTOR_ALT_IP")
t_start lossy
echo "  facts: loss ${LAB_LOSS_PERCENT_IN_FORCE}% of forwarded packets per direction, $RUNS runs"

# lossy_judge REPORT -> prints the run's verdict line, then one line per
# problem: "VERDICT: ..." (a verdict not allowed here) or "LOSS: ..." (path.loss).
lossy_judge() {
	"$T_PY" - "$1" "$PROTOCOLS" <<'PYEOF'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"no report ({e})")
    print("VERDICT: no readable report")
    sys.exit(0)
wanted = sys.argv[2].split(",")
# What each protocol may say through a lossy NAT, per scope: `home`'s verdict
# (see the header) or, when the losses leave too little evidence, inconclusive.
ok = {p: {"top": {"pass", "inconclusive"}, "ipv4": {"pass", "inconclusive"}, "ipv6": {"pass", "inconclusive"}}
      for p in wanted}
ok["pptp"] = {"top": {"outbound_only", "inconclusive"}, "ipv4": {"outbound_only", "inconclusive"},
              "ipv6": {"pass", "inconclusive"}}
problems, loss_problems, parts = [], [], []
protos = {p.get("protocol"): p for p in r.get("protocols", [])}
for name in wanted:
    if name not in protos:
        problems.append(f"{name}: missing from the report")
        parts.append(f"{name} -")
# Every protocol reported (also derived ones such as l2tp-ipsec, which
# work where their parts work: `pass` or `inconclusive`); the ones asked
# for are tested over both families.
for name, p in protos.items():
    allowed = ok.get(name, {"top": {"pass", "inconclusive"}, "ipv4": {"pass", "inconclusive"},
                            "ipv6": {"pass", "inconclusive"}})
    top = p.get("verdict", "")
    fams = p.get("families") or {}
    fam_text = ", ".join(f"{f.replace('ipv', 'v')} {fams[f].get('verdict', '')}" for f in sorted(fams))
    parts.append(f"{name} {top}" + (f" ({fam_text})" if fam_text else ""))
    if top not in allowed["top"]:
        problems.append(f"{name}: verdict {top!r} (allowed: {sorted(allowed['top'])}): {p.get('summary', '')}")
    for f in ("ipv4", "ipv6"):
        if f not in fams:
            if name in wanted:
                problems.append(f"{name}: no {f} family in the report")
            continue
        v = fams[f].get("verdict", "")
        if v not in allowed[f]:
            problems.append(f"{name}/{f}: verdict {v!r} (allowed: {sorted(allowed[f])}): {fams[f].get('summary', '')}")
# The loss the client measured (the key holding the fraction is looked up by
# the names a measured share goes by; its absence is reported as such).
loss = (r.get("path") or {}).get("loss")
if not isinstance(loss, dict):
    loss_problems.append("path.loss: missing (the client does not report the loss it measured)")
    parts.append("loss -")
else:
    key = next((k for k in ("fraction", "measured_fraction", "measured", "rate", "ratio", "estimate")
                if isinstance(loss.get(k), (int, float)) and not isinstance(loss.get(k), bool)), None)
    if key is None:
        loss_problems.append(f"path.loss: no measured fraction in {json.dumps(loss)[:300]}")
        parts.append("loss ?")
    else:
        frac = float(loss[key])
        parts.append(f"loss {frac:.3f}")
        if not 0.02 <= frac <= 0.5:
            loss_problems.append(f"path.loss.{key} = {frac} is outside [0.02, 0.5]")
print(" | ".join(parts))
for p in problems:
    print("VERDICT: " + p)
for p in loss_problems:
    print("LOSS: " + p)
PYEOF
}

limit="$(awk -v t="$TIMEOUT_S" -v s="$SLACK_S" 'BEGIN { printf "%.1f", t + s }')"
bad_runs=0
lines=()
for ((run = 1; run <= RUNS; run++)); do
	T_NO_DEFAULT_REFLECTOR=1 T_VPNCHECK_LIMIT=30 t_vpncheck --reflector "$LAB_REFLECTOR_NAME" --protocols "$PROTOCOLS"
	judged="$(lossy_judge "$T_JSON")"
	line="run $run/$RUNS: exit $T_RC in ${T_SECS}s | $(head -n 1 <<<"$judged")"
	lines+=("$line")
	echo "  $line"
	sed -n 's/^\(VERDICT\|LOSS\): /         problem: /p' <<<"$judged"
	fails_before=$T_FAILS
	t_check "run $run: exit 0 (got $T_RC)" t_eq "$T_RC" 0
	t_check "run $run: report exit_code equals the process's" t_report_exit_code_matches
	t_check "run $run: report validates against the schema" t_report_valid
	t_check "run $run: ended within --timeout + ${SLACK_S}s = ${limit}s (took ${T_SECS}s)" \
		awk -v e="$T_SECS" -v l="$limit" 'BEGIN { exit !(e <= l) }'
	t_check "run $run: every verdict allowed through random loss" \
		t_eq "$(grep -c '^VERDICT: ' <<<"$judged" || true)" 0
	t_check "run $run: path.loss reported, measured fraction in [0.02, 0.5]" \
		t_eq "$(grep -c '^LOSS: ' <<<"$judged" || true)" 0
	if [[ $T_FAILS -ne $fails_before ]]; then
		bad_runs=$((bad_runs + 1))
		cp -p "$T_JSON" "$T_WORK/failed-run-$run.json" 2>/dev/null || true
	fi
done

dropped="$(lab_exec router nft list ruleset | sed -n 's/.*counter packets \([0-9]*\).*random loss.*/\1/p' | awk '{ s += $1 } END { print s + 0 }')"
echo "  summary: $((RUNS - bad_runs)) of $RUNS runs fully right; the router dropped $dropped forwarded packets"
printf '    %s\n' "${lines[@]}"
t_check "the router did drop packets at random ($dropped)" test "$dropped" -gt 0
t_finish
