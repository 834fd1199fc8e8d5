//! A cache-line prefetch that does not wait: the burst pre-pass asks for every bucket and record
//! it will read, and the CPU keeps going while the lines come.
//!
//! A plain load would do the same job only as far as the reorder buffer reaches: each missing
//! load holds its entry until its line arrives, so a burst's misses stop overlapping once the
//! buffer fills. `safe_arch` wraps the SSE `prefetcht0` instruction (a hint: it never faults,
//! whatever the address); elsewhere the hint is nothing.

/// Ask for the cache line that holds `r` (into every cache level).
#[inline(always)]
pub(crate) fn line<T>(r: &T) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse"))]
    safe_arch::prefetch_t0(r);
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse")))]
    let _ = r;
}
