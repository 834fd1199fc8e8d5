//! Hashed timer wheel over intrusive `u32` links, with lazy re-arming.
//!
//! Contract: time is whole seconds supplied by the caller (`now`, monotonic, never read here).
//! A node with expiry `e` is linked into slot `max(e, cursor) mod SLOTS` and remembers that tick
//! as `armed`. [`Wheel::next_expired`] visits the ticks from `cursor` up to `now`, one slot at a
//! time, and for each node there returns it (unlinked) if `expires <= now`, or re-links it under
//! its current expiry otherwise: a node whose expiry moved later (a refreshed session) costs
//! nothing until its old tick comes round, and one more than `SLOTS` seconds away simply goes
//! round again (the expiry comparison, not the slot, decides). A node whose expiry moves
//! *earlier* than its armed tick must be re-armed at once ([`Wheel::rearm_if_earlier`]), or it
//! would outlive its timeout. So a node is returned at the first call with `now >= expires`
//! that has the work budget to reach it: expiry is exact to the tick.
//!
//! Work is bounded: each call examines at most `budget` nodes and empty slots, and picks up
//! where it stopped on the next call (the slot being drained is detached into `pending`, so
//! nodes re-linked into the same slot a whole revolution later are not seen twice).

/// Link value meaning "no node".
pub(crate) const NIL: u32 = u32::MAX;

/// Wheel slots: one-second ticks over a 4096-second revolution (68 minutes) covers every
/// default timeout except persistence and long `--set` values, which just go round again.
pub(crate) const WHEEL_SLOTS: u32 = 4096;
const MASK: u32 = WHEEL_SLOTS - 1;
const _: () = assert!(WHEEL_SLOTS.is_power_of_two());

/// Access to a node's intrusive timer fields.
pub(crate) trait TimerNode {
    fn expires(&self) -> u32;
    fn armed(&self) -> u32;
    fn set_armed(&mut self, tick: u32);
    fn next(&self) -> u32;
    fn set_next(&mut self, n: u32);
    fn prev(&self) -> u32;
    fn set_prev(&mut self, p: u32);
}

/// The wheel: list heads per slot and the drain position.
#[derive(Clone, Debug)]
pub(crate) struct Wheel {
    heads: Vec<u32>,
    /// The next tick to drain; every tick before it has been drained.
    cursor: u32,
    /// The rest of the list detached from slot `cursor`, while it is being drained.
    pending: u32,
    /// Whether slot `cursor` has been detached into `pending` and not finished.
    draining: bool,
}

#[inline(always)]
const fn slot(tick: u32) -> usize {
    (tick & MASK) as usize
}

impl Wheel {
    /// An empty wheel whose first tick to drain is 0.
    pub(crate) fn new() -> Self {
        Self {
            heads: vec![NIL; WHEEL_SLOTS as usize],
            cursor: 0,
            pending: NIL,
            draining: false,
        }
    }

