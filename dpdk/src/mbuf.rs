//! Owned packet buffers.

use std::ptr::NonNull;

/// An owned `rte_mbuf`, freed (back to its pool) on drop.
///
/// Accessors see the first segment only; [`Mbuf::is_contiguous`] tells whether that is the whole
/// packet. ferrovs configures its ports without scatter, so every received packet is one
/// segment, and the worker drops (and counts) any that is not.
#[derive(Debug)]
#[repr(transparent)]
pub struct Mbuf(NonNull<dpdk_sys::rte_mbuf>);

// SAFETY: an Mbuf is the unique owner of its buffer (we never create indirect/cloned mbufs), and
// freeing to a mempool from any thread is allowed.
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Take ownership of a raw mbuf.
    ///
    /// # Safety
    /// `m` must point to a valid mbuf, with refcount 1, that nothing else will use or free.
    pub unsafe fn from_raw(m: NonNull<dpdk_sys::rte_mbuf>) -> Mbuf {
        Mbuf(m)
    }

    /// Give up ownership and return the raw pointer (for handing to DPDK).
    pub fn into_raw(self) -> NonNull<dpdk_sys::rte_mbuf> {
        let p = self.0;
        std::mem::forget(self);
        p
    }

    fn raw(&self) -> &dpdk_sys::rte_mbuf {
        // SAFETY: self owns a valid mbuf; shared access through &self.
        unsafe { self.0.as_ref() }
    }

    fn raw_mut(&mut self) -> &mut dpdk_sys::rte_mbuf {
        // SAFETY: self uniquely owns a valid mbuf; exclusive access through &mut self.
        unsafe { self.0.as_mut() }
    }

    /// Return the first segment's bytes.
    #[doc(alias = "rte_pktmbuf_mtod")]
    #[inline]
    pub fn data(&self) -> &[u8] {
        let m = self.raw();
        // SAFETY: buf_addr + data_off points to data_len initialised bytes inside the mbuf's
        // buffer, owned by self for the borrow's duration.
        unsafe {
            std::slice::from_raw_parts(
                m.buf_addr.cast::<u8>().add(usize::from(m.data_off)),
                usize::from(m.data_len),
            )
        }
    }

    /// Start loading the first cache line of the packet data (`rte_prefetch0` on
    /// `rte_pktmbuf_mtod`), as DPDK's forwarding loops do for the frames ahead of the one
    /// they work on.
    #[doc(alias = "rte_prefetch0")]
    #[inline]
    pub fn prefetch_data(&self) {
        prefetch(self.data_start());
    }

    /// Start loading the cache line just before the packet data (inside the headroom, when
    /// there is one), where a prepended header goes.
    #[inline]
    pub fn prefetch_before_data(&self) {
        prefetch(self.data_start().wrapping_sub(1));
    }

    /// The address of the first data byte (`rte_pktmbuf_mtod`).
    #[inline]
    fn data_start(&self) -> *const u8 {
        let m = self.raw();
        m.buf_addr
            .cast::<u8>()
            .cast_const()
            .wrapping_add(usize::from(m.data_off))
    }

    /// Return the first segment's bytes, writable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        let m = self.raw_mut();
        // SAFETY: as in data(); &mut self makes the access exclusive.
        unsafe {
            std::slice::from_raw_parts_mut(
                m.buf_addr.cast::<u8>().add(usize::from(m.data_off)),
                usize::from(m.data_len),
            )
        }
    }

    /// Return the first segment's length.
    #[inline]
    pub fn data_len(&self) -> usize {
        usize::from(self.raw().data_len)
    }

    /// Return the whole packet's length (all segments).
    #[inline]
    pub fn pkt_len(&self) -> usize {
        self.raw().pkt_len as usize
    }

    /// Return the number of segments.
    pub fn nb_segs(&self) -> u16 {
        self.raw().nb_segs
    }

    /// Return true when the packet is in one segment.
    #[inline]
    pub fn is_contiguous(&self) -> bool {
        self.raw().nb_segs == 1
    }

    /// Return the free bytes in front of the data.
    #[inline]
    pub fn headroom(&self) -> usize {
        usize::from(self.raw().data_off)
    }

    /// Return the free bytes after the data (first segment).
    pub fn tailroom(&self) -> usize {
        let m = self.raw();
        usize::from(m.buf_len) - usize::from(m.data_off) - usize::from(m.data_len)
    }

    /// Grow the packet at the front by `n` bytes; return the whole first segment, or `None`
    /// (unchanged) if the headroom is too small.
    #[doc(alias = "rte_pktmbuf_prepend")]
    pub fn prepend(&mut self, n: usize) -> Option<&mut [u8]> {
        let n = u16::try_from(n).ok()?;
        // SAFETY: valid owned mbuf; rte_pktmbuf_prepend checks the headroom and returns NULL
        // without changing anything when it is short.
        let p = unsafe { dpdk_sys::rte_pktmbuf_prepend(self.0.as_ptr(), n) };
        (!p.is_null()).then(|| self.data_mut())
    }

    /// Grow the packet at the end by `n` bytes; return the whole first segment, or `None`
    /// (unchanged) if there is no room.
    #[doc(alias = "rte_pktmbuf_append")]
    pub fn append(&mut self, n: usize) -> Option<&mut [u8]> {
        let n = u16::try_from(n).ok()?;
        if !self.is_contiguous() {
            return None;
        }
        // SAFETY: valid owned single-segment mbuf; append checks the tailroom, returns NULL
        // without changes when short.
        let p = unsafe { dpdk_sys::rte_pktmbuf_append(self.0.as_ptr(), n) };
        (!p.is_null()).then(|| self.data_mut())
    }

    /// Remove `n` bytes from the front; `false` (unchanged) if `n` exceeds the first segment.
    #[doc(alias = "rte_pktmbuf_adj")]
    pub fn adj(&mut self, n: usize) -> bool {
        let Ok(n) = u16::try_from(n) else {
            return false;
        };
        // SAFETY: valid owned mbuf; adj checks n against data_len and returns NULL if too big.
        !unsafe { dpdk_sys::rte_pktmbuf_adj(self.0.as_ptr(), n) }.is_null()
    }

    /// Remove `n` bytes from the end; `false` (unchanged) if `n` exceeds the last segment.
    #[doc(alias = "rte_pktmbuf_trim")]
    pub fn trim(&mut self, n: usize) -> bool {
        let Ok(n) = u16::try_from(n) else {
            return false;
        };
        // SAFETY: valid owned mbuf; trim checks n against the last segment and returns -1 if
        // too big.
        unsafe { dpdk_sys::rte_pktmbuf_trim(self.0.as_ptr(), n) == 0 }
    }

    /// Return the offload flags (`RTE_MBUF_F_*`).
    pub fn ol_flags(&self) -> u64 {
        self.raw().ol_flags
    }

    /// Set the offload flags (`RTE_MBUF_F_TX_*` to request checksum offloads).
    pub fn set_ol_flags(&mut self, flags: u64) {
        self.raw_mut().ol_flags = flags;
    }

    /// Set the header lengths TX checksum offloads need.
    pub fn set_tx_offload(&mut self, l2_len: u16, l3_len: u16, l4_len: u16) {
        // SAFETY: valid owned mbuf; the shim writes three bitfields of it.
        unsafe { dpdk_sys::ferrovs_mbuf_set_tx_offload(self.0.as_ptr(), l2_len, l3_len, l4_len) }
    }

    /// Return the port the packet arrived on.
    pub fn port(&self) -> u16 {
        self.raw().port
    }

    /// Return the RSS hash the NIC computed (valid when `RTE_MBUF_F_RX_RSS_HASH` is set).
    pub fn rss_hash(&self) -> u32 {
        // SAFETY: reading a plain u32 out of a POD union; every bit pattern is valid.
        unsafe { self.raw().__bindgen_anon_2.hash.rss }
    }

    /// Free a batch of mbufs in one call.
    #[doc(alias = "rte_pktmbuf_free_bulk")]
    pub fn free_bulk(mbufs: &mut Vec<Mbuf>) {
        let n = u32::try_from(mbufs.len()).expect("fewer than 2^32 mbufs");
        // Mbuf is repr(transparent) over a non-null pointer, so the Vec's buffer is an array of
        // rte_mbuf pointers.
        let ptr = mbufs.as_mut_ptr().cast::<*mut dpdk_sys::rte_mbuf>();
        // SAFETY: ptr holds n owned mbuf pointers; after the call we forget them (set_len(0))
        // so they are not freed twice.
        unsafe {
            dpdk_sys::rte_pktmbuf_free_bulk(ptr, n);
            mbufs.set_len(0);
        }
    }
}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: we own the mbuf; it is not used after this.
        unsafe { dpdk_sys::rte_pktmbuf_free(self.0.as_ptr()) }
    }
}

