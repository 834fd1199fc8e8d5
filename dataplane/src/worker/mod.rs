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

use core::net::IpAddr;
use std::sync::Arc;

mod sync;
pub use sync::InstallOutcome;

use crate::counters::WorkerCounters;
use crate::frame::Frame;
pub use crate::owner::{fullnat_owner, nat_owner, persist_owner, ReplySteering};
use crate::rewrite::{self, rd16, set_macs, src_mac, wr16, Family, Tables};
use crate::rss::RssSteer;
use crate::sched::{hash, BackendLoad, PickCtx, SchedState};

use crate::session::{
    sloppy_tcp_state, tcp_transition, Direction, FwdMethod, HashSeed, InsertError, NewSession,
    PersistTable, Session, SessionAddr, SessionTable, SlotId, StateChange, TcpDir, TcpFlags,
    TcpState, Timeouts,
};
use crate::snapshot::{is_link_local_multicast, NextHopError, Service, Snapshot, ToaMode};
use crate::sync::{DeleteReason, SyncKind, WorkerSync};
use crate::types::{FlowKey, L4Proto, PortIdx};
use crate::wire::checksum;
use crate::wire::{parse_frame, peek_ip, DropReason, IcmpInner, ParsedFrame, L3, L4};

/// What to do with a frame after the pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Transmit on this port (the frame is rewritten).
    Tx(PortIdx),
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
    Resolve {
        /// The neighbour to resolve.
        neighbour: IpAddr,
        /// The port it is on.
        port: PortIdx,
    },
}

/// A frame [`parse_frame`] refused. One refused for its IP protocol is the box's own when it is addressed to
/// the box (VRRP, OSPF, IGMP, PIM, ... to one of its addresses or a link-local group), for the
/// kernel behind the exception path to judge, malformed or not; dropped otherwise. Only
/// refused frames come here, so the forwarding path pays nothing for it.
#[cold]
#[inline(never)]
fn refused(snap: &Snapshot, data: &[u8], r: DropReason) -> Verdict {
    match (r, peek_ip(data)) {
        (DropReason::UnsupportedL4Proto, Some(k)) if snap.is_for_box(k.dst) => {
            Verdict::Punt(Punt::Local)
        }
        _ => Verdict::Drop(r),
    }
}

/// Count a frame to an address this gateway does not own (director HA). Out of line: the
/// set lookup stays off the forwarding path, which only tests the snapshot's flag.
#[cold]
#[inline(never)]
fn count_not_owned(c: &WorkerCounters, snap: &Snapshot, l3: &L3) {
    let dst = match *l3 {
        L3::Ipv4 { dst, .. } => IpAddr::V4(dst),
        L3::Ipv6 { dst, .. } => IpAddr::V6(dst),
        L3::Arp => return,
    };
    if !snap.is_owned(dst) {
        c.ha_not_owned.inc();
    }
}

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
        }
    }
}

/// Frames per prefetch stage in [`Worker::process`] (a burst is at most this in practice).
const STAGE: usize = 64;
/// Default [`WorkerConfig::prefetch_from`]: about 1.5 MiB of slab and index, more than a core's
/// L2.
pub const PREFETCH_FROM: usize = 16 * 1024;

/// How many local ports a new FullNAT flow tries before giving up.
const LPORT_TRIES: u32 = 16;
/// RSS-aware choice: candidate ports hashed per try to find one whose reply lands on this
/// worker (about `workers` are needed on average with a round-robin redirection table; each
/// costs two table reads).
const RSS_SCAN: u32 = 1024;
/// TTL of headers the gateway originates (TUN outer header, ICMP errors, echo replies).
const ORIGIN_TTL: u8 = 64;

