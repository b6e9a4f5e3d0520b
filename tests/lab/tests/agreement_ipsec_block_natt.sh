#!/usr/bin/env bash
# agreement_ipsec_block_natt.sh — vpncheck's ipsec verdict through profile "block-natt" must agree with a
# real strongSwan IKEv2 tunnel (real/strongswan.sh) through the same profile (expected: TUNNEL_DOWN).
#
# UDP 4500 dropped: IKE_SA_INIT on UDP 500 works and both peers detect the
# NAT, strongSwan moves to UDP 4500 for IKE_AUTH and never gets an answer.
# vpncheck: behind NAT without NAT-T -> not pass (advice names UDP 4500).
set -euo pipefail
# shellcheck source=lib/agreement.sh
source "$(dirname "$0")/lib/agreement.sh"
agreement_main ipsec block-natt TUNNEL_DOWN
