//! Locality-based schedulers: `lblc` and `lblcr` (kernel `ip_vs_lblc.c`, `ip_vs_lblcr.c`).
//!
//! Both keep a per-worker cache from destination address (its hash, [`PickCtx::dst_hash`]) to
//! backend(s), made when the scheduler's state is made and never resized. Differences from the
//! kernel, forced by a fixed-size, allocation-free, clock-free `pick`:
//!
//! - the cache is direct-mapped with [`LOCALITY_CACHE_SLOTS`] entries; a colliding destination
//!   replaces the entry (the kernel chains entries and expires them after a day or by a periodic
//!   garbage collector when the table is over-full);
//! - an `lblcr` set holds at most [`LBLCR_SET_MAX`] backends; adding to a full set evicts an
//!   ineligible member, else the most loaded one (the kernel evicts the most loaded member once
//!   the set has not changed for `lblcr_expiration`).
//!
//! A cached backend is used when it is eligible (weight > 0, available, under its thresholds) and
//! not "overloaded" in the kernel's locality sense: its active connections exceed its weight while
//! some other backend has fewer active connections than half its weight. Otherwise `wlc` picks a
//! backend, which is cached (`lblc`) or added to the destination's set (`lblcr`).

use super::{PickCtx, SchedState, Scheduler};

/// Entries in each worker's `lblc`/`lblcr` destination cache (the kernel's table has 1024 chains).
pub const LOCALITY_CACHE_SLOTS: usize = 1024;
/// Most backends an `lblcr` destination's set holds.
pub const LBLCR_SET_MAX: usize = 4;

/// One cached destination: its hash and the positions of its backends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct CacheEntry {
    key: u64,
    len: u8,
    set: [u32; LBLCR_SET_MAX],
}

impl CacheEntry {
    /// An unused entry.
    pub(super) const EMPTY: Self = Self {
        key: 0,
        len: 0,
        set: [0; LBLCR_SET_MAX],
    };

    /// A one-backend entry.
    fn single(key: u64, pos: usize) -> Self {
        let mut set = [0; LBLCR_SET_MAX];
        set[0] = to_u32(pos);
        Self { key, len: 1, set }
    }

    /// The positions in the set.
    fn members(&self) -> &[u32] {
        &self.set[..usize::from(self.len).min(LBLCR_SET_MAX)]
    }
}

/// Positions fit in `u32`: a service cannot have more backends than [`BackendIdx`] can number.
///
/// [`BackendIdx`]: crate::types::BackendIdx
fn to_u32(pos: usize) -> u32 {
    u32::try_from(pos).unwrap_or(u32::MAX)
}

/// Return the cache slot of a destination hash.
fn slot(cache_len: usize, key: u64) -> Option<usize> {
    if cache_len == 0 {
        return None;
    }
    // Low bits of a finalised hash; the cache length is a power of two.
    #[allow(clippy::cast_possible_truncation)]
    Some(key as usize & (cache_len - 1))
}

impl Scheduler {
    /// The kernel's locality overload test: `active > weight` while another backend has
    /// `active * 2 < weight`.
    fn locality_overloaded(&self, ctx: &PickCtx<'_>, pos: usize) -> bool {
        let active = u64::from(ctx.load(pos).active);
        if active <= u64::from(self.weight(pos)) {
            return false;
        }
        (0..self.backends.len())
            .any(|d| u64::from(ctx.load(d).active) * 2 < u64::from(self.weight(d)))
    }

    /// `lblc`: the destination's cached backend, else `wlc` (and cache the result).
    pub(super) fn pick_lblc(&self, st: &mut SchedState, ctx: &PickCtx<'_>) -> Option<usize> {
        let key = ctx.dst_hash;
        let slot = slot(st.cache.len(), key);
        if let Some(entry) = slot.and_then(|i| st.cache.get(i).copied()) {
            if entry.len > 0 && entry.key == key {
                let pos = entry.set[0] as usize;
                if self.eligible(st, ctx, pos) && !self.locality_overloaded(ctx, pos) {
                    return Some(pos);
                }
            }
        }
        let pos = self.wlc_position(st, ctx)?;
        if let Some(e) = slot.and_then(|i| st.cache.get_mut(i)) {
            *e = CacheEntry::single(key, pos);
        }
        Some(pos)
    }

