//! The control plane on an in-memory frame I/O: no DPDK, no lab.

mod announce;
mod commit;
mod exception;
mod ha;
mod held;
mod neighbours;
mod run;
mod synauto;
mod sync;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwap;
use dataplane::counters::WorkerCounters;
use dataplane::snapshot::{Mac, Snapshot};
use dataplane::worker::{Worker, WorkerConfig};
use testkit::packet;

use super::admin::NoSessions;
use super::{Control, FrameIo, Limits, Setup};
use crate::health::HealthChecker;
use crate::metrics::ReloadStats;
use crate::neigh::Neighbours;
use crate::topology::{self, Ids};

/// Port 0 (wan0) and port 1 (lan0) MACs, as configured.
const MAC0: Mac = [2, 0, 0, 0, 0, 1];
const MAC1: Mac = [2, 0, 0, 0, 1, 1];
/// A client on wan0, the real server on lan0.
const CLIENT_MAC: Mac = [2, 0, 0, 0, 0, 0x50];
const RS_MAC: Mac = [2, 0, 0, 0, 1, 0x11];
const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 50);
const WAN_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const LAN_ADDR: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 1);
const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 10);
const LADDR: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 200);
const RS1: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 11);

/// Two ports, a FullNAT service with one real server and a local address pool.
const CONFIG: &str = r#"
[dpdk]
lcores = "0-1"
hugepages = false
file_prefix = "fvctl-unit"
mbufs_per_port = 8191

[[port]]
name = "wan0"
device = "net_null0"
addresses = ["198.18.0.2/24", "2001:db8:0:1::2/64"]
mac = "02:00:00:00:00:01"

[[port]]
name = "lan0"
device = "net_null1"
addresses = ["198.19.0.1/24"]
mac = "02:00:00:00:01:01"

[[local_address_pool]]
name = "snat"
addresses = ["198.19.0.200"]
port = "lan0"

[[service]]
vip = "198.18.0.10"
port = 80
protocol = "tcp"
forward = "fullnat"
local_address_pool = "snat"

[[service.real_server]]
address = "198.19.0.11"
port = 80
"#;

/// [`CONFIG`] with a second real server.
fn with_rs2() -> String {
    format!("{CONFIG}\n[[service.real_server]]\naddress = \"198.19.0.12\"\nport = 80\n")
}

/// A frame as the in-memory I/O carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct MemFrame {
    data: Vec<u8>,
    port: u8,
    rss: u32,
}

impl MemFrame {
    fn on(port: u8, data: Vec<u8>) -> Self {
        Self { data, port, rss: 0 }
    }
}

/// What went in and out of the in-memory I/O; the tests feed and inspect it.
#[derive(Debug, Default)]
struct Wire {
    /// Out of a port on control's TX queue: (port, bytes).
    sent: Vec<(u8, Vec<u8>)>,
    /// Into a port's exception path.
    to_kernel: Vec<(u8, Vec<u8>)>,
    /// What the kernel sends on a port's exception path, not taken yet.
    from_kernel: Vec<(u8, Vec<u8>)>,
    /// The workers' punt rings, not taken yet.
    punted: Vec<MemFrame>,
    /// Control's own RX queues, not taken yet.
    own_rx: Vec<MemFrame>,
    /// Injected: (worker, frame).
    injected: Vec<(usize, MemFrame)>,
    /// Room left in each inject ring (`None`: unbounded).
    inject_room: Option<usize>,
}

/// Frame I/O on vectors behind a lock, so a test can feed it while the loop runs.
#[derive(Debug)]
struct MemIo {
    wire: Arc<Mutex<Wire>>,
    taps: Vec<bool>,
    workers: usize,
}

fn lock(w: &Mutex<Wire>) -> MutexGuard<'_, Wire> {
    w.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FrameIo for MemIo {
    type Frame = MemFrame;

    fn data(frame: &MemFrame) -> &[u8] {
        &frame.data
    }

    fn rss_hash(frame: &MemFrame) -> u32 {
        frame.rss
    }

    fn in_port(&self, frame: &MemFrame) -> u8 {
        frame.port
    }

    fn alloc(&mut self, bytes: &[u8]) -> Option<MemFrame> {
        Some(MemFrame::on(0, bytes.to_vec()))
    }

    fn send(&mut self, port: u8, frames: &mut Vec<MemFrame>) {
        let mut w = lock(&self.wire);
        w.sent.extend(frames.drain(..).map(|f| (port, f.data)));
    }

    fn has_tap(&self, port: u8) -> bool {
        self.taps.get(usize::from(port)).copied().unwrap_or(false)
    }

    fn send_to_kernel(&mut self, port: u8, frames: &mut Vec<MemFrame>) {
        let mut w = lock(&self.wire);
        w.to_kernel.extend(frames.drain(..).map(|f| (port, f.data)));
    }

    fn recv_from_kernel(&mut self, port: u8, buf: &mut Vec<MemFrame>) {
        let mut w = lock(&self.wire);
        let (mine, rest) = std::mem::take(&mut w.from_kernel)
            .into_iter()
            .partition(|(p, _)| *p == port);
        w.from_kernel = rest;
        buf.extend(
            mine.into_iter()
                .map(|(p, d): (u8, Vec<u8>)| MemFrame::on(p, d)),
        );
    }

    fn recv_punted(&mut self, buf: &mut Vec<MemFrame>) {
        buf.append(&mut lock(&self.wire).punted);
    }

    fn recv_own(&mut self, buf: &mut Vec<MemFrame>) {
        buf.append(&mut lock(&self.wire).own_rx);
    }

    fn workers(&self) -> usize {
        self.workers
    }

    fn inject(&mut self, worker: usize, frames: &mut Vec<MemFrame>) {
        let mut w = lock(&self.wire);
        let n = w.inject_room.map_or(frames.len(), |r| r.min(frames.len()));
        if let Some(r) = &mut w.inject_room {
            *r -= n;
        }
        w.injected.extend(frames.drain(..n).map(|f| (worker, f)));
    }
}

