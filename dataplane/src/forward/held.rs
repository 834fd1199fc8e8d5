//! The SYN proxy's held frames: each worker keeps up to [`HELD`] client segments (data sent
//! with or after the cookie ACK) while their server legs open; see [`super::synproxy`].
//!
//! Fixed memory, taken once when the SYN proxy is first on. Every step is O(1) in the usual
//! case: an index from session slot to entry (a map reserved at 4x the entries, so it never
//! grows or reallocates) and a stack of free entries, instead of walks over all 256 entries,
//! which cost an opening connection some 3,600 instructions. Only when no entry is free does
//! `hold` look for an expired one, and after a look that found none, not again until the
//! oldest entry can have expired.

use std::collections::HashMap;

use rustc_hash::FxBuildHasher;

use super::synproxy::{HELD, HELD_BYTES, HELD_SECONDS};
use crate::frame::Frame;

/// The held frames of one worker.
#[derive(Clone, Debug)]
pub(crate) struct Held {
    buf: Vec<u8>,
    meta: Vec<HeldMeta>,
    /// The entry of each held session: exactly the entries with a frame (`len != 0`).
    index: HashMap<u64, u16, FxBuildHasher>,
    /// The free entries (`len == 0`), each once.
    free: Vec<u16>,
    /// With no entry free, none expires before this time (from the last look).
    expiry: u32,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct HeldMeta {
    /// Frame length; 0: free.
    len: u16,
    v6: bool,
    slot: u32,
    at: u32,
}

fn key(v6: bool, slot: u32) -> u64 {
    u64::from(v6) << 32 | u64::from(slot)
}

impl Held {
    /// An empty pool: it takes its memory when the SYN proxy is first on ([`Self::enable`]).
    pub(crate) fn new() -> Self {
        Self {
            buf: Vec::new(),
            meta: Vec::new(),
            index: HashMap::default(),
            free: Vec::new(),
            expiry: 0,
        }
    }

    /// Allocate the pool, once (a configuration change, not a packet, calls it).
    pub(crate) fn enable(&mut self) {
        if self.meta.is_empty() {
            self.buf = vec![0; HELD * HELD_BYTES];
            self.meta = vec![HeldMeta::default(); HELD];
            // At most HELD keys, a quarter of the reserve: inserts never grow the map, and
            // erases' tombstones are cleaned in place.
            self.index = HashMap::with_capacity_and_hasher(4 * HELD, FxBuildHasher);
            self.free = (0..HELD as u16).rev().collect();
        }
    }

    fn find(&self, v6: bool, slot: u32) -> Option<usize> {
        self.index.get(&key(v6, slot)).map(|&i| usize::from(i))
    }

    /// Free entry `i` and its index key.
    fn release(&mut self, i: usize) {
        let m = &mut self.meta[i];
        if m.len != 0 {
            m.len = 0;
            self.index.remove(&key(m.v6, m.slot));
            self.free.push(i as u16);
        }
    }

    /// An entry for a new frame at `now`: a free one, else an expired one (released).
    fn take_entry(&mut self, now: u32) -> Option<usize> {
        if let Some(i) = self.free.pop() {
            return Some(usize::from(i));
        }
        if now.wrapping_sub(self.expiry) > u32::MAX / 2 {
            return None;
        }
        let expired = |m: &HeldMeta| now.wrapping_sub(m.at) > HELD_SECONDS;
        let Some(i) = self.meta.iter().position(expired) else {
            let oldest = self.meta.iter().map(|m| now.wrapping_sub(m.at)).max();
            self.expiry = now.wrapping_add(HELD_SECONDS + 1 - oldest.unwrap_or(0));
            return None;
        };
        self.release(i);
        self.free.pop().map(usize::from)
    }

    /// Whether session `slot` has a frame held.
    pub(crate) fn has(&self, v6: bool, slot: u32) -> bool {
        self.find(v6, slot).is_some()
    }

