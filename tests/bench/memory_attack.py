#!/usr/bin/env python3
"""The reflector's memory attacks (a load tool, not a test).

    memory_attack.py HOST CONTROL_PORT OUT [HOLD_S [SESSIONS]]

1. Opens SESSIONS sessions (default 100; fewer if the reflector refuses) and sends each 1,000 L2TP SCCRQs (RFC 2661 section 6.1)
   tagged for it, whose Vendor Name is 1,017 bytes of the sender's choosing
   (the most an AVP's 10-bit length allows), for at most 30 s.
2. Asks for 60 sessions' observations on 60 connections and never reads.
Writes "sent N in S s", "held N" and "session ID" (an attacked session) to
OUT, then holds the unread connections HOLD_S seconds (default 20).
Used by tests/lab/tests/reflector_memory.sh and tests/bench/reflector-load.sh.
"""
import json, socket, struct, sys, time
host, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def post():
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return json.loads(data.split(b"\r\n\r\n", 1)[1])
# As many as the reflector grants (its per-client cap may refuse some).
wanted = int(sys.argv[5]) if len(sys.argv) > 5 else 100
sessions = [a for a in (post() for _ in range(wanted)) if "tag" in a]
def avp(kind, value, mandatory=True):
    return struct.pack("!HHH", (0x8000 if mandatory else 0) | (6 + len(value)), 0, kind) + value
def sccrq(tag_hex, index):
    host_name = ("vpncheck-" + tag_hex + "%04x" % index).encode()
    body = (avp(0, struct.pack("!H", 1)) + avp(2, struct.pack("!H", 0x0100)) + avp(3, struct.pack("!I", 3)) +
            avp(4, struct.pack("!I", 0)) + avp(7, host_name) + avp(8, bytes([1]) * 1017, False) +
            avp(9, struct.pack("!H", 1 + index)) + avp(10, struct.pack("!H", 4)))
    return struct.pack("!HHHHHH", 0xC802, 12 + len(body), 0, 0, 0, 0) + body
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
start, sent = time.time(), 0
for i in range(1000):
    for s in sessions:
        udp.sendto(sccrq(s["tag"], i), (host, 1701))
        sent += 1
    if time.time() - start > 30:
        break
    time.sleep(0.01)  # a round at a time, so the reflector's receive buffer keeps up
flood_s = time.time() - start
time.sleep(1)
held = []
for s in sessions[:60]:
    c = socket.create_connection((host, port), timeout=5)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.sendall(("GET /v1/sessions/%s/observations HTTP/1.1\r\nHost: x\r\n\r\n" % s["session_id"]).encode())
    held.append(c)
with open(out, "w") as f:
    f.write("sent %d to %d sessions in %.1f s\nheld %d\nsession %s\n" %
            (sent, len(sessions), flood_s, len(held), sessions[0]["session_id"]))
time.sleep(float(sys.argv[4]) if len(sys.argv) > 4 else 20)
