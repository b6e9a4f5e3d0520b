#!/usr/bin/env bash
# Manual check of packaging/Containerfile (not run by CI, which has no container
# engine): builds the image with podman, runs it, checks the control API and
# gets a real vpncheck report through it, then removes what it made.
#
#   packaging/test-container.sh             # as root; needs podman and build/vpncheck
#
# The client runs on the host but inside the container's own network namespace
# (--network=none: loopback only, via nsenter), so the reflector keeps its
# default ports (53, 80, 443, 500, ...) without touching the host's.
# Two runs:
#   1. the image as shipped: runs as nobody with only CAP_NET_BIND_SERVICE;
#      WireGuard, OpenVPN, IPsec (IKE, NAT-T) and L2TP must pass;
#   2. the raw-listener recipe from the Containerfile's header: started as root
#      with NET_RAW, it drops to nobody itself; PPTP (needs raw GRE) must pass too.
# A base image named in a FROM line that is not present (no registry here) is
# stood in for by a debootstrap --variant=minbase of this machine's Debian suite
# from the mirror its apt sources name, imported under that name.
#
# Environment: VPNCHECK_BUILD_DIR (default build/), KEEP_IMAGES=1 keeps the built
# image and stand-in base images. Exit: 0 ok, 1 failed, 77 skipped (with why).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${VPNCHECK_BUILD_DIR:-$repo/build}
containerfile=$repo/packaging/Containerfile
tag=localhost/vpncheck-reflector:test-container-$$
names=()      # containers started here
dangling_before="" # untagged images that existed before (not ours to remove)
made_bases=() # stand-in base images imported here
rootfs=""

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

[[ $EUID -eq 0 ]] || skip "needs root (rootful podman, and nsenter into the container's network namespace)"
command -v podman >/dev/null || skip "podman is not installed (apt-get install podman)"
command -v nsenter >/dev/null || skip "nsenter (util-linux) is not installed"
command -v python3 >/dev/null || skip "python3 is not installed"
[[ -x $build_dir/vpncheck ]] || skip "no $build_dir/vpncheck: build it first (ninja -C build vpncheck)"

cleanup() {
  local name image
  for name in "${names[@]}"; do podman rm -f -t 0 "$name" >/dev/null 2>&1 || true; done
  if [[ ${KEEP_IMAGES:-0} != 1 ]]; then
    podman rmi -f "$tag" >/dev/null 2>&1 || true
    for image in $(podman images -q --filter dangling=true 2>/dev/null); do # the build stage's
      [[ " $dangling_before " == *" $image "* ]] || podman rmi -f "$image" >/dev/null 2>&1 || true
    done
    for image in "${made_bases[@]}"; do podman rmi -f "$image" >/dev/null 2>&1 || true; done
  fi
  [[ -n $rootfs ]] && rm -rf "$rootfs"
  return 0
}
trap cleanup EXIT

# --- base images -------------------------------------------------------------
# shellcheck source=/dev/null
. /etc/os-release
suite=${VERSION_CODENAME:-}
[[ ${ID:-} == debian && -n $suite ]] || skip "stand-in base images need a Debian host (this is ${PRETTY_NAME:-unknown})"

