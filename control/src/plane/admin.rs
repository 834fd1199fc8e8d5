//! The running gateway behind the admin API (`ferrovsadm`): listings from the workers'
//! counters, `-Z` as baselines (workers' counters have one writer each, so control never writes
//! them), `--rate` from a 2-second estimator, `-L -c` from the workers' session dumps,
//! `-L --health` from the health checker's state, `-L --syn-proxy` from the workers' SYN proxy
//! counters (as the metrics read them), `-L --ha` from director HA's, and `--ready`
//! (keepalived's `vrrp_script`) from the ports' links, the workers' progress and the snapshot
//! they run.
//!
//! The impl of [`AdminState`] lives here, with the state it serves: `admin` defines the trait
//! and depends only on `config`, so `control` depending on `admin` makes no circle, and the
//! binary needs no wrapper type to get around the orphan rule.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use admin::handler::AdminState;
use admin::proto::{
    AnnounceListing, ConnEntry, Counters, DestHealth, DestState, HaListing, HealthState,
    SynProxyState,
};
use config::{Config, RealServer, Service};
use dataplane::counters::{TrafficCounters, WorkerCounters};
use dataplane::types::{BackendIdx, ServiceIdx};

use super::{Control, FrameIo};

/// How often rates are estimated (IPVS's estimator runs every 2 s too).
pub const RATE_EVERY: Duration = Duration::from_secs(2);
/// A worker whose poll count has not moved for this long is not running (readiness). Workers
/// poll without pause when busy and sleep at most milliseconds when idle.
pub const STALLED_AFTER: Duration = Duration::from_secs(5);
/// How long a published generation may take to reach every worker before the readiness check
/// counts the workers behind as a problem. Workers take a snapshot within one loop iteration,
/// but on a loaded machine the scheduler can hold a thread back for tens or hundreds of
/// milliseconds, and an ownership change publishes a generation exactly when keepalived's check
/// matters most: a generation merely on its way must not fail the check (with a weighted
/// `track_script` that lowers the priority and can move the VIP). A worker that has not taken
/// a snapshot for this long while polling is stuck: far above any scheduling delay of a healthy
/// gateway, and short against keepalived's `interval` 1 s times `fall` 2 (docs/ha.md), so a
/// stuck worker still fails the check within seconds.
pub const CONFIRM_GRACE: Duration = Duration::from_secs(2);

/// The generations control published lately and when, so that readiness asks every worker for
/// the newest generation published at least [`CONFIRM_GRACE`] ago (and at least the first one:
/// a worker below it never ran), not for the one published a moment ago.
#[derive(Debug)]
pub(super) struct Published {
    /// The generation of the first snapshot (the gateway's set-up published it).
    first: u64,
    /// Oldest first: at most one entry older than [`CONFIRM_GRACE`] (the front), then every
    /// later one.
    pub(super) recent: VecDeque<(u64, Instant)>,
}

impl Published {
    pub(super) fn new(first: u64, at: Instant) -> Self {
        Self {
            first,
            recent: VecDeque::from([(first, at)]),
        }
    }

    /// Note that `generation` was published at `at`.
    pub(super) fn push(&mut self, generation: u64, at: Instant) {
        self.recent.push_back((generation, at));
        // The front is only needed while it is the newest entry past the grace.
        while self
            .recent
            .get(1)
            .is_some_and(|&(_, t)| at.saturating_duration_since(t) >= CONFIRM_GRACE)
        {
            self.recent.pop_front();
        }
    }

    /// The generation every worker must run by `now`.
    pub(super) fn due(&self, now: Instant) -> u64 {
        self.recent
            .iter()
            .rev()
            .find(|&&(_, t)| now.saturating_duration_since(t) >= CONFIRM_GRACE)
            .map_or(self.first, |&(g, _)| g.max(self.first))
    }

    /// When `generation` (or the first later one noted) was published.
    pub(super) fn when(&self, generation: u64) -> Option<Instant> {
        self.recent
            .iter()
            .find(|&&(g, _)| g >= generation)
            .map(|&(_, t)| t)
    }
}

