//! The control plane on the main lcore: the running configuration and everything built from it
//! (commit, reload, publish, confirm), the frames workers punt (ARP/ND, the box's own traffic,
//! frames whose next hop is unresolved), neighbour resolution and VIP announcement, and the
//! exception path to the kernel.
//!
//! It is generic over [`FrameIo`], so the gateway runs it on DPDK queues and rings and the tests
//! on vectors. The files each do one thing:
//! - [`commit`]: commit, reload, publish, confirm;
//! - [`held`]: frames waiting for a neighbour, and injecting frames into the workers;
//! - [`exception`]: bridging the kernel's TAP interfaces and the wire;
//! - [`resolve`]: punted frames, neighbour resolution, gratuitous ARP;
//! - [`admin`]: the admin API (`ferrovsadm`) on the running state, readiness included;
//! - [`ha`]: director HA, addresses owned as keepalived puts them on the TAPs;
//! - [`announce`]: ECMP, the VIP routes BIRD announces, and drain;
//! - [`sync`]: session sync between directors (the channel and the workers' sync rings);
//! - [`run`]: the loop that waits on every event source.

pub mod admin;
pub mod announce;
pub mod commit;
pub mod error;
pub mod exception;
pub mod ha;
pub mod held;
pub mod io;
pub mod resolve;
pub mod run;
pub mod sync;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use config::Config;
use dataplane::counters::{Counter, WorkerCounters};
use dataplane::snapshot::{Mac, Snapshot};
use dataplane::wire::DropReason;

use crate::health::HealthChecker;
use crate::metrics::{ExceptionPathCounters, InjectCounters, ReloadStats};
use crate::neigh::Neighbours;
use crate::topology::Ids;

pub use admin::SessionDumps;
pub use announce::AnnounceFollow;
pub use error::{CommitError, ReloadError};
pub use ha::HaFollow;
pub use io::FrameIo;
pub use run::{run, Sources};
pub use sync::{SyncLinks, SyncPlane, SyncPlaneStats};

/// Bounds and waits of the control plane; the defaults are the gateway's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// How long a commit waits for every worker to take the new snapshot.
    pub confirm_within: Duration,
    /// Frames held while their next hop resolves, at most (DESIGN §7: bounded; beyond it, the
    /// oldest is dropped).
    pub held_max: usize,
    /// How long a held frame waits for its neighbour.
    pub held_for: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            confirm_within: Duration::from_secs(2),
            held_max: 256,
            held_for: Duration::from_secs(3),
        }
    }
}

/// Control's own counts (single thread: plain integers; logged with the workers' counters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ControlStats {
    /// Frames handed to workers (control's RX queues, released held frames).
    pub injected: u64,
    /// Frames an inject ring did not take.
    pub inject_dropped: u64,
    /// Frames held for a neighbour.
    pub held: u64,
    /// Held frames dropped after waiting [`Limits::held_for`].
    pub held_timeout: u64,
    /// Held frames dropped because [`Limits::held_max`] were waiting.
    pub held_overflow: u64,
    /// Frames for the box on a port without an exception path.
    pub local_dropped: u64,
    /// Frames copied to the kernel.
    pub to_kernel: u64,
    /// Frames the kernel sent to the wire.
    pub from_kernel: u64,
    /// Fragmented echo requests to a VIP reassembled and answered.
    pub echo_answered: u64,
    /// Fragments of echo requests to a VIP dropped: table full, malformed, not an echo
    /// request, or no buffer for the reply.
    pub echo_dropped: u64,
}

