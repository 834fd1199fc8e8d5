//! The sync message format, version 1: a fixed header, a body per message type, an
//! HMAC-SHA256 trailer. All integers are big-endian.
//!
//! ```text
//!  0       2       3       4       5       6               8
//! +-------+-------+-------+-------+-------+---------------+
//! | magic "FS"    |version| type  |syncid | flags | length (whole datagram) |
//! +---------------------------------------------------------------+
//!  8 sender id (u32)           12 epoch (u64)        20 peer epoch (u64)
//! 28 seq (u64)                 36 ack (u64)          44 ts_us (u64)
//! 52 body ...
//! -32 HMAC-SHA256 over every byte before it
//! ```
//!
//! - `sender`: the sender's id (from its listen address); a gateway drops its own messages.
//! - `epoch`: the sender's boot id (Unix microseconds when its channel started), so a restart
//!   is a new epoch, never a replay of old sequence numbers.
//! - `peer epoch`: the receiver's epoch as the sender knows it (0 before it knows): data
//!   addressed to an older epoch of the receiver is dropped, so nothing recorded before a
//!   restart can be replayed after it.
//! - `seq`: for `Data` and `ResyncDone`, the message's number in the sender's stream to this
//!   receiver (from 1); for the other types, the next number the stream will use (so the
//!   receiver sees a lost tail).
//! - `ack`: every message of the sender's own stream up to this one has been received.
//! - `ts_us`: microseconds since the sender's epoch, strictly increasing per sender.
//!
//! Bodies:
//!
//! | type | body |
//! |---|---|
//! | 1 `Data` | `first_queued_us` u64 (when its oldest record was queued, same clock as `ts_us`), `count` u16, `count` records; flag 1 = records of a full resync |
//! | 2 `Ack` | empty |
//! | 3 `Nack` | `n` u8 (1..=32), `n` × (`first` u64, `last` u64): ranges to resend |
//! | 4 `ResyncRequest` | `req_id` u32 (increasing per requester epoch) |
//! | 5 `ResyncDone` | `req_id` u32 (0 = unsolicited), `records` u64 sent in the resync |
//! | 6 `Hello` | empty (keepalive, carries `seq` and `ack`); flag 2 = sent to the multicast group (discovery: `peer epoch`, `seq`, `ack` are 0). A unicast `Hello` with `peer epoch` 0 from a peer that knew this gateway's epoch says the peer forgot it (it expired it): both streams restart |
//!
//! A record (12 bytes, then the addresses: 4 bytes each for IPv4, 16 for IPv6, each followed by
//! its port, then the client hop if present):
//!
//! ```text
//! 0 op (1 update, 2 delete, 3 expire)  1 protocol (6, 17)  2 method (0 DR, 1 NAT, 2 TUN,
//! 3 FullNAT)  3 TCP state (IPVS numbering)  4 flags (bit 0 client side IPv6, bit 1 backend
//! side IPv6, bit 2 local address present, bit 3 template, bit 4 client hop present, bit 5
//! PROXY state present, bit 6 undefined, bit 7 extension block present)
//! 5 template prefix length (0 otherwise)  6 pipeline flags  7 reserved (0)  8 timeout_s u32
//! 12 client, VIP, [local], backend: address + port each; [client hop: port u16, MAC 6 bytes]
//! [PROXY state: header length u8 (bit 7: version 2), client ISN + 1 u32]
//! [extension block: length u8 (1..=255), then extensions filling it exactly, each
//!  type u8 (bit 7: critical), length u8, that many bytes]
//! ```
//!
//! Extensions defined:
//!
//! | type | length | value |
//! |---|---|---|
//! | `0x81` SYN proxy state (critical) | 16 | `seq` u32, `ts` u32, `client_isn` u32, `mss` u16, `opts` u8, `ws` u8: a SYN proxy connection's [`SynProxyState`]; the record's pipeline flags say whether the server leg is open (then `seq` and `ts` are the deltas, else the cookie and our TSval) |
//!
//! A record carries an extension at most once. The SYN proxy state is critical: a gateway
//! that cannot read it would forward the connection untranslated, which breaks it, so it skips
//! the record instead (the connection fails over as if never synced).
//!
//! The PROXY state (a NAT or FullNAT TCP connection to a `proxy_protocol` service) came after
//! the rest: a record without bit 5 reads as before it, and a gateway that predates it refuses
//! a record with it (an undefined flag bit), rather than install a connection it would break.
//!
//! # Compatibility between versions of ferrovs
//!
//! Records are not length-delimited and every field's presence hangs on a flag bit, so a field
//! added with a new flag bit cannot be skipped by a gateway that does not know the bit: it
//! cannot tell where the record ends, and refuses the whole message. Making records
//! length-delimited would change every record's bytes, which every gateway before it refuses
//! (the reserved byte must be 0, undefined flag bits refused), and a header version bump is
//! refused by them too. So the format grows from here on in two ways, neither a bump:
//!
//! - **Extensions, from this version on**: any new record field is an extension in the
//!   record's extension block (flag bit 7), never a new flag bit. The block and each extension
//!   carry their length, so a gateway skips what it does not know: an unknown extension
//!   without the critical bit is ignored (the record installed without it; counted in
//!   `ferrovs_sync_extensions_ignored_total`); an unknown critical one (a field without which
//!   the connection would break, as the PROXY state is) makes the gateway skip that record
//!   and install the rest of the message (`ferrovs_sync_records_rejected_total{reason=
//!   "unknown_extension"}`). The first version that read blocks defined no extension type;
//!   the SYN proxy state was the first. Records without one carry no block, so they read on
//!   every gateway that reads bit 5. A block is never empty (so every block shows in the
//!   counts, and the encoding stays canonical).
//! - **A message a gateway cannot read does not stall the stream** (see
//!   [`super::Reject::Undecodable`]): a numbered message (`Data`, `ResyncDone`) that passed
//!   the HMAC check, comes from a known peer's current epoch and is addressed to this
//!   gateway's epoch, but whose body does not parse here (an undefined flag bit, say), takes
//!   its slot in the stream empty: it is acknowledged, nothing in it is installed, and the
//!   messages behind it are delivered. Before, such a message was refused unacknowledged: the
//!   sender resent it forever (it cannot tell a refusal from a loss), the receiver delivered
//!   nothing behind it, and the sender's window filled: the stream stalled. The sessions of a dropped message are lost to this peer (as if they had
//!   never been synced; the next update or resync of each carries it again), which is what a
//!   gateway that cannot read them can do safely. Anything that fails the HMAC, comes from an
//!   unknown sender or another epoch, or is not numbered is still refused unacknowledged and
//!   unused: nothing unauthenticated is acknowledged or installed.
//!
//! The header's version stays 1: a gateway speaks version 1 and refuses any other version
//! unacknowledged (`reason="version"`), since the header's layout (epochs, sequence numbers)
//! cannot be trusted in another version. A version 2 is for a change that cannot be an
//! extension; it needs every gateway of a sync group upgraded together.
//!
//! Parsing is total: every input either parses into a message whose records satisfy
//! [`SyncSession::validate`], or fails with a [`WireError`]; nothing panics (a fuzz target and
//! a truncation property test hold it to that).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use dataplane::session::{ProxyState, SynProxyState};
use dataplane::types::L4Proto;

