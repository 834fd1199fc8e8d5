#!/usr/bin/env python3
"""The HA sync lab's client: long-lived connections that must outlive director failovers.

Holds --conns keep-alive TCP connections to ADDR:PORT (HTTP/1.1, a GET on each every --every
seconds) and --udp-flows UDP flows to ADDR:--udp-port (one datagram each every --every seconds,
from a source port of its own), until --stop-file exists. One line per event on stdout, with
wall-clock times (the same clock as `date +%s.%N`):

    open C PORT ADDR                TCP connection C is up, from local address ADDR, port PORT
    ok C TIME BACKEND               C got a 200 answer from BACKEND (RS1 for <h1>Backend RS1</h1>)
    err C TIME REASON               C failed (socket error, timeout, non-200, bad body): C ends
    uopen F PORT ADDR               UDP flow F sends from local address ADDR, port PORT
    uok F TIME BACKEND              F got an answer from BACKEND (rs1 for "rs1: ...")
    uerr F TIME REASON              F's socket reported an error (an ICMP error): it goes on
    src C ADDR                      (--show-source) C's first answer came with X-Client: ADDR,
                                    the source the real server saw (FullNAT: the local address,
                                    so the gateway that made the connection)

--want-source ADDR: every answer must carry X-Client: ADDR (a PROXY protocol service, whose
X-Client is the client the header named), else the connection fails ("err ... source_X").
    ready                           every connection and flow has had an answer
    done                            stopped cleanly

A connection's request gets --timeout seconds for its answer: TCP retransmits through a takeover,
so an answer that comes late is not an error; one that never comes, a reset or a close is. UDP
datagrams sent while no director forwards are lost and not counted: a flow only has to be
answered again afterwards, by the same backend.

--sources A,B,...: connection and flow N send from address N modulo their number (addresses the
client has), so that a NAT gateway with several workers, which owns a client's sessions on the
worker its address hashes to, spreads them over all of them.
"""
import argparse
import os
import socket
import sys
import threading
import time

OUT = threading.Lock()


def say(line):
    with OUT:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def read_answer(s):
    """One HTTP/1.1 answer on keep-alive socket s: (status line, body, X-Client header)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            raise ConnectionError("closed by the peer")
        buf += d
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    length, source = None, ""
    for h in lines[1:]:
        k, _, v = h.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
        if k.strip().lower() == b"x-client":
            source = v.strip().decode(errors="replace")
    if length is None:
        raise ValueError("no Content-Length")
    while len(body) < length:
        d = s.recv(4096)
        if not d:
            raise ConnectionError("closed in a body")
        body += d
    if len(body) != length:
        raise ValueError("more bytes than the answer's length")
    return lines[0].decode(errors="replace"), body.decode(errors="replace"), source


def tcp_conn(c, s, args, stop, answered):
    req = f"GET / HTTP/1.1\r\nHost: {args.addr}\r\nConnection: keep-alive\r\n\r\n".encode()
    try:
        while not stop.is_set():
            s.sendall(req)
            status, body, source = read_answer(s)
            if not status.startswith("HTTP/1.1 200"):
                raise ValueError("status " + status.replace(" ", "_"))
            if args.want_source and source != args.want_source:
                raise ValueError("source " + (source or "-"))
            name = body.strip().removeprefix("<h1>Backend ").removesuffix("</h1>")
            if not name or " " in name:
                raise ValueError("body " + repr(body[:40]).replace(" ", "_"))
            if args.show_source and not answered.is_set():
                say(f"src {c} {source or '-'}")
            say(f"ok {c} {time.time():.3f} {name}")
            answered.set()
            stop.wait(args.every)
    except (OSError, ValueError) as e:
        why = f"{type(e).__name__}:{e}".replace(" ", "_")
        say(f"err {c} {time.time():.3f} {why}")
    finally:
        s.close()


def udp_flow(f, s, args, stop, answered):
    seq = 0
    while not stop.is_set():
        seq += 1
        try:
            s.send(f"flow {f} seq {seq}".encode())
        except OSError as e:
            say(f"uerr {f} {time.time():.3f} send:{e.errno}")
        deadline = time.monotonic() + args.every
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                data = s.recv(2048)
            except socket.timeout:
                break
            except OSError as e:
                say(f"uerr {f} {time.time():.3f} recv:{e.errno}")
                continue
            name = data.split(b":", 1)[0].decode(errors="replace")
            say(f"uok {f} {time.time():.3f} {name}")
            answered.set()
    s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--udp-port", type=int, default=7)
    ap.add_argument("--udp-flows", type=int, default=0)
    ap.add_argument("--every", type=float, default=0.25, help="seconds between requests")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds for an answer")
    ap.add_argument("--stop-file", required=True)
    ap.add_argument("--sources", default="", help="comma-separated local addresses to send from")
    ap.add_argument("--show-source", action="store_true", help="print what the server saw")
    ap.add_argument("--want-source", default="", help="the X-Client every answer must carry")
    args = ap.parse_args()
    sources = [a for a in args.sources.split(",") if a]

    def source(n):
        return (sources[n % len(sources)], 0) if sources else None

    stop = threading.Event()
    threads, flags = [], []
    for c in range(args.conns):
        s = socket.create_connection(
            (args.addr, args.port), timeout=args.timeout, source_address=source(c)
        )
        local = s.getsockname()
        say(f"open {c} {local[1]} {local[0]}")
        flags.append(threading.Event())
        threads.append(threading.Thread(target=tcp_conn, args=(c, s, args, stop, flags[-1])))
        threads[-1].start()
    for f in range(args.udp_flows):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if sources:
            s.bind(source(f))
        s.connect((args.addr, args.udp_port))
        local = s.getsockname()
        say(f"uopen {f} {local[1]} {local[0]}")
        flags.append(threading.Event())
        threads.append(threading.Thread(target=udp_flow, args=(f, s, args, stop, flags[-1])))
        threads[-1].start()
    announced = False
    while not os.path.exists(args.stop_file):
        if not announced and all(e.is_set() for e in flags):
            say("ready")
            announced = True
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join()
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
