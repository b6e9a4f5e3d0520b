# shellcheck shell=bash
# common.sh — shared helpers for the lab tests in this directory.
# Sourced by every test; a test exits 0 (PASS), 1 (FAIL) or 77 (SKIP, with
# the reason printed) so CTest's SKIP_RETURN_CODE works.
#
# Usage in a test:
#   source "$(dirname "$0")/lib/common.sh"
#   t_init "home"                 # name shown in PASS/FAIL lines; sets EXIT trap
#   t_need_bins                   # skip unless vpncheck binaries exist
#   lab_up home; lab_reflector_start
#   t_vpncheck --protocols wireguard,openvpn   # -> T_RC, T_JSON, T_OUT, T_ERR, T_SECS
#   t_check "wireguard verdict is pass" [ "$(t_verdict wireguard)" = pass ]
#   t_finish

T_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../lab.sh
source "$T_DIR/../../lab.sh"

T_NAME=""
T_FAILS=0
T_CHECKS=0
T_WORK=""
T_RC=""
T_JSON=""
T_OUT=""
T_ERR=""
T_SECS=""
# The distribution's python3 (with python3-jsonschema) is preferred: it starts
# ~10x faster than a pyenv shim found first on PATH, and tests call it often.
if [[ -n "${PYTHON:-}" ]]; then
	T_PY="$PYTHON"
elif [[ -x /usr/bin/python3 ]]; then
	T_PY=/usr/bin/python3
else
	T_PY=python3
fi
T_SCHEMA="$LAB_REPO/src/report/vpncheck.report.schema.json"

# Cleanup for every test: the lab (processes + namespaces) and the work dir.
_t_cleanup() {
	local rc=$?
	lab_down || true
	if [[ -n "$T_WORK" && "${LAB_KEEP:-0}" != 1 ]]; then
		rm -rf -- "$T_WORK"
	fi
	exit "$rc"
}

