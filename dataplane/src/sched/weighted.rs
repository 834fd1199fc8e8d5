//! Weight-driven schedulers without tables: `rr`, `wrr`, `fo`, `ovf`.
//!
//! `rr` and `wrr` keep their cursor in the per-worker [`SchedState`]; `fo` and `ovf` are
//! stateless apart from the threshold flags. All follow the kernel's `ip_vs_{rr,wrr,fo,ovf}.c`.

use super::{PickCtx, SchedBackend, SchedState, Scheduler};

/// Greatest common divisor.
pub(super) const fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

/// Return `(max weight, gcd of weights)` over the backends that may ever be picked (weight > 0
/// and available); `(0, 1)` when there are none.
pub(super) fn max_and_gcd(backends: &[SchedBackend]) -> (u32, u32) {
    let (max, g) = backends
        .iter()
        .filter(|b| b.weight > 0 && b.available)
        .fold((0, 0), |(m, g), b| (m.max(b.weight), gcd(g, b.weight)));
    (max, g.max(1))
}

impl Scheduler {
    /// `rr`: the next eligible backend after the last one this worker picked.
    pub(super) fn pick_rr(&self, st: &mut SchedState, ctx: &PickCtx<'_>) -> Option<usize> {
        let n = self.backends.len();
        let start = st.cursor.wrapping_add(1);
        for step in 0..n {
            let pos = (start.wrapping_add(step)) % n;
            if self.eligible(st, ctx, pos) {
                st.cursor = pos;
                return Some(pos);
            }
        }
        None
    }

    /// `wrr`: the kernel's interleaved weighted round robin.
    ///
    /// The cursor walks the list; each time it wraps, the current weight `cw` steps down by the
    /// gcd of the weights (back to the max weight after reaching 0), and a backend is picked when
    /// its weight is `>= cw`. With weights 2:1 this gives `A A B` per cycle. Passes in which no
    /// eligible backend is heavy enough are skipped by clamping `cw` to the heaviest eligible
    /// weight (the kernel walks them; the resulting sequence is the same), which bounds a pick to
    /// two passes over the list.
    pub(super) fn pick_wrr(&self, st: &mut SchedState, ctx: &PickCtx<'_>) -> Option<usize> {
        let n = self.backends.len();
        let mut heaviest = 0;
        for pos in 0..n {
            if self.eligible(st, ctx, pos) {
                heaviest = heaviest.max(self.weight(pos));
            }
        }
        if heaviest == 0 {
            return None;
        }
        let step = self.wrr_gcd;
        for _ in 0..=2 * n {
            let mut pos = st.cursor.wrapping_add(1);
            if pos >= n {
                pos = 0;
                st.cw = if st.cw <= step {
                    self.wrr_max
                } else {
                    st.cw - step
                };
                st.cw = st.cw.min(heaviest);
            }
            st.cursor = pos;
            if self.weight(pos) >= st.cw && self.eligible(st, ctx, pos) {
                return Some(pos);
            }
        }
        None
    }

    /// `fo`: the eligible backend with the highest weight (the first one listed on ties).
    pub(super) fn pick_fo(&self, st: &mut SchedState, ctx: &PickCtx<'_>) -> Option<usize> {
        let mut best: Option<(usize, u32)> = None;
        for pos in 0..self.backends.len() {
            let w = self.weight(pos);
            if best.is_none_or(|(_, hw)| w > hw) && self.eligible(st, ctx, pos) {
                best = Some((pos, w));
            }
        }
        best.map(|(pos, _)| pos)
    }

