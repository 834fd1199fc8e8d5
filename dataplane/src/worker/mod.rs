//! The worker pipeline: one entry point that turns a burst of frames into verdicts.
//!
//! [`Worker::process`] takes frames received on one port, the published [`Snapshot`] and the
//! current second, rewrites each frame in place for its forwarding mode and returns a
//! [`Verdict`] per frame: transmit on a port, punt to control, redirect to the worker that owns
//! the session, or drop with a [`DropReason`]. It never allocates, locks or reads a clock
//! (DESIGN §2-§6); a changed snapshot generation rebuilds the per-worker scheduler state, which
//! is the only allocation, and happens once per configuration change.
//!
//! Per packet: parse (drop malformed with a reason) -> session lookup by 5-tuple, either
//! direction -> on a miss, a new flow to a service (TCP SYN or any UDP datagram) goes through
//! persistence, then the scheduler, and gets a session -> rewrite for the mode -> verdict.
//! ICMP errors quoting a session's packets are translated and sent to the flow's other end.
//!
//! Layout: this file holds the worker, its settings and the per-packet context (`Pkt`);
//! `classify` sorts a parsed frame (session hit, new flow, the box's own, not ours), `new_flow`
//! opens a session (persistence, scheduler, next hop), `lports` picks FullNAT local ports,
//! `owner` says which worker owns a flow, `synproxy` and `synauto` are the SYN proxy's, `fragment` forwards fragmented datagrams, `flow` forwards a packet of a session (drop policy,
//! TCP state, then the mode's rewrite in `crate::forward`), `icmp` answers echo and translates
//! errors, `account` keeps the per-service and per-backend counters, `sync` is session sync's
//! side of the worker. The steps return `forward::Fwd`: a verdict, or the [`DropReason`] the
//! frame is dropped for; the per-packet boundaries (`classify`, `l4`, `forward`) turn it into a
//! [`Verdict`] before returning (see `flow`).
//!
//! Choices worth knowing:
//! - Replies go back to the MAC the client's first packet came from (its router, or the client
//!   on a shared LAN), out of the port it arrived on, so replies need no route lookup.
//! - NAT and FullNAT decrement the TTL (the gateway routes); DR leaves the IP header alone; TUN's
//!   outer header starts at TTL 64.
//! - FullNAT's local port encodes the owning worker. With [`ReplySteering::Modulo`] the owner is
//!   `lport % workers` (NIC flow rules on the port's low bits, or redirect rings, get replies
//!   there); with [`ReplySteering::Rss`] the worker picks a port whose reply tuple the NIC's RSS
//!   (our key and redirection table) delivers to itself. NAT sessions live on the worker chosen
//!   by a hash of the client address, and so do the sessions of persistent services (by the
//!   client network, the template's key), so that one client's connections meet the template
//!   on one worker. Packets that reach another worker get
//!   [`Verdict::Redirect`].

use std::sync::Arc;

mod account;
mod admit;
mod classify;
#[cfg(feature = "fuzzing")]
mod copy_from;
mod flow;
mod fragment;
mod icmp;
mod lport_pool;
mod lports;
mod new_flow;
mod owner;
mod synauto;
mod sync;
mod synproxy;

pub use crate::owner::{fullnat_owner, nat_owner, persist_owner, ReplySteering};
pub(crate) use admit::Admit;
pub use fragment::{FRAGMENT_ENTRIES, FRAGMENT_TTL};
pub use sync::InstallOutcome;

use crate::counters::WorkerCounters;
use crate::frame::Frame;
use crate::rewrite::{rd16, Family, Tables};
use crate::sched::{BackendLoad, SchedState};
use crate::session::{
    HashSeed, PersistTable, Session, SessionAddr, SessionTable, SlotId, TcpFlags, Timeouts,
};
use crate::snapshot::Snapshot;
use crate::sync::{DeleteReason, SyncKind, WorkerSync};
use crate::types::{L4Proto, PortIdx};
use crate::wire::{parse_frame, DropReason, ParsedFrame, L4};

/// What to do with a frame after the pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Transmit on this port (the frame is rewritten).
    Tx(PortIdx),
    /// Transmit on this port in fragments of at most `mtu` bytes of IP (the frame is rewritten
    /// and larger than that, with Don't Fragment clear or the gateway as its source): rare,
    /// so the worker loop splits it ([`crate::wire::fragmenter`]) rather than the forwarding
    /// code.
    TxFragment {
        /// The egress port.
        port: PortIdx,
        /// Its MTU.
        mtu: u16,
    },
    /// Hand to control.
    Punt(Punt),
    /// Hand to the worker with this id, which owns the flow's session.
    Redirect(u16),
    /// Drop and count.
    Drop(DropReason),
}

