//! The two loops a benchmark runs, each on its own lcore: the generator and the device under
//! test (the ferrovs worker loop, or testpmd's `io` / `macswap` loops rewritten on the same
//! queue handles).
//!
//! Counters are plain totals kept in locals and published with one relaxed store per loop
//! iteration, in a cache line of their own, so the main lcore can sample them without
//! slowing the loops.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use dataplane::pipeline::{Verdict, Worker};
use dataplane::snapshot::Snapshot;
use dataplane::wire::DropReason;
use dpdk::eal::rdtsc;
use dpdk::ethdev::{RxQueue, TxQueue};
use dpdk::mbuf::Mbuf;
use dpdk::mempool::Mempool;
use dpdk::ring;

use crate::traffic::{Flows, Kind, FRAME};

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
/// other port, free what did not fit.
pub fn reference_loop(mut q: DutQueues, swap: bool, stop: &AtomicBool, c: &Counters) -> i32 {
    let mut buf: Vec<Mbuf> = Vec::with_capacity(BURST);
    let (mut rx, mut tx, mut dropped) = (0u64, 0u64, 0u64);
    let ports = q.rx.len();
    let (mut iters, mut idle) = (0u64, 0u64);
    while !stop.load(Ordering::Relaxed) {
        let before = rx;
        for p in 0..ports {
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
        }
        iters += 1;
        idle += u64::from(rx == before);
        c.publish(rx, tx, dropped);
        c.publish_loop(iters, idle);
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

/// The ferrovs worker loop, as `worker_loop` in `src/gateway.rs` runs it with one worker:
/// per iteration load the snapshot and sync, read the clock, RX a burst per port, run
/// `Worker::process`, sort the frames into per-port TX buffers by verdict, poll the (empty)
/// inject ring control would feed, flush every TX buffer (dropping what does not fit), and
/// run the timer wheel every 64 iterations. The punt and redirect rings are left out: with
/// one worker and established flows nothing goes there.
pub fn ferrovs_loop(
    mut worker: Worker,
    mut q: DutQueues,
    mut inject: ring::Consumer,
    shared: &ArcSwap<Snapshot>,
    stop: &AtomicBool,
    tsc_hz: u64,
    c: &Counters,
) -> i32 {
    let nports = q.tx.len();
    let mut rxb: Vec<Mbuf> = Vec::with_capacity(BURST);
    let mut txb: Vec<Vec<Mbuf>> = (0..nports).map(|_| Vec::with_capacity(BURST * 4)).collect();
    let mut verdicts = [Verdict::Drop(DropReason::NotForUs); BURST];
    let (mut rx, mut tx, mut dropped) = (0u64, 0u64, 0u64);
    let start = rdtsc();
    let mut iter: u32 = 0;
    let (mut iters, mut idle) = (0u64, 0u64);
    while !stop.load(Ordering::Relaxed) {
        let before = rx;
        let snap = shared.load();
        worker.sync(&snap);
        let now = u32::try_from((rdtsc() - start) / tsc_hz.max(1)).unwrap_or(u32::MAX);
        for (pi, rq) in q.rx.iter_mut().enumerate() {
            let n = rq.rx_burst(&mut rxb);
            if n == 0 {
                continue;
            }
            rx += n as u64;
            let in_port = u8::try_from(pi).unwrap_or(0);
            worker.process(&snap, now, in_port, &mut rxb, &mut verdicts[..n]);
            for (m, v) in rxb.drain(..).zip(&verdicts[..n]) {
                match *v {
                    Verdict::Tx(p) if usize::from(p) < nports => txb[usize::from(p)].push(m),
                    _ => {
                        dropped += 1;
                        drop(m);
                    }
                }
            }
        }
        if inject.dequeue_burst(&mut rxb) > 0 {
            dropped += rxb.len() as u64;
            Mbuf::free_bulk(&mut rxb);
        }
        for (tq, buf) in q.tx.iter_mut().zip(txb.iter_mut()) {
            if !buf.is_empty() {
                tx += tq.tx_burst(buf) as u64;
                if !buf.is_empty() {
                    dropped += buf.len() as u64;
                    Mbuf::free_bulk(buf);
                }
            }
        }
        iters += 1;
        idle += u64::from(rx == before);
        c.publish(rx, tx, dropped);
        c.publish_loop(iters, idle);
        iter = iter.wrapping_add(1);
        if iter.is_multiple_of(64) {
            worker.tick(now);
        }
    }
    drain(&mut q.rx);
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
                    flows.write(next, kind, m.append(FRAME).expect("room for a frame"));
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
                flows.write(cur, Kind::Data, m.append(FRAME).expect("room for a frame"));
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
    /// The DUT's counters.
    pub dut: Counters,
}

/// A new shared run state.
pub fn run_state() -> Arc<RunState> {
    Arc::new(RunState::default())
}
