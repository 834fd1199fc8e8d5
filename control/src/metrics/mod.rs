//! Prometheus metrics: a plain data view the gateway fills at each scrape, exposed through the
//! `prometheus` crate, and the HTTP endpoint that serves it.
//!
//! Design: the gateway's scrape callback (run on the endpoint's own thread, see
//! [`server::MetricsServer`]) gathers a [`prometheus::Registry`] whose custom collector
//! ([`expose::ViewCollector`]) builds a [`MetricsView`] from what already exists: the workers'
//! [`WorkerCounters`](dataplane::counters::WorkerCounters) (single-writer atomics, read without
//! locks, so a scrape costs the workers nothing), the published snapshot (labels and weights),
//! the ports' DPDK xstats, the health checker's status and the reload bookkeeping.
//! [`families`] turns the view into the crate's metric families; the crate's `TextEncoder`
//! writes them ([`expose::encode`], which also drops repeated series). Keeping the view plain
//! data makes the exposition testable without a gateway, and lets `promtool` and the dashboard
//! test check a representative exposition ([`render`]).
//!
//! Conventions (`reference/metrics.md`): the `ferrovs_` prefix, base units (bytes, seconds),
//! `_total` on counters, `_info` metrics with value 1 for metadata, addresses only in labels,
//! no rates (PromQL computes them), no pre-aggregated `total` series.
//!
//! How the gateway wires it (compile-checked; the gateway's own values replace the empty ones):
//!
//! ```
//! use std::sync::Arc;
//! use arc_swap::ArcSwap;
//! use control::metrics::{self, collect, expose, server::MetricsServer, MetricsView, PortRow, ReloadStats};
//! use dataplane::counters::WorkerCounters;
//! use dataplane::snapshot::Snapshot;
//!
//! let shared = Arc::new(ArcSwap::from_pointee(Snapshot::empty())); // what workers read
//! let workers: Vec<Arc<WorkerCounters>> = vec![Arc::new(WorkerCounters::new(4, 4))];
//! let reloads = Arc::new(ReloadStats::new()); // the control loop calls record_*()
//! # let cfg = config::parse("[dpdk]\nlcores = \"0-1\"\nhugepages = false\n[[port]]\nname = \"wan0\"\ndevice = \"net_null0\"\n", "x.toml").unwrap();
//! let health = control::health::HealthChecker::start(&cfg);
//! let health_status = health.status_handle();
//! let start = std::time::SystemTime::now();
//! // The registry's collector calls this at each scrape.
//! let view = Arc::new(move || {
//!     let snap = shared.load();
//!     let checks = health_status.status();
//!     let (services, real_servers) = collect::traffic_rows(&snap, &workers, Some(&checks));
//!     let mut view = MetricsView {
//!         start_time_seconds: metrics::unix_seconds(start),
//!         reload: reloads.status(snap.generation),
//!         services,
//!         real_servers,
//!         workers: collect::worker_rows(&workers, 1 << 20, 1 << 18),
//!         // Per port: `PortRow { name, xstats: port.xstats()? }` (dpdk::ethdev).
//!         ports: vec![PortRow { name: "wan0".into(), xstats: Vec::new() }],
//!         health: checks,
//!         ..MetricsView::default()
//!     };
//!     view.build.dpdk_version = "DPDK 22.11".into(); // dpdk::version()
//!     view
//! });
//! let registry = expose::registry(view).unwrap();
//! let source = Arc::new(move || expose::encode(&registry));
//! let server = MetricsServer::start("127.0.0.1:0".parse().unwrap(), source).unwrap();
//! // ... control loop ...
//! server.stop();
//! health.stop();
//! ```
//!
//! Label sets:
//! - service: `vip`, `port`, `protocol` (`tcp`/`udp`);
//! - real server: the service's labels plus `real_address`, `real_port`;
//! - worker: `worker` (index, 0-based);
//! - port: `port` (the configured port name);
//! - health check: `address`, `port` (the probed one), `check` (a short description such as
//!   `tcp` or `http GET /health`).

pub mod collect;
pub mod expose;
pub mod families;
pub mod server;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use dataplane::counters::{TrafficCounters, WorkerCounters};
use dataplane::wire::DropReason;

pub use crate::health::PROBE_BUCKETS;
use crate::health::{CheckStatus, FailureKind};
pub use crate::stats::{Histogram, ServiceKey};
use families::{Families, Kind, Value};

/// The crate version, for `ferrovs_build_info`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Everything one scrape exports.
#[derive(Clone, Debug, Default)]
pub struct MetricsView {
    /// Build metadata.
    pub build: BuildInfo,
    /// When the gateway started, in seconds since the Unix epoch.
    pub start_time_seconds: f64,
    /// Configuration reload bookkeeping.
    pub reload: ReloadStatus,
    /// Per virtual service traffic (one row per service).
    pub services: Vec<ServiceRow>,
    /// Per real server traffic, weight and health (one row per real server of a service).
    pub real_servers: Vec<RealServerRow>,
    /// Per worker counters.
    pub workers: Vec<WorkerRow>,
    /// Per DPDK port extended statistics.
    pub ports: Vec<PortRow>,
    /// Per DPDK port: how FullNAT replies are steered to their owning worker (fixed at start).
    pub reply_steering: Vec<PortSteeringRow>,
    /// Per health check (deduplicated per address, port and definition).
    pub health: Vec<CheckStatus>,
    /// Per port with an exception path: frames each way and drops.
    pub exception_path: Vec<ExceptionPathRow>,
    /// Frames control handed to workers, and those their inject rings refused.
    pub inject: InjectRow,
    /// Director HA; `None` without it (`ha.mode = "none"`).
    pub ha: Option<crate::ha::Report>,
    /// ECMP announcements; `None` without `[announce]`.
    pub announce: Option<crate::announce::Report>,
    /// The session-sync channel (`ferrovs_sync_*`), when `[sync]` is enabled.
    pub sync: Option<crate::sync::ChannelStats>,
}

/// One port's exception path, as [`ExceptionPathCounters::row`] reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExceptionPathRow {
    /// The configured port name.
    pub port: String,
    /// Frames for the box copied to the kernel through the TAP.
    pub to_kernel: u64,
    /// Frames the kernel sent through the TAP and the port transmitted.
    pub from_kernel: u64,
    /// Frames for the box on a port without an exception path.
    pub dropped_no_tap: u64,
    /// Frames the TAP did not take (its queue full).
    pub dropped_tap_full: u64,
    /// The kernel's ARP replies not sent: control answers ARP itself.
    pub dropped_duplicate_arp_reply: u64,
}

