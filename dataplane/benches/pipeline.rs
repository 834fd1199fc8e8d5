//! Worker pipeline benchmarks: ns/packet per forwarding mode on established flows, replies,
//! new sessions per second, and session memory.
//!
//! Method: IPv4 TCP, 60-byte frames (64 on the wire with the FCS), bursts of 32 through
//! `Worker::process`, as a DPDK worker does. For a table of N live sessions, N flows are opened
//! beforehand (client SYN, backend SYN-ACK where replies come through the gateway, client ACK,
//! which also inserts FullNAT's TOA), so measured packets are ACKs of established flows. The
//! frames of up to 2^20 of those flows are pre-built once, in a shuffled order (so consecutive
//! packets hit unrelated sessions, as on a busy link), and cycled: each burst copies 32
//! templates into reused frames (`VecFrame::reset`, no allocation) and processes them. The
//! `harness/reset_only` bench measures that copy alone, to subtract. The clock does not move
//! during a measurement; `tick` is not called.
//!
//! `new_sessions/*` opens fresh flows (SYNs) into a 2^20-session table until it is 90% full,
//! then replaces the worker outside the timed region. `new_sessions/dr_mh_ack` opens them with
//! ACKs on a Maglev service (flows another gateway started, `sloppy_tcp`), beside
//! `new_sessions/dr_mh_syn` on the same service.
//!
//! Session sync: every `*_events` benchmark is its plain twin with a sync link attached
//! (`dataplane::sync`), so the worker publishes an event per new session (and state change) into
//! its ring; control's drain (another core in the gateway) runs outside the timed region every
//! 512 bursts, before the ring can fill. The established twins run on the same loaded worker.
//!
//! IPv6: `fullnat6` is the FullNAT mode from IPv6 clients to an IPv6 service (74-byte frames,
//! 78 on the wire), not run by default: `FERROVS_BENCH_MODES=fullnat,fullnat6` picks the modes
//! of the established benchmarks (default: `dr,nat,tun,fullnat`).
//!
//! Tables: on 2 MiB huge pages (`dpdk_huge`, the gateway's allocator), as `ferrovs run` makes
//! them with `hugepages = true`, its default; each `loaded` line says where they went (normal
//! pages, with the reason, when too few huge pages are free). `FERROVS_BENCH_TABLES=normal`
//! keeps them on normal 4 KiB pages (every run before 4 December's session 17 used them).
//!
//! Sizes: 1K, 100K and 1M sessions; 10M as well with `FERROVS_BENCH_10M=1` (about 1.2 GB);
//! `FERROVS_BENCH_SIZES=1000,1000000` picks others; `FERROVS_BENCH_PREFETCH_FROM=N` moves the
//! burst prefetch's threshold (`WorkerConfig::prefetch_from`; a huge N turns it off).
//!
//! Cache misses: `FERROVS_BENCH_PASS=fwd` (or `rev`, the replies) loads each mode and size as
//! above, sends every template once through `measured_pass` and exits, no criterion; run it
//! under `valgrind --tool=cachegrind --toggle-collect='*measured_pass*'` and divide the
//! counts by the packets it prints.
//! `worker_loop/*` runs the real loop (`worker_loop::WorkerLoop::run`) over in-process queues
//! that hand it one burst of the same established frames on each poll of port 0 (port 1 stays
//! empty) and take back what it sends: the per-iteration cost of the loop (snapshot, clock,
//! service, polls, dispatch, flush) on top of `established`'s, on `StdClock`.
//!
//! Run: `cargo bench -p dataplane --bench pipeline` (add a filter such as `fullnat` after `--`).
use std::cell::RefCell;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use criterion::{BenchmarkId, Criterion, Throughput};
use dataplane::frame::{Frame, VecFrame};
use dataplane::fuzzing::backend_mac;
use dataplane::io::mem::MemFrame;
use dataplane::io::{PortMap, RingConsumer, RingProducer, RxQueue, StdClock, TxQueue};
use dataplane::sched::SchedulerKind;
use dataplane::session::FwdMethod;
use dataplane::snapshot::{BackendSpec, ServiceSpec, Snapshot, SnapshotBuilder};
use dataplane::sync::{link, ControlSync, SyncConfig};
use dataplane::types::L4Proto;
use dataplane::wire::DropReason;
use dataplane::worker::{Verdict, Worker, WorkerConfig};
use dataplane::worker_loop::{IdleMode, LoopEnv, WorkerIo, WorkerLoop};

use dataplane::snapshot::Route;
use testkit::packet::{tcp, ACK, FROM_CLIENT, SYN};
use testkit::topology::two_ports;

/// Frame length: 64 bytes on the wire less the 4-byte FCS.
const FRAME: usize = 60;
/// IPv6 frame length: Ethernet, IPv6 and TCP headers (78 bytes on the wire).
const FRAME6: usize = 74;
const BURST: usize = 32;
/// At most this many flows get pre-built frames (64 MiB per direction).
const MAX_TEMPLATES: usize = 1 << 20;
const BACKENDS: u8 = 16;
/// Coprime with `BACKENDS`, so round-robin backends and local addresses do not move in step.
const LADDRS: u8 = 17;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Dr,
    Nat,
    Tun,
    FullNat,
    /// FullNAT over IPv6.
    FullNat6,
}

