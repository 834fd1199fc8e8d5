//! One peer as this gateway sees it: its epoch and liveness, its stream to us, our stream to it,
//! the resyncs in both directions, and its counters.
//!
//! Epochs: a peer's first authenticated message sets its epoch. A message from another epoch is
//! a restart if that epoch is newer, or if the peer was down and the epoch was never seen (its
//! clock may have gone back); otherwise it is a replay of an older life and is dropped. The
//! last [`EPOCH_HISTORY`] epochs of each peer are remembered for that. A new epoch resets both streams
//! with the peer (a restarted peer has lost its table, and its new stream starts at 1), drops
//! what was queued for it (the full resync it asks for carries it), and starts a request for
//! its table.
//!
//! Liveness: a peer is alive while its last *fresh* message (a timestamp above every earlier
//! one) is younger than `dead`; replayed messages do not keep a dead peer alive.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::rate::Bucket;
use super::record::SyncSession;
use super::resync::{Dump, Want};
use super::stats::PeerCounters;
use super::window::{RecvWindow, SendWindow};
use super::wire::{Body, MsgType, Skipped};

/// Epochs remembered per peer, to refuse replays of its earlier lives.
pub const EPOCH_HISTORY: usize = 16;

/// A peer's state, as the HA ready check and the metrics see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PeerState {
    /// Not heard from within the dead interval (or never).
    Down,
    /// Alive; its full table has not arrived yet (this gateway installs sessions).
    Syncing,
    /// Alive, and in sync: its full resync completed (or this gateway installs nothing).
    Up,
}

impl PeerState {
    /// Every state, for a state-set metric.
    pub const ALL: [PeerState; 3] = [PeerState::Down, PeerState::Syncing, PeerState::Up];

    /// The `state` label value.
    pub const fn name(self) -> &'static str {
        match self {
            PeerState::Down => "down",
            PeerState::Syncing => "syncing",
            PeerState::Up => "up",
        }
    }
}

/// A numbered message kept for resending.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) kind: MsgType,
    pub(crate) flags: u8,
    pub(crate) body: Vec<u8>,
    pub(crate) records: u16,
}

/// A numbered message received ahead of a gap, or being delivered.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Inbound {
    pub(crate) flags: u8,
    pub(crate) body: Body,
    /// What its parse skipped (counted when it is delivered, once).
    pub(crate) skipped: Skipped,
}

/// What waits in a peer's queue.
#[derive(Debug)]
pub(crate) enum Item {
    /// A live update.
    Live(SyncSession),
    /// A record of a full resync pushed by the caller ([`super::Channel::queue_dump`]).
    Dump(SyncSession),
    /// The end of a pushed resync: request id and records it carried.
    Done(u32, u64),
}

/// An item waiting to be sent, with when it was queued.
#[derive(Debug)]
pub(crate) struct Queued {
    pub(crate) item: Item,
    pub(crate) at: Instant,
}

/// A resync the caller pushes record by record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpenDump {
    pub(crate) req_id: u32,
    pub(crate) records: u64,
}

/// Everything this gateway keeps about one peer.
#[derive(Debug)]
pub(crate) struct Peer {
    pub(crate) addr: SocketAddr,
    /// Discovered through the multicast group (it expires when silent), not listed.
    pub(crate) discovered: bool,
    /// When it was last heard from, or created: a discovered peer expires from this.
    pub(crate) seen: Instant,
    /// Whether its first message must tell it that this gateway has no state of it (a
    /// discovered peer: it may remember streams this gateway forgot).
    pub(crate) announce: bool,
    /// Whether it has addressed this gateway's current epoch (so it has streams with it).
    pub(crate) addressed: bool,
    /// The state last reported.
    pub(crate) reported: PeerState,

    // The peer's life.
    /// Its epoch; 0 until heard from.
    pub(crate) epoch: u64,
    /// Its earlier epochs, newest last.
    pub(crate) old_epochs: VecDeque<u64>,
    /// When its last fresh message came.
    pub(crate) last_heard: Option<Instant>,
    /// Its newest timestamp taken.
    pub(crate) last_ts: u64,

    // Its stream to us.
    pub(crate) recv: RecvWindow<Inbound>,
    /// The next number its stream will use, from its last message (shows a lost tail).
    pub(crate) peer_next: u64,
    /// Numbered messages taken since our last acknowledgement.
    pub(crate) unacked: u32,
    /// When an acknowledgement must go (`None`: nothing to acknowledge).
    pub(crate) ack_due: Option<Instant>,
    /// When we last sent a NACK.
    pub(crate) nack_at: Option<Instant>,
    /// Since when something of its stream is missing (`None`: nothing is).
    pub(crate) gap_since: Option<Instant>,

