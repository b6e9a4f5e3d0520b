#!/usr/bin/env bash
# nat_home.sh — NAT behaviour behind the "home" profile (Linux masquerade):
# with the reflector's second address (--alt-address) the RFC 5780 tests
# decide everything: mapping endpoint-independent (conntrack reuses the
# mapping), filtering address-and-port-dependent (conntrack lets in only the
# exact peer), source ports kept. Without the second address the mapping
# cannot be told from address-dependent: it must stay null, with the tests
# that were not run listed — never a guess.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "nat_home: mapping/filtering/port preservation behind masquerade"
t_need_bins
t_need_python_jsonschema
T_REFLECTOR_ARGS=(--alt-address "$LAB_REFLECTOR_ALT_IP")
t_start home

t_vpncheck -4 --protocols wireguard
echo "  facts: nat=$(t_json "{k: v for k, v in r['nat'].items() if k != 'tests'}")"
t_check "report validates against the schema" t_report_valid
t_check "nat.mapping is endpoint_independent" t_eq "$(t_json "r['nat']['mapping']")" endpoint_independent
t_check "nat.filtering is address_and_port_dependent" t_eq "$(t_json "r['nat']['filtering']")" address_and_port_dependent
t_check "nat.port_preservation is true" t_eq "$(t_json "r['nat']['port_preservation']")" true
t_check "no NAT test was left out" t_eq "$(t_json "r['nat']['tests']['mapping']['not_run'] + r['nat']['tests']['filtering']['not_run']")" "[]"
t_check "text report has a NAT section in plain words" grep -q "endpoint-independent" "$T_OUT"
t_check "the NAT tests did not slow the run down (${T_SECS}s < 8s)" awk -v s="$T_SECS" 'BEGIN { exit !(s < 8) }'
t_check "hairpinning not tested without --hairpin (null)" t_eq "$(t_json "r['nat']['hairpinning']")" null
[[ $T_FAILS -eq 0 ]] || t_show_run

# --hairpin: a plain masquerade router does not hairpin (the packet to its own
# WAN address ends at the router).
t_vpncheck -4 --protocols wireguard --hairpin
t_check "--hairpin: nat.hairpinning is false behind masquerade" t_eq "$(t_json "r['nat']['hairpinning']")" false
t_check "--hairpin: the text report says it does not hairpin" grep -q "does not hairpin" "$T_OUT"
[[ $T_FAILS -eq 0 ]] || t_show_run

# The same network, a reflector with one address: only the one-address subset.
lab_reflector_stop
lab_reflector_start || t_fatal "vpncheck-reflector did not restart"
t_vpncheck -4 --protocols wireguard
echo "  facts: nat.tests=$(t_json "r['nat']['tests']")"
t_check "report validates against the schema (one address)" t_report_valid
t_check "nat.mapping is null without a second address" t_eq "$(t_json "r['nat']['mapping']")" null
t_check "mapping still possible: endpoint- or address-dependent" \
	t_eq "$(t_json "r['nat']['tests']['mapping']['possible']")" '["endpoint_independent", "address_dependent"]'
t_check "mapping.other_address listed as not run" \
	t_eq "$(t_json "r['nat']['tests']['mapping']['not_run']")" '["mapping.other_address"]'
t_check "filtering still decided: blocked from the other port means address-and-port-dependent" \
	t_eq "$(t_json "r['nat']['filtering']")" address_and_port_dependent
t_check "filtering.other_address listed as not run" \
	t_eq "$(t_json "r['nat']['tests']['filtering']['not_run']")" '["filtering.other_address"]'
t_check "text report says what was not tested" grep -q "Not tested" "$T_OUT"

[[ $T_FAILS -eq 0 ]] || t_show_run
t_finish
