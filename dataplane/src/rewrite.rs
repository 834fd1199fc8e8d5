//! The rewrites the forwarding modes are made of, for both address families, written through
//! the wire views (`Ipv4Packet`, `Ipv6Packet`, `TcpPacket`, `UdpPacket`, the ICMP views), so the
//! code the views' property tests cover is the code that ships (the MAC copies stay raw: see
//! [`set_macs`]).
//!
//! Every function here works on a frame already validated by [`crate::wire::parse_frame`] and
//! wraps the views at the offsets it returned (`new_unchecked`), so no field access can go out
//! of bounds. Checksums are updated incrementally (RFC 1624) where one field changes, and
//! recomputed in full only for the rare packets whose length changes (TOA insertion, ICMP
//! errors).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::frame::Frame;
use crate::session::{PersistTable, SessionAddr, SessionTable};
use crate::types::L4Proto;
use crate::types::Mac;
use crate::wire::{
    checksum, tcp, udp, Icmpv4Packet, Icmpv6Packet, Ipv4Packet, Ipv6Packet, TcpPacket, UdpPacket,
};

/// Read the big-endian `u16` at `at` (one bounds check for the pair).
#[inline]
pub(crate) fn rd16(d: &[u8], at: usize) -> u16 {
    let b = &d[at..at + 2];
    u16::from_be_bytes([b[0], b[1]])
}

/// The per-worker tables of one address family.
#[derive(Clone, Debug)]
pub(crate) struct Tables {
    pub(crate) s4: SessionTable<Ipv4Addr>,
    pub(crate) s6: SessionTable<Ipv6Addr>,
    pub(crate) p4: PersistTable<Ipv4Addr>,
    pub(crate) p6: PersistTable<Ipv6Addr>,
}

/// What differs between IPv4 and IPv6 in the forwarding code.
pub(crate) trait Family: SessionAddr {
    /// True for IPv6.
    const V6: bool;
    /// Length of the TOA option for this family (8: port + IPv4; 20: port + IPv6, DPVS's form).
    const TOA_LEN: usize;
    /// Widen to `IpAddr`.
    fn ip(self) -> IpAddr;
    /// Narrow from `IpAddr` when the family matches.
    fn from_ip(ip: IpAddr) -> Option<Self>;
    /// This family's session table.
    fn sessions(t: &mut Tables) -> &mut SessionTable<Self>;
    /// This family's persistence table.
    fn persist(t: &mut Tables) -> &mut PersistTable<Self>;
    /// Read the source address of the IP header at `l3`.
    fn src(d: &[u8], l3: usize) -> Self;
    /// Read the destination address of the IP header at `l3`.
    fn dst(d: &[u8], l3: usize) -> Self;
    /// Write the source address (fixing the IPv4 header checksum).
    fn set_src(d: &mut [u8], l3: usize, a: Self);
    /// Write the destination address (fixing the IPv4 header checksum).
    fn set_dst(d: &mut [u8], l3: usize, a: Self);
    /// Adjust a TCP/UDP checksum for a pseudo-header address change.
    fn pseudo_update(csum: u16, old: Self, new: Self, udp: bool) -> u16;
    /// Decrement TTL / hop limit; `false` (unchanged) if the packet must not be forwarded.
    fn dec_ttl(d: &mut [u8], l3: usize) -> bool;
    /// [`route_rewrite`]'s IP header: decrement the TTL / hop limit and write the addresses
    /// given (fixing the IPv4 header checksum once); return the pseudo-header's change for the
    /// L4 checksum, or `None` (header unchanged) if the packet must not be forwarded.
    fn route_addrs(
        d: &mut [u8],
        l3: usize,
        src: Option<Self>,
        dst: Option<Self>,
    ) -> Option<checksum::Update>;
    /// Add `n` to the length field of the IP header (fixing the IPv4 header checksum).
    fn grow_len(d: &mut [u8], l3: usize, n: u16);
    /// Recompute the TCP checksum of the segment at `l4..end` in full.
    fn fill_tcp_checksum(d: &mut [u8], l3: usize, l4: usize, end: usize);
    /// Whether the TCP checksum of the segment at `l4..end` verifies.
    fn tcp_checksum_ok(d: &[u8], l3: usize, l4: usize, end: usize) -> bool;
    /// Recompute the ICMP (v4) or ICMPv6 (with the pseudo-header) checksum of the message at
    /// `l4..end`.
    fn fill_icmp_checksum(d: &mut [u8], l3: usize, l4: usize, end: usize);
    /// Write this address as bytes.
    fn write_bytes(self, out: &mut [u8]);
}

