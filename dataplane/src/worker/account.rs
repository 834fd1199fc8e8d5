//! The per-service and per-backend counters a worker keeps as sessions open, change state,
//! carry packets and end (ipvsadm's ActiveConn/InActConn, Conns, packets and bytes).

use crate::counters::WorkerCounters;
use crate::session::{Direction, StateChange};
use crate::types::{BackendIdx, ServiceIdx};

/// Count a new session of service `sid` to backend `bid` (`mid_flow`: opened by a packet other
/// than a SYN).
#[inline]
pub(super) fn opened(
    c: &WorkerCounters,
    sid: ServiceIdx,
    bid: BackendIdx,
    active: bool,
    mid_flow: bool,
) {
    c.sessions_created.inc();
    if mid_flow {
        c.sessions_mid_flow.inc();
    }
    for tc in [c.service(sid), c.backend(bid)].into_iter().flatten() {
        tc.conns.inc();
        if active {
            tc.active.inc();
        } else {
            tc.inactive.inc();
        }
    }
}

/// Count a packet of `bytes` (L3) of a session of `sid` to `bid`, in direction `dir`.
#[inline(always)]
pub(super) fn packet(
    c: &WorkerCounters,
    sid: ServiceIdx,
    bid: BackendIdx,
    dir: Direction,
    bytes: u64,
) {
    for tc in [c.service(sid), c.backend(bid)].into_iter().flatten() {
        if dir == Direction::Inbound {
            tc.in_pkts.inc();
            tc.in_bytes.add(bytes);
        } else {
            tc.out_pkts.inc();
            tc.out_bytes.add(bytes);
        }
    }
}

/// Move a connection between the ActiveConn and InActConn gauges.
pub(super) fn moved(c: &WorkerCounters, sid: ServiceIdx, bid: BackendIdx, ch: StateChange) {
    if !ch.activity_changed() {
        return;
    }
    for tc in [c.service(sid), c.backend(bid)].into_iter().flatten() {
        if ch.new.is_active() {
            tc.inactive.dec();
            tc.active.inc();
        } else {
            tc.active.dec();
            tc.inactive.inc();
        }
    }
}

/// Account for an expired (or removed) session.
pub(super) fn gone(c: &WorkerCounters, sid: ServiceIdx, bid: BackendIdx, active: bool) {
    c.sessions_expired.inc();
    for tc in [c.service(sid), c.backend(bid)].into_iter().flatten() {
        if active {
            tc.active.dec();
        } else {
            tc.inactive.dec();
        }
    }
}
