//! Frame builders for the integration tests and the benches, built with etherparse (so they are
//! independent of the parser under test). Aimed at the addresses of
//! `dataplane::fuzzing::snapshot()` and [`crate::topology::two_port_lan`].

use std::net::IpAddr;

use dataplane::frame::Frame;
use dataplane::fuzzing::{backend_mac, port_mac};
use etherparse::{PacketBuilder, PacketBuilderStep, TcpOptionElement};

/// The client-side router's MAC.
pub const CLIENT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0xc1];

pub const SYN: u8 = 0x02;
pub const ACK: u8 = 0x10;
pub const FIN: u8 = 0x01;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// MACs of a frame from the clients' side to gateway port 0.
pub const FROM_CLIENT: ([u8; 6], [u8; 6]) = (CLIENT_MAC, port_mac(0));

/// MACs of a frame from the backend whose address ends in `last` to gateway port 1.
pub const fn from_backend(last: u8) -> ([u8; 6], [u8; 6]) {
    (backend_mac(last), port_mac(1))
}

fn ip_step(
    macs: ([u8; 6], [u8; 6]),
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
) -> PacketBuilderStep<etherparse::IpHeaders> {
    let eth = PacketBuilder::ethernet2(macs.0, macs.1);
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => eth.ipv4(s.octets(), d.octets(), ttl),
        (IpAddr::V6(s), IpAddr::V6(d)) => eth.ipv6(s.octets(), d.octets(), ttl),
        _ => panic!("mixed families"),
    }
}

/// A TCP segment with `flags` (SYN/ACK/FIN/RST/PSH bits) and `payload`.
#[allow(clippy::too_many_arguments)]
pub fn tcp(
    macs: ([u8; 6], [u8; 6]),
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    tcp_ttl(macs, src, dst, sport, dport, flags, payload, 64)
}

/// [`tcp`] with a chosen TTL / hop limit.
#[allow(clippy::too_many_arguments)]
pub fn tcp_ttl(
    macs: ([u8; 6], [u8; 6]),
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    flags: u8,
    payload: &[u8],
    ttl: u8,
) -> Vec<u8> {
    let mut b = ip_step(macs, src, dst, ttl).tcp(sport, dport, 1000, 65535);
    if flags & SYN != 0 {
        b = b.syn();
    }
    if flags & ACK != 0 {
        b = b.ack(5001);
    }
    if flags & FIN != 0 {
        b = b.fin();
    }
    if flags & RST != 0 {
        b = b.rst();
    }
    if flags & PSH != 0 {
        b = b.psh();
    }
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, payload).unwrap();
    out
}

/// A TCP segment with its numbers: `ack` (when given, the ACK flag too), `flags` (the SYN, PSH,
/// RST and FIN bits), `window` and `opts`.
#[allow(clippy::too_many_arguments)]
pub fn tcp_segment(
    macs: ([u8; 6], [u8; 6]),
    (src, sport): (IpAddr, u16),
    (dst, dport): (IpAddr, u16),
    (seq, ack): (u32, Option<u32>),
    flags: u8,
    window: u16,
    opts: &[TcpOptionElement],
    payload: &[u8],
) -> Vec<u8> {
    let mut t = ip_step(macs, src, dst, 64).tcp(sport, dport, seq, window);
    if flags & SYN != 0 {
        t = t.syn();
    }
    if let Some(a) = ack {
        t = t.ack(a);
    }
    if flags & PSH != 0 {
        t = t.psh();
    }
    if flags & RST != 0 {
        t = t.rst();
    }
    if flags & FIN != 0 {
        t = t.fin();
    }
    if !opts.is_empty() {
        t = t.options(opts).expect("options fit a TCP header");
    }
    let mut out = Vec::new();
    t.write(&mut out, payload).expect("a segment");
    out
}

/// A UDP datagram.
pub fn udp(
    macs: ([u8; 6], [u8; 6]),
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let b = ip_step(macs, src, dst, 64).udp(sport, dport);
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, payload).unwrap();
    out
}

/// `frame` (untagged) with an 802.1Q tag of `tci` inserted after the MAC addresses.
pub fn vlan(frame: &[u8], tci: u16) -> Vec<u8> {
    let mut t = frame[..12].to_vec();
    t.extend_from_slice(&[0x81, 0x00]);
    t.extend_from_slice(&tci.to_be_bytes());
    t.extend_from_slice(&frame[12..]);
    t
}

/// Split the IP packet of `frame` (Ethernet, no tag, IPv4 or IPv6 without extension headers)
/// into fragments of at most `chunk` payload bytes (a multiple of 8), with identification `id`
/// (IPv4: its low 16 bits), as a host's IP layer would.
pub fn fragment(frame: &[u8], chunk: usize, id: u32) -> Vec<Vec<u8>> {
    assert_eq!(chunk % 8, 0);
    let v6 = frame[12..14] == [0x86, 0xdd];
    let hl = if v6 {
        40
    } else {
        usize::from(frame[14] & 0xf) * 4
    };
    let (head, data) = frame.split_at(14 + hl);
    let mut out = Vec::new();
    for (i, part) in data.chunks(chunk).enumerate() {
        let off = i * chunk;
        let more = off + part.len() < data.len();
        let mut f = head.to_vec();
        if v6 {
            let next = f[14 + 6];
            f[14 + 6] = 44;
            let flo = u16::try_from(off).unwrap() | u16::from(more);
            f.extend_from_slice(&[next, 0]);
            f.extend_from_slice(&flo.to_be_bytes());
            f.extend_from_slice(&id.to_be_bytes());
            let pl = u16::try_from(8 + part.len()).unwrap();
            f[18..20].copy_from_slice(&pl.to_be_bytes());
        } else {
            let tl = u16::try_from(hl + part.len()).unwrap();
            f[16..18].copy_from_slice(&tl.to_be_bytes());
            f[18..20].copy_from_slice(&(id as u16).to_be_bytes());
            let fo = u16::try_from(off / 8).unwrap() | if more { 0x2000 } else { 0 };
            f[20..22].copy_from_slice(&fo.to_be_bytes());
            f[24..26].copy_from_slice(&[0, 0]);
            let c = !ones_sum(&f[14..14 + hl]);
            f[24..26].copy_from_slice(&c.to_be_bytes());
        }
        f.extend_from_slice(part);
        out.push(f);
    }
    out
}

