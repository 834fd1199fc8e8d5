//! Fill the service and real server rows of a [`MetricsView`](super::MetricsView) from the
//! running snapshot and the workers' counters.
//!
//! The snapshot gives identities, weights and availability; each worker's
//! [`WorkerCounters`] gives its share of the traffic, summed here. Reads are relaxed atomic
//! loads: a scrape never blocks a worker, and may see one worker a few packets ahead of
//! another, which Prometheus's `rate()` does not notice.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use dataplane::counters::{TrafficCounters, WorkerCounters};
use dataplane::snapshot::{Backend, Snapshot};
use dataplane::types::{BackendIdx, ServiceIdx};

use super::{RealServerRow, ServiceKey, ServiceRow, SynProxyRow, Traffic};
use crate::health::CheckStatus;

/// The traffic of one service or real server, `of` each worker, summed.
fn traffic_of(
    workers: &[Arc<WorkerCounters>],
    of: impl Fn(&WorkerCounters) -> Option<&TrafficCounters>,
) -> Traffic {
    let mut t = Traffic::default();
    for c in workers.iter().filter_map(|w| of(w)) {
        t.add(&Traffic::read(c));
    }
    t
}

/// The SYN proxy of running service `svc` (id `id`) over `workers`: the metrics and the admin
/// listing (`ferrovsadm -L --syn-proxy`, the console's status) both read it here.
pub fn syn_proxy_of(
    svc: &dataplane::snapshot::Service,
    workers: &[Arc<WorkerCounters>],
    id: ServiceIdx,
) -> SynProxyRow {
    let mut r = SynProxyRow::default();
    if !svc.syn_proxy {
        return r;
    }
    if !svc.syn_proxy_auto {
        r.engaged_workers = workers.len() as u64;
        return r;
    }
    for c in workers.iter().filter_map(|w| w.syn_auto(id)) {
        r.engaged_workers += c.engaged.get();
        r.engaged_total += c.engaged_total.get();
        r.released_total += c.released_total.get();
    }
    r
}

/// Return one row per service of `snap` and one per real server (sorry servers included,
/// flagged), with traffic summed over `workers`.
///
/// A real server is `up` when the snapshot has it available and, if `health` is given, every
/// check that names it as a user passes (so a server inhibited to weight 0 shows as down).
pub fn traffic_rows(
    snap: &Snapshot,
    workers: &[Arc<WorkerCounters>],
    health: Option<&[CheckStatus]>,
) -> (Vec<ServiceRow>, Vec<RealServerRow>) {
    let mut services = Vec::new();
    let mut reals = Vec::new();
    // Real servers some failing check names, looked up once per row below.
    let down: HashSet<(ServiceKey, IpAddr, u16)> = health
        .unwrap_or_default()
        .iter()
        .filter(|c| !c.up)
        .flat_map(|c| c.users.iter().map(|u| (u.key, u.address, u.port)))
        .collect();
    for (sid, svc) in snap.services.iter().enumerate() {
        let Some(svc) = svc else { continue };
        let Ok(sid) = ServiceIdx::try_from(sid) else {
            break;
        };
        let key = ServiceKey {
            protocol: svc.proto,
            vip: svc.vip,
            port: svc.port,
        };
        services.push(ServiceRow {
            key,
            scheduler: svc.scheduler.kind(),
            traffic: traffic_of(workers, |w| w.service(sid)),
            syn_proxy: syn_proxy_of(svc, workers, sid),
        });
        let row = |bid: BackendIdx, b: &Backend, sorry: bool| {
            let checked_up = !down.contains(&(key, b.addr, b.port));
            RealServerRow {
                service: key,
                address: b.addr,
                port: b.port,
                forward: b.method,
                sorry,
                weight: b.weight,
                up: b.available && checked_up,
                traffic: traffic_of(workers, |w| w.backend(bid)),
            }
        };
        for &bid in &svc.backends {
            if let Some(b) = snap.backend(bid) {
                reals.push(row(bid, b, false));
            }
        }
        if let Some(bid) = svc.sorry {
            if let Some(b) = snap.backend(bid) {
                // A sorry server that is also a real server of the service would repeat its
                // label set; its real server row already covers it.
                if !svc.backends.iter().any(|&o| {
                    snap.backend(o)
                        .is_some_and(|r| r.addr == b.addr && r.port == b.port)
                }) {
                    reals.push(row(bid, b, true));
                }
            }
        }
    }
    (services, reals)
}

/// Return one row per worker, in `workers` order; every worker has the same session table
/// capacities (`WorkerConfig::sessions4`/`sessions6`).
pub fn worker_rows(
    workers: &[Arc<WorkerCounters>],
    capacity_ipv4: u64,
    capacity_ipv6: u64,
) -> Vec<super::WorkerRow> {
    workers
        .iter()
        .enumerate()
        .map(|(i, w)| super::WorkerRow::read(i, w, capacity_ipv4, capacity_ipv6))
        .collect()
}
