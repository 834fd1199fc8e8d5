//! The two loops a benchmark runs, each on its own lcore: the generator and the device under
//! test (the ferrovs worker loop itself, `dataplane::worker_loop`, or testpmd's `io` /
//! `macswap` loops rewritten on the same queue handles).
//!
//! Counters are plain totals kept in locals and published with one relaxed store per loop
//! iteration, in a cache line of their own, so the main lcore can sample them without
//! slowing the loops.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use arc_swap::ArcSwap;
use dataplane::counters::WorkerCounters;
use dataplane::io::PortMap;
use dataplane::snapshot::Snapshot;
use dataplane::wire::DropReason;
use dataplane::worker::Worker;
use dataplane::worker_loop::{self, IdleMode, LoopEnv, WorkerIo};
use dpdk::eal::{rdtsc, TscClock};
use dpdk::ethdev::{RxQueue, TxQueue};
use dpdk::mbuf::Mbuf;
use dpdk::mempool::Mempool;
use dpdk::ring;

use crate::traffic::{Flows, Kind};

/// Burst size (l3fwd's and testpmd's default).
pub const BURST: usize = 32;

/// Totals one loop publishes.
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct Counters {
    /// Frames received (DUT) or received back (generator).
    pub rx: AtomicU64,
    /// Frames sent.
    pub tx: AtomicU64,
    /// Frames dropped: ferrovs verdicts other than TX, or TX queue full.
    pub dropped: AtomicU64,
    /// Generator only: 1 once every prefill frame is sent and the steady phase runs.
    pub steady: AtomicU64,
    /// DUT: loop iterations in which no RX queue had a frame (the generator fell behind).
    /// Generator: iterations in which the DUT's queue took fewer frames than offered (the
    /// DUT fell behind).
    pub stalls: AtomicU64,
    /// Loop iterations.
    pub iters: AtomicU64,
    /// DUT: TSC cycles spent forwarding bursts that had frames (testpmd's
    /// `--record-core-cycles`: from before the RX burst to after the TX burst, per port).
    pub busy_cycles: AtomicU64,
}

impl Counters {
    fn publish(&self, rx: u64, tx: u64, dropped: u64) {
        self.rx.store(rx, Ordering::Relaxed);
        self.tx.store(tx, Ordering::Relaxed);
        self.dropped.store(dropped, Ordering::Relaxed);
    }

    fn publish_loop(&self, iters: u64, stalls: u64) {
        self.iters.store(iters, Ordering::Relaxed);
        self.stalls.store(stalls, Ordering::Relaxed);
    }

    /// Return the busy cycles so far.
    pub fn cycles_sample(&self) -> u64 {
        self.busy_cycles.load(Ordering::Relaxed)
    }

    /// Return (iterations, stalls).
    pub fn loop_sample(&self) -> (u64, u64) {
        (
            self.iters.load(Ordering::Relaxed),
            self.stalls.load(Ordering::Relaxed),
        )
    }

    /// Return (rx, tx, dropped).
    pub fn sample(&self) -> (u64, u64, u64) {
        (
            self.rx.load(Ordering::Relaxed),
            self.tx.load(Ordering::Relaxed),
            self.dropped.load(Ordering::Relaxed),
        )
    }
}

/// The DUT's queues: index = port (0 faces the clients, 1 the backends).
#[derive(Debug)]
pub struct DutQueues {
    /// One RX queue per port.
    pub rx: Vec<RxQueue>,
    /// One TX queue per port.
    pub tx: Vec<TxQueue>,
}