/// A worker's poll count (busy and idle), which moves while it runs.
fn polls(c: &WorkerCounters) -> u64 {
    c.busy_polls.get().wrapping_add(c.idle_polls.get())
}

/// The workers' session tables as connection entries (`ipvsadm -L -c`): the gateway asks each
/// worker for a dump and waits (bounded) for the answers.
pub trait SessionDumps {
    /// Every worker's sessions.
    fn connections(&self) -> Vec<ConnEntry>;
}

/// No session tables (tests, tools).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoSessions;

impl SessionDumps for NoSessions {
    fn connections(&self) -> Vec<ConnEntry> {
        Vec::new()
    }
}

impl std::fmt::Debug for dyn SessionDumps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionDumps")
    }
}

/// Which counter block: a service's or a backend's (by stable id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Block {
    Service(ServiceIdx),
    Backend(BackendIdx),
}

/// conns, in packets, out packets, in bytes, out bytes.
type Totals = [u64; 5];

fn totals(workers: &[Arc<WorkerCounters>], b: Block) -> Totals {
    let mut t = [0u64; 5];
    for w in workers {
        let c: Option<&TrafficCounters> = match b {
            Block::Service(i) => w.service(i),
            Block::Backend(i) => w.backend(i),
        };
        if let Some(c) = c {
            t[0] += c.conns.get();
            t[1] += c.in_pkts.get();
            t[2] += c.out_pkts.get();
            t[3] += c.in_bytes.get();
            t[4] += c.out_bytes.get();
        }
    }
    t
}

/// Counter baselines (`-Z`) and rate estimates.
#[derive(Debug, Default)]
pub(super) struct Rates {
    baseline: HashMap<Block, Totals>,
    last: HashMap<Block, (Instant, Totals)>,
    rates: HashMap<Block, Totals>,
}

impl Rates {
    /// Sample every block's totals and update its rate (per second over the last interval).
    fn estimate(&mut self, workers: &[Arc<WorkerCounters>], blocks: &[Block]) {
        let now = Instant::now();
        for &b in blocks {
            let t = totals(workers, b);
            if let Some((then, prev)) = self.last.get(&b) {
                let secs = now.duration_since(*then).as_secs_f64().max(0.001);
                let mut r = [0u64; 5];
                for i in 0..5 {
                    r[i] = (t[i].saturating_sub(prev[i]) as f64 / secs).round() as u64;
                }
                self.rates.insert(b, r);
            }
            self.last.insert(b, (now, t));
        }
    }

    fn counters(&self, workers: &[Arc<WorkerCounters>], b: Block) -> Counters {
        let t = totals(workers, b);
        let base = self.baseline.get(&b).copied().unwrap_or_default();
        let r = self.rates.get(&b).copied().unwrap_or_default();
        Counters {
            conns: t[0].saturating_sub(base[0]),
            inpkts: t[1].saturating_sub(base[1]),
            outpkts: t[2].saturating_sub(base[2]),
            inbytes: t[3].saturating_sub(base[3]),
            outbytes: t[4].saturating_sub(base[4]),
            cps: r[0],
            inpps: r[1],
            outpps: r[2],
            inbps: r[3],
            outbps: r[4],
        }
    }

    fn zero(&mut self, workers: &[Arc<WorkerCounters>], b: Block) {
        self.baseline.insert(b, totals(workers, b));
        self.rates.remove(&b);
    }
}

impl<Io: FrameIo> Control<Io> {
    /// Every counter block the rate estimator follows: configured services and real servers.
    fn blocks(&self) -> Vec<Block> {
        let mut out = Vec::new();
        for s in &self.cfg.services {
            if let Some(id) = self.ids.service(s) {
                out.push(Block::Service(id));
            }
            for rs in &s.real_servers {
                if let Some(id) = self.ids.backend(s, rs.address, rs.port, false) {
                    out.push(Block::Backend(id));
                }
            }
        }
        out
    }

    /// Update the rate estimates (every [`RATE_EVERY`]).
    pub fn estimate_rates(&mut self) {
        let blocks = self.blocks();
        self.rates.estimate(&self.counters, &blocks);
    }