    /// Bytes of list heads.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.heads.capacity() * core::mem::size_of::<u32>()
    }

    /// Move the cursor forward to `tick` when nothing is linked (the caller knows); this saves a
    /// revolution of empty slots after an idle period.
    pub(crate) fn skip_idle(&mut self, tick: u32) {
        if !self.draining && tick > self.cursor {
            self.cursor = tick;
        }
    }

    /// Link node `idx` under its current expiry.
    pub(crate) fn link<N: TimerNode>(&mut self, nodes: &mut [N], idx: u32) {
        let tick = nodes[idx as usize].expires().max(self.cursor);
        let head = &mut self.heads[slot(tick)];
        let old = *head;
        *head = idx;
        let n = &mut nodes[idx as usize];
        n.set_armed(tick);
        n.set_prev(NIL);
        n.set_next(old);
        if old != NIL {
            nodes[old as usize].set_prev(idx);
        }
    }

    /// Unlink node `idx` from whichever list holds it.
    pub(crate) fn unlink<N: TimerNode>(&mut self, nodes: &mut [N], idx: u32) {
        let (prev, next, armed) = {
            let n = &nodes[idx as usize];
            (n.prev(), n.next(), n.armed())
        };
        if prev != NIL {
            nodes[prev as usize].set_next(next);
        } else if self.pending == idx {
            self.pending = next;
        } else {
            debug_assert_eq!(self.heads[slot(armed)], idx);
            self.heads[slot(armed)] = next;
        }
        if next != NIL {
            nodes[next as usize].set_prev(prev);
        }
        let n = &mut nodes[idx as usize];
        n.set_prev(NIL);
        n.set_next(NIL);
    }

    /// Re-link node `idx` if its expiry moved before the tick it is armed for.
    #[inline(always)]
    pub(crate) fn rearm_if_earlier<N: TimerNode>(&mut self, nodes: &mut [N], idx: u32) {
        let n = &nodes[idx as usize];
        if n.expires() < n.armed() {
            self.rearm(nodes, idx);
        }
    }

    /// Re-link node `idx` at its expiry: out of line, since a packet's refresh mostly moves
    /// the expiry later and keeps the armed tick.
    #[cold]
    #[inline(never)]
    fn rearm<N: TimerNode>(&mut self, nodes: &mut [N], idx: u32) {
        self.unlink(nodes, idx);
        self.link(nodes, idx);
    }

    /// The next node due at `now`, already unlinked; `None` when none is due or `budget` (nodes
    /// examined plus slots advanced) ran out.
    pub(crate) fn next_expired<N: TimerNode>(
        &mut self,
        now: u32,
        nodes: &mut [N],
        budget: &mut usize,
    ) -> Option<u32> {
        loop {
            if *budget == 0 {
                return None;
            }
            if !self.draining {
                if self.cursor > now {
                    return None;
                }
                // Catching up more than a revolution: the last SLOTS ticks up to `now` visit
                // every slot once, and the expiry comparison handles whatever was armed earlier.
                if now - self.cursor >= WHEEL_SLOTS {
                    self.cursor = now - (WHEEL_SLOTS - 1);
                }
                let head = &mut self.heads[slot(self.cursor)];
                self.pending = *head;
                *head = NIL;
                self.draining = true;
            }
            *budget -= 1;
            let idx = self.pending;
            if idx == NIL {
                self.draining = false;
                self.cursor += 1;
                continue;
            }
            let next = nodes[idx as usize].next();
            self.pending = next;
            if next != NIL {
                nodes[next as usize].set_prev(NIL);
            }
            let n = &mut nodes[idx as usize];
            n.set_next(NIL);
            n.set_prev(NIL);
            if n.expires() <= now {
                return Some(idx);
            }
            // Refreshed since it was armed (or a revolution or more away): re-arm. Its expiry is
            // after `now >= cursor`, so it lands in a slot not drained in this pass.
            self.link(nodes, idx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, Default)]
    struct T {
        expires: u32,
        armed: u32,
        next: u32,
        prev: u32,
    }

    impl TimerNode for T {
        fn expires(&self) -> u32 {
            self.expires
        }
        fn armed(&self) -> u32 {
            self.armed
        }
        fn set_armed(&mut self, tick: u32) {
            self.armed = tick;
        }
        fn next(&self) -> u32 {
            self.next
        }
        fn set_next(&mut self, n: u32) {
            self.next = n;
        }
        fn prev(&self) -> u32 {
            self.prev
        }
        fn set_prev(&mut self, p: u32) {
            self.prev = p;
        }
    }

    fn drain(w: &mut Wheel, nodes: &mut [T], now: u32) -> Vec<u32> {
        let mut out = Vec::new();
        let mut budget = usize::MAX;
        while let Some(i) = w.next_expired(now, nodes, &mut budget) {
            out.push(i);
        }
        out.sort_unstable();
        out
    }

    #[test]
    fn nodes_expire_at_their_tick_and_not_before() {
        let mut w = Wheel::new();
        let mut nodes = vec![T::default(); 4];
        for (i, e) in [5u32, 5, 9, 5000].into_iter().enumerate() {
            nodes[i].expires = e;
            w.link(&mut nodes, i as u32);
        }
        assert!(drain(&mut w, &mut nodes, 4).is_empty());
        assert_eq!(drain(&mut w, &mut nodes, 5), [0, 1]);
        assert!(drain(&mut w, &mut nodes, 8).is_empty());
        assert_eq!(drain(&mut w, &mut nodes, 9), [2]);
        // 5000 is more than one revolution away: it goes round once and is due at 5000.
        assert!(drain(&mut w, &mut nodes, 4999).is_empty());
        assert_eq!(drain(&mut w, &mut nodes, 5000), [3]);
    }

    #[test]
    fn extended_expiry_is_rearmed_lazily_and_shortened_at_once() {
        let mut w = Wheel::new();
        let mut nodes = vec![T::default(); 2];
        nodes[0].expires = 10;
        nodes[1].expires = 100;
        w.link(&mut nodes, 0);
        w.link(&mut nodes, 1);
        nodes[0].expires = 20; // touched: no re-link now
        nodes[1].expires = 15; // shortened: must re-arm
        w.rearm_if_earlier(&mut nodes, 0);
        w.rearm_if_earlier(&mut nodes, 1);
        assert_eq!(nodes[0].armed, 10);
        assert_eq!(nodes[1].armed, 15);
        assert!(drain(&mut w, &mut nodes, 14).is_empty());
        assert_eq!(drain(&mut w, &mut nodes, 15), [1]);
        assert!(drain(&mut w, &mut nodes, 19).is_empty());
        assert_eq!(nodes[0].armed, 20);
        assert_eq!(drain(&mut w, &mut nodes, 20), [0]);
    }

    #[test]
    fn budget_bounds_work_and_resumes() {
        let mut w = Wheel::new();
        let mut nodes = vec![T::default(); 100];
        for i in 0..100u32 {
            nodes[i as usize].expires = 3;
            w.link(&mut nodes, i);
        }
        let mut got = 0;
        // Ticks 0, 1, 2 are empty slots and cost one unit each; then 10 nodes per call.
        let mut budget = 3;
        assert_eq!(w.next_expired(3, &mut nodes, &mut budget), None);
        for _ in 0..10 {
            let mut budget = 10;
            while w.next_expired(3, &mut nodes, &mut budget).is_some() {
                got += 1;
            }
            assert_eq!(budget, 0);
        }
        assert_eq!(got, 100);
        let mut budget = 10;
        assert_eq!(w.next_expired(3, &mut nodes, &mut budget), None);
    }

    #[test]
    fn unlink_works_in_the_middle_of_a_drain() {
        let mut w = Wheel::new();
        let mut nodes = vec![T::default(); 3];
        for i in 0..3u32 {
            nodes[i as usize].expires = 1;
            w.link(&mut nodes, i);
        }
        let mut budget = 2; // one empty tick (0), then one node
        let first = w.next_expired(1, &mut nodes, &mut budget).unwrap();
        // The others are now in `pending`; remove one of them (the head and a non-head case).
        let others: Vec<u32> = (0..3).filter(|&i| i != first).collect();
        w.unlink(&mut nodes, others[0]);
        assert_eq!(drain(&mut w, &mut nodes, 1), [others[1]]);
    }

    #[test]
    fn long_idle_gap_catches_up_in_one_revolution() {
        let mut w = Wheel::new();
        let mut nodes = vec![T::default(); 2];
        nodes[0].expires = 7;
        nodes[1].expires = 1_000_000;
        w.link(&mut nodes, 0);
        w.link(&mut nodes, 1);
        let mut budget = WHEEL_SLOTS as usize + 10;
        assert_eq!(w.next_expired(900_000, &mut nodes, &mut budget), Some(0));
        assert_eq!(w.next_expired(900_000, &mut nodes, &mut budget), None);
        assert_eq!(drain(&mut w, &mut nodes, 999_999), Vec::<u32>::new());
        assert_eq!(drain(&mut w, &mut nodes, 1_000_000), [1]);
    }
}