    // Our stream to it.
    pub(crate) send: SendWindow<Outgoing>,
    pub(crate) pending: VecDeque<Queued>,
    pub(crate) bucket: Bucket,
    /// A dump being streamed from a snapshot iterator.
    pub(crate) dump: Option<Dump>,
    /// A dump the caller pushes ([`super::Channel::open_resync`]).
    pub(crate) open: Option<OpenDump>,
    /// A dump to begin when the caller hands over a snapshot: the request id (0: ours).
    pub(crate) dump_wanted: Option<u32>,
    /// The highest request id of the peer's epoch served.
    pub(crate) served_req: u32,
    /// When a hello (or anything) must go next.
    pub(crate) hello_due: Instant,

    // Our request for its table.
    pub(crate) want: Option<Want>,
    /// Whether a resync from its current epoch completed.
    pub(crate) synced: bool,
    /// Whether a resync from it ever completed (the ready check).
    pub(crate) ever_synced: bool,
    pub(crate) last_resync: Option<Duration>,
    pub(crate) last_resync_sessions: u64,

    pub(crate) counters: PeerCounters,
}

impl Peer {
    pub(crate) fn new(addr: SocketAddr, window: usize, bucket: Bucket, now: Instant) -> Self {
        Self {
            addr,
            discovered: false,
            seen: now,
            announce: false,
            addressed: false,
            reported: PeerState::Down,
            epoch: 0,
            old_epochs: VecDeque::new(),
            last_heard: None,
            last_ts: 0,
            recv: RecvWindow::new(window),
            peer_next: 1,
            unacked: 0,
            ack_due: None,
            nack_at: None,
            gap_since: None,
            send: SendWindow::new(window),
            pending: VecDeque::new(),
            bucket,
            dump: None,
            open: None,
            dump_wanted: None,
            served_req: 0,
            hello_due: now,
            want: None,
            synced: false,
            ever_synced: false,
            last_resync: None,
            last_resync_sessions: 0,
            counters: PeerCounters::default(),
        }
    }

    /// Whether the peer was heard from within `dead` of `now`.
    pub(crate) fn alive(&self, now: Instant, dead: Duration) -> bool {
        self.last_heard.is_some_and(|t| now < t + dead)
    }

    /// The state at `now`; `receives`: whether this gateway installs sessions.
    pub(crate) fn state(&self, now: Instant, dead: Duration, receives: bool) -> PeerState {
        if self.epoch == 0 || !self.alive(now, dead) {
            PeerState::Down
        } else if receives && !self.synced {
            PeerState::Syncing
        } else {
            PeerState::Up
        }
    }

    /// Take a new epoch of the peer: reset both streams and the resyncs.
    pub(crate) fn adopt(&mut self, epoch: u64, window: usize) {
        if self.epoch != 0 {
            self.counters.restarts += 1;
            if self.old_epochs.len() == EPOCH_HISTORY {
                self.old_epochs.pop_front();
            }
            self.old_epochs.push_back(self.epoch);
        }
        self.epoch = epoch;
        self.reset(window);
    }

    /// Restart both streams and the resyncs, in the same epoch of the peer (a new epoch, or a
    /// peer that forgot this gateway).
    pub(crate) fn reset(&mut self, window: usize) {
        self.addressed = false;
        self.last_ts = 0;
        self.recv = RecvWindow::new(window);
        self.peer_next = 1;
        self.unacked = 0;
        self.ack_due = None;
        self.nack_at = None;
        self.gap_since = None;
        self.send = SendWindow::new(window);
        self.pending.clear();
        self.dump = None;
        self.open = None;
        self.dump_wanted = None;
        self.served_req = 0;
        self.want = None;
        self.synced = false;
    }

    /// Whether a message of `epoch` (not the current one) starts a new life of the peer: the
    /// first epoch, a newer one, or an unseen one after a silence (a clock gone back).
    pub(crate) fn is_restart(&self, epoch: u64, now: Instant, dead: Duration) -> bool {
        self.epoch == 0
            || epoch > self.epoch
            || (!self.alive(now, dead) && !self.old_epochs.contains(&epoch))
    }

    /// Whether live sessions should be queued for it: its epoch is known and no full resync
    /// is waiting for a snapshot (that resync will carry them).
    pub(crate) fn takes_live(&self) -> bool {
        self.epoch != 0 && self.dump_wanted.is_none()
    }

    /// The end (exclusive) of what the peer has sent, as far as this gateway knows.
    pub(crate) fn peer_horizon(&self) -> u64 {
        self.peer_next.max(self.recv.horizon())
    }
}