impl Family for Ipv4Addr {
    const V6: bool = false;
    const TOA_LEN: usize = 8;

    #[inline]
    fn ip(self) -> IpAddr {
        IpAddr::V4(self)
    }
    #[inline]
    fn from_ip(ip: IpAddr) -> Option<Self> {
        match ip {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        }
    }
    #[inline]
    fn sessions(t: &mut Tables) -> &mut SessionTable<Self> {
        &mut t.s4
    }
    #[inline]
    fn persist(t: &mut Tables) -> &mut PersistTable<Self> {
        &mut t.p4
    }
    #[inline]
    fn src(d: &[u8], l3: usize) -> Self {
        Ipv4Packet::new_unchecked(&d[l3..]).src_addr()
    }
    #[inline]
    fn dst(d: &[u8], l3: usize) -> Self {
        Ipv4Packet::new_unchecked(&d[l3..]).dst_addr()
    }
    #[inline]
    fn set_src(d: &mut [u8], l3: usize, a: Self) {
        Ipv4Packet::new_unchecked(&mut d[l3..]).rewrite_src_addr(a);
    }
    #[inline]
    fn set_dst(d: &mut [u8], l3: usize, a: Self) {
        Ipv4Packet::new_unchecked(&mut d[l3..]).rewrite_dst_addr(a);
    }
    #[inline]
    fn pseudo_update(csum: u16, old: Self, new: Self, udp: bool) -> u16 {
        if udp {
            checksum::udp_update_pseudo_v4(csum, old, new)
        } else {
            checksum::update_pseudo_v4(csum, old, new)
        }
    }
    #[inline]
    fn dec_ttl(d: &mut [u8], l3: usize) -> bool {
        let mut ip = Ipv4Packet::new_unchecked(&mut d[l3..]);
        if ip.ttl() <= 1 {
            return false;
        }
        ip.decrement_ttl();
        true
    }
    #[inline(always)]
    fn route_addrs(
        d: &mut [u8],
        l3: usize,
        src: Option<Self>,
        dst: Option<Self>,
    ) -> Option<checksum::Update> {
        let mut ip = Ipv4Packet::new_unchecked(&mut d[l3..]);
        let ttl = ip.ttl();
        if ttl <= 1 {
            return None;
        }
        let mut pseudo = checksum::Update::default();
        if let Some(a) = src {
            pseudo = pseudo.word32(ip.src_addr().to_bits(), a.to_bits());
            ip.set_src_addr(a);
        }
        if let Some(a) = dst {
            pseudo = pseudo.word32(ip.dst_addr().to_bits(), a.to_bits());
            ip.set_dst_addr(a);
        }
        // The TTL shares its 16-bit word with the protocol, which stays.
        let proto = u16::from(ip.protocol());
        let word = |t: u8| (u16::from(t) << 8) | proto;
        let header = pseudo.word16(word(ttl), word(ttl - 1));
        ip.set_ttl(ttl - 1);
        let c = header.apply(ip.checksum());
        ip.set_checksum(c);
        Some(pseudo)
    }
    fn grow_len(d: &mut [u8], l3: usize, n: u16) {
        let mut ip = Ipv4Packet::new_unchecked(&mut d[l3..]);
        let old = ip.total_len();
        ip.rewrite_total_len(old.wrapping_add(n));
    }
    fn fill_tcp_checksum(d: &mut [u8], l3: usize, l4: usize, end: usize) {
        let (src, dst) = (Self::src(d, l3), Self::dst(d, l3));
        TcpPacket::new_unchecked(&mut d[l4..end]).fill_checksum_v4(src, dst);
    }
    fn tcp_checksum_ok(d: &[u8], l3: usize, l4: usize, end: usize) -> bool {
        let (src, dst) = (Self::src(d, l3), Self::dst(d, l3));
        TcpPacket::new_unchecked(&d[l4..end]).verify_checksum_v4(src, dst)
    }
    fn fill_icmp_checksum(d: &mut [u8], _l3: usize, l4: usize, end: usize) {
        Icmpv4Packet::new_unchecked(&mut d[l4..end]).fill_checksum();
    }
    fn write_bytes(self, out: &mut [u8]) {
        out[..4].copy_from_slice(&self.octets());
    }
}