impl Mode {
    const ALL: [Mode; 4] = [Mode::Dr, Mode::Nat, Mode::Tun, Mode::FullNat];

    fn name(self) -> &'static str {
        match self {
            Mode::Dr => "dr",
            Mode::Nat => "nat",
            Mode::Tun => "tun",
            Mode::FullNat => "fullnat",
            Mode::FullNat6 => "fullnat6",
        }
    }

    fn v6(self) -> bool {
        self == Mode::FullNat6
    }

    fn vip(self) -> IpAddr {
        if self.v6() {
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x103))
        } else {
            IpAddr::V4(Ipv4Addr::new(198, 18, 0, 100 + self as u8))
        }
    }

    fn frame_len(self) -> usize {
        if self.v6() {
            FRAME6
        } else {
            FRAME
        }
    }

    fn method(self) -> FwdMethod {
        match self {
            Mode::Dr => FwdMethod::Dr,
            Mode::Nat => FwdMethod::Nat,
            Mode::Tun => FwdMethod::Tun,
            Mode::FullNat | Mode::FullNat6 => FwdMethod::FullNat,
        }
    }

    fn replies(self) -> bool {
        matches!(self, Mode::Nat | Mode::FullNat | Mode::FullNat6)
    }
}

/// The modes of the established benchmarks: `FERROVS_BENCH_MODES` (names, comma-separated) or
/// the four IPv4 ones.
fn modes() -> Vec<Mode> {
    let Ok(list) = std::env::var("FERROVS_BENCH_MODES") else {
        return Mode::ALL.to_vec();
    };
    list.split(',')
        .map(|n| {
            Mode::ALL
                .into_iter()
                .chain([Mode::FullNat6])
                .find(|m| m.name() == n.trim())
                .unwrap_or_else(|| panic!("FERROVS_BENCH_MODES: no mode {n}"))
        })
        .collect()
}

/// One service per mode on 198.18.0.100-103:80, each with 16 round-robin backends on
/// 198.18.1.0/24 (port 1); FullNAT has 17 local addresses and inserts TOA on the first ACK.
/// FullNAT over IPv6 likewise on [2001:db8::103]:80, backends on 2001:db8:1::/64.
fn bench_snapshot() -> Snapshot {
    let mut b = topology();
    for mode in Mode::ALL.into_iter().chain([Mode::FullNat6]) {
        let mut s = ServiceSpec::new(mode.vip(), 80, L4Proto::Tcp);
        s.scheduler = SchedulerKind::Rr;
        let bport = if mode == Mode::Dr || mode == Mode::Tun {
            80
        } else {
            8080
        };
        s.backends = (0..BACKENDS)
            .map(|k| BackendSpec::new(backend_addr(mode.v6(), k), bport, mode.method()))
            .collect();
        if mode == Mode::FullNat {
            s.laddrs = (0..LADDRS)
                .map(|k| IpAddr::V4(Ipv4Addr::new(198, 18, 1, 200 + k)))
                .collect();
        }
        if mode == Mode::FullNat6 {
            s.laddrs = (0..LADDRS)
                .map(|k| {
                    IpAddr::V6(Ipv6Addr::new(
                        0x2001,
                        0xdb8,
                        1,
                        0,
                        0,
                        0,
                        0,
                        0x200 + u16::from(k),
                    ))
                })
                .collect();
        }
        b.service(s);
    }
    b.build()
}

/// The DR service of [`bench_snapshot`] alone, scheduled by Maglev (`mh`, `sloppy_tcp` on by
/// default): a separate snapshot so that the others' figures are untouched.
fn mh_snapshot() -> Snapshot {
    let mut b = topology();
    let mut s = ServiceSpec::new(Mode::Dr.vip(), 80, L4Proto::Tcp);
    s.scheduler = SchedulerKind::Mh;
    s.backends = (0..BACKENDS)
        .map(|k| BackendSpec::new(backend_addr(false, k), 80, FwdMethod::Dr))
        .collect();
    b.service(s);
    b.build()
}

/// The two-port LAN ([`two_ports`] with IPv6, the servers' 198.18.1.0/24 and 2001:db8:1::/64
/// on port 1) and the backends' neighbours.
fn topology() -> SnapshotBuilder {
    let mut b = SnapshotBuilder::new(1);
    two_ports(&mut b, true);
    for (prefix, len) in [("198.18.1.0", 24), ("2001:db8:1::", 64)] {
        b.route(Route {
            prefix: prefix.parse().unwrap(),
            len,
            port: 1,
            via: None,
        });
    }
    for k in 0..BACKENDS {
        b.neighbour(backend_addr(false, k), backend_mac(10 + k));
        b.neighbour(backend_addr(true, k), backend_mac(10 + k));
    }
    b
}

