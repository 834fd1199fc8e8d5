//! Session sync between directors, the dataplane side: the events a worker publishes about its
//! sessions, the rings that carry them to control and carry a peer's sessions back, and where
//! a synced session belongs on this gateway.
//!
//! Contract:
//! - A worker with a [`WorkerSync`] attached ([`crate::worker::Worker::attach_sync`]; none
//!   when sync is off) publishes a [`SyncEvent`] for every session it creates, every TCP state
//!   change, every persistence template it creates or replaces, and every session it deletes
//!   (expiry, or removal under the `drop` policy; a RST is the state change to CLOSE, whose
//!   short timeout then ends the session on both sides, as in IPVS). Every flow is published,
//!   however short: control drains the ring in batches and packs them into messages, so short
//!   flows are batched, never skipped by a packet threshold (kernel LVS syncs a connection only
//!   after 3 packets).
//! - The event ring is a bounded wait-free single-producer single-consumer ring (`rtrb`): a
//!   push is a few stores, never a lock or an allocation. A full ring drops the event and counts
//!   it ([`crate::counters::WorkerCounters::sync_overflows`]); the periodic full dump
//!   ([`ControlSync::request_dump`]) repairs what was lost.
//! - A full dump walks the worker's tables in bounded steps between bursts, only while the
//!   ring keeps a quarter of its room for live events, and starts at most once per
//!   [`SyncConfig::dump_interval_s`]; it is framed by [`SyncKind::DumpBegin`] and
//!   [`SyncKind::DumpEnd`]. A session changed during the walk is also published live, after
//!   or instead of its dump entry, in ring order, so the receiver ends with the current state.
//! - Control hands a peer's sessions to the worker that will own their packets ([`placement`],
//!   the same steering as live traffic) through a second bounded ring ([`Install`]), which the
//!   worker drains between bursts with a budget; installing allocates nothing. The rules of an
//!   installation (update, conflict, refusal) are on
//!   [`crate::worker::Worker::install`]. Installing publishes no event (no echo back to the
//!   peer); packets the synced session forwards later do.
//!
//! Where a synced session goes (a different worker count or RSS on the two gateways moves it):
//! NAT sessions and those of persistent services live where live traffic puts them
//! ([`crate::worker::nat_owner`], [`crate::worker::persist_owner`]: other workers redirect
//! there); a DR or TUN session of a plain service lives on the worker the NIC delivers the
//! client's packets to. A FullNAT session lives on the owner of its local port
//! ([`crate::worker::ReplySteering::owner`]), which reserves that port on this gateway too;
//! when the client's packets arrive on another worker, that worker gets a redirect stub
//! ([`Role::Stub`]): the flow's inbound key, pointing at the owner. With several workers and no
//! RSS this gateway knows (AF_PACKET's fanout, whose hash is the kernel's), where a DR, TUN or
//! FullNAT flow's client packets arrive cannot be told: the session goes to worker 0 (FullNAT:
//! its local port's owner) and every other worker gets a stub ([`Stubs::AllButHome`]).

use core::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::owner::{nat_owner, persist_owner, ReplySteering};
use crate::rss::RssSteer;
use crate::session::{FwdMethod, ProxyState, Session, SessionAddr, SynProxyState, TcpState};
use crate::snapshot::{Mac, Snapshot};
use crate::types::{L4Proto, PortIdx};

/// What a [`SyncEvent`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SyncKind {
    /// A session (or, with [`SyncEvent::template`], a persistence template) was created.
    Created,
    /// A session's TCP state changed.
    State,
    /// A session was deleted.
    Deleted(DeleteReason),
    /// A session or template listed by a full dump.
    Dump,
    /// A full dump starts; [`SyncEvent::timeout`] holds its sequence number.
    DumpBegin,
    /// A full dump is complete; [`SyncEvent::timeout`] holds its sequence number.
    DumpEnd,
}

/// Why a session was deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeleteReason {
    /// Its timeout ran out. A receiver removes its copy only if that copy is due within
    /// [`EXPIRY_GRACE_S`] as well: a copy kept alive by traffic on the receiver stays.
    Expired,
    /// Removed by the worker (the `drop` policy, its backend down or gone).
    Removed,
}

/// A receiver applies a peer's expiry only to a copy due within this many seconds.
pub const EXPIRY_GRACE_S: u32 = 5;