impl Family for Ipv6Addr {
    const V6: bool = true;
    const TOA_LEN: usize = 20;

    #[inline]
    fn ip(self) -> IpAddr {
        IpAddr::V6(self)
    }
    #[inline]
    fn from_ip(ip: IpAddr) -> Option<Self> {
        match ip {
            IpAddr::V6(a) => Some(a),
            IpAddr::V4(_) => None,
        }
    }
    #[inline]
    fn sessions(t: &mut Tables) -> &mut SessionTable<Self> {
        &mut t.s6
    }
    #[inline]
    fn persist(t: &mut Tables) -> &mut PersistTable<Self> {
        &mut t.p6
    }
    #[inline]
    fn src(d: &[u8], l3: usize) -> Self {
        Ipv6Packet::new_unchecked(&d[l3..]).src_addr()
    }
    #[inline]
    fn dst(d: &[u8], l3: usize) -> Self {
        Ipv6Packet::new_unchecked(&d[l3..]).dst_addr()
    }
    #[inline]
    fn set_src(d: &mut [u8], l3: usize, a: Self) {
        Ipv6Packet::new_unchecked(&mut d[l3..]).set_src_addr(&a);
    }
    #[inline]
    fn set_dst(d: &mut [u8], l3: usize, a: Self) {
        Ipv6Packet::new_unchecked(&mut d[l3..]).set_dst_addr(&a);
    }
    #[inline]
    fn pseudo_update(csum: u16, old: Self, new: Self, udp: bool) -> u16 {
        if udp {
            checksum::udp_update_pseudo_v6(csum, &old, &new)
        } else {
            checksum::update_pseudo_v6(csum, &old, &new)
        }
    }
    #[inline]
    fn dec_ttl(d: &mut [u8], l3: usize) -> bool {
        let mut ip = Ipv6Packet::new_unchecked(&mut d[l3..]);
        let hl = ip.hop_limit();
        if hl <= 1 {
            return false;
        }
        ip.set_hop_limit(hl - 1);
        true
    }
    #[inline(always)]
    fn route_addrs(
        d: &mut [u8],
        l3: usize,
        src: Option<Self>,
        dst: Option<Self>,
    ) -> Option<checksum::Update> {
        let mut ip = Ipv6Packet::new_unchecked(&mut d[l3..]);
        let hl = ip.hop_limit();
        if hl <= 1 {
            return None;
        }
        ip.set_hop_limit(hl - 1);
        let mut pseudo = checksum::Update::default();
        if let Some(a) = src {
            pseudo = pseudo.word128(ip.src_addr().to_bits(), a.to_bits());
            ip.set_src_addr(&a);
        }
        if let Some(a) = dst {
            pseudo = pseudo.word128(ip.dst_addr().to_bits(), a.to_bits());
            ip.set_dst_addr(&a);
        }
        Some(pseudo)
    }
    fn grow_len(d: &mut [u8], l3: usize, n: u16) {
        let mut ip = Ipv6Packet::new_unchecked(&mut d[l3..]);
        let old = ip.payload_len();
        ip.set_payload_len(old.wrapping_add(n));
    }
    fn fill_tcp_checksum(d: &mut [u8], l3: usize, l4: usize, end: usize) {
        let (src, dst) = (Self::src(d, l3), Self::dst(d, l3));
        TcpPacket::new_unchecked(&mut d[l4..end]).fill_checksum_v6(&src, &dst);
    }
    fn tcp_checksum_ok(d: &[u8], l3: usize, l4: usize, end: usize) -> bool {
        let (src, dst) = (Self::src(d, l3), Self::dst(d, l3));
        TcpPacket::new_unchecked(&d[l4..end]).verify_checksum_v6(&src, &dst)
    }
    fn fill_icmp_checksum(d: &mut [u8], l3: usize, l4: usize, end: usize) {
        let (src, dst) = (Self::src(d, l3), Self::dst(d, l3));
        Icmpv6Packet::new_unchecked(&mut d[l4..end]).fill_checksum(&src, &dst);
    }
    fn write_bytes(self, out: &mut [u8]) {
        out[..16].copy_from_slice(&self.octets());
    }
}