/// Why a frame goes to control.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Punt {
    /// ARP (control answers for VIPs, local and own addresses).
    Arp,
    /// IPv6 neighbour discovery.
    Nd,
    /// For the box itself (exception path to the kernel): its own addresses and link-local
    /// multicast, whatever the IP protocol (SSH, BGP, BFD, VRRP, OSPF, IGMP/MLD, ...).
    Local,
    /// A new flow whose next hop is not resolved: control resolves it and re-injects the frame.
    /// Control resolves every backend's next hop itself, so the verdict does not name the
    /// neighbour: an address in it made [`Verdict`] 18 bytes, returned through memory and
    /// copied wide into the verdicts, a store-forwarding stall on every packet (`perf` on the
    /// ring path: the hottest instruction of [`Worker::process`]).
    Resolve {
        /// The port the neighbour is on.
        port: PortIdx,
    },
}

// A verdict fits a register (see [`Punt::Resolve`]).
const _: () = assert!(core::mem::size_of::<Verdict>() <= 8);

/// Fixed settings of one worker.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// This worker's id, `0..workers`.
    pub id: u16,
    /// Number of workers.
    pub workers: u16,
    /// IPv4 session capacity.
    pub sessions4: usize,
    /// IPv6 session capacity.
    pub sessions6: usize,
    /// Persistence templates per family.
    pub templates: usize,
    /// Highest service id + 1 the counters cover.
    pub max_services: usize,
    /// Highest backend id + 1 the counters cover.
    pub max_backends: usize,
    /// Seed for the session hash (give each worker its own random one).
    pub seed: u64,
    /// Lowest FullNAT local port.
    pub lport_min: u16,
    /// Timer-wheel work per [`Worker::tick`].
    pub expire_budget: usize,
    /// Connection timeouts.
    pub timeouts: Timeouts,
    /// How FullNAT replies are steered to their owner (the same on every worker).
    pub reply_steering: ReplySteering,
    /// Live sessions from which [`Worker::process`] prefetches session state for the burst
    /// ([`PREFETCH_FROM`]; 0: always, as the golden and fuzz tests run it).
    pub prefetch_from: usize,
    /// Fragment-table entries per family (first fragments whose later fragments are awaited).
    pub fragments: usize,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            id: 0,
            workers: 1,
            sessions4: 1 << 16,
            sessions6: 1 << 12,
            templates: 1 << 12,
            max_services: 256,
            max_backends: 4096,
            seed: 0x5eed_f0e7_0b5e_55ed,
            lport_min: 1024,
            expire_budget: 256,
            timeouts: Timeouts::default(),
            reply_steering: ReplySteering::Modulo,
            prefetch_from: PREFETCH_FROM,
            fragments: FRAGMENT_ENTRIES,
        }
    }
}

/// Frames per prefetch stage in [`Worker::process`] (a burst is at most this in practice).
const STAGE: usize = 64;

/// Default [`WorkerConfig::prefetch_from`]: about 1.5 MiB of slab and index, more than a core's
/// L2.
pub const PREFETCH_FROM: usize = 16 * 1024;

/// One worker's state: its session tables, scheduler state and counters.
#[derive(Debug)]
pub struct Worker {
    cfg: WorkerConfig,
    tables: Tables,
    /// Per service id: the scheduler's signature and this worker's state for it.
    sched: Vec<Option<(u64, SchedState)>>,
    generation: Option<u64>,
    loads: Vec<BackendLoad>,
    /// Where the next FullNAT local port choice starts.
    lports: lports::Cursor,
    /// FullNAT free local ports per (local address, real server), rebuilt per generation.
    pools: lport_pool::LocalPorts,
    /// New pools are learning the ports the sessions already hold: the next slab position of
    /// that walk ([`lports::ClaimWalk`]), a bounded step per [`Worker::tick`].
    claim: lports::ClaimWalk,
    counters: Arc<WorkerCounters>,
    /// Session sync, when on ([`crate::sync`]).
    sync: Option<WorkerSync>,
    /// Admission control's clock and buckets.
    admit: admit::Admit,
    /// Fragmented datagrams in flight ([`fragment`]).
    frags: fragment::Frags,
    /// Unix seconds: the SYN cookies' clock ([`Worker::set_wall_clock`]).
    wall_s: u64,
    /// Client segments held while SYN proxy server legs open.
    held: crate::forward::held::Held,
    /// `syn_proxy = "auto"` services: SYN counts and state ([`synauto`]).
    auto: synauto::SynAuto,
}

