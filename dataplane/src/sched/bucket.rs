//! Hash-bucket schedulers: `sh` (source hashing) and `dh` (destination hashing).
//!
//! As the kernel's `ip_vs_sh.c` / `ip_vs_dh.c`: a table of [`HASH_BUCKETS`] (`1 << 8`) buckets
//! filled by walking the backends and giving each `weight` consecutive buckets per turn, then
//! looked up by the client address hash (`sh`, with the source port under `sh-port`) or the
//! destination address hash (`dh`). Two deliberate differences, both for ECMP groups and weight
//! ratios:
//!
//! - the walk is in [`SchedBackend::identity`] order, not config order, so the table depends only
//!   on the set of backends;
//! - weights are divided by their gcd first (the kernel hands out raw weights, so 100:100 gives
//!   156:100 buckets; here it gives 128:128).
//!
//! Backends with weight 0 get no bucket. Unavailable (unhealthy) backends **keep** their buckets,
//! so a health flap does not remap other clients; as in the kernel, a flow hashing to a backend
//! that is not eligible gets `None`, or with `sh-fallback` the next eligible bucket's backend.
//! `dh` has no fallback flag.

use super::{
    hash, BackendIdx, PickCtx, SchedBackend, SchedFlag, SchedState, Scheduler, HASH_BUCKETS,
};

/// Build the bucket table (backend positions), empty when no backend has weight > 0.
pub(super) fn build(backends: &[SchedBackend]) -> Box<[u32]> {
    let mut order: Vec<(u64, BackendIdx, u32, u32)> = Vec::new();
    let mut g = 0;
    for (pos, b) in backends.iter().enumerate() {
        if b.weight > 0 {
            let pos = u32::try_from(pos).unwrap_or(u32::MAX);
            order.push((b.identity, b.id, pos, b.weight));
            g = super::weighted::gcd(g, b.weight);
        }
    }
    if order.is_empty() {
        return Box::default();
    }
    order.sort_unstable();
    let mut table = Vec::with_capacity(HASH_BUCKETS);
    let mut turn = order.iter().cycle();
    while table.len() < HASH_BUCKETS {
        let Some(&(_, _, pos, weight)) = turn.next() else {
            break;
        };
        let share = usize::try_from(weight / g).unwrap_or(HASH_BUCKETS);
        let take = share.min(HASH_BUCKETS - table.len());
        table.extend(core::iter::repeat_n(pos, take));
    }
    table.into()
}

/// Return the bucket of a hash.
#[inline]
fn bucket_of(key: u64) -> usize {
    // Low bits of a finalised hash.
    #[allow(clippy::cast_possible_truncation)]
    let b = key as usize;
    b % HASH_BUCKETS
}

impl Scheduler {
    /// `sh`: the client's bucket, or with `sh-fallback` the next eligible one.
    pub(super) fn pick_sh(&self, st: &mut SchedState, ctx: &PickCtx<'_>) -> Option<usize> {
        let key = if self.flags.contains(SchedFlag::ShPort) {
            hash::mix(ctx.src_hash, u64::from(ctx.src_port))
        } else {
            ctx.src_hash
        };
        let first = bucket_of(key);
        let pos = *self.buckets.get(first)? as usize;
        if self.eligible(st, ctx, pos) {
            return Some(pos);
        }
        if !self.flags.contains(SchedFlag::ShFallback) {
            return None;
        }
        for step in 1..self.buckets.len() {
            let pos = self.buckets[(first + step) % self.buckets.len()] as usize;
            if self.eligible(st, ctx, pos) {
                return Some(pos);
            }
        }
        None
    }

