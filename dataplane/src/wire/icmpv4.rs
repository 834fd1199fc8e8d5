//! ICMP for IPv4 (RFC 792, RFC 1191 for "fragmentation needed").
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Type      |     Code      |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  echo: Identifier             |  Sequence Number              |
//! |  frag needed: unused          |  Next-Hop MTU                 |
//! |  param problem: Pointer | unused                              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  errors: Internet Header + 64 bits of Original Data Datagram  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Contract: [`Packet::new_checked`] takes the whole message (the IP payload) and checks the
//! 8-byte header (`TruncatedIcmp`). For error messages (destination unreachable, time
//! exceeded, parameter problem) [`Packet::inner`] returns the quoted IPv4 header through the
//! lenient [`Ipv4Packet::new_quoted`] and guarantees that the quote holds the full inner header
//! plus at least 8 bytes of its L4 header (ports, or ICMP type/code/id), else `BadIcmpInner`.
//! The checksum covers the whole message, no pseudo-header.

use super::checksum;
use super::ipv4::Packet as Ipv4Packet;
use super::{be16, DropReason};

enum_with_unknown! {
    /// An ICMPv4 message type.
    pub enum Message(u8) {
        /// Echo reply.
        EchoReply = 0,
        /// Destination unreachable.
        DstUnreachable = 3,
        /// Redirect.
        Redirect = 5,
        /// Echo request.
        EchoRequest = 8,
        /// Time exceeded.
        TimeExceeded = 11,
        /// Parameter problem.
        ParamProblem = 12,
    }
}

impl Message {
    /// Return true for the error messages that quote an inner datagram the gateway maps back
    /// to a session.
    pub fn is_error(self) -> bool {
        matches!(
            self,
            Message::DstUnreachable | Message::TimeExceeded | Message::ParamProblem
        )
    }
}

/// Destination-unreachable code "fragmentation needed and DF set" (RFC 1191).
pub const CODE_FRAG_NEEDED: u8 = 4;
/// Destination-unreachable code "port unreachable".
pub const CODE_PORT_UNREACHABLE: u8 = 3;
/// Time-exceeded code "TTL exceeded in transit".
pub const CODE_TTL_EXCEEDED: u8 = 0;

mod field {
    use crate::wire::Field;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Field = 2..4;
    pub const ECHO_IDENT: Field = 4..6;
    pub const ECHO_SEQNO: Field = 6..8;
    pub const MTU: Field = 6..8;
    pub const POINTER: usize = 4;
    pub const UNUSED: Field = 4..8;
}

/// Length of the ICMP header (type, code, checksum and the 4-byte rest-of-header).
pub const HEADER_LEN: usize = field::UNUSED.end;
/// Bytes of the inner L4 header an error must quote (RFC 792: "64 bits of Data Datagram").
pub const QUOTED_L4_LEN: usize = 8;

