//! TCP segments (RFC 9293) and their options, TOA included.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Source Port          |       Destination Port        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                        Sequence Number                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Acknowledgment Number                      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Data |       |C|E|U|A|P|R|S|F|                               |
//! | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//! |       |       |R|E|G|K|H|T|N|N|                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Checksum            |         Urgent Pointer        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Options                    |    Padding    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Contract: [`Packet::new_checked`] takes the whole segment (bounded by the IP length) and
//! checks the 20-byte minimum (`TruncatedTcp`) and that 5 <= data offset and data offset * 4
//! <= segment length (`BadTcpDataOffset`). Options are not validated there (that costs a walk
//! per packet); [`Packet::options`] iterates them lazily, never panics on garbage and yields
//! one `Err(BadTcpOptions)` then stops on a malformed option.
//!
//! TOA ("TCP Option Address", kind 254, length 8: port then IPv4 address, both network order)
//! is the format of the widely deployed Linux `toa` kernel module used with LVS FullNAT; kind
//! 254 is also RFC 6994's shared experimental kind, so a kind-254 option of another length is
//! reported as [`TcpOption::Unknown`], not as an error.

use super::checksum;
use super::{be16, be32, DropReason};
use core::net::{Ipv4Addr, Ipv6Addr};

mod field {
    use crate::wire::Field;
    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const SEQ_NUM: Field = 4..8;
    pub const ACK_NUM: Field = 8..12;
    pub const FLAGS: Field = 12..14;
    pub const WIN_SIZE: Field = 14..16;
    pub const CHECKSUM: Field = 16..18;
    pub const URGENT: Field = 18..20;
}

/// Length of a TCP header without options.
pub const HEADER_LEN: usize = field::URGENT.end;
/// Bytes of a (quoted, truncated) TCP header needed to reach the end of its checksum.
pub const CHECKSUM_END: usize = field::CHECKSUM.end;
/// Length of the longest TCP header (data offset 15).
pub const MAX_HEADER_LEN: usize = 60;

/// TCP flag bits, as in the low byte of the flags field.
pub mod flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
    /// URG.
    pub const URG: u8 = 0x20;
    /// ECE.
    pub const ECE: u8 = 0x40;
    /// CWR.
    pub const CWR: u8 = 0x80;
}

/// TCP option kinds this module decodes.
pub mod kind {
    /// End of option list.
    pub const EOL: u8 = 0;
    /// No-operation (padding).
    pub const NOP: u8 = 1;
    /// Maximum segment size.
    pub const MSS: u8 = 2;
    /// Window scale.
    pub const WINDOW_SCALE: u8 = 3;
    /// SACK permitted.
    pub const SACK_PERMITTED: u8 = 4;
    /// SACK blocks.
    pub const SACK: u8 = 5;
    /// Timestamps.
    pub const TIMESTAMPS: u8 = 8;
    /// TOA: client address inserted by FullNAT (Linux `toa` module).
    pub const TOA: u8 = 254;
}

/// Length of a TOA option.
pub const TOA_LEN: usize = 8;

/// Up to four SACK blocks `(left edge, right edge)`, without allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SackBlocks {
    blocks: [(u32, u32); 4],
    len: u8,
}

impl SackBlocks {
    /// Return the blocks present.
    pub fn as_slice(&self) -> &[(u32, u32)] {
        &self.blocks[..usize::from(self.len).min(4)]
    }
}

/// One decoded TCP option (NOP and EOL are consumed by the iterator, not yielded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOption<'a> {
    /// Maximum segment size (kind 2).
    Mss(u16),
    /// Window scale shift (kind 3).
    WindowScale(u8),
    /// SACK permitted (kind 4).
    SackPermitted,
    /// SACK blocks (kind 5).
    Sack(SackBlocks),
    /// Timestamps (kind 8).
    Timestamps {
        /// TSval.
        tsval: u32,
        /// TSecr.
        tsecr: u32,
    },
    /// Client address inserted by a FullNAT gateway (kind 254, length 8).
    Toa {
        /// Client port.
        port: u16,
        /// Client IPv4 address.
        addr: Ipv4Addr,
    },
    /// Any other kind, with its data (after kind and length).
    Unknown {
        /// Option kind.
        kind: u8,
        /// Option data.
        data: &'a [u8],
    },
}

