//! The least-connection family: `lc`, `wlc`, `sed`, `nq`.
//!
//! Loads come from [`PickCtx::loads`] (per worker unless the caller passes summed counts). The
//! comparisons are the kernel's, cross-multiplied so no division is needed and ties go to the
//! backend listed first:
//!
//! - `lc` (`ip_vs_lc.c`): least `overhead = active * 256 + inactive`;
//! - `wlc` (`ip_vs_wlc.c`): least `overhead / weight`, i.e. pick `d` over `least` when
//!   `overhead(least) * weight(d) > overhead(d) * weight(least)`;
//! - `sed` (`ip_vs_sed.c`): as `wlc` with `overhead = active + 1`;
//! - `nq` (`ip_vs_nq.c`): the first backend with no active connection, else as `sed`.

use super::{PickCtx, SchedState, Scheduler};

impl Scheduler {
    /// `lc`: least `active * 256 + inactive`.
    pub(super) fn pick_lc(&self, st: &mut SchedState, ctx: &PickCtx<'_>) -> Option<usize> {
        let mut least: Option<(usize, u64)> = None;
        for pos in 0..self.backends.len() {
            let oh = ctx.load(pos).overhead();
            if least.is_none_or(|(_, loh)| oh < loh) && self.eligible(st, ctx, pos) {
                least = Some((pos, oh));
            }
        }
        least.map(|(pos, _)| pos)
    }

    /// `wlc`: least `(active * 256 + inactive) / weight`.
    pub(super) fn pick_wlc(&self, st: &mut SchedState, ctx: &PickCtx<'_>) -> Option<usize> {
        self.least_weighted(st, ctx, |load| load.overhead(), false)
    }

    /// `sed`: least `(active + 1) / weight`.
    pub(super) fn pick_sed(&self, st: &mut SchedState, ctx: &PickCtx<'_>) -> Option<usize> {
        self.least_weighted(st, ctx, |load| u64::from(load.active) + 1, false)
    }

    /// `nq`: the first idle backend, else least `(active + 1) / weight`.
    pub(super) fn pick_nq(&self, st: &mut SchedState, ctx: &PickCtx<'_>) -> Option<usize> {
        self.least_weighted(st, ctx, |load| u64::from(load.active) + 1, true)
    }

    /// Return the eligible backend with the least `overhead / weight` (first on ties); with
    /// `idle_first`, return the first eligible backend with no active connection at once.
    fn least_weighted(
        &self,
        st: &mut SchedState,
        ctx: &PickCtx<'_>,
        overhead: impl Fn(super::BackendLoad) -> u64,
        idle_first: bool,
    ) -> Option<usize> {
        // (position, overhead, weight)
        let mut least: Option<(usize, u64, u64)> = None;
        for pos in 0..self.backends.len() {
            let load = ctx.load(pos);
            let oh = overhead(load);
            let w = u64::from(self.weight(pos));
            // u128: overhead < 2^41 and weight < 2^32, so the products cannot overflow.
            let better = least.is_none_or(|(_, loh, lw)| {
                u128::from(loh) * u128::from(w) > u128::from(oh) * u128::from(lw)
            });
            let idle = idle_first && load.active == 0;
            if (better || idle) && self.eligible(st, ctx, pos) {
                if idle {
                    return Some(pos);
                }
                least = Some((pos, oh, w));
            }
        }
        least.map(|(pos, _, _)| pos)
    }

