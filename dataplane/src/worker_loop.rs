//! The worker loop (l3fwd's shape), generic over the I/O seam ([`crate::io`]): the one loop
//! that `ferrovs run` runs on every worker lcore and `ferrovs-bench` measures.
//!
//! Per iteration: take the published snapshot and sync to it (one load and compare when
//! unchanged, through [`arc_swap::Cache`]; it also confirms a reload with no traffic), read the
//! clock (the seconds and milliseconds derived from it are recomputed only when a millisecond
//! has passed), run the per-iteration service (session dumps) and the
//! session-sync work ([`Worker::serve_sync`]: installs from a peer, a step of a dump), receive
//! a burst per port and run it through [`Worker::process`], then the frames other workers
//! redirected here and those control injects, one by one through [`Worker::process_one`]
//! (they come from any port); sort every frame by verdict into per-port TX buffers, the punt
//! buffer and per-worker redirect buffers; flush each, counting what did not fit
//! ([`DropReason::TxRingFull`], [`DropReason::PuntRingFull`],
//! [`DropReason::RedirectRingFull`]); count the poll as busy or idle, and a busy poll's clock
//! ticks ([`WorkerCounters::busy_cycles`]: TSC cycles under DPDK, so busy cycles / received
//! packets is testpmd's `--record-core-cycles` "CPU cycles/packet"); run the timer wheel
//! every [`TICK_EVERY`] iterations. In [`IdleMode::Sleep`] a worker that keeps finding nothing
//! sleeps between polls ([`Backoff`]).
//!
//! Every buffer is allocated before the first iteration: the loop itself never allocates.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arc_swap::cache::Cache;
use arc_swap::ArcSwap;

use crate::counters::WorkerCounters;
use crate::io::{Clock, PortMap, RingConsumer, RingProducer, RxFrame, RxQueue, Service, TxQueue};
use crate::snapshot::Snapshot;
use crate::wire::{fragmenter, DropReason};
use crate::worker::{Verdict, Worker};

/// RX burst size (l3fwd's): the most frames the loop takes from one queue or ring per
/// iteration.
pub const BURST: usize = 32;
/// Iterations between two runs of the timer wheel ([`Worker::tick`]).
pub const TICK_EVERY: u32 = 64;

/// What a worker does when its queues are empty.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IdleMode {
    /// Poll without pause (lowest latency; the core stays at 100%).
    #[default]
    Busy,
    /// After a run of empty polls, sleep between polls with a growing, bounded pause
    /// ([`Backoff`]); back to busy polling on the first frame.
    Sleep,
}

/// Empty polls in a row before an idle worker starts sleeping.
pub const SLEEP_AFTER: u32 = 64;
/// The first pause.
pub const PAUSE_MIN: Duration = Duration::from_micros(1);
/// The longest pause: bounds the latency a sleeping worker adds to the first frame of a burst
/// (and the time control waits for it to confirm a reload).
pub const PAUSE_MAX: Duration = Duration::from_micros(512);

/// The sleep policy of [`IdleMode::Sleep`]: after [`SLEEP_AFTER`] empty polls in a row, every
/// further empty poll is followed by a pause that starts at [`PAUSE_MIN`] and doubles up to
/// [`PAUSE_MAX`]; a poll that finds a frame resets it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backoff {
    empty: u32,
    pause: Duration,
}

impl Backoff {
    /// Record a poll that found `got` frames; return how long to sleep now, if at all.
    #[inline]
    pub fn after_poll(&mut self, got: usize) -> Option<Duration> {
        if got > 0 {
            *self = Backoff::default();
            return None;
        }
        if self.empty < SLEEP_AFTER {
            self.empty += 1;
            return None;
        }
        self.pause = if self.pause.is_zero() {
            PAUSE_MIN
        } else {
            (self.pause * 2).min(PAUSE_MAX)
        };
        Some(self.pause)
    }
}