impl TcpOption<'_> {
    /// Return the encoded length of this option.
    pub fn buffer_len(&self) -> usize {
        match self {
            TcpOption::Mss(_) => 4,
            TcpOption::WindowScale(_) => 3,
            TcpOption::SackPermitted => 2,
            TcpOption::Sack(b) => 2 + 8 * b.as_slice().len(),
            TcpOption::Timestamps { .. } => 10,
            TcpOption::Toa { .. } => TOA_LEN,
            TcpOption::Unknown { data, .. } => 2 + data.len(),
        }
    }

    /// Encode the option at the start of `buf` and return its length, or `None` (nothing
    /// written) when `buf` is too short or the option does not fit a length byte.
    pub fn emit(&self, buf: &mut [u8]) -> Option<usize> {
        let n = self.buffer_len();
        let len = u8::try_from(n).ok()?;
        let out = buf.get_mut(..n)?;
        out[1] = len;
        match *self {
            TcpOption::Mss(v) => {
                out[0] = kind::MSS;
                out[2..4].copy_from_slice(&v.to_be_bytes());
            }
            TcpOption::WindowScale(v) => {
                out[0] = kind::WINDOW_SCALE;
                out[2] = v;
            }
            TcpOption::SackPermitted => out[0] = kind::SACK_PERMITTED,
            TcpOption::Sack(b) => {
                out[0] = kind::SACK;
                for (i, (l, r)) in b.as_slice().iter().enumerate() {
                    out[2 + 8 * i..6 + 8 * i].copy_from_slice(&l.to_be_bytes());
                    out[6 + 8 * i..10 + 8 * i].copy_from_slice(&r.to_be_bytes());
                }
            }
            TcpOption::Timestamps { tsval, tsecr } => {
                out[0] = kind::TIMESTAMPS;
                out[2..6].copy_from_slice(&tsval.to_be_bytes());
                out[6..10].copy_from_slice(&tsecr.to_be_bytes());
            }
            TcpOption::Toa { port, addr } => {
                out[0] = kind::TOA;
                out[2..4].copy_from_slice(&port.to_be_bytes());
                out[4..8].copy_from_slice(&addr.octets());
            }
            TcpOption::Unknown { kind, data } => {
                out[0] = kind;
                out[2..].copy_from_slice(data);
            }
        }
        Some(n)
    }
}

/// An iterator over the options of a TCP header.
///
/// Yields `Ok(option)` for each option, skipping NOPs and stopping at EOL; on the first
/// malformed option (missing or < 2 length byte, length past the end, wrong length for a
/// known kind) yields `Err(DropReason::BadTcpOptions)` once and then ends.
#[derive(Debug, Clone)]
pub struct TcpOptions<'a> {
    data: &'a [u8],
}

impl<'a> TcpOptions<'a> {
    /// Iterate over raw option bytes.
    pub const fn new(data: &'a [u8]) -> Self {
        TcpOptions { data }
    }

    fn fail(&mut self) -> Option<Result<TcpOption<'a>, DropReason>> {
        self.data = &[];
        Some(Err(DropReason::BadTcpOptions))
    }
}

