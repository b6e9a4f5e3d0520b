#!/usr/bin/env bash
# agreement_wireguard_dpi_wireguard.sh — vpncheck's wireguard verdict through profile "dpi-wireguard" must agree with a
# real wireguard tunnel through the same profile (expected: TUNNEL_DOWN).
set -euo pipefail
# shellcheck source=lib/agreement.sh
source "$(dirname "$0")/lib/agreement.sh"
agreement_main wireguard dpi-wireguard TUNNEL_DOWN
