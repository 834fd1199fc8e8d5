//! The session slab, its two-direction index and its timer wheel.
//!
//! Contract: see the module above. In short: fixed capacity, no allocation after
//! [`SessionTable::with_capacity`], both directions indexed, IPVS states and timeouts, bounded
//! expiry work per call, [`InsertError::TableFull`] leaves existing sessions alone.
//!
//! Record layout ([`Session`], `#[repr(C, align(64))]`): the inbound key first, the reply key
//! after the timer and index fields, so that an IPv6 record (two lines) has each direction's
//! key in a line of its own and a lookup, which compares only the key of the direction its
//! index entry names, reads one bucket line and one record line. An IPv4 record is one line.
//!
//! ```text
//! IPv4  IPv6  size  field
//!    0     0  4/16  client
//!    4    16  4/16  vip
//!    8    32   2+2  cport, vport                  (host order)
//!   12    36     1  proto, 13/37 method, 14/38 state, 15/39 flags (pipeline bits),
//!                   16/40 sys (table bits), 17/41 backend_port, 18/42 client_port (PortIdx,
//!                   egress for each direction), 19/43 proxy (PROXY header length; top bit v2)
//!   20    44     4  expires                       (second at which it dies unless refreshed)
//!   24    48     4  armed                         (timer-wheel tick it is linked under)
//!   28    52     4  next                          (timer-wheel link; free-list link when free)
//!   32    56     4  prev                          (timer-wheel link)
//!   36    60     2  service                       (ServiceIdx)
//!   38    62     2  backend_idx                   (BackendIdx)
//!   -- IPv6: second line --
//!   40    64  4/16  backend
//!   44    80  4/16  laddr
//!   48    96   2+2  bport, lport
//!    -   100   0/1  reply_proto                   (IPv6 only: proto beside the reply key)
//!   52   101     6  next_hop_mac                  (towards the backend)
//!   58   107     6  client_mac                    (towards the client)
//!   64   113        end (IPv6: 15 bytes of padding to 128)
//! ```

use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};

use super::hash::HashSeed;
use super::index::Index;
use super::tcp::{tcp_transition, TcpDir, TcpFlags, TcpState, Timeouts};
use super::timer::{TimerNode, Wheel, NIL};
use super::{Direction, FwdMethod, SessionAddr};
use crate::types::{BackendIdx, FlowKey, L4Proto, PortIdx, ServiceIdx};

/// Largest supported capacity: slots are 31-bit (the index keeps the direction in bit 31) and
/// `u32::MAX` is reserved for "none".
pub const MAX_CAPACITY: usize = (1 << 31) - 1;

/// `sys` bit: the record holds a live session.
const SYS_LIVE: u8 = 1 << 0;
/// `sys` bit: no reply seen on a DR/TUN connection (IPVS `IP_VS_CONN_F_NOOUTPUT`): TCP uses the
/// INPUT-ONLY table until a reply shows up.
const SYS_NO_OUTPUT: u8 = 1 << 1;

/// `sys` bit: a packet travelled the reply direction (NAT/FullNAT UDP: the flow is answered,
/// so not embryonic; TCP tracks the same through its state).
const SYS_REPLIED: u8 = 1 << 2;

/// Index value bit for the reply direction.
const DIR_BIT: u32 = 1 << 31;

/// A session record: everything needed to forward both directions without the config snapshot.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(C, align(64))]
pub struct Session<A: SessionAddr> {
    // The inbound key: the IPv6 record's first line.
    client: A,
    vip: A,
    cport: u16,
    vport: u16,
    proto: L4Proto,
    method: FwdMethod,
    state: TcpState,
    /// Pipeline-owned flag bits ([`Session::FLAG_TOA_SENT`], [`Session::FLAG_REPLY_SEEN`], ...).
    pub flags: u8,
    sys: u8,
    /// Egress port towards the backend.
    pub backend_port: PortIdx,
    /// Egress port towards the client (for replies; NAT and FullNAT).
    pub client_port: PortIdx,
    /// PROXY protocol sessions: the header's length, top bit set for v2 (see [`ProxyState`]).
    proxy: u8,
    expires: u32,
    armed: u32,
    next: u32,
    prev: u32,
    service: ServiceIdx,
    backend_idx: BackendIdx,
    // The reply key: the IPv6 record's second line.
    backend: A,
    laddr: A,
    bport: u16,
    lport: u16,
    /// The protocol again, beside the reply key (IPv6), or nothing (IPv4: one line).
    reply_proto: A::ProtoCopy,
    /// Destination MAC of the next hop towards the backend.
    pub next_hop_mac: [u8; 6],
    /// Destination MAC towards the client: the source MAC of the client's first packet (the
    /// router, or the client on a shared LAN), so replies need no route lookup.
    pub client_mac: [u8; 6],
}

/// An IPv4 session record: one 64-byte cache line.
pub type Session4 = Session<Ipv4Addr>;
/// An IPv6 session record: two cache lines.
pub type Session6 = Session<Ipv6Addr>;

