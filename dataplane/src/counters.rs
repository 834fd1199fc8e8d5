//! Per-worker counters: written by one worker, read by control without locks.
//!
//! Each [`Counter`] is an `AtomicU64` updated with a relaxed load and store, not a read-modify-
//! write: there is exactly one writer (the worker), so no update is lost, and on x86 this
//! compiles to plain loads and stores (no `lock` prefix). Readers see values that are at most a
//! moment old and never torn. Gauges (active/inactive connections) use the same cell; a worker's
//! own gauge never goes below zero.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::types::{BackendIdx, ServiceIdx};
use crate::wire::DropReason;

/// A single-writer 64-bit counter.
#[derive(Debug, Default)]
#[repr(transparent)]
pub struct Counter(AtomicU64);

/// A copy holds the value read now (a worker copied for the fuzz harness starts from the
/// original's counts: [`crate::worker::Worker::copy_from`]).
impl Clone for Counter {
    fn clone(&self) -> Self {
        Counter(AtomicU64::new(self.get()))
    }
}

impl Counter {
    /// Add `n` (writer only).
    #[inline(always)]
    pub fn add(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// Add one (writer only).
    #[inline(always)]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Subtract one, saturating at zero (writer only; for gauges).
    #[inline(always)]
    pub fn dec(&self) {
        self.0.store(
            self.0.load(Ordering::Relaxed).saturating_sub(1),
            Ordering::Relaxed,
        );
    }

    /// Set the value (writer only; for gauges mirrored from elsewhere).
    #[inline]
    pub fn set(&self, v: u64) {
        self.0.store(v, Ordering::Relaxed);
    }

    /// Read the current value (any thread).
    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Set to zero (`ipvsadm -Z`; writer only, or when the writer is known idle).
    pub fn reset(&self) {
        self.0.store(0, Ordering::Relaxed);
    }
}

/// Traffic counters of a service or a backend, as `ipvsadm --stats` shows them.
#[derive(Clone, Debug, Default)]
#[repr(C, align(64))]
pub struct TrafficCounters {
    /// Connections scheduled.
    pub conns: Counter,
    /// Packets client -> backend.
    pub in_pkts: Counter,
    /// Bytes client -> backend (IP packet bytes, as IPVS counts).
    pub in_bytes: Counter,
    /// Packets backend -> client (through us: NAT, FullNAT).
    pub out_pkts: Counter,
    /// Bytes backend -> client.
    pub out_bytes: Counter,
    /// ESTABLISHED TCP connections now (gauge; ipvsadm's ActiveConn).
    pub active: Counter,
    /// Other connections now (gauge; ipvsadm's InActConn).
    pub inactive: Counter,
}

impl TrafficCounters {
    /// Zero the traffic counters (not the gauges), as `ipvsadm -Z`.
    pub fn zero(&self) {
        for c in [
            &self.conns,
            &self.in_pkts,
            &self.in_bytes,
            &self.out_pkts,
            &self.out_bytes,
        ] {
            c.reset();
        }
    }
}

/// `syn_proxy = "auto"` on one worker for one service ([`crate::synauto`]).
#[derive(Clone, Debug, Default)]
pub struct SynAutoCounters {
    /// 1 while this worker answers the service's SYNs with cookies, else 0 (gauge).
    pub engaged: Counter,
    /// Times it engaged.
    pub engaged_total: Counter,
    /// Times it let go.
    pub released_total: Counter,
}

/// Everything one worker counts.
#[derive(Clone, Debug)]
pub struct WorkerCounters {
    /// Frames received (all ports).
    pub rx: Counter,
    /// Frames handed to TX.
    pub tx: Counter,
    /// Frames punted to control (ARP, ND, the box's own traffic, unresolved neighbours).
    pub punted: Counter,
    /// Frames redirected to the worker that owns their session.
    pub redirected: Counter,
    /// Frames dropped, by reason ([`DropReason::index`]).
    pub drops: [Counter; DropReason::COUNT],
    /// Sessions created.
    pub sessions_created: Counter,
    /// Sessions created from a TCP packet other than a SYN (`sloppy_tcp`): flows another
    /// gateway started, or that outlived their session here. Included in `sessions_created`.
    pub sessions_mid_flow: Counter,
    /// Sessions expired.
    pub sessions_expired: Counter,
    /// Session inserts refused (table full, no free local port, ...).
    pub insert_failures: Counter,
    /// Sessions removed to make room for a new flow in a full table: embryonic ones (half-open
    /// TCP, unanswered NAT/FullNAT UDP) and ended TCP ones (TIME_WAIT, CLOSE).
    pub sessions_evicted: Counter,
    /// FullNAT TOA insertions.
    pub toa_inserted: Counter,
    /// TOA not inserted: no TCP option space or the MTU left no room.
    pub toa_skipped: Counter,
    /// PROXY protocol headers inserted (each copy of a retransmitted first segment counts).
    pub proxy_inserted: Counter,
    /// SYN proxy: SYN-ACKs with a cookie sent for SYNs to proxied services.
    pub syn_cookies_sent: Counter,
    /// SYN proxy: ACKs whose cookie was valid (each opened a session and a server leg).
    pub syn_cookies_valid: Counter,
    /// SYN proxy: server handshakes completed (SYN-ACK answered with the client's ACK).
    pub syn_proxy_opened: Counter,
    /// SYN proxy: server handshakes refused (RST to our SYN, passed to the client).
    pub syn_proxy_refused: Counter,
    /// SYN proxy: client data segments held until the server leg opened.
    pub syn_proxy_held: Counter,
    /// ICMP errors translated for a session.
    pub icmp_translated: Counter,
    /// ICMP "fragmentation needed" sent to clients (TUN).
    pub icmp_frag_needed_sent: Counter,
    /// ICMP echo requests to a VIP answered.
    pub icmp_echo_answered: Counter,
    /// First fragments forwarded (or redirected) whose later fragments the fragment table
    /// awaits.
    pub fragments_tracked: Counter,
    /// Fragment-table entries of a live datagram overwritten by a new one (table full).
    pub fragments_evicted: Counter,
    /// Datagrams the gateway split into fragments to fit the egress MTU (TUN with Don't
    /// Fragment clear, large echo replies).
    pub fragments_sent: Counter,
    /// Frames to an address this gateway does not own under director HA (the peer does; a
    /// switch still sends here): forwarded anyway, and counted.
    pub ha_not_owned: Counter,
    /// Polls that returned packets (set by the worker loop).
    pub busy_polls: Counter,
    /// Polls that returned nothing (set by the worker loop).
    pub idle_polls: Counter,
    /// Clock ticks of the polls that returned packets, each from its start to the next
    /// poll's (set by the worker loop; TSC cycles under DPDK). Divided by `rx`, the CPU
    /// cycles per packet as `dpdk-testpmd --record-core-cycles` reports them.
    pub busy_cycles: Counter,
    /// Pauses an idle worker slept (`[dpdk] idle = "sleep"`).
    pub idle_sleeps: Counter,
    /// Microseconds those pauses took.
    pub idle_sleep_us: Counter,
    /// Live IPv4 sessions (gauge).
    pub sessions4: Counter,
    /// Live IPv6 sessions (gauge).
    pub sessions6: Counter,
    /// Configuration generation this worker runs.
    pub generation: Counter,
    /// Session-sync events published to control.
    pub sync_events: Counter,
    /// Session-sync events lost to a full ring (repaired by the next full dump).
    pub sync_overflows: Counter,
    /// Synced sessions, templates and redirect stubs installed.
    pub sync_installed: Counter,
    /// Synced sessions and templates that updated an existing one.
    pub sync_updated: Counter,
    /// Synced deletions applied.
    pub sync_removed: Counter,
    /// Synced sessions refused because a local one with the same key differs (the local one
    /// wins).
    pub sync_conflicts: Counter,
    /// Synced sessions refused for another reason (no such service, backend, route or local
    /// address here; not this worker's; table full).
    pub sync_refused: Counter,
    /// Per service, by stable id.
    pub services: Box<[TrafficCounters]>,
    /// Per backend, by stable id.
    pub backends: Box<[TrafficCounters]>,
    /// Per service, by stable id: `syn_proxy = "auto"`'s state (zero for other services).
    pub syn_auto: Box<[SynAutoCounters]>,
}

impl WorkerCounters {
    /// Counters for up to `max_services` services and `max_backends` backends (allocated now).
    pub fn new(max_services: usize, max_backends: usize) -> Self {
        WorkerCounters {
            rx: Counter::default(),
            tx: Counter::default(),
            punted: Counter::default(),
            redirected: Counter::default(),
            drops: core::array::from_fn(|_| Counter::default()),
            sessions_created: Counter::default(),
            sessions_mid_flow: Counter::default(),
            sessions_expired: Counter::default(),
            insert_failures: Counter::default(),
            sessions_evicted: Counter::default(),
            toa_inserted: Counter::default(),
            toa_skipped: Counter::default(),
            proxy_inserted: Counter::default(),
            syn_cookies_sent: Counter::default(),
            syn_cookies_valid: Counter::default(),
            syn_proxy_opened: Counter::default(),
            syn_proxy_refused: Counter::default(),
            syn_proxy_held: Counter::default(),
            icmp_translated: Counter::default(),
            icmp_frag_needed_sent: Counter::default(),
            icmp_echo_answered: Counter::default(),
            fragments_tracked: Counter::default(),
            fragments_sent: Counter::default(),
            fragments_evicted: Counter::default(),
            ha_not_owned: Counter::default(),
            busy_polls: Counter::default(),
            idle_polls: Counter::default(),
            busy_cycles: Counter::default(),
            idle_sleeps: Counter::default(),
            idle_sleep_us: Counter::default(),
            sessions4: Counter::default(),
            sessions6: Counter::default(),
            generation: Counter::default(),
            sync_events: Counter::default(),
            sync_overflows: Counter::default(),
            sync_installed: Counter::default(),
            sync_updated: Counter::default(),
            sync_removed: Counter::default(),
            sync_conflicts: Counter::default(),
            sync_refused: Counter::default(),
            services: (0..max_services)
                .map(|_| TrafficCounters::default())
                .collect(),
            backends: (0..max_backends)
                .map(|_| TrafficCounters::default())
                .collect(),
            syn_auto: (0..max_services)
                .map(|_| SynAutoCounters::default())
                .collect(),
        }
    }

