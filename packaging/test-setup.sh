#!/usr/bin/env bash
# Checks the README's two set-up commands as a new user meets them:
#  - no command in the README's set-up block starts with sudo (a fresh Debian
#    has none; the README says "as root");
#  - .ci/run runs exactly the README's test command;
#  - the main command's build (packaging/build.sh --programs, as
#    packaging/try-vpncheck.sh calls it) builds vpncheck and vpncheck-reflector
#    and nothing else, while the test command's build (packaging/build.sh) still
#    builds the unit tests, fuzz replays and benchmarks.
# Usage: test-setup.sh. Configures two scratch build directories (no compiling).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

# The fenced block under "## Set-up".
setup_block=$(awk '/^## Set-up/ { in_section = 1; next } /^## / { in_section = 0 }
  in_section && /^```/ { fence = !fence; next } in_section && fence' "$repo/README.md")
[[ -n "$setup_block" ]] || fail "README has no set-up command block"
if grep -qE '^\s*sudo\b' <<<"$setup_block"; then fail "README set-up commands use sudo"; else ok "no sudo in the set-up commands"; fi
grep -qE '^packaging/try-vpncheck\.sh\b' <<<"$setup_block" || fail "README's main command is not packaging/try-vpncheck.sh"
test_command=$(grep -oE '^tests/[^ ]+' <<<"$setup_block" | head -n 1)
[[ -n "$test_command" ]] || fail "README names no test command"
if grep -qE "^exec bash $test_command\$" "$repo/.ci/run"; then ok ".ci/run runs $test_command"; else fail ".ci/run does not run the README's test command ($test_command)"; fi
grep -q 'build.sh" --programs' "$repo/packaging/try-vpncheck.sh" || fail "try-vpncheck.sh does not build with --programs"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
plan() { VPNCHECK_BUILD_DIR="$work/$1" VPNCHECK_BUILD_DRY_RUN=1 "$repo/packaging/build.sh" "${@:2}"; }
if ! plan programs --programs >"$work/programs.txt" 2>&1; then
  cat "$work/programs.txt"; fail "build.sh --programs could not configure"
fi
linked=$(grep -oE 'Linking CXX executable [^ ]+' "$work/programs.txt" | awk '{ print $4 }' | sort | tr '\n' ' ')
if [[ "$linked" == "vpncheck vpncheck-reflector " ]]; then ok "the main command builds only: $linked"
else fail "the main command builds executables: ${linked:-none} (want: vpncheck vpncheck-reflector)"; fi
if ! plan all >"$work/all.txt" 2>&1; then
  cat "$work/all.txt"; fail "build.sh could not configure"
fi
for want in client_tests fuzz_replay_probe_parsers reflector_bench vpncheck vpncheck-reflector; do
  grep -qE "Linking CXX executable ([^ ]*/)?$want\$" "$work/all.txt" || fail "the test command's build lacks $want"
done
((failures == 0)) || exit 1
ok "the test command's build still has the unit tests, fuzz replays and benchmarks"
