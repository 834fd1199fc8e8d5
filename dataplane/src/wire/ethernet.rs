//! Ethernet II frames with zero or one IEEE 802.1Q tag.
//!
//! ```text
//!  untagged:  | dst (6) | src (6) | ethertype (2) | payload ...
//!  802.1Q:    | dst (6) | src (6) | 0x8100 (2) | TCI (2) | ethertype (2) | payload ...
//!
//!  TCI:  0                   1
//!        0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
//!       +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!       | PCP |D|         VLAN ID       |
//!       +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Contract: after [`Frame::new_checked`] the frame holds the full header, tag included when
//! the outer EtherType is 0x8100, so every getter and setter is panic-free. Only one tag is
//! understood: a second tag (QinQ) shows up as [`Frame::ethertype`] = `Vlan`/`QinQ`, which the
//! parser rejects as an unsupported EtherType. The frame check sequence is not present (the NIC
//! strips it).

use super::{array, be16, DropReason};
use core::fmt;

enum_with_unknown! {
    /// An Ethernet II EtherType.
    pub enum EtherType(u16) {
        /// IPv4.
        Ipv4 = 0x0800,
        /// ARP.
        Arp = 0x0806,
        /// IEEE 802.1Q VLAN tag.
        Vlan = 0x8100,
        /// IPv6.
        Ipv6 = 0x86dd,
        /// IEEE 802.1ad service tag (QinQ outer).
        QinQ = 0x88a8,
    }
}

/// A 48-bit Ethernet MAC address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Address(pub [u8; 6]);

impl Address {
    /// The broadcast address ff:ff:ff:ff:ff:ff.
    pub const BROADCAST: Address = Address([0xff; 6]);

    /// Return the address octets.
    pub const fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    /// Return true for ff:ff:ff:ff:ff:ff.
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// Return true when the group bit is set (multicast or broadcast).
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// Return true for a unicast address.
    pub const fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

mod field {
    use crate::wire::Field;
    pub const DST: Field = 0..6;
    pub const SRC: Field = 6..12;
    pub const ETHERTYPE: Field = 12..14;
    pub const TCI: Field = 14..16;
    pub const INNER_ETHERTYPE: Field = 16..18;
}

/// Length of an untagged Ethernet header.
pub const HEADER_LEN: usize = field::ETHERTYPE.end;
/// Length of an Ethernet header with one 802.1Q tag.
pub const VLAN_HEADER_LEN: usize = field::INNER_ETHERTYPE.end;
/// The 802.1Q tag protocol identifier.
pub const TPID_8021Q: u16 = 0x8100;

/// A read/write view of an Ethernet frame.
#[derive(Debug, Clone)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wrap a buffer without checking it (for emitting).
    pub const fn new_unchecked(buffer: T) -> Frame<T> {
        Frame { buffer }
    }

    /// Wrap an untrusted buffer, validating the header (tag included).
    ///
    /// # Errors
    /// [`DropReason::TruncatedEthernet`] or [`DropReason::TruncatedVlan`].
    pub fn new_checked(buffer: T) -> Result<Frame<T>, DropReason> {
        let f = Self::new_unchecked(buffer);
        f.check_len()?;
        Ok(f)
    }