/// One session, or one persistence template, as another gateway needs it to rebuild it.
///
/// Addresses are all of one family (the family of the flow). The service is named by its key
/// (`vip:vport`, protocol), never by a local index; so is the backend (`backend:bport`,
/// method). Fixed size and `Copy`: it travels through rings by value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SyncEvent {
    /// What happened.
    pub kind: SyncKind,
    /// A persistence template rather than a connection: `client` is the client network (or a
    /// client in it), `cport` 0, `vport` the service's port, `prefix_len` its `-M` netmask.
    pub template: bool,
    /// Transport protocol.
    pub proto: L4Proto,
    /// Forwarding method.
    pub method: FwdMethod,
    /// TCP state (`None` for UDP and templates).
    pub state: TcpState,
    /// Templates: the client network's prefix length; 0 for sessions.
    pub prefix_len: u8,
    /// The session's pipeline flags that the rewrite depends on (TOA sent, reply seen).
    pub flags: u8,
    /// Client address.
    pub client: IpAddr,
    /// Client port.
    pub cport: u16,
    /// Virtual address.
    pub vip: IpAddr,
    /// Virtual port.
    pub vport: u16,
    /// FullNAT local address (the client for NAT; unspecified for DR and TUN).
    pub laddr: IpAddr,
    /// FullNAT local port (the client port for NAT; 0 for DR and TUN).
    pub lport: u16,
    /// Backend address.
    pub backend: IpAddr,
    /// Backend port.
    pub bport: u16,
    /// Seconds left before it expires (unless refreshed); the dump sequence of markers.
    pub timeout: u32,
    /// Gateway port towards the client (peers of an HA pair number their ports alike).
    pub client_port: PortIdx,
    /// Next hop towards the client (the upstream router, shared by an HA pair).
    pub client_mac: Mac,
    /// A PROXY protocol session's state (header version and length, the client's ISN + 1),
    /// so the receiver keeps shifting its sequence numbers; [`Self::flags`] then also carries
    /// [`Session::FLAG_PROXY`] and [`Session::FLAG_PROXY_ACKED`] as the sender had them.
    pub proxy: Option<ProxyState>,
    /// A SYN proxy session's state (what the cookie said, or once the server leg opened the
    /// sequence and timestamp deltas), so the receiver keeps translating; [`Self::flags`] then
    /// also carries [`Session::FLAG_SYNPROXY`] and [`Session::FLAG_SYNPROXY_OPEN`] as the
    /// sender had them. Never together with [`Self::proxy`].
    pub synproxy: Option<SynProxyState>,
}

// 96 bytes before the PROXY state (8 more) came, 124 with the SYN proxy's 20.
const _: () = assert!(core::mem::size_of::<SyncEvent>() <= 124);

/// Session flags a synced session carries over.
const SYNCED_FLAGS: u8 =
    Session::<core::net::Ipv4Addr>::FLAG_TOA_SENT | Session::<core::net::Ipv4Addr>::FLAG_REPLY_SEEN;

/// Session flags that travel with a PROXY protocol session's state.
pub const PROXY_FLAGS: u8 =
    Session::<core::net::Ipv4Addr>::FLAG_PROXY | Session::<core::net::Ipv4Addr>::FLAG_PROXY_ACKED;

/// Session flags that travel with a SYN proxy session's state.
pub const SYNPROXY_FLAGS: u8 = Session::<core::net::Ipv4Addr>::FLAG_SYNPROXY
    | Session::<core::net::Ipv4Addr>::FLAG_SYNPROXY_OPEN;

impl SyncEvent {
    /// The event for session `s` at `now`.
    #[inline]
    pub fn session<A: SessionAddr + Into<IpAddr>>(
        kind: SyncKind,
        s: &Session<A>,
        now: u32,
    ) -> Self {
        Self::session_with(kind, s, now, Into::into)
    }

    /// [`Self::session`] with the address conversion given (for code generic over a family).
    #[inline(always)]
    pub(crate) fn session_with<A: SessionAddr>(
        kind: SyncKind,
        s: &Session<A>,
        now: u32,
        ip: impl Fn(A) -> IpAddr,
    ) -> Self {
        SyncEvent {
            kind,
            template: false,
            proto: s.proto(),
            method: s.method(),
            state: s.state(),
            prefix_len: 0,
            flags: s.flags & SYNCED_FLAGS,
            client: ip(s.client()),
            cport: s.cport(),
            vip: ip(s.vip()),
            vport: s.vport(),
            laddr: ip(s.laddr()),
            lport: s.lport(),
            backend: ip(s.backend()),
            bport: s.bport(),
            timeout: s.expires().saturating_sub(now),
            client_port: s.client_port,
            client_mac: s.client_mac,
            proxy: None,
            synproxy: None,
        }
    }