/// What [`Control::new`] takes: the state the gateway set up before its workers started.
#[derive(Debug)]
pub struct Setup<Io> {
    /// The configuration the first snapshot was built from.
    pub cfg: Config,
    /// The file `cfg` is re-read from on reload.
    pub path: PathBuf,
    /// The ids assigned to `cfg`.
    pub ids: Ids,
    /// Neighbours known at start (static ones are in `cfg`).
    pub neighbours: Neighbours,
    /// The health checker for `cfg`.
    pub health: HealthChecker,
    /// Where snapshots are published; holds the first one.
    pub shared: Arc<ArcSwap<Snapshot>>,
    /// Each worker's counters (the generation it runs, traffic for the admin API).
    pub counters: Vec<Arc<WorkerCounters>>,
    /// Each port's MAC, by gateway port index.
    pub macs: Vec<Mac>,
    /// Frame I/O.
    pub io: Io,
    /// Reload outcomes, shared with the metrics endpoint.
    pub reload_stats: Arc<ReloadStats>,
    /// The workers' session dumps (`ferrovsadm -L -c`).
    pub dumps: Box<dyn SessionDumps>,
    /// Bounds and waits.
    pub limits: Limits,
    /// The workers' sync links, when `[sync]` was enabled at start.
    pub sync: Option<SyncLinks>,
}

/// Control's state: the running configuration and everything built from it, and its view of
/// the ports, for the frames it answers and originates.
pub struct Control<Io: FrameIo> {
    /// The running configuration (reloads and admin changes replace it).
    cfg: Config,
    path: PathBuf,
    ids: Ids,
    health: HealthChecker,
    reload_stats: Arc<ReloadStats>,
    rates: admin::Rates,
    dumps: Box<dyn SessionDumps>,
    neighbours: Neighbours,
    /// The generation published last.
    generation: u64,
    shared: Arc<ArcSwap<Snapshot>>,
    counters: Vec<Arc<WorkerCounters>>,
    macs: Vec<Mac>,
    io: Io,
    /// A reused batch per inject ring.
    inject_bufs: Vec<Vec<Io::Frame>>,
    /// Frames waiting for a neighbour, oldest first.
    held: VecDeque<(Instant, Io::Frame)>,
    limits: Limits,
    stats: ControlStats,
    /// Session sync, when the workers have sync links.
    sync: Option<SyncPlane>,
    /// Per port: the exception path's counts, shared with the metrics endpoint.
    exception: Arc<Vec<ExceptionPathCounters>>,
    /// Frames handed to workers and refused, shared with the metrics endpoint; the only copy
    /// ([`Self::stats`] reads `injected` and `inject_dropped` from here).
    inject_counts: Arc<InjectCounters>,
    /// Director HA, when `[ha]` follows addresses.
    ha: Option<HaFollow>,
    /// ECMP announcements, when `[announce]` is configured.
    announce: Option<AnnounceFollow>,
    /// Per worker: its poll count at the last sample and when it last moved (readiness).
    liveness: Vec<(u64, Instant)>,
    /// The generations published lately (readiness).
    published: admin::Published,
    /// The ready check's last verdict, so that the log says when it changes.
    ready_verdict: Option<bool>,
    /// Fragmented echo requests to VIPs being reassembled.
    echo: crate::echo::EchoReassembly,
}