    /// `lblcr`: the least loaded eligible backend of the destination's set, else `wlc` (and add
    /// the result to the set).
    pub(super) fn pick_lblcr(&self, st: &mut SchedState, ctx: &PickCtx<'_>) -> Option<usize> {
        let key = ctx.dst_hash;
        let slot = slot(st.cache.len(), key);
        let cached = slot
            .and_then(|i| st.cache.get(i).copied())
            .filter(|e| e.len > 0 && e.key == key);
        let Some(mut entry) = cached else {
            let pos = self.wlc_position(st, ctx)?;
            if let Some(e) = slot.and_then(|i| st.cache.get_mut(i)) {
                *e = CacheEntry::single(key, pos);
            }
            return Some(pos);
        };
        if let Some(pos) = self.set_min(st, ctx, &entry) {
            if !self.locality_overloaded(ctx, pos) {
                return Some(pos);
            }
        }
        let pos = self.wlc_position(st, ctx)?;
        self.set_insert(st, ctx, &mut entry, pos);
        if let Some(e) = slot.and_then(|i| st.cache.get_mut(i)) {
            *e = entry;
        }
        Some(pos)
    }

    /// The kernel's `ip_vs_dest_set_min`: the eligible member with the least overhead / weight.
    fn set_min(&self, st: &mut SchedState, ctx: &PickCtx<'_>, entry: &CacheEntry) -> Option<usize> {
        let mut least: Option<(usize, u64, u64)> = None;
        for &m in entry.members() {
            let pos = m as usize;
            let oh = ctx.load(pos).overhead();
            let w = u64::from(self.weight(pos));
            let better = least.is_none_or(|(_, loh, lw)| {
                u128::from(loh) * u128::from(w) > u128::from(oh) * u128::from(lw)
            });
            if better && self.eligible(st, ctx, pos) {
                least = Some((pos, oh, w));
            }
        }
        least.map(|(pos, _, _)| pos)
    }