/// One's-complement sum of `b`, folded.
fn ones_sum(b: &[u8]) -> u16 {
    let mut s: u64 = b
        .chunks(2)
        .map(|c| u64::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// An ICMP (v4 or v6 by family) message of `ty`/`code` with bytes 5-8 `rest` and `payload`
/// (for errors: the quoted packet, from its IP header on).
pub fn icmp(
    macs: ([u8; 6], [u8; 6]),
    src: IpAddr,
    dst: IpAddr,
    ty: u8,
    code: u8,
    rest: [u8; 4],
    payload: &[u8],
) -> Vec<u8> {
    let step = ip_step(macs, src, dst, 64);
    let mut out = Vec::new();
    if src.is_ipv4() {
        step.icmpv4_raw(ty, code, rest).write(&mut out, payload)
    } else {
        step.icmpv6_raw(ty, code, rest).write(&mut out, payload)
    }
    .unwrap();
    out
}

/// An ICMP error from `src` to `dst` quoting the IP packet inside `quoted_frame` (an Ethernet
/// frame without VLAN), cut to its IP header and `l4_bytes` bytes after it.
pub fn icmp_error_quoting(
    macs: ([u8; 6], [u8; 6]),
    src: IpAddr,
    dst: IpAddr,
    quoted_frame: &[u8],
    l4_bytes: usize,
) -> Vec<u8> {
    let ip_pkt = &quoted_frame[14..];
    let (hdr, ty, code, rest) = if src.is_ipv4() {
        // Destination unreachable, fragmentation needed, next-hop MTU 1400.
        (usize::from(ip_pkt[0] & 0xf) * 4, 3, 4, [0, 0, 0x05, 0x78])
    } else {
        // Packet too big, MTU 1280.
        (40, 2, 0, [0, 0, 0x05, 0x00])
    };
    let quote = &ip_pkt[..(hdr + l4_bytes).min(ip_pkt.len())];
    icmp(macs, src, dst, ty, code, rest, quote)
}

/// An ARP request for `target` from `sender`.
pub fn arp_request(sender: [u8; 4], target: [u8; 4]) -> Vec<u8> {
    let mut f = Vec::with_capacity(42);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&CLIENT_MAC);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&CLIENT_MAC);
    f.extend_from_slice(&sender);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target);
    f
}

/// An IPv6 neighbour solicitation for `target`.
pub fn neighbour_solicitation(src: IpAddr, target: IpAddr) -> Vec<u8> {
    let IpAddr::V6(t) = target else {
        panic!("IPv6 only")
    };
    let mut solicited = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0];
    solicited[13..].copy_from_slice(&t.octets()[13..]);
    icmp(
        (CLIENT_MAC, [0x33, 0x33, 0xff, 0, 0, 1]),
        src,
        IpAddr::from(solicited),
        135,
        0,
        [0; 4],
        &t.octets(),
    )
}

/// Return the (source port, destination port) of a TCP or UDP frame without VLAN.
pub fn ports(frame: &[u8]) -> (u16, u16) {
    let l4 = match u16::from_be_bytes([frame[12], frame[13]]) {
        0x0800 => 14 + usize::from(frame[14] & 0xf) * 4,
        _ => 14 + 40,
    };
    (
        u16::from_be_bytes([frame[l4], frame[l4 + 1]]),
        u16::from_be_bytes([frame[l4 + 2], frame[l4 + 3]]),
    )
}

/// Return the (source, destination) addresses of an IP frame without VLAN.
pub fn addrs(frame: &[u8]) -> (IpAddr, IpAddr) {
    if u16::from_be_bytes([frame[12], frame[13]]) == 0x0800 {
        let a: [u8; 4] = frame[26..30].try_into().unwrap();
        let b: [u8; 4] = frame[30..34].try_into().unwrap();
        (IpAddr::from(a), IpAddr::from(b))
    } else {
        let a: [u8; 16] = frame[22..38].try_into().unwrap();
        let b: [u8; 16] = frame[38..54].try_into().unwrap();
        (IpAddr::from(a), IpAddr::from(b))
    }
}

/// The reply a backend sends to the packet `out` the gateway sent it (addresses and ports
/// swapped), from the backend's MAC to port 1.
pub fn reply_to(out: &[u8], flags: u8, tcp_proto: bool) -> Vec<u8> {
    let (s, d) = addrs(out);
    let (sp, dp) = ports(out);
    let last = match d {
        IpAddr::V4(a) => a.octets()[3],
        IpAddr::V6(a) => a.octets()[15],
    };
    if tcp_proto {
        tcp(from_backend(last), d, s, dp, sp, flags, &[])
    } else {
        udp(from_backend(last), d, s, dp, sp, b"answer")
    }
}

/// Copy of a frame's bytes.
pub fn bytes<F: Frame>(f: &F) -> Vec<u8> {
    f.data().to_vec()
}