/// The exception path's counts of one port: control writes them, the metrics thread reads
/// them (relaxed atomics, one writer).
#[derive(Debug, Default)]
pub struct ExceptionPathCounters {
    /// See [`ExceptionPathRow::to_kernel`].
    pub to_kernel: AtomicU64,
    /// See [`ExceptionPathRow::from_kernel`].
    pub from_kernel: AtomicU64,
    /// See [`ExceptionPathRow::dropped_no_tap`].
    pub dropped_no_tap: AtomicU64,
    /// See [`ExceptionPathRow::dropped_tap_full`].
    pub dropped_tap_full: AtomicU64,
    /// See [`ExceptionPathRow::dropped_duplicate_arp_reply`].
    pub dropped_duplicate_arp_reply: AtomicU64,
}

impl ExceptionPathCounters {
    /// Add `n` to `c` (the single writer's increment).
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// Read the counts for port `port`.
    pub fn row(&self, port: &str) -> ExceptionPathRow {
        ExceptionPathRow {
            port: port.to_owned(),
            to_kernel: self.to_kernel.load(Ordering::Relaxed),
            from_kernel: self.from_kernel.load(Ordering::Relaxed),
            dropped_no_tap: self.dropped_no_tap.load(Ordering::Relaxed),
            dropped_tap_full: self.dropped_tap_full.load(Ordering::Relaxed),
            dropped_duplicate_arp_reply: self.dropped_duplicate_arp_reply.load(Ordering::Relaxed),
        }
    }
}

/// Control's frames for the workers, as [`InjectCounters::row`] reads them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InjectRow {
    /// Frames handed to a worker: control's own RX queues' (peers that spread flows over every
    /// queue, such as AF_PACKET fanout, deliver data there) and held frames released.
    pub injected: u64,
    /// Frames a worker's inject ring did not take (the worker behind), dropped.
    pub dropped: u64,
}

/// [`InjectRow`]'s counts: control writes them, the metrics thread reads them (relaxed
/// atomics, one writer).
#[derive(Debug, Default)]
pub struct InjectCounters {
    /// See [`InjectRow::injected`].
    pub injected: AtomicU64,
    /// See [`InjectRow::dropped`].
    pub dropped: AtomicU64,
}

impl InjectCounters {
    /// Read the counts.
    pub fn row(&self) -> InjectRow {
        InjectRow {
            injected: self.injected.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

/// Build metadata for `ferrovs_build_info`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildInfo {
    /// ferrovs version.
    pub version: String,
    /// DPDK version the gateway runs on (`rte_version()`), empty when unknown.
    pub dpdk_version: String,
}

impl Default for BuildInfo {
    fn default() -> Self {
        Self {
            version: VERSION.to_owned(),
            dpdk_version: String::new(),
        }
    }
}

/// Reload bookkeeping the gateway keeps (Prometheus's own reload metrics are the model).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReloadStatus {
    /// Reloads attempted (SIGHUP, `ferrovsadm --reload`).
    pub reloads_total: u64,
    /// Reloads that failed and changed nothing.
    pub failures_total: u64,
    /// Whether the last reload succeeded (true before the first reload: the boot config works).
    pub last_successful: bool,
    /// When the configuration was last loaded successfully (boot counts), seconds since the epoch.
    pub last_success_timestamp_seconds: f64,
    /// Generation of the snapshot control published last.
    pub generation: u64,
}

/// Reload bookkeeping shared by the control loop (which records outcomes) and the metrics
/// thread (which reads them); atomics, so neither waits for the other.
#[derive(Debug)]
pub struct ReloadStats {
    reloads: AtomicU64,
    failures: AtomicU64,
    last_failed: AtomicBool,
    /// `f64::to_bits` of the last success time in Unix seconds.
    last_success: AtomicU64,
}

impl Default for ReloadStats {
    fn default() -> Self {
        Self::new()
    }
}

impl ReloadStats {
    /// Start with the boot configuration counted as loaded successfully now.
    pub fn new() -> Self {
        Self {
            reloads: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            last_failed: AtomicBool::new(false),
            last_success: AtomicU64::new(unix_seconds(SystemTime::now()).to_bits()),
        }
    }

    /// Record a reload that took effect.
    pub fn record_success(&self) {
        self.reloads.fetch_add(1, Ordering::Relaxed);
        self.last_failed.store(false, Ordering::Relaxed);
        self.last_success
            .store(unix_seconds(SystemTime::now()).to_bits(), Ordering::Relaxed);
    }

    /// Record a reload that failed and changed nothing.
    pub fn record_failure(&self) {
        self.reloads.fetch_add(1, Ordering::Relaxed);
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.last_failed.store(true, Ordering::Relaxed);
    }

    /// Return the status for a view, with the generation of the snapshot published last.
    pub fn status(&self, generation: u64) -> ReloadStatus {
        ReloadStatus {
            reloads_total: self.reloads.load(Ordering::Relaxed),
            failures_total: self.failures.load(Ordering::Relaxed),
            last_successful: !self.last_failed.load(Ordering::Relaxed),
            last_success_timestamp_seconds: f64::from_bits(
                self.last_success.load(Ordering::Relaxed),
            ),
            generation,
        }
    }
}

/// Return `t` in seconds since the Unix epoch (0 for times before it).
pub fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Traffic counters of a service or real server, summed over the workers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Connections scheduled.
    pub connections: u64,
    /// Packets client -> real server.
    pub in_packets: u64,
    /// Bytes client -> real server.
    pub in_bytes: u64,
    /// Packets real server -> client through the gateway (NAT, FullNAT; 0 for DR/TUN).
    pub out_packets: u64,
    /// Bytes real server -> client through the gateway.
    pub out_bytes: u64,
    /// Established TCP connections now (ipvsadm ActiveConn).
    pub active: u64,
    /// Other connections now (ipvsadm InActConn).
    pub inactive: u64,
}

impl Traffic {
    /// Read one worker's counters (relaxed atomic loads; never blocks the worker).
    pub fn read(c: &TrafficCounters) -> Self {
        Self {
            connections: c.conns.get(),
            in_packets: c.in_pkts.get(),
            in_bytes: c.in_bytes.get(),
            out_packets: c.out_pkts.get(),
            out_bytes: c.out_bytes.get(),
            active: c.active.get(),
            inactive: c.inactive.get(),
        }
    }