/// The queues and rings one worker owns, indexed by gateway port (`rx`, `tx`) and by worker id
/// (`redirect_out`: `None` at the worker's own id).
#[derive(Debug)]
pub struct WorkerIo<R, T, P, C> {
    /// One RX queue per gateway port.
    pub rx: Vec<R>,
    /// One TX queue per gateway port.
    pub tx: Vec<T>,
    /// Frames for control (ARP, ND, the box's own traffic, unresolved next hops).
    pub punt: P,
    /// One ring to each other worker, for frames whose session lives there.
    pub redirect_out: Vec<Option<P>>,
    /// Frames the other workers redirect here.
    pub redirect_in: Vec<C>,
    /// Frames control hands over: what arrived on control's own RX queue, and punted frames
    /// held until their neighbour resolved.
    pub inject_in: C,
}

/// What the loop shares with the rest of the process.
#[derive(Debug)]
pub struct LoopEnv<'a, K> {
    /// The published snapshot.
    pub shared: &'a ArcSwap<Snapshot>,
    /// Set to stop the loop (checked once per iteration).
    pub stop: &'a AtomicBool,
    /// Device port ids to gateway port indices, for frames that come through a ring.
    pub ports: &'a PortMap,
    /// The clock the session timers run on.
    pub clock: K,
    /// What to do when idle.
    pub idle: IdleMode,
}

/// The loop's buffers, allocated once by [`WorkerLoop::new`].
#[derive(Debug)]
pub struct WorkerLoop<F> {
    rx: Vec<F>,
    verdicts: Vec<Verdict>,
    tx: Vec<Vec<F>>,
    punt: Vec<F>,
    redirect: Vec<Vec<F>>,
    /// The identification of the next datagram this loop fragments that has none (IPv4) or
    /// needs one (the IPv6 Fragment header).
    frag_id: u32,
}

/// Run `worker` on `io` until `env.stop` is set; `service` runs once per iteration.
pub fn run<F, R, T, P, C, K, S>(
    worker: &mut Worker,
    io: &mut WorkerIo<R, T, P, C>,
    env: &LoopEnv<'_, K>,
    service: &mut S,
) where
    F: RxFrame,
    R: RxQueue<F>,
    T: TxQueue<F>,
    P: RingProducer<F>,
    C: RingConsumer<F>,
    K: Clock,
    S: Service,
{
    WorkerLoop::new(io).run(worker, io, env, service);
}

impl<F: RxFrame> WorkerLoop<F> {
    /// Buffers for `io`, sized for the worst iteration: a burst from every RX queue and every
    /// ring all going to the same place.
    pub fn new<R, T, P, C>(io: &WorkerIo<R, T, P, C>) -> Self {
        let most = BURST * (io.rx.len() + io.redirect_in.len() + 1);
        let buf = || Vec::with_capacity(most);
        let rx = Vec::with_capacity(BURST);
        // One verdict per frame a burst can bring, even if the Vec got more room than asked.
        let verdicts = vec![Verdict::Drop(DropReason::NotForUs); rx.capacity()];
        WorkerLoop {
            rx,
            verdicts,
            tx: (0..io.tx.len()).map(|_| buf()).collect(),
            punt: buf(),
            redirect: (0..io.redirect_out.len()).map(|_| buf()).collect(),
            frag_id: 0,
        }
    }

