#!/usr/bin/env bash
# agreement_ipsec_block_ike.sh — vpncheck's ipsec verdict through profile "block-ike" must agree with a
# real strongSwan IKEv2 tunnel (real/strongswan.sh) through the same profile (expected: TUNNEL_DOWN).
#
# UDP 500 and 4500 dropped both ways: no IKE_SA_INIT gets through, strongSwan
# gives up after its retransmits; vpncheck must not say pass.
set -euo pipefail
# shellcheck source=lib/agreement.sh
source "$(dirname "$0")/lib/agreement.sh"
agreement_main ipsec block-ike TUNNEL_DOWN