/// Set the Ethernet destination and source addresses.
// JUSTIFICATION: raw copies, not `EthernetFrame::set_dst_addr`/`set_src_addr`. Through the view
// (same two 6-byte copies, inlined) the callers compiled differently: callgrind instructions per
// packet with `hot_ir`, raw vs view, TUN established 847.0 vs 861.0, TUN SYN 1864.5 vs 1874.5,
// DR established 723.0 vs 726.0, FullNAT SYN 2487.1 vs 2494.1 (NAT established 902.0 vs 892.0);
// benches/README.md, "Rewrites on the wire views A/B".
#[inline]
pub(crate) fn set_macs(d: &mut [u8], dst: &Mac, src: &Mac) {
    d[0..6].copy_from_slice(dst);
    d[6..12].copy_from_slice(src);
}

/// Return the Ethernet source address.
#[inline]
pub(crate) fn src_mac(d: &[u8]) -> Mac {
    let mut m = [0u8; 6];
    m.copy_from_slice(&d[6..12]);
    m
}

/// A routed packet's rewrite (NAT, FullNAT): the TTL (hop limit) down by one, then the new
/// source and/or destination address and port, each given as `Some((address, port))`, with one
/// checksum update per header for all of them (`checksum::Update`: the same checksums as one
/// update per field, in half the instructions, `hot_ir` FullNAT: benches/README.md "Where the
/// time goes"). False, and the frame untouched, when the TTL would reach 0.
#[inline(always)]
pub(crate) fn route_rewrite<A: Family>(
    d: &mut [u8],
    l3: usize,
    l4: usize,
    proto: L4Proto,
    src: Option<(A, u16)>,
    dst: Option<(A, u16)>,
) -> bool {
    let Some(pseudo) = A::route_addrs(d, l3, src.map(|e| e.0), dst.map(|e| e.0)) else {
        return false;
    };
    let (sport, dport) = (src.map(|e| e.1), dst.map(|e| e.1));
    match proto {
        L4Proto::Tcp => TcpPacket::new_unchecked(&mut d[l4..]).rewrite_ports(sport, dport, pseudo),
        L4Proto::Udp => UdpPacket::new_unchecked(&mut d[l4..]).rewrite_ports(sport, dport, pseudo),
    }
    true
}

/// Set the source (`src == true`) or destination address of the IP header at `l3` to `addr`
/// and return the one it replaces (for the checksum updates that follow).
#[inline]
fn swap_address<A: Family>(d: &mut [u8], l3: usize, src: bool, addr: A) -> A {
    let old = if src { A::src(d, l3) } else { A::dst(d, l3) };
    if src {
        A::set_src(d, l3, addr);
    } else {
        A::set_dst(d, l3, addr);
    }
    old
}

/// Rewrite the source or destination port of the TCP/UDP header at the start of `seg` and
/// update its checksum for that and for the pseudo-header's address going from `old` to `new`.
#[inline]
pub(crate) fn rewrite_l4_endpoint<A: Family>(
    seg: &mut [u8],
    proto: L4Proto,
    src: bool,
    old: A,
    new: A,
    port: u16,
) {
    match proto {
        L4Proto::Tcp => {
            let mut t = TcpPacket::new_unchecked(seg);
            t.set_checksum(A::pseudo_update(t.checksum(), old, new, false));
            if src {
                t.rewrite_src_port(port);
            } else {
                t.rewrite_dst_port(port);
            }
        }
        L4Proto::Udp => {
            let mut u = UdpPacket::new_unchecked(seg);
            u.set_checksum(A::pseudo_update(u.checksum(), old, new, true));
            if src {
                u.rewrite_src_port(port);
            } else {
                u.rewrite_dst_port(port);
            }
        }
    }
}

/// Rewrite the source or destination address and port of the TCP/UDP packet quoted in an ICMP
/// error (IP header at `l3`, `l4_len` bytes of L4 header at `l4`): the address (and the quoted
/// IPv4 header's checksum), the port, and the quoted L4 checksum when the quote reaches it.
pub(crate) fn rewrite_quoted_endpoint<A: Family>(
    d: &mut [u8],
    (l3, l4, l4_len): (usize, usize, usize),
    proto: L4Proto,
    src: bool,
    addr: A,
    port: u16,
) {
    let old_addr = swap_address(d, l3, src, addr);
    let csum_quoted = l4_len
        >= match proto {
            L4Proto::Tcp => tcp::CHECKSUM_END,
            L4Proto::Udp => udp::HEADER_LEN,
        };
    let seg = &mut d[l4..];
    if csum_quoted {
        rewrite_l4_endpoint(seg, proto, src, old_addr, addr, port);
    } else {
        // TCP and UDP ports sit at the same offsets; the quote holds at least 8 bytes.
        let mut u = UdpPacket::new_unchecked(seg);
        if src {
            u.set_src_port(port);
        } else {
            u.set_dst_port(port);
        }
    }
}

