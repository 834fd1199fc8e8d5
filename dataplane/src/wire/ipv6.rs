//! IPv6 packets (RFC 8200) and a bounded walk over their extension headers.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Traffic Class |           Flow Label                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Payload Length        |  Next Header  |   Hop Limit   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                         Source Address (16)                   +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                      Destination Address (16)                 +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!
//! Extension header (Hop-by-Hop, Routing, Destination Options):
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Next Header  |  Hdr Ext Len  |  (Hdr Ext Len + 1) * 8 - 2 ...
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Contract: [`Packet::new_checked`] checks the 40-byte header (`TruncatedIpv6`), the version
//! (`BadIpv6Version`) and that 40 + payload length fits the buffer (`BadIpv6PayloadLen`).
//! [`Packet::new_quoted`] (the header an ICMPv6 error quotes) skips the payload-length check.
//! [`Packet::upper_layer`] walks at most [`MAX_EXT_HEADERS`] extension headers, every step
//! bounds-checked against the payload, and reports a Fragment header as `Ipv6Fragment`: the
//! gateway does not reassemble. A jumbogram (payload length 0) is treated as an empty payload.

use super::checksum;
use super::ip::IpProtocol;
use super::{array, be16, be32, DropReason};
use core::net::Ipv6Addr;

mod field {
    use crate::wire::Field;
    pub const VER_TC_FLOW: Field = 0..4;
    pub const PAYLOAD_LEN: Field = 4..6;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC_ADDR: Field = 8..24;
    pub const DST_ADDR: Field = 24..40;
}

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = field::DST_ADDR.end;
/// Longest extension-header chain walked before giving up with `Ipv6ExtHeaderChainTooLong`.
///
/// RFC 8200 §4.1 recommends at most one of each header (Destination Options twice): 5 fits
/// every legitimate chain, 8 leaves margin while bounding the work per packet.
pub const MAX_EXT_HEADERS: usize = 8;

/// Where the upper-layer (L4) header starts, after the extension headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpperLayer {
    /// The final next-header value (TCP, UDP, ICMPv6, or anything else).
    pub proto: u8,
    /// Offset of the upper-layer header from the start of the IPv6 header.
    pub offset: usize,
}

