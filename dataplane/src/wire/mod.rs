//! Typed views over packet headers, checksums and the per-packet parser.
//!
//! # Contract
//!
//! Every header module follows smoltcp's `wire` layout: a `Packet<T: AsRef<[u8]>>` (or
//! `Frame<T>`) wraps a byte container, field offsets are `const` ranges in a private `mod field`,
//! getters have no `get_` prefix and setters exist only for `T: AsMut<[u8]>`.
//!
//! - `new_checked` (untrusted input) runs `check_len`; once it returned `Ok`, **no getter and no
//!   setter of that view panics**. Setters that change a length field (`set_header_len`,
//!   `set_total_len`, `set_data_offset`, `set_len`, …) can invalidate that guarantee: re-check
//!   after calling them.
//! - `new_unchecked` is for emitting into a buffer the caller has sized itself; getters then
//!   panic (index out of range) if the buffer is too short. It never reads past the slice.
//! - Every rejection is a [`DropReason`]: one closed enum, mapped 1:1 to a per-lcore counter.
//! - No pointer casts, no `#[repr(packed)]`, no allocation: fields are read with
//!   `u16::from_be_bytes` and friends.
//!
//! [`parse_frame`] walks Ethernet, 802.1Q, IPv4/IPv6 (extension headers included) and
//! TCP/UDP/ICMP once per packet and returns a compact [`ParsedFrame`] with the offsets and the
//! flow fields the pipeline needs. [`checksum`] holds full and RFC 1624 incremental checksums.

/// A byte range of a fixed-position header field.
pub(crate) type Field = core::ops::Range<usize>;

/// Define a wire enum decoded totally: every integer maps to a variant, unknown values to
/// `Unknown(x)` (STYLE rule 5, after smoltcp's `enum_with_unknown!`).
macro_rules! enum_with_unknown {
    (
        $( #[$enum_attr:meta] )*
        pub enum $name:ident($ty:ty) {
            $(
              $( #[$variant_attr:meta] )*
              $variant:ident = $value:expr
            ),+ $(,)?
        }
    ) => {
        #[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Clone, Copy)]
        $( #[$enum_attr] )*
        pub enum $name {
            $(
              $( #[$variant_attr] )*
              $variant
            ),*,
            /// A value this crate has no name for.
            Unknown($ty)
        }

        impl ::core::convert::From<$ty> for $name {
            fn from(value: $ty) -> Self {
                match value {
                    $( $value => $name::$variant ),*,
                    other => $name::Unknown(other)
                }
            }
        }

        impl ::core::convert::From<$name> for $ty {
            fn from(value: $name) -> Self {
                match value {
                    $( $name::$variant => $value ),*,
                    $name::Unknown(other) => other
                }
            }
        }
    }
}

pub mod arp;
pub mod checksum;
pub mod drop;
pub mod ethernet;
pub mod fragment;
pub mod fragmenter;
pub mod icmpv4;
pub mod icmpv6;
pub mod ip;
pub mod ipv4;
pub mod ipv6;
pub mod parse;
pub mod tcp;
pub mod udp;

pub use self::arp::{Operation as ArpOperation, Packet as ArpPacket, Repr as ArpRepr};
pub use self::drop::DropReason;
pub use self::ethernet::{
    Address as EthernetAddress, EtherType, Frame as EthernetFrame, Repr as EthernetRepr,
};
pub use self::fragment::{parse_fragment, FragInfo};
pub use self::icmpv4::{Message as Icmpv4Message, Packet as Icmpv4Packet};
pub use self::icmpv6::{Message as Icmpv6Message, Packet as Icmpv6Packet};
pub use self::ip::IpProtocol;
pub use self::ipv4::{Packet as Ipv4Packet, Repr as Ipv4Repr};
pub use self::ipv6::{Packet as Ipv6Packet, Repr as Ipv6Repr, UpperLayer as Ipv6UpperLayer};
pub use self::parse::{parse_frame, peek_ip, IcmpInner, IpPeek, ParsedFrame, L3, L4};
pub use self::tcp::{
    Packet as TcpPacket, Repr as TcpRepr, SackBlocks as TcpSackBlocks, TcpOption, TcpOptions,
};
pub use self::udp::{Packet as UdpPacket, Repr as UdpRepr};

/// Read a big-endian `u16` at `at`.
///
/// # Panics
/// If `at + 2 > b.len()`.
#[inline]
pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    // One bounds check for the pair (indexing byte by byte checks each): the per-packet
    // rewrites read fields through these views.
    u16::from_be_bytes(array::<2>(b, at))
}

/// Read a big-endian `u32` at `at`.
///
/// # Panics
/// If `at + 4 > b.len()`.
#[inline]
pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(array::<4>(b, at))
}

/// Copy the `N` bytes at `at` into an array.
///
/// # Panics
/// If `at + N > b.len()`.
#[inline]
pub(crate) fn array<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&b[at..at + N]);
    a
}