use super::auth::{Auth, MAC_LEN};
use super::record::{
    method_code, method_from_code, tcp_state_from_code, ClientHop, RecordError, SyncOp, SyncSession,
};

/// The first two bytes of every message.
pub const MAGIC: [u8; 2] = *b"FS";
/// The format version this code speaks.
pub const VERSION: u8 = 1;
/// Header length in bytes.
pub const HEADER_LEN: usize = 52;
/// Bytes every message spends on header and MAC.
pub const OVERHEAD: usize = HEADER_LEN + MAC_LEN;
/// A data body's fixed part: `first_queued_us` and `count`.
pub const DATA_PREFIX_LEN: usize = 10;
/// Most ranges one `Nack` carries.
pub const MAX_NACK_RANGES: usize = 32;
/// `Data` flag: the records belong to a full resync.
pub const FLAG_RESYNC: u8 = 1;
/// `Hello` flag: sent to the multicast group (discovery), not to one peer; its `peer epoch`,
/// `seq` and `ack` are 0 and mean nothing.
pub const FLAG_GROUP: u8 = 2;
/// Fixed part of a record before its addresses.
const RECORD_FIXED: usize = 12;
/// Record address flag: the PROXY state follows the client hop.
const AF_PROXY: u8 = 0x20;
/// Record address flag: an extension block ends the record (see the module documentation).
const AF_EXT: u8 = 0x80;
/// Record address flags this version reads (bit 6 is undefined: a record with it cannot be
/// read, nor skipped, since its length is unknown).
const AF_KNOWN: u8 = 0x3f | AF_EXT;
/// Extension type bit: a receiver that does not know the extension must not install the
/// record (it skips the record); without it, the receiver ignores just the extension.
pub const EXT_CRITICAL: u8 = 0x80;
/// The PROXY state's length: header length and version, client ISN + 1.
const PROXY_LEN: usize = 5;
/// Extension type 1, critical: a SYN proxy connection's state (see the module documentation).
pub const EXT_SYNPROXY: u8 = EXT_CRITICAL | 1;
/// The SYN proxy state's length: sequence and timestamp values, client ISN, MSS, options and
/// window scales.
const SYNPROXY_LEN: usize = 16;
/// A record's extension block with the SYN proxy state: block length, type, length, value.
const SYNPROXY_BLOCK_LEN: usize = 3 + SYNPROXY_LEN;