/// A read/write view of an IPv6 packet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer without checking it (for emitting).
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap an untrusted buffer, validating header, version and payload length.
    ///
    /// # Errors
    /// `TruncatedIpv6`, `BadIpv6Version` or `BadIpv6PayloadLen`.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, DropReason> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Wrap the (truncated) IPv6 header quoted by an ICMPv6 error: the payload length may
    /// exceed the buffer.
    ///
    /// # Errors
    /// `TruncatedIpv6` or `BadIpv6Version`.
    pub fn new_quoted(buffer: T) -> Result<Packet<T>, DropReason> {
        let p = Self::new_unchecked(buffer);
        p.check_fixed()?;
        Ok(p)
    }

    fn check_fixed(&self) -> Result<(), DropReason> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(DropReason::TruncatedIpv6)
        } else if self.version() != 6 {
            Err(DropReason::BadIpv6Version)
        } else {
            Ok(())
        }
    }

    /// Validate the header against the buffer.
    ///
    /// # Errors
    /// `TruncatedIpv6`, `BadIpv6Version` or `BadIpv6PayloadLen`.
    pub fn check_len(&self) -> Result<(), DropReason> {
        self.check_fixed()?;
        if HEADER_LEN + usize::from(self.payload_len()) > self.buffer.as_ref().len() {
            Err(DropReason::BadIpv6PayloadLen)
        } else {
            Ok(())
        }
    }

    /// Return the wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Return the version field.
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }

    /// Return the traffic class field.
    #[inline]
    pub fn traffic_class(&self) -> u8 {
        let w = be32(self.buffer.as_ref(), field::VER_TC_FLOW.start);
        ((w >> 20) & 0xff) as u8
    }

    /// Return the 20-bit flow label.
    #[inline]
    pub fn flow_label(&self) -> u32 {
        be32(self.buffer.as_ref(), field::VER_TC_FLOW.start) & 0x000f_ffff
    }

    /// Return the payload length field (extension headers included).
    #[inline]
    pub fn payload_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::PAYLOAD_LEN.start)
    }

    /// Return the next-header field of the fixed header, as a raw number.
    #[inline]
    pub fn next_header_raw(&self) -> u8 {
        self.buffer.as_ref()[field::NXT_HDR]
    }

    /// Return the next-header field of the fixed header, decoded.
    #[inline]
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(self.next_header_raw())
    }

    /// Return the hop limit field.
    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// Return the source address.
    #[inline]
    pub fn src_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(array::<16>(self.buffer.as_ref(), field::SRC_ADDR.start))
    }

    /// Return the destination address.
    #[inline]
    pub fn dst_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(array::<16>(self.buffer.as_ref(), field::DST_ADDR.start))
    }

    /// Return the payload: extension headers plus upper layer, bounded by the payload length
    /// (or the end of the buffer for a quoted header).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = (HEADER_LEN + usize::from(self.payload_len())).min(b.len());
        &b[HEADER_LEN..end.max(HEADER_LEN)]
    }

    /// Walk the extension headers and return the upper-layer protocol and offset.
    ///
    /// Hop-by-Hop, Routing and Destination Options are skipped; anything else ends the walk
    /// (TCP, UDP, ICMPv6, No Next Header, AH, ESP, …), so the caller decides what it supports.
    ///
    /// # Errors
    /// `TruncatedIpv6ExtHeader` (a header runs past the payload), `Ipv6Fragment`,
    /// `Ipv6ExtHeaderChainTooLong` (more than [`MAX_EXT_HEADERS`]).
    pub fn upper_layer(&self) -> Result<UpperLayer, DropReason> {
        let payload = self.payload();
        let mut proto = self.next_header_raw();
        let mut off = 0usize;
        for _ in 0..=MAX_EXT_HEADERS {
            match IpProtocol::from(proto) {
                IpProtocol::HopByHop | IpProtocol::Ipv6Route | IpProtocol::Ipv6Opts => {
                    if off + 2 > payload.len() {
                        return Err(DropReason::TruncatedIpv6ExtHeader);
                    }
                    let len = (usize::from(payload[off + 1]) + 1) * 8;
                    if off + len > payload.len() {
                        return Err(DropReason::TruncatedIpv6ExtHeader);
                    }
                    proto = payload[off];
                    off += len;
                }
                IpProtocol::Ipv6Frag => return Err(DropReason::Ipv6Fragment),
                _ => {
                    return Ok(UpperLayer {
                        proto,
                        offset: HEADER_LEN + off,
                    })
                }
            }
        }
        Err(DropReason::Ipv6ExtHeaderChainTooLong)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_ver_tc_flow(&mut self, mask: u32, v: u32) {
        let old = be32(self.buffer.as_ref(), field::VER_TC_FLOW.start);
        let new = (old & !mask) | (v & mask);
        self.buffer.as_mut()[field::VER_TC_FLOW].copy_from_slice(&new.to_be_bytes());
    }

    /// Set the version field.
    #[inline]
    pub fn set_version(&mut self, v: u8) {
        self.set_ver_tc_flow(0xf000_0000, u32::from(v) << 28);
    }

    /// Set the traffic class field.
    #[inline]
    pub fn set_traffic_class(&mut self, v: u8) {
        self.set_ver_tc_flow(0x0ff0_0000, u32::from(v) << 20);
    }

    /// Set the 20-bit flow label.
    #[inline]
    pub fn set_flow_label(&mut self, v: u32) {
        self.set_ver_tc_flow(0x000f_ffff, v);
    }

    /// Set the payload length field; invalidates `check_len`.
    #[inline]
    pub fn set_payload_len(&mut self, v: u16) {
        self.buffer.as_mut()[field::PAYLOAD_LEN].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the next-header field of the fixed header.
    #[inline]
    pub fn set_next_header(&mut self, v: u8) {
        self.buffer.as_mut()[field::NXT_HDR] = v;
    }

    /// Set the hop limit field.
    #[inline]
    pub fn set_hop_limit(&mut self, v: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = v;
    }

    /// Set the source address.
    #[inline]
    pub fn set_src_addr(&mut self, a: &Ipv6Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&a.octets());
    }

    /// Set the destination address.
    #[inline]
    pub fn set_dst_addr(&mut self, a: &Ipv6Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&a.octets());
    }

    /// Return the payload, writable (bounded like [`Packet::payload`]).
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let len = self.buffer.as_ref().len();
        let end = (HEADER_LEN + usize::from(self.payload_len())).min(len);
        &mut self.buffer.as_mut()[HEADER_LEN..end.max(HEADER_LEN)]
    }
}