    /// Run `worker` on `io` (the queues this loop was sized for) until `env.stop` is set;
    /// `service` runs once per iteration. Allocates nothing.
    pub fn run<R, T, P, C, K, S>(
        &mut self,
        worker: &mut Worker,
        io: &mut WorkerIo<R, T, P, C>,
        env: &LoopEnv<'_, K>,
        service: &mut S,
    ) where
        R: RxQueue<F>,
        T: TxQueue<F>,
        P: RingProducer<F>,
        C: RingConsumer<F>,
        K: Clock,
        S: Service,
    {
        let c = worker.counters().clone();
        let hz = env.clock.hz().max(1);
        let start = env.clock.ticks();
        let mut clock = LoopClock::new(hz);
        // The SYN cookies' clock: Unix seconds, read once, advanced by the loop's clock.
        let wall0 = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        // The snapshot as the last iteration saw it: a plain load and pointer compare per
        // iteration, where `ArcSwap::load` took and paid back a debt with two locked
        // instructions, each waiting for the burst's stores to drain.
        let mut snaps = Cache::new(env.shared);
        // Each worker's identifications start far from the others' (a multiplicative spread of
        // its id), and deterministically: worker 0 gives its first fragmented datagram 1.
        self.frag_id = u32::from(worker.id()).wrapping_mul(0x9e37_79b9);
        let mut backoff = Backoff::default();
        let mut iter: u32 = 0;
        // The clock is read once per iteration: a busy iteration's cycles are the ticks from
        // its read to the next one (no second read per iteration).
        let mut last = start;
        let mut last_busy = false;
        while !env.stop.load(Ordering::Relaxed) {
            let snap: &Snapshot = snaps.load();
            worker.sync(snap);
            let t = env.clock.ticks();
            if last_busy {
                c.busy_cycles.add(t.wrapping_sub(last));
            }
            last = t;
            if clock.advance(t.wrapping_sub(start)) {
                worker.set_wall_clock(wall0 + clock.secs);
                worker.set_clock_ms(clock.ms);
            }
            let now = u32::try_from(clock.secs).unwrap_or(u32::MAX);
            service.serve(worker, now);
            // Session sync: a peer's installs and a step of a full dump (one branch when off).
            worker.serve_sync(snap, now);
            let mut got = 0;
            for (pi, q) in io.rx.iter_mut().enumerate() {
                let n = q.rx_burst(&mut self.rx);
                if n == 0 {
                    continue;
                }
                got += n;
                let in_port = u8::try_from(pi).unwrap_or(0);
                worker.process(snap, now, in_port, &mut self.rx, &mut self.verdicts[..n]);
                self.dispatch(n, &c);
            }
            for q in io.redirect_in.iter_mut().chain([&mut io.inject_in]) {
                let n = q.dequeue_burst(&mut self.rx);
                if n == 0 {
                    continue;
                }
                got += n;
                for (m, v) in self.rx.iter_mut().zip(self.verdicts.iter_mut()) {
                    let in_port = env.ports.index(m.port_id());
                    *v = worker.process_one(snap, now, in_port, m);
                }
                self.dispatch(n, &c);
            }
            self.flush(io, &c);
            last_busy = got > 0;
            if last_busy {
                c.busy_polls.inc();
            } else {
                c.idle_polls.inc();
            }
            iter = iter.wrapping_add(1);
            if iter.is_multiple_of(TICK_EVERY) {
                worker.tick(now);
            }
            if env.idle == IdleMode::Sleep {
                if let Some(pause) = backoff.after_poll(got) {
                    sleep(pause, &env.clock, hz, &c);
                }
            }
        }
        if last_busy {
            c.busy_cycles.add(env.clock.ticks().wrapping_sub(last));
        }
    }

    /// Move the `n` frames in `self.rx` to where their verdicts send them.
    #[inline]
    fn dispatch(&mut self, n: usize, c: &WorkerCounters) {
        for (m, v) in self.rx.drain(..).zip(&self.verdicts[..n]) {
            match *v {
                Verdict::Tx(p) => match self.tx.get_mut(usize::from(p)) {
                    Some(t) => t.push(m),
                    None => c.drop_reason(DropReason::NoRoute),
                },
                Verdict::TxFragment { port, mtu } => match self.tx.get_mut(usize::from(port)) {
                    Some(t) => fragment_out(m, t, mtu, &mut self.frag_id, c),
                    None => c.drop_reason(DropReason::NoRoute),
                },
                Verdict::Punt(_) => self.punt.push(m),
                Verdict::Redirect(w) => match self.redirect.get_mut(usize::from(w)) {
                    Some(r) => r.push(m),
                    None => c.drop_reason(DropReason::RedirectRingFull),
                },
                Verdict::Drop(_) => drop(m),
            }
        }
    }