t_init() {
	T_NAME="$1"
	lab_require_root
	T_WORK="$(mktemp -d "${TMPDIR:-/tmp}/vpnc-test-XXXXXX")"
	# Every lab this test (or a real/*.sh script it runs) builds leaves its
	# logs and captures here when it goes down: the evidence t_evidence shows.
	export LAB_STASH_DIR="$T_WORK/labs"
	trap _t_cleanup EXIT
	# Turn SIGINT/SIGTERM into a normal exit so the EXIT trap cleans up.
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

t_skip() {
	echo "SKIP: $T_NAME: $*"
	exit 77
}

# Setup errors are failures of the test, not skips.
t_fatal() {
	echo "FAIL: $T_NAME: $*"
	t_evidence
	exit 1
}

# t_evidence -> after a failure: takes the lab down (which stashes its logs and
# captures), prints, per lab the test built, the tail of the reflector's debug
# log and of the router's LAN/WAN captures, and keeps everything (reports
# included) in $LAB_FAILURE_DIR (default /var/tmp/vpnc-lab-failures; the 30
# newest are kept). Never fails.
t_evidence() {
	lab_down >/dev/null 2>&1 || true
	[[ -n "$T_WORK" && -d "$T_WORK/labs" ]] || return 0
	local d f lines
	echo "  --- evidence (labs this test built) ---"
	for d in "$T_WORK"/labs/*/; do
		[[ -d "$d" ]] || continue
		echo "  lab $(basename "$d") (profile $(cat "$d/profile" 2>/dev/null || echo '?')$([[ -r "$d/loss_percent" ]] && echo ", loss $(cat "$d/loss_percent")%"))"
		if [[ -s "$d/reflector.log" ]]; then
			lines="$(wc -l <"$d/reflector.log")"
			echo "  reflector log ($lines lines; the last 300):"
			tail -n 300 "$d/reflector.log" | sed 's/^/    reflector| /' || true
		fi
		for f in "$d"/router-lan.pcap "$d"/router-wan.pcap; do
			if [[ ! -s "$f" ]] || ! command -v tcpdump >/dev/null 2>&1; then continue; fi
			lines="$(tcpdump -nn -r "$f" 2>/dev/null | wc -l)" || true
			echo "  capture $(basename "$f" .pcap) ($lines packets; the last 200):"
			tcpdump -nn -tt -r "$f" 2>/dev/null | tail -n 200 | sed "s/^/    $(basename "$f" .pcap | sed 's/router-//')| /" || true
		done
	done
	local root="${LAB_FAILURE_DIR:-/var/tmp/vpnc-lab-failures}" keep
	keep="$root/$(date +%Y%m%d-%H%M%S)-$(basename "$0" .sh)-$$"
	if mkdir -p "$keep" 2>/dev/null; then
		cp -rp "$T_WORK"/labs "$keep"/ 2>/dev/null || true
		cp -p "$T_WORK"/*.json "$T_WORK"/*.txt "$keep"/ 2>/dev/null || true
		# shellcheck disable=SC2012 # names are ours: date-test-pid
		ls -1dt "$root"/*/ 2>/dev/null | tail -n +31 | while read -r f; do rm -rf -- "$f"; done || true
		echo "  evidence kept in $keep (reflector logs, router captures *.pcap, reports)"
	fi
	return 0
}

t_need_bins() {
	lab_have_bins || t_skip "vpncheck binaries not built in $(lab_build_dir) (set VPNCHECK_BUILD_DIR)"
}

t_need_python_jsonschema() {
	"$T_PY" -c 'import jsonschema' 2>/dev/null || t_skip "python3 jsonschema module missing"
}

# t_check DESCRIPTION CMD... -> run CMD; record and print the result.
t_check() {
	local what="$1"
	shift
	T_CHECKS=$((T_CHECKS + 1))
	if "$@"; then
		echo "  ok   - $what"
	else
		echo "  FAIL - $what"
		T_FAILS=$((T_FAILS + 1))
	fi
}

t_finish() {
	if [[ $T_FAILS -eq 0 ]]; then
		echo "PASS: $T_NAME ($T_CHECKS checks)"
		exit 0
	fi
	echo "FAIL: $T_NAME ($T_FAILS of $T_CHECKS checks failed)"
	t_evidence
	exit 1
}

# t_vpncheck ARGS... -> run vpncheck in the client ns against the reflector,
# bounded by `timeout`, with a JSON report. Sets T_RC (exit code), T_JSON
# (report path, may not exist), T_OUT / T_ERR (captured output files),
# T_SECS (wall-clock seconds). Never fails itself (so set -e is safe).
# Default reflector: $LAB_REFLECTOR_IP; pass --reflector yourself to override
# (T_NO_DEFAULT_REFLECTOR=1).
T_RUN=0
t_vpncheck() {
	T_RUN=$((T_RUN + 1))
	T_JSON="$T_WORK/report-$T_RUN.json"
	T_OUT="$T_WORK/stdout-$T_RUN.txt"
	T_ERR="$T_WORK/stderr-$T_RUN.txt"
	local args=()
	[[ "${T_NO_DEFAULT_REFLECTOR:-0}" == 1 ]] || args+=(--reflector "$LAB_REFLECTOR_IP")
	args+=(--json "$T_JSON" "$@")
	local start
	start="$(lab_now)"
	set +e
	lab_exec client timeout -k 5 "${T_VPNCHECK_LIMIT:-120}" "$(lab_bin vpncheck)" "${args[@]}" \
		>"$T_OUT" 2>"$T_ERR"
	T_RC=$?
	set -e
	T_SECS="$(lab_elapsed "$start")"
	echo "  ran  - vpncheck ${args[*]} -> exit $T_RC in ${T_SECS}s"
	if [[ $T_RC -eq 124 || $T_RC -eq 137 ]]; then
		echo "  NOTE - vpncheck was killed by the test's timeout (${T_VPNCHECK_LIMIT:-120}s)"
	fi
}

# t_show_run -> dump the captured output of the last run (on failure).
t_show_run() {
	echo "  --- vpncheck stdout ---"
	sed 's/^/  | /' "$T_OUT" 2>/dev/null || true
	echo "  --- vpncheck stderr ---"
	sed 's/^/  | /' "$T_ERR" 2>/dev/null || true
	if [[ -s "$T_JSON" ]]; then
		echo "  --- report ---"
		# Compact (one probe per line) so a failure log stays readable.
		"$T_PY" - "$T_JSON" <<'PYEOF' 2>/dev/null || head -c 20000 "$T_JSON"
import json, sys
r = json.load(open(sys.argv[1]))
protos = r.pop("protocols", [])
print("  | " + json.dumps(r, sort_keys=True)[:3000])
for p in protos:
    probes = p.pop("probes", [])
    print("  | protocol " + json.dumps(p, sort_keys=True)[:2000])
    for q in probes:
        print("  |   probe " + json.dumps(q, sort_keys=True)[:1500])
PYEOF
	fi
}

# t_json EXPR -> evaluate a python expression with `r` = the last report.
# Prints the result (str() of it; JSON for dict/list); returns 1 on error.
t_json() {
	"$T_PY" - "$T_JSON" "$1" <<'EOF'
import json, sys
try:
    with open(sys.argv[1]) as f:
        r = json.load(f)
except Exception as e:
    print(f"<no report: {e}>", file=sys.stderr)
    sys.exit(1)
def proto(name):
    for p in r.get("protocols", []):
        if p.get("protocol") == name:
            return p
    return {}
try:
    v = eval(sys.argv[2], {"r": r, "proto": proto})
except Exception as e:
    print(f"<error: {e!r}>", file=sys.stderr)
    sys.exit(1)
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)
EOF
}

