#!/usr/bin/env bash
# agreement_openvpn_web_only.sh — vpncheck's openvpn verdict through profile "web-only" must agree with a
# real openvpn tunnel through the same profile (expected: TUNNEL_DOWN).
set -euo pipefail
# shellcheck source=lib/agreement.sh
source "$(dirname "$0")/lib/agreement.sh"
agreement_main openvpn web-only TUNNEL_DOWN
