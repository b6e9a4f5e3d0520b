#!/usr/bin/env bash
# agreement_openvpn_lossy.sh — through profile "lossy" (home NAT that drops 15 % of
# the forwarded packets at random, each direction; LAB_LOSS_PERCENT changes it)
# a real openvpn (UDP 1194, TLS) tunnel comes up and carries a ping,
# so vpncheck's openvpn verdict must be pass or inconclusive, never a failing one
# (see agreement_lossy_main in lib/agreement.sh).
set -euo pipefail
# shellcheck source=lib/agreement.sh
source "$(dirname "$0")/lib/agreement.sh"
agreement_lossy_main openvpn lossy
