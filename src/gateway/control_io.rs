//! Control's frame I/O on DPDK ([`control::plane::FrameIo`]): its own RX and TX queue on each
//! port, the workers' punt rings (in) and inject rings (out), the exception-path TAPs and the
//! mbuf pool.

use control::metrics::PortRow;
use control::plane::FrameIo;
use dpdk::ethdev::{Port, RxQueue, TxQueue};
use dpdk::mbuf::Mbuf;
use dpdk::mempool::Mempool;
use dpdk::ring;

use super::tap::Tap;
use super::BURST;

/// Control's queues and rings. It owns them: dropping it (with control) releases them, which
/// must happen before the ports stop and the pool goes; it borrows the ports (for their ids and
/// statistics) and the pool, so the compiler holds that order.
pub(super) struct DpdkControlIo<'a> {
    /// Control's TX queue of each port.
    pub(super) tx: Vec<TxQueue>,
    /// Control's RX queue of each port.
    pub(super) rx: Vec<RxQueue>,
    /// Each worker's punt ring.
    pub(super) punt: Vec<ring::Consumer>,
    /// Each worker's inject ring.
    pub(super) inject: Vec<ring::Producer>,
    /// Per port, its exception path, if configured.
    pub(super) taps: Vec<Option<Tap>>,
    /// The ports, by gateway index.
    pub(super) ports: &'a [Port],
    /// Their names (the configuration's), for the statistics rows.
    pub(super) names: Vec<String>,
    pub(super) pool: &'a Mempool,
}

impl std::fmt::Debug for DpdkControlIo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpdkControlIo")
            .field("ports", &self.names)
            .field("workers", &self.inject.len())
            .finish_non_exhaustive()
    }
}

/// Bursts fill a vector's spare capacity only: make room for one.
fn room(buf: &mut Vec<Mbuf>) {
    buf.reserve(BURST);
}

impl FrameIo for DpdkControlIo<'_> {
    type Frame = Mbuf;

    fn data(frame: &Mbuf) -> &[u8] {
        frame.data()
    }

    fn rss_hash(frame: &Mbuf) -> u32 {
        frame.rss_hash()
    }

    fn in_port(&self, frame: &Mbuf) -> u8 {
        let id = frame.port();
        self.ports
            .iter()
            .position(|p| p.id().0 == id)
            .map_or(0, |i| u8::try_from(i).unwrap_or(u8::MAX))
    }

    fn alloc(&mut self, bytes: &[u8]) -> Option<Mbuf> {
        self.pool.alloc_from(bytes)
    }

    fn send(&mut self, port: u8, frames: &mut Vec<Mbuf>) {
        if let Some(q) = self.tx.get_mut(usize::from(port)) {
            q.tx_burst(frames);
        }
    }

    fn has_tap(&self, port: u8) -> bool {
        matches!(self.taps.get(usize::from(port)), Some(Some(_)))
    }

    fn send_to_kernel(&mut self, port: u8, frames: &mut Vec<Mbuf>) {
        if let Some(Some(tap)) = self.taps.get_mut(usize::from(port)) {
            tap.tx.tx_burst(frames);
        }
    }

    fn recv_from_kernel(&mut self, port: u8, buf: &mut Vec<Mbuf>) {
        if let Some(Some(tap)) = self.taps.get_mut(usize::from(port)) {
            room(buf);
            tap.rx.rx_burst(buf);
        }
    }

    fn recv_punted(&mut self, buf: &mut Vec<Mbuf>) {
        for c in &mut self.punt {
            room(buf);
            c.dequeue_burst(buf);
        }
    }

    fn recv_own(&mut self, buf: &mut Vec<Mbuf>) {
        for q in &mut self.rx {
            room(buf);
            q.rx_burst(buf);
        }
    }

    fn workers(&self) -> usize {
        self.inject.len()
    }

    fn inject(&mut self, worker: usize, frames: &mut Vec<Mbuf>) {
        if let Some(r) = self.inject.get_mut(worker) {
            r.enqueue_burst(frames);
        }
    }

    fn link_up(&self, port: u8) -> Option<bool> {
        let p = self.ports.get(usize::from(port))?;
        p.link().ok().map(|l| l.up)
    }

    fn port_stats(&mut self) -> Vec<PortRow> {
        self.ports
            .iter()
            .zip(&self.names)
            .map(|(p, name)| PortRow {
                name: name.clone(),
                xstats: p.xstats().unwrap_or_default(),
            })
            .collect()
    }
}
