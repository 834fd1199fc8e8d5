//! The session index alone, for `benches/index.rs` (the index against `hashbrown::HashTable`,
//! issue 18): the table's own [`Index`], nothing added.

use super::index::Index;

/// [`Index`] as the session tables use it: 32-bit slab slots under 64-bit flow hashes, the
/// caller confirming a candidate against its record.
#[derive(Debug)]
pub struct CuckooIndex(Index);

impl CuckooIndex {
    /// An index for up to `max_entries` entries (at most 50% load, as the tables size it).
    pub fn with_entries(max_entries: usize) -> Self {
        Self(Index::with_entries(max_entries))
    }

    /// Add `(hash, val)`; false when the index is too full.
    #[inline]
    pub fn insert(&mut self, hash: u64, val: u32) -> bool {
        self.0.insert(hash, val)
    }

    /// The first value under `hash` for which `matches` is true.
    #[inline]
    pub fn find(&self, hash: u64, matches: impl FnMut(u32) -> bool) -> Option<u32> {
        self.0.find(hash, matches)
    }

    /// Touch `hash`'s home bucket ahead of [`CuckooIndex::find`] (the burst pre-pass).
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        self.0.prefetch(hash);
    }

    /// Bytes of index memory.
    pub fn memory_bytes(&self) -> usize {
        self.0.memory_bytes()
    }
}