mirror=$(
  { grep -hs -E '^\s*deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
      awk -v s="$suite" '$3 == s && $2 ~ /^https?:/ { print $2; exit }'
    for f in /etc/apt/sources.list.d/*.sources; do
      [[ -f $f ]] || continue
      awk -v s="$suite" 'BEGIN { RS = ""; FS = "\n" }
        { uri = ""; ok = 0
          for (i = 1; i <= NF; i++) {
            if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); uri = a[2] }
            if ($i ~ /^Suites:/ && (" " $i " ") ~ (" " s " ")) ok = 1
          }
          if (ok && uri ~ /^https?:/) { print uri; exit } }' "$f"
    done; } | head -n 1)

ensure_base() { # $1: image name from a FROM line
  local name=$1 full=$1
  podman image exists "$name" && return 0
  [[ $name == */* ]] || full=docker.io/library/$name
  podman image exists "$full" && return 0
  [[ $name =~ ^debian:${suite}(-slim)?$ ]] ||
    skip "base image $name is missing and no stand-in can be made for it here (host suite: $suite)"
  command -v debootstrap >/dev/null || skip "base image $name is missing and debootstrap is not installed"
  [[ -n $mirror ]] || skip "base image $name is missing and no http(s) mirror for $suite is in /etc/apt sources"
  if [[ -z $rootfs ]]; then
    rootfs=$(mktemp -d /tmp/vpncheck-base.XXXXXX)
    echo "== debootstrap --variant=minbase $suite (stand-in for $name)"
    debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 ||
      { tail -n 20 "$rootfs.log"; rm -f "$rootfs.log"; fail "debootstrap"; }
    rm -f "$rootfs.log"
    # The host's apt sources (with its security and updates suites) replace
    # debootstrap's one line; no downloaded packages or lists in the image.
    rm -f "$rootfs/etc/apt/sources.list"
    cp /etc/apt/sources.list "$rootfs/etc/apt/" 2>/dev/null || true
    for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
      [[ -f $f ]] && grep -qs -- "$mirror" "$f" && cp "$f" "$rootfs/etc/apt/sources.list.d/"
    done
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  fi
  echo "== import stand-in base image $full"
  tar --numeric-owner -C "$rootfs" -c . | podman import --quiet - "$full" >/dev/null
  made_bases+=("$full")
}

for base in $(awk 'toupper($1) == "FROM" { print $2 }' "$containerfile"); do
  ensure_base "$base"
done
first_base=$(awk 'toupper($1) == "FROM" { print $2; exit }' "$containerfile")

# --- engine quirks -----------------------------------------------------------
# crun refuses hybrid cgroup hosts (v1 controllers plus a v2 mount holding one)
# where runc works; podman's default RLIMIT_NOFILE/NPROC for root exceed the
# host's hard limits where root lacks CAP_SYS_RESOURCE. Try the plain engine
# first, then what those need, on a trivial container.
engine=()
ulimits=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit "nproc=4096:4096")
candidates=("" "ULIMITS")
command -v runc >/dev/null && candidates+=("--runtime runc" "--runtime runc ULIMITS")
found=0
for candidate in "${candidates[@]}"; do
  engine=(); run_opts=()
  for word in $candidate; do
    if [[ $word == ULIMITS ]]; then run_opts+=("${ulimits[@]}"); else engine+=("$word"); fi
  done
  if podman "${engine[@]}" run --rm --pull=never --network=none "${run_opts[@]}" "$first_base" true >/dev/null 2>&1; then
    found=1
    break
  fi
done
((found)) || skip "podman cannot run a container here: $(podman run --rm --pull=never --network=none "$first_base" true 2>&1 | tail -n 1)"
echo "== podman ${engine[*]:-(defaults)} ${run_opts[*]:-}"

# --- build -------------------------------------------------------------------
echo "== podman build -f packaging/Containerfile -t $tag"
dangling_before=$(podman images -q --filter dangling=true | tr '\n' ' ')
start=$SECONDS
podman "${engine[@]}" build --pull=never --network=host "${run_opts[@]}" \
  -f "$containerfile" -t "$tag" "$repo" >"/tmp/vpncheck-container-build.$$.log" 2>&1 ||
  { tail -n 40 "/tmp/vpncheck-container-build.$$.log"; fail "podman build (log: /tmp/vpncheck-container-build.$$.log)"; }
rm -f "/tmp/vpncheck-container-build.$$.log"
size=$(podman image inspect -f '{{.Size}}' "$tag")
echo "   built in $((SECONDS - start)) s, image $((size / 1000000)) MB"