const _: () = assert!(core::mem::size_of::<Session4>() == 64);
const _: () = assert!(core::mem::align_of::<Session4>() == 64);
const _: () = assert!(core::mem::size_of::<Session6>() == 128);
const _: () = assert!(core::mem::align_of::<Session6>() == 64);
// A lookup compares the key of the direction the index entry names, and reads no other line:
// IPv6's inbound key in the first line, its reply key in the second.
const _: () = assert!(core::mem::offset_of!(Session6, proto) < 64);
const _: () = assert!(core::mem::offset_of!(Session6, backend) == 64);

impl<A: SessionAddr> fmt::Debug for Session<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("proto", &self.proto)
            .field("method", &self.method)
            .field("client", &(self.client, self.cport))
            .field("vip", &(self.vip, self.vport))
            .field("backend", &(self.backend, self.bport))
            .field("laddr", &(self.laddr, self.lport))
            .field("state", &self.state_name())
            .field("expires", &self.expires)
            .field("service", &self.service)
            .field("backend_idx", &self.backend_idx)
            .field("flags", &self.flags)
            .finish_non_exhaustive()
    }
}

impl<A: SessionAddr> Session<A> {
    /// Pipeline flag: the TOA option has been inserted (FullNAT).
    pub const FLAG_TOA_SENT: u8 = 1 << 0;
    /// Pipeline flag: a reply from the backend has been seen.
    pub const FLAG_REPLY_SEEN: u8 = 1 << 1;
    /// Pipeline flag: a session-sync redirect stub, not a connection: it holds the inbound key
    /// of a synced flow whose session lives on another worker, whose id is in
    /// [`Session::backend_idx`] (see `crate::sync`).
    pub const FLAG_SYNC_STUB: u8 = 1 << 2;
    /// Pipeline flag: a synced session whose client side ([`Session::client_port`],
    /// [`Session::client_mac`]) is not known yet: learnt from its first client packet here.
    pub const FLAG_CLIENT_UNKNOWN: u8 = 1 << 3;
    /// Pipeline flag: a PROXY protocol session (NAT/FullNAT TCP): its [`ProxyState`] is valid,
    /// and the client's sequence numbers are shifted by the header's length towards the server.
    pub const FLAG_PROXY: u8 = 1 << 4;
    /// Pipeline flag: the server has acknowledged the whole PROXY header (no more insertion).
    pub const FLAG_PROXY_ACKED: u8 = 1 << 5;
    /// Pipeline flag: a SYN proxy session (NAT/FullNAT TCP): its [`SynProxyState`] is valid.
    pub const FLAG_SYNPROXY: u8 = 1 << 6;
    /// Pipeline flag: the SYN proxy's server leg is open (the server's SYN-ACK came): sequence
    /// numbers, timestamps and windows are translated from then on.
    pub const FLAG_SYNPROXY_OPEN: u8 = 1 << 7;

    const FREE: Self = Self {
        client: A::UNSPECIFIED,
        vip: A::UNSPECIFIED,
        cport: 0,
        vport: 0,
        proto: L4Proto::Tcp,
        method: FwdMethod::Dr,
        state: TcpState::None,
        flags: 0,
        sys: 0,
        backend_port: 0,
        client_port: 0,
        proxy: 0,
        expires: 0,
        armed: 0,
        next: NIL,
        prev: NIL,
        service: ServiceIdx::new(0),
        backend_idx: BackendIdx::new(0),
        backend: A::UNSPECIFIED,
        laddr: A::UNSPECIFIED,
        bport: 0,
        lport: 0,
        reply_proto: A::PROTO_COPY_TCP,
        next_hop_mac: [0; 6],
        client_mac: [0; 6],
    };

