#!/usr/bin/env bash
# agreement_l2tp_home.sh — vpncheck's l2tp verdict through profile "home" must agree with real
# xl2tpd through the same profile: its control connection and a call come up (TUNNEL_UP).
set -euo pipefail
# shellcheck source=lib/agreement.sh
source "$(dirname "$0")/lib/agreement.sh"
agreement_main l2tp home TUNNEL_UP
