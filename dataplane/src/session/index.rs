//! Open-addressed index from a flow hash to a slab slot: bucketized cuckoo hashing.
//!
//! Contract: the index stores 32-bit values (a slab slot with a direction bit) under 64-bit
//! hashes; it never compares keys itself, the caller's `matches` closure confirms a candidate
//! against the record. All memory is allocated by [`Index::with_entries`]; `insert`, `find` and
//! `remove` never allocate. Deletion just clears the entry: cuckoo hashing has no probe chains,
//! so there are no tombstones to rot.
//!
//! Layout: one bucket is one 64-byte cache line holding [`WAYS`] = 10 entries as ten 16-bit
//! signatures followed by ten 32-bit values. An entry lives in one of two buckets: its home
//! bucket (from the hash's high 32 bits, by multiply-shift range reduction, so the bucket count
//! need not be a power of two and memory follows capacity closely) or its alternate bucket
//! `(f(sig) - home) mod n`, an involution of the bucket index that depends on the signature only,
//! so an entry can be displaced to its other bucket without its key (DPDK `rte_hash`'s trick,
//! generalised to any bucket count). Sized for at most 50% load, a lookup reads one cache line
//! almost always and two at most. When both buckets are full, a breadth-first search over
//! displacement paths of bounded length finds a free entry (as in DPDK `rte_hash`).
//!
//! Misses read one line too: each bucket counts the entries whose home it is but which sit in
//! their alternate bucket (`spill`, in the line's spare bytes; a flag per way says which of a
//! bucket's entries are away from home, so a displacement knows which way it moves one). A
//! lookup that finds nothing at home stops there while that count is zero, which at 50% load
//! is nearly always; a new flow's lookups of its two keys, both misses, read their alternate
//! buckets only then.

use core::fmt;

/// Entries per bucket: ten (u16 signature, u32 value) pairs fill a 64-byte line.
pub(crate) const WAYS: usize = 10;
/// The value of an unused entry.
pub(crate) const EMPTY: u32 = u32::MAX;
/// Breadth-first search nodes for cuckoo displacement: at most 50% load, paths of two or three
/// moves are ample; the bound keeps the worst insert cheap and stack-only.
const BFS_NODES: usize = 128;

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Bucket {
    sig: [u16; WAYS],
    val: [u32; WAYS],
    /// Bit `w`: way `w` holds an entry away from its home bucket (in its alternate).
    away: u16,
    /// Entries homed here that sit in their alternate bucket; sticky at `u16::MAX` (then a
    /// miss always reads the alternate, which is only slower).
    spill: u16,
}

const _: () = assert!(core::mem::size_of::<Bucket>() == 64);

impl Bucket {
    const EMPTY: Self = Self {
        sig: [0; WAYS],
        val: [EMPTY; WAYS],
        away: 0,
        spill: 0,
    };

    #[inline]
    fn free_way(&self) -> Option<usize> {
        self.val.iter().position(|&v| v == EMPTY)
    }

    /// One bit per way whose signature is `sig`, way 0 in bit 0: a lookup then branches once
    /// per candidate, not once per way (the per-way loop's exit, wherever the match sat, was
    /// a branch to mispredict). On x86-64, two overlapping 8-way compares (ways 0-7 and 2-9)
    /// and one byte mask: the compiler's own vectorisation of the loop below reduced the lanes
    /// by shifts and ORs, twice the instructions.
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    #[inline(always)]
    fn sig_mask(&self, sig: u16) -> u16 {
        use safe_arch::{
            cmp_eq_mask_i16_m128i as eq, m128i, move_mask_i8_m128i, pack_i16_to_i8_m128i,
            set_splat_i16_m128i,
        };
        // The signatures' bits as i16 lanes (`as` reinterprets; the compare is for equality).
        let l = |w: usize| self.sig[w] as i16;
        let lo = m128i::from([l(0), l(1), l(2), l(3), l(4), l(5), l(6), l(7)]);
        let hi = m128i::from([l(2), l(3), l(4), l(5), l(6), l(7), l(8), l(9)]);
        let key = set_splat_i16_m128i(sig as i16);
        // Equal lanes are -1, which packs to the byte 0xff: bits 0-7 are ways 0-7, bits 8-15
        // ways 2-9.
        let m = move_mask_i8_m128i(pack_i16_to_i8_m128i(eq(lo, key), eq(hi, key))) as u32;
        ((m & 0xff) | (m >> 8) << 2) as u16
    }