    /// `wlc` over the whole list: the fallback scheduler of `lblc` and `lblcr`.
    pub(super) fn wlc_position(&self, st: &mut SchedState, ctx: &PickCtx<'_>) -> Option<usize> {
        self.pick_wlc(st, ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::*;

    /// The number of the backend picked.
    fn pick(kind: SchedulerKind, weights: &[u32], loads: &[(u32, u32)]) -> Option<u16> {
        let b: Vec<_> = weights
            .iter()
            .enumerate()
            .map(|(i, &w)| backend(i, w))
            .collect();
        let loads: Vec<_> = loads
            .iter()
            .map(|&(active, inactive)| BackendLoad { active, inactive })
            .collect();
        let s = Scheduler::build(kind, SchedFlags::NONE, &b);
        let mut st = s.new_state();
        let c = PickCtx {
            loads: &loads,
            ..ctx(0)
        };
        s.pick(&mut st, &c).map(BackendIdx::get)
    }

    #[test]
    fn lc_uses_active_times_256_plus_inactive() {
        use SchedulerKind::Lc;
        // 1 active (256) beats 300 inactive? No: 256 < 300.
        assert_eq!(pick(Lc, &[1, 1], &[(0, 300), (1, 0)]), Some(1));
        assert_eq!(pick(Lc, &[1, 1], &[(0, 200), (1, 0)]), Some(0));
        // Weights are ignored except for 0.
        assert_eq!(pick(Lc, &[1, 100], &[(1, 0), (2, 0)]), Some(0));
        assert_eq!(pick(Lc, &[0, 100], &[(0, 0), (2, 0)]), Some(1));
        // Ties go to the first listed.
        assert_eq!(pick(Lc, &[1, 1, 1], &[(3, 1), (2, 0), (2, 0)]), Some(1));
    }

    #[test]
    fn wlc_divides_overhead_by_weight() {
        use SchedulerKind::Wlc;
        // 10*256/1 = 2560 vs 25*256/3 = 2133: the second.
        assert_eq!(pick(Wlc, &[1, 3], &[(10, 0), (25, 0)]), Some(1));
        // 10*256/1 = 2560 vs 31*256/3 = 2645: the first.
        assert_eq!(pick(Wlc, &[1, 3], &[(10, 0), (31, 0)]), Some(0));
        // Exact tie (10/1 == 30/3): first listed.
        assert_eq!(pick(Wlc, &[1, 3], &[(10, 0), (30, 0)]), Some(0));
        // Inactive counts as 1/256 of an active connection.
        assert_eq!(pick(Wlc, &[2, 2], &[(1, 5), (1, 4)]), Some(1));
        // Idle backends: weight does not matter (0 overhead).
        assert_eq!(pick(Wlc, &[1, 9], &[(0, 0), (0, 0)]), Some(0));
    }

    #[test]
    fn sed_uses_active_plus_one_over_weight() {
        use SchedulerKind::Sed;
        // (0+1)/1 = 1 vs (1+1)/3 = 0.67: the second, although the first is idle.
        assert_eq!(pick(Sed, &[1, 3], &[(0, 0), (1, 0)]), Some(1));
        // (0+1)/1 = 1 vs (3+1)/3 = 1.33: the first.
        assert_eq!(pick(Sed, &[1, 3], &[(0, 0), (3, 0)]), Some(0));
        // Inactive connections are ignored.
        assert_eq!(pick(Sed, &[1, 1], &[(1, 0), (1, 1000)]), Some(0));
        assert_eq!(pick(Sed, &[1, 1], &[(1, 1000), (0, 0)]), Some(1));
    }

    #[test]
    fn nq_prefers_an_idle_backend_else_sed() {
        use SchedulerKind::Nq;
        // Where sed would pick the second, nq takes the idle first.
        assert_eq!(pick(Nq, &[1, 3], &[(0, 0), (1, 0)]), Some(0));
        // The first idle one, even if listed later than a lighter-loaded heavy backend.
        assert_eq!(pick(Nq, &[100, 1], &[(1, 0), (0, 7)]), Some(1));
        // No idle backend: sed.
        assert_eq!(pick(Nq, &[1, 3], &[(1, 0), (2, 0)]), Some(1));
        assert_eq!(pick(Nq, &[1, 3], &[(1, 0), (6, 0)]), Some(0));
        // An idle but quiescent backend is not taken.
        assert_eq!(pick(Nq, &[0, 3], &[(0, 0), (6, 0)]), Some(1));
    }

    #[test]
    fn wlc_spreads_by_weight_when_loads_follow_picks() {
        // Feed picks back as active connections: wlc converges to the weight ratio 1:2:3.
        let b = [backend(0, 1), backend(1, 2), backend(2, 3)];
        let s = Scheduler::build(SchedulerKind::Wlc, SchedFlags::NONE, &b);
        let mut st = s.new_state();
        let mut loads = [BackendLoad::default(); 3];
        for _ in 0..600 {
            let c = PickCtx {
                loads: &loads,
                ..ctx(0)
            };
            let id = s.pick(&mut st, &c).unwrap();
            loads[id.index()].active += 1;
        }
        assert_eq!(loads.map(|l| l.active), [100, 200, 300]);
    }
}
