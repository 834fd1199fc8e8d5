//! IPv4 packets with options (RFC 791).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version|  IHL  |Type of Service|          Total Length         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Identification        |Flags|      Fragment Offset    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Time to Live |    Protocol   |         Header Checksum       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       Source Address                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Destination Address                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Options                    |    Padding    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Contract: [`Packet::new_checked`] validates, in this order, the 20-byte minimum
//! (`TruncatedIpv4`), the version (`BadIpv4Version`), IHL >= 5 (`BadIpv4Ihl`), total length <=
//! buffer (`BadIpv4TotalLen`) and IHL * 4 <= total length (`BadIpv4Ihl`). The header length
//! always comes from IHL, never an assumed 20 bytes; [`Packet::payload`] stops at the total
//! length, so Ethernet padding is never taken for payload. [`Packet::new_quoted`] is the lenient
//! mode for the header an ICMP error quotes: the quote is truncated, so the total length is not
//! checked against the buffer, only that the IHL-sized header fits. The header checksum is not
//! verified by either: call [`Packet::verify_checksum`].

use super::checksum;
use super::ip::IpProtocol;
use super::{array, be16, DropReason};
use core::net::Ipv4Addr;

mod field {
    use crate::wire::Field;
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const LENGTH: Field = 2..4;
    pub const IDENT: Field = 4..6;
    pub const FLG_OFF: Field = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Field = 10..12;
    pub const SRC_ADDR: Field = 12..16;
    pub const DST_ADDR: Field = 16..20;
}

