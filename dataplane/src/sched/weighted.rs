//! Weight-driven schedulers without tables: `rr`, `wrr`, `fo`, `ovf`.
//!
//! `rr` and `wrr` keep their cursor in the [`Scheduler`], shared by the workers; `fo` and `ovf` are
//! stateless apart from the threshold flags. All follow the kernel's `ip_vs_{rr,wrr,fo,ovf}.c`.

use core::sync::atomic::Ordering;

use super::{pack_cursor, unpack_cursor, PickCtx, SchedBackend, SchedState, Scheduler, NO_PICK};

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
    /// `rr`: the next eligible backend after the last one picked by any worker.
    pub(super) fn pick_rr(&self, st: &mut SchedState, ctx: &PickCtx<'_>) -> Option<usize> {
        let n = self.backends.len();
        self.advance_cursor(|last, cw| {
            let start = if last == NO_PICK {
                0
            } else {
                last as usize + 1
            };
            (0..n)
                .map(|step| (start + step) % n)
                .find(|&pos| self.eligible(st, ctx, pos))
                .map(|pos| (pos, cw))
        })
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
        self.advance_cursor(|last, mut cw| {
            let mut cursor = if last == NO_PICK {
                usize::MAX
            } else {
                last as usize
            };
            for _ in 0..=2 * n {
                let mut pos = cursor.wrapping_add(1);
                if pos >= n {
                    pos = 0;
                    cw = if cw <= step { self.wrr_max } else { cw - step };
                    cw = cw.min(heaviest);
                }
                cursor = pos;
                if self.weight(pos) >= cw && self.eligible(st, ctx, pos) {
                    return Some((pos, cw));
                }
            }
            None
        })
    }

    /// Move the shared cursor: `step(last position, current weight)` returns the pick and the
    /// new current weight, published by compare-and-swap (and recomputed if another worker
    /// moved the cursor first), so concurrent picks are serialised like the kernel's lock.
    fn advance_cursor(
        &self,
        mut step: impl FnMut(u32, u32) -> Option<(usize, u32)>,
    ) -> Option<usize> {
        let mut word = self.cursor.load(Ordering::Relaxed);
        loop {
            let (last, cw) = unpack_cursor(word);
            let (pos, cw) = step(last, cw)?;
            let next = pack_cursor(u32::try_from(pos).unwrap_or(NO_PICK), cw);
            match self.cursor.compare_exchange_weak(
                word,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(pos),
                Err(now) => word = now,
            }
        }
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

    fn seq(s: &Scheduler, n: usize, loads: &[BackendLoad]) -> Vec<u16> {
        let mut st = s.new_state();
        let c = PickCtx { loads, ..ctx(0) };
        (0..n).map(|_| s.pick(&mut st, &c).unwrap().get()).collect()
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

#[cfg(test)]
mod shared_cursor_tests {
    use super::super::testutil::*;
    use super::super::*;

    /// Two workers' states on one scheduler: their interleaved picks are one kernel rotation.
    #[test]
    fn rr_and_wrr_rotate_across_workers() {
        let rr = Scheduler::build(SchedulerKind::Rr, SchedFlags::NONE, &equal(3, 1));
        let (mut w0, mut w1) = (rr.new_state(), rr.new_state());
        let picks: Vec<u16> = (0..6)
            .map(|i| {
                let st = if i % 3 == 0 { &mut w0 } else { &mut w1 };
                rr.pick(st, &ctx(i)).unwrap().get()
            })
            .collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);

        let b = [backend(0, 2), backend(1, 1)];
        let wrr = Scheduler::build(SchedulerKind::Wrr, SchedFlags::NONE, &b);
        let (mut w0, mut w1) = (wrr.new_state(), wrr.new_state());
        let picks: Vec<u16> = (0..6)
            .map(|i| {
                let st = if i % 2 == 0 { &mut w0 } else { &mut w1 };
                wrr.pick(st, &ctx(i)).unwrap().get()
            })
            .collect();
        assert_eq!(picks, [0, 0, 1, 0, 0, 1]);
    }

    /// Concurrent workers never lose or duplicate a step of the rotation: every backend gets
    /// exactly its share (a lost compare-and-swap would skew the counts).
    #[test]
    fn concurrent_picks_share_exactly() {
        let b = [backend(0, 3), backend(1, 2), backend(2, 1)];
        for kind in [SchedulerKind::Rr, SchedulerKind::Wrr] {
            let s = Scheduler::build(kind, SchedFlags::NONE, &b);
            let per_thread = 6_000;
            let counts = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..4)
                    .map(|t| {
                        let s = &s;
                        scope.spawn(move || {
                            let mut st = s.new_state();
                            let mut c = [0usize; 3];
                            for i in 0..per_thread {
                                let id = s.pick(&mut st, &ctx(t * per_thread + i)).unwrap();
                                c[id.index()] += 1;
                            }
                            c
                        })
                    })
                    .collect();
                handles.into_iter().fold([0usize; 3], |mut acc, h| {
                    let c = h.join().unwrap();
                    (0..3).for_each(|i| acc[i] += c[i]);
                    acc
                })
            });
            let want = match kind {
                SchedulerKind::Rr => [8_000, 8_000, 8_000],
                _ => [12_000, 8_000, 4_000],
            };
            assert_eq!(counts, want, "{kind}");
        }
    }

    /// A rebuilt scheduler with the same signature goes on from the old cursor; a changed one
    /// starts over.
    #[test]
    fn carry_cursor_keeps_rotation_only_for_same_signature() {
        let old = Scheduler::build(SchedulerKind::Rr, SchedFlags::NONE, &equal(3, 1));
        let mut st = old.new_state();
        assert_eq!(old.pick(&mut st, &ctx(0)), Some(BackendIdx::new(0)));
        let mut same = Scheduler::build(SchedulerKind::Rr, SchedFlags::NONE, &equal(3, 1));
        same.carry_cursor(&old);
        let mut st = same.new_state();
        assert_eq!(same.pick(&mut st, &ctx(1)), Some(BackendIdx::new(1)));
        let mut other = Scheduler::build(SchedulerKind::Rr, SchedFlags::NONE, &equal(4, 1));
        other.carry_cursor(&same);
        let mut st = other.new_state();
        assert_eq!(other.pick(&mut st, &ctx(2)), Some(BackendIdx::new(0)));
    }
}
