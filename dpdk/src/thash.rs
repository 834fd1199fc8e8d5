//! DPDK's software Toeplitz hash, used to check ferrovs's own implementation.

/// Compute the Toeplitz hash of `tuple` (host-order 32-bit words, as `rte_softrss` takes them)
/// with `key` (at least `4 * tuple.len() + 4` bytes).
///
/// # Panics
/// If the key is too short for the tuple.
#[doc(alias = "rte_softrss")]
pub fn softrss(tuple: &[u32], key: &[u8]) -> u32 {
    assert!(
        key.len() >= tuple.len() * 4 + 4,
        "RSS key too short for the tuple"
    );
    let mut t = tuple.to_vec();
    let len = u32::try_from(t.len()).expect("short tuple");
    // SAFETY: t holds len words; key holds enough bytes for the window rte_softrss slides over
    // (checked above). rte_softrss only reads both.
    unsafe { dpdk_sys::rte_softrss(t.as_mut_ptr(), len, key.as_ptr()) }
}