/// A read/write view of an ICMPv4 message.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer without checking it (for emitting).
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap an untrusted message (the IP payload), checking the 8-byte header.
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

    /// Return the echo identifier (echo request/reply).
    #[inline]
    pub fn echo_ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ECHO_IDENT.start)
    }

    /// Return the echo sequence number (echo request/reply).
    #[inline]
    pub fn echo_seq_no(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ECHO_SEQNO.start)
    }

    /// Return the next-hop MTU of a "fragmentation needed" message (RFC 1191; 0 from old
    /// routers).
    #[inline]
    pub fn next_hop_mtu(&self) -> u16 {
        be16(self.buffer.as_ref(), field::MTU.start)
    }

    /// Return the pointer of a parameter-problem message.
    #[inline]
    pub fn pointer(&self) -> u8 {
        self.buffer.as_ref()[field::POINTER]
    }

    /// Return true for destination unreachable / fragmentation needed.
    #[inline]
    pub fn is_frag_needed(&self) -> bool {
        self.msg_type() == Message::DstUnreachable && self.msg_code() == CODE_FRAG_NEEDED
    }

    /// Return the data after the 8-byte header (the quote, for errors).
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// Return true when the checksum over the whole message verifies.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::sum(self.buffer.as_ref()) == 0xffff
    }

    /// Return the quoted inner IPv4 header of an error message; its `payload()` then holds at
    /// least [`QUOTED_L4_LEN`] bytes, so the ports of a quoted TCP/UDP header can be read with
    /// `TcpPacket::new_unchecked(inner.payload())`.
    ///
    /// # Errors
    /// `UnsupportedIcmpType` when the message is not an error; `BadIcmpInner` when the quote
    /// is not a valid IPv4 header plus 8 bytes.
    pub fn inner(&self) -> Result<Ipv4Packet<&[u8]>, DropReason> {
        if !self.msg_type().is_error() {
            return Err(DropReason::UnsupportedIcmpType);
        }
        let ip = Ipv4Packet::new_quoted(self.data()).map_err(|_| DropReason::BadIcmpInner)?;
        if ip.payload().len() < QUOTED_L4_LEN {
            return Err(DropReason::BadIcmpInner);
        }
        Ok(ip)
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

    /// Set the next-hop MTU (and zero the unused half) of a "fragmentation needed" message.
    #[inline]
    pub fn set_next_hop_mtu(&mut self, v: u16) {
        let b = self.buffer.as_mut();
        b[field::UNUSED].copy_from_slice(&[0, 0, 0, 0]);
        b[field::MTU].copy_from_slice(&v.to_be_bytes());
    }

    /// Return the data after the header, writable (to rewrite the quoted inner header).
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }

    /// Compute and store the checksum over the whole message.
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(self.buffer.as_ref());
        self.set_checksum(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::tcp::Packet as TcpPacket;
    use core::net::Ipv4Addr;

    static ECHO: [u8; 12] = [
        0x08, 0x00, 0x00, 0x00, 0x12, 0x34, 0xab, 0xcd, 0xaa, 0x00, 0x00, 0xff,
    ];

    /// Frag needed (MTU 1400) quoting a 10.0.0.1:1234 -> 10.0.0.2:80 TCP header.
    fn frag_needed() -> Vec<u8> {
        let mut b = vec![3, 4, 0, 0, 0, 0, 0x05, 0x78];
        b.extend_from_slice(&[
            0x45, 0, 0x05, 0xdc, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ]);
        b.extend_from_slice(&[0x04, 0xd2, 0x00, 0x50, 0, 0, 0, 7]);
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.fill_checksum();
        b
    }

    #[test]
    fn test_deconstruct_echo() {
        let p = Packet::new_checked(&ECHO[..]).unwrap();
        assert_eq!(p.msg_type(), Message::EchoRequest);
        assert_eq!(p.msg_code(), 0);
        assert_eq!(p.echo_ident(), 0x1234);
        assert_eq!(p.echo_seq_no(), 0xabcd);
        assert_eq!(p.data(), &[0xaa, 0, 0, 0xff]);
        assert!(!p.verify_checksum());
        assert_eq!(p.inner().unwrap_err(), DropReason::UnsupportedIcmpType);
    }

    #[test]
    fn test_construct_echo() {
        // The identifier, sequence number and data an echo reply keeps from its request.
        let mut b = ECHO;
        b[..2].copy_from_slice(&[0xff, 0xff]);
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_msg_type(Message::EchoRequest);
        p.set_msg_code(0);
        p.fill_checksum();
        assert!(p.verify_checksum());
        let c = p.checksum();
        let mut expect = ECHO;
        expect[2..4].copy_from_slice(&c.to_be_bytes());
        assert_eq!(b, expect);
        assert_eq!(checksum::checksum(&ECHO), c);
    }

    #[test]
    fn test_frag_needed_inner() {
        let b = frag_needed();
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(p.verify_checksum());
        assert!(p.is_frag_needed());
        assert_eq!(p.next_hop_mtu(), 1400);
        let inner = p.inner().unwrap();
        assert_eq!(inner.total_len(), 1500);
        assert_eq!(inner.src_addr(), Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(inner.dst_addr(), Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(inner.protocol(), 6);
        let l4 = TcpPacket::new_unchecked(inner.payload());
        assert_eq!(
            (l4.src_port(), l4.dst_port(), l4.seq_number()),
            (1234, 80, 7)
        );
    }

    #[test]
    fn test_construct_frag_needed() {
        let mut b = frag_needed();
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_next_hop_mtu(1280);
        p.fill_checksum();
        assert_eq!(p.next_hop_mtu(), 1280);
        assert!(p.verify_checksum());
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
    fn test_bad_inner() {
        let b = frag_needed();
        // Every quote shorter than the inner header + 8 bytes is refused.
        for len in HEADER_LEN..b.len() {
            let p = Packet::new_checked(&b[..len]).unwrap();
            assert_eq!(p.inner().unwrap_err(), DropReason::BadIcmpInner);
        }
        // A quoted IPv6 header, or an IHL past the quote.
        let mut c = b.clone();
        c[8] = 0x65;
        assert_eq!(
            Packet::new_checked(&c[..]).unwrap().inner().unwrap_err(),
            DropReason::BadIcmpInner
        );
        c[8] = 0x4f;
        assert_eq!(
            Packet::new_checked(&c[..]).unwrap().inner().unwrap_err(),
            DropReason::BadIcmpInner
        );
    }

    #[test]
    fn test_param_problem_pointer() {
        let mut b = frag_needed();
        b[4] = 9;
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_msg_type(Message::ParamProblem);
        p.set_msg_code(0);
        assert_eq!(p.pointer(), 9);
        assert!(p.inner().is_ok());
        assert!(Message::TimeExceeded.is_error());
        assert!(!Message::Redirect.is_error());
    }
}
