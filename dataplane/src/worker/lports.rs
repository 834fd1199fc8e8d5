//! FullNAT local ports: a local address and port for a new flow whose reply tuple is free and
//! reaches this worker, either by the port's low bits ([`ReplySteering::Modulo`]: the port is
//! `k * workers + id`) or by the NIC's RSS ([`ReplySteering::Rss`]: the port's reply tuple
//! hashes to this worker).
//!
//! The port comes from the free-port pool of `(laddr, real server)` ([`super::lport_pool`]),
//! with no session-index probe; the session insert checks the reply key once, and a port it
//! finds taken (a session the pool did not know of) makes the flow take the pool's next one.
//! Keys without a pool (real servers on port 0, pools beyond the cap) probe the index for a
//! free tuple, as before the pools. Ports go back to their pool when sessions go
//! ([`Worker::lport_released`]).

use core::net::IpAddr;

use crate::rewrite::Family;
use crate::rss::RssSteer;
use crate::session::{
    Direction, FwdMethod, InsertError, NewSession, Session, SessionTable, SlotId,
};
use crate::snapshot::Service;
use crate::types::{BackendIdx, FlowKey, L4Proto};

use super::lport_pool::{Alloc, LocalPorts, PoolKey};
use super::{ReplySteering, Worker};

/// How many local ports a new FullNAT flow tries before giving up.
const LPORT_TRIES: u32 = 16;
/// RSS-aware choice: candidate ports hashed per try to find one whose reply lands on this
/// worker (about `workers` are needed on average with a round-robin redirection table; each
/// costs two table reads).
const RSS_SCAN: u32 = 1024;

/// Slab positions one [`Worker::tick`] walks for [`ClaimWalk`]: about 16 µs of a worker's time
/// at 1 ns a position, so a reload that adds pools never stalls it for longer (a 10M-session
/// table took tens of milliseconds in one walk).
const CLAIM_STEP: usize = 16 * 1024;

/// New local-port pools learn the ports that sessions already in the tables hold (synced
/// before the pool existed, or kept from a pool a reload dropped): a walk over both slabs in
/// bounded steps. Until it has passed a session, its pool may offer that session's port; the
/// insert finds the reply key taken and the flow takes the pool's next port
/// ([`Worker::insert_fullnat`]), so the walk saves retries and keeps the free counts true; it
/// is not needed for correctness. Marking a port taken twice, or freeing one the walk has not
/// reached, changes nothing.
#[derive(Clone, Debug, Default)]
pub(super) struct ClaimWalk {
    /// The next position (IPv4 slab first, then IPv6's), while walking.
    next: Option<usize>,
}

impl ClaimWalk {
    /// Start the walk over (a reload added pools, possibly while a walk was running).
    pub(super) fn start(&mut self) {
        self.next = Some(0);
    }

    /// Whether a walk is under way.
    pub(super) fn running(&self) -> bool {
        self.next.is_some()
    }
}

/// Claim the port of the live session at slab position `pos` of `t`, if it has a pool key.
fn claim_at<A: Family>(pools: &mut LocalPorts, t: &SessionTable<A>, pos: usize) {
    if let Some(s) = t.get_at(pos) {
        if let Some(k) = session_key(s) {
            pools.claim(&k, s.lport());
        }
    }
}

/// Where the next choice starts.
#[derive(Clone, Debug)]
pub(super) struct Cursor {
    /// The next try: its local address (modulo their number) and, under modulo steering, its
    /// port.
    laddr: u32,
    /// RSS-aware choice: where the next scan for a port starts.
    rss_port: u32,
}

impl Cursor {
    /// Cursors of worker `id`, spread so workers do not walk in step.
    pub(super) fn new(id: u16) -> Cursor {
        Cursor {
            laddr: u32::from(id).wrapping_mul(0x9e37),
            rss_port: u32::from(id).wrapping_mul(0x9e37_79b9),
        }
    }
}

