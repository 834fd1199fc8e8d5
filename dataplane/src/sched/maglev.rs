//! `mh`: weighted Maglev hashing (Eisenbud et al., NSDI 2016, §3.4; Katran `MaglevHashV2.cpp`).
//!
//! # Table
//!
//! The table has `M` slots, `M` prime (so every `skip` is coprime to `M` and each permutation
//! visits every slot): [`DEFAULT_MAGLEV_TABLE_SIZE`] = 65537, or the next prime `>= 100 * N`
//! for `N` configured backends when that is larger (the paper's bound for <= 1 % imbalance).
//! `M` depends on the configured count, not on health, so a backend going down never resizes
//! (and so reshuffles) the table.
//!
//! Only backends with weight > 0 that are available get slots. They are sorted by
//! [`SchedBackend::identity`] (then id), so the table depends on the set, not the config order.
//! Backend `i` prefers slots `(offset_i + j * skip_i) mod M` for `j = 0, 1, ...` with
//! `offset = h(SEED_MAGLEV_OFFSET, identity) mod M` and
//! `skip = h(SEED_MAGLEV_SKIP, identity) mod (M - 1) + 1`. Backends take turns claiming their
//! next preferred free slot until all `M` are full (no holes). Weights follow Katran's V2: in each
//! round a backend adds its weight to a counter and takes a turn when the counter reaches the
//! maximum weight (then subtracts it), so turns, and hence slots, are proportional to weight.
//!
//! # Lookup
//!
//! `slot = key mod M` with `key` the client address hash, mixed with the source port under
//! `mh-port`. If that slot's backend is over its thresholds, `pick` returns `None`, or with
//! `mh-fallback` rehashes `mix(key, attempt) mod M` for `attempt = 1, 2, ...` until an eligible
//! backend turns up (as the kernel's `ip_vs_mh_get_fallback`).

use super::{hash, BackendIdx, PickCtx, SchedBackend, SchedFlag, SchedState, Scheduler};

/// Default Maglev table size: the paper's and Katran's 65537 (prime, 2^16 + 1).
pub const DEFAULT_MAGLEV_TABLE_SIZE: u32 = 65537;

/// Minimum slots per configured backend (the paper: `M > 100 * N` for <= 1 % imbalance).
const SLOTS_PER_BACKEND: u64 = 100;

/// Return the table size used for `backends` configured backends and a requested minimum: the
/// smallest prime `>= max(requested, 100 * backends, 2)`.
pub fn maglev_table_size(backends: usize, requested: u32) -> u32 {
    let n = u64::try_from(backends).unwrap_or(u64::MAX);
    let min = u64::from(requested).max(n.saturating_mul(SLOTS_PER_BACKEND));
    // BackendIdx bounds a service to 65536 backends, so this is < 6.6 M and fits.
    u32::try_from(hash::next_prime(min.min(u64::from(u32::MAX) / 2))).unwrap_or(u32::MAX)
}

/// Count the slots whose backend differs between two tables (all slots if the sizes differ).
pub fn changed_slots(old: &[BackendIdx], new: &[BackendIdx]) -> usize {
    if old.len() != new.len() {
        return old.len().max(new.len());
    }
    old.iter().zip(new).filter(|(a, b)| a != b).count()
}

/// Build the table of `size` slots (prime) from the eligible backends; empty if there are none.
pub(super) fn build(backends: &[SchedBackend], size: u32) -> Vec<BackendIdx> {
    debug_assert!(hash::is_prime(u64::from(size)));
    let mut members: Vec<(u64, BackendIdx, u64)> = backends
        .iter()
        .filter(|b| b.weight > 0 && b.available)
        .map(|b| (b.identity, b.id, u64::from(b.weight)))
        .collect();
    members.sort_unstable();
    members.dedup_by_key(|m| (m.0, m.1));
    match members.as_slice() {
        [] => return Vec::new(),
        [(_, id, _)] => return vec![*id; size as usize],
        _ => {}
    }
    let m = u64::from(size);
    // Per member: (next preferred slot, skip, weight counter).
    let mut cursor: Vec<(u64, u64, u64)> = members
        .iter()
        .map(|&(identity, _, _)| {
            let offset = hash::hash_u64(hash::SEED_MAGLEV_OFFSET, identity) % m;
            let skip = hash::hash_u64(hash::SEED_MAGLEV_SKIP, identity) % (m - 1) + 1;
            (offset, skip, 0)
        })
        .collect();
    let max_weight = members.iter().map(|m| m.2).max().unwrap_or(1);
    const EMPTY: u32 = u32::MAX;
    let mut owner = vec![EMPTY; size as usize];
    let mut filled = 0usize;
    loop {
        for (i, c) in cursor.iter_mut().enumerate() {
            c.2 += members[i].2;
            if c.2 < max_weight {
                continue;
            }
            c.2 -= max_weight;
            // The permutation visits every slot and at least one is free, so this ends.
            while owner[c.0 as usize] != EMPTY {
                c.0 = (c.0 + c.1) % m;
            }
            owner[c.0 as usize] = u32::try_from(i).unwrap_or(EMPTY);
            c.0 = (c.0 + c.1) % m;
            filled += 1;
            if filled == owner.len() {
                return owner.into_iter().map(|i| members[i as usize].1).collect();
            }
        }
    }
}