    /// Add a PROXY protocol session's state `st` (its record has [`Session::FLAG_PROXY`],
    /// whose flags `flags` are).
    #[must_use]
    pub fn with_proxy(mut self, flags: u8, st: ProxyState) -> Self {
        self.flags |= flags & PROXY_FLAGS;
        self.proxy = Some(st);
        self
    }

    /// Add a SYN proxy session's state `st` (its record has [`Session::FLAG_SYNPROXY`], whose
    /// flags `flags` are: [`Session::FLAG_SYNPROXY_OPEN`] says which half of `st` is meant).
    #[must_use]
    pub fn with_synproxy(mut self, flags: u8, st: SynProxyState) -> Self {
        self.flags |= flags & SYNPROXY_FLAGS;
        self.synproxy = Some(st);
        self
    }

    /// A dump marker ([`SyncKind::DumpBegin`], [`SyncKind::DumpEnd`]) with sequence `seq`.
    pub const fn marker(kind: SyncKind, seq: u32) -> Self {
        let none = IpAddr::V4(core::net::Ipv4Addr::UNSPECIFIED);
        SyncEvent {
            kind,
            template: false,
            proto: L4Proto::Tcp,
            method: FwdMethod::Dr,
            state: TcpState::None,
            prefix_len: 0,
            flags: 0,
            client: none,
            cport: 0,
            vip: none,
            vport: 0,
            laddr: none,
            lport: 0,
            backend: none,
            bport: 0,
            timeout: seq,
            client_port: 0,
            client_mac: [0; 6],
            proxy: None,
            synproxy: None,
        }
    }

    /// Whether the flow is IPv6.
    pub const fn is_v6(&self) -> bool {
        self.client.is_ipv6()
    }

    /// Whether it is a dump marker rather than a session or template.
    pub const fn is_marker(&self) -> bool {
        matches!(self.kind, SyncKind::DumpBegin | SyncKind::DumpEnd)
    }
}

/// What a worker is asked to do with a peer's [`SyncEvent`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Install (or update, or delete) the session or template itself.
    Home,
    /// Install (or delete) a redirect stub: the flow's client packets arrive on this worker,
    /// its session lives on worker `home`.
    Stub {
        /// The worker that holds the session.
        home: u16,
    },
}

/// One request on a worker's install ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Install {
    /// The peer's session, template or deletion.
    pub event: SyncEvent,
    /// What this worker holds of it.
    pub role: Role,
}

/// Where a synced session goes on this gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The worker that holds the session (or template).
    pub home: u16,
    /// The workers that get a redirect stub ([`Role::Stub`]).
    pub stubs: Stubs,
}

/// Which workers get a redirect stub pointing at a synced session's home.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stubs {
    /// None: the client's packets arrive on the home worker.
    None,
    /// This worker, where the client's packets arrive (not the home).
    One(u16),
    /// Every worker but the home: the client's packets may arrive on any of them (several
    /// workers, and no RSS this gateway knows).
    AllButHome,
}

impl Placement {
    /// The workers, out of `workers`, that get a redirect stub.
    pub fn stub_workers(self, workers: u16) -> impl Iterator<Item = u16> {
        (0..workers).filter(move |&w| {
            w != self.home
                && match self.stubs {
                    Stubs::None => false,
                    Stubs::One(s) => s == w,
                    Stubs::AllButHome => true,
                }
        })
    }
}

/// How this gateway's packets reach its workers, for [`placement`].
#[derive(Clone, Debug)]
pub struct Steering {
    /// Number of workers.
    pub workers: u16,
    /// How FullNAT replies reach their owner (the workers' [`ReplySteering`]).
    pub replies: ReplySteering,
    /// The RSS the NICs spread client packets with (key and redirection table); `None`: every
    /// client packet arrives on worker 0 (one worker, or no RSS).
    pub inbound: Option<Arc<RssSteer>>,
}

