//! ARP for Ethernet/IPv4 (RFC 826), the only combination the gateway answers.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |      Hardware type (1)        |     Protocol type (0x0800)    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  HLEN (6)     |   PLEN (4)    |          Operation            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                Sender hardware address (6 octets)             |
//! +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                               | Sender protocol address (4)   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//! |                               |                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//! |                Target hardware address (6 octets)             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                Target protocol address (4 octets)             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Contract: [`Packet::new_checked`] accepts only 28+ byte Ethernet/IPv4 ARP, so every getter
//! and setter is panic-free afterwards. Frames are built with [`Repr::emit`].

use super::ethernet::{Address as EthernetAddress, EtherType};
use super::{array, be16, DropReason};
use core::net::Ipv4Addr;

enum_with_unknown! {
    /// An ARP operation.
    pub enum Operation(u16) {
        /// Who has `tpa`?
        Request = 1,
        /// `spa` is at `sha`.
        Reply = 2,
    }
}

mod field {
    use crate::wire::Field;
    pub const HTYPE: Field = 0..2;
    pub const PTYPE: Field = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Field = 6..8;
    pub const SHA: Field = 8..14;
    pub const SPA: Field = 14..18;
    pub const THA: Field = 18..24;
    pub const TPA: Field = 24..28;
}

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = field::TPA.end;
/// Hardware type for Ethernet.
pub const HTYPE_ETHERNET: u16 = 1;

/// A read/write view of an ARP packet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer without checking it (for emitting).
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap an untrusted buffer, validating length and the Ethernet/IPv4 format.
    ///
    /// # Errors
    /// [`DropReason::TruncatedArp`] or [`DropReason::MalformedArp`].
    pub fn new_checked(buffer: T) -> Result<Packet<T>, DropReason> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        let b = p.buffer.as_ref();
        if p.hardware_type() != HTYPE_ETHERNET
            || p.protocol_type() != EtherType::Ipv4
            || b[field::HLEN] != 6
            || b[field::PLEN] != 4
        {
            return Err(DropReason::MalformedArp);
        }
        Ok(p)
    }

    /// Check that the buffer holds the 28-byte packet.
    ///
    /// # Errors
    /// [`DropReason::TruncatedArp`].
    pub fn check_len(&self) -> Result<(), DropReason> {
        if self.buffer.as_ref().len() < PACKET_LEN {
            Err(DropReason::TruncatedArp)
        } else {
            Ok(())
        }
    }

    /// Return the wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Return the hardware type field.
    #[inline]
    pub fn hardware_type(&self) -> u16 {
        be16(self.buffer.as_ref(), field::HTYPE.start)
    }

    /// Return the protocol type field.
    #[inline]
    pub fn protocol_type(&self) -> EtherType {
        EtherType::from(be16(self.buffer.as_ref(), field::PTYPE.start))
    }

    /// Return the operation field.
    #[inline]
    pub fn operation(&self) -> Operation {
        Operation::from(be16(self.buffer.as_ref(), field::OPER.start))
    }

    /// Return the sender hardware address.
    #[inline]
    pub fn sha(&self) -> EthernetAddress {
        EthernetAddress(array(self.buffer.as_ref(), field::SHA.start))
    }

    /// Return the sender protocol address.
    #[inline]
    pub fn spa(&self) -> Ipv4Addr {
        Ipv4Addr::from(array::<4>(self.buffer.as_ref(), field::SPA.start))
    }

    /// Return the target hardware address.
    #[inline]
    pub fn tha(&self) -> EthernetAddress {
        EthernetAddress(array(self.buffer.as_ref(), field::THA.start))
    }

    /// Return the target protocol address.
    #[inline]
    pub fn tpa(&self) -> Ipv4Addr {
        Ipv4Addr::from(array::<4>(self.buffer.as_ref(), field::TPA.start))
    }

    /// Return true for a gratuitous ARP (sender and target protocol addresses equal).
    #[inline]
    pub fn is_gratuitous(&self) -> bool {
        self.spa() == self.tpa()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Write the fixed Ethernet/IPv4 fields: htype 1, ptype 0x0800, hlen 6, plen 4.
    #[inline]
    pub fn init_ethernet_ipv4(&mut self) {
        let b = self.buffer.as_mut();
        b[field::HTYPE].copy_from_slice(&HTYPE_ETHERNET.to_be_bytes());
        b[field::PTYPE].copy_from_slice(&u16::from(EtherType::Ipv4).to_be_bytes());
        b[field::HLEN] = 6;
        b[field::PLEN] = 4;
    }

    /// Set the operation field.
    #[inline]
    pub fn set_operation(&mut self, op: Operation) {
        self.buffer.as_mut()[field::OPER].copy_from_slice(&u16::from(op).to_be_bytes());
    }

    /// Set the sender hardware address.
    #[inline]
    pub fn set_sha(&mut self, a: EthernetAddress) {
        self.buffer.as_mut()[field::SHA].copy_from_slice(&a.0);
    }

    /// Set the sender protocol address.
    #[inline]
    pub fn set_spa(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SPA].copy_from_slice(&a.octets());
    }

    /// Set the target hardware address.
    #[inline]
    pub fn set_tha(&mut self, a: EthernetAddress) {
        self.buffer.as_mut()[field::THA].copy_from_slice(&a.0);
    }

    /// Set the target protocol address.
    #[inline]
    pub fn set_tpa(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::TPA].copy_from_slice(&a.octets());
    }
}