    /// Add `pos` to the set unless present; when full, replace an ineligible member, else the
    /// most loaded one (greatest overhead / weight).
    fn set_insert(
        &self,
        st: &mut SchedState,
        ctx: &PickCtx<'_>,
        entry: &mut CacheEntry,
        pos: usize,
    ) {
        let new = to_u32(pos);
        if entry.members().contains(&new) {
            return;
        }
        let len = usize::from(entry.len);
        if len < LBLCR_SET_MAX {
            entry.set[len] = new;
            entry.len += 1;
            return;
        }
        // Victim: (index in set, ineligible, overhead, weight); ineligible beats any load.
        let mut victim: Option<(usize, bool, u64, u64)> = None;
        for (i, &m) in entry.set.iter().enumerate() {
            let p = m as usize;
            let gone = !self.eligible(st, ctx, p);
            let oh = ctx.load(p).overhead();
            let w = u64::from(self.weight(p));
            let worse = victim.is_none_or(|(_, vgone, voh, vw)| {
                (gone && !vgone)
                    || (gone == vgone
                        && u128::from(oh) * u128::from(vw) > u128::from(voh) * u128::from(w))
            });
            if worse {
                victim = Some((i, gone, oh, w));
            }
        }
        if let Some((i, ..)) = victim {
            entry.set[i] = new;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::*;

    fn loads(active: &[u32]) -> Vec<BackendLoad> {
        active
            .iter()
            .map(|&active| BackendLoad {
                active,
                inactive: 0,
            })
            .collect()
    }

    /// The number of the backend picked.
    fn pick(s: &Scheduler, st: &mut SchedState, dst: u64, l: &[BackendLoad]) -> u16 {
        let c = PickCtx {
            dst_hash: dst,
            loads: l,
            ..ctx(0)
        };
        s.pick(st, &c).unwrap().get()
    }

    #[test]
    fn lblc_sticks_to_the_cached_backend() {
        let s = Scheduler::build(SchedulerKind::Lblc, SchedFlags::NONE, &equal(3, 10));
        let mut st = s.new_state();
        // Cold: wlc picks the least loaded (backend 1).
        assert_eq!(pick(&s, &mut st, 7, &loads(&[5, 1, 3])), 1);
        // Warm: stays on 1 although it is no longer the least loaded.
        assert_eq!(pick(&s, &mut st, 7, &loads(&[5, 9, 3])), 1);
        // Another destination: wlc again.
        assert_eq!(pick(&s, &mut st, 8, &loads(&[5, 9, 3])), 2);
        // Locality overload: 11 active > weight 10 and backend 2 has 3*2 < 10: reschedule, cache.
        assert_eq!(pick(&s, &mut st, 7, &loads(&[5, 11, 3])), 2);
        assert_eq!(pick(&s, &mut st, 7, &loads(&[0, 0, 9])), 2);
        // No backend under half its weight: an over-weight cached backend is still used.
        assert_eq!(pick(&s, &mut st, 7, &loads(&[5, 5, 11])), 2);
    }

    #[test]
    fn lblc_reschedules_when_cached_backend_is_over_threshold() {
        let mut b = equal(3, 10);
        let s = Scheduler::build(SchedulerKind::Lblc, SchedFlags::NONE, &b);
        let mut st = s.new_state();
        assert_eq!(pick(&s, &mut st, 7, &loads(&[5, 1, 3])), 1);
        // A cached backend over its connection threshold is skipped.
        b[1].u_threshold = 2;
        let s = Scheduler::build(SchedulerKind::Lblc, SchedFlags::NONE, &b);
        let mut st = s.new_state();
        assert_eq!(pick(&s, &mut st, 7, &loads(&[5, 1, 3])), 1);
        assert_eq!(pick(&s, &mut st, 7, &loads(&[5, 2, 3])), 2);
    }

    #[test]
    fn lblcr_grows_a_set_and_uses_its_least_loaded_member() {
        let s = Scheduler::build(SchedulerKind::Lblcr, SchedFlags::NONE, &equal(4, 10));
        let mut st = s.new_state();
        assert_eq!(pick(&s, &mut st, 7, &loads(&[5, 1, 3, 4])), 1);
        // Member 1 overloaded (11 > 10, backend 3 has 4*2 < 10): wlc adds backend 3.
        assert_eq!(pick(&s, &mut st, 7, &loads(&[5, 11, 6, 4])), 3);
        // Set {1, 3}: the least loaded member, although backend 0 is lighter overall.
        assert_eq!(pick(&s, &mut st, 7, &loads(&[0, 2, 9, 3])), 1);
        assert_eq!(pick(&s, &mut st, 7, &loads(&[0, 4, 9, 3])), 3);
    }

    #[test]
    fn lblcr_set_is_bounded() {
        let s = Scheduler::build(SchedulerKind::Lblcr, SchedFlags::NONE, &equal(8, 2));
        let mut st = s.new_state();
        // Each round overloads every member so wlc brings in a new backend.
        for round in 0..8 {
            let l: Vec<_> = (0..8)
                .map(|i| BackendLoad {
                    active: if i == round { 0 } else { 3 },
                    inactive: 0,
                })
                .collect();
            let got = pick(&s, &mut st, 7, &l);
            assert_eq!(usize::from(got), round);
        }
        let slot = 7 & (LOCALITY_CACHE_SLOTS - 1);
        assert_eq!(usize::from(st.cache[slot].len), LBLCR_SET_MAX);
    }
}
