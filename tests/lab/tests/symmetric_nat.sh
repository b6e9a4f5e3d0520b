#!/usr/bin/env bash
# symmetric_nat.sh — profile "symmetric-nat" (masquerade random,fully-random):
# every new flow gets a random external port, so the mapping seen from the
# reflector's second port and second address differs: nat.mapping must be
# address_and_port_dependent and port preservation false. WireGuard (client
# to server) still passes.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "symmetric_nat: mapping address-and-port-dependent"
t_need_bins
t_need_python_jsonschema
T_REFLECTOR_ARGS=(--alt-address "$LAB_REFLECTOR_ALT_IP")
t_start symmetric-nat

t_vpncheck -4 --protocols wireguard
echo "  facts: nat=$(t_json "{k: v for k, v in r['nat'].items() if k != 'tests'}")"
t_check "report validates against the schema" t_report_valid
t_check "nat.mapping is address_and_port_dependent" t_eq "$(t_json "r['nat']['mapping']")" address_and_port_dependent
t_check "nat.port_preservation is false" t_eq "$(t_json "r['nat']['port_preservation']")" false
t_check "nat.filtering is address_and_port_dependent" t_eq "$(t_json "r['nat']['filtering']")" address_and_port_dependent
t_check "wireguard still passes (got '$(t_verdict wireguard)')" t_eq "$(t_verdict wireguard)" pass
t_check "text report says the NAT picks a new port per destination" grep -q "new external port per destination" "$T_OUT"

[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