/// A message type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MsgType {
    /// Session records (reliable, numbered).
    Data = 1,
    /// Cumulative acknowledgement.
    Ack = 2,
    /// Ranges of the stream to resend.
    Nack = 3,
    /// Ask for the sender's full table.
    ResyncRequest = 4,
    /// A full resync ended (reliable, numbered).
    ResyncDone = 5,
    /// Keepalive.
    Hello = 6,
}

impl MsgType {
    /// Map a wire code to a type.
    pub const fn from_code(c: u8) -> Option<Self> {
        match c {
            1 => Some(Self::Data),
            2 => Some(Self::Ack),
            3 => Some(Self::Nack),
            4 => Some(Self::ResyncRequest),
            5 => Some(Self::ResyncDone),
            6 => Some(Self::Hello),
            _ => None,
        }
    }

    /// Whether messages of this type are numbered and resent until acknowledged.
    pub const fn reliable(self) -> bool {
        matches!(self, Self::Data | Self::ResyncDone)
    }

    /// The flag bits this type may carry.
    const fn allowed_flags(self) -> u8 {
        match self {
            Self::Data => FLAG_RESYNC,
            Self::Hello => FLAG_GROUP,
            _ => 0,
        }
    }
}

/// The fixed header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Message type.
    pub kind: MsgType,
    /// Sync group.
    pub syncid: u8,
    /// Type-specific flags.
    pub flags: u8,
    /// Sender id.
    pub sender: u32,
    /// Sender's epoch.
    pub epoch: u64,
    /// Receiver's epoch as the sender knows it; 0 = unknown.
    pub peer_epoch: u64,
    /// Stream position (see the module documentation).
    pub seq: u64,
    /// Cumulative acknowledgement of the receiver's stream.
    pub ack: u64,
    /// Sender's clock, microseconds since its epoch.
    pub ts_us: u64,
}

/// A message body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// Session records.
    Data {
        /// When the oldest record was queued (sender clock, µs since its epoch).
        first_queued_us: u64,
        /// The records, in queue order.
        records: Vec<SyncSession>,
    },
    /// Acknowledgement only.
    Ack,
    /// Resend requests: inclusive ranges of sequence numbers.
    Nack {
        /// Inclusive `(first, last)` ranges.
        ranges: Vec<(u64, u64)>,
    },
    /// Full table request.
    ResyncRequest {
        /// The requester's id for this request.
        req_id: u32,
    },
    /// End of a full resync.
    ResyncDone {
        /// The request it answers; 0 when the sender started it on its own.
        req_id: u32,
        /// Records sent in the resync.
        records: u64,
    },
    /// Keepalive.
    Hello,
}

/// A whole parsed message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The header.
    pub header: Header,
    /// The body.
    pub body: Body,
}