    /// Hold a copy of `data` for session `slot` (replacing its frame, if it has one); `false`
    /// when it is too large or every entry is taken and fresh.
    pub(crate) fn hold(&mut self, v6: bool, slot: u32, now: u32, data: &[u8]) -> bool {
        if data.len() > HELD_BYTES || data.is_empty() || self.meta.is_empty() {
            return false;
        }
        let i = match self.find(v6, slot) {
            Some(i) => {
                self.release(i);
                self.free.pop().map_or(i, usize::from)
            }
            None => match self.take_entry(now) {
                Some(i) => i,
                None => return false,
            },
        };
        self.buf[i * HELD_BYTES..i * HELD_BYTES + data.len()].copy_from_slice(data);
        self.meta[i] = HeldMeta {
            len: data.len() as u16,
            v6,
            slot,
            at: now,
        };
        self.index.insert(key(v6, slot), i as u16);
        true
    }

    /// Take session `slot`'s frame into `frame` (replacing its bytes); `false` when none is
    /// held or the frame has no room for it.
    pub(crate) fn take_into<F: Frame>(&mut self, v6: bool, slot: u32, frame: &mut F) -> bool {
        let Some(i) = self.find(v6, slot) else {
            return false;
        };
        let n = usize::from(self.meta[i].len);
        self.release(i);
        let have = frame.len();
        let room = if have >= n {
            frame.trim(have - n)
        } else {
            frame.append(n - have).is_some()
        };
        if !room {
            return false;
        }
        frame
            .data_mut()
            .copy_from_slice(&self.buf[i * HELD_BYTES..i * HELD_BYTES + n]);
        true
    }

    /// Forget session `slot`'s frame.
    pub(crate) fn drop_slot(&mut self, v6: bool, slot: u32) {
        if let Some(i) = self.find(v6, slot) {
            self.release(i);
        }
    }