    /// Add another worker's counters.
    pub fn add(&mut self, o: &Traffic) {
        self.connections = self.connections.wrapping_add(o.connections);
        self.in_packets = self.in_packets.wrapping_add(o.in_packets);
        self.in_bytes = self.in_bytes.wrapping_add(o.in_bytes);
        self.out_packets = self.out_packets.wrapping_add(o.out_packets);
        self.out_bytes = self.out_bytes.wrapping_add(o.out_bytes);
        self.active = self.active.wrapping_add(o.active);
        self.inactive = self.inactive.wrapping_add(o.inactive);
    }
}

/// One virtual service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceRow {
    /// Identity.
    pub key: ServiceKey,
    /// Scheduler, named (`wlc`) in `ferrovs_service_info`.
    pub scheduler: types::SchedulerKind,
    /// Traffic summed over workers.
    pub traffic: Traffic,
    /// The SYN proxy on the workers.
    pub syn_proxy: SynProxyRow,
}

/// A service's SYN proxy, over the workers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SynProxyRow {
    /// Workers answering its SYNs with cookies now: every worker with `syn_proxy = "on"`,
    /// those that engaged it with `"auto"`, none with `"off"`.
    pub engaged_workers: u64,
    /// `auto`: times a worker engaged it.
    pub engaged_total: u64,
    /// `auto`: times a worker let it go.
    pub released_total: u64,
}

/// One real server of a service (or its sorry server).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealServerRow {
    /// The owning service.
    pub service: ServiceKey,
    /// Real server address.
    pub address: IpAddr,
    /// Real server port.
    pub port: u16,
    /// Forwarding method, named (`dr`, `nat`, `tun`, `fullnat`) in the labels.
    pub forward: types::Forward,
    /// Whether this is the service's sorry server rather than a real server.
    pub sorry: bool,
    /// Weight in the running snapshot (0 while inhibited by a failed health check).
    pub weight: u32,
    /// Healthy: the health check (if any) passes and the server takes new flows.
    pub up: bool,
    /// Traffic summed over workers.
    pub traffic: Traffic,
}

/// One worker's counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerRow {
    /// Worker index (the `worker` label).
    pub worker: usize,
    /// Frames received.
    pub rx_packets: u64,
    /// Frames handed to TX.
    pub tx_packets: u64,
    /// Frames punted to control.
    pub punted_packets: u64,
    /// Frames redirected to the worker owning their session.
    pub redirected_packets: u64,
    /// Drops by reason, indexed by [`DropReason::index`].
    pub drops: [u64; DropReason::COUNT],
    /// Sessions created.
    pub sessions_created: u64,
    /// Sessions created from a TCP segment other than a SYN (`sloppy_tcp`).
    pub sessions_mid_flow: u64,
    /// Sessions expired.
    pub sessions_expired: u64,
    /// Session inserts refused.
    pub insert_failures: u64,
    /// Sessions evicted to make room: embryonic ones and ended TCP ones (TIME_WAIT, CLOSE).
    pub sessions_evicted: u64,
    /// Live IPv4 sessions.
    pub sessions_ipv4: u64,
    /// Live IPv6 sessions.
    pub sessions_ipv6: u64,
    /// IPv4 session table capacity (the gateway knows it from its `WorkerConfig`).
    pub capacity_ipv4: u64,
    /// IPv6 session table capacity.
    pub capacity_ipv6: u64,
    /// Polls that returned packets.
    pub busy_polls: u64,
    /// Polls that returned nothing.
    pub idle_polls: u64,
    /// TSC cycles spent in polls that returned packets.
    pub busy_cycles: u64,
    /// Pauses slept by an idle worker (`[dpdk] idle = "sleep"`).
    pub idle_sleeps: u64,
    /// Microseconds those pauses took.
    pub idle_sleep_us: u64,
    /// FullNAT TOA options inserted.
    pub toa_inserted: u64,
    /// FullNAT TOA options skipped for lack of room.
    pub toa_skipped: u64,
    /// PROXY protocol headers inserted (one per copy of a retransmitted first segment).
    pub proxy_inserted: u64,
    /// SYN proxy: cookies sent, valid cookies, server legs opened and refused, data held.
    pub syn_cookies_sent: u64,
    /// See `syn_cookies_sent`.
    pub syn_cookies_valid: u64,
    /// See `syn_cookies_sent`.
    pub syn_proxy_opened: u64,
    /// See `syn_cookies_sent`.
    pub syn_proxy_refused: u64,
    /// See `syn_cookies_sent`.
    pub syn_proxy_held: u64,
    /// ICMP errors translated for a session.
    pub icmp_translated: u64,
    /// ICMP "fragmentation needed" sent.
    pub icmp_frag_needed_sent: u64,
    /// ICMP echo requests to a VIP answered.
    pub icmp_echo_answered: u64,
    /// First fragments whose later fragments the fragment table awaits.
    pub fragments_tracked: u64,
    /// Fragment-table entries of a live datagram overwritten (table full).
    pub fragments_evicted: u64,
    /// Datagrams split into fragments to fit the egress MTU.
    pub fragments_sent: u64,
    /// Frames to an address director HA does not own (forwarded anyway).
    pub ha_not_owned: u64,
    /// Configuration generation the worker runs.
    pub generation: u64,
    /// Session-sync events published to control.
    pub sync_events: u64,
    /// Session-sync events lost to a full ring (a full resync repairs them).
    pub sync_overflows: u64,
    /// Synced sessions, templates and redirect stubs installed.
    pub sync_installed: u64,
    /// Synced sessions and templates that updated an existing one.
    pub sync_updated: u64,
    /// Synced deletions applied.
    pub sync_removed: u64,
    /// Synced sessions refused because a local one with the same key differs (the local one wins).
    pub sync_conflicts: u64,
    /// Synced sessions refused for another reason (no service, backend, route or local address here; misplaced; table full).
    pub sync_refused: u64,
}