    /// One bit per way whose signature is `sig`, way 0 in bit 0 (the x86-64 version's
    /// contract): a loop without early exit, which compilers vectorise.
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    #[inline(always)]
    fn sig_mask(&self, sig: u16) -> u16 {
        let mut mask = 0u16;
        for (w, &s) in self.sig.iter().enumerate() {
            mask |= u16::from(s == sig) << w;
        }
        mask
    }

    /// Put `(sig, val)` in way `w`, away from its home bucket or not.
    #[inline(always)]
    fn put(&mut self, w: usize, (sig, val): (u16, u32), away: bool) {
        self.sig[w] = sig;
        self.val[w] = val;
        self.away = self.away & !(1 << w) | u16::from(away) << w;
    }

    /// Whether way `w`'s entry is away from its home bucket.
    #[inline(always)]
    fn is_away(&self, w: usize) -> bool {
        self.away >> w & 1 == 1
    }

    /// One more entry homed here sits in its alternate bucket.
    #[inline(always)]
    fn spilled(&mut self) {
        self.spill = self.spill.saturating_add(1);
    }

    /// One entry homed here came back from (or left) its alternate bucket.
    #[inline(always)]
    fn unspilled(&mut self) {
        if self.spill != u16::MAX {
            self.spill -= 1;
        }
    }

    /// The value of the first way, in `mask`'s order, that is in use and `matches`.
    #[inline(always)]
    fn first_match(&self, mut mask: u16, matches: &mut impl FnMut(u32) -> bool) -> Option<u32> {
        while mask != 0 {
            let w = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            let v = self.val[w];
            if v != EMPTY && matches(v) {
                return Some(v);
            }
        }
        None
    }
}

/// A fixed-size cuckoo index of `u32` values keyed by 64-bit hashes.
#[derive(Clone)]
pub(crate) struct Index {
    buckets: Vec<Bucket>,
    /// Number of buckets, `buckets.len()` as u64 for the range reduction.
    n: u64,
}

impl fmt::Debug for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Index").field("buckets", &self.n).finish()
    }
}

#[derive(Clone, Copy)]
struct Node {
    bucket: u32,
    /// Index of the parent node, or `u16::MAX` for a root.
    parent: u16,
    /// Way in the parent's bucket whose entry moves into this node's bucket.
    way: u8,
}

impl Index {
    /// An index for up to `max_entries` entries at no more than 50% load.
    pub(crate) fn with_entries(max_entries: usize) -> Self {
        let n = (2 * max_entries).div_ceil(WAYS).max(2);
        assert!(u32::try_from(n).is_ok(), "session index too large");
        let buckets = vec![Bucket::EMPTY; n];
        Self {
            n: n as u64,
            buckets,
        }
    }