/// One packet on its way through the worker: what every step reads, borrowed for the packet's
/// time in [`Worker::process`] (the worker's own state stays in `self`).
pub(crate) struct Pkt<'a, F> {
    /// The published configuration.
    pub(crate) snap: &'a Snapshot,
    /// Seconds on the monotonic clock.
    pub(crate) now: u32,
    /// The port the frame came in on.
    pub(crate) in_port: PortIdx,
    /// The frame, rewritten in place.
    pub(crate) frame: &'a mut F,
    /// What the parser found.
    pub(crate) p: &'a ParsedFrame,
    /// The TCP flags (all clear for UDP and ICMP), decoded once.
    pub(crate) flags: TcpFlags,
}

impl<'a, F> Pkt<'a, F> {
    /// The context of a parsed frame, its TCP flags decoded once here.
    #[inline(always)]
    pub(crate) fn new(
        snap: &'a Snapshot,
        now: u32,
        in_port: PortIdx,
        frame: &'a mut F,
        p: &'a ParsedFrame,
    ) -> Self {
        let flags = match p.l4 {
            L4::Tcp { flags, .. } => TcpFlags::from_bits(flags),
            _ => TcpFlags::default(),
        };
        Self {
            snap,
            now,
            in_port,
            frame,
            p,
            flags,
        }
    }
}

/// What the forwarding step needs from a session (copied out of the table).
struct Flow<A: Family> {
    s: Session<A>,
    slot: SlotId,
}

impl Worker {
    /// Create a worker; all tables are allocated now.
    ///
    /// # Panics
    /// If `workers` is 0 or `id >= workers`, or RSS steering names a worker `>= workers`.
    pub fn new(cfg: WorkerConfig) -> Worker {
        assert!(
            cfg.workers > 0 && cfg.id < cfg.workers,
            "worker id out of range"
        );
        if let ReplySteering::Rss(rs) = &cfg.reply_steering {
            assert!(
                rs.max_worker() < cfg.workers,
                "RSS redirection table names a worker out of range"
            );
        }
        let seed = HashSeed::new(cfg.seed);
        let mut s4 = SessionTable::with_capacity(cfg.sessions4, seed);
        let mut s6 = SessionTable::with_capacity(cfg.sessions6, seed);
        s4.set_timeouts(cfg.timeouts);
        s6.set_timeouts(cfg.timeouts);
        let tables = Tables {
            s4,
            s6,
            p4: PersistTable::with_capacity(cfg.templates, seed),
            p6: PersistTable::with_capacity(cfg.templates, seed),
        };
        let counters = Arc::new(WorkerCounters::new(cfg.max_services, cfg.max_backends));
        Worker {
            loads: Vec::with_capacity(cfg.max_backends),
            sched: Vec::with_capacity(cfg.max_services),
            lports: lports::Cursor::new(cfg.id),
            pools: lport_pool::LocalPorts::new(lport_pool::Ownership {
                id: cfg.id,
                workers: cfg.workers,
                lport_min: cfg.lport_min,
                steering: cfg.reply_steering.clone(),
            }),
            claim: lports::ClaimWalk::default(),
            frags: fragment::Frags::new(cfg.fragments),
            cfg,
            tables,
            generation: None,
            counters,
            sync: None,
            admit: admit::Admit::default(),
            wall_s: 0,
            held: crate::forward::held::Held::new(),
            auto: synauto::SynAuto::default(),
        }
    }

    /// Return this worker's id (0-based).
    pub fn id(&self) -> u16 {
        self.cfg.id
    }

    /// Return the counters (shared with control, which reads them).
    pub fn counters(&self) -> &Arc<WorkerCounters> {
        &self.counters
    }

    /// Return the IPv4 session table (read-only: listings, tests).
    pub fn sessions4(&self) -> &SessionTable<core::net::Ipv4Addr> {
        &self.tables.s4
    }

    /// Return the IPv6 session table.
    pub fn sessions6(&self) -> &SessionTable<core::net::Ipv6Addr> {
        &self.tables.s6
    }

    /// FullNAT local-port pools: how many, the bytes they hold, and their free ports in all.
    pub fn lport_pools(&self) -> (usize, usize, u64) {
        (
            self.pools.len(),
            self.pools.memory_bytes(),
            self.pools.free_ports(),
        )
    }

    /// Return the worker's settings.
    pub fn config(&self) -> &WorkerConfig {
        &self.cfg
    }

    /// Apply new connection timeouts (`ipvsadm --set`); they take effect per session from its
    /// next packet.
    pub fn set_timeouts(&mut self, t: Timeouts) {
        self.cfg.timeouts = t;
        self.tables.s4.set_timeouts(t);
        self.tables.s6.set_timeouts(t);
    }