    /// Client address.
    pub const fn client(&self) -> A {
        self.client
    }
    /// Client port.
    pub const fn cport(&self) -> u16 {
        self.cport
    }
    /// Virtual service address.
    pub const fn vip(&self) -> A {
        self.vip
    }
    /// Virtual service port.
    pub const fn vport(&self) -> u16 {
        self.vport
    }
    /// Backend (real server) address.
    pub const fn backend(&self) -> A {
        self.backend
    }
    /// Backend port.
    pub const fn bport(&self) -> u16 {
        self.bport
    }
    /// Address the backend replies to: the local address (FullNAT) or the client (NAT).
    pub const fn laddr(&self) -> A {
        self.laddr
    }
    /// Port the backend replies to: the local port (FullNAT) or the client port (NAT).
    pub const fn lport(&self) -> u16 {
        self.lport
    }
    /// Transport protocol.
    pub const fn proto(&self) -> L4Proto {
        self.proto
    }
    /// Forwarding method.
    pub const fn method(&self) -> FwdMethod {
        self.method
    }
    /// TCP state (`None` for UDP sessions).
    pub const fn state(&self) -> TcpState {
        self.state
    }
    /// Virtual service index.
    pub const fn service(&self) -> ServiceIdx {
        self.service
    }
    /// Backend index.
    pub const fn backend_idx(&self) -> BackendIdx {
        self.backend_idx
    }
    /// Second at which the session expires unless refreshed.
    pub const fn expires(&self) -> u32 {
        self.expires
    }
    /// Whether it has expired at `now` (it may still be in the table until `expire` runs).
    pub const fn is_expired(&self, now: u32) -> bool {
        self.expires <= now
    }
    /// Whether it is a session-sync redirect stub ([`Session::FLAG_SYNC_STUB`]).
    #[inline(always)]
    pub const fn is_sync_stub(&self) -> bool {
        self.flags & Self::FLAG_SYNC_STUB != 0
    }
    /// Whether IPVS counts it as ActiveConn (an ESTABLISHED TCP connection).
    pub const fn is_active(&self) -> bool {
        matches!(self.proto, L4Proto::Tcp) && self.state.is_active()
    }
    /// The state column of `ipvsadm -L -c`: the TCP state name, or `UDP`.
    pub const fn state_name(&self) -> &'static str {
        match self.proto {
            L4Proto::Tcp => self.state.name(),
            L4Proto::Udp => "UDP",
        }
    }
    /// The key of packets travelling `dir`: client -> vip, or backend -> laddr.
    #[inline]
    pub fn key(&self, dir: Direction) -> FlowKey<A> {
        match dir {
            Direction::Inbound => {
                A::flow_key(self.client, self.cport, self.vip, self.vport, self.proto)
            }
            Direction::Reply => {
                A::flow_key(self.backend, self.bport, self.laddr, self.lport, self.proto)
            }
        }
    }

    /// Whether `key` is this session's key in direction `dir`, reading only the fields of that
    /// key: for IPv6 the one cache line that holds it.
    #[inline(always)]
    fn has_key(&self, dir: Direction, key: &FlowKey<A>) -> bool {
        match dir {
            Direction::Inbound => {
                self.cport == key.sport
                    && self.vport == key.dport
                    && self.client == key.src
                    && self.vip == key.dst
                    && self.proto == key.proto
            }
            Direction::Reply => {
                self.bport == key.sport
                    && self.lport == key.dport
                    && self.backend == key.src
                    && self.laddr == key.dst
                    && A::reply_proto(self.reply_proto, self.proto) == key.proto
            }
        }
    }

    #[inline(always)]
    const fn is_live(&self) -> bool {
        self.sys & SYS_LIVE != 0
    }

    /// Whether the session is embryonic, the first to go when the table is full: a TCP
    /// connection whose handshake has not completed (SYN_RECV, SYN_SENT), or a NAT/FullNAT UDP
    /// flow that never got a reply. DR/TUN UDP never shows its replies, so it never counts;
    /// session-sync stubs stand for a session elsewhere and never count either.
    pub const fn is_embryonic(&self) -> bool {
        if self.is_sync_stub() {
            return false;
        }
        match self.proto {
            L4Proto::Tcp => matches!(self.state, TcpState::SynRecv | TcpState::SynSent),
            L4Proto::Udp => self.method.sees_replies() && self.sys & SYS_REPLIED == 0,
        }
    }

    /// Whether a full table may give it up for a new flow: an embryonic session, or a TCP one
    /// whose connection has ended (TIME_WAIT, CLOSE: kept only to absorb stray segments).
    /// Established and half-closed connections (FIN_WAIT, CLOSE_WAIT, LAST_ACK) never are.
    pub const fn is_evictable(&self) -> bool {
        self.is_embryonic()
            || (matches!(self.proto, L4Proto::Tcp)
                && !self.is_sync_stub()
                && matches!(self.state, TcpState::TimeWait | TcpState::Close))
    }
}

impl<A: SessionAddr> TimerNode for Session<A> {
    #[inline(always)]
    fn expires(&self) -> u32 {
        self.expires
    }
    #[inline(always)]
    fn armed(&self) -> u32 {
        self.armed
    }
    #[inline(always)]
    fn set_armed(&mut self, tick: u32) {
        self.armed = tick;
    }
    #[inline(always)]
    fn next(&self) -> u32 {
        self.next
    }
    #[inline(always)]
    fn set_next(&mut self, n: u32) {
        self.next = n;
    }
    #[inline(always)]
    fn prev(&self) -> u32 {
        self.prev
    }
    #[inline(always)]
    fn set_prev(&mut self, p: u32) {
        self.prev = p;
    }
}

