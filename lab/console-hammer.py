#!/usr/bin/env python3
"""Hammer the web console (tests/lab_console.rs): THREADS threads send REQUESTS requests in all,
as fast as answers come, a mix of what a crowd of pages and a hostile client send: status
polls, the page and its script, actions without credentials, oversized heads, oversized bodies,
garbage, and (--slow of them, at the start) clients that send half a request and stop. Prints one line per outcome with its
count, "STATUS N" (the HTTP status, or "closed"/"error:KIND" when no status came), sorted.
"""
import argparse
import collections
import socket
import threading

KINDS = [
    b"GET /api/status HTTP/1.1\r\nHost: c\r\n\r\n",
    b"GET /api/status HTTP/1.1\r\nHost: c\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: c\r\n\r\n",
    b"GET /console.js HTTP/1.1\r\nHost: c\r\n\r\n",
    b"POST /api/action HTTP/1.1\r\nHost: c\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{\"action\":\"nothing\"}",
    b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
    b"POST /api/action HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03garbage\r\n\r\n",
]
# Half a request, then silence until the server gives up (--slow of them, at the start).
SLOW = b"GET /api/status HTTP/1.1\r\n"


def one(addr, port, req, timeout):
    with socket.create_connection((addr, port), timeout=timeout) as s:
        try:
            s.sendall(req)
        except OSError:
            pass  # the server may close before reading an oversized request
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
            if len(data) > 4 << 20:
                break
    if not data.startswith(b"HTTP/1.1 "):
        return "closed"
    return data[9:12].decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8081)
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--slow", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=15.0)
    a = ap.parse_args()
    counts = collections.Counter()
    lock = threading.Lock()
    todo = iter(range(a.requests))

    def run():
        while True:
            with lock:
                i = next(todo, None)
            if i is None:
                return
            try:
                what = one(a.addr, a.port, KINDS[i % len(KINDS)], a.timeout)
            except OSError as e:
                what = "error:" + type(e).__name__
            with lock:
                counts[what] += 1

    def slow():
        try:
            what = one(a.addr, a.port, SLOW, a.timeout)
        except OSError as e:
            what = "error:" + type(e).__name__
        with lock:
            counts["slow:" + what] += 1

    threads = [threading.Thread(target=slow) for _ in range(a.slow)]
    threads += [threading.Thread(target=run) for _ in range(a.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in sorted(counts):
        print(k, counts[k])


if __name__ == "__main__":
    main()
