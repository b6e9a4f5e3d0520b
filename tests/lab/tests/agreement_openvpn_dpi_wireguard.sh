#!/usr/bin/env bash
# agreement_openvpn_dpi_wireguard.sh — vpncheck's openvpn verdict through profile "dpi-wireguard" must agree with a
# real openvpn tunnel through the same profile (expected: TUNNEL_UP).
set -euo pipefail
# shellcheck source=lib/agreement.sh
source "$(dirname "$0")/lib/agreement.sh"
agreement_main openvpn dpi-wireguard TUNNEL_UP