impl<'a> Iterator for TcpOptions<'a> {
    type Item = Result<TcpOption<'a>, DropReason>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (&k, rest) = self.data.split_first()?;
            match k {
                kind::EOL => {
                    self.data = &[];
                    return None;
                }
                kind::NOP => {
                    self.data = rest;
                    continue;
                }
                _ => {}
            }
            let Some(&len) = rest.first() else {
                return self.fail();
            };
            let len = usize::from(len);
            if len < 2 || len > self.data.len() {
                return self.fail();
            }
            let body = &self.data[2..len];
            self.data = &self.data[len..];
            let opt = match (k, len) {
                (kind::MSS, 4) => TcpOption::Mss(be16(body, 0)),
                (kind::WINDOW_SCALE, 3) => TcpOption::WindowScale(body[0]),
                (kind::SACK_PERMITTED, 2) => TcpOption::SackPermitted,
                (kind::SACK, 10 | 18 | 26 | 34) => {
                    let mut b = SackBlocks::default();
                    for (i, chunk) in body.chunks_exact(8).enumerate().take(4) {
                        b.blocks[i] = (be32(chunk, 0), be32(chunk, 4));
                        b.len += 1;
                    }
                    TcpOption::Sack(b)
                }
                (kind::TIMESTAMPS, 10) => TcpOption::Timestamps {
                    tsval: be32(body, 0),
                    tsecr: be32(body, 4),
                },
                (kind::TOA, TOA_LEN) => TcpOption::Toa {
                    port: be16(body, 0),
                    addr: Ipv4Addr::new(body[2], body[3], body[4], body[5]),
                },
                // A known kind with the wrong length.
                (
                    kind::MSS
                    | kind::WINDOW_SCALE
                    | kind::SACK_PERMITTED
                    | kind::SACK
                    | kind::TIMESTAMPS,
                    _,
                ) => return self.fail(),
                _ => TcpOption::Unknown {
                    kind: k,
                    data: body,
                },
            };
            return Some(Ok(opt));
        }
    }
}

impl core::iter::FusedIterator for TcpOptions<'_> {}