/// Where the TOA option goes: before an End-of-Options, else after the last option. `None` if
/// the option list is malformed.
fn toa_insert_at(opts: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            0 => return Some(i),
            1 => i += 1,
            _ => {
                let len = usize::from(*opts.get(i + 1)?);
                if len < 2 || i + len > opts.len() {
                    return None;
                }
                i += len;
            }
        }
    }
    Some(i)
}

/// Insert the TOA option (kind 254: client port, then address) into the TCP header of a frame
/// whose addresses are already rewritten; fix lengths and checksums. `false` (frame unchanged)
/// when the TCP header has no room, the option list is malformed, the frame cannot grow, or
/// the result would exceed `mtu`.
pub(crate) fn insert_toa<A: Family, F: Frame>(
    frame: &mut F,
    l3: usize,
    l4: usize,
    l3_end: usize,
    mtu: u16,
    client: A,
    cport: u16,
) -> bool {
    let n = A::TOA_LEN;
    let (hl, at) = {
        let d = frame.data();
        let t = TcpPacket::new_unchecked(&d[l4..]);
        let Some(at) = toa_insert_at(t.options_raw()) else {
            return false;
        };
        (t.header_len(), l4 + tcp::HEADER_LEN + at)
    };
    if hl + n > tcp::MAX_HEADER_LEN || l3_end - l3 + n > usize::from(mtu) {
        return false;
    }
    // Drop Ethernet padding so the option can go in front of the payload.
    let pad = frame.len() - l3_end;
    if pad > 0 && !frame.trim(pad) {
        return false;
    }
    let Some(d) = frame.append(n) else {
        return false;
    };
    d.copy_within(at..l3_end, at + n);
    let opt = &mut d[at..at + n];
    opt[0] = 254;
    opt[1] = n as u8;
    opt[2..4].copy_from_slice(&cport.to_be_bytes());
    client.write_bytes(&mut opt[4..]);
    TcpPacket::new_unchecked(&mut d[l4..]).set_header_len(hl + n);
    A::grow_len(d, l3, n as u16);
    A::fill_tcp_checksum(d, l3, l4, l3_end + n);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv4 TCP segment 198.18.0.50:1234 -> 198.18.0.100:80 with 4 bytes of payload and
    /// valid checksums, without Ethernet header.
    fn segment() -> Vec<u8> {
        let (src, dst) = (
            Ipv4Addr::new(198, 18, 0, 50),
            Ipv4Addr::new(198, 18, 0, 100),
        );
        let mut d = vec![0u8; 20 + 20 + 4];
        crate::wire::Ipv4Repr {
            src_addr: src,
            dst_addr: dst,
            protocol: 6,
            payload_len: 24,
            ttl: 64,
            tos: 0,
            ident: 7,
            dont_frag: true,
        }
        .emit(&mut Ipv4Packet::new_unchecked(&mut d[..]));
        d[40..].copy_from_slice(b"abcd");
        let mut t = TcpPacket::new_unchecked(&mut d[20..]);
        t.set_src_port(1234);
        t.set_dst_port(80);
        t.set_header_len(20);
        t.fill_checksum_v4(src, dst);
        d
    }

    fn checksums_ok(d: &[u8]) -> bool {
        let ip = Ipv4Packet::new_checked(d).unwrap();
        let t = TcpPacket::new_checked(ip.payload()).unwrap();
        ip.verify_checksum() && t.verify_checksum_v4(ip.src_addr(), ip.dst_addr())
    }

    #[test]
    fn test_route_rewrite_keeps_checksums_valid() {
        let mut d = segment();
        assert!(checksums_ok(&d));
        let (laddr, backend) = (Ipv4Addr::new(198, 18, 1, 1), Ipv4Addr::new(198, 18, 1, 10));
        let (src, dst) = (Some((laddr, 40000)), Some((backend, 8080)));
        assert!(route_rewrite(&mut d, 0, 20, L4Proto::Tcp, src, dst));
        assert!(checksums_ok(&d));
        let ip = Ipv4Packet::new_checked(&d[..]).unwrap();
        assert_eq!(
            (ip.src_addr(), ip.dst_addr(), ip.ttl()),
            (laddr, backend, 63)
        );
        let t = TcpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!((t.src_port(), t.dst_port()), (40000, 8080));
    }

    #[test]
    fn test_route_rewrite_refuses_ttl_1_untouched() {
        let mut d = segment();
        d[8] = 1;
        let before = d.clone();
        let dst = Some((Ipv4Addr::new(198, 18, 1, 10), 8080));
        assert!(!route_rewrite(&mut d, 0, 20, L4Proto::Tcp, None, dst));
        assert_eq!(d, before);
    }

    /// The frame `route_rewrite` makes, the old way: TTL, then one incremental update per
    /// address and port.
    fn one_field_at_a_time<A: Family>(
        d: &mut [u8],
        l4: usize,
        proto: L4Proto,
        ends: [Option<(A, u16)>; 2],
    ) {
        assert!(A::dec_ttl(d, 0));
        for (src, e) in [(true, ends[0]), (false, ends[1])] {
            if let Some((addr, port)) = e {
                let old = swap_address(d, 0, src, addr);
                rewrite_l4_endpoint(&mut d[l4..], proto, src, old, addr, port);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn test_prop_route_rewrite_is_one_update_per_field(
            raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 48),
            ttl in 2u8..,
            udp: bool,
            six: bool,
            which in 0u8..3,
            a: (u128, u16),
            b: (u128, u16),
        ) {
            // Arbitrary header bytes (checksums included): the update must match the old one
            // field at a time whatever they hold, UDP's zero checksum included.
            let proto = if udp { L4Proto::Udp } else { L4Proto::Tcp };
            let mut d = raw;
            let src_on = which != 1;
            let dst_on = which != 0;
            if six {
                d.resize(40 + 20, 0);
                d[0] = 0x60;
                d[7] = ttl;
                let e = [
                    src_on.then(|| (Ipv6Addr::from(a.0), a.1)),
                    dst_on.then(|| (Ipv6Addr::from(b.0), b.1)),
                ];
                let mut want = d.clone();
                one_field_at_a_time(&mut want, 40, proto, e);
                proptest::prop_assert!(route_rewrite(&mut d, 0, 40, proto, e[0], e[1]));
                proptest::prop_assert_eq!(d, want);
            } else {
                d[0] = 0x45;
                d[8] = ttl;
                let e = [
                    src_on.then(|| (Ipv4Addr::from(a.0 as u32), a.1)),
                    dst_on.then(|| (Ipv4Addr::from(b.0 as u32), b.1)),
                ];
                let mut want = d.clone();
                one_field_at_a_time(&mut want, 20, proto, e);
                proptest::prop_assert!(route_rewrite(&mut d, 0, 20, proto, e[0], e[1]));
                proptest::prop_assert_eq!(d, want);
            }
        }
    }

    #[test]
    fn test_quoted_endpoint_fixes_the_l4_checksum_only_when_quoted() {
        let backend = Ipv4Addr::new(198, 18, 1, 10);
        // The whole segment quoted: the quote's checksums stay valid.
        let mut d = segment();
        rewrite_quoted_endpoint(&mut d, (0, 20, 24), L4Proto::Tcp, false, backend, 8080);
        assert!(checksums_ok(&d));
        // Only the 8 bytes RFC 792 asks for: the ports change, the bytes after them do not.
        let mut q = segment();
        let before = q.clone();
        rewrite_quoted_endpoint(&mut q, (0, 20, 8), L4Proto::Tcp, false, backend, 8080);
        assert_eq!(TcpPacket::new_unchecked(&q[20..]).dst_port(), 8080);
        assert_eq!(q[28..], before[28..]);
        assert!(Ipv4Packet::new_checked(&q[..]).unwrap().verify_checksum());
    }

    #[test]
    fn test_toa_position() {
        assert_eq!(toa_insert_at(&[]), Some(0));
        assert_eq!(toa_insert_at(&[2, 4, 5, 180]), Some(4));
        assert_eq!(toa_insert_at(&[2, 4, 5, 180, 0, 0, 0, 0]), Some(4));
        assert_eq!(toa_insert_at(&[1, 1, 3, 3, 7, 0]), Some(5));
        assert_eq!(toa_insert_at(&[2, 0, 0, 0]), None, "length 0");
        assert_eq!(toa_insert_at(&[2, 9, 0, 0]), None, "past the end");
        assert_eq!(toa_insert_at(&[1, 1, 1, 8]), None, "length byte missing");
    }
}