    /// Count a drop.
    #[inline]
    pub fn drop_reason(&self, r: DropReason) {
        self.drops[r.index()].inc();
    }

    /// Return the count of one drop reason.
    pub fn drops_of(&self, r: DropReason) -> u64 {
        self.drops[r.index()].get()
    }

    /// Return the service counters for `id`, if in range.
    #[inline]
    pub fn service(&self, id: ServiceIdx) -> Option<&TrafficCounters> {
        self.services.get(id.index())
    }

    /// Return `syn_proxy = "auto"`'s counters of service `id`, if in range.
    pub fn syn_auto(&self, id: ServiceIdx) -> Option<&SynAutoCounters> {
        self.syn_auto.get(id.index())
    }

    /// Return the backend counters for `id`, if in range.
    #[inline]
    pub fn backend(&self, id: BackendIdx) -> Option<&TrafficCounters> {
        self.backends.get(id.index())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_counter_single_writer_semantics() {
        let c = Counter::default();
        c.add(5);
        c.inc();
        assert_eq!(c.get(), 6);
        c.dec();
        assert_eq!(c.get(), 5);
        c.reset();
        c.dec();
        assert_eq!(c.get(), 0, "a gauge never goes below zero");
    }

    #[test]
    fn test_reader_thread_sees_writer_progress() {
        let w = std::sync::Arc::new(WorkerCounters::new(4, 4));
        let r = w.clone();
        let t = std::thread::spawn(move || {
            for _ in 0..100_000 {
                w.rx.inc();
            }
        });
        t.join().unwrap();
        assert_eq!(r.rx.get(), 100_000);
        assert_eq!(r.services.len(), 4);
        r.drop_reason(DropReason::NoService);
        assert_eq!(r.drops_of(DropReason::NoService), 1);
    }
}
