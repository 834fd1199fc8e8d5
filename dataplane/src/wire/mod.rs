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

pub mod checksum;
pub mod drop;

pub use self::drop::DropReason;