    /// Note which workers' poll counts moved since the last sample (every [`RATE_EVERY`]).
    pub fn sample_liveness(&mut self, now: Instant) {
        if self.liveness.len() != self.counters.len() {
            self.liveness = self.counters.iter().map(|c| (polls(c), now)).collect();
            return;
        }
        for (c, (seen, moved)) in self.counters.iter().zip(&mut self.liveness) {
            let p = polls(c);
            if p != *seen {
                *seen = p;
                *moved = now;
            }
        }
    }

    /// Whether the gateway is healthy and ready to own addresses: every port's link up, every
    /// worker polling and running the snapshot published last, and director HA following the
    /// kernel. `Ok` says what was checked; `Err` names the first problem.
    ///
    /// # Errors
    /// The first problem, one line.
    pub fn readiness(&self, now: Instant) -> Result<String, String> {
        for (i, p) in self.cfg.ports.iter().enumerate() {
            let port = u8::try_from(i).unwrap_or(u8::MAX);
            if self.io.link_up(port) == Some(false) {
                return Err(format!("port {}: link down", p.name));
            }
        }
        for (w, (c, (seen, moved))) in self.counters.iter().zip(&self.liveness).enumerate() {
            // A count that moved since the last sample is progress too: a control loop held
            // back (a loaded machine) answers before it samples again, and must not blame the
            // workers for its own delay.
            let still = now.saturating_duration_since(*moved);
            if still >= STALLED_AFTER && polls(c) == *seen {
                return Err(format!(
                    "worker {w} is not polling (no progress for {} s)",
                    still.as_secs()
                ));
            }
        }
        // Workers behind a generation still within its grace are catching up, not stuck.
        let due = self.published.due(now);
        let oldest = self
            .counters
            .iter()
            .map(|c| c.generation.get())
            .enumerate()
            .min_by_key(|&(_, g)| g);
        if let Some((w, g)) = oldest.filter(|&(_, g)| g < due) {
            return Err(format!(
                "worker {w} runs configuration generation {g}, control published {}",
                self.generation
            ));
        }
        let everywhere = oldest.map_or(self.generation, |(_, g)| g.min(self.generation));
        if let Some(why) = self.ha_unready() {
            return Err(why);
        }
        // A gateway that would own addresses with an empty table breaks every established
        // flow: not ready until every sync peer has completed its full resync towards us.
        if self.sync_ready() == Some(false) {
            return Err("session sync: the initial resync from the peers is not complete".into());
        }
        let ha = self
            .ha
            .as_ref()
            .map(|h| format!(", following {} HA addresses", h.own_len()))
            .unwrap_or_default();
        let propagating = if everywhere < self.generation {
            let age = self
                .published
                .when(everywhere + 1)
                .map_or(0, |t| now.saturating_duration_since(t).as_millis());
            format!(", {} on its way ({age} ms)", self.generation)
        } else {
            String::new()
        };
        Ok(format!(
            "{} ports up, {} workers polling, generation {everywhere} everywhere{propagating}{ha}",
            self.cfg.ports.len(),
            self.counters.len(),
        ))
    }
}

impl<Io: FrameIo> AdminState for Control<Io> {
    fn config(&self) -> &Config {
        &self.cfg
    }

    fn commit(&mut self, new: Config) -> Result<(), String> {
        let services = new.services.len();
        let g = Control::commit(self, new).map_err(|e| e.to_string())?;
        println!("ferrovs: admin change applied: generation {g}, {services} services");
        Ok(())
    }

    fn reload(&mut self) -> Result<u64, String> {
        self.reload_file().map_err(|e| e.to_string())
    }

    fn service_counters(&self, svc: &Service) -> Counters {
        self.ids.service(svc).map_or_else(Counters::default, |id| {
            self.rates.counters(&self.counters, Block::Service(id))
        })
    }

    fn dest_state(&self, svc: &Service, rs: &RealServer) -> DestState {
        let Some(id) = self.ids.backend(svc, rs.address, rs.port, false) else {
            return DestState::default();
        };
        let (mut active, mut inactive) = (0u64, 0u64);
        for w in &self.counters {
            if let Some(c) = w.backend(id) {
                active += c.active.get();
                inactive += c.inactive.get();
            }
        }
        DestState {
            active_conns: u32::try_from(active).unwrap_or(u32::MAX),
            inactive_conns: u32::try_from(inactive).unwrap_or(u32::MAX),
            // Persistence templates are per worker and not counted per real server.
            persist_conns: 0,
            counters: self.rates.counters(&self.counters, Block::Backend(id)),
        }
    }

