//! The console's status document (`GET /api/status`): what the admin API lists (the services
//! with their real servers, counters, rates and health, and each service's SYN proxy as
//! `ferrovsadm -L --syn-proxy` shows it; director HA; ECMP announcements; the sync daemons),
//! the real servers the console took out, and the gateway's own view (workers' load and drops
//! by reason, reloads, the sync peers), which the gateway reads the way a metrics scrape does
//! ([`Gateway::from_view`]).
//!
//! It is built at most once per [`MAX_AGE`] however many clients poll: the admin requests are
//! served on the control loop, which also answers ARP and applies health verdicts, so a crowd
//! of consoles must not queue work there.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use admin::proto::{ListQuery, Request, Response};
use admin::server::LocalClient;
use dataplane::wire::DropReason;
use serde::Serialize;

use crate::metrics::MetricsView;

/// How long a built status is served again.
pub const MAX_AGE: Duration = Duration::from_millis(500);
/// How long a status request waits for the control loop.
pub const LIST_TIMEOUT: Duration = Duration::from_secs(5);

/// The gateway's own part of the status.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Gateway {
    /// ferrovs's version.
    pub version: String,
    /// DPDK's version.
    pub dpdk_version: String,
    /// Seconds since the gateway started.
    pub uptime_s: u64,
    /// The configuration generation the control plane published last.
    pub generation: u64,
    /// Reloads tried.
    pub reloads_total: u64,
    /// Reloads that failed (and changed nothing).
    pub reload_failures_total: u64,
    /// Whether the last reload worked (true before any).
    pub last_reload_ok: bool,
    /// When the configuration last loaded, Unix seconds.
    pub last_reload_success_s: u64,
    /// Per worker.
    pub workers: Vec<Worker>,
    /// Session sync, when on.
    pub sync: Option<SyncState>,
}

/// One worker's load and drops.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Worker {
    /// Its index.
    pub worker: usize,
    /// Frames received.
    pub rx_packets: u64,
    /// Frames sent.
    pub tx_packets: u64,
    /// Polls that found frames.
    pub busy_polls: u64,
    /// Polls that found none.
    pub idle_polls: u64,
    /// Live sessions (IPv4 and IPv6).
    pub sessions: u64,
    /// The configuration generation it runs.
    pub generation: u64,
    /// Drops by reason (only reasons that dropped something).
    pub drops: BTreeMap<&'static str, u64>,
}

/// Session sync's peers.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct SyncState {
    /// Every peer completed a full resync towards this gateway.
    pub ready: bool,
    /// Per peer.
    pub peers: Vec<Peer>,
}

/// One sync peer.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Peer {
    /// Its address.
    pub address: String,
    /// `down`, `syncing` or `up`.
    pub state: &'static str,
    /// Sessions sent to it.
    pub sessions_sent: u64,
    /// Sessions taken from it.
    pub sessions_received: u64,
    /// Messages not yet acknowledged.
    pub in_flight: usize,
}

impl Gateway {
    /// Read the view a metrics scrape builds (`now_s` and `start_s`: Unix seconds).
    pub fn from_view(v: &MetricsView, now_s: f64) -> Self {
        Self {
            version: v.build.version.clone(),
            dpdk_version: v.build.dpdk_version.clone(),
            uptime_s: secs(now_s - v.start_time_seconds),
            generation: v.reload.generation,
            reloads_total: v.reload.reloads_total,
            reload_failures_total: v.reload.failures_total,
            last_reload_ok: v.reload.last_successful,
            last_reload_success_s: secs(v.reload.last_success_timestamp_seconds),
            workers: v
                .workers
                .iter()
                .map(|w| Worker {
                    worker: w.worker,
                    rx_packets: w.rx_packets,
                    tx_packets: w.tx_packets,
                    busy_polls: w.busy_polls,
                    idle_polls: w.idle_polls,
                    sessions: w.sessions_ipv4 + w.sessions_ipv6,
                    generation: w.generation,
                    drops: DropReason::ALL
                        .iter()
                        .map(|r| (r.as_str(), w.drops[r.index()]))
                        .filter(|(_, n)| *n > 0)
                        .collect(),
                })
                .collect(),
            sync: v.sync.as_ref().map(|s| SyncState {
                ready: s.ready,
                peers: s
                    .peers
                    .iter()
                    .map(|p| Peer {
                        address: p.addr.to_string(),
                        state: p.state.name(),
                        sessions_sent: p.counters.sessions_sent,
                        sessions_received: p.counters.sessions_received,
                        in_flight: p.in_flight,
                    })
                    .collect(),
            }),
        }
    }
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn secs(s: f64) -> u64 {
    // Whole seconds for display; negative (a clock step) shows as 0.
    s.max(0.0) as u64
}

/// What the gateway gives the console to read its own part.
pub type GatewaySource = Arc<dyn Fn() -> Gateway + Send + Sync>;

/// The cached status document.
pub struct Status {
    admin: LocalClient,
    gateway: GatewaySource,
    cache: Mutex<Option<(Instant, Arc<Vec<u8>>)>>,
}

impl std::fmt::Debug for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Status").finish_non_exhaustive()
    }
}

impl Status {
    /// A status read through `admin` and `gateway`.
    pub fn new(admin: LocalClient, gateway: GatewaySource) -> Self {
        Self {
            admin,
            gateway,
            cache: Mutex::new(None),
        }
    }

    /// Forget the cached document (after a change, so the page shows it at once).
    pub fn invalidate(&self) {
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The document as JSON, at most [`MAX_AGE`] old; `extra` adds the console's own fields.
    pub fn json(&self, extra: impl FnOnce() -> serde_json::Value) -> Arc<Vec<u8>> {
        // Held while building: other handlers wait for this build instead of making their own.
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, doc)) = cache.as_ref() {
            if at.elapsed() < MAX_AGE {
                return doc.clone();
            }
        }
        let doc = Arc::new(self.build(extra()).to_string().into_bytes());
        *cache = Some((Instant::now(), doc.clone()));
        doc
    }

    fn build(&self, extra: serde_json::Value) -> serde_json::Value {
        let ask = |r: Request| self.admin.request(r, LIST_TIMEOUT);
        let (listing, listing_error) = match ask(Request::List(ListQuery::default())) {
            Response::Listing(l) => (serde_json::to_value(l).ok(), None),
            Response::Error { message } => (None, Some(message)),
            other => (None, Some(format!("unexpected answer: {other:?}"))),
        };
        let ha = match ask(Request::Ha) {
            Response::Ha(h) => serde_json::to_value(h).ok(),
            _ => None,
        };
        let announce = match ask(Request::Announce) {
            Response::Announce(a) => serde_json::to_value(a).ok(),
            _ => None,
        };
        let daemons = match ask(Request::Daemons) {
            Response::Daemons { daemons } => serde_json::to_value(daemons).ok(),
            _ => None,
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        serde_json::json!({
            "now_s": now,
            "listing": listing,
            "listing_error": listing_error,
            "ha": ha,
            "announce": announce,
            "daemons": daemons,
            "gateway": (self.gateway)(),
            "console": extra,
        })
    }
}