impl WorkerRow {
    /// Read worker `worker`'s counters (relaxed atomic loads; never blocks the worker).
    /// `capacity_ipv4`/`capacity_ipv6` are the session table sizes the gateway configured.
    pub fn read(worker: usize, c: &WorkerCounters, capacity_ipv4: u64, capacity_ipv6: u64) -> Self {
        Self {
            worker,
            rx_packets: c.rx.get(),
            tx_packets: c.tx.get(),
            punted_packets: c.punted.get(),
            redirected_packets: c.redirected.get(),
            drops: core::array::from_fn(|i| c.drops[i].get()),
            sessions_created: c.sessions_created.get(),
            sessions_mid_flow: c.sessions_mid_flow.get(),
            sessions_expired: c.sessions_expired.get(),
            insert_failures: c.insert_failures.get(),
            sessions_evicted: c.sessions_evicted.get(),
            sessions_ipv4: c.sessions4.get(),
            sessions_ipv6: c.sessions6.get(),
            capacity_ipv4,
            capacity_ipv6,
            busy_polls: c.busy_polls.get(),
            idle_polls: c.idle_polls.get(),
            busy_cycles: c.busy_cycles.get(),
            idle_sleeps: c.idle_sleeps.get(),
            idle_sleep_us: c.idle_sleep_us.get(),
            toa_inserted: c.toa_inserted.get(),
            toa_skipped: c.toa_skipped.get(),
            proxy_inserted: c.proxy_inserted.get(),
            syn_cookies_sent: c.syn_cookies_sent.get(),
            syn_cookies_valid: c.syn_cookies_valid.get(),
            syn_proxy_opened: c.syn_proxy_opened.get(),
            syn_proxy_refused: c.syn_proxy_refused.get(),
            syn_proxy_held: c.syn_proxy_held.get(),
            icmp_translated: c.icmp_translated.get(),
            icmp_frag_needed_sent: c.icmp_frag_needed_sent.get(),
            icmp_echo_answered: c.icmp_echo_answered.get(),
            fragments_tracked: c.fragments_tracked.get(),
            fragments_sent: c.fragments_sent.get(),
            fragments_evicted: c.fragments_evicted.get(),
            ha_not_owned: c.ha_not_owned.get(),
            generation: c.generation.get(),
            sync_events: c.sync_events.get(),
            sync_overflows: c.sync_overflows.get(),
            sync_installed: c.sync_installed.get(),
            sync_updated: c.sync_updated.get(),
            sync_removed: c.sync_removed.get(),
            sync_conflicts: c.sync_conflicts.get(),
            sync_refused: c.sync_refused.get(),
        }
    }
}

/// One DPDK port's extended statistics (`rte_eth_xstats_get`), as `(name, value)` pairs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortRow {
    /// The configured port name (`wan0`).
    pub name: String,
    /// Every xstat the driver reports.
    pub xstats: Vec<(String, u64)>,
}

/// How one port steers FullNAT replies to the worker that owns their session (DESIGN §5),
/// chosen at start from the port's capabilities.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortSteeringRow {
    /// The configured port name (`wan0`).
    pub port: String,
    /// `flow` (NIC `rte_flow` rules), `rss` (RSS-aware local ports), `redirect` (software
    /// redirect rings) or `single` (one worker: nothing to steer).
    pub mode: String,
}

/// The generic ethdev xstats every DPDK driver reports (`eth_dev_stats_strings` in
/// `lib/ethdev/rte_ethdev.c`), mapped to stable metric names. Everything else passes through as
/// `ferrovs_port_xstat{name=...}`.
pub const PORT_XSTATS: [(&str, &str, &str); 8] = [
    (
        "rx_good_packets",
        "ferrovs_port_rx_packets_total",
        "Packets received by the port.",
    ),
    (
        "tx_good_packets",
        "ferrovs_port_tx_packets_total",
        "Packets transmitted by the port.",
    ),
    (
        "rx_good_bytes",
        "ferrovs_port_rx_bytes_total",
        "Bytes received by the port.",
    ),
    (
        "tx_good_bytes",
        "ferrovs_port_tx_bytes_total",
        "Bytes transmitted by the port.",
    ),
    (
        "rx_missed_errors",
        "ferrovs_port_rx_missed_total",
        "Packets the NIC dropped because the RX queues were full (DPDK imissed).",
    ),
    (
        "rx_errors",
        "ferrovs_port_rx_errors_total",
        "Erroneous packets received (DPDK ierrors).",
    ),
    (
        "tx_errors",
        "ferrovs_port_tx_errors_total",
        "Packets that failed to transmit (DPDK oerrors).",
    ),
    (
        "rx_mbuf_allocation_errors",
        "ferrovs_port_rx_nombuf_total",
        "RX mbuf allocation failures (DPDK rx_nombuf).",
    ),
];

fn ip_text(a: IpAddr) -> String {
    a.to_string()
}

/// Render the view as Prometheus text exposition format 0.0.4: through a registry holding a
/// [`expose::ViewCollector`] over (a copy of) `v`, as the gateway's endpoint does.
pub fn render(v: &MetricsView) -> String {
    let view = v.clone();
    match expose::registry(Arc::new(move || view.clone())) {
        Ok(r) => expose::encode(&r),
        // A fresh registry always takes its first collector; were it to refuse, the same
        // families still go out (in the order written rather than by name).
        Err(_) => expose::encode_families(families(v)),
    }
}

/// Return the metric families of the view, in the crate's data model (what the collector
/// returns at each scrape).
pub fn families(v: &MetricsView) -> Vec<prometheus::proto::MetricFamily> {
    let mut e = Families::new();
    render_process(&mut e, v);
    render_services(&mut e, &v.services);
    render_real_servers(&mut e, &v.real_servers);
    render_workers(&mut e, &v.workers);
    render_ports(&mut e, &v.ports);
    render_reply_steering(&mut e, &v.reply_steering);
    render_health(&mut e, &v.health);
    render_exception_path(&mut e, &v.exception_path);
    render_inject(&mut e, v.inject);
    if let Some(ha) = &v.ha {
        render_ha(&mut e, ha);
    }
    if let Some(a) = &v.announce {
        render_announce(&mut e, a);
    }
    if let Some(s) = &v.sync {
        crate::sync::export::render(&mut e, s);
    }
    e.finish()
}

fn render_inject(e: &mut Families, r: InjectRow) {
    e.begin(
        "ferrovs_control_injected_packets_total",
        "Frames control handed to a worker: what arrived on control's own RX queues (peers that spread flows over every queue, such as AF_PACKET fanout) and held frames whose next hop resolved.",
        Kind::Counter,
    );
    e.sample(&[], r.injected);
    e.begin(
        "ferrovs_control_inject_dropped_packets_total",
        "Frames for a worker that its inject ring did not take (the worker behind), dropped.",
        Kind::Counter,
    );
    e.sample(&[], r.dropped);
}