/// The workers behind the fixture's control plane.
#[derive(Clone, Copy, Debug)]
enum Dataplane {
    /// Real dataplane workers on threads, taking every published snapshot as the gateway's do.
    Running(usize),
    /// Counters of workers that never run: their generation never advances.
    Stuck(usize),
    /// Real dataplane workers that the test drives itself ([`Fixture::driven`]): it syncs them,
    /// feeds them frames and ticks their clock.
    Driven(usize),
}

/// A control plane on [`MemIo`], its configuration file and its workers.
struct Fixture {
    ctl: Control<MemIo>,
    wire: Arc<Mutex<Wire>>,
    shared: Arc<ArcSwap<Snapshot>>,
    reload_stats: Arc<ReloadStats>,
    path: PathBuf,
    /// The workers of [`Dataplane::Driven`], in worker order.
    driven: Vec<Worker>,
    _workers: Option<Workers>,
    _dir: tempfile::TempDir,
}

impl Fixture {
    /// Control over `dataplane` with `limits`, running [`CONFIG`] from a file.
    fn new(dataplane: Dataplane, limits: Limits) -> Self {
        Self::build(CONFIG, dataplane, limits, Ids::new(64, 256))
    }

    fn with_ids(dataplane: Dataplane, limits: Limits, ids: Ids) -> Self {
        Self::build(CONFIG, dataplane, limits, ids)
    }

    fn build(text: &str, dataplane: Dataplane, limits: Limits, ids: Ids) -> Self {
        Self::build_with(text, dataplane, limits, ids, false)
    }

    /// Control running `text`; with `sync`, every worker gets a sync link (as the gateway does
    /// when `[sync]` can run) and serves it from its loop.
    fn build_with(
        text: &str,
        dataplane: Dataplane,
        limits: Limits,
        mut ids: Ids,
        sync: bool,
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ferrovs.toml");
        std::fs::write(&path, text).expect("write config");
        let cfg = config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        ids.assign(&cfg).expect("room for the fixture");
        let macs = vec![MAC0, MAC1];
        let neighbours = Neighbours::default();
        let shared = Arc::new(ArcSwap::from_pointee(topology::build(
            &topology::Inputs {
                cfg: &cfg,
                macs: &macs,
                neighbours: &neighbours,
                ids: &ids,
                health: &topology::unchecked,
                not_owned: &[],
            },
            1,
        )));
        let n = match dataplane {
            Dataplane::Running(n) | Dataplane::Stuck(n) | Dataplane::Driven(n) => n,
        };
        let driven: Vec<Worker> = match dataplane {
            Dataplane::Driven(n) => (0..n).map(|id| Worker::new(worker_config(id, n))).collect(),
            _ => Vec::new(),
        };
        let (worker_links, control_links): (Vec<_>, Vec<_>) = (0..if sync { n } else { 0 })
            .map(|_| dataplane::sync::link(dataplane::sync::SyncConfig::default()))
            .unzip();
        let workers = match dataplane {
            Dataplane::Running(n) => Some(Workers::start(n, &shared, worker_links)),
            Dataplane::Stuck(_) | Dataplane::Driven(_) => None,
        };
        let counters: Vec<Arc<WorkerCounters>> = if driven.is_empty() {
            workers.as_ref().map_or_else(
                || {
                    (0..n)
                        .map(|_| Arc::new(WorkerCounters::new(64, 256)))
                        .collect()
                },
                |w| w.counters.clone(),
            )
        } else {
            driven.iter().map(|w| w.counters().clone()).collect()
        };
        let wire = Arc::new(Mutex::new(Wire::default()));
        let reload_stats = Arc::new(ReloadStats::new());
        let ctl = Control::new(Setup {
            health: HealthChecker::start(&cfg),
            cfg,
            path: path.clone(),
            ids,
            neighbours,
            shared: shared.clone(),
            counters,
            macs,
            io: MemIo {
                wire: wire.clone(),
                taps: vec![false, false],
                workers: n,
            },
            reload_stats: reload_stats.clone(),
            dumps: Box::new(NoSessions),
            limits,
            sync: sync.then(|| super::SyncLinks {
                links: control_links,
                steering: dataplane::sync::Steering {
                    workers: u16::try_from(n).unwrap(),
                    replies: dataplane::worker::ReplySteering::Modulo,
                    inbound: None,
                },
                stats: Arc::default(),
            }),
        });
        if let Some(w) = &workers {
            w.wait_started();
        }
        Self {
            ctl,
            wire,
            shared,
            reload_stats,
            path,
            driven,
            _workers: workers,
            _dir: dir,
        }
    }

