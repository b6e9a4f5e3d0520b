#!/usr/bin/env bash
# agreement_l2tp_block_l2tp.sh — profile "block-l2tp" drops UDP 1701: real xl2tpd's control
# connection never comes up (TUNNEL_DOWN), and vpncheck must not say l2tp passes.
set -euo pipefail
# shellcheck source=lib/agreement.sh
source "$(dirname "$0")/lib/agreement.sh"
agreement_main l2tp block-l2tp TUNNEL_DOWN