fn backend_addr(v6: bool, k: u8) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            1,
            0,
            0,
            0,
            0,
            0x10 + u16::from(k),
        ))
    } else {
        IpAddr::V4(Ipv4Addr::new(198, 18, 1, 10 + k))
    }
}

/// Client endpoint of flow `i` (distinct for every `i` below 2^32 / 256... far beyond 10M).
fn client(v6: bool, i: usize) -> (IpAddr, u16) {
    let i = u32::try_from(i).unwrap();
    let port = 1024 + (i & 0xff) as u16;
    if v6 {
        let hi = i >> 8;
        let a = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, (hi >> 16) as u16, hi as u16);
        (IpAddr::V6(a), port)
    } else {
        (IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + (i >> 8))), port)
    }
}

/// `f` padded to `len` bytes (the minimum Ethernet frame for IPv4 TCP).
fn padded(mut f: Vec<u8>, len: usize) -> Vec<u8> {
    assert!(f.len() <= len);
    f.resize(len, 0);
    f
}

fn client_frame(mode: Mode, i: usize, flags: u8) -> Vec<u8> {
    let (c, p) = client(mode.v6(), i);
    padded(
        tcp(FROM_CLIENT, c, mode.vip(), p, 80, flags, &[]),
        mode.frame_len(),
    )
}

/// The backend's packet answering `out` (what the gateway sent it), padded.
fn reply_frame(mode: Mode, out: &[u8], flags: u8) -> Vec<u8> {
    padded(
        testkit::packet::reply_to(out, flags, true),
        mode.frame_len(),
    )
}

/// The gateway's allocator: inside [`worker`], the session tables go on 2 MiB huge pages, as
/// `ferrovs run` makes them with `hugepages = true` (its default).
#[global_allocator]
static ALLOC: dpdk_huge::TableAlloc = dpdk_huge::TableAlloc;

/// Where the last [`worker`]'s tables went, for the results.
fn tables_placed() -> &'static Mutex<String> {
    static PLACED: OnceLock<Mutex<String>> = OnceLock::new();
    PLACED.get_or_init(Mutex::default)
}

/// [`tables_placed`]'s phrase.
fn last_placement() -> String {
    tables_placed()
        .lock()
        .map(|p| p.clone())
        .unwrap_or_default()
}

/// A worker with a table of `sessions` for `mode`'s family (1024 for the other), on huge pages
/// unless `FERROVS_BENCH_TABLES=normal`.
fn worker(mode: Mode, sessions: usize) -> Worker {
    let cfg = worker_config(mode, sessions);
    let (w, placed) = if std::env::var("FERROVS_BENCH_TABLES").is_ok_and(|v| v == "normal") {
        (
            Worker::new(cfg),
            "normal (FERROVS_BENCH_TABLES=normal)".to_owned(),
        )
    } else {
        let (w, placed) = dpdk_huge::on_huge_pages(|| Worker::new(cfg));
        (w, placed.summary())
    };
    if let Ok(mut p) = tables_placed().lock() {
        *p = placed;
    }
    w
}

/// The bench workers' settings: `sessions` for `mode`'s family, the burst prefetch from
/// `FERROVS_BENCH_PREFETCH_FROM` live sessions.
fn worker_config(mode: Mode, sessions: usize) -> WorkerConfig {
    let (sessions4, sessions6) = if mode.v6() {
        (1024, sessions)
    } else {
        (sessions, 1024)
    };
    // `FERROVS_BENCH_PREFETCH_FROM=N`: the burst prefetch from N live sessions (the default's
    // 16K; a huge N turns it off), to see what it hides at 1M.
    let prefetch_from = std::env::var("FERROVS_BENCH_PREFETCH_FROM")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(dataplane::worker::PREFETCH_FROM);
    WorkerConfig {
        sessions4,
        sessions6,
        templates: 1024,
        max_services: 16,
        max_backends: 64,
        prefetch_from,
        ..WorkerConfig::default()
    }
}

/// Pre-built frames of `count` flows, `len` bytes each, cycled a burst at a time.
struct Templates {
    bytes: Vec<u8>,
    count: usize,
    len: usize,
}

impl Templates {
    fn with_capacity(n: usize, len: usize) -> Self {
        Templates {
            bytes: Vec::with_capacity(n * len),
            count: 0,
            len,
        }
    }

    fn push(&mut self, f: &[u8]) {
        assert_eq!(f.len(), self.len);
        self.bytes.extend_from_slice(f);
        self.count += 1;
    }

    fn get(&self, i: usize) -> &[u8] {
        &self.bytes[i * self.len..(i + 1) * self.len]
    }