/// testpmd's `io` (`swap == false`) or `macswap` (`swap == true`) forwarding between port 0
/// and port 1 (its default "paired" topology), as in `app/test-pmd/iofwd.c` and
/// `macswap.c`: receive a burst, optionally swap the Ethernet addresses, send it on the
/// other port, free what did not fit. Cycles are counted as `dpdk-testpmd --record-core-cycles`
/// counts them (`get_start_cycles` before the RX burst, `get_end_cycles` after the TX burst,
/// nothing for an empty burst).
pub fn reference_loop(mut q: DutQueues, swap: bool, stop: &AtomicBool, c: &Counters) -> i32 {
    let mut buf: Vec<Mbuf> = Vec::with_capacity(BURST);
    let (mut rx, mut tx, mut dropped) = (0u64, 0u64, 0u64);
    let ports = q.rx.len();
    let (mut iters, mut idle, mut cycles) = (0u64, 0u64, 0u64);
    while !stop.load(Ordering::Relaxed) {
        let before = rx;
        for p in 0..ports {
            let t0 = rdtsc();
            let n = q.rx[p].rx_burst(&mut buf);
            if n == 0 {
                continue;
            }
            rx += n as u64;
            if swap {
                // macswap.h: prefetch the first frames, then each frame four ahead.
                for m in buf.iter().take(4) {
                    m.prefetch_data();
                }
                for i in 0..n {
                    if let Some(m) = buf.get(i + 4) {
                        m.prefetch_data();
                    }
                    let d = buf[i].data_mut();
                    if d.len() >= 12 {
                        let mut dst = [0u8; 6];
                        dst.copy_from_slice(&d[..6]);
                        d.copy_within(6..12, 0);
                        d[6..12].copy_from_slice(&dst);
                    }
                }
            }
            tx += q.tx[(p + 1) % ports].tx_burst(&mut buf) as u64;
            if !buf.is_empty() {
                dropped += buf.len() as u64;
                Mbuf::free_bulk(&mut buf);
            }
            cycles += rdtsc().wrapping_sub(t0);
        }
        iters += 1;
        idle += u64::from(rx == before);
        c.publish(rx, tx, dropped);
        c.publish_loop(iters, idle);
        c.busy_cycles.store(cycles, Ordering::Relaxed);
    }
    drain(&mut q.rx);
    0
}

/// Free whatever is still queued on `rx` (at the end of a run, so the pool gets it back).
pub fn drain(rx: &mut [RxQueue]) {
    let mut buf: Vec<Mbuf> = Vec::with_capacity(BURST);
    loop {
        let mut got = 0;
        for q in rx.iter_mut() {
            got += q.rx_burst(&mut buf);
            Mbuf::free_bulk(&mut buf);
        }
        if got == 0 {
            return;
        }
    }
}

/// The rings a ferrovs DUT owns besides its queues: the punt ring to control and the inject
/// ring from it (nobody is on the other side in a benchmark; with one worker and established
/// flows nothing is punted).
#[derive(Debug)]
pub struct DutRings {
    /// Frames for control.
    pub punt: ring::Producer,
    /// Frames from control.
    pub inject: ring::Consumer,
}

/// The ferrovs DUT: the gateway's own worker loop (`dataplane::worker_loop::run`, the loop
/// `ferrovs run` runs on every worker lcore) with one worker, on the DUT's queues. Its counters
/// are the worker's ([`RunState::dut_worker`]).
pub fn ferrovs_dut(
    mut worker: Worker,
    q: DutQueues,
    rings: DutRings,
    shared: &ArcSwap<Snapshot>,
    stop: &AtomicBool,
    clock: TscClock,
    idle: IdleMode,
) -> i32 {
    let ports = PortMap::new(
        q.rx.iter()
            .zip(0u8..)
            .map(|(r, i)| (r.ids().0 .0, i))
            .collect(),
    );
    let mut io = WorkerIo {
        rx: q.rx,
        tx: q.tx,
        punt: rings.punt,
        redirect_out: vec![None],
        redirect_in: Vec::new(),
        inject_in: rings.inject,
    };
    let env = LoopEnv {
        shared,
        stop,
        ports: &ports,
        clock,
        idle,
    };
    worker_loop::run(&mut worker, &mut io, &env, &mut ());
    drain(&mut io.rx);
    0
}

/// The generator's plan: frames to send once, in flow order, then the steady traffic.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The flows.
    pub flows: Flows,
    /// Passes over every flow before the steady phase (SYN then ACK for TCP, one datagram
    /// for UDP; none for the references).
    pub prefill: Vec<Kind>,
}

