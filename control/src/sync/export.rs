//! The channel's Prometheus families (`ferrovs_sync_*`), written by [`crate::metrics::render`]
//! when the view has a [`ChannelStats`].
//!
//! Per-peer families carry the label `peer` (`ADDR:PORT`); rejects carry `reason`
//! ([`Reject::name`]); the peer state is a state set (`state="down|syncing|up"`, 1 for the
//! current one), as HAProxy exports server states. Counters end in `_total`, durations are in
//! seconds.

use crate::metrics::families::{Families, Kind};

use super::peer::PeerState;
use super::stats::{ChannelStats, PeerCounters, PeerStats, Reject};

/// A per-peer counter family: name, help, field.
type PeerCounter = (&'static str, &'static str, fn(&PeerCounters) -> u64);

const PEER_COUNTERS: [PeerCounter; 16] = [
    (
        "ferrovs_sync_messages_sent_total",
        "Sync datagrams sent to the peer, resends included.",
        |c| c.messages_sent,
    ),
    (
        "ferrovs_sync_messages_received_total",
        "Authenticated sync datagrams taken from the peer.",
        |c| c.messages_received,
    ),
    (
        "ferrovs_sync_messages_resent_total",
        "Numbered sync messages sent to the peer again (timer or NACK).",
        |c| c.messages_resent,
    ),
    (
        "ferrovs_sync_messages_duplicate_total",
        "Numbered messages from the peer received again (resends, replays) and dropped.",
        |c| c.duplicates,
    ),
    (
        "ferrovs_sync_sessions_sent_total",
        "Sessions sent to the peer (first sends; live updates and full resyncs).",
        |c| c.sessions_sent,
    ),
    (
        "ferrovs_sync_sessions_received_total",
        "Sessions received from the peer and handed over for installation.",
        |c| c.sessions_received,
    ),
    (
        "ferrovs_sync_sessions_resent_total",
        "Sessions in messages resent to the peer.",
        |c| c.sessions_resent,
    ),
    (
        "ferrovs_sync_sessions_coalesced_total",
        "Session updates not queued for the peer because a pending full resync carries them.",
        |c| c.sessions_coalesced,
    ),
    (
        "ferrovs_sync_nacks_sent_total",
        "Resend requests (NACKs) sent to the peer.",
        |c| c.nacks_sent,
    ),
    (
        "ferrovs_sync_nacks_received_total",
        "Resend requests (NACKs) taken from the peer.",
        |c| c.nacks_received,
    ),
    (
        "ferrovs_sync_queue_overflows_total",
        "Times the queue of sessions for the peer overflowed and a full resync replaced it.",
        |c| c.queue_overflows,
    ),
    (
        "ferrovs_sync_resyncs_requested_total",
        "Full resyncs this gateway asked of the peer.",
        |c| c.resyncs_requested,
    ),
    (
        "ferrovs_sync_resyncs_completed_total",
        "Full resyncs from the peer that completed.",
        |c| c.resyncs_completed,
    ),
    (
        "ferrovs_sync_resyncs_served_total",
        "Full resyncs this gateway sent to the peer.",
        |c| c.resyncs_served,
    ),
    (
        "ferrovs_sync_peer_restarts_total",
        "New epochs of the peer after the first (restarts of its channel).",
        |c| c.restarts,
    ),
    (
        "ferrovs_sync_peer_resets_total",
        "Times the peer forgot this gateway (it expired it) and both streams restarted.",
        |c| c.resets,
    ),
];

/// A per-peer gauge family: name, help, value.
type PeerGauge = (&'static str, &'static str, fn(&PeerStats) -> u64);

const PEER_GAUGES: [PeerGauge; 5] = [
    (
        "ferrovs_sync_resend_queue_messages",
        "Numbered messages sent to the peer and not yet acknowledged.",
        |p| p.in_flight as u64,
    ),
    (
        "ferrovs_sync_pending_sessions",
        "Sessions queued for the peer, not yet sent (rate cap, window).",
        |p| p.pending as u64,
    ),
    (
        "ferrovs_sync_reorder_buffer_messages",
        "Messages from the peer held until a gap before them fills.",
        |p| p.buffered as u64,
    ),
    (
        "ferrovs_sync_last_resync_sessions",
        "Sessions the last completed full resync from the peer carried.",
        |p| p.last_resync_sessions,
    ),
    (
        "ferrovs_sync_peer_discovered",
        "1 when the peer was discovered through the multicast group, 0 when it is listed.",
        |p| u64::from(p.discovered),
    ),
];

