#!/usr/bin/env bash
# agreement_l2tp_lossy.sh — through profile "lossy" (15 % random loss each way) real xl2tpd's
# retransmissions bring its control connection and a call up; vpncheck must then not call l2tp
# failing: `pass`, or `inconclusive` when the losses leave its evidence too weak.
set -euo pipefail
# shellcheck source=lib/agreement.sh
source "$(dirname "$0")/lib/agreement.sh"
agreement_lossy_main l2tp lossy
