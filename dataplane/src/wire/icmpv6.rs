//! ICMP for IPv6 (RFC 4443) and the Neighbour Discovery target field (RFC 4861).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Type      |     Code      |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  echo: Identifier             |  Sequence Number              |
//! |  packet too big: MTU                                          |
//! |  param problem: Pointer                                       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  errors: as much of invoking packet as possible without the   |
//! |  ICMPv6 packet exceeding the minimum IPv6 MTU                 |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Contract: [`Packet::new_checked`] takes the whole message (the upper-layer part of the IPv6
//! payload) and checks the 8-byte header (`TruncatedIcmp`). For error messages (types below
//! 128) [`Packet::inner`] returns the quoted IPv6 header (lenient
//! [`Ipv6Packet::new_quoted`]) and where its upper layer starts, having walked the quoted
//! extension headers and made sure at least 8 bytes of the upper layer are present, else
//! `BadIcmpInner`. The checksum includes the IPv6 pseudo-header.

use super::checksum;
use super::ipv6::{Packet as Ipv6Packet, UpperLayer};
use super::{array, be16, be32, DropReason};
use core::net::Ipv6Addr;

enum_with_unknown! {
    /// An ICMPv6 message type.
    pub enum Message(u8) {
        /// Destination unreachable.
        DstUnreachable = 1,
        /// Packet too big.
        PacketTooBig = 2,
        /// Time exceeded.
        TimeExceeded = 3,
        /// Parameter problem.
        ParamProblem = 4,
        /// Echo request.
        EchoRequest = 128,
        /// Echo reply.
        EchoReply = 129,
        /// Router solicitation.
        RouterSolicit = 133,
        /// Router advertisement.
        RouterAdvert = 134,
        /// Neighbour solicitation.
        NeighborSolicit = 135,
        /// Neighbour advertisement.
        NeighborAdvert = 136,
        /// Redirect.
        Redirect = 137,
    }
}

impl Message {
    /// Return true for error messages (types 0..=127, RFC 4443 §2.1).
    pub fn is_error(self) -> bool {
        u8::from(self) < 128
    }
}

mod field {
    use crate::wire::Field;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Field = 2..4;
    pub const ECHO_IDENT: Field = 4..6;
    pub const ECHO_SEQNO: Field = 6..8;
    pub const MTU: Field = 4..8;
    pub const POINTER: Field = 4..8;
    pub const ND_FLAGS: Field = 4..8;
    pub const ND_TARGET: Field = 8..24;
}

/// Length of the ICMPv6 header (type, code, checksum and the 4-byte rest-of-header).
pub const HEADER_LEN: usize = field::POINTER.end;
/// Length of a neighbour solicitation/advertisement before its options (header and target).
pub const ND_HEADER_LEN: usize = field::ND_TARGET.end;
/// Neighbour advertisement flag: the sender is a router.
pub const ND_FLAG_ROUTER: u8 = 0x80;
/// Neighbour advertisement flag: sent in response to a solicitation.
pub const ND_FLAG_SOLICITED: u8 = 0x40;
/// Neighbour advertisement flag: override an existing cache entry.
pub const ND_FLAG_OVERRIDE: u8 = 0x20;

/// Bytes of the inner upper-layer header an error must quote for the gateway to use it.
pub const QUOTED_L4_LEN: usize = 8;