impl dataplane::frame::Frame for Mbuf {
    #[inline]
    fn data(&self) -> &[u8] {
        Mbuf::data(self)
    }
    #[inline]
    fn data_mut(&mut self) -> &mut [u8] {
        Mbuf::data_mut(self)
    }
    #[inline]
    fn headroom(&self) -> usize {
        Mbuf::headroom(self)
    }
    #[inline]
    fn prepend(&mut self, n: usize) -> Option<&mut [u8]> {
        Mbuf::prepend(self, n)
    }
    #[inline]
    fn adj(&mut self, n: usize) -> bool {
        Mbuf::adj(self, n)
    }
    #[inline]
    fn trim(&mut self, n: usize) -> bool {
        Mbuf::trim(self, n)
    }
    #[inline]
    fn append(&mut self, n: usize) -> Option<&mut [u8]> {
        Mbuf::append(self, n)
    }
    #[inline(always)]
    fn prefetch_head(&self) {
        self.prefetch_data();
        if self.headroom() > 0 {
            self.prefetch_before_data();
        }
    }
}

impl dataplane::io::RxFrame for Mbuf {
    #[inline]
    fn port_id(&self) -> u16 {
        Mbuf::port(self)
    }

    #[inline]
    fn alloc_like(&self) -> Option<Mbuf> {
        // SAFETY: `pool` of a valid mbuf is the live mempool it came from.
        let m = unsafe { dpdk_sys::rte_pktmbuf_alloc(self.raw().pool) };
        // SAFETY: a non-null result is a freshly allocated mbuf we now own.
        NonNull::new(m).map(|m| unsafe { Mbuf::from_raw(m) })
    }

    /// One `rte_pktmbuf_free_bulk` call instead of one free per frame.
    #[inline]
    fn free_bulk(frames: &mut Vec<Mbuf>) {
        Mbuf::free_bulk(frames);
    }
}

/// Ask for the cache line holding `p` (a hint). The intrinsic rather than the bindgen wrapper
/// of the static inline `rte_prefetch0`, which would cost a call.
#[inline(always)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it neither faults nor changes memory, whatever the address
    // (the callers' are in or next to the mbuf's buffer); SSE is baseline on x86_64.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: as above.
    unsafe {
        dpdk_sys::rte_prefetch0(p.cast::<std::os::raw::c_void>());
    }
}