    /// Shuffle (a stride permutation) and cut to whole bursts.
    fn shuffled(self) -> Templates {
        let n = self.count / BURST * BURST;
        let mut stride = 1_000_003 % n.max(1);
        while gcd(stride, n) != 1 {
            stride += 1;
        }
        let mut out = Templates::with_capacity(n, self.len);
        for j in 0..n {
            out.push(self.get(j * stride % n));
        }
        out
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

struct Burst {
    frames: Vec<VecFrame>,
    verdicts: [Verdict; BURST],
}

impl Burst {
    fn new() -> Self {
        Burst {
            frames: (0..BURST)
                .map(|_| VecFrame::with_room(&[], 128, 256))
                .collect(),
            verdicts: [Verdict::Drop(DropReason::NotForUs); BURST],
        }
    }

    /// Load burst `b` of `t` (templates `b*32..b*32+32`) into the frames.
    #[inline]
    fn load(&mut self, t: &Templates, b: usize) {
        let src = &t.bytes[b * BURST * t.len..(b + 1) * BURST * t.len];
        for (f, s) in self.frames.iter_mut().zip(src.chunks_exact(t.len)) {
            f.reset(s);
        }
    }

    fn load_frames(&mut self, fs: &[Vec<u8>]) {
        for (f, s) in self.frames.iter_mut().zip(fs) {
            assert!(f.reset(s));
        }
    }

    fn run(&mut self, w: &mut Worker, snap: &Snapshot, now: u32, port: u8, n: usize) {
        w.process(
            snap,
            now,
            port,
            &mut self.frames[..n],
            &mut self.verdicts[..n],
        );
    }
}

/// A worker holding `n` established sessions of `mode`, with the frames of (up to 2^20 of)
/// those flows: client packets and, for NAT and FullNAT, backend replies.
struct Loaded {
    w: Worker,
    fwd: Templates,
    rev: Templates,
}

fn load(snap: &Snapshot, mode: Mode, n: usize) -> Loaded {
    let t0 = Instant::now();
    let mut w = worker(mode, n);
    let step = n.div_ceil(MAX_TEMPLATES);
    let len = mode.frame_len();
    let mut fwd = Templates::with_capacity(n / step + 1, len);
    let rev_n = if mode.replies() { n / step + 1 } else { 0 };
    let mut rev = Templates::with_capacity(rev_n, len);
    let mut b = Burst::new();
    let mut replies: Vec<Vec<u8>> = Vec::with_capacity(BURST);
    let mut acks: Vec<Vec<u8>> = Vec::with_capacity(BURST);
    for start in (0..n).step_by(BURST) {
        let m = BURST.min(n - start);
        let syns: Vec<Vec<u8>> = (start..start + m)
            .map(|i| client_frame(mode, i, SYN))
            .collect();
        b.load_frames(&syns);
        b.run(&mut w, snap, 1, 0, m);
        replies.clear();
        for k in 0..m {
            assert_eq!(b.verdicts[k], Verdict::Tx(1), "SYN of flow {}", start + k);
            if mode.replies() {
                replies.push(reply_frame(mode, b.frames[k].data(), SYN | ACK));
            }
        }
        if mode.replies() {
            b.load_frames(&replies);
            b.run(&mut w, snap, 1, 1, m);
            assert!(b.verdicts[..m].iter().all(|v| *v == Verdict::Tx(0)));
        }
        acks.clear();
        acks.extend((start..start + m).map(|i| client_frame(mode, i, ACK)));
        b.load_frames(&acks);
        b.run(&mut w, snap, 1, 0, m);
        for (k, ack) in acks.iter().enumerate() {
            assert_eq!(b.verdicts[k], Verdict::Tx(1));
            if (start + k) % step == 0 {
                fwd.push(ack);
                if mode.replies() {
                    rev.push(&reply_frame(mode, b.frames[k].data(), ACK));
                }
            }
        }
    }
    let (live, bytes) = if mode.v6() {
        (w.sessions6().len(), w.sessions6().memory_bytes())
    } else {
        (w.sessions4().len(), w.sessions4().memory_bytes())
    };
    assert_eq!(live, n);
    let placed = last_placement();
    eprintln!(
        "loaded {n} {} sessions in {:.2?} ({bytes} bytes of table; tables {placed})",
        mode.name(),
        t0.elapsed(),
    );
    Loaded {
        w,
        fwd: fwd.shuffled(),
        rev: rev.shuffled(),
    }
}

/// Check every template forwards (untimed), so the benchmark measures the path it names.
fn check_all_tx(w: &mut Worker, snap: &Snapshot, t: &Templates, port: u8) {
    let mut b = Burst::new();
    for i in 0..t.count / BURST {
        b.load(t, i);
        b.run(w, snap, 2, port, BURST);
        assert!(
            b.verdicts.iter().all(|v| matches!(v, Verdict::Tx(_))),
            "{:?}",
            b.verdicts
        );
    }
}

fn bench_cycle(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: BenchmarkId,
    w: &mut Worker,
    snap: &Snapshot,
    t: &Templates,
    port: u8,
) {
    check_all_tx(w, snap, t, port);
    let bursts = t.count / BURST;
    let mut b = Burst::new();
    let mut cur = 0;
    c.bench_function(id, |bench| {
        bench.iter(|| {
            b.load(t, cur);
            b.run(w, snap, 2, port, BURST);
            black_box(&b.verdicts);
            cur += 1;
            if cur == bursts {
                cur = 0;
            }
        });
    });
}

/// Every burst of `t` through `w` once (the region cachegrind counts with
/// `FERROVS_BENCH_PASS`); every frame must forward.
#[inline(never)]
fn measured_pass(w: &mut Worker, snap: &Snapshot, t: &Templates, port: u8, b: &mut Burst) {
    for i in 0..t.count / BURST {
        b.load(t, i);
        b.run(w, snap, 2, port, BURST);
        assert!(b.verdicts.iter().all(|v| matches!(v, Verdict::Tx(_))));
    }
}

fn label(n: usize) -> String {
    match n {
        n if n >= 1_000_000 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 => format!("{}K", n / 1_000),
        n => n.to_string(),
    }
}

/// The table sizes of the established benchmarks.
fn sizes() -> Vec<usize> {
    let mut sizes = vec![1_000, 100_000, 1_000_000];
    if std::env::var_os("FERROVS_BENCH_10M").is_some_and(|v| v == "1") {
        sizes.push(10_000_000);
    }
    // Loading big tables takes seconds even when a filter skips their benchmarks: this env
    // var (comma-separated session counts) picks the sizes, e.g. for profiling.
    if let Ok(list) = std::env::var("FERROVS_BENCH_SIZES") {
        sizes = list.split(',').map(|s| s.trim().parse().unwrap()).collect();
    }
    sizes
}

/// `FERROVS_BENCH_PASS=fwd|rev`: one pass over every template of each mode and size (see the
/// header); false when it is not set.
fn pass(snap: &Snapshot) -> bool {
    let Ok(which) = std::env::var("FERROVS_BENCH_PASS") else {
        return false;
    };
    for n in sizes() {
        for mode in modes() {
            let Loaded { mut w, fwd, rev } = load(snap, mode, n);
            let (t, port) = if which == "rev" { (&rev, 1) } else { (&fwd, 0) };
            let mut b = Burst::new();
            measured_pass(&mut w, snap, t, port, &mut b);
            println!(
                "pass {which} {} {}: {} packets",
                mode.name(),
                label(n),
                t.count / BURST * BURST
            );
        }
    }
    true
}

fn established(c: &mut Criterion, snap: &Snapshot) {
    let sizes = sizes();
    let mut g = c.benchmark_group("established");
    g.throughput(Throughput::Elements(BURST as u64))
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for &n in &sizes {
        for mode in modes() {
            let Loaded { mut w, fwd, rev } = load(snap, mode, n);
            for events in [false, true] {
                if events && mode.v6() {
                    continue;
                }
                // Control's end stays alive while the worker publishes.
                let _ctl = events.then(|| attach(&mut w));
                let sfx = if events { "_events" } else { "" };
                let id = BenchmarkId::new(format!("{}{sfx}", mode.name()), label(n));
                bench_cycle(&mut g, id, &mut w, snap, &fwd, 0);
                if mode.replies() {
                    let id = BenchmarkId::new(format!("{}_reply{sfx}", mode.name()), label(n));
                    bench_cycle(&mut g, id, &mut w, snap, &rev, 1);
                }
                w.detach_sync();
            }
        }
    }
    g.finish();
}

/// Attach a session-sync link to `w`; return control's end.
fn attach(w: &mut Worker) -> ControlSync {
    let (ws, cs) = link(SyncConfig::default());
    w.attach_sync(ws);
    cs
}

/// Control's drain of the event ring (untimed): release every queued event.
fn drain(ctl: &mut Option<ControlSync>) {
    if let Some(c) = ctl {
        let n = c.events.slots();
        if let Ok(chunk) = c.events.read_chunk(n) {
            chunk.commit_all();
        }
    }
}

/// Bursts between two drains of the event ring (its default 2^15 events hold 1024 bursts).
const DRAIN_EVERY: usize = 512;

/// The cost of the harness alone: copying 32 templates into the frames.
fn harness(c: &mut Criterion) {
    let mut t = Templates::with_capacity(1024, FRAME);
    for i in 0..1024 {
        t.push(&client_frame(Mode::Dr, i, ACK));
    }
    let mut g = c.benchmark_group("harness");
    g.throughput(Throughput::Elements(BURST as u64))
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    let mut b = Burst::new();
    let mut cur = 0;
    g.bench_function("reset_only", |bench| {
        bench.iter(|| {
            b.load(&t, cur);
            black_box(&b.frames);
            cur = (cur + 1) % (1024 / BURST);
        });
    });
    g.finish();
}

/// New sessions per second: SYNs of fresh flows into a 2^20-session table, filled to 90%,
/// then a new worker (outside the timed region). `dr_mh_syn` and `dr_mh_ack` do the same on a
/// Maglev DR service, the latter with ACKs (a flow another gateway started: `sloppy_tcp`), no
/// events.
fn new_sessions(c: &mut Criterion, snap: &Snapshot) {
    let mh = mh_snapshot();
    let cases = [
        ("dr", snap, Mode::Dr, SYN, true),
        ("fullnat", snap, Mode::FullNat, SYN, true),
        ("dr_mh_syn", &mh, Mode::Dr, SYN, false),
        ("dr_mh_ack", &mh, Mode::Dr, ACK, false),
    ];
    const CAPACITY: usize = 1 << 20;
    const FILL: usize = CAPACITY / 10 * 9 / BURST * BURST;
    let mut g = c.benchmark_group("new_sessions");
    g.throughput(Throughput::Elements(BURST as u64))
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (name, snap, mode, flags, with_events) in cases {
        let mut syns = Templates::with_capacity(FILL, FRAME);
        for i in 0..FILL {
            syns.push(&client_frame(mode, i, flags));
        }
        let syns = syns.shuffled();
        let bursts = FILL / BURST;
        for events in [false, true] {
            if events && !with_events {
                continue;
            }
            let fresh = || {
                let mut w = worker(mode, CAPACITY);
                // The generation sync (the one allocation per configuration) happens here.
                w.process::<VecFrame>(snap, 1, 0, &mut [], &mut []);
                let ctl = events.then(|| attach(&mut w));
                (w, ctl)
            };
            let (mut w, mut ctl) = fresh();
            let mut cur = 0;
            let mut b = Burst::new();
            // One untimed pass checks every SYN opens a session (and, with events on, is
            // published).
            for i in 0..bursts {
                b.load(&syns, i);
                b.run(&mut w, snap, 1, 0, BURST);
                assert!(b.verdicts.iter().all(|v| *v == Verdict::Tx(1)));
                if i % DRAIN_EVERY == 0 {
                    drain(&mut ctl);
                }
            }
            assert_eq!(w.sessions4().len(), FILL);
            let mid_flow = if flags == ACK { FILL as u64 } else { 0 };
            assert_eq!(w.counters().sessions_mid_flow.get(), mid_flow);
            let published = w.counters().sync_events.get();
            assert_eq!(published, if events { FILL as u64 } else { 0 });
            assert_eq!(w.counters().sync_overflows.get(), 0);
            eprintln!("new_sessions {name}: tables {}", last_placement());
            (w, ctl) = fresh();
            let sfx = if events { "_events" } else { "" };
            let id = BenchmarkId::new(format!("{name}{sfx}"), "1M_table");
            g.bench_function(id, |bench| {
                bench.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    let mut left = iters;
                    while left > 0 {
                        if cur == bursts {
                            (w, ctl) = fresh();
                            cur = 0;
                        }
                        let run = left.min((bursts - cur).min(DRAIN_EVERY) as u64);
                        let t0 = Instant::now();
                        for _ in 0..run {
                            b.load(&syns, cur);
                            b.run(&mut w, snap, 1, 0, BURST);
                            black_box(&b.verdicts);
                            cur += 1;
                        }
                        total += t0.elapsed();
                        drain(&mut ctl);
                        left -= run;
                    }
                    total
                });
            });
        }
    }
    g.finish();
}

