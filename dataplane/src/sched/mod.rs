//! The ipvsadm schedulers: `rr`, `wrr`, `lc`, `wlc`, `sed`, `nq`, `sh`, `dh`, `lblc`, `lblcr`,
//! `fo`, `ovf` and `mh` (weighted Maglev).
//!
//! # Contract
//!
//! - The control thread calls [`Scheduler::build`] once per config generation with the service's
//!   backend list (it may allocate; Maglev costs a few milliseconds) and publishes the immutable
//!   [`Scheduler`] in the snapshot. Each worker owns one [`SchedState`] per scheduler, made by
//!   [`Scheduler::new_state`] when it adopts the snapshot; rebuilding a scheduler means making a
//!   new state too (lblc caches start afresh; the shared rr cursor is carried over when the
//!   signature is unchanged).
//! - A worker calls [`Scheduler::pick`] once per **new** flow. `pick` never allocates, never
//!   panics and runs in time bounded by the backend count (Maglev with `mh-fallback`: by the
//!   table size in the pathological case, expected a handful of probes). Established flows never
//!   call `pick`: the session table pins them, so a backend's weight going to 0 (quiescent) or its
//!   health going down only stops *new* flows.
//! - A backend is eligible for a new flow iff `weight > 0`, `available` (health) and it is not
//!   over its connection thresholds. `None` means no eligible backend: the caller drops the packet
//!   and counts `NoBackend`.
//! - Positions: [`PickCtx::loads`] and [`Scheduler::pick_position`] use the backend's position in
//!   the list given to `build`; [`Scheduler::pick`] returns the backend's global [`BackendIdx`].
//!
//! # Semantics
//!
//! Each algorithm follows the Linux kernel's `net/netfilter/ipvs/ip_vs_<name>.c`:
//!
//! | name | choice |
//! |---|---|
//! | `rr` | next eligible backend after the last one picked |
//! | `wrr` | kernel `ip_vs_wrr.c`: cycle with current weight stepping down by the weights' gcd |
//! | `lc` | least overhead `active * 256 + inactive` |
//! | `wlc` | least overhead / weight, compared by cross-multiplication (the default) |
//! | `sed` | least `(active + 1) / weight` |
//! | `nq` | the first idle backend (no active connections), else `sed` |
//! | `fo` | the eligible backend with the highest weight (first on ties) |
//! | `ovf` | highest weight among eligible backends with `active <= weight` |
//! | `sh` | 256-bucket table by client address (`sh-port`: and source port), `sh-fallback` |
//! | `dh` | 256-bucket table by destination address |
//! | `lblc` | per-destination-address cache, `wlc` on miss or when the cached backend is overloaded |
//! | `lblcr` | as `lblc` with a small set of backends per destination |
//! | `mh` | weighted Maglev table (65537 slots by default), `mh-fallback`, `mh-port` |
//!
//! Loads are **per worker**: `lc`-family algorithms and thresholds see the connection counts the
//! calling worker passes in [`PickCtx::loads`] (normally its own sessions; the control thread may
//! instead publish summed counts), and the `lblc` caches are per worker. The `rr`/`wrr` cursor
//! is **shared** by all workers (one atomic word in the [`Scheduler`], advanced by
//! compare-and-swap), so the gateway as a whole is the kernel's exact rotation whatever worker
//! a flow lands on: `ipvsadm`'s users see rs1, rs2, rs1, ... with any number of workers. The
//! cost is one contended atomic per new flow of an `rr`/`wrr` service, never per packet.
//! [`Snapshot::carry_scheduler_state`](crate::snapshot::Snapshot::carry_scheduler_state) hands
//! the cursor on to the next generation when the scheduler's signature is unchanged.
//!
//! Thresholds (`ipvsadm -x/-y`): a backend with `u_threshold > 0` becomes overloaded when its
//! connection count (active + inactive, as the kernel's `ip_vs_dest_totalconns`) reaches
//! `u_threshold` and stays so until the count drops below `l_threshold`, or below 3/4 of
//! `u_threshold` when `l_threshold` is 0. The overloaded flag is kept per worker in
//! [`SchedState`] and re-evaluated whenever `pick` looks at the backend.
//!
//! Hash tables (`sh`, `dh`, `mh`) order backends by their stable [`SchedBackend::identity`], never
//! by their position in the list, so every gateway in an ECMP group builds the same table from the
//! same set, whatever order the config lists it in. The hashes are in [`hash`] and are pinned.