/// Why a datagram was not a valid message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Shorter than a header and a MAC.
    #[error("{len} bytes is shorter than the {OVERHEAD}-byte header and MAC")]
    TooShort {
        /// Datagram length.
        len: usize,
    },
    /// Not a ferrovs sync message.
    #[error("bad magic")]
    BadMagic,
    /// Another version of the format.
    #[error("version {0} (this gateway speaks {VERSION})")]
    Version(u8),
    /// A message type this version does not know.
    #[error("unknown message type {0}")]
    UnknownType(u8),
    /// Flags the message type does not define.
    #[error("flags {flags:#04x} not defined for {kind:?}")]
    BadFlags {
        /// Message type.
        kind: MsgType,
        /// The flags.
        flags: u8,
    },
    /// The length field disagrees with the datagram.
    #[error("length field {declared} but the datagram has {actual} bytes")]
    Length {
        /// Length field.
        declared: usize,
        /// Datagram length.
        actual: usize,
    },
    /// The body ends before its content.
    #[error("body truncated")]
    Truncated,
    /// Bytes left after the body's content.
    #[error("{0} bytes after the body")]
    Trailing(usize),
    /// A field with a value the format does not define.
    #[error("bad {field} {value}")]
    BadValue {
        /// Field name.
        field: &'static str,
        /// The value.
        value: u64,
    },
    /// A record that breaks an invariant.
    #[error("record {index}: {source}")]
    Record {
        /// Position of the record in the message.
        index: u16,
        /// What is wrong with it.
        source: RecordError,
    },
    /// The HMAC does not match (wrong key, or the message was altered).
    #[error("bad HMAC")]
    Hmac,
}

/// A bounds-checked big-endian reader; every read fails cleanly at the end of the buffer.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    const fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let end = self.pos.checked_add(N).ok_or(WireError::Truncated)?;
        let bytes = self.buf.get(self.pos..end).ok_or(WireError::Truncated)?;
        self.pos = end;
        let mut out = [0; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_be_bytes(self.take()?))
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.take()?))
    }

    fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_be_bytes(self.take()?))
    }

    fn socket_addr(&mut self, v6: bool) -> Result<SocketAddr, WireError> {
        let ip = if v6 {
            IpAddr::V6(Ipv6Addr::from(self.take::<16>()?))
        } else {
            IpAddr::V4(Ipv4Addr::from(self.take::<4>()?))
        };
        Ok(SocketAddr::new(ip, self.u16()?))
    }

    /// Fail unless every byte was read.
    fn finish(&self) -> Result<(), WireError> {
        match self.buf.len() - self.pos {
            0 => Ok(()),
            n => Err(WireError::Trailing(n)),
        }
    }
}

/// Parse and check the header of `dgram` (magic, version, type, flags, length); the MAC and
/// the body are not looked at.
///
/// # Errors
///
/// The first problem found.
pub fn parse_header(dgram: &[u8]) -> Result<Header, WireError> {
    if dgram.len() < OVERHEAD {
        return Err(WireError::TooShort { len: dgram.len() });
    }
    let mut r = Reader::new(dgram);
    if r.take::<2>()? != MAGIC {
        return Err(WireError::BadMagic);
    }
    let version = r.u8()?;
    if version != VERSION {
        return Err(WireError::Version(version));
    }
    let code = r.u8()?;
    let kind = MsgType::from_code(code).ok_or(WireError::UnknownType(code))?;
    let syncid = r.u8()?;
    let flags = r.u8()?;
    if flags & !kind.allowed_flags() != 0 {
        return Err(WireError::BadFlags { kind, flags });
    }
    let declared = usize::from(r.u16()?);
    if declared != dgram.len() {
        return Err(WireError::Length {
            declared,
            actual: dgram.len(),
        });
    }
    Ok(Header {
        kind,
        syncid,
        flags,
        sender: r.u32()?,
        epoch: r.u64()?,
        peer_epoch: r.u64()?,
        seq: r.u64()?,
        ack: r.u64()?,
        ts_us: r.u64()?,
    })
}

/// Return the body bytes of a datagram whose header parsed.
pub fn body_of(dgram: &[u8]) -> &[u8] {
    dgram
        .get(HEADER_LEN..dgram.len().saturating_sub(MAC_LEN))
        .unwrap_or(&[])
}

/// What a `Data` body held that this version does not know, skipped rather than refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Records left out because they carry a critical extension this version does not know.
    pub records: u64,
    /// Non-critical extensions this version does not know, ignored (their records kept).
    pub extensions: u64,
}

/// Parse the body of a message of type `kind`.
///
/// # Errors
///
/// Truncation, trailing bytes, undefined values, or a record breaking an invariant.
pub fn parse_body(kind: MsgType, body: &[u8]) -> Result<Body, WireError> {
    parse_body_skipping(kind, body, &mut Skipped::default())
}