    /// Check that the buffer holds the whole header, 802.1Q tag included.
    ///
    /// # Errors
    /// [`DropReason::TruncatedEthernet`] or [`DropReason::TruncatedVlan`].
    pub fn check_len(&self) -> Result<(), DropReason> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            Err(DropReason::TruncatedEthernet)
        } else if self.is_tagged() && len < VLAN_HEADER_LEN {
            Err(DropReason::TruncatedVlan)
        } else {
            Ok(())
        }
    }

    /// Return the wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Return the destination MAC address.
    #[inline]
    pub fn dst_addr(&self) -> Address {
        Address(array(self.buffer.as_ref(), field::DST.start))
    }

    /// Return the source MAC address.
    #[inline]
    pub fn src_addr(&self) -> Address {
        Address(array(self.buffer.as_ref(), field::SRC.start))
    }

    /// Return the outer EtherType field (0x8100 when tagged).
    #[inline]
    pub fn outer_ethertype(&self) -> EtherType {
        EtherType::from(be16(self.buffer.as_ref(), field::ETHERTYPE.start))
    }

    /// Return true when the frame carries an 802.1Q tag.
    #[inline]
    pub fn is_tagged(&self) -> bool {
        be16(self.buffer.as_ref(), field::ETHERTYPE.start) == TPID_8021Q
    }

    /// Return the 802.1Q tag control information (PCP, DEI, VLAN id), if tagged.
    #[inline]
    pub fn vlan_tci(&self) -> Option<u16> {
        if self.is_tagged() {
            Some(be16(self.buffer.as_ref(), field::TCI.start))
        } else {
            None
        }
    }

    /// Return the 12-bit VLAN id, if tagged.
    #[inline]
    pub fn vlan_id(&self) -> Option<u16> {
        self.vlan_tci().map(|t| t & 0x0fff)
    }

    /// Return the EtherType of the payload: after the tag if tagged.
    #[inline]
    pub fn ethertype(&self) -> EtherType {
        let at = if self.is_tagged() {
            field::INNER_ETHERTYPE.start
        } else {
            field::ETHERTYPE.start
        };
        EtherType::from(be16(self.buffer.as_ref(), at))
    }

    /// Return the header length, which is the L3 offset: 14, or 18 when tagged.
    #[inline]
    pub fn header_len(&self) -> usize {
        if self.is_tagged() {
            VLAN_HEADER_LEN
        } else {
            HEADER_LEN
        }
    }

    /// Return the payload (everything after the header, Ethernet padding included).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    /// Set the destination MAC address.
    #[inline]
    pub fn set_dst_addr(&mut self, value: Address) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&value.0);
    }

    /// Set the source MAC address.
    #[inline]
    pub fn set_src_addr(&mut self, value: Address) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&value.0);
    }

    /// Set the outer EtherType field (0x8100 makes the frame tagged).
    #[inline]
    pub fn set_outer_ethertype(&mut self, value: EtherType) {
        self.buffer.as_mut()[field::ETHERTYPE].copy_from_slice(&u16::from(value).to_be_bytes());
    }

    /// Set the payload EtherType (after the tag if tagged).
    #[inline]
    pub fn set_ethertype(&mut self, value: EtherType) {
        let f = if self.is_tagged() {
            field::INNER_ETHERTYPE
        } else {
            field::ETHERTYPE
        };
        self.buffer.as_mut()[f].copy_from_slice(&u16::from(value).to_be_bytes());
    }

    /// Set the 802.1Q TCI; does nothing on an untagged frame.
    #[inline]
    pub fn set_vlan_tci(&mut self, tci: u16) {
        if self.is_tagged() {
            self.buffer.as_mut()[field::TCI].copy_from_slice(&tci.to_be_bytes());
        }
    }

    /// Return the payload, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buffer.as_mut()[hl..]
    }
}

/// The compact form of an Ethernet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source MAC.
    pub src_addr: Address,
    /// Destination MAC.
    pub dst_addr: Address,
    /// 802.1Q TCI when tagged.
    pub vlan_tci: Option<u16>,
    /// Payload EtherType.
    pub ethertype: EtherType,
}

impl Repr {
    /// Parse a checked frame.
    pub fn parse<T: AsRef<[u8]>>(frame: &Frame<T>) -> Repr {
        Repr {
            src_addr: frame.src_addr(),
            dst_addr: frame.dst_addr(),
            vlan_tci: frame.vlan_tci(),
            ethertype: frame.ethertype(),
        }
    }

    /// Return the header length this repr emits.
    pub const fn buffer_len(&self) -> usize {
        if self.vlan_tci.is_some() {
            VLAN_HEADER_LEN
        } else {
            HEADER_LEN
        }
    }

