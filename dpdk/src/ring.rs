//! Single-producer/single-consumer `rte_ring`s carrying mbufs between lcores.

use std::cell::Cell;
use std::ffi::CString;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::eal::Eal;
use crate::error::{cvt_p, Error, Result};
use crate::mbuf::Mbuf;

#[derive(Debug)]
struct RingInner(*mut dpdk_sys::rte_ring);

// SAFETY: the ring is only touched through one Producer and one Consumer (SP/SC contract),
// each of which is !Sync; Drop runs once, when both halves are gone.
unsafe impl Send for RingInner {}
// SAFETY: see Send; shared references only exist inside the two halves.
unsafe impl Sync for RingInner {}

impl Drop for RingInner {
    fn drop(&mut self) {
        // Both halves are gone: free whatever mbufs are still queued, then the ring.
        let mut buf: Vec<Mbuf> = Vec::with_capacity(64);
        loop {
            let n = dequeue(self.0, &mut buf);
            buf.clear();
            if n == 0 {
                break;
            }
        }
        // SAFETY: the ring came from rte_ring_create and nobody uses it any more.
        unsafe { dpdk_sys::rte_ring_free(self.0) };
    }
}

fn dequeue(ring: *mut dpdk_sys::rte_ring, out: &mut Vec<Mbuf>) -> usize {
    let spare = u32::try_from(out.capacity() - out.len()).unwrap_or(u32::MAX);
    let len = out.len();
    let slots = out
        .spare_capacity_mut()
        .as_mut_ptr()
        .cast::<*mut std::os::raw::c_void>();
    // SAFETY: `slots` has room for `spare` pointers; the caller is the ring's only consumer;
    // only owned mbuf pointers are ever enqueued.
    let n =
        unsafe { dpdk_sys::rte_ring_sc_dequeue_burst(ring, slots, spare, std::ptr::null_mut()) };
    // SAFETY: the first n slots now hold owned mbufs.
    unsafe { out.set_len(len + n as usize) };
    n as usize
}

/// The sending half of an mbuf ring. `Send`, not `Sync`, not `Clone`: one producer.
#[derive(Debug)]
pub struct Producer {
    inner: Arc<RingInner>,
    _not_sync: PhantomData<Cell<()>>,
}

/// The receiving half of an mbuf ring. `Send`, not `Sync`, not `Clone`: one consumer.
#[derive(Debug)]
pub struct Consumer {
    inner: Arc<RingInner>,
    _not_sync: PhantomData<Cell<()>>,
}

/// Create an SP/SC ring of `size` (a power of two) slots and return its two halves.
#[doc(alias = "rte_ring_create")]
pub fn mbuf_ring(_eal: &Eal, name: &str, size: u32) -> Result<(Producer, Consumer)> {
    if !size.is_power_of_two() || size < 2 {
        return Err(Error::InvalidArgument(format!(
            "ring size {size} is not a power of two >= 2"
        )));
    }
    let c = CString::new(name)
        .map_err(|_| Error::InvalidArgument(format!("ring name {name:?} has NUL")))?;
    let flags = dpdk_sys::RING_F_SP_ENQ | dpdk_sys::RING_F_SC_DEQ;
    // SAFETY: valid C string; the EAL is initialised.
    let r = unsafe { dpdk_sys::rte_ring_create(c.as_ptr(), size, dpdk_sys::SOCKET_ID_ANY, flags) };
    let r = cvt_p("rte_ring_create", r)?;
    let inner = Arc::new(RingInner(r.as_ptr()));
    Ok((
        Producer {
            inner: inner.clone(),
            _not_sync: PhantomData,
        },
        Consumer {
            inner,
            _not_sync: PhantomData,
        },
    ))
}

impl Producer {
    /// Enqueue mbufs from the front of `pkts`; the queued ones leave the vector, the rest stay.
    /// Return how many were queued. Never allocates.
    #[doc(alias = "rte_ring_sp_enqueue_burst")]
    #[inline]
    pub fn enqueue_burst(&mut self, pkts: &mut Vec<Mbuf>) -> usize {
        let n = u32::try_from(pkts.len()).unwrap_or(u32::MAX);
        let ptr = pkts.as_ptr().cast::<*mut std::os::raw::c_void>();
        // SAFETY: ptr holds n owned mbuf pointers (Mbuf is repr(transparent)); we are the only
        // producer. The ring takes ownership of the first `sent`.
        let sent = unsafe {
            dpdk_sys::rte_ring_sp_enqueue_burst(self.inner.0, ptr, n, std::ptr::null_mut())
        };
        pkts.drain(..sent as usize).for_each(std::mem::forget);
        sent as usize
    }

    /// Return how many more mbufs fit.
    pub fn free_count(&self) -> u32 {
        // SAFETY: valid ring.
        unsafe { dpdk_sys::rte_ring_free_count(self.inner.0) }
    }
}

impl Consumer {
    /// Dequeue up to the spare capacity of `out`, appending; return how many. Never allocates.
    #[doc(alias = "rte_ring_sc_dequeue_burst")]
    #[inline]
    pub fn dequeue_burst(&mut self, out: &mut Vec<Mbuf>) -> usize {
        dequeue(self.inner.0, out)
    }

    /// Return how many mbufs are queued.
    pub fn count(&self) -> u32 {
        // SAFETY: valid ring.
        unsafe { dpdk_sys::rte_ring_count(self.inner.0) }
    }
}

impl dataplane::io::RingProducer<Mbuf> for Producer {
    #[inline]
    fn enqueue_burst(&mut self, pkts: &mut Vec<Mbuf>) -> usize {
        Producer::enqueue_burst(self, pkts)
    }
}

impl dataplane::io::RingConsumer<Mbuf> for Consumer {
    #[inline]
    fn dequeue_burst(&mut self, out: &mut Vec<Mbuf>) -> usize {
        Consumer::dequeue_burst(self, out)
    }
}
