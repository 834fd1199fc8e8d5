#!/usr/bin/env python3
"""Who answers ARP for an address: the HA lab's split-brain probe.

Sends one ARP request for TARGET on IFACE (from IFACE's MAC and --source), collects every reply
addressed to us for --wait seconds, and prints one line per probe:

    <unix time> <sender MAC> [<sender MAC>...]     (nothing after the time: no answer)

--count N probes every --interval seconds. A reply counts when it is an ARP reply (op 2) whose
sender IP is TARGET and whose target is our IP and MAC: gratuitous ARP (sender = target = TARGET)
and other hosts' exchanges are not answers to us. arping stops at the first answer per request;
this counts them all, which is the point.
"""
import argparse
import select
import socket
import struct
import sys
import time

ETH_P_ARP = 0x0806


def mac_bytes(text):
    return bytes(int(b, 16) for b in text.split(":"))


def mac_text(raw):
    return ":".join(f"{b:02x}" for b in raw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True)
    ap.add_argument("--source", required=True, help="our IPv4 address on IFACE")
    ap.add_argument("--target", required=True, help="the IPv4 address to ask for")
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--wait", type=float, default=0.5, help="seconds to collect answers")
    args = ap.parse_args()

    with open(f"/sys/class/net/{args.iface}/address") as f:
        our_mac = mac_bytes(f.read().strip())
    our_ip = socket.inet_aton(args.source)
    target = socket.inet_aton(args.target)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    s.bind((args.iface, ETH_P_ARP))
    request = (
        b"\xff" * 6
        + our_mac
        + struct.pack("!H", ETH_P_ARP)
        # Ethernet/IPv4, op 1 (request), target hardware address unknown.
        + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)
        + our_mac
        + our_ip
        + b"\x00" * 6
        + target
    )

    for i in range(args.count):
        start = time.monotonic()
        # Drop what queued up since the last probe: late answers belong to no probe.
        while select.select([s], [], [], 0)[0]:
            s.recv(2048)
        sent_at = time.time()
        s.send(request)
        seen = []
        while True:
            # Past the window, still read what has queued: on a loaded machine this process
            # may run again only after the window, with answers that came in time waiting.
            left = max(0.0, args.wait - (time.monotonic() - start))
            if not select.select([s], [], [], left)[0]:
                break
            frame = s.recv(2048)
            if len(frame) < 42:
                continue
            op = struct.unpack("!H", frame[20:22])[0]
            sha, spa, tha, tpa = frame[22:28], frame[28:32], frame[32:38], frame[38:42]
            if op == 2 and spa == target and tpa == our_ip and tha == our_mac:
                seen.append(mac_text(sha))
        print(f"{sent_at:.3f}", *seen, flush=True)
        if i + 1 < args.count:
            time.sleep(max(0.0, args.interval - (time.monotonic() - start)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
