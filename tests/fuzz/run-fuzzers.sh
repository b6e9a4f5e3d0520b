#!/usr/bin/env bash
# Build the libFuzzer targets with Clang in their own build directory and run
# each for SECONDS (default 60). Crashes, leaks, timeouts and OOMs are copied
# to tests/fuzz/regressions/<target>/, where the fuzz_replay_* unit tests pick
# them up; commit them with the fix.
#
#   tests/fuzz/run-fuzzers.sh 20
#   FUZZ_BUILD_DIR=/tmp/bf CXX=clang++-14 tests/fuzz/run-fuzzers.sh 600
#
# The committed seed corpus is read, never written: new inputs go to a working
# corpus under the build directory, kept between runs.
set -euo pipefail

seconds=${1:-60}
if ! [[ $seconds =~ ^[0-9]+$ ]] || (( seconds < 1 )); then
  echo "usage: $0 SECONDS" >&2
  exit 2
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
targets=(fuzz_probe_parsers fuzz_observation_json fuzz_control_api fuzz_ipsec fuzz_pptp_l2tp fuzz_port_mapping
  fuzz_pptp_server)

cxx=${CXX:-}
if [[ -z $cxx || $cxx != *clang* ]]; then
  cxx=$(command -v clang++ || command -v clang++-14 || true)
fi
if [[ -z $cxx ]]; then
  echo "libFuzzer needs clang++ (apt-get install clang-14 libclang-rt-14-dev)" >&2
  exit 2
fi

cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target "${targets[@]}"

status=0
for target in "${targets[@]}"; do
  work=$build/fuzz-work/$target
  mkdir -p "$work/corpus" "$work/artifacts"
  rm -f "$work/artifacts"/*
  echo "== $target: ${seconds}s"
  # -max_total_time bounds the run; timeout(1) is a backstop should the
  # target hang in a way libFuzzer's own -timeout does not catch.
  rc=0
  timeout --kill-after=10 $((seconds + 60)) \
    "$build/tests/fuzz/$target" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$work/artifacts/" \
      "$work/corpus" "$here/corpus/$target" \
      >"$work/log" 2>&1 || rc=$?
  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+.*DONE' "$work/log" || true
  shopt -s nullglob
  found=("$work/artifacts"/crash-* "$work/artifacts"/leak-* "$work/artifacts"/timeout-* "$work/artifacts"/oom-*)
  shopt -u nullglob
  if (( rc != 0 || ${#found[@]} > 0 )); then
    status=1
    echo "!! $target failed (exit $rc); log: $work/log"
    grep -E 'ERROR|FUZZ_CHECK|runtime error|SUMMARY' "$work/log" | head -n 10 || true
    mkdir -p "$here/regressions/$target"
    for artifact in "${found[@]}"; do
      cp "$artifact" "$here/regressions/$target/"
      echo "   saved regressions/$target/$(basename "$artifact")"
    done
  fi
done
exit $status
