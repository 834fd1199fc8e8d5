//! UDP datagrams (RFC 768).
//!
//! ```text
//!  0      7 8     15 16    23 24    31
//! +--------+--------+--------+--------+
//! |     Source      |   Destination   |
//! |      Port       |      Port       |
//! +--------+--------+--------+--------+
//! |                 |                 |
//! |     Length      |    Checksum     |
//! +--------+--------+--------+--------+
//! |          data octets ...
//! +---------------- ...
//! ```
//!
//! Contract: [`Packet::new_checked`] takes the IP payload and checks the 8-byte header
//! (`TruncatedUdp`) and 8 <= length field <= buffer (`BadUdpLength`); [`Packet::payload`] stops
//! at the length field. Checksums follow RFC 768 / RFC 8200 §8.1: over IPv4 a zero checksum
//! means "not computed" and verifies; over IPv6 zero is invalid; a computed zero is sent as
//! `0xffff`.

use super::checksum;
use super::{be16, DropReason};
use core::net::{Ipv4Addr, Ipv6Addr};

mod field {
    use crate::wire::Field;
    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const LENGTH: Field = 4..6;
    pub const CHECKSUM: Field = 6..8;
}

/// Length of the UDP header.
pub const HEADER_LEN: usize = field::CHECKSUM.end;

/// A read/write view of a UDP datagram.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer without checking it (for emitting, or the 8 quoted bytes of an ICMP
    /// error).
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap an untrusted datagram (the IP payload), validating the length field.
    ///
    /// # Errors
    /// `TruncatedUdp` or `BadUdpLength`.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, DropReason> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Validate the header against the buffer.
    ///
    /// # Errors
    /// `TruncatedUdp` or `BadUdpLength`.
    pub fn check_len(&self) -> Result<(), DropReason> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(DropReason::TruncatedUdp);
        }
        let l = usize::from(self.len());
        if l < HEADER_LEN || l > len {
            return Err(DropReason::BadUdpLength);
        }
        Ok(())
    }

    /// Return the wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Return the source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SRC_PORT.start)
    }

    /// Return the destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::DST_PORT.start)
    }

    /// Return the length field (header plus payload).
    #[inline]
    pub fn len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH.start)
    }

    /// Return true when the length field says there is no payload.
    #[inline]
    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) <= HEADER_LEN
    }

    /// Return the checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// Return the payload, bounded by the length field.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = usize::from(self.len()).clamp(HEADER_LEN, b.len().max(HEADER_LEN));
        &b[HEADER_LEN..end]
    }

    /// Return the datagram as covered by the checksum: header plus payload up to the length.
    #[inline]
    fn datagram(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[..usize::from(self.len()).min(b.len())]
    }

    /// Return true when the checksum verifies over IPv4 (a zero checksum always does).
    #[inline]
    pub fn verify_checksum_v4(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        self.checksum() == 0 || checksum::l4_verify_v4(src, dst, 17, self.datagram())
    }

    /// Return true when the checksum verifies over IPv6 (a zero checksum never does).
    #[inline]
    pub fn verify_checksum_v6(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        self.checksum() != 0 && checksum::l4_verify_v6(src, dst, 17, self.datagram())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the source port.
    #[inline]
    pub fn set_src_port(&mut self, v: u16) {
        self.buffer.as_mut()[field::SRC_PORT].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the destination port.
    #[inline]
    pub fn set_dst_port(&mut self, v: u16) {
        self.buffer.as_mut()[field::DST_PORT].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the length field; invalidates `check_len`.
    #[inline]
    pub fn set_len(&mut self, v: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes());
    }

    /// Compute and store the checksum over IPv4 (0 is sent as `0xffff`).
    #[inline]
    pub fn fill_checksum_v4(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let c = checksum::l4_checksum_v4(src, dst, 17, self.datagram());
        self.set_checksum(checksum::udp_on_wire(c));
    }

    /// Compute and store the checksum over IPv6 (0 is sent as `0xffff`).
    #[inline]
    pub fn fill_checksum_v6(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        self.set_checksum(0);
        let c = checksum::l4_checksum_v6(src, dst, 17, self.datagram());
        self.set_checksum(checksum::udp_on_wire(c));
    }

    /// Set the source port and update the checksum incrementally (a zero checksum stays 0).
    #[inline]
    pub fn rewrite_src_port(&mut self, v: u16) {
        let c = checksum::udp_update16(self.checksum(), self.src_port(), v);
        self.set_src_port(v);
        self.set_checksum(c);
    }

    /// Set the destination port and update the checksum incrementally (a zero checksum stays
    /// 0).
    #[inline]
    pub fn rewrite_dst_port(&mut self, v: u16) {
        let c = checksum::udp_update16(self.checksum(), self.dst_port(), v);
        self.set_dst_port(v);
        self.set_checksum(c);
    }

    /// Set the source and/or destination port and update the checksum once for them and for
    /// `pseudo`, the pseudo-header's change (the addresses the IP header got) (a zero checksum stays 0).
    #[inline(always)]
    pub fn rewrite_ports(&mut self, src: Option<u16>, dst: Option<u16>, pseudo: checksum::Update) {
        let mut u = pseudo;
        if let Some(v) = src {
            u = u.word16(self.src_port(), v);
            self.set_src_port(v);
        }
        if let Some(v) = dst {
            u = u.word16(self.dst_port(), v);
            self.set_dst_port(v);
        }
        let c = u.apply_udp(self.checksum());
        self.set_checksum(c);
    }
}

/// The compact form of a UDP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Payload length.
    pub payload_len: usize,
}