    fn wire(&self) -> MutexGuard<'_, Wire> {
        lock(&self.wire)
    }
}

/// Worker `id` of `n`, with the fixture's tables and id ranges.
fn worker_config(id: usize, n: usize) -> WorkerConfig {
    WorkerConfig {
        id: u16::try_from(id).unwrap(),
        workers: u16::try_from(n).unwrap(),
        sessions4: 1024,
        sessions6: 1024,
        templates: 1024,
        max_services: 64,
        max_backends: 256,
        ..WorkerConfig::default()
    }
}

/// Dataplane workers on threads, syncing to the published snapshot in a loop as the gateway's
/// worker loop does; stopped and joined on drop.
struct Workers {
    counters: Vec<Arc<WorkerCounters>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Wait (10 s at most) until every worker has taken a snapshot: readiness fails for a worker
    /// that has not run yet (as a just-started gateway's does for a moment), and the tests ask
    /// about a gateway that is up.
    fn wait_started(&self) {
        let start = std::time::Instant::now();
        while self.counters.iter().any(|c| c.generation.get() == 0) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the fixture's workers did not start"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// `n` workers; each of `links` (one per worker, or none) is attached and served.
    fn start(
        n: usize,
        shared: &Arc<ArcSwap<Snapshot>>,
        links: Vec<dataplane::sync::WorkerSync>,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let mut counters = Vec::new();
        let mut threads = Vec::new();
        let mut links = links.into_iter();
        for id in 0..n {
            let mut w = Worker::new(worker_config(id, n));
            if let Some(l) = links.next() {
                w.attach_sync(l);
            }
            counters.push(w.counters().clone());
            let (shared, stop) = (shared.clone(), stop.clone());
            threads.push(std::thread::spawn(move || {
                let started = std::time::Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    let snap = shared.load();
                    w.sync(&snap);
                    let now = u32::try_from(started.elapsed().as_secs()).unwrap_or(u32::MAX);
                    w.serve_sync(&snap, now);
                    std::thread::sleep(Duration::from_micros(200));
                }
            }));
        }
        Self {
            counters,
            stop,
            threads,
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            t.join().expect("worker thread");
        }
    }
}

/// A TCP SYN from the client to `dst:80`, as it arrives on wan0.
fn tcp_syn(dst: Ipv4Addr) -> Vec<u8> {
    packet::tcp(
        (CLIENT_MAC, MAC0),
        CLIENT.into(),
        dst.into(),
        40000,
        80,
        packet::SYN,
        &[],
    )
}

/// An ICMP echo request (id 7, sequence 1) from the client to `dst`.
fn ping(dst: Ipv4Addr) -> Vec<u8> {
    packet::icmp(
        (CLIENT_MAC, MAC0),
        CLIENT.into(),
        dst.into(),
        8,
        0,
        [0, 7, 0, 1],
        b"ping",
    )
}

/// An ARP frame: `op` (1 request, 2 reply) from (`sha`, `spa`) to (`tha`, `tpa`).
fn arp(op: u16, sha: Mac, spa: Ipv4Addr, tha: Mac, tpa: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(if op == 1 { &[0xff; 6] } else { &tha });
    f.extend_from_slice(&sha);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4]);
    f.extend_from_slice(&op.to_be_bytes());
    f.extend_from_slice(&sha);
    f.extend_from_slice(&spa.octets());
    f.extend_from_slice(&tha);
    f.extend_from_slice(&tpa.octets());
    f.resize(60, 0);
    f
}

/// The fields of an ARP frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Arp {
    /// Ethernet destination.
    dst: Mac,
    /// 1 request, 2 reply.
    op: u16,
    sha: Mac,
    spa: Ipv4Addr,
    tha: Mac,
    tpa: Ipv4Addr,
}

/// Read an ARP frame; `None` when it is not one.
fn arp_fields(f: &[u8]) -> Option<Arp> {
    if f.len() < 42 || f[12..14] != [0x08, 0x06] {
        return None;
    }
    let mac = |at: usize| -> Mac { f[at..at + 6].try_into().unwrap() };
    let ip = |at: usize| Ipv4Addr::new(f[at], f[at + 1], f[at + 2], f[at + 3]);
    Some(Arp {
        dst: mac(0),
        op: u16::from_be_bytes([f[20], f[21]]),
        sha: mac(22),
        spa: ip(28),
        tha: mac(32),
        tpa: ip(38),
    })
}