impl<Io: FrameIo> std::fmt::Debug for Control<Io> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("path", &self.path)
            .field("generation", &self.generation)
            .field("services", &self.cfg.services.len())
            .field("held", &self.held.len())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl<Io: FrameIo> Control<Io> {
    /// Take over from the gateway's set-up; the published generation is the first snapshot's.
    pub fn new(s: Setup<Io>) -> Self {
        let generation = s.shared.load().generation;
        let sync = s.sync.map(|l| SyncPlane::new(l, &s.cfg.sync));
        let ports = s.macs.len();
        Self {
            inject_bufs: (0..s.io.workers()).map(|_| Vec::new()).collect(),
            cfg: s.cfg,
            path: s.path,
            ids: s.ids,
            health: s.health,
            reload_stats: s.reload_stats,
            rates: admin::Rates::default(),
            dumps: s.dumps,
            neighbours: s.neighbours,
            generation,
            shared: s.shared,
            counters: s.counters,
            macs: s.macs,
            io: s.io,
            held: VecDeque::new(),
            limits: s.limits,
            stats: ControlStats::default(),
            sync,
            exception: Arc::new(
                (0..ports)
                    .map(|_| ExceptionPathCounters::default())
                    .collect(),
            ),
            inject_counts: Arc::default(),
            ha: None,
            announce: None,
            liveness: Vec::new(),
            published: admin::Published::new(generation, Instant::now()),
            ready_verdict: None,
            echo: crate::echo::EchoReassembly::default(),
        }
    }

    /// The exception path's per-port counts, for the metrics endpoint.
    pub fn exception_counters(&self) -> Arc<Vec<ExceptionPathCounters>> {
        self.exception.clone()
    }

    /// The counts of frames handed to workers, for the metrics endpoint.
    pub fn inject_counters(&self) -> Arc<InjectCounters> {
        self.inject_counts.clone()
    }

    /// The running configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The generation published last.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Control's counts.
    pub fn stats(&self) -> ControlStats {
        let inject = self.inject_counts.row();
        ControlStats {
            injected: inject.injected,
            inject_dropped: inject.dropped,
            ..self.stats
        }
    }

    /// The neighbour table.
    pub fn neighbours(&self) -> &Neighbours {
        &self.neighbours
    }

    /// The frame I/O.
    pub fn io(&self) -> &Io {
        &self.io
    }

    /// The frame I/O, to change.
    pub fn io_mut(&mut self) -> &mut Io {
        &mut self.io
    }

    /// Session sync, when the workers have sync links.
    pub fn sync(&self) -> Option<&SyncPlane> {
        self.sync.as_ref()
    }

    /// The HA ready check's session-sync part: `None` without sync (nothing to wait for),
    /// else whether the channel runs and has every peer's table ([`SyncPlane::ready`]).
    pub fn sync_ready(&self) -> Option<bool> {
        self.sync.as_ref().map(SyncPlane::ready)
    }

    /// Frames waiting for a neighbour now.
    pub fn held_len(&self) -> usize {
        self.held.len()
    }

    /// Print the workers' and control's counters (every few seconds, and at stop).
    pub fn log_stats(&self) {
        log_stats(&self.counters, &self.stats());
    }

    /// Send one frame built from `bytes` out of `port` on control's TX queue.
    fn send(&mut self, port: u8, bytes: &[u8]) {
        let Some(m) = self.io.alloc(bytes) else {
            return;
        };
        let mut v = vec![m];
        self.io.send(port, &mut v);
    }
}

fn log_stats(counters: &[Arc<WorkerCounters>], ctl: &ControlStats) {
    for (w, c) in counters.iter().enumerate() {
        let drops: u64 = c.drops.iter().map(Counter::get).sum();
        println!(
            "ferrovs: worker {w}: rx {} tx {} punted {} redirected {} dropped {} sessions {}",
            c.rx.get(),
            c.tx.get(),
            c.punted.get(),
            c.redirected.get(),
            drops,
            c.sessions_created.get() - c.sessions_expired.get()
        );
        let by_reason: Vec<String> = DropReason::ALL
            .iter()
            .filter_map(|r| {
                let n = c.drops[r.index()].get();
                (n > 0).then(|| format!("{} {n}", r.as_str()))
            })
            .collect();
        if !by_reason.is_empty() {
            println!("ferrovs: worker {w}: drops: {}", by_reason.join(", "));
        }
    }
    println!(
        "ferrovs: control: injected {} (dropped {}), held for a neighbour {} (timed out {}, \
         overflow {}), exception path: to kernel {} from kernel {}, dropped without one {}",
        ctl.injected,
        ctl.inject_dropped,
        ctl.held,
        ctl.held_timeout,
        ctl.held_overflow,
        ctl.to_kernel,
        ctl.from_kernel,
        ctl.local_dropped
    );
}
