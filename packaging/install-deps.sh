#!/usr/bin/env bash
# Installs the Debian packages vpncheck needs (apt-get update first), only those
# that are missing.
#   install-deps.sh            -> everything: build, unit tests, benchmarks, the lab
#                                 with its real VPN software, the HTML report's
#                                 browser test (chromium, optional: skipped if it
#                                 cannot be installed)
#   install-deps.sh --programs -> only what building vpncheck and vpncheck-reflector
#                                 and running the lab demo need (packaging/try-vpncheck.sh)
set -euo pipefail

mode=all
case "${1:-}" in
  --programs) mode=programs ;;
  "") ;;
  *) echo "usage: $0 [--programs]" >&2; exit 2 ;;
esac

PROGRAM_PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache
  libboost1.81-dev        # Asio + Beast; 1.81 for as_tuple and awaitable operators
  libtins-dev             # raw IP packets (ESP/AH/GRE probes)
  libcli11-dev nlohmann-json3-dev libssl-dev
)
DEMO_PACKAGES=(
  iproute2 nftables procps   # the lab's namespaces, router rulesets, sysctls
)
TEST_PACKAGES=(
  libgtest-dev libbenchmark-dev
  conntrack iputils-ping
  openvpn wireguard-go wireguard-tools openssl   # real software the verdicts are checked against
  strongswan-charon strongswan-swanctl libcharon-extra-plugins   # real IPsec (IKEv2, kernel-libipsec ESP over TUN)
  python3 python3-jsonschema                     # lab assertions and report-schema validation
  miniupnpd                                      # UPnP IGD / NAT-PMP / PCP gateway for the port-mapping lab tests
  tayga                                          # NAT64 (stateless IPv6/IPv4 translator) of the nat64 lab profile
  xl2tpd                                         # real L2TP (control connection and call; no kernel PPP for data)
  tcpdump                                        # router LAN/WAN captures kept as evidence when a lab test fails
)
# Large and not needed to build anything: the HTML report's rendering test
# skips without it, so a failure to install it is not fatal.
OPTIONAL_TEST_PACKAGES=(chromium)

wanted=("${PROGRAM_PACKAGES[@]}" "${DEMO_PACKAGES[@]}")
optional=()
if [[ $mode == all ]]; then
  wanted+=("${TEST_PACKAGES[@]}")
  optional+=("${OPTIONAL_TEST_PACKAGES[@]}")
fi

is_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}
missing=() missing_optional=()
for pkg in "${wanted[@]}"; do
  is_installed "$pkg" || missing+=("$pkg")
done
for pkg in "${optional[@]}"; do
  is_installed "$pkg" || missing_optional+=("$pkg")
done

if ((${#missing[@]} == 0 && ${#missing_optional[@]} == 0)); then
  echo "install-deps: all packages present"
  exit 0
fi

if [[ $EUID -ne 0 ]]; then
  if ((${#missing[@]} == 0)); then
    echo "install-deps: optional packages missing (their tests skip): ${missing_optional[*]}" >&2
    exit 0
  fi
  echo "install-deps: missing packages: ${missing[*]} ${missing_optional[*]}" >&2
  echo "install-deps: run this as root to install them: $0 $*" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
if ((${#missing[@]} > 0)); then
  echo "install-deps: installing ${missing[*]}"
  apt-get install -y -q --no-install-recommends "${missing[@]}"
  # The lab runs these daemons itself, inside its own namespaces; a package
  # just installed for that must not leave a system service listening on
  # this machine (xl2tpd would on UDP 1701).
  if [[ -d /run/systemd/system ]]; then
    for pkg in "${missing[@]}"; do
      case "$pkg" in
      xl2tpd | miniupnpd | tayga)
        if systemctl is-enabled --quiet "$pkg" 2>/dev/null || systemctl is-active --quiet "$pkg" 2>/dev/null; then
          echo "install-deps: $pkg is used by the lab only: stopping and disabling its system service"
          systemctl disable --now "$pkg" >/dev/null 2>&1 || true
        fi
        ;;
      esac
    done
  fi
fi
if ((${#missing_optional[@]} > 0)); then
  echo "install-deps: installing ${missing_optional[*]} (optional)"
  apt-get install -y -q --no-install-recommends "${missing_optional[@]}" ||
    echo "install-deps: could not install ${missing_optional[*]}; the tests that need them skip" >&2
fi