/// A read/write view of a TCP segment.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer without checking it (for emitting, or the 8 quoted bytes of an ICMP
    /// error, where only ports and sequence number may be read).
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap an untrusted segment (exactly the IP payload), validating the data offset.
    ///
    /// # Errors
    /// `TruncatedTcp` or `BadTcpDataOffset`.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, DropReason> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Validate the header against the buffer.
    ///
    /// # Errors
    /// `TruncatedTcp` or `BadTcpDataOffset`.
    pub fn check_len(&self) -> Result<(), DropReason> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            Err(DropReason::TruncatedTcp)
        } else if self.header_len() < HEADER_LEN || self.header_len() > len {
            Err(DropReason::BadTcpDataOffset)
        } else {
            Ok(())
        }
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

    /// Return the sequence number.
    #[inline]
    pub fn seq_number(&self) -> u32 {
        be32(self.buffer.as_ref(), field::SEQ_NUM.start)
    }

    /// Return the acknowledgement number.
    #[inline]
    pub fn ack_number(&self) -> u32 {
        be32(self.buffer.as_ref(), field::ACK_NUM.start)
    }

    /// Return the header length in bytes (data offset * 4).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::FLAGS.start] >> 4) * 4
    }

    /// Return the flag bits (see [`flags`]).
    #[inline]
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS.start + 1]
    }

    /// Return the FIN flag.
    #[inline]
    pub fn fin(&self) -> bool {
        self.flags() & flags::FIN != 0
    }

    /// Return the SYN flag.
    #[inline]
    pub fn syn(&self) -> bool {
        self.flags() & flags::SYN != 0
    }

    /// Return the RST flag.
    #[inline]
    pub fn rst(&self) -> bool {
        self.flags() & flags::RST != 0
    }

    /// Return the PSH flag.
    #[inline]
    pub fn psh(&self) -> bool {
        self.flags() & flags::PSH != 0
    }

    /// Return the ACK flag.
    #[inline]
    pub fn ack(&self) -> bool {
        self.flags() & flags::ACK != 0
    }

    /// Return the URG flag.
    #[inline]
    pub fn urg(&self) -> bool {
        self.flags() & flags::URG != 0
    }

    /// Return the window size field.
    #[inline]
    pub fn window_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::WIN_SIZE.start)
    }

    /// Return the checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// Return the urgent pointer field.
    #[inline]
    pub fn urgent_at(&self) -> u16 {
        be16(self.buffer.as_ref(), field::URGENT.start)
    }

    /// Return the raw options bytes.
    #[inline]
    pub fn options_raw(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// Iterate over the options.
    #[inline]
    pub fn options(&self) -> TcpOptions<'_> {
        TcpOptions::new(self.options_raw())
    }

    /// Return the payload (after the options).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }

    /// Return true when the checksum verifies over IPv4.
    #[inline]
    pub fn verify_checksum_v4(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        checksum::l4_verify_v4(src, dst, 6, self.buffer.as_ref())
    }

    /// Return true when the checksum verifies over IPv6.
    #[inline]
    pub fn verify_checksum_v6(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        checksum::l4_verify_v6(src, dst, 6, self.buffer.as_ref())
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

    /// Set the sequence number.
    #[inline]
    pub fn set_seq_number(&mut self, v: u32) {
        self.buffer.as_mut()[field::SEQ_NUM].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the acknowledgement number.
    #[inline]
    pub fn set_ack_number(&mut self, v: u32) {
        self.buffer.as_mut()[field::ACK_NUM].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the header length in bytes (a multiple of 4, 20..=60); invalidates `check_len`.
    #[inline]
    pub fn set_header_len(&mut self, len: usize) {
        let off = u8::try_from(len / 4).unwrap_or(0x0f) & 0x0f;
        let b = &mut self.buffer.as_mut()[field::FLAGS.start];
        *b = (*b & 0x0f) | (off << 4);
    }

    /// Set the flag bits (see [`flags`]).
    #[inline]
    pub fn set_flags(&mut self, v: u8) {
        self.buffer.as_mut()[field::FLAGS.start + 1] = v;
    }

    /// Set the window size field.
    #[inline]
    pub fn set_window_len(&mut self, v: u16) {
        self.buffer.as_mut()[field::WIN_SIZE].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the urgent pointer field.
    #[inline]
    pub fn set_urgent_at(&mut self, v: u16) {
        self.buffer.as_mut()[field::URGENT].copy_from_slice(&v.to_be_bytes());
    }

    /// Return the raw options bytes, writable.
    #[inline]
    pub fn options_raw_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buffer.as_mut()[HEADER_LEN..hl]
    }

    /// Compute and store the checksum over IPv4.
    #[inline]
    pub fn fill_checksum_v4(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let c = checksum::l4_checksum_v4(src, dst, 6, self.buffer.as_ref());
        self.set_checksum(c);
    }

    /// Compute and store the checksum over IPv6.
    #[inline]
    pub fn fill_checksum_v6(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        self.set_checksum(0);
        let c = checksum::l4_checksum_v6(src, dst, 6, self.buffer.as_ref());
        self.set_checksum(c);
    }

    /// Set the source port and update the checksum incrementally.
    #[inline]
    pub fn rewrite_src_port(&mut self, v: u16) {
        let c = checksum::update16(self.checksum(), self.src_port(), v);
        self.set_src_port(v);
        self.set_checksum(c);
    }

    /// Set the destination port and update the checksum incrementally.
    #[inline]
    pub fn rewrite_dst_port(&mut self, v: u16) {
        let c = checksum::update16(self.checksum(), self.dst_port(), v);
        self.set_dst_port(v);
        self.set_checksum(c);
    }

    /// Set the source and/or destination port and update the checksum once for them and for
    /// `pseudo`, the pseudo-header's change (the addresses the IP header got).
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
        let c = u.apply(self.checksum());
        self.set_checksum(c);
    }
}

/// The compact form of a TCP header with the options the gateway reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq_number: u32,
    /// Acknowledgement number.
    pub ack_number: u32,
    /// Flag bits.
    pub flags: u8,
    /// Window field.
    pub window_len: u16,
    /// MSS option.
    pub mss: Option<u16>,
    /// Window scale option.
    pub window_scale: Option<u8>,
    /// SACK permitted option.
    pub sack_permitted: bool,
    /// Timestamps option `(tsval, tsecr)`.
    pub timestamps: Option<(u32, u32)>,
    /// TOA option `(port, addr)`.
    pub toa: Option<(u16, Ipv4Addr)>,
    /// Payload length.
    pub payload_len: usize,
}