/// [`parse_body`], adding what it skipped to `skipped`.
///
/// # Errors
///
/// As [`parse_body`].
pub fn parse_body_skipping(
    kind: MsgType,
    body: &[u8],
    skipped: &mut Skipped,
) -> Result<Body, WireError> {
    let mut r = Reader::new(body);
    let out = match kind {
        MsgType::Data => {
            let first_queued_us = r.u64()?;
            let count = r.u16()?;
            // Each record needs at least its fixed part and three IPv4 addresses: refuse a
            // count the body cannot hold before reserving room for it.
            if usize::from(count) * (RECORD_FIXED + 18) > body.len() {
                return Err(WireError::Truncated);
            }
            let mut records = Vec::with_capacity(usize::from(count));
            for index in 0..count {
                let (rec, ext) = parse_record(&mut r)?;
                rec.validate()
                    .map_err(|source| WireError::Record { index, source })?;
                if ext.critical {
                    skipped.records += 1;
                } else {
                    skipped.extensions += ext.ignored;
                    records.push(rec);
                }
            }
            Body::Data {
                first_queued_us,
                records,
            }
        }
        MsgType::Ack => Body::Ack,
        MsgType::Hello => Body::Hello,
        MsgType::Nack => {
            let n = r.u8()?;
            if n == 0 || usize::from(n) > MAX_NACK_RANGES {
                return Err(WireError::BadValue {
                    field: "nack range count",
                    value: u64::from(n),
                });
            }
            let mut ranges = Vec::with_capacity(usize::from(n));
            for _ in 0..n {
                let (first, last) = (r.u64()?, r.u64()?);
                if first == 0 || first > last {
                    return Err(WireError::BadValue {
                        field: "nack range start",
                        value: first,
                    });
                }
                ranges.push((first, last));
            }
            Body::Nack { ranges }
        }
        MsgType::ResyncRequest => Body::ResyncRequest { req_id: r.u32()? },
        MsgType::ResyncDone => Body::ResyncDone {
            req_id: r.u32()?,
            records: r.u64()?,
        },
    };
    r.finish()?;
    Ok(out)
}

fn bad(field: &'static str, value: u8) -> WireError {
    WireError::BadValue {
        field,
        value: u64::from(value),
    }
}

/// Unknown extensions met in one record.
#[derive(Default)]
struct ExtSeen {
    /// A critical one: the record must not be installed.
    critical: bool,
    /// Non-critical ones, ignored.
    ignored: u64,
}

/// Read a record's extension block: a length byte, then that many bytes of extensions, each
/// `type` u8, `length` u8, `length` bytes. The SYN proxy state ([`EXT_SYNPROXY`]) is read
/// into `synproxy` (at most once, of its length); every other type is unknown here: skipped
/// by its length.
fn parse_extensions(
    r: &mut Reader<'_>,
    synproxy: &mut Option<SynProxyState>,
) -> Result<ExtSeen, WireError> {
    let total = usize::from(r.u8()?);
    if total == 0 {
        // An empty block would make a second encoding of the same record.
        return Err(bad("extension block length", 0));
    }
    let end = r.pos + total;
    let block = r.buf.get(r.pos..end).ok_or(WireError::Truncated)?;
    r.pos = end;
    let mut b = Reader::new(block);
    let mut seen = ExtSeen::default();
    while b.pos < block.len() {
        let kind = b.u8()?;
        let len = usize::from(b.u8()?);
        let next = b.pos + len;
        if next > block.len() {
            return Err(WireError::Truncated);
        }
        if kind == EXT_SYNPROXY {
            if len != SYNPROXY_LEN {
                return Err(bad("SYN proxy extension length", len as u8));
            }
            if synproxy.is_some() {
                return Err(bad("repeated extension", kind));
            }
            *synproxy = Some(SynProxyState {
                seq: b.u32()?,
                ts: b.u32()?,
                client_isn: b.u32()?,
                mss: b.u16()?,
                opts: b.u8()?,
                ws: b.u8()?,
            });
            continue;
        }
        b.pos = next;
        if kind & EXT_CRITICAL != 0 {
            seen.critical = true;
        } else {
            seen.ignored += 1;
        }
    }
    Ok(seen)
}