    /// `ovf`: the highest-weight eligible backend whose active connections do not exceed its
    /// weight (kernel: skip when `activeconns > weight`), the first one listed on ties.
    pub(super) fn pick_ovf(&self, st: &mut SchedState, ctx: &PickCtx<'_>) -> Option<usize> {
        let mut best: Option<(usize, u32)> = None;
        for pos in 0..self.backends.len() {
            let w = self.weight(pos);
            if best.is_none_or(|(_, hw)| w > hw)
                && ctx.load(pos).active <= w
                && self.eligible(st, ctx, pos)
            {
                best = Some((pos, w));
            }
        }
        best.map(|(pos, _)| pos)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::*;

    fn seq(s: &Scheduler, n: usize, loads: &[BackendLoad]) -> Vec<BackendIdx> {
        let mut st = s.new_state();
        let c = PickCtx { loads, ..ctx(0) };
        (0..n).map(|_| s.pick(&mut st, &c).unwrap()).collect()
    }

    #[test]
    fn rr_cycles_in_list_order_skipping_ineligible() {
        let mut b = equal(4, 1);
        b[2].weight = 0;
        let s = Scheduler::build(SchedulerKind::Rr, SchedFlags::NONE, &b);
        assert_eq!(seq(&s, 7, &[]), [0, 1, 3, 0, 1, 3, 0]);
    }

    #[test]
    fn wrr_two_to_one_is_exact() {
        let b = [backend(0, 2), backend(1, 1)];
        let s = Scheduler::build(SchedulerKind::Wrr, SchedFlags::NONE, &b);
        let picks = seq(&s, 30, &[]);
        assert_eq!(&picks[..6], [0, 0, 1, 0, 0, 1]);
        assert_eq!(picks.iter().filter(|&&id| id == 0).count(), 20);
        assert_eq!(picks.iter().filter(|&&id| id == 1).count(), 10);
    }

    #[test]
    fn wrr_matches_the_kernel_interleaving() {
        // Kernel ip_vs_wrr.c with weights 4:3:2 (gcd 1): cw = 4: A; cw = 3: A B; cw = 2: A B C;
        // cw = 1: A B C.
        let b = [backend(0, 4), backend(1, 3), backend(2, 2)];
        let s = Scheduler::build(SchedulerKind::Wrr, SchedFlags::NONE, &b);
        assert_eq!(
            seq(&s, 18, &[]),
            [0, 0, 1, 0, 1, 2, 0, 1, 2, 0, 0, 1, 0, 1, 2, 0, 1, 2]
        );
        // gcd stepping: 4:2 behaves as 2:1.
        let b = [backend(0, 4), backend(1, 2)];
        let s = Scheduler::build(SchedulerKind::Wrr, SchedFlags::NONE, &b);
        assert_eq!(seq(&s, 6, &[]), [0, 0, 1, 0, 0, 1]);
    }

    #[test]
    fn wrr_ratios_hold_for_many_weights() {
        let b: Vec<_> = (0..5).map(|i| backend(i, (i as u32 + 1) * 3)).collect();
        let s = Scheduler::build(SchedulerKind::Wrr, SchedFlags::NONE, &b);
        // One full cycle is sum(w)/gcd = 15 picks; 10 cycles.
        let picks = seq(&s, 150, &[]);
        for i in 0..5u16 {
            let got = picks.iter().filter(|&&id| id == i).count();
            assert_eq!(got, 10 * (usize::from(i) + 1), "backend {i}");
        }
    }

    #[test]
    fn wrr_skips_overloaded_heavy_backend_quickly() {
        let mut b = [backend(0, 60_000), backend(1, 1)];
        b[0].u_threshold = 1;
        let s = Scheduler::build(SchedulerKind::Wrr, SchedFlags::NONE, &b);
        let loads = [
            BackendLoad {
                active: 1,
                inactive: 0,
            },
            BackendLoad::default(),
        ];
        assert_eq!(seq(&s, 5, &loads), [1; 5]);
    }

    #[test]
    fn fo_picks_highest_weight_available() {
        let mut b = [backend(0, 5), backend(1, 9), backend(2, 9), backend(3, 7)];
        let s = Scheduler::build(SchedulerKind::Fo, SchedFlags::NONE, &b);
        assert_eq!(seq(&s, 3, &[]), [1, 1, 1]);
        b[1].available = false;
        let s = Scheduler::build(SchedulerKind::Fo, SchedFlags::NONE, &b);
        assert_eq!(seq(&s, 3, &[]), [2, 2, 2]);
        b[2].weight = 0;
        let s = Scheduler::build(SchedulerKind::Fo, SchedFlags::NONE, &b);
        assert_eq!(seq(&s, 3, &[]), [3, 3, 3]);
    }

    #[test]
    fn ovf_overflows_when_active_exceeds_weight() {
        let b = [backend(0, 2), backend(1, 5), backend(2, 3)];
        let s = Scheduler::build(SchedulerKind::Ovf, SchedFlags::NONE, &b);
        let load = |a: [u32; 3]| {
            a.map(|active| BackendLoad {
                active,
                inactive: 0,
            })
        };
        assert_eq!(seq(&s, 1, &load([0, 0, 0])), [1]);
        // active == weight is still accepted (the kernel skips only active > weight).
        assert_eq!(seq(&s, 1, &load([0, 5, 0])), [1]);
        assert_eq!(seq(&s, 1, &load([0, 6, 0])), [2]);
        assert_eq!(seq(&s, 1, &load([0, 6, 4])), [0]);
        let mut st = s.new_state();
        let l = load([3, 6, 4]);
        let c = PickCtx {
            loads: &l,
            ..ctx(0)
        };
        assert_eq!(s.pick(&mut st, &c), None);
    }
}