/// New sessions with sync events off and on, measured as interleaved pairs: two workers take
/// the same SYNs slice by slice (16 bursts), in alternating order, so both see the same table
/// fill and the same neighbours on a shared machine; the figure is the median of the per-slice
/// ratios (on/off) and each side's 10th percentile and median ns per SYN. Criterion's
/// back-to-back runs cannot resolve 5% on a loaded host; pairs can. Set
/// `FERROVS_BENCH_SYNC_AB=ROUNDS` (table fills per mode) to run it, and
/// `FERROVS_BENCH_SYNC_AA=1` as well for the A/A control (both sides off).
fn sync_ab(snap: &Snapshot) {
    let Some(rounds) = std::env::var("FERROVS_BENCH_SYNC_AB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    else {
        return;
    };
    // The A/A control: both sides off, to show the method's own bias and noise.
    let aa = std::env::var_os("FERROVS_BENCH_SYNC_AA").is_some_and(|v| v == "1");
    const CAPACITY: usize = 1 << 20;
    const FILL: usize = CAPACITY / 10 * 9 / BURST * BURST;
    const SLICE: usize = 16;
    let pct = |v: &mut Vec<f64>, q: f64| {
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * q) as usize]
    };
    for mode in [Mode::Dr, Mode::FullNat] {
        let mut syns = Templates::with_capacity(FILL, FRAME);
        for i in 0..FILL {
            syns.push(&client_frame(mode, i, SYN));
        }
        let syns = syns.shuffled();
        let bursts = FILL / BURST;
        let mut per_syn: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        let mut ratios = Vec::new();
        let mut b = Burst::new();
        for round in 0..rounds {
            // Which side is allocated first alternates by round, so where the allocator put
            // each table does not favour one side. `ws[k]` has events on iff `k == 1` (both
            // off in the A/A control run).
            let mut ws: Vec<Option<(Worker, Option<ControlSync>)>> = vec![None, None];
            for k in if round % 2 == 0 { [0, 1] } else { [1, 0] } {
                let mut w = worker(mode, CAPACITY);
                w.process::<VecFrame>(snap, 1, 0, &mut [], &mut []);
                let ctl = (k == 1 && !aa).then(|| attach(&mut w));
                ws[k] = Some((w, ctl));
            }
            let mut ws: Vec<(Worker, Option<ControlSync>)> = ws.into_iter().flatten().collect();
            let mut cur = 0;
            let mut slice = 0;
            while cur + SLICE <= bursts {
                let mut t = [0.0; 2];
                for k in 0..2 {
                    let k = if (slice + round) % 2 == 0 { k } else { 1 - k };
                    let (w, ctl) = &mut ws[k];
                    let t0 = Instant::now();
                    for j in 0..SLICE {
                        b.load(&syns, cur + j);
                        b.run(w, snap, 1, 0, BURST);
                        black_box(&b.verdicts);
                    }
                    t[k] = t0.elapsed().as_nanos() as f64 / (SLICE * BURST) as f64;
                    drain(ctl);
                }
                per_syn[0].push(t[0]);
                per_syn[1].push(t[1]);
                ratios.push(t[1] / t[0]);
                cur += SLICE;
                slice += 1;
            }
            let want = if aa { 0 } else { cur * BURST };
            assert_eq!(ws[1].0.counters().sync_events.get(), want as u64);
            assert_eq!(ws[1].0.counters().sync_overflows.get(), 0);
        }
        let (off10, off50) = (pct(&mut per_syn[0], 0.1), pct(&mut per_syn[0], 0.5));
        let (on10, on50) = (pct(&mut per_syn[1], 0.1), pct(&mut per_syn[1], 0.5));
        let r50 = pct(&mut ratios, 0.5);
        println!(
            "sync_ab/{}{}: {} slice pairs; ns per new session: events off p10 {off10:.0} median \
             {off50:.0}, on p10 {on10:.0} median {on50:.0}; median on/off ratio {r50:.3} \
             ({:+.1}%)",
            mode.name(),
            if aa { " (A/A: both off)" } else { "" },
            ratios.len(),
            (r50 - 1.0) * 100.0
        );
    }
}