pub mod hash;

mod bucket;
mod lc;
mod locality;
mod maglev;
mod weighted;

use core::fmt;
use core::sync::atomic::AtomicU64;
use std::sync::Arc;

use crate::types::BackendIdx;

/// The scheduler's name and flags are the shared vocabulary's.
pub use ::types::{SchedFlag, SchedFlags, SchedFlagsError, SchedulerKind};

pub use locality::{LBLCR_SET_MAX, LOCALITY_CACHE_SLOTS};
pub use maglev::{changed_slots, maglev_table_size, DEFAULT_MAGLEV_TABLE_SIZE};

/// Cursor position meaning "no pick yet": the next `rr`/`wrr` pick starts at position 0.
pub(crate) const NO_PICK: u32 = u32::MAX;

/// Pack an `rr`/`wrr` cursor (last position, current weight) into the shared atomic word.
pub(crate) const fn pack_cursor(pos: u32, cw: u32) -> u64 {
    ((cw as u64) << 32) | pos as u64
}

/// Unpack [`pack_cursor`].
pub(crate) const fn unpack_cursor(word: u64) -> (u32, u32) {
    (word as u32, (word >> 32) as u32)
}

/// Number of buckets in the `sh` and `dh` tables (the kernel's default `1 << 8`).
pub const HASH_BUCKETS: usize = 256;

/// One backend (real server) of a service as the scheduler sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SchedBackend {
    /// Global index of the backend in the snapshot; what `pick` returns.
    pub id: BackendIdx,
    /// Stable identity, normally [`hash::backend_identity`] of `addr:port`; orders the hash tables.
    pub identity: u64,
    /// ipvsadm weight; 0 = quiescent (no new flows).
    pub weight: u32,
    /// Upper connection threshold (`-x`); 0 = none.
    pub u_threshold: u32,
    /// Lower connection threshold (`-y`); 0 = 3/4 of the upper one.
    pub l_threshold: u32,
    /// Health: `false` = no new flows.
    pub available: bool,
}

impl SchedBackend {
    /// A healthy backend with no thresholds.
    pub const fn new(id: BackendIdx, identity: u64, weight: u32) -> Self {
        Self {
            id,
            identity,
            weight,
            u_threshold: 0,
            l_threshold: 0,
            available: true,
        }
    }
}

/// Connection counts of one backend as seen by the calling worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct BackendLoad {
    /// Connections in an active state (TCP established).
    pub active: u32,
    /// Other connections (TCP closing or half-open, UDP).
    pub inactive: u32,
}

impl BackendLoad {
    /// Return the kernel's `ip_vs_dest_conn_overhead`: `active * 256 + inactive`.
    pub const fn overhead(self) -> u64 {
        ((self.active as u64) << 8) + self.inactive as u64
    }

    /// Return the kernel's `ip_vs_dest_totalconns`: `active + inactive`.
    pub const fn total(self) -> u64 {
        self.active as u64 + self.inactive as u64
    }
}

/// What `pick` needs to know about the new flow and the backends' loads.
#[derive(Clone, Copy, Debug)]
pub struct PickCtx<'a> {
    /// Hash of the client (source) address, [`hash::addr4`]/[`hash::addr6`]: `sh`, `mh`.
    pub src_hash: u64,
    /// Hash of the destination address: `dh`, `lblc`, `lblcr`.
    pub dst_hash: u64,
    /// Client source port, host order: `sh-port`, `mh-port`.
    pub src_port: u16,
    /// Loads by position in the scheduler's backend list; missing entries count as idle.
    pub loads: &'a [BackendLoad],
}

impl<'a> PickCtx<'a> {
    /// A context with the given hashes and port and no load information (all backends idle).
    pub const fn new(src_hash: u64, dst_hash: u64, src_port: u16) -> Self {
        Self {
            src_hash,
            dst_hash,
            src_port,
            loads: &[],
        }
    }

    /// Return the load of the backend at `pos` (idle when the slice is short).
    #[inline]
    pub fn load(&self, pos: usize) -> BackendLoad {
        self.loads.get(pos).copied().unwrap_or_default()
    }
}