/// What the pipeline knows when it creates a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewSession<A> {
    /// Client address and port.
    pub client: A,
    /// Client port.
    pub cport: u16,
    /// Virtual service address.
    pub vip: A,
    /// Virtual service port.
    pub vport: u16,
    /// Backend address.
    pub backend: A,
    /// Backend port.
    pub bport: u16,
    /// Address the backend replies to: the local address for FullNAT, the client for NAT;
    /// ignored (not indexed) for DR and TUN.
    pub laddr: A,
    /// Port the backend replies to: the local port for FullNAT, the client port for NAT.
    pub lport: u16,
    /// Transport protocol.
    pub proto: L4Proto,
    /// Forwarding method.
    pub method: FwdMethod,
    /// Initial TCP state, normally `tcp_transition(TcpState::None, dir, flags)` of the first
    /// packet (SYN_RECV for a SYN); ignored for UDP.
    pub state: TcpState,
    /// Virtual service index.
    pub service: ServiceIdx,
    /// Backend index.
    pub backend_idx: BackendIdx,
    /// Next-hop MAC towards the backend.
    pub next_hop_mac: [u8; 6],
    /// Egress port towards the backend.
    pub backend_port: PortIdx,
    /// Egress port towards the client.
    pub client_port: PortIdx,
    /// Destination MAC towards the client.
    pub client_mac: [u8; 6],
    /// Initial pipeline flags.
    pub flags: u8,
}

/// A slot in the session slab; valid until the session is removed or expires (then reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotId(u32);

impl SlotId {
    /// The slot number (0-based, below the capacity).
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// Why a session was not created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsertError {
    /// Every slot is in use: drop the new flow and count it.
    TableFull,
    /// A session with the same key already exists in this direction.
    Duplicate(Direction),
    /// The index found no room for a key (not expected below 50% load; count like TableFull).
    IndexFull,
}

impl fmt::Display for InsertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InsertError::TableFull => f.write_str("session table full"),
            InsertError::Duplicate(Direction::Inbound) => {
                f.write_str("a session with this inbound key exists")
            }
            InsertError::Duplicate(Direction::Reply) => {
                f.write_str("a session with this reply key exists")
            }
            InsertError::IndexFull => f.write_str("session index full"),
        }
    }
}

impl std::error::Error for InsertError {}

/// A TCP state transition, for the caller's ActiveConn/InActConn bookkeeping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateChange {
    /// State before the packet.
    pub old: TcpState,
    /// State after the packet.
    pub new: TcpState,
}

impl StateChange {
    /// Whether the session moved between ActiveConn and InActConn.
    pub const fn activity_changed(&self) -> bool {
        self.old.is_active() != self.new.is_active()
    }
}

/// What a PROXY protocol session needs: the client's first data sequence number (its SYN's + 1),
/// where the header goes, and the header's length, by which the client's sequence numbers move
/// towards the server. The length and version take the record's last byte (it was padding);
/// the sequence number a slot-indexed side array of `u32` (4 bytes a slot: the IPv4 record is
/// a full cache line), which sessions without PROXY never touch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ProxyState {
    /// The client's initial sequence number + 1.
    pub isn1: u32,
    /// The header's length in bytes (v1 at most 107, v2 28 or 52).
    pub len: u16,
    /// Version 2 (binary) rather than 1 (text): fixed at the SYN, whatever reloads do.
    pub v2: bool,
}

/// What a SYN proxy session needs ([`Session::FLAG_SYNPROXY`]; `crate::forward::synproxy`):
/// a slot-indexed side array of 16 bytes, which other sessions never touch. While the server
/// leg opens it holds what the cookie said; once the server's SYN-ACK came, the deltas.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SynProxyState {
    /// Opening: our ISN towards the client (the cookie). Open: server ISN - cookie, added to
    /// the client's acknowledgements and taken from the server's sequence numbers.
    pub seq: u32,
    /// Opening: our TSval in the SYN-ACK (0: no timestamps). Open: server TSval - ours.
    pub ts: u32,
    /// The client's ISN (its SYN's sequence number).
    pub client_isn: u32,
    /// The client's MSS (as the cookie rounded it).
    pub mss: u16,
    /// Bits 0-3: the client's window scale (15: none); bit 4: SACK permitted; bit 5:
    /// timestamps.
    pub opts: u8,
    /// High nibble: the window scale we advertised to the client; low nibble: the server's.
    pub ws: u8,
}

/// A per-worker session table of fixed capacity.
#[derive(Clone)]
pub struct SessionTable<A: SessionAddr> {
    slab: Vec<Session<A>>,
    /// Per slot: [`ProxyState::isn1`] (valid while the record has [`Session::FLAG_PROXY`]).
    proxy_isn1: Vec<u32>,
    /// Per slot: [`SynProxyState`] (valid while the record has [`Session::FLAG_SYNPROXY`]);
    /// empty until a configuration first enables the SYN proxy ([`Self::enable_synproxy`]), so
    /// gateways without it pay no memory for it.
    synproxy: Vec<SynProxyState>,
    index: Index,
    wheel: Wheel,
    seed: HashSeed,
    timeouts: Timeouts,
    free: u32,
    len: usize,
    /// Where the next eviction probe starts (a clock hand over the slab).
    evict_hand: u32,
}

/// The IPv4 session table.
pub type SessionTable4 = SessionTable<Ipv4Addr>;
/// The IPv6 session table.
pub type SessionTable6 = SessionTable<Ipv6Addr>;

impl<A: SessionAddr> fmt::Debug for SessionTable<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionTable")
            .field("len", &self.len)
            .field("capacity", &self.slab.len())
            .field("index", &self.index)
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