    /// `dh`: the destination's bucket if its backend is eligible.
    pub(super) fn pick_dh(&self, st: &mut SchedState, ctx: &PickCtx<'_>) -> Option<usize> {
        let pos = *self.buckets.get(bucket_of(ctx.dst_hash))? as usize;
        self.eligible(st, ctx, pos).then_some(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::*;
    use super::build;

    fn flags(list: &str) -> SchedFlags {
        SchedFlags::parse(SchedulerKind::Sh, list).unwrap()
    }

    #[test]
    fn same_address_same_backend_and_addresses_spread() {
        for kind in [SchedulerKind::Sh, SchedulerKind::Dh] {
            let s = Scheduler::build(kind, SchedFlags::NONE, &equal(4, 1));
            let mut st = s.new_state();
            let mut seen = [0usize; 4];
            for i in 0..4000 {
                let a = s.pick(&mut st, &ctx(i)).unwrap();
                // Other ports, other loads, other order of calls: same answer.
                let c = PickCtx {
                    src_port: 999,
                    ..ctx(i)
                };
                assert_eq!(s.pick(&mut st, &c), Some(a), "{kind}");
                seen[a.index()] += 1;
            }
            for n in seen {
                assert!((800..1200).contains(&n), "{kind}: {seen:?}");
            }
        }
    }

    #[test]
    fn sh_hashes_the_source_and_dh_the_destination() {
        let sh = Scheduler::build(SchedulerKind::Sh, SchedFlags::NONE, &equal(8, 1));
        let dh = Scheduler::build(SchedulerKind::Dh, SchedFlags::NONE, &equal(8, 1));
        let mut st = sh.new_state();
        let (mut sh_moved, mut dh_moved) = (0, 0);
        for i in 0..200 {
            let base = ctx(i);
            let other_dst = PickCtx {
                dst_hash: base.dst_hash ^ 0x5555,
                ..base
            };
            let other_src = PickCtx {
                src_hash: base.src_hash ^ 0x5555,
                ..base
            };
            assert_eq!(sh.pick(&mut st, &base), sh.pick(&mut st, &other_dst));
            assert_eq!(dh.pick(&mut st, &base), dh.pick(&mut st, &other_src));
            sh_moved += usize::from(sh.pick(&mut st, &base) != sh.pick(&mut st, &other_src));
            dh_moved += usize::from(dh.pick(&mut st, &base) != dh.pick(&mut st, &other_dst));
        }
        assert!(sh_moved > 100 && dh_moved > 100);
    }

    #[test]
    fn sh_port_includes_the_source_port() {
        let s = Scheduler::build(SchedulerKind::Sh, flags("sh-port"), &equal(8, 1));
        let mut st = s.new_state();
        let distinct: std::collections::HashSet<_> = (0..64)
            .map(|port| {
                let c = PickCtx {
                    src_port: port,
                    ..ctx(1)
                };
                s.pick(&mut st, &c).unwrap()
            })
            .collect();
        assert!(distinct.len() > 4, "{distinct:?}");
    }

    #[test]
    fn buckets_follow_weights_and_identity_order() {
        let b = [backend(0, 1), backend(1, 2), backend(2, 5)];
        let t = build(&b);
        assert_eq!(t.len(), HASH_BUCKETS);
        let count = |p| t.iter().filter(|&&x| x == p).count();
        // 256 = 32 turns of 8 buckets: 32, 64, 160.
        assert_eq!([count(0), count(1), count(2)], [32, 64, 160]);
        // gcd: 100:100 splits evenly.
        let t = build(&[backend(0, 100), backend(1, 100)]);
        assert_eq!(t.iter().filter(|&&x| x == 0).count(), 128);
        // Order independence: reversing the list gives the same backend per bucket.
        let mut r = b;
        r.reverse();
        let rt = build(&r);
        let ids = |t: &[u32], l: &[SchedBackend]| -> Vec<_> {
            t.iter().map(|&p| l[p as usize].id).collect()
        };
        assert_eq!(ids(&build(&b), &b), ids(&rt, &r));
    }

    #[test]
    fn sh_without_fallback_drops_flows_of_an_unhealthy_backend() {
        let mut b = equal(4, 1);
        b[2].available = false;
        let plain = Scheduler::build(SchedulerKind::Sh, SchedFlags::NONE, &b);
        let fallback = Scheduler::build(SchedulerKind::Sh, flags("sh-fallback"), &b);
        let healthy = Scheduler::build(SchedulerKind::Sh, SchedFlags::NONE, &equal(4, 1));
        let mut st = plain.new_state();
        let mut none = 0;
        for i in 0..1000 {
            let c = ctx(i);
            let before = healthy.pick(&mut st, &c).unwrap();
            let p = plain.pick(&mut st, &c);
            let f = fallback.pick(&mut st, &c).unwrap();
            assert_ne!(f, BackendIdx::new(2));
            if before == BackendIdx::new(2) {
                assert_eq!(p, None);
                none += 1;
            } else {
                // Clients of healthy backends are not remapped, with or without fallback.
                assert_eq!(p, Some(before));
                assert_eq!(f, before);
            }
        }
        assert!(none > 150, "{none}");
    }

    #[test]
    fn dh_has_no_fallback() {
        let mut b = equal(2, 1);
        b[0].available = false;
        let s = Scheduler::build(SchedulerKind::Dh, SchedFlags::NONE, &b);
        let mut st = s.new_state();
        let picks: Vec<_> = (0..100).map(|i| s.pick(&mut st, &ctx(i))).collect();
        assert!(picks.contains(&None) && picks.contains(&Some(BackendIdx::new(1))));
        assert!(!picks.contains(&Some(BackendIdx::new(0))));
    }
}
