//! `ferrovs-bench`: the ferrovs worker loop on DPDK, fed by a generator lcore, next to
//! testpmd's `io` and `macswap` loops on the same path. `benches/run.py` (`make bench`)
//! drives it; `benches/README.md` explains the method.
//!
//! - `ring`: one process, one EAL; the generator lcore and the DUT lcore are joined by two
//!   `net_ring` port pairs (port 0: clients to the DUT, port 1: the DUT to the backends, which
//!   the generator also plays). Runs a list of cases and prints one JSON object per case.
//! - `memif-gen`: the generator alone, on two `net_memif` server ports; the DUT is another
//!   process (`dpdk-testpmd`, or `memif-dut`) connected as memif client. Prints one JSON object.
//! - `memif-dut`: the ferrovs worker loop on two `net_memif` client ports, until SIGINT/SIGTERM.
//!
//! Each case measures frames received back by the generator over a fixed window after a
//! warm-up: that is the DUT's forwarding rate whenever the generator is not the bottleneck
//! (the `offered_mpps` field says how fast the generator managed to send).
#![forbid(unsafe_code)]

mod lcores;
mod traffic;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use clap::{Parser, Subcommand};
use dataplane::types::L4Proto;
use dataplane::worker::{Worker, WorkerConfig};
use dataplane::worker_loop::IdleMode;
use dpdk::eal::Eal;
use dpdk::ethdev::{Port, PortConfig, RxQueue, TxQueue};
use dpdk::lcore::{self, LcoreId};
use dpdk::mempool::{Mempool, DEFAULT_DATA_ROOM};
use dpdk::ring;
use serde_json::json;

use lcores::{DutQueues, Plan, RunState};
use traffic::{Dut, Flows, Kind};

/// Descriptors per queue (ring slots for `net_ring`).
const DESC: u16 = 1024;
/// Mbufs in the pool: both directions' rings full plus bursts and per-lcore caches.
const MBUFS: u32 = 16383;

/// The system allocator, placing the DUT's session tables on huge pages as `ferrovs run` does
/// with `hugepages = true` (its default).
#[global_allocator]
static ALLOC: dpdk::huge::TableAlloc = dpdk::huge::TableAlloc;

/// Whether the DUT's session tables go on huge pages (`--tables`), set once in `main`.
static HUGE_TABLES: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
/// Where the last DUT's session tables went, for the results (`tables`).
static TABLES: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

#[derive(Parser, Debug)]
#[command(about = "ferrovs benchmarks on DPDK (see benches/README.md)")]
struct Cli {
    /// Where the ferrovs DUT's session tables go: `huge` (2 MiB pages, as `ferrovs run` with
    /// `hugepages = true`; normal pages, said in the results, when too few are free) or
    /// `normal` (4 KiB pages).
    #[arg(long, global = true, default_value = "huge", value_parser = ["huge", "normal"])]
    tables: String,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args, Debug, Clone)]