impl Scheduler {
    /// `mh`: the Maglev slot of the client (and port), with `mh-fallback` rehashing.
    pub(super) fn pick_mh(&self, st: &mut SchedState, ctx: &PickCtx<'_>) -> Option<usize> {
        let m = self.maglev.len() as u64;
        if m == 0 {
            return None;
        }
        let key = if self.flags.contains(SchedFlag::MhPort) {
            hash::mix(ctx.src_hash, u64::from(ctx.src_port))
        } else {
            ctx.src_hash
        };
        let pos = self.position_of(self.maglev[(key % m) as usize])?;
        // Table members have weight > 0 and are available: only thresholds can refuse them.
        if !self.has_thresholds || self.eligible(st, ctx, pos) {
            return Some(pos);
        }
        if !self.flags.contains(SchedFlag::MhFallback) {
            return None;
        }
        if !(0..self.backends.len()).any(|p| self.eligible(st, ctx, p)) {
            return None;
        }
        for attempt in 1..m {
            let slot = (hash::mix(key, attempt) % m) as usize;
            if let Some(pos) = self.position_of(self.maglev[slot]) {
                if self.eligible(st, ctx, pos) {
                    return Some(pos);
                }
            }
        }
        None
    }

    /// Map a backend id from the table to its position in the list.
    #[inline]
    fn position_of(&self, id: BackendIdx) -> Option<usize> {
        let i = self.id_pos.binary_search_by_key(&id, |&(id, _)| id).ok()?;
        Some(self.id_pos[i].1 as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::*;
    use super::build;

    fn mh(backends: &[SchedBackend]) -> Scheduler {
        Scheduler::build(SchedulerKind::Mh, SchedFlags::NONE, backends)
    }

    fn shares(table: &[BackendIdx], n: usize) -> Vec<usize> {
        let mut c = vec![0; n];
        for &id in table {
            c[id.index()] += 1;
        }
        c
    }

    #[test]
    fn table_size_is_prime_and_at_least_100_per_backend() {
        assert_eq!(maglev_table_size(0, DEFAULT_MAGLEV_TABLE_SIZE), 65537);
        assert_eq!(maglev_table_size(655, DEFAULT_MAGLEV_TABLE_SIZE), 65537);
        assert_eq!(maglev_table_size(656, DEFAULT_MAGLEV_TABLE_SIZE), 65609);
        assert_eq!(maglev_table_size(3, 250), 307);
        assert_eq!(maglev_table_size(1, 4093), 4093);
        for n in [1, 2, 10, 100, 655, 656, 1000, 5000] {
            let m = maglev_table_size(n, DEFAULT_MAGLEV_TABLE_SIZE);
            assert!(hash::is_prime(u64::from(m)), "{m}");
            assert!(u64::from(m) >= 100 * n as u64, "{n}: {m}");
        }
        let s = mh(&equal(1000, 1));
        let t = s.table().unwrap();
        assert_eq!(t.len(), 100_003);
        assert!(!t.is_empty());
    }

    #[test]
    fn empty_and_all_zero_weight_give_an_empty_table() {
        assert_eq!(mh(&[]).table(), Some(&[][..]));
        assert_eq!(mh(&equal(3, 0)).table(), Some(&[][..]));
        let rr = Scheduler::build(SchedulerKind::Rr, SchedFlags::NONE, &equal(3, 1));
        assert_eq!(rr.table(), None);
    }

    #[test]
    fn single_backend_fills_the_table() {
        let mut b = equal(3, 0);
        b[1].weight = 4;
        let s = mh(&b);
        let t = s.table().unwrap();
        assert_eq!(t.len(), 65537);
        assert!(t.iter().all(|&id| id == BackendIdx::new(1)));
    }

    #[test]
    fn no_holes_and_zero_weight_gets_no_slot() {
        let mut b = equal(5, 1);
        b[3].weight = 0;
        b[4].available = false;
        let t = build(&b, 1009);
        assert_eq!(t.len(), 1009);
        let c = shares(&t, 5);
        assert_eq!(c[3], 0);
        assert_eq!(c[4], 0);
        assert_eq!(c.iter().sum::<usize>(), 1009);
        assert!(c[..3].iter().all(|n| (336..=337).contains(n)), "{c:?}");
    }

    #[test]
    fn equal_weights_balance_within_10_percent() {
        let s = mh(&equal(100, 1));
        let t = s.table().unwrap();
        let c = shares(t, 100);
        let ideal = t.len() as f64 / 100.0;
        for (id, &n) in c.iter().enumerate() {
            let dev = (n as f64 - ideal).abs() / ideal;
            assert!(dev <= 0.10, "backend {id}: {n} slots vs {ideal}");
        }
    }

    #[test]
    fn weights_1_2_3_balance_within_10_percent() {
        let b = [backend(0, 1), backend(1, 2), backend(2, 3)];
        let s = mh(&b);
        let t = s.table().unwrap();
        let c = shares(t, 3);
        for (i, &n) in c.iter().enumerate() {
            let want = t.len() as f64 * (i + 1) as f64 / 6.0;
            let dev = (n as f64 - want).abs() / want;
            assert!(dev <= 0.10, "backend {i}: {n} slots vs {want}");
        }
        // Picks follow the table.
        let h = histogram(&s, 60_000);
        for (i, &n) in h.iter().enumerate() {
            let want = 60_000.0 * (i + 1) as f64 / 6.0;
            assert!((n as f64 - want).abs() / want <= 0.10, "{h:?}");
        }
    }

    #[test]
    fn table_is_independent_of_backend_order() {
        let b: Vec<_> = (0..20).map(|i| backend(i, 1 + (i as u32 % 4))).collect();
        let reference = mh(&b);
        let mut shuffled = b.clone();
        // A fixed pseudo-random permutation (Fisher-Yates with a hash as the random source).
        for i in (1..shuffled.len()).rev() {
            let j = (hash::hash_u64(9, i as u64) % (i as u64 + 1)) as usize;
            shuffled.swap(i, j);
        }
        assert_ne!(shuffled, b);
        let s = mh(&shuffled);
        assert_eq!(s.table(), reference.table());
        // And picks map to the same backend ids.
        let (mut a, mut z) = (reference.new_state(), s.new_state());
        for i in 0..1000 {
            assert_eq!(reference.pick(&mut a, &ctx(i)), s.pick(&mut z, &ctx(i)));
        }
        let mut reversed = b.clone();
        reversed.reverse();
        assert_eq!(mh(&reversed).table(), reference.table());
    }

    /// Slots that belonged to surviving backends in `old` and changed owner in `new`.
    fn collateral(
        old: &[BackendIdx],
        new: &[BackendIdx],
        survivor: impl Fn(BackendIdx) -> bool,
    ) -> (usize, usize) {
        let owned = old.iter().filter(|&&id| survivor(id)).count();
        let moved = old
            .iter()
            .zip(new)
            .filter(|(o, n)| survivor(**o) && o != n)
            .count();
        (moved, owned)
    }

    #[test]
    fn removing_one_of_100_moves_at_most_2_percent_of_survivors() {
        let b = equal(100, 1);
        let old = mh(&b);
        let mut fewer = b.clone();
        fewer.remove(37);
        let new = mh(&fewer);
        let (o, n) = (old.table().unwrap(), new.table().unwrap());
        assert_eq!(o.len(), 65537);
        assert_eq!(n.len(), 65537);
        let (moved, owned) = collateral(o, n, |id| id != BackendIdx::new(37));
        let pct = 100.0 * moved as f64 / owned as f64;
        println!(
            "maglev M=65537, remove 1 of 100: {moved} of {owned} surviving slots moved ({pct:.3} %), {} slots changed in all",
            changed_slots(o, n)
        );
        assert!(pct <= 2.0, "{pct}");
        // The removed backend's slots all went to others.
        assert!(!n.contains(&BackendIdx::new(37)));
        // Marking it unavailable is the same as removing it.
        let mut down = b.clone();
        down[37].available = false;
        assert_eq!(mh(&down).table(), new.table());
    }

    #[test]
    fn adding_one_to_100_moves_at_most_2_percent_of_existing() {
        let b = equal(101, 1);
        let old = mh(&b[..100]);
        let new = mh(&b);
        let (o, n) = (old.table().unwrap(), new.table().unwrap());
        let (moved_total, owned) = collateral(o, n, |_| true);
        // Slots the new backend took are the intended move; the rest is collateral.
        let taken = n.iter().filter(|&&id| id == BackendIdx::new(100)).count();
        let collateral = moved_total - taken;
        let pct = 100.0 * collateral as f64 / owned as f64;
        println!(
            "maglev M=65537, add 1 to 100: new backend took {taken} slots, {collateral} other slots moved ({pct:.3} %)"
        );
        assert!(pct <= 2.0, "{pct}");
    }

    #[test]
    fn changed_slots_counts_differences() {
        let ids = |n: &[u16]| n.iter().map(|&i| BackendIdx::new(i)).collect::<Vec<_>>();
        assert_eq!(changed_slots(&ids(&[1, 2, 3]), &ids(&[1, 2, 3])), 0);
        assert_eq!(changed_slots(&ids(&[1, 2, 3]), &ids(&[1, 3, 3])), 1);
        assert_eq!(changed_slots(&ids(&[1, 2, 3]), &ids(&[1, 2])), 3);
        assert_eq!(changed_slots(&[], &[]), 0);
    }

    #[test]
    fn golden_table() {
        // Pinned: an accidental change to the hash, the permutation or the weighting changes
        // these and moves flows across an ECMP group mid-upgrade.
        let b = [backend(0, 1), backend(1, 2), backend(2, 3), backend(3, 1)];
        let t = build(&b, 401);
        let digest = t
            .iter()
            .fold(0u64, |h, &id| hash::mix(h, u64::from(id.get())));
        assert_eq!(
            t[..16].iter().map(|id| id.get()).collect::<Vec<_>>(),
            GOLDEN_PREFIX
        );
        assert_eq!(digest, GOLDEN_DIGEST);
        let s = mh(&b);
        let full = s.table().unwrap();
        let digest = full
            .iter()
            .fold(0u64, |h, &id| hash::mix(h, u64::from(id.get())));
        assert_eq!(digest, GOLDEN_DIGEST_65537);
    }

    const GOLDEN_PREFIX: &[u16] = &[1, 2, 2, 3, 1, 2, 3, 2, 1, 3, 1, 2, 3, 0, 1, 3];
    const GOLDEN_DIGEST: u64 = 0x4d57_1d23_2ec6_43aa;
    const GOLDEN_DIGEST_65537: u64 = 0xbf84_c067_301d_71d8;

    #[test]
    fn mh_port_spreads_one_client_over_backends() {
        let flags = SchedFlags::new(SchedulerKind::Mh, &[SchedFlag::MhPort]).unwrap();
        let s = Scheduler::build(SchedulerKind::Mh, flags, &equal(10, 1));
        let plain = mh(&equal(10, 1));
        let mut st = s.new_state();
        let mut a = std::collections::HashSet::new();
        let mut b = std::collections::HashSet::new();
        for port in 0..200 {
            let c = PickCtx {
                src_port: port,
                ..ctx(5)
            };
            a.insert(s.pick(&mut st, &c).unwrap());
            b.insert(plain.pick(&mut st, &c).unwrap());
        }
        assert!(a.len() >= 8, "{a:?}");
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn mh_fallback_rehashes_away_from_overloaded_backends() {
        let mut b = equal(10, 1);
        b[4].u_threshold = 1;
        let mut loads = vec![BackendLoad::default(); 10];
        loads[4].active = 1;
        let plain = mh(&b);
        let flags = SchedFlags::new(SchedulerKind::Mh, &[SchedFlag::MhFallback]).unwrap();
        let fb = Scheduler::build(SchedulerKind::Mh, flags, &b);
        let (mut sp, mut sf) = (plain.new_state(), fb.new_state());
        let (mut none, mut diverted) = (0, 0);
        for i in 0..2000 {
            let c = PickCtx {
                loads: &loads,
                ..ctx(i)
            };
            let idle = PickCtx { loads: &[], ..c };
            let home = plain.pick(&mut plain.new_state(), &idle).unwrap();
            let p = plain.pick(&mut sp, &c);
            let f = fb.pick(&mut sf, &c).unwrap();
            assert_ne!(f, BackendIdx::new(4));
            if home == BackendIdx::new(4) {
                assert_eq!(p, None);
                none += 1;
                diverted += 1;
            } else {
                assert_eq!(p, Some(home));
                assert_eq!(f, home);
            }
        }
        assert!(none > 100 && diverted == none);
        // Everyone overloaded: None, without spinning through the whole table.
        let mut all = equal(10, 1);
        all.iter_mut().for_each(|b| b.u_threshold = 1);
        let fb = Scheduler::build(SchedulerKind::Mh, flags, &all);
        let busy = vec![
            BackendLoad {
                active: 1,
                inactive: 0
            };
            10
        ];
        let c = PickCtx {
            loads: &busy,
            ..ctx(0)
        };
        assert_eq!(fb.pick(&mut fb.new_state(), &c), None);
    }
}
