//! What a [`super::Channel`] runs with: the `[sync]` section plus protocol timings that are
//! not in the TOML (every gateway must use the same window; the timings suit a LAN).

use std::net::SocketAddr;
use std::time::Duration;

use config::{SessionSync, SyncMode};

use super::wire::{DATA_PREFIX_LEN, OVERHEAD};

/// Protocol timings and bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Numbered messages in flight per peer (the resend queue), and how far ahead a receiver
    /// buffers. Peers must agree. conntrackd's `ACKWindowSize` is 300.
    pub window: usize,
    /// First resend timeout of a numbered message; doubles per resend.
    pub rto: Duration,
    /// Ceiling of the resend timeout.
    pub max_rto: Duration,
    /// A message is sent to every peer at least this often (a `Hello` when nothing else went).
    pub hello: Duration,
    /// A peer silent this long is down.
    pub dead: Duration,
    /// Longest wait before acknowledging what arrived.
    pub ack_delay: Duration,
    /// Acknowledge at once after this many numbered messages.
    pub ack_every: u32,
    /// How often an unanswered resync request is repeated.
    pub resync_retry: Duration,
    /// Sessions queued per peer before the queue overflows (and a full resync replaces it).
    pub max_pending: usize,
    /// Peers discovered through the group at most; more are refused and counted.
    pub max_discovered: usize,
    /// A discovered peer silent this long is forgotten (its epochs are remembered).
    pub expire: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            window: 256,
            rto: Duration::from_millis(100),
            max_rto: Duration::from_secs(2),
            hello: Duration::from_millis(500),
            dead: Duration::from_millis(2000),
            ack_delay: Duration::from_millis(5),
            ack_every: 32,
            resync_retry: Duration::from_secs(1),
            max_pending: 1 << 17,
            max_discovered: config::MAX_SYNC_DISCOVERED,
            expire: Duration::from_secs(30),
        }
    }
}

/// Everything a channel needs.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    /// This gateway's address: the socket binds here and peers know it by it.
    pub listen: SocketAddr,
    /// The peers' addresses.
    pub peers: Vec<SocketAddr>,
    /// The multicast group (address and port) hellos go to, when peers are discovered.
    pub group: Option<SocketAddr>,
    /// The hop limit of the group's hellos.
    pub ttl: u8,
    /// The shared HMAC key.
    pub key: Vec<u8>,
    /// The sync group.
    pub syncid: u8,
    /// Largest datagram sent.
    pub max_datagram: usize,
    /// Sessions per second per peer; 0 = no cap.
    pub rate: u32,
    /// Which directions run.
    pub mode: SyncMode,
    /// Peers (listed or discovered) that must have completed a full resync towards this
    /// gateway since the channel started before it is ready
    /// ([`config::SessionSync::expected_peers`]).
    pub expect_peers: usize,
    /// Protocol timings.
    pub timing: Timing,
}

impl core::fmt::Debug for Settings {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("peers", &self.peers)
            .field("group", &self.group)
            .field("ttl", &self.ttl)
            .field("key", &format_args!("<{} bytes>", self.key.len()))
            .field("syncid", &self.syncid)
            .field("max_datagram", &self.max_datagram)
            .field("rate", &self.rate)
            .field("mode", &self.mode)
            .field("expect_peers", &self.expect_peers)
            .field("timing", &self.timing)
            .finish()
    }
}

/// Why `[sync]` gives no channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// `enabled = false`.
    #[error("session sync is disabled")]
    Disabled,
    /// A key the config check requires is absent (a hand-built `SessionSync`).
    #[error("sync.{0} is required")]
    Missing(&'static str),
}

impl Settings {
    /// Build from a validated `[sync]`, with the default timings.
    ///
    /// # Errors
    ///
    /// `[sync]` is disabled, or lacks `listen` or `key`.
    pub fn from_config(s: &SessionSync) -> Result<Self, SettingsError> {
        if !s.enabled {
            return Err(SettingsError::Disabled);
        }
        let listen = s.listen.ok_or(SettingsError::Missing("listen"))?;
        let key = s.key.as_ref().ok_or(SettingsError::Missing("key"))?;
        Ok(Self {
            listen,
            peers: s.peers.clone(),
            group: s.group_addr(),
            ttl: s.ttl,
            key: key.as_bytes().to_vec(),
            syncid: s.syncid,
            max_datagram: usize::from(s.max_datagram),
            rate: s.rate,
            mode: s.mode,
            expect_peers: s.expected_peers(),
            timing: Timing::default(),
        })
    }

    /// Room for records in one data message.
    pub(crate) fn record_space(&self) -> usize {
        self.max_datagram
            .max(config::MIN_SYNC_MAX_DATAGRAM.into())
            .saturating_sub(OVERHEAD + DATA_PREFIX_LEN)
    }

    /// This gateway's sender id: FNV-1a over the listen address and port, so it is stable
    /// across restarts and differs between gateways.
    pub fn sender_id(&self) -> u32 {
        sender_id_of(self.listen)
    }
}

/// The sender id of a gateway listening on `listen` ([`Settings::sender_id`]): a discovered
/// peer's authenticated sender id must be the one of the address its datagrams come from.
pub fn sender_id_of(listen: SocketAddr) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    let ip = match listen.ip() {
        std::net::IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        std::net::IpAddr::V6(a) => a.octets(),
    };
    for b in ip.iter().chain(&listen.port().to_be_bytes()) {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}