struct Timing {
    /// Seconds of traffic before the measured window.
    #[arg(long, default_value_t = 0.5)]
    warmup: f64,
    /// Seconds in the measured window.
    #[arg(long, default_value_t = 2.0)]
    secs: f64,
    /// Unix time (seconds) at which the measured window opens, after the warm-up, so that
    /// several processes measure at once (`run.py --scaling`); traffic flows until then.
    #[arg(long)]
    start_at: Option<f64>,
    /// EAL `--lcores` map: main lcore 0, then the generator and/or DUT lcores.
    #[arg(long)]
    lcores: String,
    /// EAL `--file-prefix`.
    #[arg(long, default_value = "fvbench")]
    prefix: String,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Generator and DUT in this process, joined by `net_ring` port pairs.
    Ring {
        /// DUT kinds (comma-separated): io, macswap, dr, nat, tun, fullnat, drop (frames to an
        /// address ferrovs does not serve: the drop path, measured by the DUT's RX rate).
        #[arg(long, default_value = "io,macswap,dr,nat,tun,fullnat")]
        duts: String,
        /// Protocols (comma-separated): udp, tcp.
        #[arg(long, default_value = "udp,tcp")]
        protos: String,
        /// Concurrent flows (comma-separated); the references run the first only.
        #[arg(long, default_value = "1000,100000,1000000")]
        flows: String,
        /// Idle modes of the ferrovs worker loop (comma-separated): busy, sleep.
        #[arg(long, default_value = "busy")]
        idle: String,
        #[command(flatten)]
        timing: Timing,
    },
    /// Round-trip latency at low load through the ferrovs worker loop (`net_ring`, as `ring`):
    /// one stamped UDP frame at a time, per idle mode.
    Latency {
        /// DUT kind: dr, nat, tun, fullnat.
        #[arg(long, default_value = "dr")]
        dut: String,
        /// Idle modes (comma-separated): busy, sleep.
        #[arg(long, default_value = "busy,sleep")]
        idle: String,
        /// Frames per second.
        #[arg(long, default_value_t = 1000.0)]
        pps: f64,
        /// Flows the frames visit in turn.
        #[arg(long, default_value_t = 1000)]
        flows: usize,
        #[command(flatten)]
        timing: Timing,
    },
    /// The generator on two `net_memif` server ports (sockets `DIR/m0.sock`, `DIR/m1.sock`).
    MemifGen {
        /// Directory of the memif sockets.
        #[arg(long)]
        dir: PathBuf,
        /// What the peer runs (for the frames' VIP and the prefill; and the label).
        #[arg(long)]
        dut: String,
        /// Protocol: udp or tcp.
        #[arg(long, default_value = "udp")]
        proto: String,
        /// Concurrent flows.
        #[arg(long, default_value_t = 1_000_000)]
        flows: usize,
        /// Label for the results (e.g. `testpmd` or `ferrovs`).
        #[arg(long)]
        peer: String,
        /// Frame length less the FCS, 60 (64 on the wire) to 1514 (1494 for TUN, whose outer
        /// header must fit the 1500-byte MTU).
        #[arg(long, default_value_t = traffic::FRAME)]
        frame_bytes: usize,
        /// After printing the result, keep the ports up until stdin closes: memif resets a
        /// peer's port counters when the link goes down, so the peer (testpmd) must be stopped
        /// and have printed its statistics first.
        #[arg(long)]
        hold: bool,
        #[command(flatten)]
        timing: Timing,
    },
    /// What freeing a burst of mbufs costs: one `rte_pktmbuf_free` per mbuf (what dropping an
    /// `Mbuf` does) against one `rte_pktmbuf_free_bulk` per burst, on the main lcore.
    FreeBulk {
        /// Bursts per method and round.
        #[arg(long, default_value_t = 200_000)]
        bursts: usize,
        /// Rounds (the methods alternate; the figure is the median round).
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// EAL `--file-prefix`.
        #[arg(long, default_value = "fvfree")]
        prefix: String,
    },
    /// The ferrovs worker loop on two `net_memif` client ports, until SIGINT or SIGTERM.
    MemifDut {
        /// Directory of the memif sockets.
        #[arg(long)]
        dir: PathBuf,
        /// Session table capacity.
        #[arg(long, default_value_t = 1_000_000)]
        sessions: usize,
        /// EAL `--lcores` map: main lcore 0, the worker lcore 1.
        #[arg(long)]
        lcores: String,
        /// EAL `--file-prefix`.
        #[arg(long, default_value = "fvdut")]
        prefix: String,
        /// Idle mode of the worker loop: busy or sleep.
        #[arg(long, default_value = "busy")]
        idle: String,
        /// memif buffer size (bytes a slot); the gateway's default for a client without it.
        #[arg(long)]
        bsize: Option<u16>,
    },
    /// Print the `--vdev` strings `memif-dut` gives its two client ports, one a line, for
    /// another DUT (testpmd) to run on the same memory layout.
    MemifVdev {
        /// Directory of the memif sockets.
        #[arg(long)]
        dir: PathBuf,
        /// memif buffer size, as `memif-dut --bsize`.
        #[arg(long)]
        bsize: Option<u16>,
    },
}

fn main() {
    let cli = Cli::parse();
    let _ = HUGE_TABLES.set(cli.tables == "huge");
    let r = match cli.cmd {
        Cmd::Ring {
            duts,
            protos,
            flows,
            idle,
            timing,
        } => ring_cmd(&duts, &protos, &flows, &idle, &timing),
        Cmd::Latency {
            dut,
            idle,
            pps,
            flows,
            timing,
        } => latency_cmd(&dut, &idle, pps, flows, &timing),
        Cmd::MemifGen {
            dir,
            dut,
            proto,
            flows,
            peer,
            frame_bytes,
            hold,
            timing,
        } => memif_gen(
            &dir,
            &dut,
            &proto,
            (flows, frame_bytes),
            (&peer, hold),
            &timing,
        ),
        Cmd::FreeBulk {
            bursts,
            rounds,
            prefix,
        } => free_bulk_cmd(bursts, rounds, &prefix),
        Cmd::MemifDut {
            dir,
            bsize,
            sessions,
            lcores,
            prefix,
            idle,
        } => parse_idle(&idle)
            .ok_or_else(|| format!("idle: busy or sleep, not {idle:?}"))
            .and_then(|idle| memif_dut((&dir, bsize), sessions, &lcores, &prefix, idle)),
        Cmd::MemifVdev { dir, bsize } => {
            for i in [0, 1] {
                println!("{}", memif_spec(&dir, i, "client", bsize));
            }
            Ok(())
        }
    };
    if let Err(e) = r {
        eprintln!("ferrovs-bench: {e}");
        std::process::exit(1);
    }
}

fn eal(lcores: &str, prefix: &str) -> Result<Eal, String> {
    let args = [
        "ferrovs-bench",
        "--no-huge",
        "--no-pci",
        "--no-shconf",
        "--no-telemetry",
        "-m",
        "512",
        "--lcores",
        lcores,
        "--main-lcore",
        "0",
        "--file-prefix",
        prefix,
        "--log-level",
        "*:warning",
    ];
    Eal::init(args).map_err(|e| format!("EAL ({}): {e}", args.join(" ")))
}

