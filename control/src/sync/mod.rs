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
//!   shared key of `[sync]` ([`auth`]). Data messages are packed up to `max_datagram`.
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
//! # Multicast
//!
//! The channel is unicast: one reliable stream per peer. The kernel's multicast daemon cannot
//! be acknowledged without per-receiver state, and a resend to a group repeats it to every
//! peer; with the handful of directors a VIP has, listing the peers costs nothing. A
//! multicast address in `[sync]` is refused by `ferrovs check`.
//!
//! # Bounded memory
//!
//! Per peer: at most `window` messages in flight and `window` buffered ahead of a gap (each at
//! most `max_datagram`), at most `max_pending` queued sessions (past that the queue is
//! replaced by a full resync). A peer that floods authentic messages fills nothing beyond
//! that; anything else is dropped before it is parsed past its header.

pub mod auth;
mod channel;
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
pub use peer::PeerState;
pub use record::{ClientHop, RecordError, SyncOp, SyncSession};
pub use resync::Snapshot;
pub use settings::{Settings, SettingsError, Timing};
pub use stats::{ChannelStats, PeerCounters, PeerStats, Reject, Rejects, TransportTotals};
pub use transport::{Datagram, UdpTransport};

#[cfg(test)]
mod tests;