/// An immutable scheduler for one service, built by the control thread.
pub struct Scheduler {
    kind: SchedulerKind,
    /// `rr`/`wrr` cursor shared by the workers: [`pack_cursor`] of the position of the last
    /// pick ([`NO_PICK`] before the first) and `wrr`'s current weight.
    cursor: Arc<AtomicU64>,
    flags: SchedFlags,
    backends: Box<[SchedBackend]>,
    /// Whether any backend has a threshold (else overload checks are skipped).
    has_thresholds: bool,
    /// `wrr`: max weight and gcd of the weights of the backends with weight > 0 and available.
    wrr_max: u32,
    wrr_gcd: u32,
    /// `sh`/`dh`: [`HASH_BUCKETS`] backend positions, or empty when no backend has weight > 0.
    buckets: Box<[u32]>,
    /// `mh`: the Maglev table of backend ids, empty when no backend is eligible.
    maglev: Box<[BackendIdx]>,
    /// `mh`: `(id, position)` sorted by id, to map a table entry back to its load.
    id_pos: Box<[(BackendIdx, u32)]>,
}

impl fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scheduler")
            .field("kind", &self.kind)
            .field("flags", &self.flags)
            .field("backends", &self.backends.len())
            .field("maglev_table_size", &self.maglev.len())
            .finish_non_exhaustive()
    }
}

/// Per-worker mutable state of one [`Scheduler`], sized when the scheduler is built.
#[derive(Clone, Debug)]
pub struct SchedState {
    /// Threshold hysteresis: whether each backend (by position) is overloaded.
    overloaded: Box<[bool]>,
    /// `lblc`/`lblcr`: destination cache.
    cache: Box<[locality::CacheEntry]>,
}

impl Scheduler {
    /// Build the scheduler for `backends` (Maglev table of [`DEFAULT_MAGLEV_TABLE_SIZE`] slots,
    /// or the next prime `>= 100 * backends.len()` when that is larger).
    pub fn build(kind: SchedulerKind, flags: SchedFlags, backends: &[SchedBackend]) -> Self {
        Self::build_with_table_size(kind, flags, backends, DEFAULT_MAGLEV_TABLE_SIZE)
    }

    /// As [`Scheduler::build`] with a requested minimum Maglev table size; the size used is
    /// [`maglev_table_size`]`(backends.len(), mh_table_size)`. Ignored by other schedulers.
    pub fn build_with_table_size(
        kind: SchedulerKind,
        flags: SchedFlags,
        backends: &[SchedBackend],
        mh_table_size: u32,
    ) -> Self {
        let (wrr_max, wrr_gcd) = weighted::max_and_gcd(backends);
        let buckets = match kind {
            SchedulerKind::Sh | SchedulerKind::Dh => bucket::build(backends),
            _ => Box::default(),
        };
        let (maglev, id_pos) = if kind == SchedulerKind::Mh {
            let size = maglev_table_size(backends.len(), mh_table_size);
            let mut id_pos: Vec<(BackendIdx, u32)> = backends
                .iter()
                .enumerate()
                .map(|(pos, b)| (b.id, u32::try_from(pos).unwrap_or(u32::MAX)))
                .collect();
            id_pos.sort_unstable();
            (maglev::build(backends, size).into(), id_pos.into())
        } else {
            (Box::default(), Box::default())
        };
        Self {
            kind,
            cursor: Arc::new(AtomicU64::new(pack_cursor(NO_PICK, wrr_max))),
            flags,
            backends: backends.into(),
            has_thresholds: backends.iter().any(|b| b.u_threshold > 0),
            wrr_max,
            wrr_gcd,
            buckets,
            maglev,
            id_pos,
        }
    }

    /// Return the algorithm.
    pub const fn kind(&self) -> SchedulerKind {
        self.kind
    }

    /// Return the flags.
    pub const fn flags(&self) -> SchedFlags {
        self.flags
    }

    /// Return the backends in the order given to `build` (the positions `loads` is indexed by).
    pub fn backends(&self) -> &[SchedBackend] {
        &self.backends
    }

    /// Return the Maglev table (slot -> backend id) for `mh`, `None` for other schedulers.
    pub fn table(&self) -> Option<&[BackendIdx]> {
        (self.kind == SchedulerKind::Mh).then_some(&*self.maglev)
    }

    /// Return a digest of what the per-worker state depends on (algorithm, flags, backends
    /// with their weights, thresholds and health): a new snapshot whose scheduler has the same
    /// signature keeps the worker's state, so `rr` keeps alternating across unrelated changes
    /// (a neighbour learnt, another service edited).
    pub fn signature(&self) -> u64 {
        use core::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        self.kind.hash(&mut h);
        self.flags.hash(&mut h);
        self.backends.hash(&mut h);
        h.finish()
    }

