#!/usr/bin/env python3
"""A minimal NAT-PMP responder (RFC 6886) for the double-NAT lab test: it
answers "external address" requests (opcode 0) on UDP 5351 with the address
given on the command line, as a router that announces its own (private) WAN
address does. Mapping requests are refused (result 5, unsupported opcode):
nothing is ever mapped. Runs until killed; lab namespaces only."""
import socket
import struct
import sys
import time

external = socket.inet_aton(sys.argv[1])
start = time.monotonic()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 5351))
print("natpmp responder ready", flush=True)
while True:
    data, peer = s.recvfrom(1100)
    if len(data) < 2 or data[0] != 0:
        continue  # PCP (version 2) or garbage: stay silent
    epoch = int(time.monotonic() - start)
    if data[1] == 0:
        s.sendto(struct.pack(">BBHI", 0, 128, 0, epoch) + external, peer)
    elif data[1] in (1, 2) and len(data) >= 12:
        s.sendto(struct.pack(">BBHIHHI", 0, 128 + data[1], 5, epoch, 0, 0, 0), peer)