fn list<T>(s: &str, f: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, String> {
    s.split(',')
        .map(|x| f(x.trim()).ok_or_else(|| format!("cannot parse {x:?}")))
        .collect()
}

/// The generator's queues of a ring case: it sends on `tx` and polls `rx` (the DUT's side
/// first, then its own port 0). `back_tx` is unused; it lives until the ports go.
struct GenQueues {
    tx: TxQueue,
    rx: Vec<RxQueue>,
    back_tx: TxQueue,
}

/// The two started `net_ring` port pairs of a ring case, named by `tag`: pair `c`, generator
/// (client side) -> DUT port 0; pair `b`, DUT port 1 -> generator. The ports are returned
/// to be dropped after every queue.
fn ring_ports(
    eal: &Eal,
    pool: &Mempool,
    tag: &str,
) -> Result<([Port; 4], GenQueues, DutQueues), String> {
    let e = |x: dpdk::Error| x.to_string();
    let (mut g0, mut d0) =
        Port::ring_pair(eal, &format!("c{tag}"), 1, u32::from(DESC)).map_err(e)?;
    let (mut g1, mut d1) =
        Port::ring_pair(eal, &format!("b{tag}"), 1, u32::from(DESC)).map_err(e)?;
    let (g0rx, g0tx) = start_port(&mut g0, pool)?;
    let (g1rx, g1tx) = start_port(&mut g1, pool)?;
    let (d0rx, d0tx) = start_port(&mut d0, pool)?;
    let (d1rx, d1tx) = start_port(&mut d1, pool)?;
    let g = GenQueues {
        tx: g0tx,
        rx: vec![g1rx, g0rx],
        back_tx: g1tx,
    };
    let q = DutQueues {
        rx: vec![d0rx, d1rx],
        tx: vec![d0tx, d1tx],
    };
    Ok(([g0, g1, d0, d1], g, q))
}

/// Configure a started one-queue port.
fn start_port(p: &mut Port, pool: &Mempool) -> Result<(RxQueue, TxQueue), String> {
    p.configure(&PortConfig {
        rx_queues: 1,
        tx_queues: 1,
        ..Default::default()
    })
    .map_err(|e| format!("{}: configure: {e}", p.name()))?;
    let rx = p
        .rx_queue_setup(0, DESC, pool)
        .map_err(|e| format!("{}: rx queue: {e}", p.name()))?;
    let tx = p
        .tx_queue_setup(0, DESC)
        .map_err(|e| format!("{}: tx queue: {e}", p.name()))?;
    p.start().map_err(|e| format!("{}: start: {e}", p.name()))?;
    Ok((rx, tx))
}

/// The DUT's worker for `flows` sessions, its tables placed as `--tables` asks (and the
/// placement recorded for the results, and said on stderr).
fn worker_for(flows: usize) -> Worker {
    let build = || {
        Worker::new(WorkerConfig {
            // The table rounds up to a power of two; one more flow than needed keeps it below
            // its fill limit at exactly 2^k flows.
            sessions4: flows + flows / 8,
            sessions6: 1024,
            templates: 1024,
            max_services: 16,
            max_backends: 64,
            ..WorkerConfig::default()
        })
    };
    let (w, tables) = if HUGE_TABLES.get().copied().unwrap_or(true) {
        let (w, placed) = dpdk::huge::on_huge_pages(build);
        (w, placed.summary())
    } else {
        (build(), "normal (--tables normal)".to_owned())
    };
    eprintln!("ferrovs-bench: session tables for {flows} flows: {tables}");
    if let Ok(mut t) = TABLES.lock() {
        *t = tables;
    }
    w
}

/// Where the last DUT's session tables went (`worker_for`), for the results.
fn tables_placed() -> String {
    TABLES.lock().map(|t| t.clone()).unwrap_or_default()
}

fn plan(dut: Dut, proto: L4Proto, flows: usize, frame_bytes: usize) -> Plan {
    let prefill = match (dut.is_ferrovs(), proto) {
        (false, _) => vec![],
        (true, L4Proto::Tcp) => vec![Kind::Open, Kind::Data],
        (true, _) => vec![Kind::Open],
    };
    Plan {
        flows: Flows::with_len(dut, proto, flows, frame_bytes),
        prefill,
    }
}

/// What the main lcore measured: counter samples at the edges of equal sub-windows.
struct Measured {
    prefill_s: f64,
    /// How far past `--start-at` the window opened (the prefill and warm-up took longer).
    late_s: Option<f64>,
    samples: Vec<(Instant, Sample, Sample)>,
    /// (iterations, stalls) of the generator and the DUT at the window's edges.
    loops: [((u64, u64), (u64, u64)); 2],
    /// Pauses the DUT slept in the window (ferrovs with `--idle sleep`).
    sleeps: u64,
    /// The DUT's busy cycles at the window's edges (0 for a DUT in another process).
    cycles: (u64, u64),
    /// Unix time (seconds) at the window's edges, to match a DUT process's own samples.
    unix: (f64, f64),
}

/// (rx, tx, dropped) of one loop.
type Sample = (u64, u64, u64);

/// Sub-windows per measurement: the figure is their median, so a burst of load from another
/// process on a shared machine moves it less than it moves a single long window.
const WINDOWS: u32 = 5;

/// Wait for the generator's steady phase, warm up, and sample both loops' counters at the
/// edges of [`WINDOWS`] sub-windows; then stop both loops.
fn measure(st: &RunState, t: &Timing, limit: Duration) -> Result<Measured, String> {
    let t0 = Instant::now();
    while st.gen.steady.load(Ordering::Acquire) == 0 {
        if t0.elapsed() > limit {
            shutdown(st);
            return Err(format!("prefill did not finish in {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let prefill_s = t0.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs_f64(t.warmup));
    let late_s = t.start_at.map(wait_until);
    let l0 = (st.gen.loop_sample(), st.dut_loop_sample());
    let s0 = st.dut_sleeps();
    let c0 = st.dut_cycles();
    let u0 = unix_now();
    let mut samples = vec![(Instant::now(), st.gen.sample(), st.dut_sample())];
    for _ in 0..WINDOWS {
        std::thread::sleep(Duration::from_secs_f64(t.secs / f64::from(WINDOWS)));
        samples.push((Instant::now(), st.gen.sample(), st.dut_sample()));
    }
    let c1 = st.dut_cycles();
    let u1 = unix_now();
    let l1 = (st.gen.loop_sample(), st.dut_loop_sample());
    let sleeps = st.dut_sleeps() - s0;
    shutdown(st);
    Ok(Measured {
        prefill_s,
        late_s,
        samples,
        loops: [(l0.0, l1.0), (l0.1, l1.1)],
        sleeps,
        cycles: (c0, c1),
        unix: (u0, u1),
    })
}

/// Stop the generator, then (after its last bursts went through) the DUT.
fn shutdown(st: &RunState) {
    st.stop_gen.store(true, Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(20));
    st.stop_dut.store(true, Ordering::Relaxed);
}

impl Measured {
    /// Rates (Mpps) per sub-window of the counter `pick` selects.
    fn rates(&self, pick: impl Fn(&(Instant, Sample, Sample)) -> u64) -> Vec<f64> {
        self.samples
            .windows(2)
            .map(|w| {
                let secs = (w[1].0 - w[0].0).as_secs_f64();
                pick(&w[1]).saturating_sub(pick(&w[0])) as f64 / secs / 1e6
            })
            .collect()
    }

    fn whole(&self, pick: impl Fn(&(Instant, Sample, Sample)) -> u64) -> (f64, u64) {
        let (a, b) = (&self.samples[0], &self.samples[self.samples.len() - 1]);
        let secs = (b.0 - a.0).as_secs_f64();
        let d = pick(b).saturating_sub(pick(a));
        (d as f64 / secs / 1e6, d)
    }
}

/// Sleep until Unix time `at` (seconds); return how late the caller already was (0 if not).
fn wait_until(at: f64) -> f64 {
    let wait = at - unix_now();
    if wait > 0.0 {
        std::thread::sleep(Duration::from_secs_f64(wait));
    }
    (-wait).max(0.0)
}

/// Seconds since the Unix epoch.
fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn share(((i0, s0), (i1, s1)): ((u64, u64), (u64, u64))) -> f64 {
    let iters = i1.saturating_sub(i0);
    if iters == 0 {
        return 0.0;
    }
    s1.saturating_sub(s0) as f64 / iters as f64
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s.get(s.len() / 2).copied().unwrap_or(0.0)
}

/// The 1-minute load average, to show how busy the machine was.
fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(-1.0)
}

fn result_json(
    bench: &str,
    dut: Dut,
    peer: &str,
    proto: L4Proto,
    flows: usize,
    m: &Measured,
    tsc_hz: u64,
) -> serde_json::Value {
    let windows = m.rates(|s| s.1 .0);
    let first = &m.samples[0];
    let last = &m.samples[m.samples.len() - 1];
    // The DUT's cost in TSC cycles per frame received in the window, counted over the
    // iterations that received frames (testpmd's "CPU cycles/packet"); and frames per such
    // iteration (the burst the cost is spread over).
    let dut_rx = last.2 .0.saturating_sub(first.2 .0);
    let cycles = m.cycles.1.saturating_sub(m.cycles.0);
    let ((i0, s0), (i1, s1)) = m.loops[1];
    let busy_polls = i1.saturating_sub(i0).saturating_sub(s1.saturating_sub(s0));
    let per = |a: u64, b: u64| {
        if b == 0 {
            None
        } else {
            Some(a as f64 / b as f64)
        }
    };
    let window_s = (last.0 - first.0).as_secs_f64();
    let tables = if dut.is_ferrovs() && bench == "ring" {
        tables_placed()
    } else {
        String::new()
    };
    json!({
        "bench": bench,
        "dut": dut.name(),
        "peer": peer,
        "proto": proto.as_str(),
        "flows": flows,
        "tables": tables,
        "frame_bytes": traffic::FRAME + 4,
        "mpps": median(&windows),
        "mpps_max": windows.iter().copied().fold(0.0, f64::max),
        "mpps_windows": windows,
        "mpps_mean": m.whole(|s| s.1 .0).0,
        "offered_mpps": m.whole(|s| s.1 .1).0,
        "dut_rx_mpps": m.whole(|s| s.2 .0).0,
        "dut_tx_mpps": m.whole(|s| s.2 .1).0,
        "dut_dropped_in_window": last.2 .2.saturating_sub(first.2 .2),
        "prefill_s": m.prefill_s,
        "window_s": (last.0 - first.0).as_secs_f64(),
        "loadavg_1m": loadavg(),
        // Share of generator iterations in which the DUT's queue was full (the DUT is the
        // bottleneck: want near 1), and of DUT iterations that found no frame (the generator
        // is: want near 0). The DUT share is 0 for a DUT in another process (not seen here).
        "gen_queue_full_share": share(m.loops[0]),
        "dut_empty_poll_share": share(m.loops[1]),
        "dut_idle_sleeps_in_window": m.sleeps,
        "tsc_hz": tsc_hz,
        "dut_busy_cycles_in_window": cycles,
        "dut_cycles_per_packet": if cycles == 0 { None } else { per(cycles, dut_rx) },
        "dut_rx_per_busy_poll": per(dut_rx, busy_polls),
        // Share of the DUT's time in busy iterations (near 1 when it set the rate).
        "dut_busy_time_share": per(cycles, (window_s * tsc_hz as f64) as u64),
        "window_unix": [m.unix.0, m.unix.1],
        "start_late_s": m.late_s,
    })
}

/// The lcore ids after the main one, in order.
fn lcores_after_main(eal: &Eal, need: usize) -> Result<Vec<LcoreId>, String> {
    let w = lcore::workers(eal);
    if w.len() < need {
        return Err(format!("need {need} worker lcores, have {}", w.len()));
    }
    Ok(w)
}

fn parse_idle(s: &str) -> Option<IdleMode> {
    match s {
        "busy" => Some(IdleMode::Busy),
        "sleep" => Some(IdleMode::Sleep),
        _ => None,
    }
}

fn idle_name(i: IdleMode) -> &'static str {
    match i {
        IdleMode::Busy => "busy",
        IdleMode::Sleep => "sleep",
    }
}

/// One ring case: what runs on the DUT lcore and what the generator sends.
#[derive(Clone, Copy, Debug)]
struct Case {
    /// Case number (unique port and ring names).
    n: usize,
    dut: Dut,
    idle: IdleMode,
    proto: L4Proto,
    flows: usize,
}

fn ring_cmd(duts: &str, protos: &str, flows: &str, idle: &str, t: &Timing) -> Result<(), String> {
    let duts = list(duts, Dut::parse)?;
    let protos = list(protos, |s| s.parse::<L4Proto>().ok())?;
    let flows = list(flows, |s| s.parse::<usize>().ok())?;
    let idles = list(idle, parse_idle)?;
    let eal = eal(&t.lcores, &t.prefix)?;
    let lc = lcores_after_main(&eal, 2)?;
    let (gen_lc, dut_lc) = (lc[0], lc[1]);
    let pool = Arc::new(
        Mempool::new(&eal, "bench_pool", MBUFS, 256, DEFAULT_DATA_ROOM, None)
            .map_err(|e| format!("mempool: {e}"))?,
    );
    let snap = Arc::new(ArcSwap::from_pointee(traffic::snapshot()));
    let mut case = 0;
    for &dut in &duts {
        // The references have no idle mode: they run once.
        let modes = if dut.runs_ferrovs() {
            &idles[..]
        } else {
            &[IdleMode::Busy][..]
        };
        for &proto in &protos {
            let sizes = if dut.is_ferrovs() {
                &flows[..]
            } else {
                &flows[..1]
            };
            for &n in sizes {
                for &idle in modes {
                    case += 1;
                    let c = Case {
                        n: case,
                        dut,
                        idle,
                        proto,
                        flows: n,
                    };
                    let r = ring_case(&eal, &pool, &snap, (gen_lc, dut_lc), c, t)?;
                    println!("{r}");
                }
            }
        }
    }
    drop(pool);
    eal.cleanup().map_err(|e| format!("EAL cleanup: {e}"))
}

fn ring_case(
    eal: &Eal,
    pool: &Arc<Mempool>,
    snap: &Arc<ArcSwap<dataplane::snapshot::Snapshot>>,
    (gen_lc, dut_lc): (LcoreId, LcoreId),
    c: Case,
    t: &Timing,
) -> Result<serde_json::Value, String> {
    let Case {
        n: case,
        dut,
        idle,
        proto,
        flows,
    } = c;
    let e = |x: dpdk::Error| x.to_string();
    let (ports, g, q) = ring_ports(eal, pool, &case.to_string())?;
    let st = lcores::run_state();
    let t_build = Instant::now();
    let dut_job = launch_dut(
        eal,
        dut_lc,
        (dut, idle),
        flows,
        q,
        snap,
        &st,
        &format!("r{case}"),
    )?;
    let build_s = t_build.elapsed().as_secs_f64();
    let p = plan(dut, proto, flows, traffic::FRAME);
    let (st2, pool2) = (st.clone(), pool.clone());
    let gen_job = lcore::launch(eal, gen_lc, move || {
        lcores::generator(
            &p,
            g.tx,
            g.rx,
            &pool2,
            &st2.stop_gen,
            &st2.dut_done,
            &st2.gen,
        )
    })
    .map_err(e)?;
    let m = measure(&st, t, Duration::from_secs(300));
    gen_job.join();
    dut_job.join();
    let m = m?;
    let mut r = result_json("ring", dut, "in-process", proto, flows, &m, eal.tsc_hz());
    r["table_build_s"] = json!(build_s);
    r["idle"] = json!(idle_name(idle));
    eprintln!(
        "ring {:>8} {:>5} {} {:>9} flows: {:6.2} Mpps, {:.1} cycles/packet (DUT rx {:.2}, offered {:.2}, prefill {:.1}s, DUT queue full {:.0}%, DUT empty polls {:.0}%, DUT sleeps {})",
        dut.name(),
        idle_name(idle),
        proto.as_str(),
        flows,
        r["mpps"].as_f64().unwrap_or(0.0),
        r["dut_cycles_per_packet"].as_f64().unwrap_or(0.0),
        r["dut_rx_mpps"].as_f64().unwrap_or(0.0),
        r["offered_mpps"].as_f64().unwrap_or(0.0),
        m.prefill_s,
        r["gen_queue_full_share"].as_f64().unwrap_or(0.0) * 100.0,
        r["dut_empty_poll_share"].as_f64().unwrap_or(0.0) * 100.0,
        m.sleeps,
    );
    // Queues first (the others went with the lcore closures), then the ports.
    drop(g.back_tx);
    drop(ports);
    Ok(r)
}

fn latency_cmd(dut: &str, idle: &str, pps: f64, flows: usize, t: &Timing) -> Result<(), String> {
    let dut = Dut::parse(dut)
        .filter(|d| d.is_ferrovs())
        .ok_or_else(|| format!("DUT {dut:?}: one of dr, nat, tun, fullnat"))?;
    let idles = list(idle, parse_idle)?;
    if !(1.0..=1e6).contains(&pps) {
        return Err(format!("pps {pps}: 1 to 1000000"));
    }
    let eal = eal(&t.lcores, &t.prefix)?;
    let lc = lcores_after_main(&eal, 2)?;
    let pool = Arc::new(
        Mempool::new(&eal, "lat_pool", MBUFS, 256, DEFAULT_DATA_ROOM, None)
            .map_err(|e| format!("mempool: {e}"))?,
    );
    let snap = Arc::new(ArcSwap::from_pointee(traffic::snapshot()));
    for (case, &idle) in idles.iter().enumerate() {
        let r = latency_case(
            &eal,
            &pool,
            &snap,
            (lc[0], lc[1]),
            case,
            (dut, idle),
            pps,
            flows,
            t,
        )?;
        println!("{r}");
    }
    drop(pool);
    eal.cleanup().map_err(|e| format!("EAL cleanup: {e}"))
}

/// The value at quantile `q` of sorted `v`, in microseconds.
fn quantile_us(v: &[u64], q: f64, hz: u64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let i = ((v.len() - 1) as f64 * q).round() as usize;
    v[i] as f64 * 1e6 / hz as f64
}

#[allow(clippy::too_many_arguments)]
fn latency_case(
    eal: &Eal,
    pool: &Arc<Mempool>,
    snap: &Arc<ArcSwap<dataplane::snapshot::Snapshot>>,
    (gen_lc, dut_lc): (LcoreId, LcoreId),
    case: usize,
    (dut, idle): (Dut, IdleMode),
    pps: f64,
    flows: usize,
    t: &Timing,
) -> Result<serde_json::Value, String> {
    let e = |x: dpdk::Error| x.to_string();
    let (ports, g, q) = ring_ports(eal, pool, &format!("l{case}"))?;
    let st = lcores::run_state();
    let dut_job = launch_dut(
        eal,
        dut_lc,
        (dut, idle),
        flows,
        q,
        snap,
        &st,
        &format!("l{case}"),
    )?;
    let hz = eal.tsc_hz();
    let gap = (hz as f64 / pps) as u64;
    let warmup = (hz as f64 * t.warmup) as u64;
    let f = Flows::new(dut, L4Proto::Udp, flows);
    let result = Arc::new(std::sync::Mutex::new(lcores::Latency::default()));
    let (st2, pool2, result2) = (st.clone(), pool.clone(), result.clone());
    let gen_job = lcore::launch(eal, gen_lc, move || {
        lcores::latency_generator(
            &f,
            g.tx,
            g.rx,
            &pool2,
            (gap, warmup),
            &st2.stop_gen,
            &st2.dut_done,
            &result2,
        )
    })
    .map_err(e)?;
    std::thread::sleep(Duration::from_secs_f64(t.warmup));
    let s0 = st.dut_sleeps();
    std::thread::sleep(Duration::from_secs_f64(t.secs));
    let sleeps = st.dut_sleeps() - s0;
    shutdown(&st);
    gen_job.join();
    dut_job.join();
    let mut lat = std::mem::take(&mut *result.lock().map_err(|_| "latency result lock")?);
    lat.rtt.sort_unstable();
    let got = lat.rtt.len() as u64;
    let r = json!({
        "bench": "latency",
        "dut": dut.name(),
        "idle": idle_name(idle),
        "proto": "udp",
        "flows": flows,
        "pps": pps,
        "sent": lat.sent,
        "received": got,
        "rtt_us_p50": quantile_us(&lat.rtt, 0.5, hz),
        "rtt_us_p90": quantile_us(&lat.rtt, 0.9, hz),
        "rtt_us_p99": quantile_us(&lat.rtt, 0.99, hz),
        "rtt_us_max": quantile_us(&lat.rtt, 1.0, hz),
        "rtt_us_min": quantile_us(&lat.rtt, 0.0, hz),
        "dut_idle_sleeps_in_window": sleeps,
        "window_s": t.secs,
        "loadavg_1m": loadavg(),
    });
    eprintln!(
        "latency {:>8} {:>5} {pps} pps: rtt p50 {:.1} us, p99 {:.1} us, max {:.1} us ({got} of {} back, {sleeps} DUT sleeps)",
        dut.name(),
        idle_name(idle),
        r["rtt_us_p50"].as_f64().unwrap_or(0.0),
        r["rtt_us_p99"].as_f64().unwrap_or(0.0),
        r["rtt_us_max"].as_f64().unwrap_or(0.0),
        lat.sent,
    );
    drop(g.back_tx);
    drop(ports);
    Ok(r)
}

/// Launch the DUT loop of kind `dut` on `lc` (ferrovs in idle mode `idle`); `tag` names its
/// rings.
#[allow(clippy::too_many_arguments)]
fn launch_dut(
    eal: &Eal,
    lc: LcoreId,
    (dut, idle): (Dut, IdleMode),
    flows: usize,
    q: DutQueues,
    snap: &Arc<ArcSwap<dataplane::snapshot::Snapshot>>,
    st: &Arc<RunState>,
    tag: &str,
) -> Result<lcore::LcoreJoin, String> {
    let e = |x: dpdk::Error| x.to_string();
    let st = st.clone();
    match dut {
        Dut::Io | Dut::Macswap => {
            let swap = dut == Dut::Macswap;
            lcore::launch(eal, lc, move || {
                let r = lcores::reference_loop(q, swap, &st.stop_dut, &st.dut);
                st.dut_done.store(true, Ordering::Release);
                r
            })
            .map_err(e)
        }
        _ => {
            let worker = worker_for(flows);
            // The worker's own counters are the DUT's.
            let _ = st.dut_worker.set(worker.counters().clone());
            // Control's ends of the rings: nobody feeds the inject ring or drains the punt
            // ring in a benchmark.
            let (inject_tx, inject) =
                ring::mbuf_ring(eal, &format!("{tag}_inj"), 1024).map_err(e)?;
            let (punt, punt_rx) = ring::mbuf_ring(eal, &format!("{tag}_punt"), 1024).map_err(e)?;
            let rings = lcores::DutRings { punt, inject };
            let snap = snap.clone();
            let clock = eal.tsc_clock();
            lcore::launch(eal, lc, move || {
                let _control_ends = (inject_tx, punt_rx);
                let r = lcores::ferrovs_dut(worker, q, rings, &snap, &st.stop_dut, clock, idle);
                st.dut_done.store(true, Ordering::Release);
                r
            })
            .map_err(e)
        }
    }
}

/// Time `bursts` rounds of allocating a burst of [`lcores::BURST`] mbufs and releasing it
/// with `free`; return nanoseconds per mbuf.
fn time_free(pool: &Mempool, bursts: usize, free: impl Fn(&mut Vec<dpdk::mbuf::Mbuf>)) -> f64 {
    let mut v = Vec::with_capacity(lcores::BURST);
    let t0 = Instant::now();
    for _ in 0..bursts {
        assert!(pool.alloc_bulk(&mut v, lcores::BURST), "pool exhausted");
        free(&mut v);
    }
    t0.elapsed().as_nanos() as f64 / (bursts * lcores::BURST) as f64
}

fn free_bulk_cmd(bursts: usize, rounds: usize, prefix: &str) -> Result<(), String> {
    let eal = eal("0@0", prefix)?;
    let pool = Mempool::new(&eal, "free_pool", 4095, 256, DEFAULT_DATA_ROOM, None)
        .map_err(|e| format!("mempool: {e}"))?;
    let (mut one, mut bulk) = (Vec::new(), Vec::new());
    for _ in 0..rounds.max(1) {
        one.push(time_free(&pool, bursts, Vec::clear));
        bulk.push(time_free(&pool, bursts, dpdk::mbuf::Mbuf::free_bulk));
    }
    let (m1, mb) = (median(&one), median(&bulk));
    eprintln!(
        "free-bulk: alloc_bulk + free of {} mbufs: {m1:.2} ns/mbuf one by one, {mb:.2} ns/mbuf bulk",
        lcores::BURST
    );
    println!(
        "{}",
        json!({
            "bench": "free_bulk",
            "burst": lcores::BURST,
            "ns_per_mbuf_one_by_one": m1,
            "ns_per_mbuf_bulk": mb,
            "one_by_one_rounds": one,
            "bulk_rounds": bulk,
            "loadavg_1m": loadavg(),
        })
    );
    drop(pool);
    eal.cleanup().map_err(|e| format!("EAL cleanup: {e}"))
}

/// The `--vdev` string of memif port `i` in `dir`: a client's with the gateway's defaults
/// ([`dpdk::devargs`]) unless `bsize` names its buffer size. testpmd, as the DUT, gets the same
/// string (`memif-vdev`), so both DUTs run on the same memory layout.
fn memif_spec(dir: &Path, i: u8, role: &str, bsize: Option<u16>) -> String {
    let spec = format!(
        "net_memif{i},role={role},id=0,socket={}/m{i}.sock,socket-abstract=no{}",
        dir.display(),
        bsize.map(|b| format!(",bsize={b}")).unwrap_or_default()
    );
    dpdk::devargs::with_defaults(&spec).map_or(spec, |d| d.spec)
}

fn memif_port(eal: &Eal, spec: &str) -> Result<Port, String> {
    Port::probe(eal, spec).map_err(|e| format!("{spec}: {e}"))
}

fn wait_link(ports: &[&Port], limit: Duration) -> Result<(), String> {
    let t0 = Instant::now();
    while !ports.iter().all(|p| p.link().is_ok_and(|l| l.up)) {
        if t0.elapsed() > limit {
            return Err("memif link did not come up (is the peer running?)".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn memif_gen(
    dir: &Path,
    dut: &str,
    proto: &str,
    (flows, frame_bytes): (usize, usize),
    (peer, hold): (&str, bool),
    t: &Timing,
) -> Result<(), String> {
    let dut = Dut::parse(dut).ok_or_else(|| format!("unknown DUT kind {dut:?}"))?;
    let proto = proto.parse::<L4Proto>().map_err(|_| "proto: udp or tcp")?;
    let most = dut.max_frame();
    if !(traffic::FRAME..=most).contains(&frame_bytes) {
        return Err(format!(
            "--frame-bytes {frame_bytes}: from {} to {most} for {}",
            traffic::FRAME,
            dut.name()
        ));
    }
    let eal = eal(&t.lcores, &t.prefix)?;
    let lc = lcores_after_main(&eal, 1)?;
    let pool = Arc::new(
        Mempool::new(&eal, "gen_pool", MBUFS, 256, DEFAULT_DATA_ROOM, None)
            .map_err(|e| format!("mempool: {e}"))?,
    );
    let mut p0 = memif_port(&eal, &memif_spec(dir, 0, "server", None))?;
    let mut p1 = memif_port(&eal, &memif_spec(dir, 1, "server", None))?;
    let (p0rx, p0tx) = start_port(&mut p0, &pool)?;
    let (p1rx, p1tx) = start_port(&mut p1, &pool)?;
    // The peer starts after the sockets exist; give it time to start its EAL.
    wait_link(&[&p0, &p1], Duration::from_secs(60))?;
    let st = lcores::run_state();
    let p = plan(dut, proto, flows, frame_bytes);
    let (st2, pool2) = (st.clone(), pool.clone());
    let job = lcore::launch(&eal, lc[0], move || {
        lcores::generator(
            &p,
            p0tx,
            vec![p1rx, p0rx],
            &pool2,
            &st2.stop_gen,
            &st2.dut_done,
            &st2.gen,
        )
    })
    .map_err(|e| e.to_string())?;
    let m = measure(&st, t, Duration::from_secs(300));
    // The DUT is another process: give its last frames a moment to come back.
    std::thread::sleep(Duration::from_millis(100));
    st.dut_done.store(true, Ordering::Release);
    job.join();
    let m = m?;
    let mut r = result_json("memif", dut, peer, proto, flows, &m, eal.tsc_hz());
    r["frame_bytes"] = json!(frame_bytes + 4);
    eprintln!(
        "memif {peer} {:>8} {} {flows} flows: {:.2} Mpps (offered {:.2})",
        dut.name(),
        proto.as_str(),
        r["mpps"].as_f64().unwrap_or(0.0),
        r["offered_mpps"].as_f64().unwrap_or(0.0)
    );
    println!("{r}");
    if hold {
        use std::io::Read;
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
    }
    drop(p1tx);
    drop((p0, p1));
    Ok(())
}

fn memif_dut(
    (dir, bsize): (&Path, Option<u16>),
    sessions: usize,
    lcores: &str,
    prefix: &str,
    idle: IdleMode,
) -> Result<(), String> {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).map_err(|e| e.to_string())?;
    }
    let eal = eal(lcores, prefix)?;
    let lc = lcores_after_main(&eal, 1)?;
    let pool = Mempool::new(&eal, "dut_pool", MBUFS, 256, DEFAULT_DATA_ROOM, None)
        .map_err(|e| format!("mempool: {e}"))?;
    let specs = [0, 1].map(|i| memif_spec(dir, i, "client", bsize));
    let mut p0 = memif_port(&eal, &specs[0])?;
    let mut p1 = memif_port(&eal, &specs[1])?;
    let (r0, t0) = start_port(&mut p0, &pool)?;
    let (r1, t1) = start_port(&mut p1, &pool)?;
    let q = DutQueues {
        rx: vec![r0, r1],
        tx: vec![t0, t1],
    };
    let snap = Arc::new(ArcSwap::from_pointee(traffic::snapshot()));
    let st = lcores::run_state();
    // The DUT kind only matters for the reference loops; the frames pick the mode by VIP.
    let job = launch_dut(&eal, lc[0], (Dut::Dr, idle), sessions, q, &snap, &st, "dut")?;
    eprintln!("memif-dut: ferrovs worker loop running ({sessions} sessions)");
    // The generator's window is known only to the generator: print the worker's counters with
    // the time every 50 ms, for `benches/run.py` to take the ones at the window's edges.
    let hz = eal.tsc_hz();
    let tables = tables_placed();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
        if let Some(c) = st.dut_worker.get() {
            println!(
                "{}",
                json!({
                    "unix": unix_now(),
                    "rx": c.rx.get(),
                    "busy_cycles": c.busy_cycles.get(),
                    "busy_polls": c.busy_polls.get(),
                    "idle_polls": c.idle_polls.get(),
                    "tsc_hz": hz,
                    "tables": tables,
                })
            );
        }
    }
    st.stop_dut.store(true, Ordering::Relaxed);
    job.join();
    let (rx, tx, dropped) = st.dut_sample();
    eprintln!("memif-dut: rx {rx} tx {tx} dropped {dropped}");
    drop((p0, p1));
    drop(pool);
    eal.cleanup().map_err(|e| format!("EAL cleanup: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_until_sleeps_to_a_future_time_and_reports_a_past_one_as_late() {
        let t0 = Instant::now();
        assert_eq!(wait_until(unix_now() + 0.2), 0.0);
        assert!(t0.elapsed() >= Duration::from_millis(190));
        let t1 = Instant::now();
        let late = wait_until(unix_now() - 1.5);
        assert!((1.5..2.5).contains(&late), "late {late}");
        assert!(t1.elapsed() < Duration::from_millis(100));
    }
}