    /// Make this pool hold what `from` holds, as a clone would for every read: only a held
    /// frame's own bytes are ever read ([`Self::take_into`] reads its length), so only those
    /// are copied into this pool's buffer, not all 384 KiB (the fuzz harness resets a worker
    /// per input: [`crate::worker::Worker::copy_from`]).
    #[cfg(feature = "fuzzing")]
    pub(crate) fn copy_held_from(&mut self, from: &Self) {
        if self.buf.len() != from.buf.len() {
            self.buf.clone_from(&from.buf);
        } else {
            for (i, m) in from.meta.iter().enumerate().filter(|(_, m)| m.len != 0) {
                let at = i * HELD_BYTES..i * HELD_BYTES + usize::from(m.len);
                self.buf[at.clone()].copy_from_slice(&from.buf[at]);
            }
        }
        self.meta.clone_from(&from.meta);
        self.index.clone_from(&from.index);
        self.free.clone_from(&from.free);
        self.expiry = from.expiry;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::frame::VecFrame;

    fn take(p: &mut Held, v6: bool, slot: u32) -> Option<Vec<u8>> {
        let mut f = VecFrame::with_room(b"x", 0, HELD_BYTES);
        p.take_into(v6, slot, &mut f).then(|| f.data().to_vec())
    }

    /// The pool holds HELD frames, refuses one more while all are fresh, and takes a new one
    /// as soon as one is taken or expires; every frame comes back whole, once.
    #[test]
    fn a_full_pool_refuses_until_an_entry_is_taken_or_expires() {
        let mut p = Held::new();
        assert!(!p.hold(false, 1, 0, b"no memory yet"), "not enabled");
        p.enable();
        for s in 0..HELD as u32 {
            assert!(p.hold(s % 2 == 1, s, 0, &s.to_be_bytes()));
        }
        assert!(!p.hold(false, 9999, 1, b"full"));
        assert!(!p.has(false, 9999));
        assert_eq!(take(&mut p, true, 77), Some(77u32.to_be_bytes().to_vec()));
        assert_eq!(take(&mut p, true, 77), None, "taken once");
        assert!(p.hold(false, 9999, 1, b"room again"));
        assert!(!p.hold(false, 10_000, HELD_SECONDS, b"not yet expired"));
        assert!(p.hold(false, 10_000, HELD_SECONDS + 1, b"an expired entry"));
        let kept = (0..HELD as u32).filter(|&s| p.has(s % 2 == 1, s)).count();
        assert_eq!(kept, HELD - 2, "one taken, one expired entry reused");
        assert_eq!(take(&mut p, false, 9999), Some(b"room again".to_vec()));
        assert_eq!(
            take(&mut p, false, 10_000),
            Some(b"an expired entry".to_vec())
        );
    }

    /// Random holds, takes and drops against a model: every frame the model holds is found
    /// with its bytes, a frame leaves only when taken, dropped, replaced or reused after
    /// expiring, and the index names exactly the entries in use.
    #[test]
    fn the_index_finds_exactly_the_frames_held() {
        let mut p = Held::new();
        p.enable();
        let reserved = p.index.capacity();
        let mut model: HashMap<(bool, u32), (Vec<u8>, u32)> = HashMap::new();
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let mut now = 0u32;
        let (mut refused, mut reused) = (0, 0);
        for n in 0..200_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if n % 512 == 0 {
                now += 1;
            }
            let (v6, slot) = (x & 1 == 1, (x >> 8) as u32 % 600);
            match (x >> 40) % 8 {
                0..=3 => {
                    let data = vec![(x >> 48) as u8; 1 + (x >> 20) as usize % 300];
                    let could = model.contains_key(&(v6, slot))
                        || model.len() < HELD
                        || model.values().any(|(_, at)| now - at > HELD_SECONDS);
                    assert_eq!(p.hold(v6, slot, now, &data), could, "op {n}");
                    refused += u32::from(!could);
                    if could {
                        let gone: Vec<_> = model
                            .keys()
                            .filter(|&&(v, s)| (v, s) != (v6, slot) && !p.has(v, s))
                            .copied()
                            .collect();
                        assert!(gone.len() <= 1, "op {n}: one entry reused");
                        reused += gone.len();
                        for k in gone {
                            assert!(
                                now - model[&k].1 > HELD_SECONDS,
                                "op {n}: a fresh frame lost"
                            );
                            model.remove(&k);
                        }
                        model.insert((v6, slot), (data, now));
                    }
                }
                4..=6 => {
                    let want = model.remove(&(v6, slot)).map(|(d, _)| d);
                    assert_eq!(take(&mut p, v6, slot), want, "op {n}");
                }
                _ => {
                    p.drop_slot(v6, slot);
                    model.remove(&(v6, slot));
                }
            }
            assert_eq!(p.index.len(), model.len(), "op {n}");
            assert_eq!(p.free.len() + model.len(), HELD, "op {n}");
            assert_eq!(p.index.capacity(), reserved, "op {n}: the index grew");
        }
        // The run went through both a full pool and expired entries reused.
        assert!(
            refused > 100 && reused > 100,
            "{refused} refused, {reused} reused"
        );
        for (&(v6, slot), (data, _)) in &model {
            assert_eq!(take(&mut p, v6, slot).as_ref(), Some(data));
        }
        assert!(p.meta.iter().all(|m| m.len == 0));
        assert_eq!(p.free.len(), HELD, "every entry free again, once");
    }

    /// A pool reset from another over frames it held itself gives back exactly the other's
    /// frames (and none of its own), whether it had memory already or not.
    #[cfg(feature = "fuzzing")]
    #[test]
    fn a_pool_copied_over_a_used_one_gives_back_only_what_the_original_holds() {
        let mut from = Held::new();
        from.enable();
        assert!(from.hold(false, 1, 10, b"held by the original"));
        assert!(from.hold(true, 2, 10, &[7; 100]));
        let mut used = Held::new();
        used.enable();
        assert!(used.hold(false, 1, 5, &[0xee; HELD_BYTES]));
        assert!(used.hold(false, 3, 5, b"stale"));
        for mut to in [used, Held::new()] {
            to.copy_held_from(&from);
            let mut original = from.clone();
            for (v6, slot) in [(false, 1), (true, 2), (false, 3)] {
                let mut want = VecFrame::with_room(b"x", 0, HELD_BYTES);
                let mut got = VecFrame::with_room(b"x", 0, HELD_BYTES);
                let had = original.take_into(v6, slot, &mut want);
                assert_eq!(to.take_into(v6, slot, &mut got), had);
                assert_eq!(got.data(), want.data());
            }
        }
    }
}