    /// Take a new snapshot generation: rebuild the scheduler state of services whose scheduler
    /// changed, apply new timeouts, and publish the generation in the counters (control waits
    /// for every worker to confirm a reload). `process` calls it; an idle worker's loop should
    /// too, so confirmation does not wait for traffic.
    pub fn sync(&mut self, snap: &Snapshot) {
        if self.generation == Some(snap.generation) {
            return;
        }
        if let Some(t) = snap.timeouts {
            if t != self.cfg.timeouts {
                self.set_timeouts(t);
            }
        }
        let old = core::mem::take(&mut self.sched);
        let mut old = old.into_iter();
        self.sched.extend(snap.services.iter().map(|s| {
            let prev = old.next().flatten();
            s.as_ref().map(|s| {
                let sig = s.scheduler.signature();
                match prev {
                    Some((p, state)) if p == sig => (sig, state),
                    _ => (sig, s.scheduler.new_state()),
                }
            })
        }));
        self.admit.resync(snap, self.cfg.id, self.cfg.workers, 0);
        self.auto.resync(snap, &self.counters);
        if snap.proxies_syn() {
            self.tables.s4.enable_synproxy();
            self.tables.s6.enable_synproxy();
            self.held.enable();
        }
        if self.pools.rebuild(snap) > 0 {
            self.claim.start();
        }
        self.generation = Some(snap.generation);
        self.counters.generation.set(snap.generation);
    }

    /// Run a bounded amount of session and template expiry (call once per loop iteration).
    pub fn tick(&mut self, now: u32) {
        if self.claim.running() {
            self.claim_lports_step();
        }
        let budget = self.cfg.expire_budget;
        let c = &self.counters;
        let link = &mut self.sync;
        let pools = &mut self.pools;
        let on_expire4 = |_: SlotId, s: &Session<core::net::Ipv4Addr>| {
            if !s.is_sync_stub() {
                account::gone(c, s.service(), s.backend_idx(), s.is_active());
                sync::publish(link, c, SyncKind::Deleted(DeleteReason::Expired), s, now);
                lports::released(pools, s);
            }
        };
        self.tables.s4.expire(now, budget, on_expire4);
        let on_expire6 = |_: SlotId, s: &Session<core::net::Ipv6Addr>| {
            if !s.is_sync_stub() {
                account::gone(c, s.service(), s.backend_idx(), s.is_active());
                sync::publish(link, c, SyncKind::Deleted(DeleteReason::Expired), s, now);
                lports::released(pools, s);
            }
        };
        self.tables.s6.expire(now, budget, on_expire6);
        self.tables.p4.expire(now, budget);
        self.tables.p6.expire(now, budget);
        c.sessions4.set(self.tables.s4.len() as u64);
        c.sessions6.set(self.tables.s6.len() as u64);
        self.auto.tick(now, &self.tables, c);
    }

    /// Process frames received on port `in_port`: rewrite them and fill `verdicts` (one per
    /// frame, same order). `now` is seconds on a monotonic clock.
    ///
    /// # Panics
    /// If `verdicts` is shorter than `frames`.
    pub fn process<F: Frame>(
        &mut self,
        snap: &Snapshot,
        now: u32,
        in_port: PortIdx,
        frames: &mut [F],
        verdicts: &mut [Verdict],
    ) {
        assert!(verdicts.len() >= frames.len(), "one verdict per frame");
        self.sync(snap);
        // A table that fits in L2 gains nothing from prefetching and would pay a second hash
        // per frame: skip it below `prefetch_from` live sessions.
        let big = self.tables.s4.len() + self.tables.s6.len() >= self.cfg.prefetch_from;
        for (fs, vs) in frames.chunks_mut(STAGE).zip(verdicts.chunks_mut(STAGE)) {
            // The frames' headers were last written by another core (the NIC's DMA, or a
            // ring's peer): ask for them all at once, before the first is read.
            fs.iter().for_each(Frame::prefetch_head);
            if big {
                self.prefetch_burst(fs);
            }
            for (f, v) in fs.iter_mut().zip(vs.iter_mut()) {
                *v = self.process_synced(snap, now, in_port, f);
            }
        }
    }