/// The pool key of a reply tuple `backend:bport -> laddr:*`.
#[inline]
fn pool_key<A: Family>(laddr: A, backend: A, bport: u16, proto: L4Proto) -> PoolKey {
    PoolKey {
        laddr: laddr.ip(),
        backend: backend.ip(),
        bport,
        proto,
    }
}

/// [`Worker::lport_released`] where the worker is borrowed in parts (the expiry callback).
#[inline]
pub(super) fn released<A: Family>(pools: &mut LocalPorts, s: &Session<A>) {
    if let Some(k) = session_key(s) {
        pools.release(&k, s.lport());
    }
}

/// The pool key of a FullNAT session (`None` for other methods and sync stubs).
#[inline]
fn session_key<A: Family>(s: &Session<A>) -> Option<PoolKey> {
    (s.method() == FwdMethod::FullNat && !s.is_sync_stub())
        .then(|| pool_key(s.laddr(), s.backend(), s.bport(), s.proto()))
}

impl Worker {
    /// Choose a FullNAT local address and a port this worker owns for a flow to
    /// `backend:bport`: the next free port of the first local address (in turn) whose pool has
    /// one; a local address without a pool probes the index instead.
    pub(super) fn pick_lport<A: Family>(
        &mut self,
        svc: &Service,
        (bid, backend, bport): (BackendIdx, A, u16),
        proto: L4Proto,
    ) -> Option<(A, u16)> {
        let laddrs = &svc.laddrs;
        let n = u32::try_from(laddrs.len()).ok().filter(|&n| n > 0)?;
        for _ in 0..n {
            let c = self.lports.laddr;
            self.lports.laddr = c.wrapping_add(1);
            let i = (c % n) as usize;
            let Some(laddr) = A::from_ip(laddrs[i]) else {
                continue;
            };
            // A port-0 real server's pool would be keyed by the configured port, not `bport`:
            // it has none, and probes.
            match self.pools.alloc_for(bid, i) {
                Alloc::Port(port) => return Some((laddr, port)),
                Alloc::Dry => {}
                Alloc::NoPool => return self.probe_lport(svc, backend, bport, proto),
            }
        }
        None
    }

    /// Insert a FullNAT session whose port came from [`Self::pick_lport`]: a port the insert
    /// finds taken (by a session its pool did not know of; it stays taken) is swapped for the
    /// pool's next, a few times. On another failure the caller gives the port back
    /// ([`Self::lport_unused`]), once it has given up (a full table tries again after
    /// eviction with the same port).
    pub(super) fn insert_fullnat<A: Family>(
        &mut self,
        now: u32,
        new: &mut NewSession<A>,
        key_hash: u64,
    ) -> Result<SlotId, InsertError> {
        let mut tries = 0;
        loop {
            match A::sessions(&mut self.tables).insert_absent(now, new, key_hash) {
                Err(InsertError::Duplicate(Direction::Reply)) if tries < LPORT_TRIES => {
                    tries += 1;
                    let key = pool_key(new.laddr, new.backend, new.bport, new.proto);
                    match self.pools.alloc(&key) {
                        Alloc::Port(port) => new.lport = port,
                        _ => return Err(InsertError::Duplicate(Direction::Reply)),
                    }
                }
                done => return done,
            }
        }
    }

    /// A session went (expired, evicted, removed, replaced by sync): its FullNAT local port
    /// goes back to its pool.
    #[inline]
    pub(super) fn lport_released<A: Family>(&mut self, s: &Session<A>) {
        released(&mut self.pools, s);
    }

    /// One step of the claim walk ([`ClaimWalk`]): mark the ports that the sessions in the
    /// next [`CLAIM_STEP`] slab positions hold (IPv4's slab, then IPv6's).
    pub(super) fn claim_lports_step(&mut self) {
        let Some(mut pos) = self.claim.next else {
            return;
        };
        let (cap4, cap6) = (self.tables.s4.capacity(), self.tables.s6.capacity());
        let end = (pos + CLAIM_STEP).min(cap4 + cap6);
        let pools = &mut self.pools;
        while pos < end {
            if pos < cap4 {
                claim_at(pools, &self.tables.s4, pos);
            } else {
                claim_at(pools, &self.tables.s6, pos - cap4);
            }
            pos += 1;
        }
        self.claim.next = (end < cap4 + cap6).then_some(end);
    }

