#!/usr/bin/env python3
"""dns64.py — the nat64 lab's DNS64 (RFC 6147): a resolver for the LAN that
knows a few IPv4-only names and, asked for AAAA, synthesizes them under the
NAT64 /96 prefix (RFC 6052 section 2.2). ipv4only.arpa has the two
well-known addresses of RFC 7050 section 2.2. Any other name: NXDOMAIN, so
nothing is ever forwarded out of the lab. One line per query on stdout.

usage: dns64.py LISTEN_ADDRESS PREFIX/96 NAME=IPV4[,IPV4...]...
"""
import ipaddress
import socket
import struct
import sys


def parse_name(msg, off):
    labels = []
    while True:
        n = msg[off]
        off += 1
        if n == 0:
            return ".".join(labels).lower(), off
        if n & 0xC0:
            raise ValueError("compressed name in a question")
        labels.append(msg[off:off + n].decode("ascii", "replace"))
        off += n


def answer(query, table, prefix):
    ident, flags, qd = struct.unpack("!HHH", query[:6])
    if flags & 0x8000 or qd != 1:
        return None
    name, off = parse_name(query, 12)
    qtype, qclass = struct.unpack("!HH", query[off:off + 4])
    question = query[12:off + 4]
    records = []
    rcode = 0
    if name not in table:
        rcode = 3
    elif qclass == 1 and qtype == 1:
        records = [ipaddress.IPv4Address(a).packed for a in table[name]]
    elif qclass == 1 and qtype == 28:
        records = [(prefix.network_address + int(ipaddress.IPv4Address(a))).packed for a in table[name]]
    head = struct.pack("!HHHHHH", ident, 0x8180 | rcode, 1, len(records), 0, 0)
    body = b"".join(struct.pack("!HHHIH", 0xC00C, qtype, 1, 60, len(r)) + r for r in records)
    return head + question + body, name, qtype, len(records), rcode


def main():
    listen, prefix = sys.argv[1], ipaddress.IPv6Network(sys.argv[2])
    if prefix.prefixlen != 96:
        sys.exit("dns64.py: only a /96 prefix is supported")
    table = {"ipv4only.arpa": ["192.0.0.170", "192.0.0.171"]}
    for item in sys.argv[3:]:
        name, addresses = item.split("=", 1)
        table[name.lower()] = addresses.split(",")
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.bind((listen, 53))
    print(f"dns64: listening on [{listen}]:53, prefix {prefix}", flush=True)
    while True:
        query, peer = sock.recvfrom(2048)
        try:
            out = answer(query, table, prefix)
        except (IndexError, ValueError, struct.error):
            continue
        if out is None:
            continue
        reply, name, qtype, count, rcode = out
        sock.sendto(reply, peer)
        print(f"query {name} type {qtype} from {peer[0]}: {count} answers, rcode {rcode}", flush=True)


if __name__ == "__main__":
    main()