/// The compact form of an IPv6 header without extension headers, as the gateway emits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source address.
    pub src_addr: Ipv6Addr,
    /// Destination address.
    pub dst_addr: Ipv6Addr,
    /// Next header.
    pub next_header: u8,
    /// Payload length in bytes.
    pub payload_len: usize,
    /// Hop limit.
    pub hop_limit: u8,
    /// Traffic class.
    pub traffic_class: u8,
    /// Flow label.
    pub flow_label: u32,
}

impl Repr {
    /// Parse a checked packet's fixed header.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        Repr {
            src_addr: p.src_addr(),
            dst_addr: p.dst_addr(),
            next_header: p.next_header_raw(),
            payload_len: usize::from(p.payload_len()),
            hop_limit: p.hop_limit(),
            traffic_class: p.traffic_class(),
            flow_label: p.flow_label(),
        }
    }

    /// Return the emitted header length (40).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Emit the fixed header.
    ///
    /// # Panics
    /// If the buffer is shorter than 40 bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        p.set_version(6);
        p.set_traffic_class(self.traffic_class);
        p.set_flow_label(self.flow_label);
        p.set_payload_len(u16::try_from(self.payload_len).unwrap_or(u16::MAX));
        p.set_next_header(self.next_header);
        p.set_hop_limit(self.hop_limit);
        p.set_src_addr(&self.src_addr);
        p.set_dst_addr(&self.dst_addr);
    }
}

