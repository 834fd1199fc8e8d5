//! Full resyncs: the sender's dump of its table, the receiver's request for one.
//!
//! A gateway asks a peer for its whole table when it first hears from the peer's epoch (it
//! started, or the peer restarted) and when its caller asks ([`super::Channel::request_resync`]).
//! The request carries an id, increasing per requester epoch, and is repeated until the answer
//! ends: the peer serves an id once, so repeats and replays cost nothing.
//!
//! The serving side asks its caller for a snapshot iterator
//! ([`super::Event::ResyncRequested`], answered with [`super::Channel::begin_resync`]) and
//! streams it through the same reliable stream as live updates, rate-capped, live updates
//! first. The iterator is read lazily, a datagram at a time, so it can walk live tables; a
//! record it yields that a live delete already removed is harmless (it ages out on the peer).
//! A numbered `ResyncDone` closes the dump; since the stream is in order, when the requester
//! gets it every record of the dump has been handed over, and the requester reports the resync
//! complete ([`super::Event::ResyncComplete`]): the HA ready check waits for that.

use std::time::Instant;

use super::record::SyncSession;

/// The caller's snapshot of its table.
pub type Snapshot = Box<dyn Iterator<Item = SyncSession> + Send>;

/// A dump in progress towards one peer.
pub(crate) struct Dump {
    /// The request it answers (0 = started by this gateway).
    pub(crate) req_id: u32,
    iter: Snapshot,
    /// A record taken from the iterator that did not fit the last datagram.
    held: Option<SyncSession>,
    /// Records packed so far.
    pub(crate) sent: u64,
}

impl core::fmt::Debug for Dump {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Dump")
            .field("req_id", &self.req_id)
            .field("sent", &self.sent)
            .finish_non_exhaustive()
    }
}

impl Dump {
    /// A dump of `iter` answering `req_id`.
    pub(crate) fn new(req_id: u32, iter: Snapshot) -> Self {
        Self {
            req_id,
            iter,
            held: None,
            sent: 0,
        }
    }

    /// The next record to pack, if the snapshot has one left.
    pub(crate) fn next(&mut self) -> Option<SyncSession> {
        self.held.take().or_else(|| self.iter.next())
    }

    /// Give back a record that did not fit; [`Self::next`] returns it first.
    pub(crate) fn hold(&mut self, rec: SyncSession) {
        self.held = Some(rec);
    }
}

/// This gateway's outstanding request for a peer's table.
#[derive(Debug, Clone)]
pub(crate) struct Want {
    /// The request's id.
    pub(crate) req_id: u32,
    /// When it was made.
    pub(crate) started: Instant,
    /// When the request was last sent (`None`: send it at the next chance).
    pub(crate) last_sent: Option<Instant>,
    /// Records of the peer's resync received so far.
    pub(crate) sessions: u64,
}

impl Want {
    /// A new request.
    pub(crate) fn new(req_id: u32, now: Instant) -> Self {
        Self {
            req_id,
            started: now,
            last_sent: None,
            sessions: 0,
        }
    }
}