/// Session memory per slot at 1M capacity (slab + index + timer wheel).
fn memory() {
    let w = Worker::new(WorkerConfig {
        sessions4: 1_000_000,
        sessions6: 1_000_000,
        ..WorkerConfig::default()
    });
    for (fam, bytes, cap) in [
        (
            "IPv4",
            w.sessions4().memory_bytes(),
            w.sessions4().capacity(),
        ),
        (
            "IPv6",
            w.sessions6().memory_bytes(),
            w.sessions6().capacity(),
        ),
    ] {
        println!(
            "memory: {fam} session table, {cap} sessions: {bytes} bytes = {:.1} bytes/session",
            bytes as f64 / cap as f64
        );
    }
}

/// SYN-cookie answers per second: SYNs of fresh flows (a spoofed flood's) to the FullNAT service
/// with `syn_proxy` on, each answered in place with a cookie SYN-ACK and no session; 32 per
/// burst, from 2^16 distinct sources.
fn syn_cookies(c: &mut Criterion) {
    let mut b = topology();
    let mut s = ServiceSpec::new(Mode::FullNat.vip(), 80, L4Proto::Tcp);
    s.scheduler = SchedulerKind::Rr;
    s.backends = (0..BACKENDS)
        .map(|k| BackendSpec::new(backend_addr(false, k), 8080, FwdMethod::FullNat))
        .collect();
    s.laddrs = vec![IpAddr::V4(Ipv4Addr::new(198, 18, 1, 200))];
    s.syn_proxy = true;
    b.service(s);
    b.syn_cookies(Some(dataplane::syncookie::CookieKeys {
        current: dataplane::syncookie::CookieKey::new(*b"bench-secret-016"),
        previous: None,
    }));
    let snap = b.build();
    const N: usize = 1 << 16;
    let mut t = Templates::with_capacity(N, FRAME);
    for i in 0..N {
        t.push(&client_frame(Mode::FullNat, i, SYN));
    }
    let mut w = worker(Mode::FullNat, 1 << 16);
    w.set_wall_clock(1_800_000_000);
    let mut burst = Burst::new();
    // Untimed: every SYN is answered out of its own port, and no session is made.
    for i in 0..N / BURST {
        burst.load(&t, i);
        burst.run(&mut w, &snap, 1, 0, BURST);
        assert!(burst.verdicts.iter().all(|v| *v == Verdict::Tx(0)));
    }
    assert_eq!(w.sessions4().len(), 0);
    assert_eq!(w.counters().syn_cookies_sent.get(), N as u64);
    let mut g = c.benchmark_group("syn_proxy");
    g.throughput(Throughput::Elements(BURST as u64))
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let mut cur = 0;
    g.bench_function("cookie_answers", |bench| {
        bench.iter(|| {
            burst.load(&t, cur);
            burst.run(&mut w, &snap, 1, 0, BURST);
            black_box(&burst.verdicts);
            cur = (cur + 1) % (N / BURST);
        });
    });
    g.finish();
}

