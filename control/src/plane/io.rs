//! The frames control handles and the I/O it needs for them, as traits: the gateway implements
//! them with DPDK queues, rings and its mempool; the tests with vectors.

use crate::metrics::PortRow;

/// What control sends and receives. Methods that take a `Vec` of frames leave in it what the
/// queue or ring did not take; control drops (frees) those and counts them where it says so.
/// Ports are gateway port indices (the configuration's order), workers are `0..workers()`.
pub trait FrameIo {
    /// The frame type (a DPDK mbuf in the gateway). Its accessors are functions of the I/O,
    /// not a trait of the frame, so the gateway implements them for `dpdk::mbuf::Mbuf` without
    /// a wrapper type (the orphan rule).
    type Frame;

    /// The frame's bytes, from the Ethernet header.
    fn data(frame: &Self::Frame) -> &[u8];

    /// The RSS hash the port computed (0 when it computed none): it picks the worker an
    /// injected frame goes to, so that one flow always meets the same worker.
    fn rss_hash(frame: &Self::Frame) -> u32;

    /// The gateway port `frame` arrived on.
    fn in_port(&self, frame: &Self::Frame) -> u8;

    /// A frame holding a copy of `bytes`; `None` when no buffer is free.
    fn alloc(&mut self, bytes: &[u8]) -> Option<Self::Frame>;

    /// Send `frames` out of `port` on control's own TX queue.
    fn send(&mut self, port: u8, frames: &mut Vec<Self::Frame>);

    /// Whether `port` has an exception path (a kernel TAP interface).
    fn has_tap(&self, port: u8) -> bool;

    /// Hand `frames` to the kernel through `port`'s exception path.
    fn send_to_kernel(&mut self, port: u8, frames: &mut Vec<Self::Frame>);

    /// Append to `buf` what the kernel sent on `port`'s exception path.
    fn recv_from_kernel(&mut self, port: u8, buf: &mut Vec<Self::Frame>);

    /// Append to `buf` what the workers punted (their punt rings).
    fn recv_punted(&mut self, buf: &mut Vec<Self::Frame>);

    /// Append to `buf` what arrived on control's own RX queues (peers that spread flows over
    /// every queue deliver data there too).
    fn recv_own(&mut self, buf: &mut Vec<Self::Frame>);

    /// How many workers take injected frames.
    fn workers(&self) -> usize;

    /// Put `frames` on `worker`'s inject ring (they go through its pipeline).
    fn inject(&mut self, worker: usize, frames: &mut Vec<Self::Frame>);

    /// The ports' extended statistics, for the metrics endpoint (none by default).
    fn port_stats(&mut self) -> Vec<PortRow> {
        Vec::new()
    }

    /// Whether `port`'s link is up; `None` when the I/O cannot tell (the readiness check then
    /// takes it as up).
    fn link_up(&self, port: u8) -> Option<bool> {
        let _ = port;
        None
    }
}