/// Write every `ferrovs_sync_*` family of `s`.
pub fn render(e: &mut Families, s: &ChannelStats) {
    e.begin(
        "ferrovs_sync_ready",
        "Whether every sync peer completed a full resync towards this gateway (the HA ready check).",
        Kind::Gauge,
    );
    e.sample(&[], s.ready);
    let peers: Vec<String> = s.peers.iter().map(|p| p.addr.to_string()).collect();
    e.begin(
        "ferrovs_sync_peer_state",
        "Sync peer state: 1 for the current one of down, syncing (its table not all here yet), up.",
        Kind::Gauge,
    );
    for (p, name) in s.peers.iter().zip(&peers) {
        for st in PeerState::ALL {
            e.sample(&[("peer", name), ("state", st.name())], p.state == st);
        }
    }
    for (family, help, field) in PEER_COUNTERS {
        e.begin(family, help, Kind::Counter);
        for (p, name) in s.peers.iter().zip(&peers) {
            e.sample(&[("peer", name)], field(&p.counters));
        }
    }
    for (family, help, field) in PEER_GAUGES {
        e.begin(family, help, Kind::Gauge);
        for (p, name) in s.peers.iter().zip(&peers) {
            e.sample(&[("peer", name)], field(p));
        }
    }
    e.begin(
        "ferrovs_sync_last_resync_duration_seconds",
        "How long the last completed full resync from the peer took, from the request.",
        Kind::Gauge,
    );
    for (p, name) in s.peers.iter().zip(&peers) {
        if let Some(d) = p.last_resync {
            e.sample(&[("peer", name)], d.as_secs_f64());
        }
    }
    e.begin(
        "ferrovs_sync_messages_rejected_total",
        "Sync datagrams dropped unused, by reason (malformed, version, unknown_syncid, bad_hmac, \
         unknown_peer, own, stale, out_of_window, mode, peer_limit; undecodable: authentic and \
         acknowledged, from a newer peer's format).",
        Kind::Counter,
    );
    for r in Reject::ALL {
        e.sample(&[("reason", r.name())], s.rejected.get(r));
    }
    e.begin(
        "ferrovs_sync_discovered_peers",
        "Peers discovered through the multicast group and not forgotten.",
        Kind::Gauge,
    );
    e.sample(&[], s.peers.iter().filter(|p| p.discovered).count() as u64);
    e.begin(
        "ferrovs_sync_peers_discovered_total",
        "Peers discovered through the multicast group (authenticated hellos) since the channel started.",
        Kind::Counter,
    );
    e.sample(&[], s.peers_discovered);
    e.begin(
        "ferrovs_sync_peers_expired_total",
        "Discovered peers forgotten after a silence.",
        Kind::Counter,
    );
    e.sample(&[], s.peers_expired);
    e.begin(
        "ferrovs_sync_invalid_sessions_total",
        "Sessions refused for sending because they broke a record invariant (a bug upstream).",
        Kind::Counter,
    );
    e.sample(&[], s.invalid_records);
    e.begin(
        "ferrovs_sync_records_rejected_total",
        "Received sync records skipped (the rest of their message installed), by reason \
         (unknown_extension: a critical extension of a newer peer's format).",
        Kind::Counter,
    );
    e.sample(&[("reason", "unknown_extension")], s.records_unknown_ext);
    e.begin(
        "ferrovs_sync_extensions_ignored_total",
        "Non-critical record extensions of a newer peer's format ignored (their records installed).",
        Kind::Counter,
    );
    e.sample(&[], s.extensions_ignored);
    e.begin(
        "ferrovs_sync_socket_dropped_total",
        "Sync datagrams dropped on arrival because the control loop was behind.",
        Kind::Counter,
    );
    e.sample(&[], s.transport.dropped);
    e.begin(
        "ferrovs_sync_socket_send_errors_total",
        "Sync datagrams the kernel refused to send (the channel resends what matters).",
        Kind::Counter,
    );
    e.sample(&[], s.transport.send_errors);
    e.begin(
        "ferrovs_sync_lag_seconds",
        "Live sessions: from queueing on the peer to arrival here (the two gateways' clocks).",
        Kind::Histogram,
    );
    e.histogram(&[], &s.lag);
}

