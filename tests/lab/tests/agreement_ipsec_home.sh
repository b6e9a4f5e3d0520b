#!/usr/bin/env bash
# agreement_ipsec_home.sh — vpncheck's ipsec verdict through profile "home" must agree with a
# real strongSwan IKEv2 tunnel (real/strongswan.sh) through the same profile (expected: TUNNEL_UP).
#
# Plain NAT: strongSwan detects the NAT in IKE_SA_INIT (UDP 500) and moves to
# UDP 4500 (IKE_AUTH + ESP-in-UDP). vpncheck: IKE works and, behind NAT,
# NAT-T works -> pass.
set -euo pipefail
# shellcheck source=lib/agreement.sh
source "$(dirname "$0")/lib/agreement.sh"
agreement_main ipsec home TUNNEL_UP
