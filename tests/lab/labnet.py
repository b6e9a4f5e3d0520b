#!/usr/bin/env python3
"""labnet.py — tiny traffic tools used to verify the lab itself (topology,
NAT, profiles) without depending on vpncheck.

  serve --udp 51820,443,53 --tcp 80,443,1194 [--bind ADDR] [--log FILE]
      UDP: echo every datagram back to its (post-NAT) source.
      TCP: accept, read up to 64 bytes (bounded), echo them, close.
      Every arrival is appended to --log as one JSON line:
      {"transport","port","src","sport","len","head"} (head = first 4 bytes hex).
      Runs until SIGTERM/SIGINT.

  udp HOST PORT KIND [--timeout S]
      KIND: wg-init   148 bytes: 01 00 00 00 + random (looks like a WireGuard
                      handshake initiation to a DPI box)
            random    148 random bytes never starting with 01 00 00 00
            wg-init-147 / wg-init-149  same header, other sizes
      Sends one datagram, waits for the echo, prints one JSON line
      {"transport":"udp","port","kind","len","echo":bool}; exit 0.

  tcp HOST PORT [--timeout S]
      Connects, sends "ping", waits for the echo; prints JSON with
      "connected" and "echo"; exit 0.

  batch HOST SPEC... [--timeout S]
      Runs many probes concurrently under one timeout; SPEC is udp:PORT:KIND
      or tcp:PORT. Prints one JSON object {SPEC: true|false (echo came back)}.

Everything is bounded by --timeout (default 1 s) so nothing can hang.
"""
import argparse
import json
import os
import selectors
import signal
import socket
import sys


def _ports(text):
    return [int(p) for p in text.split(",") if p.strip()]


def payload(kind):
    if kind == "random":
        while True:
            data = os.urandom(148)
            if data[:4] != b"\x01\x00\x00\x00":
                return data
    sizes = {"wg-init": 148, "wg-init-147": 147, "wg-init-149": 149}
    if kind not in sizes:
        raise SystemExit(f"unknown payload kind {kind!r}")
    return b"\x01\x00\x00\x00" + os.urandom(sizes[kind] - 4)


def serve(args):
    sel = selectors.DefaultSelector()
    log = open(args.log, "a", buffering=1) if args.log else sys.stdout

    def record(transport, port, src, data):
        log.write(json.dumps({
            "transport": transport, "port": port, "src": src[0], "sport": src[1],
            "len": len(data), "head": data[:4].hex()}) + "\n")

    for port in _ports(args.udp):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((args.bind, port))
        sel.register(s, selectors.EVENT_READ, ("udp", port))
    for port in _ports(args.tcp):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((args.bind, port))
        s.listen(16)
        sel.register(s, selectors.EVENT_READ, ("tcp", port))

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    # Readiness marker for the caller's bounded wait.
    if args.ready:
        with open(args.ready, "w") as f:
            f.write("ready\n")
    while not stop:
        for key, _ in sel.select(timeout=0.2):
            transport, port = key.data
            sock = key.fileobj
            if transport == "udp":
                data, src = sock.recvfrom(65535)
                record("udp", port, src, data)
                sock.sendto(data, src)
            else:
                conn, src = sock.accept()
                conn.settimeout(0.5)
                try:
                    data = conn.recv(64)
                    record("tcp", port, src, data)
                    conn.sendall(data)
                except OSError:
                    record("tcp", port, src, b"")
                finally:
                    conn.close()
    return 0


def udp(args):
    echo = udp_echo(args.host, args.port, args.kind, args.timeout)
    print(json.dumps({"transport": "udp", "port": args.port, "kind": args.kind,
                      "len": len(payload(args.kind)), "echo": echo}))
    return 0


def udp_echo(host, port, kind, timeout):
    data = payload(kind)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(data, (host, port))
        try:
            got, _ = s.recvfrom(65535)
            return got == data
        except OSError:
            return False


def tcp_echo(host, port, timeout):
    """-> (connected, echo)"""
    connected = echo = False
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            connected = True
            s.settimeout(timeout)
            s.sendall(b"ping")
            echo = s.recv(64) == b"ping"
    except OSError:
        pass
    return connected, echo


def tcp(args):
    connected, echo = tcp_echo(args.host, args.port, args.timeout)
    print(json.dumps({"transport": "tcp", "port": args.port,
                      "connected": connected, "echo": echo}))
    return 0


def batch(args):
    import concurrent.futures

    def run(spec):
        parts = spec.split(":")
        if parts[0] == "udp" and len(parts) == 3:
            return udp_echo(args.host, int(parts[1]), parts[2], args.timeout)
        if parts[0] == "tcp" and len(parts) == 2:
            return tcp_echo(args.host, int(parts[1]), args.timeout)[1]
        raise SystemExit(f"bad probe spec {spec!r}")

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(args.specs)) as pool:
        results = dict(zip(args.specs, pool.map(run, args.specs)))
    print(json.dumps(results))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--udp", default="")
    s.add_argument("--tcp", default="")
    s.add_argument("--bind", default="0.0.0.0")
    s.add_argument("--log")
    s.add_argument("--ready", help="file written once all sockets listen")
    s.set_defaults(fn=serve)
    u = sub.add_parser("udp")
    u.add_argument("host")
    u.add_argument("port", type=int)
    u.add_argument("kind")
    u.add_argument("--timeout", type=float, default=1.0)
    u.set_defaults(fn=udp)
    t = sub.add_parser("tcp")
    t.add_argument("host")
    t.add_argument("port", type=int)
    t.add_argument("--timeout", type=float, default=1.0)
    t.set_defaults(fn=tcp)
    b = sub.add_parser("batch")
    b.add_argument("host")
    b.add_argument("specs", nargs="+")
    b.add_argument("--timeout", type=float, default=1.0)
    b.set_defaults(fn=batch)
    args = ap.parse_args()
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