    /// Send every TX buffer, then the punt and redirect buffers; count and free what did not
    /// fit.
    #[inline]
    fn flush<R, T, P, C>(&mut self, io: &mut WorkerIo<R, T, P, C>, c: &WorkerCounters)
    where
        T: TxQueue<F>,
        P: RingProducer<F>,
    {
        for (q, buf) in io.tx.iter_mut().zip(self.tx.iter_mut()) {
            if !buf.is_empty() {
                q.tx_burst(buf);
                if !buf.is_empty() {
                    c.drops[DropReason::TxRingFull.index()].add(buf.len() as u64);
                    F::free_bulk(buf);
                }
            }
        }
        if !self.punt.is_empty() {
            io.punt.enqueue_burst(&mut self.punt);
            if !self.punt.is_empty() {
                c.drops[DropReason::PuntRingFull.index()].add(self.punt.len() as u64);
                F::free_bulk(&mut self.punt);
            }
        }
        for (q, buf) in io.redirect_out.iter_mut().zip(self.redirect.iter_mut()) {
            if buf.is_empty() {
                continue;
            }
            if let Some(q) = q {
                q.enqueue_burst(buf);
            }
            if !buf.is_empty() {
                c.drops[DropReason::RedirectRingFull.index()].add(buf.len() as u64);
                F::free_bulk(buf);
            }
        }
    }
}

/// Seconds and milliseconds since the loop started, from its clock's ticks: the divisions
/// (tens of cycles each) run once a millisecond, not once an iteration.
#[derive(Debug)]
struct LoopClock {
    hz: u64,
    /// The tick count at which `ms` next changes.
    next: u64,
    /// Whole seconds.
    secs: u64,
    /// Whole milliseconds (admission control's rates).
    ms: u64,
}

impl LoopClock {
    fn new(hz: u64) -> Self {
        LoopClock {
            hz,
            next: 0,
            secs: 0,
            ms: 0,
        }
    }

    /// Move to `ticks` since the start; true when `secs` and `ms` changed (always on the
    /// first call).
    #[inline]
    fn advance(&mut self, ticks: u64) -> bool {
        if ticks < self.next {
            return false;
        }
        let hz = self.hz;
        self.secs = ticks / hz;
        // Without overflow for any TSC rate: whole seconds, then the part of one.
        self.ms = self.secs.saturating_mul(1000) + (ticks % hz) * 1000 / hz;
        // The first tick of the next millisecond: ceil((ms + 1) * hz / 1000), split the same
        // way (saturating: past u64's range, every call recomputes).
        let m = self.ms.saturating_add(1);
        self.next = (m / 1000)
            .saturating_mul(hz)
            .saturating_add(((m % 1000) * hz).div_ceil(1000));
        true
    }
}

/// Sleep for `pause` and count it (sleeps, and microseconds actually slept).
#[cold]
fn sleep<K: Clock>(pause: Duration, clock: &K, hz: u64, c: &WorkerCounters) {
    let t0 = clock.ticks();
    std::thread::sleep(pause);
    let slept = clock.ticks().wrapping_sub(t0);
    c.idle_sleeps.inc();
    c.idle_sleep_us
        .add(u64::try_from(u128::from(slept) * 1_000_000 / u128::from(hz)).unwrap_or(u64::MAX));
}