# t_verdict PROTO -> the verdict of PROTO in the last report ("" if absent).
t_verdict() { t_json "proto('$1').get('verdict', '')" 2>/dev/null || true; }

# t_eq A B -> string equality as a command (for t_check).
t_eq() { [[ "$1" == "$2" ]]; }

# t_report_valid -> validate the last report against the project's schema.
# A missing schema file is a failure with a clear message (it is part of the
# product contract), not a skip.
t_report_valid() {
	if [[ ! -r "$T_SCHEMA" ]]; then
		echo "       schema file missing: $T_SCHEMA (the report cannot be validated)"
		return 1
	fi
	if [[ ! -s "$T_JSON" ]]; then
		echo "       no report written at $T_JSON"
		return 1
	fi
	"$T_PY" - "$T_SCHEMA" "$T_JSON" <<'EOF'
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
report = json.load(open(sys.argv[2]))
cls = jsonschema.validators.validator_for(schema)
try:
    cls.check_schema(schema)
except jsonschema.SchemaError as e:
    print(f"       the schema itself is invalid: {e.message}")
    sys.exit(1)
errors = sorted(cls(schema).iter_errors(report), key=lambda e: list(e.path))
for e in errors[:10]:
    print(f"       {'/'.join(map(str, e.path)) or '<root>'}: {e.message[:300]}")
sys.exit(1 if errors else 0)
EOF
}

# t_probe_table PROTO -> one line per probe of PROTO (for the log).
t_probe_table() {
	t_json "'\n'.join('       probe %-28s %-4s %-8s %s/%-5s out=%-5s in=%s' % (p.get('name'), p.get('family', ''), p.get('kind'), p.get('transport'), p.get('port'), p.get('outbound'), p.get('inbound')) for p in proto('$1').get('probes', []))" 2>/dev/null || true
}

# t_probe_field PROTO KIND TRANSPORT PORT FIELD -> FIELD of the first probe of
# PROTO matching kind/transport/port ("" if there is none).
t_probe_field() {
	t_json "next((p.get('$5') for p in proto('$1').get('probes', []) if p.get('kind') == '$2' and p.get('transport') == '$3' and int(p.get('port', -1)) == $4), '')" 2>/dev/null || true
}

