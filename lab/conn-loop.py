#!/usr/bin/env python3
"""The seeds' client loop (`while true; do curl VIP; done`) with a clock: the HA lab's
failover probe.

Opens a NEW TCP connection to ADDR:PORT per attempt, sends one HTTP GET and reads the answer,
for --duration seconds (or until --stop-file exists, or --count attempts), and prints one line
per attempt:

    <start unix time> <end unix time> ok <backend>     e.g. "... ok RS1" from <h1>Backend RS1</h1>
    <start unix time> <end unix time> fail <reason>

Every attempt has --timeout seconds in all (connect and answer): an attempt whose SYN went to a
dead director's MAC fails after it, and the next one starts at once on a new source port.
--every S starts an attempt every S seconds instead, each in its own thread, so that the time of
the first success after an outage is known to S whatever the timeout (lines then come in the
order attempts end).
"""
import argparse
import os
import re
import socket
import sys
import threading
import time

BACKEND = re.compile(rb"<h1>Backend ([A-Za-z0-9]+)</h1>")


def attempt(addr, port, timeout):
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect((addr, port))
        s.sendall(f"GET / HTTP/1.0\r\nHost: {addr}\r\n\r\n".encode())
        data = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no complete answer")
            s.settimeout(left)
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    m = BACKEND.search(data)
    if not m:
        raise ValueError(f"unexpected answer {data[:80]!r}")
    return m.group(1).decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--timeout", type=float, default=1.0)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--pause", type=float, default=0.05, help="seconds between attempts")
    ap.add_argument("--every", type=float, help="start an attempt every EVERY seconds, in parallel")
    ap.add_argument("--stop-file", help="stop early once this file exists")
    ap.add_argument("--count", type=int, help="stop after COUNT attempts")
    args = ap.parse_args()

    lock = threading.Lock()

    def one():
        start = time.time()
        try:
            result = "ok " + attempt(args.addr, args.port, args.timeout)
        except (OSError, ValueError) as e:
            result = "fail " + (type(e).__name__ if not str(e) else str(e).replace(" ", "_"))
        with lock:
            print(f"{start:.3f} {time.time():.3f} {result}", flush=True)

    end = time.monotonic() + args.duration
    threads = []
    started = 0
    while time.monotonic() < end:
        if args.stop_file and os.path.exists(args.stop_file):
            break
        if args.count is not None and started >= args.count:
            break
        started += 1
        if args.every:
            t = threading.Thread(target=one)
            t.start()
            threads.append(t)
            time.sleep(args.every)
        else:
            one()
            time.sleep(args.pause)
    for t in threads:
        t.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
