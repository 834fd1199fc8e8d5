//! The running gateway behind the admin API (`ferrovsadm`): listings from the workers'
//! counters, `-Z` as baselines (workers' counters have one writer each, so control never writes
//! them), `--rate` from a 2-second estimator, `-L -c` from the workers' session dumps,
//! `-L --health` from the health checker's state, `-L --ha` from director HA's, and `--ready`
//! (keepalived's `vrrp_script`) from the ports' links, the workers' progress and the snapshot
//! they run.
//!
//! The impl of [`AdminState`] lives here, with the state it serves: `admin` defines the trait
//! and depends only on `config`, so `control` depending on `admin` makes no circle, and the
//! binary needs no wrapper type to get around the orphan rule.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use admin::handler::AdminState;
use admin::proto::{
    AnnounceListing, ConnEntry, Counters, DestHealth, DestState, HaListing, HealthState,
};
use config::{Config, RealServer, Service};
use dataplane::counters::{TrafficCounters, WorkerCounters};

use super::{Control, FrameIo};

/// How often rates are estimated (IPVS's estimator runs every 2 s too).
pub const RATE_EVERY: Duration = Duration::from_secs(2);
/// A worker whose poll count has not moved for this long is not running (readiness). Workers
/// poll without pause when busy and sleep at most milliseconds when idle.
pub const STALLED_AFTER: Duration = Duration::from_secs(5);
/// How long the readiness check waits for workers to take the snapshot published last (they
/// take it within one loop iteration; a commit waits seconds, a check must not).
const READY_CONFIRM_WITHIN: Duration = Duration::from_millis(50);

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
    Service(u16),
    Backend(u16),
}

/// conns, in packets, out packets, in bytes, out bytes.
type Totals = [u64; 5];

fn totals(workers: &[Arc<WorkerCounters>], b: Block) -> Totals {
    let mut t = [0u64; 5];
    for w in workers {
        let c: Option<&TrafficCounters> = match b {
            Block::Service(i) => w.services.get(usize::from(i)),
            Block::Backend(i) => w.backends.get(usize::from(i)),
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
        let polls = |c: &WorkerCounters| c.busy_polls.get().wrapping_add(c.idle_polls.get());
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
        for (w, (_, moved)) in self.liveness.iter().enumerate() {
            let still = now.saturating_duration_since(*moved);
            if still >= STALLED_AFTER {
                return Err(format!(
                    "worker {w} is not polling (no progress for {} s)",
                    still.as_secs()
                ));
            }
        }
        let deadline = now + READY_CONFIRM_WITHIN;
        loop {
            let behind = self
                .counters
                .iter()
                .position(|c| c.generation.get() < self.generation);
            match behind {
                None => break,
                Some(w) if Instant::now() >= deadline => {
                    return Err(format!(
                        "worker {w} runs configuration generation {}, control published {}",
                        self.counters[w].generation.get(),
                        self.generation
                    ));
                }
                Some(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
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
        Ok(format!(
            "{} ports up, {} workers polling, generation {} everywhere{ha}",
            self.cfg.ports.len(),
            self.counters.len(),
            self.generation
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
            if let Some(c) = w.backends.get(usize::from(id)) {
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

    fn ready(&self) -> Result<String, String> {
        self.readiness(Instant::now())
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
