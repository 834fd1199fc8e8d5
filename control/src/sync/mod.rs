//! Session sync between directors: a reliable, authenticated channel that carries sessions
//! from each gateway to its peers, so established connections survive a failover and a
//! failback in every forwarding mode (issue 15).
//!
//! The kernel's sync daemon (`ip_vs_sync`) multicasts without acknowledgements, syncs a
//! connection only after a threshold of packets and never resyncs after a restart, so a
//! rebooted master that preempts back has an empty table. This channel follows conntrackd's
//! FTFW mode instead:
//!
//! - **Versioned messages, many sessions each** ([`wire`]): a fixed header (version, sync
//!   group, sender, epochs, sequence number, acknowledgement, timestamp), a body per type
//!   (data, ACK, NACK, resync request, resync done, hello), an HMAC-SHA256 trailer with the
//!   shared key of `[sync]` ([`auth`]). Data messages are packed up to `max_datagram`. New
//!   record fields are length-delimited extensions a gateway skips when it does not know them,
//!   and an authentic numbered message it cannot read is acknowledged and dropped, so gateways
//!   of different versions never stall each other's stream on it (see [`wire`]).
//! - **A reliable stream per peer** ([`window`]): numbered messages, cumulative ACKs, a window
//!   of messages in flight (the bounded resend queue), resends on a timer and on NACK, and a
//!   receiver that delivers in order, exactly once, dropping duplicates and refusing anything
//!   past its window.
//! - **Epochs, not old sequence numbers** ([`peer`]): each run of a channel has an epoch (its
//!   start time); a message carries the sender's epoch and the epoch it believes the receiver
//!   has. A restart is a new epoch: both streams restart at 1 and the peers resync. Data
//!   addressed to an old epoch, or from an older epoch of a live peer, is dropped, so nothing
//!   recorded before a restart can be replayed after it; within an epoch, the window drops
//!   replays, and control messages must carry a timestamp above every earlier one.
//! - **Full resync** ([`resync`]): a gateway asks each peer for its whole table when it first
//!   hears from the peer's epoch; the peer streams it from a snapshot its caller hands over,
//!   rate-capped ([`rate`]), and closes it with a numbered "resync done". Only then is the
//!   peer `Up`, and [`Channel::ready`] (the HA ready check) true.
//! - **Active-active**: every gateway sends the sessions it carries and installs its peers'
//!   (`mode = "both"`); `master` only sends, `backup` only installs (ipvsadm's daemons).
//!
//! # Driving it
//!
//! [`Channel`] is a sans-I/O state machine; [`transport::UdpTransport`] is the kernel socket.
//! The control loop adds one `select!` arm for datagrams and one for the timer (the session
//! events of the workers are another):
//!
//! ```no_run
//! use std::time::Instant;
//! use crossbeam_channel::{after, never, select};
//! use control::sync::{unix_epoch_now, Channel, Event, Settings, UdpTransport};
//!
//! # fn demo(cfg: &config::Config) -> Result<(), Box<dyn std::error::Error>> {
//! let settings = Settings::from_config(&cfg.sync)?;
//! let transport = UdpTransport::bind(settings.listen)?;
//! let mut ch = Channel::new(settings, unix_epoch_now(), Instant::now());
//! loop {
//!     let wait = ch.next_timeout().map_or(never(), |t| after(t.saturating_duration_since(Instant::now())));
//!     let events = select! {
//!         recv(transport.datagrams()) -> d => match d {
//!             Ok(d) => ch.on_datagram(&d.bytes, d.from, Instant::now()),
//!             Err(_) => break,
//!         },
//!         recv(wait) -> _ => ch.handle_timeout(Instant::now()),
//!     };
//!     for e in events {
//!         match e {
//!             Event::Sessions { sessions, .. } => { /* install in the owning workers */ }
//!             Event::ResyncRequested { peer } => {
//!                 let snapshot = Box::new(Vec::new().into_iter()); // the table's sessions
//!                 ch.begin_resync(peer, snapshot, Instant::now())?;
//!             }
//!             Event::ResyncComplete { .. } | Event::PeerState { .. } => { /* ready check, log */ }
//!         }
//!     }
//!     // Sessions from the workers: ch.queue(record, Instant::now())?
//!     while let Some(t) = ch.poll_transmit(Instant::now()) {
//!         transport.send(&t);
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! What to queue: the events the workers produce from traffic (created, TCP established or
//! closing, template created, deleted), never a session because it was received; the snapshot
//! holds every session the tables hold, received ones included, so a restarted peer gets back
//! the sessions this gateway carried for it.
//!
//! # Multicast: discovery on a group, reliability per peer
//!
//! The kernel's daemon needs no peer list: it multicasts to 224.0.0.81:8848 and whoever listens
//! installs. With `[sync] group` (`ipvsadm --mcast-group`, keepalived `lvs_sync_daemon ...
//! group`) this channel needs none either, but only *discovery* uses the group:
//!
//! - Every `hello` interval each gateway multicasts a `Hello` with [`wire::FLAG_GROUP`] from
//!   its `listen` socket (so the source is the address peers then talk to; TTL `[sync] ttl`,
//!   loopback off, the outgoing interface `listen`'s; [`transport::UdpTransport::bind_group`]
//!   joins the group on that interface). It carries the sync group, the sender id and epoch and
//!   the HMAC, and no stream position.
//! - A gateway takes the sender of an authenticated message it does not know as a peer
//!   (`discover` in [`Channel`]) only if the HMAC holds (a forged hello creates nothing), the
//!   syncid is its own, the authenticated sender id is the one of the source address (a
//!   captured hello replayed from elsewhere creates nothing), the epoch is not an older life of
//!   a peer it forgot, and fewer than `max_discovered` (16) peers are discovered; past the cap
//!   the message is counted (`peer_limit`). A discovered peer gets exactly what a listed one
//!   has: its own numbered stream with acknowledgements, window, resends and NACKs, and a full
//!   resync on start and restart. The reliability is the tested unicast machinery, unchanged.
//! - A discovered peer silent for `expire` (30 s) is forgotten (its epochs kept, bounded, to
//!   refuse replays). A peer may forget this gateway while this one still has streams with it
//!   (a one-way loss longer than `expire`): the forgetting side's first message to a peer it
//!   (re)discovers is a unicast `Hello` with peer epoch 0, which a peer that had been
//!   addressed by this epoch takes as "restart our streams" (both sides resync; counted in
//!   `ferrovs_sync_peer_resets_total`). Without that the two ends' sequence numbers would never
//!   meet again.
//! - Live updates and resyncs stay unicast, one stream per peer. A group send would need the
//!   acknowledgements of every receiver before a message leaves the window, resends to the
//!   group would repeat to every peer what one lost, and a peer that joins late would still
//!   need its own resync: the per-receiver state is needed anyway. With the pair or handful of
//!   directors a VIP has, one copy per peer costs little (a datagram carries ~40 sessions).
//! - The ready check cannot name a peer never heard of, so it counts them: with a group, a
//!   gateway is ready once it has listened for `dead` (2 s, four hellos), every discovered
//!   peer heard from within `dead` has completed a resync towards it, and at least
//!   `expect_peers` distinct peers (1 by default with a group and no `peers`) have done so
//!   since the channel started. A restarted master whose sync path is cut, or whose peer is
//!   down, thus waits instead of taking over with an empty table; with keepalived's weighted
//!   `track_script` it still takes the VIP, at its lowered priority, when no other director
//!   holds it (`docs/ha.md`).
//!
//! Only link-local groups (224.0.0.0/24, ff02::/16) are accepted: the exception path copies
//! those to the kernel whatever it joined (`docs/ha.md`), routed groups not at all, and sync
//! peers share a link.
//!
//! # Bounded memory
//!
//! Per peer: at most `window` messages in flight and `window` buffered ahead of a gap (each at
//! most `max_datagram`), at most `max_pending` queued sessions (past that the queue is
//! replaced by a full resync). A peer that floods authentic messages fills nothing beyond
//! that; anything else is dropped before it is parsed past its header.

pub mod auth;
mod channel;
pub mod convert;
pub mod export;
pub mod fuzzing;
pub mod peer;
pub mod rate;
pub mod record;
pub mod resync;
pub mod settings;
pub mod stats;
pub mod transport;
pub mod window;
pub mod wire;

pub use channel::{unix_epoch_now, Channel, Event, ResyncError, Transmit};
pub use convert::{to_event, to_record, ConvertError};
pub use peer::PeerState;
pub use record::{ClientHop, RecordError, SyncOp, SyncSession};
pub use resync::Snapshot;
pub use settings::{Settings, SettingsError, Timing};
pub use stats::{ChannelStats, PeerCounters, PeerStats, Reject, Rejects, TransportTotals};
pub use transport::{Datagram, UdpTransport};

#[cfg(test)]
mod tests;