impl<A: SessionAddr> SessionTable<A> {
    /// A table for `capacity` sessions, allocating all its memory now, with IPVS's default
    /// timeouts.
    ///
    /// # Panics
    /// If `capacity` exceeds [`MAX_CAPACITY`].
    pub fn with_capacity(capacity: usize, seed: HashSeed) -> Self {
        assert!(
            capacity <= MAX_CAPACITY,
            "session capacity {capacity} too large"
        );
        let slab: Vec<Session<A>> = (0..capacity)
            .map(|i| Session {
                next: if i + 1 < capacity { i as u32 + 1 } else { NIL },
                ..Session::FREE
            })
            .collect();
        Self {
            slab,
            proxy_isn1: vec![0; capacity],
            synproxy: Vec::new(),
            index: Index::with_entries(2 * capacity),
            wheel: Wheel::new(),
            seed,
            timeouts: Timeouts::DEFAULT,
            free: if capacity > 0 { 0 } else { NIL },
            len: 0,
            evict_hand: 0,
        }
    }

    /// Live sessions.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no sessions.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Maximum number of sessions.
    pub fn capacity(&self) -> usize {
        self.slab.len()
    }

    /// Exact bytes allocated: the slab, the index buckets and the timer-wheel heads.
    pub fn memory_bytes(&self) -> usize {
        self.slab.capacity() * core::mem::size_of::<Session<A>>()
            + self.proxy_isn1.capacity() * core::mem::size_of::<u32>()
            + self.synproxy.capacity() * core::mem::size_of::<SynProxyState>()
            + self.index.memory_bytes()
            + self.wheel.memory_bytes()
    }

    /// Where the slab starts in memory (to check what pages it is on: huge pages or not).
    pub fn slab_addr(&self) -> usize {
        self.slab.as_ptr() as usize
    }

    /// The timeouts in force.
    pub fn timeouts(&self) -> &Timeouts {
        &self.timeouts
    }

    /// Replace the timeouts (`ipvsadm --set`); sessions pick them up at their next packet.
    pub fn set_timeouts(&mut self, timeouts: Timeouts) {
        self.timeouts = timeouts;
    }

    /// Hash a flow key; pair with [`Self::prefetch`] and [`Self::lookup_hashed`] over a burst.
    #[inline]
    pub fn hash(&self, key: &FlowKey<A>) -> u64 {
        A::hash_key(&self.seed, key)
    }

