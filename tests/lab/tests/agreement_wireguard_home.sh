#!/usr/bin/env bash
# agreement_wireguard_home.sh — vpncheck's wireguard verdict through profile "home" must agree with a
# real wireguard tunnel through the same profile (expected: TUNNEL_UP).
set -euo pipefail
# shellcheck source=lib/agreement.sh
source "$(dirname "$0")/lib/agreement.sh"
agreement_main wireguard home TUNNEL_UP
