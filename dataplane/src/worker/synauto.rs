//! The worker's side of `syn_proxy = "auto"` ([`crate::synauto`] says when and why): a SYN
//! count per `auto` service in the worker's own state, and once a second, in the worker's
//! tick, the step of each service's state machine on that count and the fill of the worker's
//! own session table. The packet path of an `auto` service reads one flag (engaged or not);
//! services without the SYN proxy never come here (their path tests `Service::syn_proxy` only).

use crate::counters::WorkerCounters;
use crate::forward::syncookie::COUNT_SECONDS;
use crate::rewrite::Tables;
use crate::snapshot::Snapshot;
use crate::synauto::{fill_percent, AutoLevels, AutoState, Measure, Switch};
use crate::types::ServiceIdx;

/// Seconds after the proxy lets go during which a bare ACK is still checked against the
/// cookies: the SYN-ACKs sent while engaged stay valid that long (the cookie clock's current
/// and previous tick, plus one).
pub(super) const COOKIES_AFTER_S: u32 = 3 * COUNT_SECONDS as u32;

/// One `auto` service on this worker.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    state: AutoState,
    /// SYNs counted since the last step.
    syns: u32,
    /// Whether the service's VIP is IPv6 (which session table's fill counts).
    v6: bool,
    /// Until when (seconds) bare ACKs are checked against cookies after the proxy let go.
    cookies_until: u32,
}

/// The `auto` services of one worker, by service id.
#[derive(Clone, Debug, Default)]
pub(crate) struct SynAuto {
    slots: Vec<Option<Slot>>,
    levels: AutoLevels,
    /// The second of the last step (`None` until the first tick after a resync with `auto`
    /// services).
    last: Option<u32>,
}

impl SynAuto {
    /// Rebuild for snapshot `snap`, keeping the state of services that stay `auto` (allocates:
    /// once per generation). Services no longer `auto` have their gauge cleared.
    pub(super) fn resync(&mut self, snap: &Snapshot, c: &WorkerCounters) {
        let old = core::mem::take(&mut self.slots);
        self.levels = snap.syn_auto;
        self.slots = snap
            .services
            .iter()
            .map(|s| {
                let s = s.as_ref().filter(|s| s.syn_proxy_auto)?;
                Some(Slot {
                    v6: s.vip.is_ipv6(),
                    ..Slot::default()
                })
            })
            .collect();
        for (i, o) in old.iter().enumerate() {
            match (o, self.slots.get_mut(i).and_then(Option::as_mut)) {
                (Some(o), Some(n)) if o.v6 == n.v6 => *n = *o,
                (Some(_), _) => {
                    if let Some(g) = c.syn_auto.get(i) {
                        g.engaged.set(0);
                    }
                }
                _ => {}
            }
        }
        if self.slots.iter().all(Option::is_none) {
            self.slots.clear();
            self.last = None;
        }
    }

    /// Whether the proxy is engaged for `auto` service `sid`.
    #[inline]
    pub(super) fn engaged(&self, sid: ServiceIdx) -> bool {
        matches!(self.slots.get(sid.index()), Some(Some(s)) if s.state.engaged())
    }

    /// Count a SYN to `auto` service `sid`.
    #[inline]
    pub(super) fn count_syn(&mut self, sid: ServiceIdx) {
        if let Some(Some(s)) = self.slots.get_mut(sid.index()) {
            s.syns = s.syns.saturating_add(1);
        }
    }

    /// Whether a bare ACK to `auto` service `sid` at `now` is to be checked against the
    /// cookies: while engaged, and for [`COOKIES_AFTER_S`] after it let go.
    #[inline]
    pub(super) fn checks_cookies(&self, sid: ServiceIdx, now: u32) -> bool {
        match self.slots.get(sid.index()) {
            Some(Some(s)) => s.state.engaged() || (s.cookies_until.wrapping_sub(now) as i32) > 0,
            _ => false,
        }
    }

    /// Once a second (the first call in a new second `now`): step every `auto` service on the
    /// SYN rate since the last step and the fill of the session table `t` of its family;
    /// count the switches in `c`.
    pub(super) fn tick(&mut self, now: u32, t: &Tables, c: &WorkerCounters) {
        if self.slots.is_empty() {
            return;
        }
        let Some(last) = self.last.replace(now) else {
            return;
        };
        let secs = now.wrapping_sub(last);
        if secs == 0 {
            self.last = Some(last);
            return;
        }
        let fills = (
            fill_percent(t.s4.len(), t.s4.capacity()),
            fill_percent(t.s6.len(), t.s6.capacity()),
        );
        for (i, slot) in self.slots.iter_mut().enumerate() {
            let Some(s) = slot else { continue };
            let m = Measure {
                syn_rate: s.syns / secs,
                table_fill: if s.v6 { fills.1 } else { fills.0 },
            };
            s.syns = 0;
            let Some(sw) = s.state.step(&self.levels, now, m) else {
                continue;
            };
            let Some(g) = c.syn_auto.get(i) else { continue };
            match sw {
                Switch::On => {
                    g.engaged.set(1);
                    g.engaged_total.inc();
                }
                Switch::Off => {
                    g.engaged.set(0);
                    g.released_total.inc();
                    s.cookies_until = now.wrapping_add(COOKIES_AFTER_S);
                }
            }
        }
    }
}