    /// Put the shared `rr`/`wrr` cursor back where a new scheduler's starts (no pick yet): the
    /// fuzz harness runs every input on one snapshot, and an input must not start where the
    /// last one left the rotation.
    #[cfg(feature = "fuzzing")]
    pub fn restart_rotation(&self) {
        let start = pack_cursor(NO_PICK, self.wrr_max);
        self.cursor
            .store(start, core::sync::atomic::Ordering::Relaxed);
    }

    /// Share `prev`'s `rr`/`wrr` cursor when both have the same [`Scheduler::signature`], so
    /// the rotation goes on across a new snapshot generation instead of starting over.
    pub fn carry_cursor(&mut self, prev: &Scheduler) {
        if self.signature() == prev.signature() {
            self.cursor = Arc::clone(&prev.cursor);
        }
    }

    /// Make a fresh per-worker state for this scheduler.
    pub fn new_state(&self) -> SchedState {
        let cache_slots = match self.kind {
            SchedulerKind::Lblc | SchedulerKind::Lblcr => LOCALITY_CACHE_SLOTS,
            _ => 0,
        };
        SchedState {
            overloaded: vec![false; self.backends.len()].into(),
            cache: vec![locality::CacheEntry::EMPTY; cache_slots].into(),
        }
    }

    /// Choose a backend for a new flow; `None` when no backend is eligible. Never allocates.
    #[inline]
    pub fn pick(&self, state: &mut SchedState, ctx: &PickCtx<'_>) -> Option<BackendIdx> {
        self.pick_position(state, ctx)
            .and_then(|pos| self.backends.get(pos))
            .map(|b| b.id)
    }

    /// As [`Scheduler::pick`], returning the backend's position in [`Scheduler::backends`].
    pub fn pick_position(&self, state: &mut SchedState, ctx: &PickCtx<'_>) -> Option<usize> {
        if self.backends.is_empty() {
            return None;
        }
        match self.kind {
            SchedulerKind::Rr => self.pick_rr(state, ctx),
            SchedulerKind::Wrr => self.pick_wrr(state, ctx),
            SchedulerKind::Lc => self.pick_lc(state, ctx),
            SchedulerKind::Wlc => self.pick_wlc(state, ctx),
            SchedulerKind::Sed => self.pick_sed(state, ctx),
            SchedulerKind::Nq => self.pick_nq(state, ctx),
            SchedulerKind::Sh => self.pick_sh(state, ctx),
            SchedulerKind::Dh => self.pick_dh(state, ctx),
            SchedulerKind::Lblc => self.pick_lblc(state, ctx),
            SchedulerKind::Lblcr => self.pick_lblcr(state, ctx),
            SchedulerKind::Fo => self.pick_fo(state, ctx),
            SchedulerKind::Ovf => self.pick_ovf(state, ctx),
            SchedulerKind::Mh => self.pick_mh(state, ctx),
        }
    }

    /// Return whether the backend at `pos` is over its thresholds, updating the hysteresis flag.
    #[inline]
    fn overloaded(&self, state: &mut SchedState, ctx: &PickCtx<'_>, pos: usize) -> bool {
        if !self.has_thresholds {
            return false;
        }
        let Some(b) = self.backends.get(pos) else {
            return false;
        };
        let upper = u64::from(b.u_threshold);
        let total = ctx.load(pos).total();
        let Some(flag) = state.overloaded.get_mut(pos) else {
            // A state made for another scheduler: no hysteresis, just the upper threshold.
            return upper > 0 && total >= upper;
        };
        if upper == 0 {
            *flag = false;
        } else if total >= upper {
            *flag = true;
        } else if *flag {
            let lower = u64::from(b.l_threshold);
            let under = if lower > 0 {
                total < lower
            } else {
                total * 4 < upper * 3
            };
            if under {
                *flag = false;
            }
        }
        *flag
    }

    /// Return whether the backend at `pos` may take a new flow (weight > 0, available, not
    /// overloaded).
    #[inline]
    fn eligible(&self, state: &mut SchedState, ctx: &PickCtx<'_>, pos: usize) -> bool {
        match self.backends.get(pos) {
            Some(b) if b.weight > 0 && b.available => !self.overloaded(state, ctx, pos),
            _ => false,
        }
    }