# --- run and check -----------------------------------------------------------
# $1 name, $2 required protocols, $3 expected CapEff (hex), rest: podman run options, --, image args
check_run() {
  local name=$1 require=$2 want_caps=$3; shift 3
  local opts=() args=() pid health="" i
  while (($#)) && [[ $1 != -- ]]; do opts+=("$1"); shift; done
  (($#)) && shift
  args=("$@")
  names+=("$name")
  podman "${engine[@]}" run -d --name "$name" --pull=never --network=none "${run_opts[@]}" \
    "${opts[@]}" "$tag" "${args[@]}" >/dev/null
  pid=$(podman inspect -f '{{.State.Pid}}' "$name")
  [[ $pid =~ ^[1-9][0-9]*$ ]] || { podman logs "$name"; fail "$name did not start"; }
  # The control API on 8780 and on 80 (a privileged port: the capability works).
  for ((i = 0; i < 50; i++)); do
    health=$(nsenter --net="/proc/$pid/ns/net" bash -c \
      'exec 3<>/dev/tcp/127.0.0.1/80 && printf "GET /v1/health HTTP/1.0\r\nHost: x\r\n\r\n" >&3 && cat <&3' 2>/dev/null) && break
    sleep 0.1
  done
  [[ $health == *'"status":"ok"'* ]] || { podman logs "$name"; fail "$name: no /v1/health answer on TCP 80"; }
  nsenter --net="/proc/$pid/ns/net" bash -c \
    'exec 3<>/dev/tcp/127.0.0.1/8780 && printf "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n" >&3 && cat <&3' |
    grep -q '^vpncheck_reflector_sessions_open ' || fail "$name: no /metrics on TCP 8780"
  local uid caps
  uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")
  caps=$(awk '/^CapEff:/ { print $2 }' "/proc/$pid/status")
  [[ $uid == 65534 ]] || fail "$name: the reflector runs as uid $uid, not nobody (65534)"
  [[ $caps == "$want_caps" ]] || fail "$name: effective capabilities $caps, expected $want_caps"
  echo "   $name: serving, uid $uid, CapEff $caps"
  local report=/tmp/vpncheck-container-report.$$.json rc=0
  nsenter --net="/proc/$pid/ns/net" "$build_dir/vpncheck" --reflector 127.0.0.1 \
    --no-gateway-query --no-color --require "$require" --json "$report" >/dev/null || rc=$?
  python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
print("   verdicts: " + ", ".join(p["protocol"] + " " + p["verdict"] for p in r["protocols"]))' "$report" || true
  rm -f "$report"
  ((rc == 0)) || { podman logs "$name" 2>&1 | tail -n 20; fail "$name: vpncheck --require $require exited $rc"; }
  # SIGTERM stops it promptly and cleanly.
  start=$SECONDS
  podman stop -t 10 "$name" >/dev/null
  [[ $(podman inspect -f '{{.State.ExitCode}}' "$name") == 0 ]] || fail "$name: exit code after SIGTERM is not 0"
  ((SECONDS - start < 5)) || fail "$name: took $((SECONDS - start)) s to stop on SIGTERM"
  podman rm "$name" >/dev/null
}

echo "== run 1: the image as shipped (--cap-drop ALL --cap-add NET_BIND_SERVICE)"
check_run "vpncheck-ct1-$$" wireguard,openvpn,ipsec,l2tp 0000000000000400 \
  --cap-drop ALL --cap-add NET_BIND_SERVICE --

echo "== run 2: raw listeners (root start with NET_RAW, the reflector drops to nobody)"
check_run "vpncheck-ct2-$$" wireguard,openvpn,ipsec,l2tp,pptp 0000000000000000 \
  --user 0 --cap-drop ALL --cap-add NET_BIND_SERVICE,NET_RAW,SETUID,SETGID -- --user nobody

echo "PASS: container image builds, serves and answers vpncheck"