/// One worker's state: its session tables, scheduler state and counters.
#[derive(Debug)]
pub struct Worker {
    cfg: WorkerConfig,
    tables: Tables,
    /// Per service id: the scheduler's signature and this worker's state for it.
    sched: Vec<Option<(u64, SchedState)>>,
    generation: Option<u64>,
    loads: Vec<BackendLoad>,
    lport_cursor: u32,
    /// RSS-aware choice: where the next scan for a port starts.
    rss_port_cursor: u32,
    counters: Arc<WorkerCounters>,
    /// Session sync, when on ([`crate::sync`]).
    sync: Option<WorkerSync>,
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
            lport_cursor: u32::from(cfg.id).wrapping_mul(0x9e37),
            rss_port_cursor: u32::from(cfg.id).wrapping_mul(0x9e37_79b9),
            cfg,
            tables,
            generation: None,
            counters,
            sync: None,
        }
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
        self.generation = Some(snap.generation);
        self.counters.generation.set(snap.generation);
    }

    /// Run a bounded amount of session and template expiry (call once per loop iteration).
    pub fn tick(&mut self, now: u32) {
        let budget = self.cfg.expire_budget;
        let c = &self.counters;
        let link = &mut self.sync;
        let on_expire4 = |_: SlotId, s: &Session<core::net::Ipv4Addr>| {
            if !s.is_sync_stub() {
                gone(c, s.service(), s.backend_idx(), s.is_active());
                sync::publish(link, c, SyncKind::Deleted(DeleteReason::Expired), s, now);
            }
        };
        self.tables.s4.expire(now, budget, on_expire4);
        let on_expire6 = |_: SlotId, s: &Session<core::net::Ipv6Addr>| {
            if !s.is_sync_stub() {
                gone(c, s.service(), s.backend_idx(), s.is_active());
                sync::publish(link, c, SyncKind::Deleted(DeleteReason::Expired), s, now);
            }
        };
        self.tables.s6.expire(now, budget, on_expire6);
        self.tables.p4.expire(now, budget);
        self.tables.p6.expire(now, budget);
        c.sessions4.set(self.tables.s4.len() as u64);
        c.sessions6.set(self.tables.s6.len() as u64);
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

    /// Process one frame; the caller has already synced to `snap`'s generation.
    fn process_synced<F: Frame>(
        &mut self,
        snap: &Snapshot,
        now: u32,
        in_port: PortIdx,
        frame: &mut F,
    ) -> Verdict {
        let c = &self.counters;
        c.rx.inc();
        let v = match parse_frame(frame.data()) {
            Err(r) => refused(snap, frame.data(), r),
            Ok(p) => {
                // Director HA: a switch may still send traffic for an address the peer now
                // owns; forward it (sessions must not break on a late switch) and count it.
                if snap.any_not_owned() {
                    count_not_owned(&self.counters, snap, &p.l3);
                }
                match p.l3 {
                    L3::Arp => Verdict::Punt(Punt::Arp),
                    L3::Ipv4 { src, dst } => self.ip(snap, now, in_port, frame, &p, src, dst),
                    L3::Ipv6 { src, dst } => self.ip(snap, now, in_port, frame, &p, src, dst),
                }
            }
        };
        let c = &self.counters;
        match v {
            Verdict::Tx(_) => c.tx.inc(),
            Verdict::Punt(_) => c.punted.inc(),
            Verdict::Redirect(_) => c.redirected.inc(),
            Verdict::Drop(r) => c.drop_reason(r),
        }
        v
    }

    #[allow(clippy::too_many_arguments)]
    fn ip<A: Family, F: Frame>(
        &mut self,
        snap: &Snapshot,
        now: u32,
        in_port: PortIdx,
        frame: &mut F,
        p: &ParsedFrame,
        src: A,
        dst: A,
    ) -> Verdict
    where
        L4: IcmpOf<A>,
    {
        match p.l4 {
            L4::Tcp {
                src_port,
                dst_port,
                flags,
            } => {
                let key = A::flow_key(src, src_port, dst, dst_port, L4Proto::Tcp);
                self.l4(
                    snap,
                    now,
                    in_port,
                    frame,
                    p,
                    key,
                    (src, dst, src_port, dst_port, L4Proto::Tcp),
                    flags,
                )
            }
            L4::Udp { src_port, dst_port } => {
                let key = A::flow_key(src, src_port, dst, dst_port, L4Proto::Udp);
                self.l4(
                    snap,
                    now,
                    in_port,
                    frame,
                    p,
                    key,
                    (src, dst, src_port, dst_port, L4Proto::Udp),
                    0,
                )
            }
            L4::Icmpv4 { .. } | L4::Icmpv6 { .. } => {
                let (msg_type, inner) = <L4 as IcmpOf<A>>::icmp(&p.l4);
                self.icmp(snap, now, in_port, frame, p, src, dst, msg_type, inner)
            }
            L4::None => {
                if snap.is_for_box(dst.ip()) {
                    Verdict::Punt(Punt::Local)
                } else {
                    Verdict::Drop(DropReason::UnsupportedL4Proto)
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn l4<A: Family, F: Frame>(
        &mut self,
        snap: &Snapshot,
        now: u32,
        in_port: PortIdx,
        frame: &mut F,
        p: &ParsedFrame,
        key: FlowKey<A>,
        (src, dst, sport, dport, proto): (A, A, u16, u16, L4Proto),
        tcp_flags: u8,
    ) -> Verdict {
        let t = A::sessions(&mut self.tables);
        let h = t.hash(&key);
        if let Some((slot, dir)) = t.lookup_hashed(h, &key) {
            if let Some(home) = sync::on_hit(t, slot, dir, now, in_port, frame) {
                return Verdict::Redirect(home);
            }
            if self.sync.is_some() {
                return self.forward_synced::<A, F>(snap, now, frame, p, slot, dir, tcp_flags);
            }
            return self.forward::<A, F>(snap, now, frame, p, slot, dir, tcp_flags, false);
        }
        let (src_ip, dst_ip) = (src.ip(), dst.ip());
        if let Some(sid) = snap.service_for(dst_ip, dport, proto) {
            return self.new_flow(
                snap,
                now,
                in_port,
                frame,
                p,
                sid,
                (src, dst, sport, dport, proto),
                tcp_flags,
            );
        }
        if snap.is_own(dst_ip) {
            return Verdict::Punt(Punt::Local);
        }
        let laddr = snap.is_laddr(dst_ip);
        let nat_reply = snap.is_nat_backend(src_ip, sport, proto);
        if self.cfg.workers > 1 {
            let owner = if laddr {
                // A reply backend:bport -> laddr:lport.
                let w = self.cfg.workers;
                Some(
                    self.cfg
                        .reply_steering
                        .owner(src_ip, sport, dst_ip, dport, w),
                )
            } else if nat_reply {
                Some(nat_owner(dst_ip, self.cfg.workers))
            } else {
                None
            };
            if let Some(o) = owner.filter(|&o| o != self.cfg.id) {
                return Verdict::Redirect(o);
            }
        }
        if laddr || nat_reply {
            Verdict::Drop(DropReason::NoSession)
        } else if snap.is_vip(dst_ip) {
            Verdict::Drop(DropReason::NoService)
        } else if is_link_local_multicast(dst_ip) {
            // RIP, mDNS, DHCPv6, ... on the link: the kernel's (checked last, off the path of
            // every packet that is ours to forward).
            Verdict::Punt(Punt::Local)
        } else {
            Verdict::Drop(DropReason::NotForUs)
        }
    }

    /// Start a flow to service `sid`: persistence, scheduler, session, then forward.
    #[allow(clippy::too_many_arguments)]
    fn new_flow<A: Family, F: Frame>(
        &mut self,
        snap: &Snapshot,
        now: u32,
        in_port: PortIdx,
        frame: &mut F,
        p: &ParsedFrame,
        sid: u16,
        (client, vip, cport, vport, proto): (A, A, u16, u16, L4Proto),
        tcp_flags: u8,
    ) -> Verdict {
        let Some(svc) = snap.service(sid) else {
            return Verdict::Drop(DropReason::NoService);
        };
        // Redirect before the SYN check: a NAT or persistent connection's session lives on the
        // owner, so its non-SYN packets miss here on every other worker and must follow.
        if self.cfg.workers > 1 {
            let owner = if svc.has_nat {
                Some(nat_owner(client.ip(), self.cfg.workers))
            } else {
                svc.persistence
                    .map(|ps| persist_owner(client.ip(), ps.prefix_len, self.cfg.workers))
            };
            if let Some(o) = owner.filter(|&o| o != self.cfg.id) {
                return Verdict::Redirect(o);
            }
        }
        let flags = TcpFlags::from_bits(tcp_flags);
        let mid_flow = proto == L4Proto::Tcp && !(flags.syn && !flags.ack && !flags.rst);
        // IPVS's `sloppy_tcp`: any packet but a RST may start the flow, where every gateway
        // would pick the same backend (ECMP moved the flow here, or its session expired).
        if mid_flow && (flags.rst || !svc.sloppy_tcp) {
            return Verdict::Drop(DropReason::NotSynForNewTcp);
        }
        let Some(bid) = self.choose_backend(snap, now, sid, svc, client, vip, cport) else {
            return Verdict::Drop(DropReason::NoBackend);
        };
        let Some(b) = snap.backend(bid) else {
            return Verdict::Drop(DropReason::NoBackend);
        };
        let Some(baddr) = A::from_ip(b.addr) else {
            return Verdict::Drop(DropReason::UnsupportedMode);
        };
        if A::V6 && b.method == FwdMethod::Tun {
            return Verdict::Drop(DropReason::UnsupportedMode);
        }
        // A port-0 real server of a port-0 (persistent, any-port) service takes the client's
        // destination port, as IPVS does.
        let bport = if b.port == 0 { vport } else { b.port };
        let (out_port, mac) = match snap.next_hop(b.addr) {
            Ok(hop) => hop,
            Err(NextHopError::NoRoute) => return Verdict::Drop(DropReason::NoRoute),
            Err(NextHopError::Unresolved { neighbour, port }) => {
                return Verdict::Punt(Punt::Resolve { neighbour, port });
            }
        };
        let (laddr, lport) = match b.method {
            FwdMethod::FullNat => match self.pick_lport(svc, baddr, bport, proto) {
                Some(l) => l,
                None => {
                    self.counters.insert_failures.inc();
                    return Verdict::Drop(DropReason::LocalPortsExhausted);
                }
            },
            FwdMethod::Nat => (client, cport),
            FwdMethod::Dr | FwdMethod::Tun => (A::UNSPECIFIED, 0),
        };
        let dir = if b.method.sees_replies() {
            TcpDir::Input
        } else {
            TcpDir::InputOnly
        };
        let new = NewSession {
            client,
            cport,
            vip,
            vport,
            backend: baddr,
            bport,
            laddr,
            lport,
            proto,
            method: b.method,
            state: if mid_flow {
                sloppy_tcp_state(dir, flags)
            } else {
                tcp_transition(TcpState::None, dir, flags)
            },
            service: sid,
            backend_idx: bid,
            next_hop_mac: mac,
            backend_port: out_port,
            client_port: in_port,
            client_mac: src_mac(frame.data()),
            flags: 0,
        };
        let t = A::sessions(&mut self.tables);
        let slot = match t.insert(now, &new) {
            Ok(slot) => slot,
            Err(e) => {
                self.counters.insert_failures.inc();
                return Verdict::Drop(match e {
                    InsertError::Duplicate(Direction::Reply) => DropReason::LocalPortsExhausted,
                    _ => DropReason::SessionTableFull,
                });
            }
        };
        let active = t.get(slot).is_some_and(Session::is_active);
        let c = &self.counters;
        c.sessions_created.inc();
        if mid_flow {
            c.sessions_mid_flow.inc();
        }
        for tc in [c.service(sid), c.backend(bid)].into_iter().flatten() {
            tc.conns.inc();
            if active {
                tc.active.inc();
            } else {
                tc.inactive.inc();
            }
        }
        let v = self.forward::<A, F>(
            snap,
            now,
            frame,
            p,
            slot,
            Direction::Inbound,
            tcp_flags,
            true,
        );
        // Published after the rewrite, which may have set flags (TOA on the SYN).
        if self.sync.is_some() {
            self.publish_slot::<A>(SyncKind::Created, slot, now);
        }
        v
    }

    /// Persistence template, else the scheduler, else the sorry server.
    #[allow(clippy::too_many_arguments)]
    fn choose_backend<A: Family>(
        &mut self,
        snap: &Snapshot,
        now: u32,
        sid: u16,
        svc: &Service,
        client: A,
        vip: A,
        cport: u16,
    ) -> Option<u16> {
        let persist = svc.persistence;
        if let Some(ps) = persist {
            let mask = A::prefix_mask(ps.prefix_len);
            let pt = A::persist(&mut self.tables);
            if let Some(bid) = pt.lookup(now, sid, client, mask, ps.timeout_s) {
                // A template keeps pointing at a quiescent (weight 0) server, as IPVS does, but
                // not at one that is gone or failed its health check, nor at an inhibited
                // (weight 0) one that is down under the `drop` policy (the kernel's
                // `expire_quiescent_template`). The pick below replaces such a template.
                if snap
                    .backend(bid)
                    .is_some_and(|b| b.service == sid && b.available && !b.drop_sessions)
                {
                    return Some(bid);
                }
            }
        }
        let state = self
            .sched
            .get_mut(usize::from(sid))?
            .as_mut()
            .map(|(_, s)| s)?;
        self.loads.clear();
        if svc.needs_loads {
            for &bid in &svc.backends {
                let l = self
                    .counters
                    .backend(bid)
                    .map_or(BackendLoad::default(), |tc| BackendLoad {
                        active: u32::try_from(tc.active.get()).unwrap_or(u32::MAX),
                        inactive: u32::try_from(tc.inactive.get()).unwrap_or(u32::MAX),
                    });
                self.loads.push(l);
            }
        }
        let ctx = PickCtx {
            src_hash: hash::addr(client.ip()),
            dst_hash: hash::addr(vip.ip()),
            src_port: cport,
            loads: &self.loads,
        };
        let picked = svc.scheduler.pick(state, &ctx).or(svc.sorry)?;
        if let Some(ps) = persist {
            let mask = A::prefix_mask(ps.prefix_len);
            // A full template table only costs stickiness for this client; the flow goes on.
            let pt = A::persist(&mut self.tables);
            if pt
                .insert(now, sid, client, mask, picked, ps.timeout_s)
                .is_ok()
            {
                let c = &self.counters;
                sync::publish_template(&mut self.sync, c, snap, svc, client, picked, ps.timeout_s);
            }
        }
        Some(picked)
    }

    /// Choose a FullNAT local address and a port this worker owns whose reply key is free.
    fn pick_lport<A: Family>(
        &mut self,
        svc: &Service,
        backend: A,
        bport: u16,
        proto: L4Proto,
    ) -> Option<(A, u16)> {
        let laddrs = &svc.laddrs;
        let n = u32::try_from(laddrs.len()).ok().filter(|&n| n > 0)?;
        if let ReplySteering::Rss(rs) = &self.cfg.reply_steering {
            return pick_lport_rss(
                rs,
                A::sessions(&mut self.tables),
                laddrs,
                (&mut self.lport_cursor, &mut self.rss_port_cursor),
                (self.cfg.id, self.cfg.lport_min),
                backend,
                bport,
                proto,
            );
        }
        let workers = u32::from(self.cfg.workers);
        let id = u32::from(self.cfg.id);
        // Ports base + k*workers + id, k in 0..span, all owned by this worker.
        let base = u32::from(self.cfg.lport_min).div_ceil(workers) * workers;
        let span = (65536 - base - id).div_ceil(workers);
        let t = A::sessions(&mut self.tables);
        for _ in 0..LPORT_TRIES {
            let c = self.lport_cursor;
            self.lport_cursor = c.wrapping_add(1);
            let Some(laddr) = A::from_ip(laddrs[(c % n) as usize]) else {
                continue;
            };
            let lport = u16::try_from(base + ((c / n) % span) * workers + id).ok()?;
            let reply = A::flow_key(backend, bport, laddr, lport, proto);
            if t.lookup(&reply).is_none() {
                return Some((laddr, lport));
            }
        }
        None
    }

    /// Forward a packet of an existing session in direction `dir`.
    #[allow(clippy::too_many_arguments)]
    fn forward<A: Family, F: Frame>(
        &mut self,
        snap: &Snapshot,
        now: u32,
        frame: &mut F,
        p: &ParsedFrame,
        slot: SlotId,
        dir: Direction,
        tcp_flags: u8,
        fresh: bool,
    ) -> Verdict {
        let t = A::sessions(&mut self.tables);
        // The `drop` session policy: one flag load unless some backend or service uses it.
        if !fresh && snap.drops_sessions() {
            if let Some(s) = t.get(slot).filter(|s| backend_dead(snap, s)) {
                let (sid, bid, active) = (s.service(), s.backend_idx(), s.is_active());
                if let Some(s) = t.remove(slot) {
                    let why = SyncKind::Deleted(DeleteReason::Removed);
                    sync::publish_cold(&mut self.sync, &self.counters, why, &s, now);
                }
                gone(&self.counters, sid, bid, active);
                return Verdict::Drop(DropReason::BackendDown);
            }
        }
        let change = if p.l4_proto == 6 && !fresh {
            t.update_tcp_state(slot, now, dir, TcpFlags::from_bits(tcp_flags))
        } else {
            if !fresh {
                t.touch(slot, now);
            }
            None
        };
        let Some(&s) = t.get(slot) else {
            return Verdict::Drop(DropReason::NoSession);
        };
        if let Some(ch) = change {
            moved(&self.counters, s.service(), s.backend_idx(), ch);
        }
        let flow = Flow { s, slot };
        let bytes = (p.l3_end - p.l3_off) as u64;
        let c = &self.counters;
        for tc in [c.service(s.service()), c.backend(s.backend_idx())]
            .into_iter()
            .flatten()
        {
            if dir == Direction::Inbound {
                tc.in_pkts.inc();
                tc.in_bytes.add(bytes);
            } else {
                tc.out_pkts.inc();
                tc.out_bytes.add(bytes);
            }
        }
        match dir {
            Direction::Inbound => self.towards_backend(snap, frame, p, &flow, tcp_flags),
            Direction::Reply => to_client(snap, frame, p, &flow.s),
        }
    }

    /// Rewrite a client packet for its backend.
    fn towards_backend<A: Family, F: Frame>(
        &mut self,
        snap: &Snapshot,
        frame: &mut F,
        p: &ParsedFrame,
        f: &Flow<A>,
        tcp_flags: u8,
    ) -> Verdict {
        let s = &f.s;
        let out = s.backend_port;
        let Some(port) = snap.ports.get(usize::from(out)) else {
            return Verdict::Drop(DropReason::NoRoute);
        };
        let proto = s.proto();
        match s.method() {
            FwdMethod::Dr => {
                set_macs(frame.data_mut(), &s.next_hop_mac, &port.mac);
                Verdict::Tx(out)
            }
            FwdMethod::Tun => encap_ipip(
                snap,
                frame,
                p,
                s.backend(),
                &s.next_hop_mac,
                out,
                s.client_port,
                &self.counters,
            ),
            FwdMethod::Nat => {
                let d = frame.data_mut();
                if !A::dec_ttl(d, p.l3_off) {
                    return Verdict::Drop(DropReason::TtlExceeded);
                }
                rewrite::rewrite_endpoint(
                    d,
                    p.l3_off,
                    p.l4_off,
                    proto,
                    false,
                    s.backend(),
                    s.bport(),
                );
                set_macs(d, &s.next_hop_mac, &port.mac);
                Verdict::Tx(out)
            }
            FwdMethod::FullNat => {
                let d = frame.data_mut();
                if !A::dec_ttl(d, p.l3_off) {
                    return Verdict::Drop(DropReason::TtlExceeded);
                }
                rewrite::rewrite_endpoint(d, p.l3_off, p.l4_off, proto, true, s.laddr(), s.lport());
                rewrite::rewrite_endpoint(
                    d,
                    p.l3_off,
                    p.l4_off,
                    proto,
                    false,
                    s.backend(),
                    s.bport(),
                );
                set_macs(d, &s.next_hop_mac, &port.mac);
                if proto == L4Proto::Tcp && s.flags & Session::<A>::FLAG_TOA_SENT == 0 {
                    self.maybe_toa(snap, frame, p, f, tcp_flags, port.mtu);
                }
                Verdict::Tx(out)
            }
        }
    }

    /// Insert TOA on the packet the service asks for (SYN, or the first ACK).
    fn maybe_toa<A: Family, F: Frame>(
        &mut self,
        snap: &Snapshot,
        frame: &mut F,
        p: &ParsedFrame,
        f: &Flow<A>,
        tcp_flags: u8,
        mtu: u16,
    ) {
        let s = &f.s;
        let Some(svc) = snap.service(s.service()) else {
            return;
        };
        let fl = TcpFlags::from_bits(tcp_flags);
        let wanted = match svc.toa {
            ToaMode::Off => false,
            ToaMode::Syn => fl.syn && !fl.ack,
            ToaMode::Ack => fl.ack && !fl.syn && !fl.rst,
        };
        if !wanted {
            return;
        }
        let c = &self.counters;
        if rewrite::insert_toa(
            frame,
            p.l3_off,
            p.l4_off,
            p.l3_end,
            mtu,
            s.client(),
            s.cport(),
        ) {
            c.toa_inserted.inc();
        } else {
            c.toa_skipped.inc();
        }
        // One attempt per connection: mark it either way so a header without room is not
        // re-examined on every packet.
        if let Some(rec) = A::sessions(&mut self.tables).get_mut(f.slot) {
            rec.flags |= Session::<A>::FLAG_TOA_SENT;
        }
    }

    /// ICMP: echo to a VIP is answered, errors about a session are translated, the rest goes
    /// to the box (own addresses) or is dropped.
    #[allow(clippy::too_many_arguments)]
    fn icmp<A: Family, F: Frame>(
        &mut self,
        snap: &Snapshot,
        now: u32,
        in_port: PortIdx,
        frame: &mut F,
        p: &ParsedFrame,
        src: A,
        dst: A,
        msg_type: u8,
        inner: Option<IcmpInner<A>>,
    ) -> Verdict {
        let own = snap.is_own(dst.ip());
        let (echo_req, nd) = if A::V6 {
            (128, (133..=137).contains(&msg_type))
        } else {
            (8, false)
        };
        if nd {
            return Verdict::Punt(Punt::Nd);
        }
        if let Some(inner) = inner {
            return match self.icmp_error(snap, now, frame, p, inner) {
                Verdict::Drop(DropReason::IcmpNoSession) if own => Verdict::Punt(Punt::Local),
                v => v,
            };
        }
        if own {
            return Verdict::Punt(Punt::Local);
        }
        if msg_type == echo_req && snap.is_vip(dst.ip()) {
            self.counters.icmp_echo_answered.inc();
            return echo_reply(snap, frame, p, src, dst, in_port);
        }
        if snap.is_vip(dst.ip()) {
            Verdict::Drop(DropReason::UnsupportedIcmpType)
        } else if is_link_local_multicast(dst.ip()) {
            // MLD, echo to all-nodes, router solicitations: the kernel's.
            Verdict::Punt(Punt::Local)
        } else {
            Verdict::Drop(DropReason::NotForUs)
        }
    }

    /// Translate an ICMP error quoting a packet of a session and send it to the flow's other
    /// end (so path-MTU discovery works through NAT and FullNAT).
    fn icmp_error<A: Family, F: Frame>(
        &mut self,
        snap: &Snapshot,
        now: u32,
        frame: &mut F,
        p: &ParsedFrame,
        inner: IcmpInner<A>,
    ) -> Verdict {
        let Some(proto) = L4Proto::from_number(inner.proto) else {
            return Verdict::Drop(DropReason::IcmpNoSession);
        };
        // The quote is a packet as it was sent; its reverse is how the session knows the flow.
        let rev = A::flow_key(inner.dst, inner.dst_port, inner.src, inner.src_port, proto);
        let t = A::sessions(&mut self.tables);
        let Some((slot, dir)) = t.lookup(&rev) else {
            // ICMP carries no ports for RSS, so an error about another worker's flow lands
            // anywhere: send it to the owner when the quote names one (DESIGN §5).
            let steer = &self.cfg.reply_steering;
            return match icmp_owner(snap, &inner, proto, self.cfg.workers, steer) {
                Some(o) if o != self.cfg.id => Verdict::Redirect(o),
                _ => Verdict::Drop(DropReason::IcmpNoSession),
            };
        };
        if let Some(home) = sync::stub_home(t, slot, now) {
            return Verdict::Redirect(home);
        }
        t.touch(slot, now);
        let Some(&s) = t.get(slot) else {
            return Verdict::Drop(DropReason::IcmpNoSession);
        };
        self.counters.icmp_translated.inc();
        let (l3, q3, q4) = (p.l3_off, inner.l3_off, inner.l4_off);
        let quoted_l4 = p.l3_end.saturating_sub(q4);
        match dir {
            // The quote is a packet we sent towards the backend: tell the client about its own
            // packet as it sent it.
            Direction::Reply => {
                let Some(port) = snap.ports.get(usize::from(s.client_port)) else {
                    return Verdict::Drop(DropReason::NoRoute);
                };
                let d = frame.data_mut();
                if !A::dec_ttl(d, l3) {
                    return Verdict::Drop(DropReason::TtlExceeded);
                }
                A::set_src(d, l3, s.vip());
                A::set_dst(d, l3, s.client());
                rewrite_quote(d, q3, q4, quoted_l4, proto, true, s.client(), s.cport());
                rewrite_quote(d, q3, q4, quoted_l4, proto, false, s.vip(), s.vport());
                fill_icmp_checksum::<A>(d, l3, p.l4_off, p.l3_end);
                set_macs(d, &s.client_mac, &port.mac);
                Verdict::Tx(s.client_port)
            }
            // The quote is a reply towards the client: pass the error to the backend, in the
            // terms of the packet the backend sent.
            Direction::Inbound => {
                let out = s.backend_port;
                let Some(port) = snap.ports.get(usize::from(out)) else {
                    return Verdict::Drop(DropReason::NoRoute);
                };
                match s.method() {
                    FwdMethod::Dr => {
                        set_macs(frame.data_mut(), &s.next_hop_mac, &port.mac);
                        Verdict::Tx(out)
                    }
                    FwdMethod::Tun => encap_ipip(
                        snap,
                        frame,
                        p,
                        s.backend(),
                        &s.next_hop_mac,
                        out,
                        s.client_port,
                        &self.counters,
                    ),
                    FwdMethod::Nat | FwdMethod::FullNat => {
                        let d = frame.data_mut();
                        if !A::dec_ttl(d, l3) {
                            return Verdict::Drop(DropReason::TtlExceeded);
                        }
                        A::set_dst(d, l3, s.backend());
                        rewrite_quote(d, q3, q4, quoted_l4, proto, true, s.backend(), s.bport());
                        if s.method() == FwdMethod::FullNat {
                            A::set_src(d, l3, s.laddr());
                            rewrite_quote(d, q3, q4, quoted_l4, proto, false, s.laddr(), s.lport());
                        }
                        fill_icmp_checksum::<A>(d, l3, p.l4_off, p.l3_end);
                        set_macs(d, &s.next_hop_mac, &port.mac);
                        Verdict::Tx(out)
                    }
                }
            }
        }
    }
}

/// [`Worker::pick_lport`] under [`ReplySteering::Rss`]: a local address in turn, then the next
/// port from the scan cursor whose reply tuple (`backend:bport -> laddr:lport`) RSS delivers to
/// worker `id`, if its reply key is free. The hash of the fixed part of the tuple is computed
/// once per address; each candidate port costs two table reads (see [`crate::rss`]).
#[allow(clippy::too_many_arguments)]
fn pick_lport_rss<A: Family>(
    rs: &RssSteer,
    t: &mut SessionTable<A>,
    laddrs: &[IpAddr],
    (laddr_cursor, port_cursor): (&mut u32, &mut u32),
    (id, lport_min): (u16, u16),
    backend: A,
    bport: u16,
    proto: L4Proto,
) -> Option<(A, u16)> {
    let n = u32::try_from(laddrs.len()).ok().filter(|&n| n > 0)?;
    let span = 65536 - u32::from(lport_min);
    for _ in 0..LPORT_TRIES {
        let c = *laddr_cursor;
        *laddr_cursor = c.wrapping_add(1);
        let Some(laddr) = A::from_ip(laddrs[(c % n) as usize]) else {
            continue;
        };
        let Some(partial) = rs.toeplitz().partial(backend.ip(), laddr.ip(), bport) else {
            continue;
        };
        for _ in 0..RSS_SCAN {
            let k = *port_cursor;
            *port_cursor = k.wrapping_add(1);
            let Ok(lport) = u16::try_from(u32::from(lport_min) + k % span) else {
                continue;
            };
            if rs.worker(rs.lport_hash(partial, A::V6, lport)) != id {
                continue;
            }
            let reply = A::flow_key(backend, bport, laddr, lport, proto);
            if t.lookup(&reply).is_none() {
                return Some((laddr, lport));
            }
            // Taken: the next try moves to the next address.
            break;
        }
    }
    None
}

/// Rewrite a reply for the client (NAT: source; FullNAT: source and destination).
fn to_client<A: Family, F: Frame>(
    snap: &Snapshot,
    frame: &mut F,
    p: &ParsedFrame,
    s: &Session<A>,
) -> Verdict {
    let out = s.client_port;
    let Some(port) = snap.ports.get(usize::from(out)) else {
        return Verdict::Drop(DropReason::NoRoute);
    };
    if s.flags & Session::<A>::FLAG_CLIENT_UNKNOWN != 0 {
        // A synced session that has not seen its client here yet: no next hop to send to.
        return Verdict::Drop(DropReason::NoRoute);
    }
    let proto = s.proto();
    let d = frame.data_mut();
    if !A::dec_ttl(d, p.l3_off) {
        return Verdict::Drop(DropReason::TtlExceeded);
    }
    rewrite::rewrite_endpoint(d, p.l3_off, p.l4_off, proto, true, s.vip(), s.vport());
    if s.method() == FwdMethod::FullNat {
        rewrite::rewrite_endpoint(d, p.l3_off, p.l4_off, proto, false, s.client(), s.cport());
    }
    set_macs(d, &s.client_mac, &port.mac);
    Verdict::Tx(out)
}

/// Rewrite one endpoint (source or destination) of the packet quoted in an ICMP error: the
/// quoted IP header's address (and, for IPv4, its header checksum), the port, and the quoted
/// L4 checksum when the quote reaches it.
#[allow(clippy::too_many_arguments)]
fn rewrite_quote<A: Family>(
    d: &mut [u8],
    q3: usize,
    q4: usize,
    quoted_l4: usize,
    proto: L4Proto,
    src: bool,
    addr: A,
    port: u16,
) {
    let old_addr = if src { A::src(d, q3) } else { A::dst(d, q3) };
    if src {
        A::set_src(d, q3, addr);
    } else {
        A::set_dst(d, q3, addr);
    }
    let poff = if src { q4 } else { q4 + 2 };
    let old_port = rd16(d, poff);
    wr16(d, poff, port);
    let coff = rewrite::l4_csum_off(proto);
    if quoted_l4 >= coff + 2 {
        let udp = proto == L4Proto::Udp;
        let mut c = rd16(d, q4 + coff);
        c = A::pseudo_update(c, old_addr, addr, udp);
        c = if udp {
            checksum::udp_update16(c, old_port, port)
        } else {
            checksum::update16(c, old_port, port)
        };
        wr16(d, q4 + coff, c);
    }
}

/// Recompute the ICMP (v4) or ICMPv6 (pseudo-header) checksum of the message at `l4..end`.
fn fill_icmp_checksum<A: Family>(d: &mut [u8], l3: usize, l4: usize, end: usize) {
    wr16(d, l4 + 2, 0);
    let c = if A::V6 {
        let (s, t) = (A::src(d, l3).ip(), A::dst(d, l3).ip());
        match (s, t) {
            (IpAddr::V6(s), IpAddr::V6(t)) => checksum::l4_checksum_v6(&s, &t, 58, &d[l4..end]),
            _ => 0,
        }
    } else {
        checksum::checksum(&d[l4..end])
    };
    wr16(d, l4 + 2, c);
}

/// Answer an echo request to a VIP from the gateway itself, out of the port it came in on.
fn echo_reply<A: Family, F: Frame>(
    snap: &Snapshot,
    frame: &mut F,
    p: &ParsedFrame,
    src: A,
    dst: A,
    in_port: PortIdx,
) -> Verdict {
    let Some(port) = snap.ports.get(usize::from(in_port)) else {
        return Verdict::Drop(DropReason::NoRoute);
    };
    let d = frame.data_mut();
    let peer = src_mac(d);
    set_macs(d, &peer, &port.mac);
    A::set_src(d, p.l3_off, dst);
    A::set_dst(d, p.l3_off, src);
    if A::V6 {
        d[p.l3_off + 7] = ORIGIN_TTL;
    } else {
        d[p.l3_off + 8] = ORIGIN_TTL;
        fill_ipv4_header_checksum(d, p.l3_off, p.l4_off);
    }
    // Echo reply is type 0 (ICMPv4) or 129 (ICMPv6); code 0.
    d[p.l4_off] = if A::V6 { 129 } else { 0 };
    fill_icmp_checksum::<A>(d, p.l3_off, p.l4_off, p.l3_end);
    Verdict::Tx(in_port)
}

fn fill_ipv4_header_checksum(d: &mut [u8], l3: usize, l4: usize) {
    wr16(d, l3 + 10, 0);
    let c = checksum::checksum(&d[l3..l4]);
    wr16(d, l3 + 10, c);
}

/// IP-in-IP: put an outer IPv4 header (gateway -> backend) in front of the client's packet.
/// Too big with DF set: ICMP "fragmentation needed" back to the client instead.
#[allow(clippy::too_many_arguments)]
fn encap_ipip<A: Family, F: Frame>(
    snap: &Snapshot,
    frame: &mut F,
    p: &ParsedFrame,
    backend: A,
    mac: &[u8; 6],
    out: PortIdx,
    client_port: PortIdx,
    c: &WorkerCounters,
) -> Verdict {
    let IpAddr::V4(backend) = backend.ip() else {
        return Verdict::Drop(DropReason::UnsupportedMode);
    };
    let Some(port) = snap.ports.get(usize::from(out)) else {
        return Verdict::Drop(DropReason::NoRoute);
    };
    let Some(&outer_src) = port.addrs4.first() else {
        return Verdict::Drop(DropReason::TunNoSource);
    };
    let inner_len = p.l3_end - p.l3_off;
    if inner_len + 20 > usize::from(port.mtu) {
        if p.dont_frag {
            let v = frag_needed(snap, frame, p, port.mtu.saturating_sub(20), client_port);
            if let Verdict::Tx(_) = v {
                c.icmp_frag_needed_sent.inc();
            }
            return v;
        }
        return Verdict::Drop(DropReason::MtuExceeded);
    }
    let l2 = p.l3_off;
    let pad = frame.len() - p.l3_end;
    if pad > 0 && !frame.trim(pad) {
        return Verdict::Drop(DropReason::MtuExceeded);
    }
    let Some(d) = frame.prepend(20) else {
        return Verdict::Drop(DropReason::MtuExceeded);
    };
    d.copy_within(20..20 + l2, 0);
    let tos = d[l2 + 20 + 1];
    let total = u16::try_from(inner_len + 20).unwrap_or(u16::MAX);
    let o = &mut d[l2..l2 + 20];
    o[0] = 0x45;
    o[1] = tos;
    o[2..4].copy_from_slice(&total.to_be_bytes());
    o[4..6].copy_from_slice(&[0, 0]);
    o[6..8].copy_from_slice(&(if p.dont_frag { 0x4000u16 } else { 0 }).to_be_bytes());
    o[8] = ORIGIN_TTL;
    o[9] = 4; // IP-in-IP
    o[12..16].copy_from_slice(&outer_src.octets());
    o[16..20].copy_from_slice(&backend.octets());
    fill_ipv4_header_checksum(d, l2, l2 + 20);
    set_macs(d, mac, &port.mac);
    Verdict::Tx(out)
}

/// Replace the frame by an ICMP "fragmentation needed" (type 3 code 4) to its sender, quoting
/// its IP header and first 8 payload bytes, sent back out of the port it came in on.
fn frag_needed<F: Frame>(
    snap: &Snapshot,
    frame: &mut F,
    p: &ParsedFrame,
    mtu: u16,
    in_port: PortIdx,
) -> Verdict {
    let Some(port) = snap.ports.get(usize::from(in_port)) else {
        return Verdict::Drop(DropReason::NoRoute);
    };
    let (l2, l3) = (p.l3_off, p.l3_off);
    let quote_len = (p.l4_off - l3 + 8).min(p.l3_end - l3);
    let mut quote = [0u8; 68];
    let (client, gw_src) = {
        let d = frame.data();
        quote[..quote_len].copy_from_slice(&d[l3..l3 + quote_len]);
        let client = core::net::Ipv4Addr::new(d[l3 + 12], d[l3 + 13], d[l3 + 14], d[l3 + 15]);
        let vip = core::net::Ipv4Addr::new(d[l3 + 16], d[l3 + 17], d[l3 + 18], d[l3 + 19]);
        (client, port.addrs4.first().copied().unwrap_or(vip))
    };
    let total = 20 + 8 + quote_len;
    let new_len = l2 + total;
    if frame.len() < new_len || !frame.trim(frame.len() - new_len) {
        return Verdict::Drop(DropReason::MtuExceeded);
    }
    let d = frame.data_mut();
    let peer = src_mac(d);
    set_macs(d, &peer, &port.mac);
    let o = &mut d[l3..l3 + 20];
    o[0] = 0x45;
    o[1] = 0;
    o[2..4].copy_from_slice(&u16::try_from(total).unwrap_or(u16::MAX).to_be_bytes());
    o[4..8].copy_from_slice(&[0, 0, 0, 0]);
    o[8] = ORIGIN_TTL;
    o[9] = 1;
    o[12..16].copy_from_slice(&gw_src.octets());
    o[16..20].copy_from_slice(&client.octets());
    fill_ipv4_header_checksum(d, l3, l3 + 20);
    let i = l3 + 20;
    d[i] = 3;
    d[i + 1] = 4;
    d[i + 4..i + 6].copy_from_slice(&[0, 0]);
    d[i + 6..i + 8].copy_from_slice(&mtu.to_be_bytes());
    d[i + 8..i + 8 + quote_len].copy_from_slice(&quote[..quote_len]);
    wr16(d, i + 2, 0);
    let c = checksum::checksum(&d[i..i + 8 + quote_len]);
    wr16(d, i + 2, c);
    Verdict::Tx(in_port)
}

/// The worker that owns the flow an ICMP error quotes, when the quote shows it: a FullNAT
/// packet we sent to a backend (its local port), or a NAT packet either way (its client
/// endpoint). `None` with one worker, and for FullNAT client-side errors (that session lives
/// where RSS put the client's SYN, which the quote cannot tell).
fn icmp_owner<A: Family>(
    snap: &Snapshot,
    inner: &IcmpInner<A>,
    proto: L4Proto,
    workers: u16,
    steer: &ReplySteering,
) -> Option<u16> {
    if workers <= 1 {
        return None;
    }
    let (src, dst) = (inner.src.ip(), inner.dst.ip());
    if snap.is_laddr(src) {
        // laddr:lport -> backend: its replies are backend:bport -> laddr:lport.
        return Some(steer.owner(dst, inner.dst_port, src, inner.src_port, workers));
    }
    if snap.is_nat_backend(dst, inner.dst_port, proto) {
        // client:cport -> backend.
        return Some(nat_owner(src, workers));
    }
    let nat_vip = snap
        .service_for(src, inner.src_port, proto)
        .and_then(|sid| snap.service(sid))
        .is_some_and(|svc| svc.has_nat);
    // VIP:vport -> client:cport, a NAT reply.
    nat_vip.then(|| nat_owner(dst, workers))
}

/// Move a connection between the ActiveConn and InActConn gauges.
fn moved(c: &WorkerCounters, sid: u16, bid: u16, ch: StateChange) {
    if !ch.activity_changed() {
        return;
    }
    for tc in [c.service(sid), c.backend(bid)].into_iter().flatten() {
        if ch.new.is_active() {
            tc.inactive.dec();
            tc.active.inc();
        } else {
            tc.active.dec();
            tc.inactive.inc();
        }
    }
}

/// Whether session `s` belongs to a backend whose sessions the `drop` policy ends: one marked
/// down by its health check, or one no longer in the session's service (its id free, or reused
/// by another server) when the service expires such sessions.
#[inline]
fn backend_dead<A: Family>(snap: &Snapshot, s: &Session<A>) -> bool {
    match snap.backend(s.backend_idx()) {
        Some(b)
            if b.service == s.service()
                && (b.port == 0 || b.port == s.bport())
                && A::from_ip(b.addr) == Some(s.backend()) =>
        {
            b.drop_sessions
        }
        _ => snap
            .service(s.service())
            .is_some_and(|svc| svc.expire_nodest),
    }
}

/// Account for an expired session.
fn gone(c: &WorkerCounters, sid: u16, bid: u16, active: bool) {
    c.sessions_expired.inc();
    for tc in [c.service(sid), c.backend(bid)].into_iter().flatten() {
        if active {
            tc.active.dec();
        } else {
            tc.inactive.dec();
        }
    }
}

/// Pull the ICMP fields of one family out of the parsed L4.
pub(crate) trait IcmpOf<A> {
    /// (message type, quoted packet of an error).
    fn icmp(&self) -> (u8, Option<IcmpInner<A>>);
}

impl IcmpOf<core::net::Ipv4Addr> for L4 {
    fn icmp(&self) -> (u8, Option<IcmpInner<core::net::Ipv4Addr>>) {
        match *self {
            L4::Icmpv4 {
                msg_type, inner, ..
            } => (msg_type, inner),
            _ => (0xff, None),
        }
    }
}

impl IcmpOf<core::net::Ipv6Addr> for L4 {
    fn icmp(&self) -> (u8, Option<IcmpInner<core::net::Ipv6Addr>>) {
        match *self {
            L4::Icmpv6 {
                msg_type, inner, ..
            } => (msg_type, inner),
            _ => (0xff, None),
        }
    }
}