/// Split `m` into fragments of at most `mtu` bytes of IP, queued in `buf` (a port's TX buffer)
/// in its place; drop and count it when that fails. Out of line: only TUN packets with Don't
/// Fragment clear and large echo replies come here.
#[cold]
#[inline(never)]
fn fragment_out<F: RxFrame>(m: F, buf: &mut Vec<F>, mtu: u16, id: &mut u32, c: &WorkerCounters) {
    *id = id.wrapping_add(1);
    let before = buf.len();
    let r = fragmenter::fragment(m.data(), mtu, *id, |head, payload| {
        // The buffer never grows: a burst that has no room left drops the datagram.
        if buf.len() == buf.capacity() {
            return false;
        }
        let Some(mut f) = m.alloc_like() else {
            return false;
        };
        let Some(d) = f.append(head.len() + payload.len()) else {
            return false;
        };
        d[..head.len()].copy_from_slice(head);
        d[head.len()..].copy_from_slice(payload);
        buf.push(f);
        true
    });
    if let Err(r) = r {
        // All or nothing: a datagram missing a fragment is lost anyway.
        buf.truncate(before);
        c.drop_reason(r);
    } else {
        c.fragments_sent.inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_backoff_waits_then_doubles_to_the_cap_and_resets_on_a_frame() {
        let mut b = Backoff::default();
        for _ in 0..SLEEP_AFTER {
            assert_eq!(b.after_poll(0), None, "busy polling before the threshold");
        }
        let mut pauses = Vec::new();
        for _ in 0..14 {
            pauses.push(b.after_poll(0).expect("sleeps past the threshold"));
        }
        assert_eq!(pauses[0], PAUSE_MIN);
        assert_eq!(pauses[1], PAUSE_MIN * 2);
        assert!(pauses.windows(2).all(|w| w[1] >= w[0]), "never shrinks");
        assert_eq!(*pauses.last().unwrap(), PAUSE_MAX, "bounded");
        assert!(pauses.iter().all(|p| *p <= PAUSE_MAX));
        assert_eq!(b.after_poll(3), None);
        assert_eq!(b, Backoff::default(), "a frame resets it");
        for _ in 0..SLEEP_AFTER {
            assert_eq!(b.after_poll(0), None, "a full run of empty polls again");
        }
        assert_eq!(
            b.after_poll(0),
            Some(PAUSE_MIN),
            "from the shortest pause again"
        );
    }

    /// The seconds and milliseconds as the divisions on every tick give them.
    fn direct(ticks: u64, hz: u64) -> (u64, u64) {
        (ticks / hz, (ticks / hz) * 1000 + (ticks % hz) * 1000 / hz)
    }

    #[test]
    fn test_loop_clock_matches_the_divisions_at_every_millisecond_edge() {
        // A TSC rate that is not a multiple of 1000, a nanosecond clock, and a tiny one.
        for hz in [2_294_609_123u64, 1_000_000_000, 999, 7] {
            let mut k = LoopClock::new(hz);
            assert!(k.advance(0), "the first call sets the clock");
            assert_eq!((k.secs, k.ms), (0, 0));
            let mut changes = 0;
            // Every millisecond edge of the first 3 s, a tick either side of it (the clock
            // never goes back: on a slow one, edges share ticks).
            let mut last = 0;
            for m in 1..3000u64 {
                let edge = (m * hz).div_ceil(1000);
                for t in [edge.saturating_sub(1), edge, edge + 1] {
                    let t = t.max(last);
                    last = t;
                    changes += u32::from(k.advance(t));
                    assert_eq!((k.secs, k.ms), direct(t, hz), "hz {hz}, tick {t}");
                }
            }
            assert!(changes > 0);
            // A century of uptime: no overflow, still the same.
            let century = hz * 3600 * 24 * 366 * 100;
            for t in [century / 3, century] {
                assert!(k.advance(t));
                assert_eq!((k.secs, k.ms), direct(t, hz), "hz {hz}, tick {t}");
            }
        }
    }

    #[test]
    fn test_loop_clock_changes_only_when_a_millisecond_passed() {
        let hz = 3_000_000;
        let mut k = LoopClock::new(hz);
        assert!(k.advance(0));
        assert!(!k.advance(2_999), "within the first millisecond");
        assert!(k.advance(3_000));
        assert_eq!(k.ms, 1);
        assert!(!k.advance(5_999));
        assert!(k.advance(3_000_000));
        assert_eq!((k.secs, k.ms), (1, 1000));
    }
}
