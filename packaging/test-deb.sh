#!/usr/bin/env bash
# Packaging test: cpack -G DEB from the build tree, then check with dpkg-deb
# that the package holds both binaries, the systemd unit, the man pages and
# the completions, and depends on the libraries the binaries link.
# Usage: test-deb.sh BUILD_DIR [CPACK]. Exit 77 (skip) without the Debian tools.
set -euo pipefail
build_dir=$1
cpack=${2:-cpack}
for tool in "$cpack" dpkg-deb dpkg-shlibdeps gzip; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not found"; exit 77; }
done
for bin in vpncheck vpncheck-reflector; do
  [[ -x $build_dir/$bin ]] || { echo "FAIL: $build_dir/$bin not built"; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! "$cpack" -G DEB --config "$build_dir/CPackConfig.cmake" -B "$work" >"$work/cpack.log" 2>&1; then
  cat "$work/cpack.log"
  echo "FAIL: cpack"
  exit 1
fi
shopt -s nullglob
debs=("$work"/*.deb)
[[ ${#debs[@]} -eq 1 ]] || { cat "$work/cpack.log"; echo "FAIL: expected one .deb, got ${#debs[@]}"; exit 1; }
deb=${debs[0]}
echo "built $(basename "$deb")"

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

contents=$(dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\./|/|')
for path in \
  /usr/bin/vpncheck \
  /usr/bin/vpncheck-reflector \
  /usr/lib/systemd/system/vpncheck-reflector.service \
  /usr/share/man/man1/vpncheck.1.gz \
  /usr/share/man/man8/vpncheck-reflector.8.gz \
  /usr/share/bash-completion/completions/vpncheck \
  /usr/share/bash-completion/completions/vpncheck-reflector \
  /usr/share/vpncheck/vpncheck.report.schema.json; do
  grep -qxF "$path" <<<"$contents" || fail "$path missing from the package"
done

info=$(dpkg-deb -I "$deb")
field() { sed -n "s/^ $1: //p" <<<"$info"; }
[[ $(field Package) == vpncheck ]] || fail "Package is '$(field Package)'"
[[ -n $(field Version) ]] || fail "no Version"
[[ -n $(field Architecture) ]] || fail "no Architecture"
depends=$(field Depends)
echo "Depends: $depends"
for lib in libc6 'libstdc\+\+6' 'libssl3|libssl3t64'; do
  grep -qE "(^|, )($lib)( |,|$)" <<<"$depends" || fail "Depends lacks $lib"
done

# What is inside must be what was built: the unit and man pages intact, the
# binaries runnable.
dpkg-deb -x "$deb" "$work/root"
unit=$work/root/usr/lib/systemd/system/vpncheck-reflector.service
for setting in DynamicUser=yes 'AmbientCapabilities=CAP_NET_BIND_SERVICE CAP_NET_RAW' \
  'CapabilityBoundingSet=CAP_NET_BIND_SERVICE CAP_NET_RAW' \
  NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
  'RestrictAddressFamilies=AF_INET AF_INET6' MemoryDenyWriteExecute=yes SystemCallFilter=@system-service \
  Restart=on-failure 'ExecStart=/usr/bin/vpncheck-reflector' SystemCallErrorNumber=EPERM ProcSubset=pid \
  MemoryMax= MemoryHigh= TasksMax=; do
  grep -q "^$setting" "$unit" || fail "unit lacks $setting"
done
gzip -dc "$work/root/usr/share/man/man8/vpncheck-reflector.8.gz" | grep -qF -- '\-\-rate\-limit' ||
  fail "vpncheck-reflector.8 does not document --rate-limit"
"$work/root/usr/bin/vpncheck-reflector" --version | grep -q vpncheck-reflector || fail "packaged reflector does not run"
"$work/root/usr/bin/vpncheck" --version >/dev/null || fail "packaged client does not run"
bash -n "$work/root/usr/share/bash-completion/completions/vpncheck" || fail "completion has a syntax error"

if ((failures > 0)); then
  echo "package contents:"
  echo "$contents"
  exit 1
fi
echo "PASS: $(basename "$deb") holds both binaries, the unit, the man pages and the completions"
