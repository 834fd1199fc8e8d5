#!/usr/bin/env python3
"""IPIP decapsulation for lab real servers (this kernel has no ipip module).

Receives IP-in-IP packets (protocol 4) addressed to this host on a raw socket, strips the outer
header and writes the inner packet into a TUN device; the kernel then delivers it to the VIP
configured on that device, as it would from tunl0. Replies leave normally, from the VIP, straight
to the client: the LVS-TUN return path.
"""
import argparse
import fcntl
import os
import socket
import struct

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dev", default="fvtun0")
    ap.add_argument("--ready", help="file to create once the device exists")
    args = ap.parse_args()

    tun = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(tun, TUNSETIFF, struct.pack("16sH", args.dev.encode(), IFF_TUN | IFF_NO_PI))
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, 4)
    if args.ready:
        open(args.ready, "w").close()
    while True:
        pkt = raw.recv(65535)
        if len(pkt) < 20:
            continue
        ihl = (pkt[0] & 0x0F) * 4
        inner = pkt[ihl:]
        if len(inner) >= 20 and inner[0] >> 4 == 4:
            os.write(tun, inner)


if __name__ == "__main__":
    main()