/// The frames the loop's queues hand out and take back (one pool: nothing is allocated).
type Pool = Rc<RefCell<Vec<MemFrame>>>;

/// Port 0's RX queue: a burst of the templates, in turn, on every poll; port 1's: nothing.
struct Feed<'a> {
    pool: Pool,
    t: Option<&'a Templates>,
    cur: usize,
}

impl RxQueue<MemFrame> for Feed<'_> {
    fn rx_burst(&mut self, out: &mut Vec<MemFrame>) -> usize {
        let Some(t) = self.t else { return 0 };
        let mut pool = self.pool.borrow_mut();
        let src = &t.bytes[self.cur * BURST * t.len..(self.cur + 1) * BURST * t.len];
        for s in src.chunks_exact(t.len) {
            let mut f = pool.pop().expect("every frame came back");
            f.frame.reset(s);
            out.push(f);
        }
        self.cur = (self.cur + 1) % (t.count / BURST);
        BURST
    }
}

/// A TX queue that takes every frame back into the pool.
struct Sink(Pool);

impl TxQueue<MemFrame> for Sink {
    fn tx_burst(&mut self, pkts: &mut Vec<MemFrame>) -> usize {
        let n = pkts.len();
        self.0.borrow_mut().append(pkts);
        n
    }
}