    /// Emit the header into a frame of at least `buffer_len()` bytes.
    ///
    /// # Panics
    /// If the frame is shorter than `buffer_len()`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut Frame<T>) {
        frame.set_src_addr(self.src_addr);
        frame.set_dst_addr(self.dst_addr);
        match self.vlan_tci {
            Some(tci) => {
                frame.set_outer_ethertype(EtherType::Vlan);
                frame.set_vlan_tci(tci);
            }
            None => frame.set_outer_ethertype(self.ethertype),
        }
        frame.set_ethertype(self.ethertype);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static FRAME: [u8; 18] = [
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, // dst
        0x11, 0x12, 0x13, 0x14, 0x15, 0x16, // src
        0x08, 0x00, // IPv4
        0xaa, 0xbb, 0xcc, 0xdd, // payload
    ];

    static TAGGED: [u8; 20] = [
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, // dst
        0x11, 0x12, 0x13, 0x14, 0x15, 0x16, // src
        0x81, 0x00, 0xa0, 0x64, // 802.1Q, PCP 5, VID 100
        0x86, 0xdd, // IPv6
        0xaa, 0xbb,
    ];

    const DST: Address = Address([1, 2, 3, 4, 5, 6]);
    const SRC: Address = Address([0x11, 0x12, 0x13, 0x14, 0x15, 0x16]);

    #[test]
    fn test_deconstruct() {
        let f = Frame::new_checked(&FRAME[..]).unwrap();
        assert_eq!(f.dst_addr(), DST);
        assert_eq!(f.src_addr(), SRC);
        assert_eq!(f.ethertype(), EtherType::Ipv4);
        assert_eq!(f.vlan_tci(), None);
        assert_eq!(f.header_len(), 14);
        assert_eq!(f.payload(), &[0xaa, 0xbb, 0xcc, 0xdd]);
    }

    #[test]
    fn test_deconstruct_tagged() {
        let f = Frame::new_checked(&TAGGED[..]).unwrap();
        assert!(f.is_tagged());
        assert_eq!(f.outer_ethertype(), EtherType::Vlan);
        assert_eq!(f.vlan_tci(), Some(0xa064));
        assert_eq!(f.vlan_id(), Some(100));
        assert_eq!(f.ethertype(), EtherType::Ipv6);
        assert_eq!(f.header_len(), 18);
        assert_eq!(f.payload(), &[0xaa, 0xbb]);
    }

    #[test]
    fn test_construct() {
        let mut buf = [0u8; 18];
        let mut f = Frame::new_unchecked(&mut buf[..]);
        f.set_dst_addr(DST);
        f.set_src_addr(SRC);
        f.set_ethertype(EtherType::Ipv4);
        f.payload_mut().copy_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(buf, FRAME);
    }

    #[test]
    fn test_parse_emit() {
        for bytes in [&FRAME[..], &TAGGED[..]] {
            let f = Frame::new_checked(bytes).unwrap();
            let repr = Repr::parse(&f);
            let mut out = vec![0u8; bytes.len()];
            let mut g = Frame::new_unchecked(&mut out[..]);
            repr.emit(&mut g);
            assert_eq!(repr.buffer_len(), f.header_len());
            let hl = repr.buffer_len();
            g.payload_mut().copy_from_slice(&bytes[hl..]);
            assert_eq!(&out[..], bytes);
        }
    }

    #[test]
    fn test_truncated() {
        for len in 0..HEADER_LEN {
            assert_eq!(
                Frame::new_checked(&FRAME[..len]).unwrap_err(),
                DropReason::TruncatedEthernet
            );
        }
        for len in HEADER_LEN..VLAN_HEADER_LEN {
            assert_eq!(
                Frame::new_checked(&TAGGED[..len]).unwrap_err(),
                DropReason::TruncatedVlan
            );
        }
        assert!(Frame::new_checked(&TAGGED[..VLAN_HEADER_LEN]).is_ok());
    }

    #[test]
    fn test_address() {
        assert!(Address::BROADCAST.is_broadcast());
        assert!(Address::BROADCAST.is_multicast());
        assert!(SRC.is_multicast());
        assert!(Address([0x02, 0, 0, 0, 0, 1]).is_unicast());
        assert_eq!(DST.to_string(), "01:02:03:04:05:06");
    }
}
