//! The channel's counters, and the plain-data view of them the metrics endpoint renders
//! (`ferrovs_sync_*`, see [`crate::metrics`]).

use std::net::SocketAddr;
use std::time::Duration;

use crate::stats::Histogram;

use super::peer::PeerState;

/// Why a datagram was dropped before anything in it was used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reject {
    /// Not a well-formed message (short, bad magic, bad length, bad body).
    Malformed,
    /// Another version of the format.
    Version,
    /// Another sync group (`syncid`).
    Syncid,
    /// The HMAC does not match: wrong key, altered, or forged.
    Hmac,
    /// From an address that is not a configured peer.
    UnknownPeer,
    /// This gateway's own message (sent to itself).
    Own,
    /// From an older epoch of the peer, addressed to an older epoch of this gateway, or a
    /// control message older than one already taken (a replay, or reordered).
    Stale,
    /// A numbered message further ahead than the window.
    OutOfWindow,
    /// Sessions sent to a gateway whose mode does not install them (`master`).
    Mode,
    /// From an unknown gateway when as many peers as allowed were discovered already.
    PeerLimit,
    /// An authentic numbered message of a peer's current stream whose body this version
    /// cannot read (a newer peer's format): acknowledged, so the stream goes on, and dropped.
    Undecodable,
}

impl Reject {
    /// Number of reasons.
    pub const COUNT: usize = 11;
    /// Every reason, in counter order.
    pub const ALL: [Reject; Self::COUNT] = [
        Reject::Malformed,
        Reject::Version,
        Reject::Syncid,
        Reject::Hmac,
        Reject::UnknownPeer,
        Reject::Own,
        Reject::Stale,
        Reject::OutOfWindow,
        Reject::Mode,
        Reject::PeerLimit,
        Reject::Undecodable,
    ];

    /// The `reason` label value.
    pub const fn name(self) -> &'static str {
        match self {
            Reject::Malformed => "malformed",
            Reject::Version => "version",
            Reject::Syncid => "unknown_syncid",
            Reject::Hmac => "bad_hmac",
            Reject::UnknownPeer => "unknown_peer",
            Reject::Own => "own",
            Reject::Stale => "stale",
            Reject::OutOfWindow => "out_of_window",
            Reject::Mode => "mode",
            Reject::PeerLimit => "peer_limit",
            Reject::Undecodable => "undecodable",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// Rejected datagrams per reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rejects([u64; Reject::COUNT]);

impl Rejects {
    /// Count one.
    pub fn add(&mut self, r: Reject) {
        self.0[r.index()] += 1;
    }

    /// Return the count of one reason.
    pub fn get(&self, r: Reject) -> u64 {
        self.0[r.index()]
    }

    /// Return the total.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

/// Counters of one peer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerCounters {
    /// Datagrams sent to the peer, resends included.
    pub messages_sent: u64,
    /// Numbered messages sent again.
    pub messages_resent: u64,
    /// Authenticated datagrams taken from the peer.
    pub messages_received: u64,
    /// Numbered messages from the peer seen before (resends, replays): dropped.
    pub duplicates: u64,
    /// Sessions sent for the first time.
    pub sessions_sent: u64,
    /// Sessions in resent messages.
    pub sessions_resent: u64,
    /// Sessions delivered to the caller.
    pub sessions_received: u64,
    /// NACKs sent.
    pub nacks_sent: u64,
    /// NACKs taken.
    pub nacks_received: u64,
    /// Times the queue of sessions waiting for the peer overflowed (a full resync repairs it).
    pub queue_overflows: u64,
    /// Sessions not queued because a full resync to the peer was pending, which carries them.
    pub sessions_coalesced: u64,
    /// Full resyncs this gateway asked of the peer.
    pub resyncs_requested: u64,
    /// Full resyncs from the peer that completed.
    pub resyncs_completed: u64,
    /// Full resyncs this gateway sent to the peer.
    pub resyncs_served: u64,
    /// New epochs of the peer after the first (restarts).
    pub restarts: u64,
    /// Times the peer forgot this gateway (it expired it) and both streams restarted.
    pub resets: u64,
}

/// One peer, for the metrics endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerStats {
    /// The peer.
    pub addr: SocketAddr,
    /// Its state.
    pub state: PeerState,
    /// Its counters.
    pub counters: PeerCounters,
    /// Numbered messages sent and not acknowledged (the resend queue).
    pub in_flight: usize,
    /// Sessions queued, not yet sent.
    pub pending: usize,
    /// Messages from the peer held ahead of a gap.
    pub buffered: usize,
    /// How long the last completed resync from the peer took.
    pub last_resync: Option<Duration>,
    /// Sessions the last completed resync from the peer carried.
    pub last_resync_sessions: u64,
    /// Whether it was discovered through the multicast group (else it is listed).
    pub discovered: bool,
}

/// Everything the channel exports.
#[derive(Clone, Debug)]
pub struct ChannelStats {
    /// Whether every peer completed a full resync towards this gateway (the HA ready check).
    pub ready: bool,
    /// Rejected datagrams per reason.
    pub rejected: Rejects,
    /// Sessions this gateway refused to queue (they broke a record invariant).
    pub invalid_records: u64,
    /// Received records skipped, the rest of their message installed, because they carry a
    /// critical extension this version does not know (a newer peer's).
    pub records_unknown_ext: u64,
    /// Received non-critical extensions this version does not know: ignored, their records
    /// installed.
    pub extensions_ignored: u64,
    /// Peers discovered through the multicast group since the channel started.
    pub peers_discovered: u64,
    /// Discovered peers forgotten after a silence.
    pub peers_expired: u64,
    /// Per peer.
    pub peers: Vec<PeerStats>,
    /// Sync lag of live sessions: from queueing on the sender to delivery here, in seconds
    /// (wall clocks of two gateways: as good as their time sync).
    pub lag: Histogram,
    /// The socket's counters: zero from [`super::Channel::stats`]; the caller copies them in
    /// from [`super::UdpTransport::totals`].
    pub transport: TransportTotals,
}

/// The sync socket's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransportTotals {
    /// Datagrams dropped on arrival because the control loop was behind.
    pub dropped: u64,
    /// Datagrams the kernel refused to send.
    pub send_errors: u64,
    /// Errors reading the socket.
    pub recv_errors: u64,
}

/// Buckets of the lag histogram, in seconds: 100 µs to 10 s.
pub const LAG_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];
