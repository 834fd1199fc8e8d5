//! The I/O seam between the worker loop ([`crate::worker_loop`]) and whatever moves frames:
//! DPDK queues and rings (the `dpdk` crate implements these traits) or the in-memory queues of
//! [`mem`] for tests.
//!
//! Every burst call works on a caller-owned `Vec` whose capacity is reserved up front, so the
//! loop never allocates: receiving appends up to the spare capacity, sending takes frames from
//! the front and leaves what did not fit, in order, for the caller to drop and count.

use crate::frame::Frame;
use crate::types::PortIdx;
use crate::worker::Worker;

#[cfg(any(test, feature = "mem-io"))]
pub mod mem;

/// A receive queue one worker polls.
pub trait RxQueue<F> {
    /// Append up to `out`'s spare capacity of received frames to `out`; return how many.
    fn rx_burst(&mut self, out: &mut Vec<F>) -> usize;
}

/// A transmit queue one worker owns.
pub trait TxQueue<F> {
    /// Send frames from the front of `pkts`; the sent ones leave the vector, the rest stay in
    /// order. Return how many were sent.
    fn tx_burst(&mut self, pkts: &mut Vec<F>) -> usize;
}

/// The sending half of a single-producer frame ring between two threads.
pub trait RingProducer<F> {
    /// Enqueue frames from the front of `pkts`; the queued ones leave the vector, the rest
    /// stay in order. Return how many were queued.
    fn enqueue_burst(&mut self, pkts: &mut Vec<F>) -> usize;
}

/// The receiving half of a single-consumer frame ring.
pub trait RingConsumer<F> {
    /// Append up to `out`'s spare capacity of queued frames to `out`; return how many.
    fn dequeue_burst(&mut self, out: &mut Vec<F>) -> usize;
}

/// What the worker loop needs from a frame beyond [`Frame`].
pub trait RxFrame: Frame + Sized {
    /// Return the device port id the frame arrived on (DPDK's `mbuf->port`), which
    /// [`PortMap`] turns into a gateway port index for frames that come through a ring.
    fn port_id(&self) -> u16;

    /// Return an empty frame from the same pool as this one (DPDK: its mempool), for the few
    /// frames the loop makes itself (the fragments of [`crate::worker::Verdict::TxFragment`]);
    /// `None` when the pool is empty.
    fn alloc_like(&self) -> Option<Self>;

    /// Release every frame in `frames`, leaving it empty. The default drops them one by one;
    /// DPDK overrides it with one bulk call.
    #[inline]
    fn free_bulk(frames: &mut Vec<Self>) {
        frames.clear();
    }
}

/// A monotonic tick counter (the TSC on DPDK).
pub trait Clock {
    /// Return the current tick count.
    fn ticks(&self) -> u64;
    /// Return the ticks per second.
    fn hz(&self) -> u64;
}

/// A clock on [`std::time::Instant`] in nanoseconds: for tests and for hosts without a TSC.
#[derive(Clone, Copy, Debug)]
pub struct StdClock(std::time::Instant);

impl Default for StdClock {
    fn default() -> Self {
        StdClock(std::time::Instant::now())
    }
}

impl Clock for StdClock {
    fn ticks(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
    fn hz(&self) -> u64 {
        1_000_000_000
    }
}

/// Work the loop runs once per iteration besides forwarding (the gateway's `-L -c` session
/// dump). It must be cheap when it has nothing to do: one relaxed load.
pub trait Service {
    /// Called once per loop iteration with the worker and the clock in seconds.
    fn serve(&mut self, worker: &Worker, now: u32);
}

/// No per-iteration work (benchmarks).
impl Service for () {
    #[inline]
    fn serve(&mut self, _: &Worker, _: u32) {}
}

impl<S: FnMut(&Worker, u32)> Service for S {
    #[inline]
    fn serve(&mut self, worker: &Worker, now: u32) {
        self(worker, now);
    }
}

/// Map device port ids to gateway port indices (the order of `[[port]]` in the configuration).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortMap(Vec<(u16, PortIdx)>);

impl PortMap {
    /// Build the map from (device port id, gateway port index) pairs.
    pub fn new(pairs: Vec<(u16, PortIdx)>) -> Self {
        PortMap(pairs)
    }

    /// Return the gateway port index of device port `dpdk_port` (0 for a port not in the map:
    /// frames only ever come from configured ports).
    #[inline]
    pub fn index(&self, dpdk_port: u16) -> PortIdx {
        self.0
            .iter()
            .find(|(p, _)| *p == dpdk_port)
            .map_or(0, |(_, i)| *i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_port_map_index() {
        let m = PortMap::new(vec![(3, 0), (7, 1)]);
        assert_eq!(m.index(3), 0);
        assert_eq!(m.index(7), 1);
        assert_eq!(m.index(9), 0, "unknown ports map to the first");
    }

    #[test]
    fn test_std_clock_advances() {
        let c = StdClock::default();
        let a = c.ticks();
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(c.ticks() >= a + 1_000_000);
        assert_eq!(c.hz(), 1_000_000_000);
    }
}