/// A read/write view of an ICMPv6 message.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer without checking it (for emitting).
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap an untrusted message, checking the 8-byte header.
    ///
    /// # Errors
    /// `TruncatedIcmp`.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, DropReason> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Check that the buffer holds the 8-byte header.
    ///
    /// # Errors
    /// `TruncatedIcmp`.
    pub fn check_len(&self) -> Result<(), DropReason> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(DropReason::TruncatedIcmp)
        } else {
            Ok(())
        }
    }

    /// Return the wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Return the type field, decoded.
    #[inline]
    pub fn msg_type(&self) -> Message {
        Message::from(self.buffer.as_ref()[field::TYPE])
    }

    /// Return the code field.
    #[inline]
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// Return the checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// Return the echo identifier.
    #[inline]
    pub fn echo_ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ECHO_IDENT.start)
    }

    /// Return the echo sequence number.
    #[inline]
    pub fn echo_seq_no(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ECHO_SEQNO.start)
    }

    /// Return the MTU of a packet-too-big message.
    #[inline]
    pub fn mtu(&self) -> u32 {
        be32(self.buffer.as_ref(), field::MTU.start)
    }

    /// Return the pointer of a parameter-problem message.
    #[inline]
    pub fn pointer(&self) -> u32 {
        be32(self.buffer.as_ref(), field::POINTER.start)
    }

    /// Return the target address of a neighbour solicitation/advertisement, if present.
    #[inline]
    pub fn nd_target(&self) -> Option<Ipv6Addr> {
        let b = self.buffer.as_ref();
        if b.len() >= field::ND_TARGET.end
            && matches!(
                self.msg_type(),
                Message::NeighborSolicit | Message::NeighborAdvert
            )
        {
            Some(Ipv6Addr::from(array::<16>(b, field::ND_TARGET.start)))
        } else {
            None
        }
    }

    /// Return the options of a neighbour solicitation/advertisement (after the target; empty
    /// when the message is shorter).
    #[inline]
    pub fn nd_options(&self) -> &[u8] {
        self.buffer.as_ref().get(ND_HEADER_LEN..).unwrap_or(&[])
    }

    /// Return the data after the 8-byte header (the quote, for errors).
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// Return true when the checksum (with the IPv6 pseudo-header) verifies.
    #[inline]
    pub fn verify_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        checksum::l4_verify_v6(src, dst, 58, self.buffer.as_ref())
    }

    /// Return the quoted IPv6 header of an error message and where its upper layer starts
    /// (offset from the start of [`Packet::data`]); at least [`QUOTED_L4_LEN`] bytes of the
    /// upper layer are present.
    ///
    /// # Errors
    /// `UnsupportedIcmpType` when the message is not an error; `BadIcmpInner` when the quote
    /// is not an IPv6 header whose extension headers and 8 upper-layer bytes fit.
    pub fn inner(&self) -> Result<(Ipv6Packet<&[u8]>, UpperLayer), DropReason> {
        if !self.msg_type().is_error() {
            return Err(DropReason::UnsupportedIcmpType);
        }
        let data = self.data();
        let ip = Ipv6Packet::new_quoted(data).map_err(|_| DropReason::BadIcmpInner)?;
        let ul = ip.upper_layer().map_err(|_| DropReason::BadIcmpInner)?;
        let quoted_end = data
            .len()
            .min(super::ipv6::HEADER_LEN + usize::from(ip.payload_len()));
        if ul.offset + QUOTED_L4_LEN > quoted_end {
            return Err(DropReason::BadIcmpInner);
        }
        Ok((ip, ul))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the type field.
    #[inline]
    pub fn set_msg_type(&mut self, v: Message) {
        self.buffer.as_mut()[field::TYPE] = u8::from(v);
    }

    /// Set the code field.
    #[inline]
    pub fn set_msg_code(&mut self, v: u8) {
        self.buffer.as_mut()[field::CODE] = v;
    }

    /// Set the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the flags of a neighbour advertisement (`ND_FLAG_*`; 0 for a solicitation) and
    /// zero the rest of their reserved word.
    #[inline]
    pub fn set_nd_flags(&mut self, flags: u8) {
        self.buffer.as_mut()[field::ND_FLAGS].copy_from_slice(&[flags, 0, 0, 0]);
    }

    /// Set the target address of a neighbour solicitation/advertisement.
    #[inline]
    pub fn set_nd_target(&mut self, a: &Ipv6Addr) {
        self.buffer.as_mut()[field::ND_TARGET].copy_from_slice(&a.octets());
    }

    /// Return the options of a neighbour solicitation/advertisement, writable.
    #[inline]
    pub fn nd_options_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[ND_HEADER_LEN..]
    }

    /// Compute and store the checksum (with the IPv6 pseudo-header).
    #[inline]
    pub fn fill_checksum(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        self.set_checksum(0);
        let c = checksum::l4_checksum_v6(src, dst, 58, self.buffer.as_ref());
        self.set_checksum(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::udp::Packet as UdpPacket;

    fn addrs() -> (Ipv6Addr, Ipv6Addr) {
        (
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
        )
    }

    static ECHO: [u8; 10] = [0x80, 0x00, 0x00, 0x00, 0x12, 0x34, 0x00, 0x01, 0xaa, 0xbb];

    /// Packet too big (MTU 1280) quoting a UDP 2001:db8::2 -> 2001:db8::3 datagram behind a
    /// Destination Options header.
    fn too_big() -> Vec<u8> {
        let mut b = vec![2, 0, 0, 0, 0, 0, 0x05, 0x00];
        let mut ip = vec![0x60, 0, 0, 0, 0x05, 0xb0, 60, 64];
        ip.extend_from_slice(&"2001:db8::2".parse::<Ipv6Addr>().unwrap().octets());
        ip.extend_from_slice(&"2001:db8::3".parse::<Ipv6Addr>().unwrap().octets());
        b.extend_from_slice(&ip);
        b.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]); // DestOpts, PadN
        b.extend_from_slice(&[0x13, 0x88, 0x00, 0x35, 0x05, 0xa8, 0xde, 0xad]); // UDP 5000 -> 53
        b
    }

    #[test]
    fn test_deconstruct_echo() {
        let p = Packet::new_checked(&ECHO[..]).unwrap();
        assert_eq!(p.msg_type(), Message::EchoRequest);
        assert!(!p.msg_type().is_error());
        assert_eq!(p.echo_ident(), 0x1234);
        assert_eq!(p.echo_seq_no(), 1);
        assert_eq!(p.data(), &[0xaa, 0xbb]);
        assert_eq!(p.nd_target(), None);
        assert_eq!(p.inner().unwrap_err(), DropReason::UnsupportedIcmpType);
    }

    #[test]
    fn test_construct_echo() {
        let (s, d) = addrs();
        // The identifier, sequence number and data an echo reply keeps from its request.
        let mut b = ECHO;
        b[..2].copy_from_slice(&[0xff, 0xff]);
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_msg_type(Message::EchoRequest);
        p.set_msg_code(0);
        p.fill_checksum(&s, &d);
        assert!(p.verify_checksum(&s, &d));
        assert!(!p.verify_checksum(&s, &"2001:db8::3".parse().unwrap()));
        assert_eq!(b[4..], ECHO[4..]);
    }

    #[test]
    fn test_packet_too_big_inner() {
        let b = too_big();
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.msg_type(), Message::PacketTooBig);
        assert_eq!(p.mtu(), 1280);
        let (ip, ul) = p.inner().unwrap();
        assert_eq!(ip.src_addr(), "2001:db8::2".parse::<Ipv6Addr>().unwrap());
        assert_eq!(ul.proto, 17);
        assert_eq!(ul.offset, 48);
        let udp = UdpPacket::new_unchecked(&p.data()[ul.offset..]);
        assert_eq!((udp.src_port(), udp.dst_port()), (5000, 53));
    }

    #[test]
    fn test_bad_inner() {
        let b = too_big();
        for len in HEADER_LEN..b.len() {
            let p = Packet::new_checked(&b[..len]).unwrap();
            assert_eq!(
                p.inner().unwrap_err(),
                DropReason::BadIcmpInner,
                "len {len}"
            );
        }
        let mut c = b.clone();
        c[8] = 0x40;
        assert_eq!(
            Packet::new_checked(&c[..]).unwrap().inner().unwrap_err(),
            DropReason::BadIcmpInner
        );
        // A quoted fragment header is not usable.
        let mut c = b.clone();
        c[8 + 6] = 44;
        assert_eq!(
            Packet::new_checked(&c[..]).unwrap().inner().unwrap_err(),
            DropReason::BadIcmpInner
        );
    }

    #[test]
    fn test_truncated() {
        for len in 0..HEADER_LEN {
            assert_eq!(
                Packet::new_checked(&ECHO[..len]).unwrap_err(),
                DropReason::TruncatedIcmp
            );
        }
    }

    #[test]
    fn test_nd_target_and_setters() {
        let mut b = [0u8; 24];
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_msg_type(Message::NeighborSolicit);
        p.set_nd_target(&addrs().1);
        assert_eq!(p.nd_target(), Some(addrs().1));
        assert!(p.nd_options().is_empty());
        b[4..8].copy_from_slice(&1500u32.to_be_bytes());
        assert_eq!(Packet::new_unchecked(&b[..]).mtu(), 1500);
        b[4..8].copy_from_slice(&40u32.to_be_bytes());
        assert_eq!(Packet::new_unchecked(&b[..]).pointer(), 40);
        assert_eq!(Packet::new_checked(&b[..23]).unwrap().nd_target(), None);
        assert!(Packet::new_checked(&b[..23])
            .unwrap()
            .nd_options()
            .is_empty());
    }

    #[test]
    fn test_construct_advertisement() {
        // NA 2001:db8::2 at 02:00:00:00:00:10, solicited and override, from ::2 to ::1.
        let (client, us) = addrs();
        let mut b = [0xaau8; 32];
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_msg_type(Message::NeighborAdvert);
        p.set_msg_code(0);
        p.set_nd_flags(ND_FLAG_SOLICITED | ND_FLAG_OVERRIDE);
        p.set_nd_target(&us);
        p.nd_options_mut()
            .copy_from_slice(&[2, 1, 2, 0, 0, 0, 0, 0x10]);
        p.fill_checksum(&us, &client);
        let mut want = vec![136, 0, 0, 0, 0x60, 0, 0, 0];
        want.extend_from_slice(&us.octets());
        want.extend_from_slice(&[2, 1, 2, 0, 0, 0, 0, 0x10]);
        let c = checksum::l4_checksum_v6(&us, &client, 58, &want);
        want[2..4].copy_from_slice(&c.to_be_bytes());
        assert_eq!(&b[..], &want[..]);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(p.verify_checksum(&us, &client));
        assert_eq!(p.nd_target(), Some(us));
        assert_eq!(p.nd_options(), &[2, 1, 2, 0, 0, 0, 0, 0x10]);
    }
}
