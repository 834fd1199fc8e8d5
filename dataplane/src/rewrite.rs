//! Byte-level rewrites the forwarding modes are made of, for both address families.
//!
//! Every function here works on a frame already validated by [`crate::wire::parse_frame`] and
//! uses the offsets it returned, so indexing cannot go out of bounds. Checksums are updated
//! incrementally (RFC 1624) where one field changes, and recomputed in full only for the rare
//! packets whose length changes (TOA insertion, encapsulation, ICMP errors).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::frame::Frame;
use crate::session::{PersistTable, SessionAddr, SessionTable};
use crate::types::L4Proto;
use crate::types::Mac;
use crate::wire::checksum;

/// IPv4 header fields (offsets from the start of the header).
mod v4 {
    pub const TOTAL_LEN: usize = 2;
    pub const TTL: usize = 8;
    pub const CHECKSUM: usize = 10;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
}

/// IPv6 header fields.
mod v6 {
    pub const PAYLOAD_LEN: usize = 4;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: usize = 8;
    pub const DST: usize = 24;
}

/// Offset of the checksum in the TCP header.
const TCP_CSUM: usize = 16;
/// Offset of the checksum in the UDP header.
const UDP_CSUM: usize = 6;

/// Return the offset of the L4 checksum field for `proto`.
#[inline]
pub(crate) const fn l4_csum_off(proto: L4Proto) -> usize {
    match proto {
        L4Proto::Tcp => TCP_CSUM,
        L4Proto::Udp => UDP_CSUM,
    }
}

#[inline]
pub(crate) fn rd16(d: &[u8], at: usize) -> u16 {
    // One bounds check for the pair (indexing byte by byte checks each).
    let b = &d[at..at + 2];
    u16::from_be_bytes([b[0], b[1]])
}

#[inline]
pub(crate) fn wr16(d: &mut [u8], at: usize, v: u16) {
    d[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// The per-worker tables of one address family.
#[derive(Debug)]
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
    /// Add `n` to the length field of the IP header (fixing the IPv4 header checksum).
    fn grow_len(d: &mut [u8], l3: usize, n: u16);
    /// Recompute the TCP/UDP checksum of the segment at `l4..end` in full.
    fn fill_l4_checksum(d: &mut [u8], l3: usize, l4: usize, end: usize, proto: u8);
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
        rd_addr4(d, l3 + v4::SRC)
    }
    #[inline]
    fn dst(d: &[u8], l3: usize) -> Self {
        rd_addr4(d, l3 + v4::DST)
    }
    #[inline]
    fn set_src(d: &mut [u8], l3: usize, a: Self) {
        set_addr4(d, l3, v4::SRC, a);
    }
    #[inline]
    fn set_dst(d: &mut [u8], l3: usize, a: Self) {
        set_addr4(d, l3, v4::DST, a);
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
        let ttl = d[l3 + v4::TTL];
        if ttl <= 1 {
            return false;
        }
        // TTL shares a 16-bit word with the protocol byte.
        let old = rd16(d, l3 + v4::TTL);
        d[l3 + v4::TTL] = ttl - 1;
        let new = rd16(d, l3 + v4::TTL);
        let c = checksum::update16(rd16(d, l3 + v4::CHECKSUM), old, new);
        wr16(d, l3 + v4::CHECKSUM, c);
        true
    }
    fn grow_len(d: &mut [u8], l3: usize, n: u16) {
        let old = rd16(d, l3 + v4::TOTAL_LEN);
        let new = old.wrapping_add(n);
        wr16(d, l3 + v4::TOTAL_LEN, new);
        let c = checksum::update16(rd16(d, l3 + v4::CHECKSUM), old, new);
        wr16(d, l3 + v4::CHECKSUM, c);
    }
    fn fill_l4_checksum(d: &mut [u8], l3: usize, l4: usize, end: usize, proto: u8) {
        let (src, dst) = (Self::src(d, l3), Self::dst(d, l3));
        let off = l4 + if proto == 17 { UDP_CSUM } else { TCP_CSUM };
        wr16(d, off, 0);
        let c = checksum::l4_checksum_v4(src, dst, proto, &d[l4..end]);
        wr16(
            d,
            off,
            if proto == 17 {
                checksum::udp_on_wire(c)
            } else {
                c
            },
        );
    }
    fn write_bytes(self, out: &mut [u8]) {
        out[..4].copy_from_slice(&self.octets());
    }
}