    fn connections(&self) -> Vec<ConnEntry> {
        self.dumps.connections()
    }

    fn zero(&mut self, svc: Option<&Service>) {
        let blocks: Vec<Block> = match svc {
            None => self.blocks(),
            Some(s) => {
                let mut b: Vec<Block> = self
                    .ids
                    .service(s)
                    .map(Block::Service)
                    .into_iter()
                    .collect();
                b.extend(
                    s.real_servers
                        .iter()
                        .filter_map(|rs| self.ids.backend(s, rs.address, rs.port, false))
                        .map(Block::Backend),
                );
                b
            }
        };
        for b in blocks {
            self.rates.zero(&self.counters, b);
        }
    }

    fn conn_table_size(&self) -> u32 {
        self.cfg.dpdk.session_capacity
    }

    fn ha(&self) -> Option<HaListing> {
        Some(self.ha_listing())
    }

    fn ready(&mut self) -> Result<String, String> {
        let r = self.readiness(Instant::now());
        // The log says why keepalived's check failed (ferrovsadm's stderr goes nowhere there)
        // and when a check passed only because a generation was still on its way.
        let verdict = r.is_ok();
        match &r {
            Err(why) if self.ready_verdict != Some(false) => {
                println!("ferrovs: ready check: not ready: {why}");
            }
            Ok(what) if self.ready_verdict == Some(false) || what.contains("on its way") => {
                println!("ferrovs: ready check: ready: {what}");
            }
            _ => {}
        }
        self.ready_verdict = Some(verdict);
        r
    }

    fn sync_available(&self) -> Result<(), String> {
        // The workers' sync rings are made at start; without them no channel can run.
        self.sync.as_ref().map(|_| ()).ok_or_else(|| {
            "session sync cannot run: the workers have no sync rings, because [sync] had no \
             key when ferrovs started; add it to the configuration file and restart"
                .to_owned()
        })
    }

    fn announce(&self) -> Option<AnnounceListing> {
        self.announce_listing()
    }

    fn drain(&mut self, drained: bool) -> Result<AnnounceListing, String> {
        self.set_drained(drained)
    }

    fn syn_proxy(&self, svc: &Service) -> Option<SynProxyState> {
        // The running snapshot, read as a metrics scrape reads it: what the workers do, which
        // is off when the snapshot could not run the configured mode (no cookie secret).
        let id = self.ids.service(svc)?;
        let snap = self.shared.load();
        let running = snap.services.get(id.index())?.as_ref()?;
        let r = crate::metrics::collect::syn_proxy_of(running, &self.counters, id);
        Some(SynProxyState {
            mode: svc.syn_proxy.into(),
            workers: u32::try_from(self.counters.len()).unwrap_or(u32::MAX),
            engaged_workers: u32::try_from(r.engaged_workers).unwrap_or(u32::MAX),
            engaged_total: r.engaged_total,
            released_total: r.released_total,
        })
    }

    fn dest_health(&self, svc: &Service, rs: &RealServer) -> Option<DestHealth> {
        // The checker knows servers by their indices in the running configuration.
        let si =
            self.cfg.services.iter().position(|s| {
                s.vip == svc.vip && s.port == svc.port && s.protocol == svc.protocol
            })?;
        let ri = self.cfg.services[si]
            .real_servers
            .iter()
            .position(|r| r.address == rs.address && r.port == rs.port)?;
        let Some(h) = self.health.server_health(si, ri) else {
            return Some(DestHealth::unchecked());
        };
        Some(DestHealth {
            state: if h.up {
                HealthState::Up
            } else {
                HealthState::Down
            },
            for_s: SystemTime::now()
                .duration_since(h.since)
                .map_or(0, |d| d.as_secs()),
            check: Some(h.check),
            last_failure: h.last_failure,
        })
    }
}
