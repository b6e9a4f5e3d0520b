#!/usr/bin/env python3
"""A captive portal's web server for the lab's "captive-portal" profile.

The router redirects every web request its LAN sends (TCP 80, whatever the
destination) here, as hotel and airport portals do. Any path but the login
page gets "302 Found" to the login page; the login page is a small HTML form.
Usage: portal.py PORT LOGIN_URL
"""
import http.server
import sys

PORT = int(sys.argv[1])
LOGIN_URL = sys.argv[2]
LOGIN_PATH = "/" + LOGIN_URL.split("/", 3)[3] if LOGIN_URL.count("/") >= 3 else "/"


class Portal(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the standard library's name)
        if self.path.split("?")[0] == LOGIN_PATH.split("?")[0]:
            body = (
                "<!DOCTYPE html><html><head><title>Guest Wi-Fi</title></head><body>"
                '<form method="post" action="' + LOGIN_PATH + '">'
                "<input name=accept type=checkbox> I accept the terms "
                "<input type=submit value=Connect></form></body></html>"
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(302)
        self.send_header("Location", LOGIN_URL)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, fmt, *args):
        sys.stderr.write("portal: " + (fmt % args) + "\n")


http.server.ThreadingHTTPServer(("0.0.0.0", PORT), Portal).serve_forever()