impl Repr {
    /// Parse a checked datagram.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        Repr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            payload_len: p.payload().len(),
        }
    }

    /// Return the emitted length (header plus payload).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len
    }

    /// Emit the header with a zero checksum (call `fill_checksum_*` once the payload is in).
    ///
    /// # Panics
    /// If the buffer is shorter than 8 bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_len(u16::try_from(self.buffer_len()).unwrap_or(u16::MAX));
        p.set_checksum(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 2);

    /// 53 -> 12345, "abcd", checksum over SRC -> DST; followed by 2 bytes of trailing junk.
    static DATAGRAM: [u8; 14] = [
        0x00, 0x35, 0x30, 0x39, 0x00, 0x0c, 0x00, 0x00, b'a', b'b', b'c', b'd', 0xee, 0xee,
    ];

    #[test]
    fn test_deconstruct() {
        let p = Packet::new_checked(&DATAGRAM[..]).unwrap();
        assert_eq!(p.src_port(), 53);
        assert_eq!(p.dst_port(), 12345);
        assert_eq!(p.len(), 12);
        assert!(!p.is_empty());
        assert_eq!(p.payload(), b"abcd");
        // Zero checksum over IPv4 means "none".
        assert!(p.verify_checksum_v4(SRC, DST));
        assert!(!p.verify_checksum_v6(&Ipv6Addr::LOCALHOST, &Ipv6Addr::LOCALHOST));
    }

    #[test]
    fn test_construct() {
        let mut b = [0xeeu8; 14];
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_src_port(53);
        p.set_dst_port(12345);
        p.set_len(12);
        p.set_checksum(0);
        b[8..12].copy_from_slice(b"abcd");
        assert_eq!(b, DATAGRAM);
    }

    #[test]
    fn test_parse_emit() {
        let r = Repr {
            src_port: 53,
            dst_port: 12345,
            payload_len: 4,
        };
        assert_eq!(Repr::parse(&Packet::new_checked(&DATAGRAM[..]).unwrap()), r);
        let mut b = [0xeeu8; 14];
        r.emit(&mut Packet::new_unchecked(&mut b[..]));
        b[8..12].copy_from_slice(b"abcd");
        assert_eq!(b, DATAGRAM);
    }

    #[test]
    fn test_checksum() {
        let mut b = DATAGRAM;
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.fill_checksum_v4(SRC, DST);
        assert_ne!(p.checksum(), 0);
        assert!(p.verify_checksum_v4(SRC, DST));
        assert!(!p.verify_checksum_v4(SRC, SRC));
        p.rewrite_dst_port(53);
        assert!(p.verify_checksum_v4(SRC, DST));
        // The trailing junk is outside the length and must not count.
        let (a, b6) = (
            Ipv6Addr::LOCALHOST,
            "2001:db8::9".parse::<Ipv6Addr>().unwrap(),
        );
        p.fill_checksum_v6(&a, &b6);
        assert!(p.verify_checksum_v6(&a, &b6));
        // No checksum stays no checksum through a port rewrite.
        p.set_checksum(0);
        p.rewrite_src_port(99);
        assert_eq!(p.checksum(), 0);
    }

    #[test]
    fn test_zero_checksum_sent_as_ffff() {
        // Find a payload whose checksum computes to 0, then check it is sent as 0xffff.
        let mut b = [0u8; 10];
        b[4..6].copy_from_slice(&10u16.to_be_bytes());
        for x in 0..=u16::MAX {
            b[8..10].copy_from_slice(&x.to_be_bytes());
            b[6..8].copy_from_slice(&[0, 0]);
            if checksum::l4_checksum_v4(SRC, DST, 17, &b) == 0 {
                let mut p = Packet::new_unchecked(&mut b[..]);
                p.fill_checksum_v4(SRC, DST);
                assert_eq!(p.checksum(), 0xffff);
                assert!(p.verify_checksum_v4(SRC, DST));
                return;
            }
        }
        panic!("no zero-checksum payload found");
    }

    #[test]
    fn test_truncated() {
        for len in 0..HEADER_LEN {
            assert_eq!(
                Packet::new_checked(&DATAGRAM[..len]).unwrap_err(),
                DropReason::TruncatedUdp
            );
        }
        for len in HEADER_LEN..12 {
            assert_eq!(
                Packet::new_checked(&DATAGRAM[..len]).unwrap_err(),
                DropReason::BadUdpLength
            );
        }
    }

    #[test]
    fn test_bad_length() {
        for l in [0u16, 1, 7, 15, 0xffff] {
            let mut b = DATAGRAM;
            b[4..6].copy_from_slice(&l.to_be_bytes());
            assert_eq!(
                Packet::new_checked(&b[..]).unwrap_err(),
                DropReason::BadUdpLength
            );
        }
    }

    proptest! {
        #[test]
        fn test_prop_never_panics(data in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(p) = Packet::new_checked(&data[..]) {
                prop_assert!(p.payload().len() + HEADER_LEN <= data.len());
                let _ = p.verify_checksum_v4(SRC, DST);
            }
        }
    }
}
