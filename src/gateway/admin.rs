//! The running gateway behind the admin API (`ferrovsadm`): listings from the workers'
//! counters, `-Z` as baselines (workers' counters have one writer each, so control never writes
//! them), `--rate` from a 2-second estimator, and `-L -c` from a session dump the workers fill
//! on request, and `-L --health` from the health checker's state.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use admin::handler::AdminState;
use admin::proto::{ConnEntry, Counters, DestHealth, DestState, HealthState, Proto};
use config::{Config, RealServer, Service};
use dataplane::counters::{TrafficCounters, WorkerCounters};
use dataplane::pipeline::Worker;
use dataplane::session::{Session, SessionAddr};
use dataplane::types::L4Proto;

use super::Control;

/// How often rates are estimated (IPVS's estimator runs every 2 s too).
pub(super) const RATE_EVERY: Duration = Duration::from_secs(2);
/// At most this many connection entries per worker in one `-L -c` dump.
const DUMP_MAX: usize = 100_000;
/// How long control waits for the workers' dumps.
const DUMP_WAIT: Duration = Duration::from_secs(2);

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
pub(super) struct Stats {
    baseline: HashMap<Block, Totals>,
    last: HashMap<Block, (Instant, Totals)>,
    rates: HashMap<Block, Totals>,
}

impl Stats {
    /// Sample every block's totals and update its rate (per second over the last interval).
    pub(super) fn estimate(&mut self, workers: &[Arc<WorkerCounters>], blocks: &[Block]) {
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

/// A request for, and the result of, one worker's session dump.
#[derive(Debug, Default)]
pub(super) struct ConnDump {
    requested: AtomicBool,
    done: AtomicBool,
    entries: Mutex<Vec<ConnEntry>>,
}

impl ConnDump {
    /// Called by the worker every loop iteration: one relaxed load unless a dump is asked for.
    #[inline]
    pub(super) fn serve(&self, worker: &Worker, now: u32) {
        if !self.requested.load(Ordering::Relaxed) {
            return;
        }
        self.requested.store(false, Ordering::Relaxed);
        // Off the packet path: a dump is rare and asked for by an operator.
        let mut out = Vec::new();
        dump(worker.sessions4().iter().map(|(_, s)| s), now, &mut out);
        dump(worker.sessions6().iter().map(|(_, s)| s), now, &mut out);
        if let Ok(mut e) = self.entries.lock() {
            *e = out;
        }
        self.done.store(true, Ordering::Release);
    }
}

fn dump<'a, A: SessionAddr + Into<std::net::IpAddr> + 'a>(
    sessions: impl Iterator<Item = &'a Session<A>>,
    now: u32,
    out: &mut Vec<ConnEntry>,
) {
    for s in sessions.take(DUMP_MAX) {
        if s.is_expired(now) {
            continue;
        }
        out.push(ConnEntry {
            protocol: match s.proto() {
                L4Proto::Udp => Proto::Udp,
                _ => Proto::Tcp,
            },
            client: SocketAddr::new(s.client().into(), s.cport()),
            virtual_addr: SocketAddr::new(s.vip().into(), s.vport()),
            destination: SocketAddr::new(s.backend().into(), s.bport()),
            state: if s.proto() == L4Proto::Udp {
                "UDP".to_owned()
            } else {
                s.state_name().to_owned()
            },
            expire_s: s.expires().saturating_sub(now),
        });
    }
}

impl Control<'_> {
    /// Every counter block the rate estimator follows: configured services and real servers.
    pub(super) fn blocks(&self) -> Vec<Block> {
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
}

impl AdminState for Control<'_> {
    fn config(&self) -> &Config {
        &self.cfg
    }

    fn commit(&mut self, new: Config) -> Result<(), String> {
        let services = new.services.len();
        let g = Control::commit(self, new)?;
        println!("ferrovs: admin change applied: generation {g}, {services} services");
        Ok(())
    }

    fn reload(&mut self) -> Result<u64, String> {
        self.reload_file()
    }

    fn service_counters(&self, svc: &Service) -> Counters {
        self.ids.service(svc).map_or_else(Counters::default, |id| {
            self.admin_stats
                .counters(&self.counters, Block::Service(id))
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
            counters: self
                .admin_stats
                .counters(&self.counters, Block::Backend(id)),
        }
    }

    fn connections(&self) -> Vec<ConnEntry> {
        for d in &self.dumps {
            d.done.store(false, Ordering::Relaxed);
            d.requested.store(true, Ordering::Relaxed);
        }
        let deadline = Instant::now() + DUMP_WAIT;
        let mut out = Vec::new();
        for d in &self.dumps {
            while !d.done.load(Ordering::Acquire) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            if let Ok(mut e) = d.entries.lock() {
                out.append(&mut e);
            }
        }
        out
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
            self.admin_stats.zero(&self.counters, b);
        }
    }

    fn conn_table_size(&self) -> u32 {
        self.cfg.dpdk.session_capacity
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
