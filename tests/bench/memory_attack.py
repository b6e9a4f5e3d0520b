#!/usr/bin/env python3
"""The reflector's memory attacks (a load tool, not a test).

    memory_attack.py HOST CONTROL_PORT OUT [HOLD_S [SESSIONS [ATTACK_S [UNREAD]]]]

Opens SESSIONS sessions (default 100; fewer if the reflector refuses), writes
"session ID" (an attacked session) to OUT, then for ATTACK_S seconds
(default 30) does both at once:
1. sends every session, round after round, L2TP SCCRQs (RFC 2661 section
   6.1) tagged for it, whose Vendor Name is 1,017 bytes of the sender's
   choosing (the most an AVP's 10-bit length allows);
2. asks for sessions' observations on UNREAD connections (default 60, opened
   in six batches over the attack, so later ones ask for full sessions) and
   never reads the answers.
Then writes "sent N to M sessions in S s", "held N" and "done" to OUT and
holds the unread connections HOLD_S seconds more (default 20).
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
hold_s = float(sys.argv[4]) if len(sys.argv) > 4 else 20
attack_s = float(sys.argv[6]) if len(sys.argv) > 6 else 30
unread = int(sys.argv[7]) if len(sys.argv) > 7 else 60
with open(out, "w") as f:
    f.write("session %s\n" % sessions[0]["session_id"])
held = []
def hold_more(n):
    for _ in range(n):
        s = sessions[len(held) % len(sessions)]
        try:
            c = socket.create_connection((host, port), timeout=5)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            c.sendall(("GET /v1/sessions/%s/observations HTTP/1.1\r\nHost: x\r\n\r\n" % s["session_id"]).encode())
            held.append(c)
        except OSError:
            return  # refused or reset: the reflector's limits at work
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
start, sent, batches, i = time.time(), 0, 0, 0
while time.time() - start < attack_s:
    for s in sessions:
        udp.sendto(sccrq(s["tag"], i % 0xfff0), (host, 1701))
        sent += 1
    i += 1
    # Six batches of unread requests, spread over the attack.
    if batches < 6 and time.time() - start >= batches * attack_s / 6:
        hold_more(unread // 6 + (1 if batches < unread % 6 else 0))
        batches += 1
    time.sleep(0.01)  # a round at a time, so the reflector's receive buffer keeps up
flood_s = time.time() - start
hold_more(max(0, unread - len(held)))
with open(out, "a") as f:
    f.write("sent %d to %d sessions in %.1f s\nheld %d\ndone\n" % (sent, len(sessions), flood_s, len(held)))
time.sleep(hold_s)