/// Length of an IPv4 header without options.
pub const HEADER_LEN: usize = field::DST_ADDR.end;
/// Length of the longest IPv4 header (IHL 15).
pub const MAX_HEADER_LEN: usize = 60;

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// A read/write view of an IPv4 packet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer without checking it (for emitting).
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap an untrusted buffer, validating version, IHL and total length.
    ///
    /// # Errors
    /// `TruncatedIpv4`, `BadIpv4Version`, `BadIpv4Ihl` or `BadIpv4TotalLen`.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, DropReason> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Wrap the (truncated) IPv4 header quoted by an ICMP error: the total length may exceed
    /// the buffer, but the whole IHL-sized header must be present.
    ///
    /// # Errors
    /// `TruncatedIpv4`, `BadIpv4Version`, `BadIpv4Ihl` (also when IHL * 4 > total length).
    pub fn new_quoted(buffer: T) -> Result<Packet<T>, DropReason> {
        let p = Self::new_unchecked(buffer);
        let len = p.buffer.as_ref().len();
        p.check_fixed()?;
        let hl = p.header_len();
        if hl > len {
            return Err(DropReason::TruncatedIpv4);
        }
        if hl > usize::from(p.total_len()) {
            return Err(DropReason::BadIpv4Ihl);
        }
        Ok(p)
    }

    fn check_fixed(&self) -> Result<(), DropReason> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(DropReason::TruncatedIpv4);
        }
        if self.version() != 4 {
            return Err(DropReason::BadIpv4Version);
        }
        if self.header_len() < HEADER_LEN {
            return Err(DropReason::BadIpv4Ihl);
        }
        Ok(())
    }

    /// Validate the header against the buffer (see the module contract for the order).
    ///
    /// # Errors
    /// `TruncatedIpv4`, `BadIpv4Version`, `BadIpv4Ihl` or `BadIpv4TotalLen`.
    pub fn check_len(&self) -> Result<(), DropReason> {
        self.check_fixed()?;
        let total = usize::from(self.total_len());
        if total > self.buffer.as_ref().len() {
            return Err(DropReason::BadIpv4TotalLen);
        }
        if self.header_len() > total {
            return Err(DropReason::BadIpv4Ihl);
        }
        Ok(())
    }

    /// Return the wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Return the version field.
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Return the header length in bytes (IHL * 4), options included.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// Return the DSCP field.
    #[inline]
    pub fn dscp(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] >> 2
    }

    /// Return the ECN field.
    #[inline]
    pub fn ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] & 0x03
    }

    /// Return the DSCP and ECN byte (the former type of service).
    #[inline]
    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN]
    }

    /// Return the total length field (header plus payload).
    #[inline]
    pub fn total_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH.start)
    }

    /// Return the identification field.
    #[inline]
    pub fn ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::IDENT.start)
    }

    /// Return the Don't Fragment flag.
    #[inline]
    pub fn dont_frag(&self) -> bool {
        be16(self.buffer.as_ref(), field::FLG_OFF.start) & FLAG_DF != 0
    }

    /// Return the More Fragments flag.
    #[inline]
    pub fn more_frags(&self) -> bool {
        be16(self.buffer.as_ref(), field::FLG_OFF.start) & FLAG_MF != 0
    }

    /// Return the fragment offset in bytes.
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        (be16(self.buffer.as_ref(), field::FLG_OFF.start) & OFFSET_MASK) << 3
    }

    /// Return true for any fragment: MF set or a non-zero offset.
    #[inline]
    pub fn is_fragment(&self) -> bool {
        be16(self.buffer.as_ref(), field::FLG_OFF.start) & (FLAG_MF | OFFSET_MASK) != 0
    }

    /// Return the time-to-live field.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// Return the protocol field as a raw number.
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    /// Return the protocol field, decoded.
    #[inline]
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(self.protocol())
    }

    /// Return the header checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// Return the source address.
    #[inline]
    pub fn src_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(array::<4>(self.buffer.as_ref(), field::SRC_ADDR.start))
    }

    /// Return the destination address.
    #[inline]
    pub fn dst_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(array::<4>(self.buffer.as_ref(), field::DST_ADDR.start))
    }

    /// Return the options bytes (empty when IHL is 5).
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// Return the header bytes, options included.
    #[inline]
    pub fn header(&self) -> &[u8] {
        &self.buffer.as_ref()[..self.header_len()]
    }

    /// Return true when the header checksum verifies.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::ipv4_header_ok(self.header())
    }

    /// Return the payload: from the end of the header to the total length (or the end of the
    /// buffer for a quoted header).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let hl = self.header_len();
        let end = usize::from(self.total_len()).min(b.len()).max(hl);
        &b[hl..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the total length field; invalidates `check_len`.
    #[inline]
    pub fn set_total_len(&mut self, v: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the identification field.
    #[inline]
    pub fn set_ident(&mut self, v: u16) {
        self.buffer.as_mut()[field::IDENT].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the flags and fragment offset: Don't Fragment, More Fragments, and the offset in
    /// bytes (a multiple of 8).
    #[inline]
    pub fn set_frag(&mut self, dont_frag: bool, more: bool, offset: u16) {
        let mut v = (offset >> 3) & OFFSET_MASK;
        if dont_frag {
            v |= FLAG_DF;
        }
        if more {
            v |= FLAG_MF;
        }
        self.buffer.as_mut()[field::FLG_OFF].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the time-to-live field.
    #[inline]
    pub fn set_ttl(&mut self, v: u8) {
        self.buffer.as_mut()[field::TTL] = v;
    }

    /// Set the protocol field.
    #[inline]
    pub fn set_protocol(&mut self, v: u8) {
        self.buffer.as_mut()[field::PROTOCOL] = v;
    }

    /// Set the header checksum field.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the source address (checksum untouched).
    #[inline]
    pub fn set_src_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&a.octets());
    }

    /// Set the destination address (checksum untouched).
    #[inline]
    pub fn set_dst_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&a.octets());
    }

    /// Compute and store the header checksum.
    #[inline]
    pub fn fill_checksum(&mut self) {
        let c = checksum::ipv4_header_checksum(self.header());
        self.set_checksum(c);
    }

    /// Set the source address and update the header checksum incrementally.
    #[inline]
    pub fn rewrite_src_addr(&mut self, a: Ipv4Addr) {
        let c = checksum::update32(self.checksum(), self.src_addr().to_bits(), a.to_bits());
        self.set_src_addr(a);
        self.set_checksum(c);
    }

    /// Set the destination address and update the header checksum incrementally.
    #[inline]
    pub fn rewrite_dst_addr(&mut self, a: Ipv4Addr) {
        let c = checksum::update32(self.checksum(), self.dst_addr().to_bits(), a.to_bits());
        self.set_dst_addr(a);
        self.set_checksum(c);
    }

    /// Set the total length field and update the header checksum incrementally; invalidates
    /// `check_len`.
    #[inline]
    pub fn rewrite_total_len(&mut self, v: u16) {
        let c = checksum::update16(self.checksum(), self.total_len(), v);
        self.set_total_len(v);
        self.set_checksum(c);
    }

    /// Decrement the TTL (saturating at 0) and update the header checksum incrementally;
    /// return the new TTL.
    #[inline]
    pub fn decrement_ttl(&mut self) -> u8 {
        let b = self.buffer.as_ref();
        let old = be16(b, field::TTL);
        let ttl = self.ttl().saturating_sub(1);
        let new = (u16::from(ttl) << 8) | u16::from(self.protocol());
        let c = checksum::update16(self.checksum(), old, new);
        self.set_ttl(ttl);
        self.set_checksum(c);
        ttl
    }
}