/// Return the upper-layer checksum of `segment` over IPv6 (pseudo-header included).
#[inline]
pub fn upper_layer_checksum(src: &Ipv6Addr, dst: &Ipv6Addr, proto: u8, segment: &[u8]) -> u16 {
    checksum::l4_checksum_v6(src, dst, proto, segment)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// fe80::1 -> ff02::1, UDP, hop limit 64, TC 0x12, flow 0x34567, 4 bytes of payload.
    static PACKET: [u8; 44] = [
        0x61, 0x23, 0x45, 0x67, 0x00, 0x04, 0x11, 0x40, // ver/tc/flow, len, nh, hl
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // src
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // dst
        0xaa, 0xbb, 0xcc, 0xdd,
    ];

    fn repr() -> Repr {
        Repr {
            src_addr: "fe80::1".parse().unwrap(),
            dst_addr: "ff02::1".parse().unwrap(),
            next_header: 17,
            payload_len: 4,
            hop_limit: 64,
            traffic_class: 0x12,
            flow_label: 0x34567,
        }
    }

    #[test]
    fn test_deconstruct() {
        let p = Packet::new_checked(&PACKET[..]).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!(p.traffic_class(), 0x12);
        assert_eq!(p.flow_label(), 0x34567);
        assert_eq!(p.payload_len(), 4);
        assert_eq!(p.next_header(), IpProtocol::Udp);
        assert_eq!(p.hop_limit(), 64);
        assert_eq!(p.src_addr(), "fe80::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(p.dst_addr(), "ff02::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(p.payload(), &[0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(
            p.upper_layer(),
            Ok(UpperLayer {
                proto: 17,
                offset: 40
            })
        );
    }

    #[test]
    fn test_construct() {
        let mut b = [0u8; 44];
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_version(6);
        p.set_traffic_class(0x12);
        p.set_flow_label(0x34567);
        p.set_payload_len(4);
        p.set_next_header(17);
        p.set_hop_limit(64);
        p.set_src_addr(&"fe80::1".parse().unwrap());
        p.set_dst_addr(&"ff02::1".parse().unwrap());
        p.payload_mut().copy_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(b, PACKET);
    }

    #[test]
    fn test_parse_emit() {
        assert_eq!(
            Repr::parse(&Packet::new_checked(&PACKET[..]).unwrap()),
            repr()
        );
        let mut b = [0u8; 44];
        repr().emit(&mut Packet::new_unchecked(&mut b[..]));
        b[40..].copy_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(b, PACKET);
    }

    #[test]
    fn test_truncated() {
        for len in 0..HEADER_LEN {
            assert_eq!(
                Packet::new_checked(&PACKET[..len]).unwrap_err(),
                DropReason::TruncatedIpv6
            );
            assert_eq!(
                Packet::new_quoted(&PACKET[..len]).unwrap_err(),
                DropReason::TruncatedIpv6
            );
        }
        for len in HEADER_LEN..PACKET.len() {
            assert_eq!(
                Packet::new_checked(&PACKET[..len]).unwrap_err(),
                DropReason::BadIpv6PayloadLen
            );
            let q = Packet::new_quoted(&PACKET[..len]).unwrap();
            assert_eq!(q.payload().len(), len - HEADER_LEN);
        }
        let mut b = PACKET;
        b[0] = 0x45;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            DropReason::BadIpv6Version
        );
    }

    /// Build an IPv6 packet whose payload is the chain `exts` (each `(next, len_units)`), then
    /// `tail` bytes of upper layer with protocol `last`.
    fn chain(first: u8, exts: &[(u8, u8)], tail: usize) -> Vec<u8> {
        let mut b = PACKET[..40].to_vec();
        b[6] = first;
        for &(next, units) in exts {
            let mut h = vec![0u8; (usize::from(units) + 1) * 8];
            h[0] = next;
            h[1] = units;
            b.extend_from_slice(&h);
        }
        b.extend(std::iter::repeat_n(0, tail));
        let pl = u16::try_from(b.len() - 40).unwrap();
        b[4..6].copy_from_slice(&pl.to_be_bytes());
        b
    }

    #[test]
    fn test_ext_headers() {
        // HBH -> Routing -> DestOpts (16 bytes) -> TCP.
        let b = chain(0, &[(43, 0), (60, 0), (6, 1)], 20);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(
            p.upper_layer(),
            Ok(UpperLayer {
                proto: 6,
                offset: 40 + 8 + 8 + 16
            })
        );
        // Fragment header.
        let b = chain(0, &[(44, 0)], 8);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.upper_layer(), Err(DropReason::Ipv6Fragment));
        // No next header ends the walk; the caller rejects it.
        let b = chain(60, &[(59, 0)], 0);
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap().upper_layer(),
            Ok(UpperLayer {
                proto: 59,
                offset: 48
            })
        );
    }

    #[test]
    fn test_ext_header_chain_limits() {
        // Exactly MAX_EXT_HEADERS is fine.
        let exts: Vec<(u8, u8)> = (0..MAX_EXT_HEADERS)
            .map(|i| {
                if i + 1 == MAX_EXT_HEADERS {
                    (17, 0)
                } else {
                    (60, 0)
                }
            })
            .collect();
        let b = chain(60, &exts, 8);
        assert_eq!(
            Packet::new_checked(&b[..])
                .unwrap()
                .upper_layer()
                .unwrap()
                .proto,
            17
        );
        // One more is too long; so is a "loop" of Destination Options pointing at themselves.
        let exts: Vec<(u8, u8)> = (0..=MAX_EXT_HEADERS)
            .map(|i| {
                if i == MAX_EXT_HEADERS {
                    (17, 0)
                } else {
                    (60, 0)
                }
            })
            .collect();
        let b = chain(60, &exts, 8);
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap().upper_layer(),
            Err(DropReason::Ipv6ExtHeaderChainTooLong)
        );
        let b = chain(0, &[(0, 0); 40], 0);
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap().upper_layer(),
            Err(DropReason::Ipv6ExtHeaderChainTooLong)
        );
    }

    #[test]
    fn test_ext_header_truncated() {
        // A header whose length runs past the payload, and one with no room for its first 2
        // bytes.
        let mut b = chain(0, &[(6, 0)], 0);
        b[41] = 3;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap().upper_layer(),
            Err(DropReason::TruncatedIpv6ExtHeader)
        );
        let b = chain(0, &[], 1);
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap().upper_layer(),
            Err(DropReason::TruncatedIpv6ExtHeader)
        );
        // Payload length shorter than the buffer: the walk is bounded by payload length.
        let mut b = chain(0, &[(6, 0)], 20);
        b[4..6].copy_from_slice(&4u16.to_be_bytes());
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap().upper_layer(),
            Err(DropReason::TruncatedIpv6ExtHeader)
        );
    }

    proptest! {
        #[test]
        fn test_prop_never_panics(head in proptest::collection::vec(any::<u8>(), 0..48), tail in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut data = head;
            if data.len() > 6 { data[0] = 0x60 | (data[0] & 0x0f); }
            data.extend_from_slice(&tail);
            if let Ok(p) = Packet::new_checked(&data[..]) {
                if let Ok(ul) = p.upper_layer() {
                    prop_assert!(ul.offset <= HEADER_LEN + p.payload().len());
                }
            }
            if let Ok(p) = Packet::new_quoted(&data[..]) {
                let _ = p.upper_layer();
                let _ = p.payload();
            }
        }
    }
}