/// Why a synced session cannot be placed or installed here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No service with its key in the snapshot.
    NoService,
    /// Its backend (address, port, method) is not a backend of that service here.
    NoBackend,
    /// No route, or no resolved neighbour, towards the backend.
    NoRoute,
    /// Its FullNAT local address is not one of this gateway's.
    NoLocalAddress,
    /// Addresses of mixed families, or a template for a service without persistence, or a
    /// template whose netmask differs from the service's here.
    Malformed,
    /// Handed to a worker that does not own it.
    Misplaced,
    /// The session table (or template table) is full.
    TableFull,
    /// A SYN proxy session, and no service here has the SYN proxy on (its per-session state
    /// has no room: the gateways' configurations differ).
    SynProxyOff,
}

/// Return where the session or template of `ev` belongs on this gateway: the worker that will
/// own its packets, as for live traffic (see the module doc).
///
/// # Errors
/// [`Refusal::NoService`] when the snapshot has no service with its key.
pub fn placement(snap: &Snapshot, ev: &SyncEvent, st: &Steering) -> Result<Placement, Refusal> {
    let n = st.workers.max(1);
    let sid = snap
        .service_for(ev.vip, ev.vport, ev.proto)
        .ok_or(Refusal::NoService)?;
    let svc = snap.service(sid).ok_or(Refusal::NoService)?;
    let persist = svc
        .persistence
        .map(|ps| persist_owner(ev.client, ps.prefix_len, n));
    let nat = svc.has_nat.then(|| nat_owner(ev.client, n));
    if ev.template {
        let home = nat.or(persist).ok_or(Refusal::Malformed)?;
        return Ok(Placement {
            home,
            stubs: Stubs::None,
        });
    }
    // Where the client's packets end up: the NAT or persistence owner (other workers redirect
    // there), else wherever the NIC puts them; None: any worker (no RSS known here).
    let inbound = match (nat.or(persist), &st.inbound) {
        (Some(o), _) => Some(o),
        (None, Some(rs)) => Some(
            rs.worker_of(ev.client, ev.vip, ev.cport, ev.vport)
                .unwrap_or(0),
        ),
        (None, None) => (n == 1).then_some(0),
    };
    let home = match ev.method {
        FwdMethod::FullNat => st
            .replies
            .owner(ev.backend, ev.bport, ev.laddr, ev.lport, n),
        FwdMethod::Nat | FwdMethod::Dr | FwdMethod::Tun => inbound.unwrap_or(0),
    };
    let stubs = match inbound {
        None => Stubs::AllButHome,
        Some(w) if w != home => Stubs::One(w),
        Some(_) => Stubs::None,
    };
    Ok(Placement { home, stubs })
}

/// Sizes and pacing of one worker's sync rings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncConfig {
    /// Events the worker -> control ring holds.
    pub events: usize,
    /// Requests the control -> worker install ring holds.
    pub installs: usize,
    /// Installs a worker applies per [`crate::worker::Worker::serve_sync`] call.
    pub install_budget: usize,
    /// Table positions a full dump examines per [`crate::worker::Worker::serve_sync`] call.
    pub dump_step: usize,
    /// Seconds from the start of one full dump to the earliest start of the next.
    pub dump_interval_s: u32,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            events: 1 << 15,
            installs: 1 << 13,
            install_budget: 256,
            dump_step: 512,
            dump_interval_s: 1,
        }
    }
}

/// Shared between a worker and control: the dump request and the count of dumps done.
#[derive(Debug, Default)]
struct DumpFlag {
    requested: AtomicBool,
    done: AtomicU64,
}

/// The worker's end of its sync link: the event producer, the install consumer, the dump state.
#[derive(Debug)]
pub struct WorkerSync {
    pub(crate) events: rtrb::Producer<SyncEvent>,
    pub(crate) installs: rtrb::Consumer<Install>,
    dump: Arc<DumpFlag>,
    pub(crate) cfg: SyncConfig,
    /// The running dump's next table position (over s4, s6, p4, p6 in turn), if one runs.
    pub(crate) cursor: Option<usize>,
    /// When the last dump started (worker seconds), for the pacing.
    pub(crate) last_start: Option<u32>,
    pub(crate) seq: u32,
}

/// Control's end of one worker's sync link.
#[derive(Debug)]
pub struct ControlSync {
    /// The worker's events, in the order it published them.
    pub events: rtrb::Consumer<SyncEvent>,
    /// Requests to the worker.
    pub installs: rtrb::Producer<Install>,
    dump: Arc<DumpFlag>,
}