fn render_exception_path(e: &mut Families, rows: &[ExceptionPathRow]) {
    e.begin(
        "ferrovs_exception_path_to_kernel_packets_total",
        "Frames for the box itself (its addresses, link-local multicast, neighbour discovery) copied to the kernel through the port's exception-path TAP.",
        Kind::Counter,
    );
    for r in rows {
        e.sample(&[("port", &r.port)], r.to_kernel);
    }
    e.begin(
        "ferrovs_exception_path_from_kernel_packets_total",
        "Frames the kernel sent through the port's exception-path TAP and the port transmitted.",
        Kind::Counter,
    );
    for r in rows {
        e.sample(&[("port", &r.port)], r.from_kernel);
    }
    e.begin(
        "ferrovs_exception_path_dropped_packets_total",
        "Exception-path frames not delivered, by reason (no_tap: the port has no exception path; tap_full: the TAP's queue was full; duplicate_arp_reply: the kernel's ARP reply, control answers ARP itself).",
        Kind::Counter,
    );
    for r in rows {
        for (reason, n) in [
            ("no_tap", r.dropped_no_tap),
            ("tap_full", r.dropped_tap_full),
            ("duplicate_arp_reply", r.dropped_duplicate_arp_reply),
        ] {
            e.sample(&[("port", &r.port), ("reason", reason)], n);
        }
    }
}

fn render_announce(e: &mut Families, a: &crate::announce::Report) {
    e.begin(
        "ferrovs_vip_announced",
        "Whether the VIP's host route is in ferrovs's routing table now, for BIRD to announce (1), or withdrawn (0: no real server up with weight > 0, held by rise / hold_down, or drained).",
        Kind::Gauge,
    );
    for r in &a.rows {
        sample_owned(e, &[("vip", ip_text(r.vip))], Value::from(r.announced));
    }
    e.begin(
        "ferrovs_vip_announce_transitions_total",
        "Announcements and withdrawals of the VIP's route.",
        Kind::Counter,
    );
    for r in &a.rows {
        sample_owned(e, &[("vip", ip_text(r.vip))], Value::from(r.transitions));
    }
    for (name, help, v) in [
        (
            "ferrovs_announce_drained",
            "Whether every VIP is withdrawn by ferrovsadm --drain or a stop (1) or announced while healthy (0).",
            a.drained,
        ),
        (
            "ferrovs_announce_table_ok",
            "Whether ferrovs's routing table holds exactly the announced VIPs' routes (0: see the log and ferrovsadm -L --announce).",
            a.problem.is_none(),
        ),
        (
            "ferrovs_bird_up",
            "Whether BIRD answers on its control socket ([announce] bird_socket). A BIRD that is down changes nothing in forwarding; the routers withdraw the VIPs when its BGP sessions drop.",
            a.bird_up,
        ),
    ] {
        e.begin(name, help, Kind::Gauge);
        e.sample(&[], Value::from(v));
    }
    e.begin(
        "ferrovs_announce_table_foreign_routes",
        "Routes in ferrovs's routing table that are not ferrovs's (left alone; ferrovs check refuses such a table).",
        Kind::Gauge,
    );
    e.sample(&[], a.foreign.len() as u64);
    e.begin(
        "ferrovs_announce_table_errors_total",
        "Syncs of the routing table that failed (rtnetlink errors).",
        Kind::Counter,
    );
    e.sample(&[], a.errors);
}

fn render_ha(e: &mut Families, ha: &crate::ha::Report) {
    e.begin(
        "ferrovs_ha_address_owned",
        "Whether this gateway owns the address now (1: keepalived has it on an exception-path TAP; 0: the peer owns it, no ARP/ND answers).",
        Kind::Gauge,
    );
    for r in &ha.rows {
        sample_owned(e, &[("address", ip_text(r.addr))], Value::from(r.owned));
    }
    e.begin(
        "ferrovs_ha_transitions_total",
        "Ownership changes of the addresses director HA follows.",
        Kind::Counter,
    );
    e.sample(&[], ha.transitions);
    e.begin(
        "ferrovs_ha_last_change_timestamp_seconds",
        "When ownership last changed, in seconds since the Unix epoch (no sample before the first change).",
        Kind::Gauge,
    );
    if let Some(t) = ha.last_change {
        e.sample(&[], unix_seconds(t));
    }
    e.begin(
        "ferrovs_ha_watcher_up",
        "Whether the rtnetlink watcher follows the kernel's addresses (1) or is reopening its sockets after an error (0).",
        Kind::Gauge,
    );
    e.sample(&[], ha.problem.is_none() && ha.synced);
    let w = &ha.watch;
    for (name, help, v) in [
        (
            "ferrovs_ha_netlink_unexpected_messages_total",
            "rtnetlink messages the watcher did not expect, ignored.",
            w.unexpected,
        ),
        (
            "ferrovs_ha_netlink_undecodable_messages_total",
            "rtnetlink messages that did not decode, ignored.",
            w.undecodable,
        ),
        (
            "ferrovs_ha_netlink_resyncs_total",
            "Address dumps after the first (lost notifications, unknown interfaces, socket errors).",
            w.resyncs,
        ),
        (
            "ferrovs_ha_netlink_errors_total",
            "rtnetlink socket errors (the watcher reopens its sockets a second later).",
            w.errors,
        ),
    ] {
        e.begin(name, help, Kind::Counter);
        e.sample(&[], v);
    }
}

fn render_process(e: &mut Families, v: &MetricsView) {
    e.begin(
        "ferrovs_build_info",
        "Build information; the value is always 1.",
        Kind::Gauge,
    );
    e.sample(
        &[
            ("version", &v.build.version),
            ("dpdk_version", &v.build.dpdk_version),
        ],
        1u64,
    );
    e.begin(
        "ferrovs_start_time_seconds",
        "When the gateway started, in seconds since the Unix epoch.",
        Kind::Gauge,
    );
    e.sample(&[], v.start_time_seconds);
    let r = &v.reload;
    e.begin(
        "ferrovs_config_reloads_total",
        "Configuration reloads attempted (SIGHUP or ferrovsadm --reload).",
        Kind::Counter,
    );
    e.sample(&[], r.reloads_total);
    e.begin(
        "ferrovs_config_reload_failures_total",
        "Configuration reloads that failed and changed nothing.",
        Kind::Counter,
    );
    e.sample(&[], r.failures_total);
    e.begin(
        "ferrovs_config_last_reload_successful",
        "Whether the last configuration reload succeeded (1) or failed (0).",
        Kind::Gauge,
    );
    e.sample(&[], r.last_successful);
    e.begin(
        "ferrovs_config_last_reload_success_timestamp_seconds",
        "When the configuration was last loaded successfully, in seconds since the Unix epoch.",
        Kind::Gauge,
    );
    e.sample(&[], r.last_success_timestamp_seconds);
    e.begin(
        "ferrovs_config_generation",
        "Generation of the configuration snapshot control published last.",
        Kind::Gauge,
    );
    e.sample(&[], r.generation);
}

/// The traffic families shared by services and real servers: (suffix, help, counter?, field).
type TrafficField = (&'static str, &'static str, Kind, fn(&Traffic) -> u64);