    /// Return the weight of the backend at `pos` (0 when out of range).
    #[inline]
    fn weight(&self, pos: usize) -> u32 {
        self.backends.get(pos).map_or(0, |b| b.weight)
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Helpers shared by the scheduler tests.
    use super::*;

    /// `n` healthy backends with ids `0..n`, identities derived from the id, and `weight`.
    pub fn equal(n: usize, weight: u32) -> Vec<SchedBackend> {
        (0..n).map(|i| backend(i, weight)).collect()
    }

    /// A healthy backend with id `i`, a derived identity and `weight`.
    pub fn backend(i: usize, weight: u32) -> SchedBackend {
        let id = BackendIdx::try_from(i).unwrap();
        let addr = core::net::IpAddr::V4(core::net::Ipv4Addr::new(10, 0, (i >> 8) as u8, i as u8));
        SchedBackend::new(id, hash::backend_identity(addr, 80), weight)
    }

    /// A context for client number `i` (distinct source and destination hashes).
    pub fn ctx(i: u64) -> PickCtx<'static> {
        PickCtx::new(hash::hash_u64(1, i), hash::hash_u64(2, i), 0)
    }

    /// Pick `n` times for `n` different clients, counting picks per backend id.
    pub fn histogram(s: &Scheduler, n: u64) -> Vec<usize> {
        let mut st = s.new_state();
        let mut counts = vec![0; s.backends().len()];
        for i in 0..n {
            let id = s.pick(&mut st, &ctx(i)).unwrap();
            counts[id.index()] += 1;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    fn flags_for(kind: SchedulerKind) -> [SchedFlags; 2] {
        match kind {
            SchedulerKind::Sh => [
                SchedFlags::NONE,
                SchedFlags::new(kind, &[SchedFlag::ShFallback, SchedFlag::ShPort]).unwrap(),
            ],
            SchedulerKind::Mh => [
                SchedFlags::NONE,
                SchedFlags::new(kind, &[SchedFlag::MhFallback, SchedFlag::MhPort]).unwrap(),
            ],
            _ => [SchedFlags::NONE; 2],
        }
    }

    fn every_scheduler() -> impl Iterator<Item = (SchedulerKind, SchedFlags)> {
        SchedulerKind::ALL
            .into_iter()
            .flat_map(|k| flags_for(k).into_iter().map(move |f| (k, f)))
    }

    #[test]
    fn empty_backend_list_picks_none() {
        for (k, f) in every_scheduler() {
            let s = Scheduler::build(k, f, &[]);
            let mut st = s.new_state();
            for i in 0..10 {
                assert_eq!(s.pick(&mut st, &ctx(i)), None, "{k}");
            }
        }
    }

    #[test]
    fn all_weights_zero_picks_none() {
        for (k, f) in every_scheduler() {
            let s = Scheduler::build(k, f, &equal(5, 0));
            let mut st = s.new_state();
            for i in 0..50 {
                assert_eq!(s.pick(&mut st, &ctx(i)), None, "{k}");
            }
        }
    }

    #[test]
    fn all_unavailable_picks_none() {
        for (k, f) in every_scheduler() {
            let mut b = equal(4, 3);
            b.iter_mut().for_each(|b| b.available = false);
            let s = Scheduler::build(k, f, &b);
            let mut st = s.new_state();
            for i in 0..50 {
                assert_eq!(s.pick(&mut st, &ctx(i)), None, "{k}");
            }
        }
    }

    #[test]
    fn single_backend_is_always_picked() {
        for (k, f) in every_scheduler() {
            let b = [SchedBackend::new(BackendIdx::new(7), 42, 3)];
            let s = Scheduler::build(k, f, &b);
            let mut st = s.new_state();
            let loads = [BackendLoad {
                active: 2,
                inactive: 5,
            }];
            for i in 0..100 {
                let c = PickCtx {
                    loads: &loads,
                    ..ctx(i)
                };
                assert_eq!(s.pick(&mut st, &c), Some(BackendIdx::new(7)), "{k}");
            }
        }
    }

    #[test]
    fn quiescent_and_unhealthy_backends_get_no_new_flows() {
        for (k, f) in every_scheduler() {
            let mut b = equal(4, 2);
            b[1].weight = 0;
            b[2].available = false;
            let s = Scheduler::build(k, f, &b);
            let mut st = s.new_state();
            for i in 0..500 {
                if let Some(id) = s.pick(&mut st, &ctx(i)) {
                    assert!(
                        id == BackendIdx::new(0) || id == BackendIdx::new(3),
                        "{k} picked {id}"
                    );
                }
            }
        }
    }

    #[test]
    fn picks_are_deterministic() {
        for (k, f) in every_scheduler() {
            let b: Vec<_> = (0..7).map(|i| backend(i, 1 + i as u32 % 3)).collect();
            let loads: Vec<_> = (0..7)
                .map(|i| BackendLoad {
                    active: (i * 5) % 7,
                    inactive: i,
                })
                .collect();
            let run = || {
                let s = Scheduler::build(k, f, &b);
                let mut st = s.new_state();
                (0..300)
                    .map(|i| {
                        let c = PickCtx {
                            src_port: i as u16,
                            loads: &loads,
                            ..ctx(i)
                        };
                        s.pick(&mut st, &c)
                    })
                    .collect::<Vec<_>>()
            };
            let first = run();
            assert!(first.iter().all(Option::is_some), "{k}");
            assert_eq!(first, run(), "{k}");
        }
    }

    #[test]
    fn thresholds_have_hysteresis() {
        // Two backends; backend 0 has u=10, l=5. rr alternates while 0 is not overloaded.
        let mut b = equal(2, 1);
        b[0].u_threshold = 10;
        b[0].l_threshold = 5;
        let s = Scheduler::build(SchedulerKind::Rr, SchedFlags::NONE, &b);
        let mut st = s.new_state();
        let at =
            |active: u32, inactive: u32| [BackendLoad { active, inactive }, BackendLoad::default()];
        let pick = |st: &mut SchedState, loads: &[BackendLoad]| {
            let c = PickCtx { loads, ..ctx(0) };
            (0..4)
                .map(|_| s.pick(st, &c).unwrap().get())
                .collect::<Vec<_>>()
        };
        assert_eq!(pick(&mut st, &at(9, 0)), [0, 1, 0, 1]);
        // Total connections (active + inactive) reach the upper threshold.
        assert_eq!(pick(&mut st, &at(6, 4)), [1, 1, 1, 1]);
        // Still overloaded until the count drops under the lower threshold.
        assert_eq!(pick(&mut st, &at(5, 0)), [1, 1, 1, 1]);
        assert_eq!(pick(&mut st, &at(4, 0)), [0, 1, 0, 1]);
        // Without a lower threshold, 3/4 of the upper one.
        let mut b = equal(2, 1);
        b[0].u_threshold = 8;
        let s = Scheduler::build(SchedulerKind::Rr, SchedFlags::NONE, &b);
        let mut st = s.new_state();
        let pick = |st: &mut SchedState, loads: &[BackendLoad]| {
            let c = PickCtx { loads, ..ctx(0) };
            (0..4)
                .map(|_| s.pick(st, &c).unwrap().get())
                .collect::<Vec<_>>()
        };
        assert_eq!(pick(&mut st, &at(8, 0)), [1, 1, 1, 1]);
        assert_eq!(pick(&mut st, &at(6, 0)), [1, 1, 1, 1]);
        assert_eq!(pick(&mut st, &at(5, 0)), [0, 1, 0, 1]);
    }

    #[test]
    fn thresholds_apply_to_every_scheduler() {
        for (k, f) in every_scheduler() {
            let mut b = equal(3, 2);
            for x in &mut b {
                x.u_threshold = 4;
            }
            let loads = [
                BackendLoad {
                    active: 4,
                    inactive: 0,
                },
                BackendLoad {
                    active: 1,
                    inactive: 3,
                },
                BackendLoad {
                    active: 0,
                    inactive: 0,
                },
            ];
            let s = Scheduler::build(k, f, &b);
            let mut st = s.new_state();
            for i in 0..200 {
                let c = PickCtx {
                    loads: &loads,
                    ..ctx(i)
                };
                if let Some(id) = s.pick(&mut st, &c) {
                    assert_eq!(id, BackendIdx::new(2), "{k}");
                }
            }
        }
    }

    #[test]
    fn foreign_state_does_not_panic() {
        let big = Scheduler::build(SchedulerKind::Lblcr, SchedFlags::NONE, &equal(9, 1));
        let mut foreign = Scheduler::build(SchedulerKind::Rr, SchedFlags::NONE, &[]).new_state();
        for i in 0..20 {
            assert!(big.pick(&mut foreign, &ctx(i)).is_some());
        }
    }
}