    /// Whether new local-port pools are still learning the ports sessions hold ([`ClaimWalk`]).
    pub fn lport_claim_pending(&self) -> bool {
        self.claim.running()
    }

    /// A new flow's session was not created: its local port goes back to its pool.
    pub(super) fn lport_unused<A: Family>(&mut self, s: &NewSession<A>) {
        if s.method == FwdMethod::FullNat {
            let k = pool_key(s.laddr, s.backend, s.bport, s.proto);
            self.pools.release(&k, s.lport);
        }
    }

    /// A session arrived from a peer (session sync): its FullNAT local port is taken here too.
    pub(super) fn lport_claimed<A: Family>(&mut self, s: &NewSession<A>) {
        if s.method == FwdMethod::FullNat {
            let k = pool_key(s.laddr, s.backend, s.bport, s.proto);
            self.pools.claim(&k, s.lport);
        }
    }

    /// [`Self::pick_lport`] for a key without a pool: a local address and port whose reply key
    /// the index does not have.
    #[cold]
    #[inline(never)]
    fn probe_lport<A: Family>(
        &mut self,
        svc: &Service,
        backend: A,
        bport: u16,
        proto: L4Proto,
    ) -> Option<(A, u16)> {
        let laddrs = &svc.laddrs;
        let n = u32::try_from(laddrs.len()).ok().filter(|&n| n > 0)?;
        if let ReplySteering::Rss(rs) = &self.cfg.reply_steering {
            // The reply tuple with the local endpoint still to fill in.
            let reply = A::flow_key(backend, bport, A::UNSPECIFIED, 0, proto);
            let t = A::sessions(&mut self.tables);
            let owner = (self.cfg.id, self.cfg.lport_min);
            return pick_lport_rss(rs, t, laddrs, &mut self.lports, owner, reply);
        }
        let workers = u32::from(self.cfg.workers);
        let id = u32::from(self.cfg.id);
        // Ports base + k*workers + id, k in 0..span, all owned by this worker.
        let base = u32::from(self.cfg.lport_min).div_ceil(workers) * workers;
        let span = (65536 - base - id).div_ceil(workers);
        let t = A::sessions(&mut self.tables);
        for _ in 0..LPORT_TRIES {
            let c = self.lports.laddr;
            self.lports.laddr = c.wrapping_add(1);
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
}

/// [`Worker::probe_lport`] under [`ReplySteering::Rss`]: a local address in turn, then the next
/// port from the scan cursor whose reply tuple (`backend:bport -> laddr:lport`, `reply` with
/// the local endpoint left out) RSS delivers to worker `id`, if its reply key is free. The
/// hash of the fixed part of the tuple is computed once per address; each candidate port costs
/// two table reads (see [`crate::rss`]).
fn pick_lport_rss<A: Family>(
    rs: &RssSteer,
    t: &mut SessionTable<A>,
    laddrs: &[IpAddr],
    cursor: &mut Cursor,
    (id, lport_min): (u16, u16),
    reply: FlowKey<A>,
) -> Option<(A, u16)> {
    let (backend, bport, proto) = (reply.src, reply.sport, reply.proto);
    let n = u32::try_from(laddrs.len()).ok().filter(|&n| n > 0)?;
    let span = 65536 - u32::from(lport_min);
    for _ in 0..LPORT_TRIES {
        let c = cursor.laddr;
        cursor.laddr = c.wrapping_add(1);
        let Some(laddr) = A::from_ip(laddrs[(c % n) as usize]) else {
            continue;
        };
        let Some(partial) = rs.toeplitz().partial(backend.ip(), laddr.ip(), bport) else {
            continue;
        };
        for _ in 0..RSS_SCAN {
            let k = cursor.rss_port;
            cursor.rss_port = k.wrapping_add(1);
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
