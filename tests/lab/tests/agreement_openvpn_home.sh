#!/usr/bin/env bash
# agreement_openvpn_home.sh — vpncheck's openvpn verdict through profile "home" must agree with a
# real openvpn tunnel through the same profile (expected: TUNNEL_UP).
set -euo pipefail
# shellcheck source=lib/agreement.sh
source "$(dirname "$0")/lib/agreement.sh"
agreement_main openvpn home TUNNEL_UP