fn parse_record(r: &mut Reader<'_>) -> Result<(SyncSession, ExtSeen), WireError> {
    let op = match r.u8()? {
        1 => SyncOp::Update,
        2 => SyncOp::Delete,
        3 => SyncOp::Expire,
        v => return Err(bad("op", v)),
    };
    let p = r.u8()?;
    let proto = L4Proto::from_number(p).ok_or_else(|| bad("protocol", p))?;
    let m = r.u8()?;
    let method = method_from_code(m).ok_or_else(|| bad("method", m))?;
    let s = r.u8()?;
    let tcp_state = tcp_state_from_code(s).ok_or_else(|| bad("TCP state", s))?;
    let af = r.u8()?;
    if af & !AF_KNOWN != 0 {
        return Err(bad("address flags", af));
    }
    let prefix = r.u8()?;
    let template = if af & 8 != 0 {
        Some(prefix)
    } else if prefix != 0 {
        return Err(bad("prefix length of a connection", prefix));
    } else {
        None
    };
    let flags = r.u8()?;
    let reserved = r.u8()?;
    if reserved != 0 {
        return Err(bad("reserved byte", reserved));
    }
    let timeout_s = r.u32()?;
    let (front_v6, back_v6, has_local) = (af & 1 != 0, af & 2 != 0, af & 4 != 0);
    let client = r.socket_addr(front_v6)?;
    let vip = r.socket_addr(front_v6)?;
    let local = if has_local {
        Some(r.socket_addr(back_v6)?)
    } else {
        None
    };
    let backend = r.socket_addr(back_v6)?;
    let client_hop = if af & 0x10 != 0 {
        Some(ClientHop {
            port: r.u16()?,
            mac: r.take()?,
        })
    } else {
        None
    };
    let proxy = if af & AF_PROXY != 0 {
        let b = r.u8()?;
        Some(ProxyState {
            len: u16::from(b & 0x7f),
            v2: b & 0x80 != 0,
            isn1: r.u32()?,
        })
    } else {
        None
    };
    let mut synproxy = None;
    let ext = if af & AF_EXT != 0 {
        parse_extensions(r, &mut synproxy)?
    } else {
        ExtSeen::default()
    };
    let rec = SyncSession {
        op,
        proto,
        client,
        vip,
        local,
        backend,
        method,
        tcp_state,
        timeout_s,
        template,
        flags,
        client_hop,
        proxy,
        synproxy,
    };
    Ok((rec, ext))
}

/// Return the encoded length of a record.
pub fn record_len(rec: &SyncSession) -> usize {
    let a = |v6: bool| if v6 { 18 } else { 6 };
    let hop = if rec.client_hop.is_some() { 8 } else { 0 };
    let proxy = if rec.proxy.is_some() { PROXY_LEN } else { 0 };
    let ext = if rec.synproxy.is_some() {
        SYNPROXY_BLOCK_LEN
    } else {
        0
    };
    RECORD_FIXED
        + 2 * a(rec.front_v6())
        + a(rec.back_v6()) * (1 + usize::from(rec.local.is_some()))
        + hop
        + proxy
        + ext
}

fn put_addr(out: &mut Vec<u8>, sa: SocketAddr) {
    match sa.ip() {
        IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
        IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
    }
    out.extend_from_slice(&sa.port().to_be_bytes());
}