    /// Bytes of bucket memory.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.buckets.capacity() * core::mem::size_of::<Bucket>()
    }

    /// Number of buckets.
    #[cfg(test)]
    pub(crate) fn bucket_count(&self) -> usize {
        self.buckets.len()
    }

    /// Home bucket and signature of a hash.
    #[inline(always)]
    fn home(&self, hash: u64) -> (u32, u16) {
        let b = ((hash >> 32) * self.n) >> 32;
        (b as u32, hash as u16)
    }

    /// The other bucket of an entry with signature `sig` that sits in bucket `b`.
    #[inline(always)]
    fn alt(&self, b: u32, sig: u16) -> u32 {
        let spread = u64::from(u32::from(sig).wrapping_mul(0x9e37_79b1));
        let f = ((spread * self.n) >> 32) as u32;
        if f >= b {
            f - b
        } else {
            // f < b < n, so the sum fits in u32 (n fits, checked at construction).
            (u64::from(f) + self.n - u64::from(b)) as u32
        }
    }

    /// Prefetch the home bucket of `hash` so its cache line is in flight before [`Index::find`].
    #[inline]
    pub(crate) fn prefetch(&self, hash: u64) {
        let (b, _) = self.home(hash);
        super::prefetch::line(&self.buckets[b as usize]);
    }

    /// The first value in `hash`'s home bucket whose signature matches (a likely hit, not
    /// confirmed: for prefetching).
    #[inline]
    pub(crate) fn candidate(&self, hash: u64) -> Option<u32> {
        let (b, sig) = self.home(hash);
        let bucket = &self.buckets[b as usize];
        bucket.first_match(bucket.sig_mask(sig), &mut |_| true)
    }

    /// The first value under `hash` for which `matches` is true.
    ///
    /// The home bucket's part is inlined into each caller (a lookup's hit is nearly always
    /// there, and a call's register saves cost as much as its compares); the alternate's is not.
    #[inline(always)]
    pub(crate) fn find(&self, hash: u64, mut matches: impl FnMut(u32) -> bool) -> Option<u32> {
        let (b1, sig) = self.home(hash);
        let bucket = &self.buckets[b1 as usize];
        if let Some(v) = bucket.first_match(bucket.sig_mask(sig), &mut matches) {
            return Some(v);
        }
        // Nothing homed here is away: the alternate cannot hold it (one line read, not two).
        if bucket.spill == 0 {
            return None;
        }
        self.find_away(b1, sig, matches)
    }

    /// [`Self::find`] in the alternate bucket of home `b1`.
    #[inline(never)]
    fn find_away(&self, b1: u32, sig: u16, mut matches: impl FnMut(u32) -> bool) -> Option<u32> {
        let b2 = self.alt(b1, sig);
        if b2 == b1 {
            return None;
        }
        let bucket = &self.buckets[b2 as usize];
        bucket.first_match(bucket.sig_mask(sig), &mut matches)
    }

    /// Remove the entry `(hash, val)`; false if it is not there.
    pub(crate) fn remove(&mut self, hash: u64, val: u32) -> bool {
        let (b1, sig) = self.home(hash);
        let b2 = self.alt(b1, sig);
        for b in [b1, b2] {
            let bucket = &mut self.buckets[b as usize];
            if let Some(w) = (0..WAYS).find(|&w| bucket.val[w] == val && bucket.sig[w] == sig) {
                let away = bucket.is_away(w);
                bucket.put(w, (sig, EMPTY), false);
                if away {
                    self.buckets[b1 as usize].unspilled();
                }
                return true;
            }
        }
        false
    }

    /// Add `(hash, val)`; false when no displacement path was found (the index is too full).
    pub(crate) fn insert(&mut self, hash: u64, val: u32) -> bool {
        debug_assert_ne!(val, EMPTY);
        let (b1, sig) = self.home(hash);
        let b2 = self.alt(b1, sig);
        for b in [b1, b2] {
            let bucket = &mut self.buckets[b as usize];
            if let Some(w) = bucket.free_way() {
                // A free way's flag is clear (remove and displacement clear it): no
                // read-modify-write of the flags for the common insert, at home.
                debug_assert!(!bucket.is_away(w));
                bucket.sig[w] = sig;
                bucket.val[w] = val;
                if b != b1 {
                    bucket.away |= 1 << w;
                    self.buckets[b1 as usize].spilled();
                }
                return true;
            }
        }
        self.insert_displacing(b1, b2, sig, val)
    }

    /// Breadth-first search for a chain of moves ending at a free entry, then apply it.
    #[cold]
    fn insert_displacing(&mut self, b1: u32, b2: u32, sig: u16, val: u32) -> bool {
        const ROOT: u16 = u16::MAX;
        let mut nodes = [Node {
            bucket: 0,
            parent: ROOT,
            way: 0,
        }; BFS_NODES];
        nodes[0].bucket = b1;
        let mut len = 1;
        if b2 != b1 {
            nodes[1].bucket = b2;
            len = 2;
        }
        let mut head = 0;
        while head < len {
            let cur = nodes[head];
            for w in 0..WAYS {
                let e_sig = self.buckets[cur.bucket as usize].sig[w];
                let alt = self.alt(cur.bucket, e_sig);
                if alt == cur.bucket {
                    continue;
                }
                if let Some(free) = self.buckets[alt as usize].free_way() {
                    if self.path_is_simple(&nodes, head, w) {
                        self.apply_path(&nodes, (head, w), (alt, free), (sig, val));
                        return true;
                    }
                }
                if len < BFS_NODES {
                    nodes[len] = Node {
                        bucket: alt,
                        parent: head as u16,
                        way: w as u8,
                    };
                    len += 1;
                }
            }
            head += 1;
        }
        false
    }

    /// Whether the (bucket, way) positions vacated along the path are all distinct; a repeated
    /// position would move an entry that an earlier move already replaced.
    fn path_is_simple(&self, nodes: &[Node], mut node: usize, mut way: usize) -> bool {
        let mut seen = [(0u32, 0usize); 8];
        let mut n = 0;
        loop {
            let pos = (nodes[node].bucket, way);
            if seen[..n].contains(&pos) || n == seen.len() {
                return false;
            }
            seen[n] = pos;
            n += 1;
            let nd = nodes[node];
            if nd.parent == u16::MAX {
                return true;
            }
            way = usize::from(nd.way);
            node = usize::from(nd.parent);
        }
    }

    /// Move the entries along the path ending at `(node, way)` one step each, into the free
    /// entry `(dst_bucket, dst_way)` first, and put `(sig, val)` in the entry freed at the root
    /// (node 0 is the new entry's home `b1`; node 1, when there is one, its alternate).
    fn apply_path(
        &mut self,
        nodes: &[Node],
        (mut node, mut way): (usize, usize),
        (mut dst_bucket, mut dst_way): (u32, usize),
        (sig, val): (u16, u32),
    ) {
        loop {
            let src_bucket = nodes[node].bucket;
            let src = self.buckets[src_bucket as usize];
            // An entry moves between its two buckets: back home if it was away, else away
            // from the home it leaves.
            let was_away = src.is_away(way);
            let moved = (src.sig[way], src.val[way]);
            self.buckets[dst_bucket as usize].put(dst_way, moved, !was_away);
            if was_away {
                self.buckets[dst_bucket as usize].unspilled();
            } else {
                self.buckets[src_bucket as usize].spilled();
            }
            let nd = nodes[node];
            if nd.parent == u16::MAX {
                let away = node != 0;
                self.buckets[src_bucket as usize].put(way, (sig, val), away);
                if away {
                    self.buckets[nodes[0].bucket as usize].spilled();
                }
                return;
            }
            dst_bucket = src_bucket;
            dst_way = way;
            way = usize::from(nd.way);
            node = usize::from(nd.parent);
        }
    }

    /// Count of used entries (slow; for tests and invariants).
    #[cfg(test)]
    pub(crate) fn count(&self) -> usize {
        self.buckets
            .iter()
            .map(|b| b.val.iter().filter(|&&v| v != EMPTY).count())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::hash::HashSeed;

    #[test]
    fn bucket_is_one_cache_line() {
        assert_eq!(core::mem::size_of::<Bucket>(), 64);
        assert_eq!(core::mem::align_of::<Bucket>(), 64);
    }

    #[test]
    fn alternate_bucket_is_an_involution() {
        for n in [2usize, 3, 7, 10, 1000, 4096, 400_000] {
            let idx = Index {
                buckets: Vec::new(),
                n: n as u64,
            };
            for b in (0..n as u32).step_by((n / 50).max(1)) {
                for sig in [0u16, 1, 77, 4242, 65535] {
                    let a = idx.alt(b, sig);
                    assert!((a as usize) < n);
                    assert_eq!(idx.alt(a, sig), b, "n={n} b={b} sig={sig}");
                }
            }
        }
    }

    #[test]
    fn fills_to_twice_the_sized_entries_with_displacement() {
        // Sized for 1000 entries at 50% load; push it to 90% of all entries to force cuckoo moves.
        let seed = HashSeed::new(3);
        let mut idx = Index::with_entries(1000);
        let total = idx.bucket_count() * WAYS;
        let target = total * 9 / 10;
        let h = |i: u32| seed.hash2(u64::from(i), 99);
        for i in 0..target as u32 {
            assert!(idx.insert(h(i), i), "insert {i} of {target} failed");
        }
        assert_eq!(idx.count(), target);
        let all: Vec<(u64, u32)> = (0..target as u32).map(|i| (h(i), i)).collect();
        assert_homes(&idx, &all);
        for i in 0..target as u32 {
            assert_eq!(idx.find(h(i), |v| v == i), Some(i), "lost {i}");
        }
        for i in (0..target as u32).step_by(2) {
            assert!(idx.remove(h(i), i));
            assert!(!idx.remove(h(i), i));
        }
        let odd: Vec<(u64, u32)> = all.iter().copied().filter(|(_, i)| i % 2 == 1).collect();
        assert_homes(&idx, &odd);
        for i in 0..target as u32 {
            let want = if i % 2 == 0 { None } else { Some(i) };
            assert_eq!(idx.find(h(i), |v| v == i), want);
        }
        // Refilled past the first fill, so displacement moves entries home and away again.
        for i in (0..target as u32).step_by(2) {
            assert!(idx.insert(h(i), i), "reinsert {i}");
        }
        assert_homes(&idx, &all);
    }

    /// Every live entry `(hash, val)` sits in its home bucket or its alternate, its way's flag
    /// says which, and every bucket's `spill` counts the entries homed there that are away.
    fn assert_homes(idx: &Index, live: &[(u64, u32)]) {
        let mut spill = vec![0u16; idx.buckets.len()];
        for &(hash, val) in live {
            let (b1, sig) = idx.home(hash);
            let b2 = idx.alt(b1, sig);
            let at = |b: u32| {
                let bucket = &idx.buckets[b as usize];
                (0..WAYS).find(|&w| bucket.val[w] == val && bucket.sig[w] == sig)
            };
            match (at(b1), at(b2)) {
                (Some(w), _) => assert!(!idx.buckets[b1 as usize].is_away(w), "{val} is home"),
                (None, Some(w)) => {
                    assert!(idx.buckets[b2 as usize].is_away(w), "{val} is away");
                    spill[b1 as usize] += 1;
                }
                (None, None) => panic!("{val} is in neither of its buckets"),
            }
        }
        for (b, (bucket, want)) in idx.buckets.iter().zip(spill).enumerate() {
            assert_eq!(bucket.spill, want, "bucket {b}'s spill count");
        }
        let flagged: u32 = idx.buckets.iter().map(|b| b.away.count_ones()).sum();
        let away: u32 = idx.buckets.iter().map(|b| u32::from(b.spill)).sum();
        assert_eq!(flagged, away, "one flag per entry away");
    }

    #[test]
    fn a_miss_reads_the_alternate_only_when_something_homed_there_is_away() {
        let seed = HashSeed::new(5);
        let mut idx = Index::with_entries(1000);
        let h = |i: u32| seed.hash2(u64::from(i), 7);
        // At the sized load nearly every entry is home, and most buckets have none away.
        for i in 0..1000 {
            assert!(idx.insert(h(i), i));
        }
        let quiet = idx.buckets.iter().filter(|b| b.spill == 0).count();
        assert!(
            quiet * 10 >= idx.buckets.len() * 9,
            "{quiet} of {}",
            idx.buckets.len()
        );
        // A key homed in a quiet bucket, with an entry of its signature in its alternate that
        // its home does not count: the miss does not read it.
        let probe = (1000u32..)
            .find(|&i| {
                let (b1, sig) = idx.home(h(i));
                idx.buckets[b1 as usize].spill == 0 && idx.alt(b1, sig) != b1
            })
            .unwrap_or_default();
        let (b1, sig) = idx.home(h(probe));
        let b2 = idx.alt(b1, sig);
        let alt = &mut idx.buckets[b2 as usize];
        let w = alt.free_way().unwrap_or_default();
        alt.put(w, (sig, 4242), true);
        // The values a lookup of the probe asks about (it finds none).
        let asked = |idx: &Index| {
            let mut asked = Vec::new();
            let found = idx.find(h(probe), |v| {
                asked.push(v);
                false
            });
            assert_eq!(found, None);
            asked
        };
        assert!(!asked(&idx).contains(&4242));
        // Counted as away from home, it is read.
        idx.buckets[b1 as usize].spilled();
        assert!(asked(&idx).contains(&4242));
    }

    proptest::proptest! {
        /// The signature mask against the per-way comparison it replaced, and `first_match`
        /// with several ways sharing a signature (collisions, a removed entry's stale
        /// signature): the first way, in way order, whose value is in use and matches wins.
        #[test]
        fn signature_mask_is_the_per_way_comparison(
            sigs in proptest::array::uniform10(proptest::sample::select(
                vec![0u16, 1, 0x7fff, 0x8000, 0xffff],
            )),
            used in proptest::array::uniform10(proptest::bool::weighted(0.75)),
            sig in proptest::sample::select(vec![0u16, 1, 2, 0x7fff, 0x8000, 0xffff]),
        ) {
            let mut b = Bucket::EMPTY;
            b.sig = sigs;
            for (w, v) in b.val.iter_mut().enumerate() {
                *v = if used[w] { w as u32 } else { EMPTY };
            }
            let mask = b.sig_mask(sig);
            for w in 0..WAYS {
                proptest::prop_assert_eq!(mask >> w & 1 == 1, b.sig[w] == sig);
            }
            proptest::prop_assert_eq!(mask >> WAYS, 0);
            let want = (0..WAYS).find(|&w| b.sig[w] == sig && used[w] && w % 3 != 0);
            let got = b.first_match(mask, &mut |v| v % 3 != 0);
            proptest::prop_assert_eq!(got, want.map(|w| w as u32));
        }
    }
}
