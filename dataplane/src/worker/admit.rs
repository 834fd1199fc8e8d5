//! The worker's side of admission control ([`crate::admission`]): the checks a new flow passes
//! before the scheduler, and the ICMP error budget.
//!
//! Order, cheapest refusal first and no token spent on a flow refused anyway: the gateway's
//! client lists, the service's, the service's connection cap, then its new-connection rate.
//!
//! Per worker, no sharing: each worker has a token bucket per limited service holding its
//! share of the rate ([`crate::admission::Rate::share`]), and caps the connections of the
//! service that live in its own table at its share of `max_conns` (the ActiveConn + InActConn
//! gauges it already keeps, as IPVS's upper threshold counts them). Workers never read each
//! other's state, so the limits cost no cache-line traffic; the price is that a service's
//! flows must spread over the workers for the whole limit to be usable (RSS does that for
//! FullNAT, DR and TUN; NAT and persistent services keep one client's flows on one worker).
//! A refused SYN is dropped, as LVS drops: the client retries after its SYN timeout, and a
//! flood gets no reflected RST.

use crate::admission::{ClientLists, ListVerdict, TokenBucket};
use crate::snapshot::{Service, Snapshot};
use crate::types::ServiceIdx;
use crate::wire::DropReason;

use core::net::IpAddr;

use super::Worker;

/// Admission state of one worker: a clock finer than the seconds the pipeline runs on, the
/// new-connection buckets by service id and the ICMP error bucket.
#[derive(Clone, Debug, Default)]
pub(crate) struct Admit {
    /// Milliseconds on the worker's clock (the loop's TSC), when the loop sets it.
    fine_ms: u64,
    /// Per service id: its bucket, when the service has a rate.
    buckets: Vec<Option<TokenBucket>>,
    /// The ICMP error bucket, when limited.
    icmp: Option<TokenBucket>,
}

impl Admit {
    /// The clock for the buckets: the loop's milliseconds, or `now_s` seconds when nobody set
    /// them (tests drive the pipeline by seconds only). Both count from the same start.
    #[inline]
    fn ms(&self, now_s: u32) -> u64 {
        self.fine_ms.max(u64::from(now_s) * 1000)
    }

    /// Rebuild the buckets for snapshot `snap` (worker `id` of `workers`), keeping a bucket's
    /// fill where the service's rate did not change. Allocates: once per generation.
    pub(super) fn resync(&mut self, snap: &Snapshot, id: u16, workers: u16, now_s: u32) {
        let ms = self.ms(now_s);
        let old = core::mem::take(&mut self.buckets);
        self.buckets = snap
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let rate = s.as_ref()?.limits.as_ref()?.new_conns?;
                let fresh = TokenBucket::for_worker(rate, id, workers, ms);
                Some(match old.get(i).copied().flatten() {
                    Some(b) if b.same_rate(&fresh) => b,
                    _ => fresh,
                })
            })
            .collect();
        self.icmp = match (snap.icmp_errors, self.icmp) {
            (None, _) => None,
            (Some(r), old) => {
                let fresh = TokenBucket::for_worker(r, id, workers, ms);
                Some(old.filter(|b| b.same_rate(&fresh)).unwrap_or(fresh))
            }
        };
    }

    /// May the gateway send one more ICMP error of its own now?
    #[inline]
    pub(crate) fn icmp_error(&mut self, now_s: u32) -> bool {
        let ms = self.ms(now_s);
        self.icmp.as_mut().is_none_or(|b| b.take(ms))
    }
}

fn lists(l: &ClientLists, client: IpAddr) -> Result<(), DropReason> {
    match l.check(client) {
        ListVerdict::Admit => Ok(()),
        ListVerdict::Denied => Err(DropReason::ClientDenied),
        ListVerdict::NotAllowed => Err(DropReason::ClientNotAllowed),
    }
}

impl Worker {
    /// Set the worker's millisecond clock (the loop calls it once per poll); the rate limits
    /// run on it.
    #[inline]
    pub fn set_clock_ms(&mut self, ms: u64) {
        self.admit.fine_ms = ms;
    }

    /// Whether a new flow from `client` to service `sid` is admitted at `now_s`; the reason
    /// it is refused otherwise. Called only when the gateway or the service has limits: out
    /// of line, off the path of unlimited services.
    #[inline(never)]
    pub(super) fn admit(
        &mut self,
        snap: &Snapshot,
        sid: ServiceIdx,
        svc: &Service,
        client: IpAddr,
        now_s: u32,
    ) -> Result<(), DropReason> {
        if let Some(g) = &snap.clients {
            lists(g, client)?;
        }
        let Some(l) = &svc.limits else {
            return Ok(());
        };
        lists(&l.clients, client)?;
        let cap = l.conns_share(self.cfg.id, self.cfg.workers);
        if cap > 0 {
            let held = self
                .counters
                .service(sid)
                .map_or(0, |c| c.active.get() + c.inactive.get());
            if held >= cap {
                return Err(DropReason::ConnLimit);
            }
        }
        let ms = self.admit.ms(now_s);
        match self.admit.buckets.get_mut(sid.index()) {
            Some(Some(b)) => {
                if b.take(ms) {
                    Ok(())
                } else {
                    Err(DropReason::NewConnRateLimit)
                }
            }
            _ => Ok(()),
        }
    }
}
