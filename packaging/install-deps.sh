#!/usr/bin/env bash
# Installs every Debian package vpncheck needs to build, test and run its lab.
# Idempotent: only missing packages are installed (apt-get update first).
set -euo pipefail

BUILD_PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache
  libboost1.81-dev        # Asio + Beast; 1.81 for as_tuple and awaitable operators
  libtins-dev             # raw IP packets (ESP/AH/GRE probes)
  libcli11-dev nlohmann-json3-dev libssl-dev
  libgtest-dev libbenchmark-dev
)
LAB_PACKAGES=(
  iproute2 nftables conntrack iputils-ping procps
  openvpn wireguard-go wireguard-tools openssl   # real software the verdicts are checked against
  strongswan-charon strongswan-swanctl libcharon-extra-plugins   # real IPsec (IKEv2, kernel-libipsec ESP over TUN)
  python3 python3-jsonschema                     # lab assertions and report-schema validation
  miniupnpd                                      # UPnP IGD / NAT-PMP / PCP gateway for the port-mapping lab tests
  tcpdump                                        # router LAN/WAN captures kept as evidence when a lab test fails
)

missing=()
for pkg in "${BUILD_PACKAGES[@]}" "${LAB_PACKAGES[@]}"; do
  [[ "$pkg" == \#* ]] && continue
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all packages present"
  exit 0
fi

if [[ $EUID -ne 0 ]]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (sudo $0) to install them" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
