#!/usr/bin/env bash
# agreement_ipsec_large_loss_down.sh — through "large-loss-down" (packets over
# 1300 bytes towards the LAN are dropped; uploads and small packets pass)
# vpncheck says IPsec is `restricted`: full-size data packets reach the
# reflector and their echoes never come back (full_size_packets_dropped,
# download_lost, not upload_lost). Real strongSwan through the same profile
# agrees: the tunnel comes up and carries small pings, a full-size ping
# (kernel-libipsec's TUN MTU 1400: 1372 bytes) goes out but its equally large
# answer is lost on the way back, and a ping within vpncheck's inner MTU
# (1164 bytes) passes both ways.
set -euo pipefail
# shellcheck source=lib/agreement.sh
source "$(dirname "$0")/lib/agreement.sh"
t_init "agreement large-loss-down: vpncheck ipsec restricted (download lost); real strongSwan loses large answers"
agreement_need_real ipsec strongswan
t_need_python_jsonschema

has() { t_json "'$1' in proto('ipsec').get('findings', [])" 2>/dev/null || true; }
t_start large-loss-down
t_vpncheck --protocols ipsec
echo "  facts: vpncheck ipsec=$(t_verdict ipsec) findings=$(t_json "proto('ipsec').get('findings', [])" 2>/dev/null)"
t_check "vpncheck: ipsec restricted" t_eq "$(t_verdict ipsec)" restricted
t_check "vpncheck: full_size_packets_dropped" t_eq "$(has full_size_packets_dropped)" true
t_check "vpncheck: download_lost" t_eq "$(has download_lost)" true
t_check "vpncheck: not upload_lost" t_eq "$(has upload_lost)" false
[[ $T_FAILS -eq 0 ]] || t_show_run
lab_reflector_stop
lab_down

agreement_strongswan_full_size large-loss-down
t_finish