/// The generator: keep the DUT's RX queue full of 60-byte frames of the planned flows, and
/// count (then free) what comes back on `back`.
///
/// Frames that do not fit into the queue stay pending and go first next time, so the
/// prefill reaches the DUT in order and complete; the steady phase visits the flows with a
/// stride (see [`Flows`]).
pub fn generator(
    plan: &Plan,
    mut out: TxQueue,
    mut back: Vec<RxQueue>,
    pool: &Mempool,
    stop: &AtomicBool,
    done: &AtomicBool,
    c: &Counters,
) -> i32 {
    let flows = &plan.flows;
    let n = flows.len();
    let mut pending: Vec<Mbuf> = Vec::with_capacity(BURST * 2);
    let mut rxb: Vec<Mbuf> = Vec::with_capacity(BURST);
    let (mut rx, mut tx) = (0u64, 0u64);
    let mut drain = |back: &mut Vec<RxQueue>, rx: &mut u64| {
        for q in back.iter_mut() {
            let got = q.rx_burst(&mut rxb);
            if got > 0 {
                *rx += got as u64;
                Mbuf::free_bulk(&mut rxb);
            }
        }
    };
    // Prefill: every flow once per pass, in order.
    for &kind in &plan.prefill {
        let mut next = 0;
        while (next < n || !pending.is_empty()) && !stop.load(Ordering::Relaxed) {
            let want = BURST.min(n - next);
            if pending.is_empty() && want > 0 && pool.alloc_bulk(&mut pending, want) {
                for m in &mut pending {
                    flows.write(
                        next,
                        kind,
                        m.append(flows.frame_len()).expect("room for a frame"),
                    );
                    next += 1;
                }
            }
            tx += out.tx_burst(&mut pending) as u64;
            drain(&mut back, &mut rx);
            c.publish(rx, tx, 0);
        }
    }
    c.steady.store(1, Ordering::Release);
    // Steady: all flows, strided.
    let stride = flows.stride();
    let mut cur = 0usize;
    let (mut iters, mut full) = (0u64, 0u64);
    while !stop.load(Ordering::Relaxed) {
        if pending.is_empty() && pool.alloc_bulk(&mut pending, BURST) {
            for m in &mut pending {
                flows.write(
                    cur,
                    Kind::Data,
                    m.append(flows.frame_len()).expect("room for a frame"),
                );
                cur += stride;
                if cur >= n {
                    cur -= n;
                }
            }
        }
        tx += out.tx_burst(&mut pending) as u64;
        iters += 1;
        full += u64::from(!pending.is_empty());
        drain(&mut back, &mut rx);
        c.publish(rx, tx, 0);
        c.publish_loop(iters, full);
    }
    Mbuf::free_bulk(&mut pending);
    // Take back what the DUT still sends until it has stopped, then the rest.
    while !done.load(Ordering::Acquire) {
        drain(&mut back, &mut rx);
    }
    drain(&mut back, &mut rx);
    c.publish(rx, tx, 0);
    0
}

/// What [`latency_generator`] measured.
#[derive(Debug, Default)]
pub struct Latency {
    /// Round-trip times of the frames stamped after the warm-up, in TSC ticks.
    pub rtt: Vec<u64>,
    /// Frames stamped after the warm-up and sent.
    pub sent: u64,
}

/// Where the generator's TSC stamp sits in a frame: the first payload bytes of the UDP
/// datagram (behind the outer IPv4 header of an IPIP frame from TUN).
fn stamp_at(frame: &[u8]) -> usize {
    if frame.get(23) == Some(&4) {
        62
    } else {
        42
    }
}

