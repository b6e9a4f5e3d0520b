#!/usr/bin/env bash
# run-lab-tests.sh [NAME...] — run the lab tests by hand (CI uses ctest -L lab).
# NAME is a test script name without .sh (e.g. home agreement_openvpn_home);
# default: every tests/*.sh. Prints one summary line per test and exits 1 if
# any test failed (skips are not failures).
#
# Env: VPNCHECK_BUILD_DIR (default <repo>/build), LAB_KEEP=1 to keep logs.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
PER_TEST_LIMIT=300 # same as the CTest TIMEOUT

main() {
	local tests=() t
	if [[ $# -gt 0 ]]; then
		for t in "$@"; do tests+=("$HERE/tests/${t%.sh}.sh"); done
	else
		tests=("$HERE"/tests/*.sh)
	fi

	local pass=0 fail=0 skip=0 rc start secs summary=()
	for t in "${tests[@]}"; do
		[[ -f "$t" ]] || { echo "no such test: $t" >&2; exit 2; }
		echo "=== $(basename "$t" .sh)"
		start=$(date +%s.%N)
		rc=0
		timeout -k 10 "$PER_TEST_LIMIT" bash "$t" || rc=$?
		secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
		case $rc in
		0) pass=$((pass + 1)); summary+=("PASS  ${secs}s  $(basename "$t" .sh)") ;;
		77) skip=$((skip + 1)); summary+=("SKIP  ${secs}s  $(basename "$t" .sh)") ;;
		124 | 137) fail=$((fail + 1)); summary+=("FAIL  ${secs}s  $(basename "$t" .sh) (killed after ${PER_TEST_LIMIT}s)") ;;
		*) fail=$((fail + 1)); summary+=("FAIL  ${secs}s  $(basename "$t" .sh) (exit $rc)") ;;
		esac
	done

	echo
	echo "=== summary"
	printf '%s\n' "${summary[@]}"
	echo "$pass passed, $fail failed, $skip skipped"
	[[ $fail -eq 0 ]]
}

main "$@"
