#!/usr/bin/env python3
"""Checks a headless-Chromium rendering of vpncheck's HTML report against its JSON report.

usage: check_html_render.py SCREENSHOT.png DOM.html REPORT.json
Exits 1 with one line per problem: the screenshot is missing, empty or one
colour; the page's text lacks a protocol's title, verdict or summary, or the
addresses the path drawing shows.
"""
import html.parser
import json
import struct
import sys
import zlib


def png_pixels(path):
    """(width, height, set of distinct pixels) of an 8-bit RGB/RGBA PNG (no PIL needed)."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, width, height, colour_type = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour_type = struct.unpack(">IIBB", body[:10])
            if depth != 8 or colour_type not in (2, 6):
                raise ValueError("unexpected PNG format: depth %d colour type %d" % (depth, colour_type))
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    bpp = 4 if colour_type == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    colours = set()
    for y in range(height):
        row_start = y * (stride + 1)
        filt = raw[row_start]
        row = bytearray(raw[row_start + 1:row_start + 1 + stride])
        for i in range(stride):  # PNG filters (PNG spec section 9)
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if filt == 1:
                row[i] = (row[i] + a) & 0xFF
            elif filt == 2:
                row[i] = (row[i] + b) & 0xFF
            elif filt == 3:
                row[i] = (row[i] + (a + b) // 2) & 0xFF
            elif filt == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                row[i] = (row[i] + pred) & 0xFF
        if y % 8 == 0:  # a sample of rows is enough to tell one colour from a page
            for x in range(0, stride, bpp * 4):
                colours.add(bytes(row[x:x + 3]))
        prev = row
    return width, height, colours


class Text(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script", "title"):
            self.skip += 1

    def handle_endtag(self, tag):
        if tag in ("style", "script", "title"):
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def main():
    shot, dom_path, report_path = sys.argv[1:4]
    problems = []
    try:
        width, height, colours = png_pixels(shot)
        print("  screenshot: %dx%d, %d distinct colours in the sample" % (width, height, len(colours)))
        if width == 0 or height == 0:
            problems.append("the screenshot is empty")
        if len(colours) < 3:
            problems.append("the screenshot is (nearly) one colour: %d colours" % len(colours))
    except (OSError, ValueError, zlib.error) as e:
        problems.append("no usable screenshot: %s" % e)
    parser = Text()
    parser.feed(open(dom_path, encoding="utf-8").read())
    text = " ".join(" ".join(parser.parts).split())
    report = json.load(open(report_path, encoding="utf-8"))

    def need(what, value):
        if value and " ".join(value.split()) not in text:
            problems.append("the page's text lacks %s: %r" % (what, value))

    if not report.get("protocols"):
        problems.append("the JSON report has no protocols to compare")
    for p in report.get("protocols", []):
        need("the title of " + p["protocol"], p["title"])
        need("the verdict of " + p["protocol"], p["verdict"])
        need("the summary of " + p["protocol"], p["summary"])
        for advice in p.get("advice", []):
            need("advice of " + p["protocol"], advice)
    need("the local address", report["client"].get("local_address"))
    need("the public address", report["client"].get("public_address"))
    need("the reflector", report["reflector"].get("host"))
    for line in report["nat"].get("summary", []):
        need("a NAT line", line)
    for problem in problems:
        print("  " + problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