/// Append the encoding of `rec` to `out`.
///
/// # Errors
///
/// `rec` breaks an invariant of [`SyncSession::validate`]; nothing is appended.
pub fn put_record(out: &mut Vec<u8>, rec: &SyncSession) -> Result<(), RecordError> {
    rec.validate()?;
    let af = u8::from(rec.front_v6())
        | (u8::from(rec.back_v6()) << 1)
        | (u8::from(rec.local.is_some()) << 2)
        | (u8::from(rec.template.is_some()) << 3)
        | (u8::from(rec.client_hop.is_some()) << 4)
        | if rec.proxy.is_some() { AF_PROXY } else { 0 }
        | if rec.synproxy.is_some() { AF_EXT } else { 0 };
    out.extend_from_slice(&[
        match rec.op {
            SyncOp::Update => 1,
            SyncOp::Delete => 2,
            SyncOp::Expire => 3,
        },
        rec.proto.number(),
        method_code(rec.method),
        rec.tcp_state as u8,
        af,
        rec.template.unwrap_or(0),
        rec.flags,
        0,
    ]);
    out.extend_from_slice(&rec.timeout_s.to_be_bytes());
    put_addr(out, rec.client);
    put_addr(out, rec.vip);
    if let Some(l) = rec.local {
        put_addr(out, l);
    }
    put_addr(out, rec.backend);
    if let Some(h) = rec.client_hop {
        out.extend_from_slice(&h.port.to_be_bytes());
        out.extend_from_slice(&h.mac);
    }
    if let Some(p) = rec.proxy {
        // validate() held the length below 128.
        out.push((p.len & 0x7f) as u8 | if p.v2 { 0x80 } else { 0 });
        out.extend_from_slice(&p.isn1.to_be_bytes());
    }
    if let Some(st) = rec.synproxy {
        out.extend_from_slice(&[
            (SYNPROXY_BLOCK_LEN - 1) as u8,
            EXT_SYNPROXY,
            SYNPROXY_LEN as u8,
        ]);
        out.extend_from_slice(&st.seq.to_be_bytes());
        out.extend_from_slice(&st.ts.to_be_bytes());
        out.extend_from_slice(&st.client_isn.to_be_bytes());
        out.extend_from_slice(&st.mss.to_be_bytes());
        out.extend_from_slice(&[st.opts, st.ws]);
    }
    Ok(())
}

/// Encode a body of type `kind` (not `Data`, whose records are packed with [`put_record`]
/// after [`data_prefix`]).
pub fn put_body(out: &mut Vec<u8>, body: &Body) -> Result<(), RecordError> {
    match body {
        Body::Data {
            first_queued_us,
            records,
        } => {
            let count = u16::try_from(records.len()).unwrap_or(u16::MAX);
            data_prefix(out, *first_queued_us, count);
            for r in records.iter().take(usize::from(count)) {
                put_record(out, r)?;
            }
        }
        Body::Ack | Body::Hello => {}
        Body::Nack { ranges } => {
            let n = ranges.len().min(MAX_NACK_RANGES);
            out.push(u8::try_from(n).unwrap_or(0));
            for (a, b) in &ranges[..n] {
                out.extend_from_slice(&a.to_be_bytes());
                out.extend_from_slice(&b.to_be_bytes());
            }
        }
        Body::ResyncRequest { req_id } => out.extend_from_slice(&req_id.to_be_bytes()),
        Body::ResyncDone { req_id, records } => {
            out.extend_from_slice(&req_id.to_be_bytes());
            out.extend_from_slice(&records.to_be_bytes());
        }
    }
    Ok(())
}

/// Append a data body's fixed part.
pub fn data_prefix(out: &mut Vec<u8>, first_queued_us: u64, count: u16) {
    out.extend_from_slice(&first_queued_us.to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
}

/// Write a whole datagram: `header` (its length field computed), `body`, and the MAC of
/// `auth`, replacing the contents of `out`.
///
/// # Errors
///
/// The datagram would exceed 65535 bytes; `out` is left empty.
pub fn seal(out: &mut Vec<u8>, h: &Header, body: &[u8], auth: &Auth) -> Result<(), WireError> {
    out.clear();
    let total = OVERHEAD + body.len();
    let Ok(len16) = u16::try_from(total) else {
        return Err(WireError::Length {
            declared: total,
            actual: total,
        });
    };
    out.reserve(total);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&[VERSION, h.kind as u8, h.syncid, h.flags]);
    out.extend_from_slice(&len16.to_be_bytes());
    out.extend_from_slice(&h.sender.to_be_bytes());
    for v in [h.epoch, h.peer_epoch, h.seq, h.ack, h.ts_us] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(body);
    let mac = auth.sign(out);
    out.extend_from_slice(&mac);
    Ok(())
}

/// Parse a whole datagram: header, MAC (when `auth` is given; `None` skips it, for tests and
/// the fuzzer), body.
///
/// # Errors
///
/// The first problem found, in that order.
pub fn decode(dgram: &[u8], auth: Option<&Auth>) -> Result<Message, WireError> {
    let header = parse_header(dgram)?;
    if let Some(a) = auth {
        if !a.verify(dgram) {
            return Err(WireError::Hmac);
        }
    }
    let body = parse_body(header.kind, body_of(dgram))?;
    Ok(Message { header, body })
}

#[cfg(test)]
mod tests;
