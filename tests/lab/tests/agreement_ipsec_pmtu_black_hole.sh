#!/usr/bin/env bash
# agreement_ipsec_pmtu_black_hole.sh — through "pmtu-black-hole" (1280-byte
# uplink, no ICMP "fragmentation needed") vpncheck says IPsec is `restricted`
# (full_size_packets_dropped) and advises an inner MTU of 1192. Real strongSwan
# through the same profile agrees: IKE works and the tunnel carries small
# pings, but its full-size packets (kernel-libipsec's TUN MTU 1400: a
# 1372-byte ping) leave in UDP 4500 with DF set (its userspace ESP keeps the
# system's path MTU discovery) and are lost, while packets of vpncheck's inner
# MTU (a 1164-byte ping fills 1192) pass.
set -euo pipefail
# shellcheck source=lib/agreement.sh
source "$(dirname "$0")/lib/agreement.sh"
t_init "agreement pmtu-black-hole: vpncheck ipsec restricted; real strongSwan loses full-size packets"
agreement_need_real ipsec strongswan
t_need_python_jsonschema

t_start pmtu-black-hole
t_vpncheck --protocols ipsec
advice="$(t_json "' | '.join(proto('ipsec').get('advice', []))" 2>/dev/null || true)"
echo "  facts: vpncheck ipsec=$(t_verdict ipsec); advice: $advice"
t_check "vpncheck: ipsec restricted" t_eq "$(t_verdict ipsec)" restricted
t_check "vpncheck: full_size_packets_dropped" \
	t_eq "$(t_json "'full_size_packets_dropped' in proto('ipsec').get('findings', [])")" true
t_check "vpncheck: advice names an inner MTU of 1192" bash -c '[[ "$1" == *"inner MTU of 1192"* ]]' _ "$advice"
[[ $T_FAILS -eq 0 ]] || t_show_run
lab_reflector_stop
lab_down

agreement_strongswan_full_size pmtu-black-hole
t_finish
