#!/usr/bin/env bash
# html_report.sh — vpncheck --html through the "home" lab, rendered by headless
# Chromium: the screenshot is a real picture (a PNG of more than one colour)
# and the page's text (its DOM) has every protocol's title, verdict, summary
# and advice from the JSON report of the same run, and the addresses of the path.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
t_init "html_report: the HTML report renders in Chromium and matches the JSON"
t_need_bins
browser="$(command -v chromium || command -v chromium-browser || true)"
[[ -n "$browser" ]] || t_skip "chromium is not installed (packaging/install-deps.sh installs it; it could not here)"
T_REFLECTOR_ARGS=(--alt-address "$LAB_REFLECTOR_ALT_IP")
t_start home

html="$T_WORK/report.html"
t_vpncheck -4 --protocols wireguard,openvpn,pptp --html "$html"
t_check "vpncheck exits 0" t_eq "$T_RC" 0
t_check "the HTML report was written" test -s "$html"
t_check "the page fetches nothing (no src/href, no http(s) URL but the SVG namespace)" \
	bash -c "! grep -Eq 'src=|href=|url\\([^#]' '$html' && [[ -z \"\$(grep -Eo 'https?://[^\"]+' '$html' | grep -v '^http://www.w3.org/2000/svg\$')\" ]]"

# Chromium as root needs --no-sandbox; its profile stays in the test's directory.
render() {
	timeout -k 5 90 "$browser" --headless --no-sandbox --disable-gpu --no-first-run \
		--user-data-dir="$T_WORK/chromium" --window-size=1280,2400 "$@" "file://$html" 2>>"$T_WORK/chromium.log"
}
render --screenshot="$T_WORK/report.png" >/dev/null || true
render --dump-dom >"$T_WORK/dom.html" || true
t_check "Chromium took a screenshot" test -s "$T_WORK/report.png"
t_check "Chromium dumped the page's DOM" test -s "$T_WORK/dom.html"
t_check "screenshot is a picture and the page's text matches the JSON report" \
	"$T_PY" "$(dirname "$0")/lib/check_html_render.py" "$T_WORK/report.png" "$T_WORK/dom.html" "$T_JSON"
t_check "PPTP's GRE is drawn as lost on the way back (no passthrough behind home)" \
	grep -q "answer lost on the way back" "$T_WORK/dom.html"
if [[ $T_FAILS -ne 0 ]]; then
	t_show_run
	tail -n 20 "$T_WORK/chromium.log" | sed 's/^/  chromium| /'
fi
t_finish