impl Repr {
    /// Parse a checked segment and its options (unknown options and SACK blocks are ignored).
    ///
    /// # Errors
    /// `BadTcpOptions`.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr, DropReason> {
        let mut r = Repr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            seq_number: p.seq_number(),
            ack_number: p.ack_number(),
            flags: p.flags(),
            window_len: p.window_len(),
            mss: None,
            window_scale: None,
            sack_permitted: false,
            timestamps: None,
            toa: None,
            payload_len: p.payload().len(),
        };
        for opt in p.options() {
            match opt? {
                TcpOption::Mss(v) => r.mss = Some(v),
                TcpOption::WindowScale(v) => r.window_scale = Some(v),
                TcpOption::SackPermitted => r.sack_permitted = true,
                TcpOption::Timestamps { tsval, tsecr } => r.timestamps = Some((tsval, tsecr)),
                TcpOption::Toa { port, addr } => r.toa = Some((port, addr)),
                TcpOption::Sack(_) | TcpOption::Unknown { .. } => {}
            }
        }
        Ok(r)
    }

    fn options_len(&self) -> usize {
        let n = self.mss.map_or(0, |_| 4)
            + self.window_scale.map_or(0, |_| 3)
            + if self.sack_permitted { 2 } else { 0 }
            + self.timestamps.map_or(0, |_| 10)
            + self.toa.map_or(0, |_| TOA_LEN);
        n.div_ceil(4) * 4
    }

    /// Return the header length this repr emits (options padded to 4 bytes).
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options_len()
    }

    /// Return the segment length this repr emits (header plus payload).
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload_len
    }

    /// Emit the header and options (checksum zero, urgent pointer zero); the payload is left
    /// alone. Options are written in the order MSS, window scale, SACK permitted, timestamps,
    /// TOA, then NOP-padded.
    ///
    /// # Panics
    /// If the buffer is shorter than `header_len()`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_seq_number(self.seq_number);
        p.set_ack_number(self.ack_number);
        p.buffer.as_mut()[field::FLAGS.start] = 0;
        p.set_header_len(self.header_len());
        p.set_flags(self.flags);
        p.set_window_len(self.window_len);
        p.set_checksum(0);
        p.set_urgent_at(0);
        let opts = [
            self.mss.map(TcpOption::Mss),
            self.window_scale.map(TcpOption::WindowScale),
            self.sack_permitted.then_some(TcpOption::SackPermitted),
            self.timestamps
                .map(|(tsval, tsecr)| TcpOption::Timestamps { tsval, tsecr }),
            self.toa.map(|(port, addr)| TcpOption::Toa { port, addr }),
        ];
        let buf = p.options_raw_mut();
        buf.fill(kind::NOP);
        let mut at = 0;
        for o in opts.into_iter().flatten() {
            at += o.emit(&mut buf[at..]).unwrap_or(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// SYN 49152 -> 80, seq 0x01020304, MSS 1460, SACK-perm, TS, NOP, WS 7, TOA; 4 bytes data.
    static SEGMENT: [u8; 52] = [
        0xc0, 0x00, 0x00, 0x50, // ports
        0x01, 0x02, 0x03, 0x04, // seq
        0x00, 0x00, 0x00, 0x00, // ack
        0xc0, 0x02, 0xfa, 0xf0, // offset 12 (48 bytes), SYN, window 64240
        0x00, 0x00, 0x00, 0x00, // checksum, urgent
        0x02, 0x04, 0x05, 0xb4, // MSS 1460
        0x04, 0x02, // SACK permitted
        0x08, 0x0a, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, // TS 1 / 0
        0x01, // NOP
        0x03, 0x03, 0x07, // WS 7
        0xfe, 0x08, 0x1f, 0x90, 0xc0, 0xa8, 0x01, 0x02, // TOA 8080 192.168.1.2
        0xaa, 0xbb, 0xcc, 0xdd,
    ];

    #[test]
    fn test_deconstruct() {
        let p = Packet::new_checked(&SEGMENT[..]).unwrap();
        assert_eq!(p.src_port(), 49152);
        assert_eq!(p.dst_port(), 80);
        assert_eq!(p.seq_number(), 0x01020304);
        assert_eq!(p.ack_number(), 0);
        assert_eq!(p.header_len(), 48);
        assert!(p.syn() && !p.ack() && !p.fin() && !p.rst() && !p.psh() && !p.urg());
        assert_eq!(p.window_len(), 64240);
        assert_eq!(p.payload(), &[0xaa, 0xbb, 0xcc, 0xdd]);
        let opts: Vec<_> = p.options().collect();
        assert_eq!(
            opts,
            vec![
                Ok(TcpOption::Mss(1460)),
                Ok(TcpOption::SackPermitted),
                Ok(TcpOption::Timestamps { tsval: 1, tsecr: 0 }),
                Ok(TcpOption::WindowScale(7)),
                Ok(TcpOption::Toa {
                    port: 8080,
                    addr: Ipv4Addr::new(192, 168, 1, 2)
                }),
            ]
        );
    }

    #[test]
    fn test_construct() {
        let mut b = [0u8; 52];
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_src_port(49152);
        p.set_dst_port(80);
        p.set_seq_number(0x01020304);
        p.set_ack_number(0);
        p.set_header_len(48);
        p.set_flags(flags::SYN);
        p.set_window_len(64240);
        let opts = [
            TcpOption::Mss(1460),
            TcpOption::SackPermitted,
            TcpOption::Timestamps { tsval: 1, tsecr: 0 },
        ];
        let raw = p.options_raw_mut();
        let mut at = 0;
        for o in opts {
            at += o.emit(&mut raw[at..]).unwrap();
        }
        raw[at] = kind::NOP;
        at += 1;
        at += TcpOption::WindowScale(7).emit(&mut raw[at..]).unwrap();
        TcpOption::Toa {
            port: 8080,
            addr: Ipv4Addr::new(192, 168, 1, 2),
        }
        .emit(&mut raw[at..])
        .unwrap();
        let end = b.len();
        b[end - 4..].copy_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(b, SEGMENT);
    }

    fn repr() -> Repr {
        Repr {
            src_port: 49152,
            dst_port: 80,
            seq_number: 0x01020304,
            ack_number: 0,
            flags: flags::SYN,
            window_len: 64240,
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamps: Some((1, 0)),
            toa: Some((8080, Ipv4Addr::new(192, 168, 1, 2))),
            payload_len: 4,
        }
    }

    #[test]
    fn test_parse_emit() {
        let p = Packet::new_checked(&SEGMENT[..]).unwrap();
        assert_eq!(Repr::parse(&p), Ok(repr()));
        let r = repr();
        assert_eq!(r.header_len(), 48);
        let mut b = vec![0u8; r.buffer_len()];
        r.emit(&mut Packet::new_unchecked(&mut b[..]));
        // Options come out in a different order; reparse and compare.
        let q = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(Repr::parse(&q), Ok(r));
    }

    #[test]
    fn test_checksum() {
        let src = Ipv4Addr::new(10, 0, 0, 1);
        let dst = Ipv4Addr::new(10, 0, 0, 2);
        let mut b = SEGMENT;
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.fill_checksum_v4(src, dst);
        assert!(p.verify_checksum_v4(src, dst));
        p.rewrite_dst_port(8080);
        assert!(p.verify_checksum_v4(src, dst));
        p.rewrite_src_port(1);
        assert!(p.verify_checksum_v4(src, dst));
        let s6: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let d6: Ipv6Addr = "2001:db8::2".parse().unwrap();
        p.fill_checksum_v6(&s6, &d6);
        assert!(p.verify_checksum_v6(&s6, &d6));
        assert!(!p.verify_checksum_v6(&d6, &d6));
    }

    #[test]
    fn test_truncated() {
        for len in 0..HEADER_LEN {
            assert_eq!(
                Packet::new_checked(&SEGMENT[..len]).unwrap_err(),
                DropReason::TruncatedTcp
            );
        }
        for len in HEADER_LEN..48 {
            assert_eq!(
                Packet::new_checked(&SEGMENT[..len]).unwrap_err(),
                DropReason::BadTcpDataOffset
            );
        }
        assert!(Packet::new_checked(&SEGMENT[..48]).is_ok());
    }

    #[test]
    fn test_bad_data_offset() {
        for off in 0..5u8 {
            let mut b = SEGMENT;
            b[12] = off << 4;
            assert_eq!(
                Packet::new_checked(&b[..]).unwrap_err(),
                DropReason::BadTcpDataOffset
            );
        }
        let mut b = SEGMENT;
        b[12] = 0xf0;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            DropReason::BadTcpDataOffset
        );
    }

    fn opts(raw: &[u8]) -> Vec<Result<TcpOption<'_>, DropReason>> {
        TcpOptions::new(raw).collect()
    }

    #[test]
    fn test_bad_options() {
        let bad = Err(DropReason::BadTcpOptions);
        // Length 0 and 1 (would loop forever / underflow if trusted).
        assert_eq!(opts(&[0x02, 0x00, 0x05, 0xb4]), vec![bad]);
        assert_eq!(opts(&[0x1e, 0x01, 0x01, 0x01]), vec![bad]);
        // Length past the end.
        assert_eq!(opts(&[0x01, 0x02, 0x04, 0x05]), vec![bad]);
        assert_eq!(
            opts(&[0x02, 0x04, 0x05, 0xb4, 0x08, 0x0a, 0, 0]),
            vec![Ok(TcpOption::Mss(1460)), bad]
        );
        // Missing length byte.
        assert_eq!(opts(&[0x01, 0x01, 0x01, 0x22]), vec![bad]);
        // Wrong length for a known kind.
        assert_eq!(opts(&[0x02, 0x03, 0x05, 0x00]), vec![bad]);
        assert_eq!(opts(&[0x05, 0x04, 0x00, 0x00]), vec![bad]);
        // EOL ends the list, whatever follows.
        assert_eq!(opts(&[0x00, 0x02, 0x00, 0x00]), vec![]);
        // Kind 254 with another length is an experimental option, not TOA.
        assert_eq!(
            opts(&[0xfe, 0x04, 0xab, 0xcd]),
            vec![Ok(TcpOption::Unknown {
                kind: 254,
                data: &[0xab, 0xcd]
            })]
        );
    }

    #[test]
    fn test_sack_blocks() {
        let raw = [
            0x01, 0x01, 0x05, 0x12, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4,
        ];
        let o = opts(&raw);
        let Ok(TcpOption::Sack(b)) = o[0] else {
            panic!("not SACK: {o:?}")
        };
        assert_eq!(b.as_slice(), &[(1, 2), (3, 4)]);
        let mut out = [0u8; 18];
        assert_eq!(TcpOption::Sack(b).emit(&mut out), Some(18));
        assert_eq!(out, raw[2..]);
        assert_eq!(TcpOption::Sack(b).emit(&mut out[..17]), None);
    }

    proptest! {
        #[test]
        fn test_prop_options_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..40)) {
            let n = TcpOptions::new(&raw).count();
            prop_assert!(n <= raw.len());
        }

        #[test]
        fn test_prop_emit_parse_round_trip(
            sp: u16, dp: u16, seq: u32, ack: u32, fl: u8, win: u16,
            mss: Option<u16>, ws: Option<u8>, sp_ok: bool, ts: Option<(u32, u32)>,
            toa: Option<(u16, u32)>, plen in 0usize..64,
        ) {
            let r = Repr { src_port: sp, dst_port: dp, seq_number: seq, ack_number: ack, flags: fl,
                window_len: win, mss, window_scale: ws, sack_permitted: sp_ok, timestamps: ts,
                toa: toa.map(|(p, a)| (p, Ipv4Addr::from_bits(a))), payload_len: plen };
            let mut b = vec![0u8; r.buffer_len()];
            r.emit(&mut Packet::new_unchecked(&mut b[..]));
            prop_assert_eq!(Repr::parse(&Packet::new_checked(&b[..]).unwrap()), Ok(r));
        }
    }
}