/// Create one worker's sync link: the worker's end (for
/// [`crate::worker::Worker::attach_sync`]) and control's. Allocates both rings now.
pub fn link(cfg: SyncConfig) -> (WorkerSync, ControlSync) {
    let (ev_tx, ev_rx) = rtrb::RingBuffer::new(cfg.events.max(4));
    let (in_tx, in_rx) = rtrb::RingBuffer::new(cfg.installs.max(1));
    let dump = Arc::new(DumpFlag::default());
    (
        WorkerSync {
            events: ev_tx,
            installs: in_rx,
            dump: dump.clone(),
            cfg,
            cursor: None,
            last_start: None,
            seq: 0,
        },
        ControlSync {
            events: ev_rx,
            installs: in_tx,
            dump,
        },
    )
}

impl ControlSync {
    /// Ask the worker for a full dump of its sessions and templates. It starts between two
    /// bursts, no sooner than [`SyncConfig::dump_interval_s`] after the previous one started;
    /// asking again while one is pending or running asks for one more after it.
    pub fn request_dump(&self) {
        self.dump.requested.store(true, Ordering::Release);
    }

    /// Return how many full dumps the worker has completed.
    pub fn dumps_done(&self) -> u64 {
        self.dump.done.load(Ordering::Acquire)
    }
}

impl WorkerSync {
    /// Publish one event; a full ring drops it and counts it.
    #[inline]
    pub(crate) fn publish(&mut self, ev: SyncEvent, c: &crate::counters::WorkerCounters) {
        if self.events.push(ev).is_ok() {
            c.sync_events.inc();
        } else {
            c.sync_overflows.inc();
        }
    }

    /// Whether a dump is asked for and may start at `now`.
    #[inline]
    pub(crate) fn dump_due(&self, now: u32) -> bool {
        self.cursor.is_none()
            && self.dump.requested.load(Ordering::Relaxed)
            && self
                .last_start
                .is_none_or(|t| now.saturating_sub(t) >= self.cfg.dump_interval_s)
    }

    /// Take the pending request and start a dump.
    pub(crate) fn start_dump(&mut self, now: u32) {
        self.dump.requested.store(false, Ordering::Relaxed);
        self.last_start = Some(now);
        self.seq = self.seq.wrapping_add(1);
        self.cursor = Some(0);
    }

    /// Mark the running dump complete.
    pub(crate) fn finish_dump(&mut self) {
        self.cursor = None;
        self.dump.done.fetch_add(1, Ordering::Release);
    }

    /// Free slots the dump may use: it leaves a quarter of the ring to live events.
    #[inline]
    pub(crate) fn dump_room(&self) -> usize {
        self.events
            .slots()
            .saturating_sub(self.events.buffer().capacity() / 4)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Session4;

    #[test]
    fn event_is_small_and_fixed() {
        assert!(core::mem::size_of::<SyncEvent>() <= 124);
        let m = SyncEvent::marker(SyncKind::DumpEnd, 7);
        assert!(m.is_marker() && !m.is_v6());
        assert_eq!(m.timeout, 7);
    }

    #[test]
    fn link_carries_events_in_order_and_counts_overflow() {
        let (mut w, mut c) = link(SyncConfig {
            events: 4,
            ..SyncConfig::default()
        });
        let counters = crate::counters::WorkerCounters::new(1, 1);
        for seq in 0..6 {
            w.publish(SyncEvent::marker(SyncKind::DumpBegin, seq), &counters);
        }
        assert_eq!(counters.sync_events.get(), 4);
        assert_eq!(counters.sync_overflows.get(), 2);
        let got: Vec<u32> = core::iter::from_fn(|| c.events.pop().ok())
            .map(|e| e.timeout)
            .collect();
        assert_eq!(got, [0, 1, 2, 3]);
        let _ = Session4::FLAG_SYNC_STUB;
    }

    #[test]
    fn dump_requests_are_paced() {
        let (mut w, c) = link(SyncConfig {
            dump_interval_s: 10,
            ..SyncConfig::default()
        });
        assert!(!w.dump_due(0), "nothing asked");
        c.request_dump();
        assert!(w.dump_due(0));
        w.start_dump(0);
        assert!(!w.dump_due(0), "one runs");
        w.finish_dump();
        assert_eq!(c.dumps_done(), 1);
        c.request_dump();
        assert!(!w.dump_due(9), "too soon after the last start");
        assert!(w.dump_due(10));
    }
}