const TRAFFIC: [TrafficField; 7] = [
    (
        "connections_total",
        "Connections scheduled",
        Kind::Counter,
        |t| t.connections,
    ),
    (
        "in_packets_total",
        "Packets from clients toward the real servers",
        Kind::Counter,
        |t| t.in_packets,
    ),
    (
        "in_bytes_total",
        "Bytes (IP packet length) from clients toward the real servers",
        Kind::Counter,
        |t| t.in_bytes,
    ),
    (
        "out_packets_total",
        "Packets from the real servers back to clients through the gateway (NAT and FullNAT; 0 for DR and TUN, whose replies bypass the gateway)",
        Kind::Counter,
        |t| t.out_packets,
    ),
    (
        "out_bytes_total",
        "Bytes (IP packet length) from the real servers back to clients through the gateway (NAT and FullNAT only)",
        Kind::Counter,
        |t| t.out_bytes,
    ),
    (
        "connections_active",
        "Established TCP connections now (ipvsadm ActiveConn)",
        Kind::Gauge,
        |t| t.active,
    ),
    (
        "connections_inactive",
        "Connections in any other state now (ipvsadm InActConn)",
        Kind::Gauge,
        |t| t.inactive,
    ),
];

fn render_services(e: &mut Families, rows: &[ServiceRow]) {
    let labels: Vec<[String; 3]> = rows
        .iter()
        .map(|r| {
            [
                ip_text(r.key.vip),
                r.key.port.to_string(),
                r.key.protocol.as_str().to_owned(),
            ]
        })
        .collect();
    let lv = |l: &[String; 3]| -> [(&'static str, String); 3] {
        [
            ("vip", l[0].clone()),
            ("port", l[1].clone()),
            ("protocol", l[2].clone()),
        ]
    };
    e.begin(
        "ferrovs_service_info",
        "Virtual service metadata; the value is always 1.",
        Kind::Gauge,
    );
    for (r, l) in rows.iter().zip(&labels) {
        let mut ls = lv(l).to_vec();
        ls.push(("scheduler", r.scheduler.as_str().to_owned()));
        sample_owned(e, &ls, Value::U(1));
    }
    e.begin(
        "ferrovs_service_syn_proxy_engaged_workers",
        "Workers answering the virtual service's SYNs with SYN cookies now: all with syn_proxy = on, those whose own SYN rate or session table fill engaged it with syn_proxy = auto, none with off.",
        Kind::Gauge,
    );
    for (r, l) in rows.iter().zip(&labels) {
        sample_owned(e, &lv(l), Value::U(r.syn_proxy.engaged_workers));
    }
    e.begin(
        "ferrovs_service_syn_proxy_switches_total",
        "syn_proxy = auto: times a worker engaged (to=on) or let go of (to=off) the SYN proxy for the virtual service.",
        Kind::Counter,
    );
    for (r, l) in rows.iter().zip(&labels) {
        for (to, v) in [
            ("on", r.syn_proxy.engaged_total),
            ("off", r.syn_proxy.released_total),
        ] {
            let mut ls = lv(l).to_vec();
            ls.push(("to", to.to_owned()));
            sample_owned(e, &ls, Value::U(v));
        }
    }
    for (suffix, help, kind, f) in TRAFFIC {
        e.begin(
            &format!("ferrovs_service_{suffix}"),
            &format!("{help}, per virtual service."),
            kind,
        );
        for (r, l) in rows.iter().zip(&labels) {
            sample_owned(e, &lv(l), Value::U(f(&r.traffic)));
        }
    }
}

fn render_real_servers(e: &mut Families, rows: &[RealServerRow]) {
    let labels: Vec<Vec<(&'static str, String)>> = rows
        .iter()
        .map(|r| {
            vec![
                ("vip", ip_text(r.service.vip)),
                ("port", r.service.port.to_string()),
                ("protocol", r.service.protocol.as_str().to_owned()),
                ("real_address", ip_text(r.address)),
                ("real_port", r.port.to_string()),
            ]
        })
        .collect();
    e.begin(
        "ferrovs_real_server_info",
        "Real server metadata (forwarding method, whether it is the sorry server); the value is always 1.",
        Kind::Gauge,
    );
    for (r, l) in rows.iter().zip(&labels) {
        let mut ls = l.clone();
        ls.push(("forward", r.forward.as_str().to_owned()));
        ls.push(("sorry", if r.sorry { "true" } else { "false" }.to_owned()));
        sample_owned(e, &ls, Value::U(1));
    }
    e.begin(
        "ferrovs_real_server_weight",
        "Scheduling weight in the running configuration (0 while inhibited by a failed health check).",
        Kind::Gauge,
    );
    for (r, l) in rows.iter().zip(&labels) {
        sample_owned(e, l, Value::from(r.weight));
    }
    e.begin(
        "ferrovs_real_server_up",
        "Whether the real server is healthy and takes new flows (1) or is down (0); servers without a health check are 1.",
        Kind::Gauge,
    );
    for (r, l) in rows.iter().zip(&labels) {
        sample_owned(e, l, Value::from(r.up));
    }
    for (suffix, help, kind, f) in TRAFFIC {
        e.begin(
            &format!("ferrovs_real_server_{suffix}"),
            &format!("{help}, per real server."),
            kind,
        );
        for (r, l) in rows.iter().zip(&labels) {
            sample_owned(e, l, Value::U(f(&r.traffic)));
        }
    }
}

/// Per worker counter families: (name, help, field).
type WorkerField = (&'static str, &'static str, Kind, fn(&WorkerRow) -> u64);

const WORKER: [WorkerField; 36] = [
    (
        "ferrovs_worker_rx_packets_total",
        "Frames received by the worker, all ports.",
        Kind::Counter,
        |w| w.rx_packets,
    ),
    (
        "ferrovs_worker_tx_packets_total",
        "Frames the worker handed to TX.",
        Kind::Counter,
        |w| w.tx_packets,
    ),
    (
        "ferrovs_worker_punted_packets_total",
        "Frames punted to control (ARP, ND, the box's own traffic, unresolved neighbours).",
        Kind::Counter,
        |w| w.punted_packets,
    ),
    (
        "ferrovs_worker_redirected_packets_total",
        "Frames redirected to the worker that owns their session.",
        Kind::Counter,
        |w| w.redirected_packets,
    ),
    (
        "ferrovs_worker_sessions_created_total",
        "Sessions created.",
        Kind::Counter,
        |w| w.sessions_created,
    ),
    (
        "ferrovs_worker_sessions_mid_flow_total",
        "Sessions created from a TCP segment other than a SYN (sloppy_tcp: a flow another gateway started).",
        Kind::Counter,
        |w| w.sessions_mid_flow,
    ),
    (
        "ferrovs_worker_sessions_expired_total",
        "Sessions expired.",
        Kind::Counter,
        |w| w.sessions_expired,
    ),
    (
        "ferrovs_worker_session_insert_failures_total",
        "Session inserts refused (table full, no free local port, ...).",
        Kind::Counter,
        |w| w.insert_failures,
    ),
    (
        "ferrovs_worker_sessions_evicted_total",
        "Sessions given up for a new flow in a full table: embryonic (half-open TCP, unanswered NAT/FullNAT UDP) or ended TCP (TIME_WAIT, CLOSE).",
        Kind::Counter,
        |w| w.sessions_evicted,
    ),
    (
        "ferrovs_worker_busy_polls_total",
        "Poll loop iterations that received packets.",
        Kind::Counter,
        |w| w.busy_polls,
    ),
    (
        "ferrovs_worker_busy_cycles_total",
        "TSC cycles spent in poll loop iterations that received packets; divided by ferrovs_worker_rx_packets_total, the CPU cycles per packet (dpdk-testpmd --record-core-cycles).",
        Kind::Counter,
        |w| w.busy_cycles,
    ),
    (
        "ferrovs_worker_idle_polls_total",
        "Poll loop iterations that received nothing.",
        Kind::Counter,
        |w| w.idle_polls,
    ),
    (
        "ferrovs_worker_idle_sleeps_total",
        "Pauses an idle worker slept between polls ([dpdk] idle = \"sleep\").",
        Kind::Counter,
        |w| w.idle_sleeps,
    ),
    (
        "ferrovs_worker_toa_inserted_total",
        "FullNAT TOA options (client address) inserted.",
        Kind::Counter,
        |w| w.toa_inserted,
    ),
    (
        "ferrovs_worker_toa_skipped_total",
        "FullNAT TOA options not inserted for lack of TCP option space or MTU room.",
        Kind::Counter,
        |w| w.toa_skipped,
    ),
    (
        "ferrovs_worker_proxy_inserted_total",
        "PROXY protocol headers (client address) inserted, one per copy of a retransmitted first segment.",
        Kind::Counter,
        |w| w.proxy_inserted,
    ),
    (
        "ferrovs_worker_syn_cookies_sent_total",
        "SYN proxy: SYN-ACKs carrying a SYN cookie sent (no session is made for the SYN).",
        Kind::Counter,
        |w| w.syn_cookies_sent,
    ),
    (
        "ferrovs_worker_syn_cookies_valid_total",
        "SYN proxy: ACKs with a valid cookie (each opened a session and the server leg); refused ones are drops with reason syn_proxy_cookie_bad or syn_proxy_cookie_stale.",
        Kind::Counter,
        |w| w.syn_cookies_valid,
    ),
    (
        "ferrovs_worker_syn_proxy_server_opened_total",
        "SYN proxy: server handshakes completed.",
        Kind::Counter,
        |w| w.syn_proxy_opened,
    ),
    (
        "ferrovs_worker_syn_proxy_server_refused_total",
        "SYN proxy: server handshakes refused by a RST (passed on to the client).",
        Kind::Counter,
        |w| w.syn_proxy_refused,
    ),
    (
        "ferrovs_worker_syn_proxy_held_total",
        "SYN proxy: client data segments held until the server handshake completed.",
        Kind::Counter,
        |w| w.syn_proxy_held,
    ),
    (
        "ferrovs_worker_icmp_translated_total",
        "ICMP errors translated for a session.",
        Kind::Counter,
        |w| w.icmp_translated,
    ),
    (
        "ferrovs_worker_icmp_frag_needed_sent_total",
        "ICMP fragmentation-needed messages sent to clients (TUN).",
        Kind::Counter,
        |w| w.icmp_frag_needed_sent,
    ),
    (
        "ferrovs_worker_icmp_echo_answered_total",
        "ICMP echo requests to a VIP answered.",
        Kind::Counter,
        |w| w.icmp_echo_answered,
    ),
    (
        "ferrovs_worker_fragments_tracked_total",
        "First fragments whose later fragments the fragment table awaits.",
        Kind::Counter,
        |w| w.fragments_tracked,
    ),
    (
        "ferrovs_worker_fragments_sent_total",
        "Datagrams split into fragments to fit the egress MTU (TUN with DF clear, large echo replies).",
        Kind::Counter,
        |w| w.fragments_sent,
    ),
    (
        "ferrovs_worker_fragments_evicted_total",
        "Fragment-table entries of a live datagram overwritten by a new one (table full).",
        Kind::Counter,
        |w| w.fragments_evicted,
    ),
    (
        "ferrovs_worker_sync_events_total",
        "Session-sync events (created, state, template, deleted, dumped) published to control.",
        Kind::Counter,
        |w| w.sync_events,
    ),
    (
        "ferrovs_worker_sync_ring_overflows_total",
        "Session-sync events lost to a full ring (repaired by the next full dump).",
        Kind::Counter,
        |w| w.sync_overflows,
    ),
    (
        "ferrovs_worker_sync_installed_total",
        "Sessions, templates and redirect stubs from a peer installed.",
        Kind::Counter,
        |w| w.sync_installed,
    ),
    (
        "ferrovs_worker_sync_updated_total",
        "Sessions and templates from a peer that updated an existing one.",
        Kind::Counter,
        |w| w.sync_updated,
    ),
    (
        "ferrovs_worker_sync_removed_total",
        "Deletions from a peer applied.",
        Kind::Counter,
        |w| w.sync_removed,
    ),
    (
        "ferrovs_worker_sync_conflicts_total",
        "Sessions from a peer refused: a local session with the same key differs (it wins).",
        Kind::Counter,
        |w| w.sync_conflicts,
    ),
    (
        "ferrovs_worker_sync_refused_total",
        "Sessions from a peer refused: no such service, backend, route or local address here, \
         misplaced, or table full.",
        Kind::Counter,
        |w| w.sync_refused,
    ),
    (
        "ferrovs_worker_ha_not_owned_packets_total",
        "Frames to an address director HA does not own now (the peer does), forwarded anyway because a switch may lag behind a failover.",
        Kind::Counter,
        |w| w.ha_not_owned,
    ),
    (
        "ferrovs_worker_config_generation",
        "Configuration generation the worker runs.",
        Kind::Gauge,
        |w| w.generation,
    ),
];

fn render_workers(e: &mut Families, rows: &[WorkerRow]) {
    let ids: Vec<String> = rows.iter().map(|w| w.worker.to_string()).collect();
    for (name, help, kind, f) in WORKER {
        e.begin(name, help, kind);
        for (w, id) in rows.iter().zip(&ids) {
            e.sample(&[("worker", id)], f(w));
        }
    }
    e.begin(
        "ferrovs_worker_idle_sleep_seconds_total",
        "Time an idle worker slept between polls.",
        Kind::Counter,
    );
    for (w, id) in rows.iter().zip(&ids) {
        e.sample(&[("worker", id)], Value::F(w.idle_sleep_us as f64 / 1e6));
    }
    e.begin(
        "ferrovs_worker_drops_total",
        "Frames dropped by the worker, by reason.",
        Kind::Counter,
    );
    for (w, id) in rows.iter().zip(&ids) {
        for r in DropReason::ALL {
            e.sample(
                &[("worker", id), ("reason", r.as_str())],
                w.drops[r.index()],
            );
        }
    }
    e.begin(
        "ferrovs_worker_sessions",
        "Live sessions in the worker's table, by address family.",
        Kind::Gauge,
    );
    for (w, id) in rows.iter().zip(&ids) {
        e.sample(&[("worker", id), ("family", "ipv4")], w.sessions_ipv4);
        e.sample(&[("worker", id), ("family", "ipv6")], w.sessions_ipv6);
    }
    e.begin(
        "ferrovs_worker_session_capacity",
        "Capacity of the worker's session table, by address family.",
        Kind::Gauge,
    );
    for (w, id) in rows.iter().zip(&ids) {
        e.sample(&[("worker", id), ("family", "ipv4")], w.capacity_ipv4);
        e.sample(&[("worker", id), ("family", "ipv6")], w.capacity_ipv6);
    }
}

fn render_ports(e: &mut Families, rows: &[PortRow]) {
    for (xstat, name, help) in PORT_XSTATS {
        e.begin(name, help, Kind::Counter);
        for p in rows {
            if let Some((_, v)) = p.xstats.iter().find(|(n, _)| n == xstat) {
                e.sample(&[("port", &p.name)], *v);
            }
        }
    }
    e.begin(
        "ferrovs_port_xstat",
        "Other DPDK extended statistics of the port, by driver-specific name (characters outside [a-zA-Z0-9_] replaced by _).",
        Kind::Untyped,
    );
    for p in rows {
        for (n, v) in &p.xstats {
            if PORT_XSTATS.iter().any(|(x, _, _)| x == n) {
                continue;
            }
            e.sample(&[("port", &p.name), ("name", &families::sanitize(n))], *v);
        }
    }
}

fn render_reply_steering(e: &mut Families, rows: &[PortSteeringRow]) {
    e.begin(
        "ferrovs_port_reply_steering_info",
        "How the port steers FullNAT replies to their worker (mode: flow, rss, redirect or single); the value is always 1.",
        Kind::Gauge,
    );
    for r in rows {
        e.sample(&[("port", &r.port), ("mode", &r.mode)], 1u64);
    }
}

fn render_health(e: &mut Families, checks: &[CheckStatus]) {
    let labels: Vec<[String; 3]> = checks
        .iter()
        .map(|c| [ip_text(c.address), c.port.to_string(), c.check.clone()])
        .collect();
    let lv = |l: &[String; 3]| -> Vec<(&'static str, String)> {
        vec![
            ("address", l[0].clone()),
            ("port", l[1].clone()),
            ("check", l[2].clone()),
        ]
    };
    e.begin(
        "ferrovs_healthcheck_up",
        "Whether the health check currently considers the target up (1) or down (0).",
        Kind::Gauge,
    );
    for (c, l) in checks.iter().zip(&labels) {
        sample_owned(e, &lv(l), Value::from(c.up));
    }
    e.begin(
        "ferrovs_healthcheck_checks_total",
        "Health checks completed (each made of up to 1 + retries probes).",
        Kind::Counter,
    );
    for (c, l) in checks.iter().zip(&labels) {
        sample_owned(e, &lv(l), Value::U(c.checks));
    }
    e.begin(
        "ferrovs_healthcheck_failures_total",
        "Failed health check probes, by reason.",
        Kind::Counter,
    );
    for (c, l) in checks.iter().zip(&labels) {
        for k in FailureKind::ALL {
            let mut ls = lv(l);
            ls.push(("reason", k.as_str().to_owned()));
            sample_owned(e, &ls, Value::U(c.failures[k as usize]));
        }
    }
    e.begin(
        "ferrovs_healthcheck_transitions_total",
        "State changes decided by the health check, by new state.",
        Kind::Counter,
    );
    for (c, l) in checks.iter().zip(&labels) {
        for (to, n) in [("up", c.transitions_up), ("down", c.transitions_down)] {
            let mut ls = lv(l);
            ls.push(("to", to.to_owned()));
            sample_owned(e, &ls, Value::U(n));
        }
    }
    e.begin(
        "ferrovs_healthcheck_probe_duration_seconds",
        "Duration of health check probes (successful or not).",
        Kind::Histogram,
    );
    for (c, l) in checks.iter().zip(&labels) {
        let owned = lv(l);
        let ls: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
        e.histogram(&ls, &c.latency);
    }
}

/// Return the name of every sample in an exposition (histograms give their `_bucket`, `_sum`
/// and `_count` names): what a PromQL query can select.
pub fn series_names(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

/// Return every `ferrovs_*` metric name a PromQL expression selects. Quoted strings (label
/// values, `label_replace` arguments) are skipped, so only identifiers count.
pub fn promql_metric_names(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut quote: Option<char> = None;
    let mut ident = String::new();
    let mut prev = ' ';
    let flush = |ident: &mut String, out: &mut BTreeSet<String>| {
        if ident.starts_with("ferrovs_") {
            out.insert(std::mem::take(ident));
        }
        ident.clear();
    };
    for c in expr.chars() {
        if let Some(q) = quote {
            if c == q && prev != '\\' {
                quote = None;
            }
            prev = if prev == '\\' { ' ' } else { c };
            continue;
        }
        match c {
            '"' | '\'' | '`' => {
                flush(&mut ident, &mut out);
                quote = Some(c);
            }
            c if c.is_ascii_alphanumeric() || c == '_' || c == ':' => ident.push(c),
            _ => flush(&mut ident, &mut out),
        }
        prev = c;
    }
    flush(&mut ident, &mut out);
    out
}

fn sample_owned(e: &mut Families, labels: &[(&'static str, String)], v: Value) {
    let ls: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
    e.sample(&ls, v);
}

#[cfg(test)]
pub(crate) mod tests;
