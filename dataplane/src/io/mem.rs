//! In-memory queues and rings for running the real worker loop in tests: a bounded FIFO
//! ([`Channel`]) that serves as an RX queue, a TX queue, or either half of a ring, and a frame
//! ([`MemFrame`]) that remembers its device port.
//!
//! A channel is shared (clone it): the loop holds one handle, the test the other, so a test
//! can feed frames while the loop runs on another thread and collect what it sent. The lock is
//! for tests only; the DPDK implementations are lock-free.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::frame::{Frame, VecFrame};
use crate::io::{RingConsumer, RingProducer, RxFrame, RxQueue, TxQueue};

/// A [`VecFrame`] with the device port id it arrived on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemFrame {
    /// The bytes.
    pub frame: VecFrame,
    /// The device port id ([`RxFrame::port_id`]).
    pub port: u16,
}

impl MemFrame {
    /// A frame holding `data` that arrived on device port `port`.
    pub fn new(data: &[u8], port: u16) -> Self {
        MemFrame {
            frame: VecFrame::new(data),
            port,
        }
    }
}

impl Frame for MemFrame {
    fn data(&self) -> &[u8] {
        self.frame.data()
    }
    fn data_mut(&mut self) -> &mut [u8] {
        self.frame.data_mut()
    }
    fn headroom(&self) -> usize {
        self.frame.headroom()
    }
    fn prepend(&mut self, n: usize) -> Option<&mut [u8]> {
        self.frame.prepend(n)
    }
    fn adj(&mut self, n: usize) -> bool {
        self.frame.adj(n)
    }
    fn trim(&mut self, n: usize) -> bool {
        self.frame.trim(n)
    }
    fn append(&mut self, n: usize) -> Option<&mut [u8]> {
        self.frame.append(n)
    }
}

impl RxFrame for MemFrame {
    fn port_id(&self) -> u16 {
        self.port
    }
    fn alloc_like(&self) -> Option<Self> {
        // Room for a jumbo frame, like an mbuf pool sized for one.
        Some(MemFrame {
            frame: VecFrame::with_room(&[], crate::frame::DEFAULT_HEADROOM, 9216),
            port: self.port,
        })
    }
}

/// A bounded FIFO of frames; clones share it.
#[derive(Debug)]
pub struct Channel<F> {
    inner: Arc<Mutex<VecDeque<F>>>,
    capacity: usize,
}

impl<F> Clone for Channel<F> {
    fn clone(&self) -> Self {
        Channel {
            inner: self.inner.clone(),
            capacity: self.capacity,
        }
    }
}

impl<F> Channel<F> {
    /// A channel that holds at most `capacity` frames (its storage is allocated now).
    pub fn new(capacity: usize) -> Self {
        Channel {
            inner: Arc::new(Mutex::new(VecDeque::with_capacity(capacity))),
            capacity,
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<F>> {
        // A test thread that panicked while holding the lock has already failed the test.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queue one frame; `false` (frame dropped) when the channel is full.
    pub fn push(&self, f: F) -> bool {
        let mut q = self.lock();
        if q.len() >= self.capacity {
            return false;
        }
        q.push_back(f);
        true
    }

    /// Take every queued frame, oldest first.
    pub fn take_all(&self) -> Vec<F> {
        self.lock().drain(..).collect()
    }

    /// Return how many frames are queued.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Return true when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn put(&self, pkts: &mut Vec<F>) -> usize {
        let mut q = self.lock();
        let n = pkts.len().min(self.capacity - q.len());
        q.extend(pkts.drain(..n));
        n
    }

    fn get(&self, out: &mut Vec<F>) -> usize {
        let mut q = self.lock();
        let n = (out.capacity() - out.len()).min(q.len());
        out.extend(q.drain(..n));
        n
    }
}

impl<F> RxQueue<F> for Channel<F> {
    fn rx_burst(&mut self, out: &mut Vec<F>) -> usize {
        self.get(out)
    }
}

impl<F> TxQueue<F> for Channel<F> {
    fn tx_burst(&mut self, pkts: &mut Vec<F>) -> usize {
        self.put(pkts)
    }
}

impl<F> RingProducer<F> for Channel<F> {
    fn enqueue_burst(&mut self, pkts: &mut Vec<F>) -> usize {
        self.put(pkts)
    }
}

impl<F> RingConsumer<F> for Channel<F> {
    fn dequeue_burst(&mut self, out: &mut Vec<F>) -> usize {
        self.get(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_channel_bounded_fifo() {
        let mut c: Channel<u32> = Channel::new(3);
        let mut v = vec![1, 2, 3, 4, 5];
        assert_eq!(c.tx_burst(&mut v), 3);
        assert_eq!(v, [4, 5], "what did not fit stays, in order");
        assert!(!c.push(9));
        let mut out = Vec::with_capacity(2);
        assert_eq!(c.rx_burst(&mut out), 2, "up to the spare capacity");
        assert_eq!(out, [1, 2]);
        assert_eq!(c.len(), 1);
        assert_eq!(c.clone().take_all(), [3]);
        assert!(c.is_empty());
    }
}