/// The punt, redirect and inject rings: always empty, never taking anything.
struct NoRing;

impl RingProducer<MemFrame> for NoRing {
    fn enqueue_burst(&mut self, _: &mut Vec<MemFrame>) -> usize {
        0
    }
}

impl RingConsumer<MemFrame> for NoRing {
    fn dequeue_burst(&mut self, _: &mut Vec<MemFrame>) -> usize {
        0
    }
}

/// `worker_loop/*` (see the header): DR and FullNAT established flows through the real loop.
fn worker_loop_benches(c: &mut Criterion) {
    let snap = bench_snapshot();
    let shared = ArcSwap::from_pointee(bench_snapshot());
    let map = PortMap::new(vec![(0, 0), (1, 1)]);
    let stop = AtomicBool::new(false);
    let mut g = c.benchmark_group("worker_loop");
    g.throughput(Throughput::Elements(BURST as u64))
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for n in sizes() {
        for mode in modes() {
            if !matches!(mode, Mode::Dr | Mode::FullNat) {
                continue;
            }
            let Loaded { mut w, fwd, .. } = load(&snap, mode, n);
            check_all_tx(&mut w, &snap, &fwd, 0);
            let frames = (0..2 * BURST).map(|_| MemFrame {
                frame: VecFrame::with_room(&[], 128, 256),
                port: 0,
            });
            let pool: Pool = Rc::new(RefCell::new(frames.collect()));
            let feed = |t| Feed {
                pool: pool.clone(),
                t,
                cur: 0,
            };
            let mut io = WorkerIo {
                rx: vec![feed(Some(&fwd)), feed(None)],
                tx: vec![Sink(pool.clone()), Sink(pool.clone())],
                punt: NoRing,
                redirect_out: vec![None],
                redirect_in: vec![],
                inject_in: NoRing,
            };
            let env = LoopEnv {
                shared: &shared,
                stop: &stop,
                ports: &map,
                clock: StdClock::default(),
                idle: IdleMode::Busy,
            };
            let mut wl = WorkerLoop::new(&io);
            g.bench_function(BenchmarkId::new(mode.name(), label(n)), |b| {
                b.iter_custom(|iters| {
                    stop.store(false, Ordering::Relaxed);
                    let mut left = iters;
                    let mut service = |_: &Worker, _: u32| {
                        left -= 1;
                        if left == 0 {
                            stop.store(true, Ordering::Relaxed);
                        }
                    };
                    let t = Instant::now();
                    wl.run(&mut w, &mut io, &env, &mut service);
                    t.elapsed()
                });
            });
            assert_eq!(pool.borrow().len(), 2 * BURST, "a frame went missing");
            let c = w.counters();
            assert_eq!(c.drops.iter().map(|d| d.get()).sum::<u64>(), 0);
        }
    }
    g.finish();
}

fn main() {
    memory();
    let snap = bench_snapshot();
    if pass(&snap) {
        return;
    }
    sync_ab(&snap);
    let mut c = Criterion::default().configure_from_args();
    harness(&mut c);
    syn_cookies(&mut c);
    established(&mut c, &snap);
    new_sessions(&mut c, &snap);
    worker_loop_benches(&mut c);
    c.final_summary();
}