/// Read the IPv4 address at `at` (one bounds check for the four bytes).
#[inline]
fn rd_addr4(d: &[u8], at: usize) -> Ipv4Addr {
    let b = &d[at..at + 4];
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

#[inline]
fn set_addr4(d: &mut [u8], l3: usize, field: usize, a: Ipv4Addr) {
    let at = l3 + field;
    let old = rd_addr4(d, at).to_bits();
    let new = a.to_bits();
    d[at..at + 4].copy_from_slice(&a.octets());
    let c = checksum::update32(rd16(d, l3 + v4::CHECKSUM), old, new);
    wr16(d, l3 + v4::CHECKSUM, c);
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
        addr6_at(d, l3 + v6::SRC)
    }
    #[inline]
    fn dst(d: &[u8], l3: usize) -> Self {
        addr6_at(d, l3 + v6::DST)
    }
    #[inline]
    fn set_src(d: &mut [u8], l3: usize, a: Self) {
        d[l3 + v6::SRC..l3 + v6::SRC + 16].copy_from_slice(&a.octets());
    }
    #[inline]
    fn set_dst(d: &mut [u8], l3: usize, a: Self) {
        d[l3 + v6::DST..l3 + v6::DST + 16].copy_from_slice(&a.octets());
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
        let hl = d[l3 + v6::HOP_LIMIT];
        if hl <= 1 {
            return false;
        }
        d[l3 + v6::HOP_LIMIT] = hl - 1;
        true
    }
    fn grow_len(d: &mut [u8], l3: usize, n: u16) {
        let old = rd16(d, l3 + v6::PAYLOAD_LEN);
        wr16(d, l3 + v6::PAYLOAD_LEN, old.wrapping_add(n));
    }
    fn fill_l4_checksum(d: &mut [u8], l3: usize, l4: usize, end: usize, proto: u8) {
        let (src, dst) = (Self::src(d, l3), Self::dst(d, l3));
        let off = l4 + if proto == 17 { UDP_CSUM } else { TCP_CSUM };
        wr16(d, off, 0);
        let c = checksum::l4_checksum_v6(&src, &dst, proto, &d[l4..end]);
        wr16(
            d,
            off,
            if proto == 17 {
                checksum::udp_on_wire(c)
            } else {
                c
            },
        );
    }
    fn write_bytes(self, out: &mut [u8]) {
        out[..16].copy_from_slice(&self.octets());
    }
}

#[inline]
fn addr6_at(d: &[u8], at: usize) -> Ipv6Addr {
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[at..at + 16]);
    Ipv6Addr::from(b)
}

/// Set the Ethernet destination and source addresses.
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

/// Rewrite the source (`src == true`) or destination address and port of a TCP/UDP packet,
/// updating the IP and L4 checksums incrementally.
#[inline]
pub(crate) fn rewrite_endpoint<A: Family>(
    d: &mut [u8],
    l3: usize,
    l4: usize,
    proto: L4Proto,
    src: bool,
    addr: A,
    port: u16,
) {
    let udp = proto == L4Proto::Udp;
    let coff = l4 + l4_csum_off(proto);
    let poff = if src { l4 } else { l4 + 2 };
    let old_addr = if src { A::src(d, l3) } else { A::dst(d, l3) };
    let old_port = rd16(d, poff);
    if src {
        A::set_src(d, l3, addr);
    } else {
        A::set_dst(d, l3, addr);
    }
    wr16(d, poff, port);
    let mut c = rd16(d, coff);
    c = A::pseudo_update(c, old_addr, addr, udp);
    c = if udp {
        checksum::udp_update16(c, old_port, port)
    } else {
        checksum::update16(c, old_port, port)
    };
    wr16(d, coff, c);
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
        let hl = usize::from(d[l4 + 12] >> 4) * 4;
        let Some(at) = toa_insert_at(&d[l4 + 20..l4 + hl]) else {
            return false;
        };
        (hl, l4 + 20 + at)
    };
    if hl + n > 60 || l3_end - l3 + n > usize::from(mtu) {
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
    d[at] = 254;
    d[at + 1] = n as u8;
    wr16(d, at + 2, cport);
    client.write_bytes(&mut d[at + 4..at + n]);
    d[l4 + 12] = ((((hl + n) / 4) as u8) << 4) | (d[l4 + 12] & 0x0f);
    A::grow_len(d, l3, n as u16);
    A::fill_l4_checksum(d, l3, l4, l3_end + n, 6);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

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