/// A view with every family populated, for the metrics tests.
#[cfg(test)]
pub(crate) fn representative() -> ChannelStats {
    use super::stats::{Rejects, TransportTotals, LAG_BUCKETS};
    use crate::stats::Histogram;
    let mut rejected = Rejects::default();
    rejected.add(Reject::Hmac);
    rejected.add(Reject::Hmac);
    rejected.add(Reject::Stale);
    let mut lag = Histogram::new(&LAG_BUCKETS);
    lag.observe(0.0004);
    lag.observe(0.003);
    let counters = PeerCounters {
        messages_sent: 120,
        messages_received: 118,
        messages_resent: 7,
        sessions_sent: 4000,
        sessions_received: 3900,
        resyncs_completed: 1,
        ..PeerCounters::default()
    };
    ChannelStats {
        ready: true,
        rejected,
        invalid_records: 0,
        records_unknown_ext: 0,
        extensions_ignored: 0,
        peers_discovered: 1,
        peers_expired: 0,
        peers: vec![
            PeerStats {
                addr: "198.18.0.3:8848".parse().expect("literal"),
                state: PeerState::Up,
                counters,
                in_flight: 2,
                pending: 0,
                buffered: 0,
                last_resync: Some(std::time::Duration::from_millis(1500)),
                last_resync_sessions: 100_000,
                discovered: true,
            },
            PeerStats {
                addr: "[2001:db8::3]:8848".parse().expect("literal"),
                state: PeerState::Down,
                counters: PeerCounters::default(),
                in_flight: 0,
                pending: 12,
                buffered: 0,
                last_resync: None,
                last_resync_sessions: 0,
                discovered: false,
            },
        ],
        lag,
        transport: TransportTotals {
            dropped: 1,
            send_errors: 2,
            recv_errors: 0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_families_render() {
        let mut e = Families::new();
        render(&mut e, &representative());
        let text = crate::metrics::expose::encode_families(e.finish());
        for line in [
            "ferrovs_sync_ready 1",
            "ferrovs_sync_peer_state{peer=\"198.18.0.3:8848\",state=\"up\"} 1",
            "ferrovs_sync_peer_state{peer=\"198.18.0.3:8848\",state=\"down\"} 0",
            "ferrovs_sync_peer_state{peer=\"[2001:db8::3]:8848\",state=\"down\"} 1",
            "ferrovs_sync_messages_resent_total{peer=\"198.18.0.3:8848\"} 7",
            "ferrovs_sync_sessions_received_total{peer=\"198.18.0.3:8848\"} 3900",
            "ferrovs_sync_pending_sessions{peer=\"[2001:db8::3]:8848\"} 12",
            "ferrovs_sync_last_resync_duration_seconds{peer=\"198.18.0.3:8848\"} 1.5",
            "ferrovs_sync_messages_rejected_total{reason=\"bad_hmac\"} 2",
            "ferrovs_sync_messages_rejected_total{reason=\"stale\"} 1",
            "ferrovs_sync_messages_rejected_total{reason=\"unknown_syncid\"} 0",
            "ferrovs_sync_socket_send_errors_total 2",
            "ferrovs_sync_peer_discovered{peer=\"198.18.0.3:8848\"} 1",
            "ferrovs_sync_peer_discovered{peer=\"[2001:db8::3]:8848\"} 0",
            "ferrovs_sync_discovered_peers 1",
            "ferrovs_sync_peers_discovered_total 1",
            "ferrovs_sync_peers_expired_total 0",
            "ferrovs_sync_messages_rejected_total{reason=\"peer_limit\"} 0",
            "ferrovs_sync_lag_seconds_bucket{le=\"0.0005\"} 1",
            "ferrovs_sync_lag_seconds_bucket{le=\"+Inf\"} 2",
            "ferrovs_sync_lag_seconds_count 2",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
        assert!(
            !text.contains("ferrovs_sync_last_resync_duration_seconds{peer=\"[2001"),
            "no duration before a resync completed"
        );
    }
}