# t_family_verdict PROTO FAMILY -> PROTO's verdict over FAMILY (ipv4|ipv6)
# from its "families" object ("" if that family was not tested).
t_family_verdict() { t_json "proto('$1').get('families', {}).get('$2', {}).get('verdict', '')" 2>/dev/null || true; }

# t_probe_field_in FAMILY PROTO KIND TRANSPORT PORT FIELD -> like
# t_probe_field, restricted to probes over FAMILY (ipv4|ipv6).
t_probe_field_in() {
	t_json "next((p.get('$6') for p in proto('$2').get('probes', []) if p.get('family') == '$1' and p.get('kind') == '$3' and p.get('transport') == '$4' and int(p.get('port', -1)) == $5), '')" 2>/dev/null || true
}

# t_data PROTO FAMILY PORT SIZE FIELD -> the data phase's count FIELD (sent,
# arrived, echoed) of SIZE (small, full) packets of the genuine probe of
# PROTO over FAMILY at PORT ("None" if no such probe ran a data phase).
t_data() {
	t_json "next((p['data_phase'].get('$4', {}).get('$5') for p in proto('$1').get('probes', []) if p.get('kind') == 'genuine' and p.get('family') == '$2' and int(p.get('port', -1)) == $3 and 'data_phase' in p), None)" 2>/dev/null || true
}

# t_advice_has PROTO TEXT -> true when some advice line of PROTO contains TEXT.
t_advice_has() { t_json "any('$2' in a for a in proto('$1').get('advice', []))" 2>/dev/null || true; }
# t_finding_of PROTO FINDING -> true when PROTO's findings include FINDING.
t_finding_of() { t_json "'$2' in proto('$1').get('findings', [])" 2>/dev/null || true; }

# t_report_exit_code_matches -> the report's exit_code equals the process's.
t_report_exit_code_matches() {
	[[ "$(t_json "r.get('exit_code')" 2>/dev/null)" == "$T_RC" ]]
}

# t_start PROFILE -> lab up + router capture (unless LAB_CAPTURE=0) +
# reflector running (fails the test if not).
t_start() {
	lab_up "$1" || t_fatal "could not build the lab with profile $1"
	[[ "${LAB_CAPTURE:-1}" == 0 ]] || lab_capture_start
	lab_reflector_start "${T_REFLECTOR_ARGS[@]}" || t_fatal "vpncheck-reflector did not become ready"
}
T_REFLECTOR_ARGS=()

# t_pptp_ocrq FIELD -> FIELD of the OCRQ the reflector recorded for the IPv4
# PPTP control probe ("" if none): call_id, original_call_id,
# call_id_rewritten, linux_pptp_helper, tcp_source_port.
t_pptp_ocrq() {
	t_json "next((m.get('$1', '') for p in proto('pptp').get('probes', []) if p.get('piece') == 'control' and p.get('kind') == 'genuine' and p.get('family', 'ipv4') == 'ipv4' for m in (p.get('observed_messages') or [p.get('observed_fields', {})]) if m.get('message_type') == 'OCRQ'), '')" 2>/dev/null || true
}

# t_pptp_piece PIECE FIELD -> FIELD of the IPv4 genuine probe of PPTP's PIECE (control|gre).
t_pptp_piece() {
	t_json "next((p.get('$2') for p in proto('pptp').get('probes', []) if p.get('piece') == '$1' and p.get('kind') == 'genuine' and p.get('family', 'ipv4') == 'ipv4'), '')" 2>/dev/null || true
}

# t_verdict_in VERDICT ALLOWED... -> VERDICT is one of ALLOWED (for t_check).
t_verdict_in() {
	local v="$1" a
	shift
	for a in "$@"; do [[ "$v" == "$a" ]] && return 0; done
	return 1
}
