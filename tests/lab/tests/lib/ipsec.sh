# shellcheck shell=bash
# ipsec.sh — helpers for the IPsec lab tests (source after common.sh).

# t_ipsec_piece PIECE EXPR -> EXPR evaluated with `p` = the genuine IPv4 probe
# of the ipsec piece PIECE (ikev2, ikev1, nat-t, esp, ah, ike-large).
t_ipsec_piece() {
	t_json "(lambda p: $2)(next((q for q in proto('ipsec').get('probes', []) if q.get('piece') == '$1' and q.get('kind') == 'genuine' and q.get('family', 'ipv4') == 'ipv4'), {}))" 2>/dev/null || true
}

# t_ipsec_has_finding CODE -> "true"/"false"
t_ipsec_has_finding() { t_json "'$1' in proto('ipsec').get('findings', [])" 2>/dev/null || true; }

# t_ipsec_advice_has TEXT -> "true"/"false": some advice line contains TEXT.
t_ipsec_advice_has() { t_json "any('$1' in a for a in proto('ipsec').get('advice', []))" 2>/dev/null || true; }

# t_ipsec_summary_has TEXT -> "true"/"false"
t_ipsec_summary_has() { t_json "'$1' in proto('ipsec').get('summary', '')" 2>/dev/null || true; }

# t_router_counter COMMENT -> packets counted by the router rule with that comment.
t_router_counter() {
	lab_exec router nft list ruleset | sed -n "s/.*counter packets \([0-9]*\).*$1.*/\1/p" | awk '{ s += $1 } END { print s + 0 }'
}

# The facts every IPsec test prints.
t_ipsec_facts() {
	echo "  facts: ipsec=$(t_verdict ipsec) findings=$(t_json "proto('ipsec').get('findings', [])" 2>/dev/null)"
	echo "  facts: summary: $(t_json "proto('ipsec').get('summary', '')" 2>/dev/null)"
	echo "  facts: advice: $(t_json "proto('ipsec').get('advice', [])" 2>/dev/null)"
	t_probe_table ipsec
}

# t_ipsec_piece_in FAMILY PIECE EXPR -> EXPR evaluated with `p` = the genuine
# probe of the ipsec piece PIECE over FAMILY (ipv4|ipv6).
t_ipsec_piece_in() {
	t_json "(lambda p: $3)(next((q for q in proto('ipsec').get('probes', []) if q.get('piece') == '$2' and q.get('kind') == 'genuine' and q.get('family', 'ipv4') == '$1'), {}))" 2>/dev/null || true
}
