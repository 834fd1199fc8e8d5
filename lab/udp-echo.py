#!/usr/bin/env python3
"""The lab real servers' UDP service: answer each datagram with "NAME: <data>".

Replies leave from the address the request was sent to (IP_PKTINFO / IPV6_PKTINFO), as a DR or
TUN real server must answer from the VIP, not from its own address.
"""
import argparse
import select
import socket
import struct

# Linux value; the socket module only names it from Python 3.13 on.
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--port", type=int, default=7)
    args = ap.parse_args()
    prefix = args.name.encode() + b": "

    s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s4.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    s4.bind(("0.0.0.0", args.port))
    s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
    s6.bind(("::", args.port))

    while True:
        ready, _, _ = select.select([s4, s6], [], [])
        for s in ready:
            data, anc, _, peer = s.recvmsg(65535, 256)
            reply_anc = []
            for level, kind, value in anc:
                if s is s4 and level == socket.IPPROTO_IP and kind == IP_PKTINFO:
                    _ifindex, _spec, dst = struct.unpack("I4s4s", value[:12])
                    reply_anc = [(level, kind, struct.pack("I4s4s", 0, dst, b"\0" * 4))]
                elif s is s6 and level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO:
                    dst, _ifindex = struct.unpack("16sI", value[:20])
                    reply_anc = [(level, kind, struct.pack("16sI", dst, 0))]
            s.sendmsg([prefix + data], reply_anc, 0, peer)


if __name__ == "__main__":
    main()
