//! Packet-buffer pools.

use std::ffi::CString;
use std::ptr::NonNull;

use crate::eal::Eal;
use crate::error::{cvt_p, Error, Result};
use crate::mbuf::Mbuf;

/// An `rte_mempool` of packet buffers, created by `rte_pktmbuf_pool_create`.
///
/// It is freed on drop only if every mbuf has come back; otherwise it is leaked (with a message),
/// because freeing it would leave live mbufs pointing into freed memory.
#[derive(Debug)]
pub struct Mempool {
    ptr: NonNull<dpdk_sys::rte_mempool>,
    name: String,
}

// SAFETY: rte_mempool get/put are thread-safe (multi-producer/multi-consumer rings behind per-lcore
// caches), and the pointer stays valid for the pool's life.
unsafe impl Send for Mempool {}
// SAFETY: as above; every method takes &self and calls only thread-safe mempool functions.
unsafe impl Sync for Mempool {}

/// Default mbuf data room: 2 KiB of packet plus DPDK's headroom.
pub const DEFAULT_DATA_ROOM: u16 = 2048 + 128;

impl Mempool {
    /// Create a pool of `n` mbufs with `cache` per-lcore cached buffers and `data_room` bytes
    /// each (headroom included), on NUMA socket `socket` (`None`: any).
    #[doc(alias = "rte_pktmbuf_pool_create")]
    pub fn new(
        _eal: &Eal,
        name: &str,
        n: u32,
        cache: u32,
        data_room: u16,
        socket: Option<u32>,
    ) -> Result<Mempool> {
        let cname = CString::new(name)
            .map_err(|_| Error::InvalidArgument(format!("pool name {name:?} contains NUL")))?;
        let socket = socket.map_or(dpdk_sys::SOCKET_ID_ANY, |s| s as i32);
        // SAFETY: cname is a valid C string (copied by DPDK); the EAL is initialised.
        let p = unsafe {
            dpdk_sys::rte_pktmbuf_pool_create(cname.as_ptr(), n, cache, 0, data_room, socket)
        };
        let ptr = cvt_p("rte_pktmbuf_pool_create", p)?;
        Ok(Mempool {
            ptr,
            name: name.to_owned(),
        })
    }

    /// Return the pool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Allocate one mbuf (empty, default headroom).
    #[doc(alias = "rte_pktmbuf_alloc")]
    pub fn alloc(&self) -> Option<Mbuf> {
        // SAFETY: the pool pointer is valid for self's life.
        let m = unsafe { dpdk_sys::rte_pktmbuf_alloc(self.ptr.as_ptr()) };
        // SAFETY: a non-null result is a freshly allocated mbuf we now own.
        NonNull::new(m).map(|m| unsafe { Mbuf::from_raw(m) })
    }

    /// Allocate `n` empty mbufs in one call and append them to `out`: all or none. Return
    /// `false` (leaving `out` as it was) when the pool has fewer than `n` free.
    #[doc(alias = "rte_pktmbuf_alloc_bulk")]
    pub fn alloc_bulk(&self, out: &mut Vec<Mbuf>, n: usize) -> bool {
        let Ok(count) = u32::try_from(n) else {
            return false;
        };
        out.reserve(n);
        let len = out.len();
        // Mbuf is repr(transparent) over NonNull<rte_mbuf>: the spare capacity is an array of
        // at least `n` mbuf pointer slots.
        let slots = out
            .spare_capacity_mut()
            .as_mut_ptr()
            .cast::<*mut dpdk_sys::rte_mbuf>();
        // SAFETY: the pool pointer is valid for self's life; slots has room for `count`
        // pointers; on success DPDK writes `count` freshly allocated (owned, non-null, reset)
        // mbufs, on failure none.
        let ret = unsafe { dpdk_sys::rte_pktmbuf_alloc_bulk(self.ptr.as_ptr(), slots, count) };
        if ret != 0 {
            return false;
        }
        // SAFETY: the call succeeded, so the first `n` spare slots hold owned mbufs.
        unsafe { out.set_len(len + n) };
        true
    }

    /// Allocate an mbuf holding a copy of `data`; `None` if the pool is empty or `data` too long.
    pub fn alloc_from(&self, data: &[u8]) -> Option<Mbuf> {
        let mut m = self.alloc()?;
        m.append(data.len())?.copy_from_slice(data);
        Some(m)
    }

    /// Return the number of free mbufs.
    #[doc(alias = "rte_mempool_avail_count")]
    pub fn avail(&self) -> u32 {
        // SAFETY: valid pool pointer.
        unsafe { dpdk_sys::rte_mempool_avail_count(self.ptr.as_ptr()) }
    }

    /// Return the number of mbufs allocated out of the pool.
    #[doc(alias = "rte_mempool_in_use_count")]
    pub fn in_use(&self) -> u32 {
        // SAFETY: valid pool pointer.
        unsafe { dpdk_sys::rte_mempool_in_use_count(self.ptr.as_ptr()) }
    }

    /// Return the raw pool pointer (for queue setup).
    pub(crate) fn as_ptr(&self) -> *mut dpdk_sys::rte_mempool {
        self.ptr.as_ptr()
    }
}

impl Drop for Mempool {
    fn drop(&mut self) {
        // SAFETY: valid pool pointer.
        let full = unsafe { dpdk_sys::rte_mempool_full(self.ptr.as_ptr()) } != 0;
        if full {
            // SAFETY: every object is back in the pool, so nothing refers into it any more.
            unsafe { dpdk_sys::rte_mempool_free(self.ptr.as_ptr()) };
        } else {
            eprintln!(
                "dpdk: mempool '{}' still has {} mbufs out; leaking it rather than freeing live memory",
                self.name,
                self.in_use()
            );
        }
    }
}