/// The compact form of an IPv4 header without options, as the gateway emits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source address.
    pub src_addr: Ipv4Addr,
    /// Destination address.
    pub dst_addr: Ipv4Addr,
    /// Protocol number.
    pub protocol: u8,
    /// Payload length in bytes.
    pub payload_len: usize,
    /// Time to live.
    pub ttl: u8,
    /// DSCP and ECN byte.
    pub tos: u8,
    /// Identification.
    pub ident: u16,
    /// Don't Fragment flag.
    pub dont_frag: bool,
}

impl Repr {
    /// Parse a checked packet, verifying the checksum and rejecting fragments.
    ///
    /// # Errors
    /// `BadIpv4Checksum` or `Ipv4Fragment`.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr, DropReason> {
        if !p.verify_checksum() {
            return Err(DropReason::BadIpv4Checksum);
        }
        if p.is_fragment() {
            return Err(DropReason::Ipv4Fragment);
        }
        Ok(Repr {
            src_addr: p.src_addr(),
            dst_addr: p.dst_addr(),
            protocol: p.protocol(),
            payload_len: usize::from(p.total_len()) - p.header_len(),
            ttl: p.ttl(),
            tos: p.tos(),
            ident: p.ident(),
            dont_frag: p.dont_frag(),
        })
    }

    /// Return the emitted header length (20: no options).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Emit a 20-byte header with a valid checksum.
    ///
    /// # Panics
    /// If the buffer is shorter than 20 bytes.
    #[inline]
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        // Built and summed in a local, then written once: summing the packet's bytes after
        // writing them field by field read words back across narrower stores, which the CPU
        // cannot forward (a stall for each such word, on every TUN packet).
        let mut h = [0u8; HEADER_LEN];
        h[field::VER_IHL] = 0x45;
        h[field::DSCP_ECN] = self.tos;
        let total = u16::try_from(HEADER_LEN + self.payload_len).unwrap_or(u16::MAX);
        h[field::LENGTH].copy_from_slice(&total.to_be_bytes());
        h[field::IDENT].copy_from_slice(&self.ident.to_be_bytes());
        // Flags and offset in one write: no fragment, DF as asked (TUN emits this per packet).
        let flags = if self.dont_frag { FLAG_DF } else { 0 };
        h[field::FLG_OFF].copy_from_slice(&flags.to_be_bytes());
        h[field::TTL] = self.ttl;
        h[field::PROTOCOL] = self.protocol;
        h[field::SRC_ADDR].copy_from_slice(&self.src_addr.octets());
        h[field::DST_ADDR].copy_from_slice(&self.dst_addr.octets());
        let c = checksum::ipv4_header_checksum_20(&h);
        h[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
        p.buffer.as_mut()[..HEADER_LEN].copy_from_slice(&h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 10.0.0.1 -> 10.0.0.2, UDP, DF, TTL 64, 4 bytes of payload.
    static PACKET: [u8; 24] = [
        0x45, 0x00, 0x00, 0x18, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0x0a, 0x00, 0x00,
        0x01, 0x0a, 0x00, 0x00, 0x02, 0xde, 0xad, 0xbe, 0xef,
    ];

    fn packet() -> [u8; 24] {
        let mut b = PACKET;
        let c = checksum::ipv4_header_checksum(&b[..20]);
        b[10..12].copy_from_slice(&c.to_be_bytes());
        b
    }

    fn repr() -> Repr {
        Repr {
            src_addr: Ipv4Addr::new(10, 0, 0, 1),
            dst_addr: Ipv4Addr::new(10, 0, 0, 2),
            protocol: 17,
            payload_len: 4,
            ttl: 64,
            tos: 0,
            ident: 0x1234,
            dont_frag: true,
        }
    }

    #[test]
    fn test_deconstruct() {
        let b = packet();
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.version(), 4);
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.total_len(), 24);
        assert_eq!(p.ident(), 0x1234);
        assert!(p.dont_frag());
        assert!(!p.more_frags());
        assert_eq!(p.frag_offset(), 0);
        assert!(!p.is_fragment());
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.next_header(), IpProtocol::Udp);
        assert_eq!(p.src_addr(), Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(10, 0, 0, 2));
        assert!(p.verify_checksum());
        assert!(p.options().is_empty());
        assert_eq!(p.payload(), &[0xde, 0xad, 0xbe, 0xef]);
    }

    #[test]
    fn test_construct() {
        // Version/IHL, flags and payload are what `Repr::emit` and the caller write.
        let mut b = [0u8; 24];
        b[0] = 0x45;
        b[6] = 0x40;
        b[20..].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_total_len(24);
        p.set_ident(0x1234);
        p.set_ttl(64);
        p.set_protocol(17);
        p.set_src_addr(Ipv4Addr::new(10, 0, 0, 1));
        p.set_dst_addr(Ipv4Addr::new(10, 0, 0, 2));
        p.fill_checksum();
        assert_eq!(b, packet());
    }

    #[test]
    fn test_parse_emit() {
        let b = packet();
        assert_eq!(
            Repr::parse(&Packet::new_checked(&b[..]).unwrap()),
            Ok(repr())
        );
        let mut out = [0u8; 24];
        repr().emit(&mut Packet::new_unchecked(&mut out[..]));
        out[20..].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(out, packet());
    }

    #[test]
    fn test_options_and_padding() {
        // IHL 6 with a 4-byte option (NOP NOP NOP EOL) and 3 bytes of Ethernet padding.
        let mut b = vec![
            0x46, 0, 0, 28, 0, 0, 0, 0, 64, 6, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
        ];
        b.extend_from_slice(&[1, 1, 1, 0, 9, 9, 9, 9, 0, 0, 0]);
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.fill_checksum();
        assert!(p.verify_checksum());
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.options(), &[1, 1, 1, 0]);
        assert_eq!(p.payload(), &[9, 9, 9, 9]);
    }

    #[test]
    fn test_truncated() {
        let b = packet();
        for len in 0..HEADER_LEN {
            assert_eq!(
                Packet::new_checked(&b[..len]).unwrap_err(),
                DropReason::TruncatedIpv4
            );
            assert_eq!(
                Packet::new_quoted(&b[..len]).unwrap_err(),
                DropReason::TruncatedIpv4
            );
        }
        for len in HEADER_LEN..b.len() {
            assert_eq!(
                Packet::new_checked(&b[..len]).unwrap_err(),
                DropReason::BadIpv4TotalLen
            );
            assert!(Packet::new_quoted(&b[..len]).is_ok());
        }
    }

    #[test]
    fn test_hostile() {
        let good = packet();
        // Version 6.
        let mut b = good;
        b[0] = 0x65;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            DropReason::BadIpv4Version
        );
        // IHL < 5.
        for ihl in 0..5u8 {
            b = good;
            b[0] = 0x40 | ihl;
            assert_eq!(
                Packet::new_checked(&b[..]).unwrap_err(),
                DropReason::BadIpv4Ihl
            );
            assert_eq!(
                Packet::new_quoted(&b[..]).unwrap_err(),
                DropReason::BadIpv4Ihl
            );
        }
        // IHL past the total length / the buffer.
        b = good;
        b[0] = 0x4f;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            DropReason::BadIpv4Ihl
        );
        assert_eq!(
            Packet::new_quoted(&b[..]).unwrap_err(),
            DropReason::TruncatedIpv4
        );
        // Total length past the buffer.
        b = good;
        b[2..4].copy_from_slice(&25u16.to_be_bytes());
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            DropReason::BadIpv4TotalLen
        );
        // Total length shorter than the header.
        b = good;
        b[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            DropReason::BadIpv4Ihl
        );
        assert_eq!(
            Packet::new_quoted(&b[..]).unwrap_err(),
            DropReason::BadIpv4Ihl
        );
    }

    #[test]
    fn test_fragments() {
        // Flags and offset: DF, MF, offset in units of 8 bytes.
        let flg_off = |b: &mut [u8; 24], v: u16| b[6..8].copy_from_slice(&v.to_be_bytes());
        let mut b = packet();
        flg_off(&mut b, 0x4000 | 0x2000);
        assert!(Packet::new_unchecked(&b[..]).is_fragment());
        assert!(Packet::new_unchecked(&b[..]).more_frags());
        flg_off(&mut b, 0x4000 | (1480 / 8));
        let mut p = Packet::new_unchecked(&mut b[..]);
        assert!(!p.more_frags());
        assert_eq!(p.frag_offset(), 1480);
        assert!(p.is_fragment());
        assert!(p.dont_frag());
        p.fill_checksum();
        assert_eq!(Repr::parse(&p), Err(DropReason::Ipv4Fragment));
        flg_off(&mut b, 0x4000);
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_checksum(0);
        assert_eq!(Repr::parse(&p), Err(DropReason::BadIpv4Checksum));
    }

    #[test]
    fn test_rewrite_and_ttl() {
        let mut b = packet();
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.rewrite_src_addr(Ipv4Addr::new(192, 168, 7, 9));
        assert!(p.verify_checksum());
        p.rewrite_dst_addr(Ipv4Addr::new(172, 16, 0, 254));
        assert!(p.verify_checksum());
        assert_eq!(p.decrement_ttl(), 63);
        assert!(p.verify_checksum());
        p.rewrite_total_len(1500);
        assert_eq!(p.total_len(), 1500);
        assert!(p.verify_checksum());
        p.rewrite_total_len(24);
        p.set_ttl(0);
        p.fill_checksum();
        assert_eq!(p.decrement_ttl(), 0);
        assert!(p.verify_checksum());
    }

    proptest! {
        #[test]
        fn test_prop_never_panics(data in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(p) = Packet::new_checked(&data[..]) {
                let _ = (p.payload(), p.options(), p.verify_checksum(), p.src_addr(), p.dst_addr());
                prop_assert!(p.payload().len() + p.header_len() <= data.len());
            }
            if let Ok(p) = Packet::new_quoted(&data[..]) {
                let _ = (p.payload(), p.options(), p.verify_checksum(), p.src_addr());
            }
        }

        #[test]
        fn test_prop_emit_parse_round_trip(src: u32, dst: u32, proto: u8, len in 0usize..1000, ttl: u8, tos: u8, ident: u16, df: bool) {
            let r = Repr { src_addr: Ipv4Addr::from_bits(src), dst_addr: Ipv4Addr::from_bits(dst), protocol: proto, payload_len: len, ttl, tos, ident, dont_frag: df };
            let mut b = vec![0u8; 20 + len];
            r.emit(&mut Packet::new_unchecked(&mut b[..]));
            prop_assert_eq!(Repr::parse(&Packet::new_checked(&b[..]).unwrap()), Ok(r));
        }
    }
}