/// The low-load generator: one UDP frame every `gap` TSC ticks, visiting the flows in turn,
/// with the TSC written into its payload when it is sent; each frame that comes back on
/// `back` gives a round-trip time. Frames sent in the first `warmup` ticks (they open the
/// sessions) are not measured. Runs until `stop`, then takes back what the DUT still sends
/// until `done`.
#[allow(clippy::too_many_arguments)]
pub fn latency_generator(
    flows: &Flows,
    mut out: TxQueue,
    mut back: Vec<RxQueue>,
    pool: &Mempool,
    (gap, warmup): (u64, u64),
    stop: &AtomicBool,
    done: &AtomicBool,
    result: &Mutex<Latency>,
) -> i32 {
    let mut lat = Latency {
        rtt: Vec::with_capacity(1 << 20),
        sent: 0,
    };
    let t0 = rdtsc();
    let measured_from = t0 + warmup;
    let mut next = t0;
    let mut i = 0usize;
    let mut one: Vec<Mbuf> = Vec::with_capacity(1);
    let mut rxb: Vec<Mbuf> = Vec::with_capacity(BURST);
    let mut take_back = |back: &mut Vec<RxQueue>, lat: &mut Latency| {
        for q in back.iter_mut() {
            q.rx_burst(&mut rxb);
            let now = rdtsc();
            for m in rxb.drain(..) {
                let d = m.data();
                let at = stamp_at(d);
                let Some(b) = d.get(at..at + 8) else { continue };
                let stamp = u64::from_le_bytes(b.try_into().unwrap_or_default());
                if stamp >= measured_from && lat.rtt.len() < lat.rtt.capacity() {
                    lat.rtt.push(now.saturating_sub(stamp));
                }
            }
        }
    };
    while !stop.load(Ordering::Relaxed) {
        if rdtsc() >= next && pool.alloc_bulk(&mut one, 1) {
            let d = one[0].append(flows.frame_len()).expect("room for a frame");
            flows.write(i % flows.len(), Kind::Data, d);
            let stamp = rdtsc();
            d[42..50].copy_from_slice(&stamp.to_le_bytes());
            if out.tx_burst(&mut one) == 1 && stamp >= measured_from {
                lat.sent += 1;
            }
            Mbuf::free_bulk(&mut one);
            next += gap;
            i += 1;
        }
        take_back(&mut back, &mut lat);
    }
    while !done.load(Ordering::Acquire) {
        take_back(&mut back, &mut lat);
    }
    take_back(&mut back, &mut lat);
    if let Ok(mut r) = result.lock() {
        *r = lat;
    }
    0
}

/// Shared state of one run, handed to the lcores.
///
/// Shutdown order: stop the generator, then the DUT (which frees what is left on its RX
/// queues and sets `dut_done`); the generator drains its return queues until then.
#[derive(Debug, Default)]
pub struct RunState {
    /// Set to stop the generator.
    pub stop_gen: AtomicBool,
    /// Set to stop the DUT.
    pub stop_dut: AtomicBool,
    /// Set when the DUT has stopped (or, for a DUT in another process, when the main lcore
    /// has waited long enough for its last frames).
    pub dut_done: AtomicBool,
    /// The generator's counters.
    pub gen: Counters,
    /// The reference DUTs' counters.
    pub dut: Counters,
    /// The ferrovs DUT's counters: its worker's own.
    pub dut_worker: OnceLock<Arc<WorkerCounters>>,
}

impl RunState {
    /// Return the DUT's (rx, tx, dropped): for ferrovs, frames received, frames the TX
    /// queues took, and drops of every reason.
    pub fn dut_sample(&self) -> (u64, u64, u64) {
        let Some(c) = self.dut_worker.get() else {
            return self.dut.sample();
        };
        let dropped = c.drops.iter().map(dataplane::counters::Counter::get).sum();
        let tx =
            c.tx.get()
                .saturating_sub(c.drops_of(DropReason::TxRingFull));
        (c.rx.get(), tx, dropped)
    }

    /// Return the DUT's (iterations, iterations that found no frame).
    pub fn dut_loop_sample(&self) -> (u64, u64) {
        let Some(c) = self.dut_worker.get() else {
            return self.dut.loop_sample();
        };
        let idle = c.idle_polls.get();
        (c.busy_polls.get() + idle, idle)
    }

    /// Return the DUT's busy cycles so far (the worker's `busy_cycles` for ferrovs).
    pub fn dut_cycles(&self) -> u64 {
        self.dut_worker
            .get()
            .map_or_else(|| self.dut.cycles_sample(), |c| c.busy_cycles.get())
    }

    /// Return the ferrovs DUT's idle sleeps so far (0 for the references).
    pub fn dut_sleeps(&self) -> u64 {
        self.dut_worker.get().map_or(0, |c| c.idle_sleeps.get())
    }
}

/// A new shared run state.
pub fn run_state() -> Arc<RunState> {
    Arc::new(RunState::default())
}
