#!/usr/bin/env bash
# agreement_wireguard_web_only.sh — vpncheck's wireguard verdict through profile "web-only" must agree with a
# real wireguard tunnel through the same profile (expected: TUNNEL_DOWN).
set -euo pipefail
# shellcheck source=lib/agreement.sh
source "$(dirname "$0")/lib/agreement.sh"
agreement_main wireguard web-only TUNNEL_DOWN