    /// Start loading the index bucket for `hash` (call for a burst before the lookups).
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        self.index.prefetch(hash);
    }

    /// Start loading the session record the index bucket for `hash` points at (its first
    /// signature match): call after [`Self::prefetch`] for the burst, when the bucket's line is
    /// on its way, so the record's miss overlaps with the others too.
    #[inline]
    pub fn prefetch_record(&self, hash: u64) {
        if let Some(v) = self.index.candidate(hash) {
            if let Some(s) = self.slab.get((v & !DIR_BIT) as usize) {
                // The line the lookup compares first, then (IPv6) the other, which forwarding
                // reads: the two misses overlap.
                let (key_line, other) = match dir_of(v) {
                    Direction::Inbound => (&s.cport, &s.bport),
                    Direction::Reply => (&s.bport, &s.cport),
                };
                super::prefetch::line(key_line);
                if core::mem::size_of::<Session<A>>() > 64 {
                    super::prefetch::line(other);
                }
            }
        }
    }

    /// Find the session a packet with `key` belongs to, and which way it travels.
    #[inline]
    pub fn lookup(&self, key: &FlowKey<A>) -> Option<(SlotId, Direction)> {
        self.lookup_hashed(self.hash(key), key)
    }

    /// [`Self::lookup`] with the hash already computed by [`Self::hash`].
    #[inline]
    pub fn lookup_hashed(&self, hash: u64, key: &FlowKey<A>) -> Option<(SlotId, Direction)> {
        let slab = &self.slab;
        self.index
            .find(hash, |v| {
                slab[(v & !DIR_BIT) as usize].has_key(dir_of(v), key)
            })
            .map(|v| (SlotId(v & !DIR_BIT), dir_of(v)))
    }

    /// The session in `slot`, if live.
    #[inline]
    pub fn get(&self, slot: SlotId) -> Option<&Session<A>> {
        self.slab.get(slot.index()).filter(|s| s.is_live())
    }

    /// The session in `slot` for changing its pipeline fields, if live.
    #[inline]
    pub fn get_mut(&mut self, slot: SlotId) -> Option<&mut Session<A>> {
        self.slab.get_mut(slot.index()).filter(|s| s.is_live())
    }

    /// The PROXY protocol state of `slot` (meaningful only with [`Session::FLAG_PROXY`]).
    #[inline]
    pub fn proxy(&self, slot: SlotId) -> ProxyState {
        self.proxy_at(slot.index())
    }

    /// [`Self::proxy`] by slot number (for walks over [`Self::get_at`]).
    #[inline]
    pub fn proxy_at(&self, index: usize) -> ProxyState {
        let b = self.slab.get(index).map_or(0, |s| s.proxy);
        ProxyState {
            isn1: self.proxy_isn1.get(index).copied().unwrap_or(0),
            len: u16::from(b & 0x7f),
            v2: b & 0x80 != 0,
        }
    }

    /// Set the PROXY protocol state of `slot` (the caller sets [`Session::FLAG_PROXY`]).
    #[inline]
    /// `st.len` must be below 128 (PROXY headers are at most 107 bytes).
    pub fn set_proxy(&mut self, slot: SlotId, st: ProxyState) {
        if let (Some(s), Some(i)) = (
            self.slab.get_mut(slot.index()),
            self.proxy_isn1.get_mut(slot.index()),
        ) {
            debug_assert!(st.len < 0x80);
            s.proxy = (st.len & 0x7f) as u8 | if st.v2 { 0x80 } else { 0 };
            *i = st.isn1;
        }
    }

    /// Allocate the SYN proxy's side array (16 bytes a slot), once: the worker calls it when a
    /// snapshot first has a SYN-proxied service (an allocation per configuration change, not
    /// per packet).
    pub fn enable_synproxy(&mut self) {
        if self.synproxy.is_empty() {
            self.synproxy = vec![SynProxyState::default(); self.slab.len()];
        }
    }

    /// Whether [`Self::enable_synproxy`] ran.
    pub fn synproxy_enabled(&self) -> bool {
        !self.synproxy.is_empty() || self.slab.is_empty()
    }

    /// The SYN proxy state of `slot` (meaningful only with [`Session::FLAG_SYNPROXY`]).
    #[inline]
    pub fn synproxy(&self, slot: SlotId) -> SynProxyState {
        self.synproxy.get(slot.index()).copied().unwrap_or_default()
    }

    /// The SYN proxy state of the session at slab position `index` (for a walk, as
    /// [`Self::get_at`]; meaningful only with [`Session::FLAG_SYNPROXY`]).
    #[inline]
    pub fn synproxy_at(&self, index: usize) -> SynProxyState {
        self.synproxy.get(index).copied().unwrap_or_default()
    }

    /// Set the SYN proxy state of `slot` (the caller sets [`Session::FLAG_SYNPROXY`]).
    #[inline]
    pub fn set_synproxy(&mut self, slot: SlotId, st: SynProxyState) {
        if let Some(x) = self.synproxy.get_mut(slot.index()) {
            *x = st;
        }
    }

    /// The second (mod 256) the SYN proxy last sent the server its SYN (the record's PROXY
    /// byte: PROXY and the SYN proxy never share a session).
    #[inline]
    pub fn synproxy_syn_at(&self, slot: SlotId) -> u8 {
        self.slab.get(slot.index()).map_or(0, |s| s.proxy)
    }

    /// Note the second (mod 256) the SYN proxy sent the server its SYN.
    #[inline]
    pub fn set_synproxy_syn_at(&mut self, slot: SlotId, at: u8) {
        if let Some(s) = self.slab.get_mut(slot.index()) {
            s.proxy = at;
        }
    }

    /// The pipeline flags of the session in `slot` (a slot a lookup just returned: one load).
    #[inline(always)]
    pub fn flags(&self, slot: SlotId) -> u8 {
        self.slab.get(slot.index()).map_or(0, |s| s.flags)
    }

    /// The session in slab position `index`, if live: a resumable walk over the table in
    /// bounded steps (positions `0..capacity`), as the session-sync dump does.
    #[inline]
    pub fn get_at(&self, index: usize) -> Option<&Session<A>> {
        self.slab.get(index).filter(|s| s.is_live())
    }

    /// Iterate over the live sessions (for `ipvsadm -L -c`; walks the whole slab).
    pub fn iter(&self) -> impl Iterator<Item = (SlotId, &Session<A>)> + '_ {
        self.slab
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_live())
            .map(|(i, s)| (SlotId(i as u32), s))
    }

    /// Create a session at `now`, indexed in both directions (one for DR and TUN).
    ///
    /// # Errors
    /// [`InsertError::TableFull`] when every slot is used; [`InsertError::Duplicate`] when a
    /// session already has one of the keys; [`InsertError::IndexFull`] when the index found no
    /// room (not expected at the sizing used). The table is unchanged on error.
    pub fn insert(&mut self, now: u32, new: &NewSession<A>) -> Result<SlotId, InsertError> {
        if self.free == NIL {
            return Err(InsertError::TableFull);
        }
        let in_key = A::flow_key(new.client, new.cport, new.vip, new.vport, new.proto);
        let h_in = self.hash(&in_key);
        if self.lookup_hashed(h_in, &in_key).is_some() {
            return Err(InsertError::Duplicate(Direction::Inbound));
        }
        self.insert_new(now, new, &in_key, h_in)
    }

    /// [`Self::insert`] for a new flow whose inbound key the caller has just looked up, under
    /// `h_in` (its [`Self::hash`]), and not found, with nothing inserted since: a new flow
    /// then pays one inbound lookup, not two.
    ///
    /// # Errors
    /// As [`Self::insert`]; never [`InsertError::Duplicate`] for the inbound key.
    pub fn insert_absent(
        &mut self,
        now: u32,
        new: &NewSession<A>,
        h_in: u64,
    ) -> Result<SlotId, InsertError> {
        if self.free == NIL {
            return Err(InsertError::TableFull);
        }
        let in_key = A::flow_key(new.client, new.cport, new.vip, new.vport, new.proto);
        debug_assert_eq!(h_in, self.hash(&in_key), "insert_absent: the key's hash");
        debug_assert!(
            self.lookup_hashed(h_in, &in_key).is_none(),
            "insert_absent: the inbound key is indexed"
        );
        self.insert_new(now, new, &in_key, h_in)
    }

    /// The shared rest of [`Self::insert`] and [`Self::insert_absent`]: a free slot exists and
    /// `in_key` (under `h_in`) is not indexed.
    #[inline(always)]
    fn insert_new(
        &mut self,
        now: u32,
        new: &NewSession<A>,
        in_key: &FlowKey<A>,
        h_in: u64,
    ) -> Result<SlotId, InsertError> {
        let replies = new.method.sees_replies();
        let mut h_out = 0;
        if replies {
            let out_key = A::flow_key(new.backend, new.bport, new.laddr, new.lport, new.proto);
            h_out = self.hash(&out_key);
            if out_key == *in_key || self.lookup_hashed(h_out, &out_key).is_some() {
                return Err(InsertError::Duplicate(Direction::Reply));
            }
        }

        let slot = self.free;
        if !self.index.insert(h_in, slot) {
            return Err(InsertError::IndexFull);
        }
        if replies && !self.index.insert(h_out, slot | DIR_BIT) {
            self.index.remove(h_in, slot);
            return Err(InsertError::IndexFull);
        }
        if self.len == 0 {
            self.wheel.skip_idle(now);
        }
        let rec = &mut self.slab[slot as usize];
        self.free = rec.next;
        let state = match new.proto {
            L4Proto::Tcp => new.state,
            L4Proto::Udp => TcpState::None,
        };
        *rec = Session {
            client: new.client,
            vip: new.vip,
            cport: new.cport,
            vport: new.vport,
            proto: new.proto,
            method: new.method,
            state,
            flags: new.flags,
            sys: SYS_LIVE | if replies { 0 } else { SYS_NO_OUTPUT },
            backend_port: new.backend_port,
            client_port: new.client_port,
            proxy: 0,
            expires: 0,
            armed: 0,
            next: NIL,
            prev: NIL,
            service: new.service,
            backend_idx: new.backend_idx,
            backend: new.backend,
            laddr: if replies { new.laddr } else { A::UNSPECIFIED },
            bport: new.bport,
            lport: if replies { new.lport } else { 0 },
            reply_proto: A::proto_copy(new.proto),
            next_hop_mac: new.next_hop_mac,
            client_mac: new.client_mac,
        };
        let s = &mut self.slab[slot as usize];
        s.expires = now.saturating_add(self.timeouts.of(s.proto, s.state));
        self.wheel.link(&mut self.slab, slot);
        self.len += 1;
        Ok(SlotId(slot))
    }

    /// Refresh the session's expiry to `now` + the timeout of its state; false if not live.
    #[inline]
    pub fn touch(&mut self, slot: SlotId, now: u32) -> bool {
        let Some(s) = self.slab.get_mut(slot.index()).filter(|s| s.is_live()) else {
            return false;
        };
        s.expires = now.saturating_add(self.timeouts.of(s.proto, s.state));
        // Lazy re-arm: a later expiry is picked up when the wheel reaches the old tick; an
        // earlier one (state moved to a shorter timeout) must be re-linked now.
        self.wheel.rearm_if_earlier(&mut self.slab, slot.0);
        true
    }

    /// [`Self::touch`] for a packet travelling `dir`: a reply marks the session answered (a UDP
    /// flow with a reply is no longer embryonic, [`Session::is_embryonic`]).
    #[inline]
    pub fn touch_from(&mut self, slot: SlotId, now: u32, dir: Direction) -> bool {
        if dir == Direction::Reply {
            if let Some(s) = self.slab.get_mut(slot.index()) {
                s.sys |= SYS_REPLIED;
            }
        }
        self.touch(slot, now)
    }

    /// Run a TCP segment through the state machine and refresh the expiry for the new state.
    ///
    /// `dir` is the packet's direction; DR and TUN sessions use the INPUT-ONLY table until a
    /// reply is seen (IPVS `IP_VS_CONN_F_NOOUTPUT`). Returns `None` if the slot is not live.
    /// For UDP sessions this is [`Self::touch`] and reports no change.
    ///
    /// Inlined, and the record looked up once: every established TCP packet comes here, and
    /// only a move to a shorter timeout leaves the inlined part (the wheel's re-link).
    #[inline]
    pub fn update_tcp_state(
        &mut self,
        slot: SlotId,
        now: u32,
        dir: Direction,
        flags: TcpFlags,
    ) -> Option<StateChange> {
        let s = self.slab.get_mut(slot.index()).filter(|s| s.is_live())?;
        let old = s.state;
        if s.proto == L4Proto::Tcp {
            let tcp_dir = match dir {
                Direction::Reply => {
                    s.sys &= !SYS_NO_OUTPUT;
                    TcpDir::Output
                }
                Direction::Inbound if s.sys & SYS_NO_OUTPUT != 0 => TcpDir::InputOnly,
                Direction::Inbound => TcpDir::Input,
            };
            s.state = tcp_transition(old, tcp_dir, flags);
        }
        let new = s.state;
        s.expires = now.saturating_add(self.timeouts.of(s.proto, new));
        self.wheel.rearm_if_earlier(&mut self.slab, slot.0);
        Some(StateChange { old, new })
    }

    /// Set a live session's TCP state directly (a session learned from a peer gateway), without
    /// touching its expiry; `None` if the slot is not live. UDP sessions keep `None`.
    pub fn set_state(&mut self, slot: SlotId, state: TcpState) -> Option<StateChange> {
        let s = self.slab.get_mut(slot.index()).filter(|s| s.is_live())?;
        let old = s.state;
        if s.proto == L4Proto::Tcp {
            s.state = state;
        }
        Some(StateChange { old, new: s.state })
    }

    /// Set a live session's expiry to the second `expires` (a synced session's remaining
    /// time), re-arming its timer when that is earlier than it is armed for; false if not live.
    pub fn set_expiry(&mut self, slot: SlotId, expires: u32) -> bool {
        let Some(s) = self.slab.get_mut(slot.index()).filter(|s| s.is_live()) else {
            return false;
        };
        s.expires = expires;
        self.wheel.rearm_if_earlier(&mut self.slab, slot.0);
        true
    }

    /// Remove a session now, returning its last contents; `None` if the slot is not live.
    pub fn remove(&mut self, slot: SlotId) -> Option<Session<A>> {
        if !self.slab.get(slot.index())?.is_live() {
            return None;
        }
        self.wheel.unlink(&mut self.slab, slot.0);
        let old = self.slab[slot.index()];
        self.release(slot.0);
        Some(old)
    }

    /// Make room under pressure: look at up to `probes` slots from where the last call stopped
    /// and remove the first evictable session found ([`Session::is_evictable`]: embryonic, or
    /// a connection that has ended), returning its
    /// last contents for the caller's bookkeeping (as [`Self::expire`]'s callback gets). An
    /// established session is never taken. `None` when the probes found nothing to take: the
    /// new flow is refused, as before. Bounded work; the hand moves on, so a flood of
    /// half-open connections is evicted oldest-slot-first rather than by chance.
    pub fn evict_for_room(&mut self, probes: usize) -> Option<Session<A>> {
        let cap = self.slab.len() as u32;
        if cap == 0 {
            return None;
        }
        for _ in 0..probes.min(cap as usize) {
            let idx = self.evict_hand;
            self.evict_hand = if idx + 1 >= cap { 0 } else { idx + 1 };
            let s = &self.slab[idx as usize];
            if s.is_live() && s.is_evictable() {
                return self.remove(SlotId(idx));
            }
        }
        None
    }

    /// Expire sessions due at `now`, examining at most `budget` sessions and wheel slots;
    /// `on_expire` sees each one before its slot is freed. Returns how many expired.
    pub fn expire(
        &mut self,
        now: u32,
        mut budget: usize,
        mut on_expire: impl FnMut(SlotId, &Session<A>),
    ) -> usize {
        if self.len == 0 {
            // Nothing linked: jump over the idle ticks instead of visiting empty slots.
            self.wheel.skip_idle(now.saturating_add(1));
            return 0;
        }
        let mut n = 0;
        while let Some(idx) = self.wheel.next_expired(now, &mut self.slab, &mut budget) {
            on_expire(SlotId(idx), &self.slab[idx as usize]);
            self.release(idx);
            n += 1;
        }
        n
    }

    /// Drop the index entries of a session already unlinked from the wheel and free its slot.
    fn release(&mut self, idx: u32) {
        let s = &self.slab[idx as usize];
        let h_in = self.hash(&s.key(Direction::Inbound));
        let removed = self.index.remove(h_in, idx);
        debug_assert!(removed, "inbound index entry missing");
        if s.method.sees_replies() {
            let h_out = self.hash(&s.key(Direction::Reply));
            let removed = self.index.remove(h_out, idx | DIR_BIT);
            debug_assert!(removed, "reply index entry missing");
        }
        let free = self.free;
        let s = &mut self.slab[idx as usize];
        s.sys = 0;
        s.next = free;
        s.prev = NIL;
        self.free = idx;
        self.len -= 1;
    }
}

#[inline(always)]
const fn dir_of(v: u32) -> Direction {
    if v & DIR_BIT != 0 {
        Direction::Reply
    } else {
        Direction::Inbound
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