/// The compact form of an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Operation.
    pub operation: Operation,
    /// Sender hardware address.
    pub sha: EthernetAddress,
    /// Sender protocol address.
    pub spa: Ipv4Addr,
    /// Target hardware address.
    pub tha: EthernetAddress,
    /// Target protocol address.
    pub tpa: Ipv4Addr,
}

impl Repr {
    /// Parse a checked packet.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        Repr {
            operation: p.operation(),
            sha: p.sha(),
            spa: p.spa(),
            tha: p.tha(),
            tpa: p.tpa(),
        }
    }

    /// Return the emitted length (28).
    pub const fn buffer_len(&self) -> usize {
        PACKET_LEN
    }

    /// Emit into a packet of at least 28 bytes.
    ///
    /// # Panics
    /// If the buffer is shorter than 28 bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        p.init_ethernet_ipv4();
        p.set_operation(self.operation);
        p.set_sha(self.sha);
        p.set_spa(self.spa);
        p.set_tha(self.tha);
        p.set_tpa(self.tpa);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // htype, ptype, hlen, plen, op
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // sha
        0x0a, 0x00, 0x00, 0x01, // spa 10.0.0.1
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // tha
        0x0a, 0x00, 0x00, 0x64, // tpa 10.0.0.100
    ];

    fn repr() -> Repr {
        Repr {
            operation: Operation::Request,
            sha: EthernetAddress([2, 0, 0, 0, 0, 1]),
            spa: Ipv4Addr::new(10, 0, 0, 1),
            tha: EthernetAddress([0; 6]),
            tpa: Ipv4Addr::new(10, 0, 0, 100),
        }
    }

    #[test]
    fn test_deconstruct() {
        let p = Packet::new_checked(&REQUEST[..]).unwrap();
        assert_eq!(p.hardware_type(), 1);
        assert_eq!(p.protocol_type(), EtherType::Ipv4);
        assert_eq!(p.operation(), Operation::Request);
        assert_eq!(p.sha(), EthernetAddress([2, 0, 0, 0, 0, 1]));
        assert_eq!(p.spa(), Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(p.tha(), EthernetAddress([0; 6]));
        assert_eq!(p.tpa(), Ipv4Addr::new(10, 0, 0, 100));
        assert!(!p.is_gratuitous());
    }

    #[test]
    fn test_construct() {
        let mut buf = [0xffu8; 28];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.init_ethernet_ipv4();
        p.set_operation(Operation::Request);
        p.set_sha(EthernetAddress([2, 0, 0, 0, 0, 1]));
        p.set_spa(Ipv4Addr::new(10, 0, 0, 1));
        p.set_tha(EthernetAddress([0; 6]));
        p.set_tpa(Ipv4Addr::new(10, 0, 0, 100));
        assert_eq!(buf, REQUEST);
    }

    #[test]
    fn test_parse_emit() {
        let p = Packet::new_checked(&REQUEST[..]).unwrap();
        assert_eq!(Repr::parse(&p), repr());
        let mut buf = [0u8; 28];
        repr().emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(buf, REQUEST);
    }

    #[test]
    fn test_truncated() {
        for len in 0..PACKET_LEN {
            assert_eq!(
                Packet::new_checked(&REQUEST[..len]).unwrap_err(),
                DropReason::TruncatedArp
            );
        }
    }

    #[test]
    fn test_malformed() {
        for (at, v) in [(1, 6u8), (2, 0x86), (4, 8), (5, 16)] {
            let mut b = REQUEST;
            b[at] = v;
            assert_eq!(
                Packet::new_checked(&b[..]).unwrap_err(),
                DropReason::MalformedArp
            );
        }
    }
}
