#!/usr/bin/env bash
# agreement_ipsec_block_esp.sh — vpncheck's ipsec verdict through profile "block-esp" must agree with a
# real strongSwan IKEv2 tunnel (real/strongswan.sh) through the same profile (expected: TUNNEL_UP).
#
# Raw ESP (IP protocol 50) is dropped, UDP 500/4500 pass. strongSwan with
# kernel-libipsec never sends raw ESP (always ESP-in-UDP), and behind NAT a
# real client would use NAT-T anyway, so the tunnel works. vpncheck's rule:
# behind NAT, IKE + NAT-T suffice (raw ESP is not needed) -> pass, with raw
# ESP reported blocked. The raw-ESP part is judged by the reflector's own
# observations in vpncheck's lab test, not by real software.
set -euo pipefail
# shellcheck source=lib/agreement.sh
source "$(dirname "$0")/lib/agreement.sh"
agreement_main ipsec block-esp TUNNEL_UP
