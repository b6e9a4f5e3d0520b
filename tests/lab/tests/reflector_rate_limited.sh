#!/usr/bin/env bash
# reflector_rate_limited.sh — profile "home" (every protocol passes through
# this router), but the reflector answers at most one probe per second per
# source address (--rate-limit 1) and a neighbour behind the same NAT address
# (client2) runs vpncheck at the same time, draining that budget. The
# reflector records the probes and holds their answers back (reply code
# rate_limited, and a rate_limit entry in the session's limits). Neither
# client may blame the network for it: no protocol comes out outbound_only or
# blocked; every one that did not pass is inconclusive with the finding
# reflector_limited, and the text, JSON, JUnit and Markdown reports name the
# limit. One token a second cannot answer three multi-message exchanges
# (L2TP, IPsec, PPTP), so at least three protocols are inconclusive.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "reflector rate-limited: verdicts inconclusive (reflector_limited), never outbound_only/blocked"
t_need_bins
t_need_python_jsonschema
lab_up home || t_fatal "could not build the lab"
lab_add_client2 || t_fatal "could not add the second client"
lab_reflector_start --rate-limit 1 || t_fatal "vpncheck-reflector did not become ready"

protocols=wireguard,openvpn,l2tp,ipsec,pptp
neighbour_json="$T_WORK/neighbour.json"
lab_bg neighbour client2 timeout -k 5 60 "$(lab_bin vpncheck)" --reflector "$LAB_REFLECTOR_IP" \
	--protocols "$protocols" --timeout 2 --json "$neighbour_json"
neighbour_pid="$LAB_LAST_PID"
sleep 0.2
t_vpncheck --protocols "$protocols" --timeout 2 --junit "$T_WORK/report.xml" --markdown "$T_WORK/report.md"
wait "$neighbour_pid" || true

# verdict_facts -> "proto=verdict[+reflector_limited] ..." for the last report.
verdict_facts() {
	t_json "' '.join(p['protocol'] + '=' + p['verdict'] + ('+limited' if 'reflector_limited' in p['findings'] else '') for p in r['protocols'])"
}
# blamed_network -> protocols whose verdict blames the network ("" if none).
blamed_network() {
	t_json "' '.join(p['protocol'] for p in r['protocols'] if p['verdict'] in ('outbound_only', 'blocked'))"
}
# unexplained -> probed protocols that did not pass and are not inconclusive
# because of the reflector (l2tp-ipsec is derived from l2tp and ipsec, with no
# probes and findings of its own: blamed_network covers it).
unexplained() {
	t_json "' '.join(p['protocol'] for p in r['protocols'] if p['protocol'] in '$protocols'.split(',') and p['verdict'] != 'pass' and (p['verdict'] != 'inconclusive' or 'reflector_limited' not in p['findings']))"
}
limited_count() {
	t_json "sum(1 for p in r['protocols'] if p['protocol'] in '$protocols'.split(',') and p['verdict'] == 'inconclusive' and 'reflector_limited' in p['findings'])"
}

echo "  facts: client: $(verdict_facts)"
echo "  facts: reflector.limits: $(t_json "r['reflector'].get('limits')")"
t_check "exit code 0: nothing --require'd (got $T_RC)" t_eq "$T_RC" 0
t_check "report exit_code equals process exit code" t_report_exit_code_matches
t_check "report validates against $T_SCHEMA" t_report_valid
t_check "no protocol is outbound_only or blocked (got '$(blamed_network)')" t_eq "$(blamed_network)" ""
t_check "every protocol that did not pass is inconclusive with reflector_limited (not: '$(unexplained)')" \
	t_eq "$(unexplained)" ""
t_check "at least 3 of the 5 protocols are inconclusive because of the reflector (got $(limited_count))" \
	test "$(limited_count)" -ge 3
t_check "reflector.limits reports the rate limit" \
	t_eq "$(t_json "any(l['limit'] == 'rate_limit' and l['count'] > 0 for l in r['reflector']['limits'])")" true
t_check "a probe's evidence says its answer was rate limited" \
	t_eq "$(t_json "any('(rate limited)' in q['evidence'] for p in r['protocols'] for q in p['probes'])")" true
t_check "an inconclusive summary says the reflector limited its answers" \
	t_eq "$(t_json "any('the reflector limited its answers (rate limit: ' in p['summary'] for p in r['protocols'])")" true
t_check "the text report has the limits line" grep -q "^The reflector limited its answers: rate limit: " "$T_OUT"
t_check "the JUnit report names the limit" grep -q "reflector_limited" "$T_WORK/report.xml"
t_check "the Markdown report names the limit" grep -q "the reflector limited its answers (rate limit: " "$T_WORK/report.md"
[[ $T_FAILS -eq 0 ]] || t_show_run

# The neighbour whose run drained the budget is told the same.
T_JSON="$neighbour_json"
echo "  facts: neighbour: $(verdict_facts)"
t_check "neighbour: report validates against $T_SCHEMA" t_report_valid
t_check "neighbour: no protocol is outbound_only or blocked (got '$(blamed_network)')" t_eq "$(blamed_network)" ""
t_check "neighbour: every protocol that did not pass is inconclusive with reflector_limited (not: '$(unexplained)')" \
	t_eq "$(unexplained)" ""
if [[ $T_FAILS -ne 0 ]]; then
	echo "  --- neighbour log ---"
	sed 's/^/  | /' "$LAB_STATE_DIR/neighbour.log" 2>/dev/null || true
fi
t_finish