    /// Two prefetch stages over (at most [`STAGE`] frames of) a burst before its first lookup,
    /// so a large table's cache misses overlap instead of stalling each packet in turn: first
    /// the index buckets, then (once those lines are on their way) the session records they
    /// point at. A frame the cheap peek cannot read is skipped; both stages are only hints.
    fn prefetch_burst<F: Frame>(&self, fs: &[F]) {
        let mut hashes = [None; STAGE];
        for (h, f) in hashes.iter_mut().zip(fs) {
            *h = self.session_hash(f.data());
            match *h {
                Some((false, h)) => self.tables.s4.prefetch(h),
                Some((true, h)) => self.tables.s6.prefetch(h),
                None => {}
            }
        }
        for &(v6, h) in hashes.iter().take(fs.len()).flatten() {
            if v6 {
                self.tables.s6.prefetch_record(h);
            } else {
                self.tables.s4.prefetch_record(h);
            }
        }
    }

    /// The session-table hash of a TCP/UDP frame (at most one VLAN tag; IPv4, or IPv6 without
    /// extension headers) and whether it is IPv6, for prefetching. Nothing is validated.
    #[inline]
    fn session_hash(&self, d: &[u8]) -> Option<(bool, u64)> {
        let et = d.get(12..14)?;
        let (et, l3) = match (et[0], et[1]) {
            (0x81, 0x00) if d.len() >= 18 => ((d[16], d[17]), 18),
            (a, b) => ((a, b), 14),
        };
        match et {
            (0x08, 0x00) => {
                let h = d.get(l3..l3 + 20)?;
                let proto = L4Proto::from_number(h[9])?;
                let l4 = l3 + usize::from(h[0] & 0xf) * 4;
                let p = d.get(l4..l4 + 4)?;
                let src = core::net::Ipv4Addr::new(h[12], h[13], h[14], h[15]);
                let dst = core::net::Ipv4Addr::new(h[16], h[17], h[18], h[19]);
                let (sport, dport) = (rd16(p, 0), rd16(p, 2));
                let key =
                    <core::net::Ipv4Addr as SessionAddr>::flow_key(src, sport, dst, dport, proto);
                Some((false, self.tables.s4.hash(&key)))
            }
            (0x86, 0xdd) => {
                let h = d.get(l3..l3 + 44)?;
                let proto = L4Proto::from_number(h[6])?;
                let mut a = [0u8; 16];
                a.copy_from_slice(&h[8..24]);
                let src = core::net::Ipv6Addr::from(a);
                a.copy_from_slice(&h[24..40]);
                let dst = core::net::Ipv6Addr::from(a);
                let (sport, dport) = (rd16(h, 40), rd16(h, 42));
                let key =
                    <core::net::Ipv6Addr as SessionAddr>::flow_key(src, sport, dst, dport, proto);
                Some((true, self.tables.s6.hash(&key)))
            }
            _ => None,
        }
    }

    /// Process one frame (see [`Worker::process`]).
    pub fn process_one<F: Frame>(
        &mut self,
        snap: &Snapshot,
        now: u32,
        in_port: PortIdx,
        frame: &mut F,
    ) -> Verdict {
        self.sync(snap);
        self.process_synced(snap, now, in_port, frame)
    }

    /// Process one frame; the caller has already synced to `snap`'s generation. Inlined
    /// always: out of line, its [`Verdict`] (18 bytes, more than two registers) came back
    /// through memory written field by field, and [`Worker::process`]'s wide copy of it into
    /// the verdicts waited for those stores (a store-forwarding stall, half of `process`'s own
    /// samples in `perf` on the ring path).
    #[inline(always)]
    fn process_synced<F: Frame>(
        &mut self,
        snap: &Snapshot,
        now: u32,
        in_port: PortIdx,
        frame: &mut F,
    ) -> Verdict {
        self.counters.rx.inc();
        // Matched by reference: moving the ~150-byte `ParsedFrame` out of the `Result` was a
        // `memcpy` call per packet (`hot_ir`: 29 instructions).
        let parsed = parse_frame(frame.data());
        let v = match &parsed {
            Err(DropReason::Ipv4Fragment | DropReason::Ipv6Fragment) => {
                self.fragment(snap, now, in_port, frame)
            }
            Err(r) => classify::refused(snap, frame.data(), *r),
            Ok(p) => {
                // Director HA: a switch may still send traffic for an address the peer now
                // owns; forward it (sessions must not break on a late switch) and count it.
                if snap.any_not_owned() {
                    classify::count_not_owned(&self.counters, snap, &p.l3);
                }
                let mut pkt = Pkt::new(snap, now, in_port, frame, p);
                self.classify(&mut pkt)
            }
        };
        let c = &self.counters;
        match v {
            Verdict::Tx(_) | Verdict::TxFragment { .. } => c.tx.inc(),
            Verdict::Punt(_) => c.punted.inc(),
            Verdict::Redirect(_) => c.redirected.inc(),
            Verdict::Drop(r) => c.drop_reason(r),
        }
        v
    }
}
