//! [`Channel`]: the sync protocol as a sans-I/O state machine.
//!
//! The channel never touches a socket or a clock: the caller hands it datagrams
//! ([`Channel::on_datagram`]), sessions to send ([`Channel::queue`]), snapshots to stream
//! ([`Channel::begin_resync`]) and the time, and takes from it datagrams to send
//! ([`Channel::poll_transmit`]), events ([`Event`]) and the next time it must be called
//! ([`Channel::next_timeout`], then [`Channel::handle_timeout`]). The control loop drives it from
//! a `select!` arm, tests drive it through a simulated network.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use config::SyncMode;

use crate::stats::Histogram;

use super::auth::Auth;
use super::peer::{Inbound, Item, OpenDump, Outgoing, Peer, PeerState, Queued};
use super::rate::Bucket;
use super::record::{RecordError, SyncSession};
use super::resync::{Dump, Snapshot, Want};
use super::settings::{sender_id_of, Settings};
use super::stats::{ChannelStats, PeerStats, Reject, Rejects, TransportTotals, LAG_BUCKETS};
use super::window::Accept;
use super::wire::{
    body_of, data_prefix, parse_body_skipping, parse_header, put_body, put_record, record_len,
    seal, Body, Header, MsgType, Skipped, WireError, DATA_PREFIX_LEN, FLAG_GROUP, FLAG_RESYNC,
    MAX_NACK_RANGES,
};

/// Discovered peers forgotten, remembered (their epochs) to refuse replays of older lives.
pub const FORGOTTEN: usize = 64;

/// A datagram to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// The peer it goes to.
    pub dst: SocketAddr,
    /// The whole datagram.
    pub bytes: Vec<u8>,
}

/// Something the caller must act on.
#[derive(Debug)]
pub enum Event {
    /// Sessions from a peer, in the order it queued them: install (or remove) them.
    Sessions {
        /// The peer.
        peer: SocketAddr,
        /// The records.
        sessions: Vec<SyncSession>,
        /// When the oldest of them was queued on the peer, in Unix microseconds by its clock
        /// (for lag measurements).
        sent_unix_us: u64,
        /// Whether they belong to a full resync (the peer's table) rather than live updates.
        resync: bool,
    },
    /// A peer wants this gateway's full table (or this gateway's queue for it overflowed):
    /// hand a snapshot to [`Channel::begin_resync`]. Until then, sessions queued for that peer
    /// are left out (the snapshot carries them).
    ResyncRequested {
        /// The peer.
        peer: SocketAddr,
    },
    /// A full resync from a peer completed: this gateway has the peer's table.
    ResyncComplete {
        /// The peer.
        peer: SocketAddr,
        /// Sessions it carried.
        sessions: u64,
        /// From the request to the last record.
        duration: Duration,
    },
    /// A peer changed state.
    PeerState {
        /// The peer.
        peer: SocketAddr,
        /// Its new state.
        state: PeerState,
    },
}

/// Why a resync call was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResyncError {
    /// Not a configured peer.
    #[error("{0} is not a sync peer")]
    UnknownPeer(SocketAddr),
    /// The peer has not been heard from yet (it asks for the table when it comes).
    #[error("sync peer {0} has not been heard from")]
    NotConnected(SocketAddr),
    /// The mode does not send (`backup`) or does not receive (`master`) sessions.
    #[error("sync mode {0} does not do that")]
    Mode(&'static str),
    /// No resync is open for the peer.
    #[error("no resync is open for sync peer {0}")]
    NotOpen(SocketAddr),
}

/// The sync channel of one gateway with all its peers.
pub struct Channel {
    settings: Settings,
    auth: Auth,
    sender: u32,
    epoch: u64,
    start: Instant,
    /// The latest `now` the caller passed.
    now: Instant,
    /// The last timestamp sent.
    last_ts: u64,
    /// The next resync request id.
    next_req: u32,
    peers: Vec<Peer>,
    /// Round-robin start of [`Self::poll_transmit`].
    rr: usize,
    rejected: Rejects,
    invalid_records: u64,
    /// Received records skipped for a critical extension this version does not know.
    records_unknown_ext: u64,
    /// Received non-critical extensions this version does not know, ignored.
    extensions_ignored: u64,
    lag: Histogram,
    /// Events raised outside `on_datagram`/`handle_timeout`, returned by the next of them.
    events: Vec<Event>,
    /// When the next hello goes to the group.
    group_hello_due: Instant,
    /// Discovered peers forgotten: address and epochs (the last one last), oldest first.
    forgotten: VecDeque<(SocketAddr, VecDeque<u64>)>,
    peers_discovered: u64,
    peers_expired: u64,
    /// Distinct peers that completed a full resync towards this gateway since the channel
    /// started, kept when a discovered one is forgotten; only up to `expect_peers` (all
    /// [`Self::ready`] needs), so it stays small.
    resynced_from: Vec<SocketAddr>,
}

impl core::fmt::Debug for Channel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Channel")
            .field("settings", &self.settings)
            .field("epoch", &self.epoch)
            .field("peers", &self.peers.len())
            .finish_non_exhaustive()
    }
}

impl Channel {
    /// Start a channel at `now`. `epoch` is this run's boot id: the Unix time in microseconds
    /// (so a restart has a higher one; [`unix_epoch_now`]); peers resync with a new epoch.
    pub fn new(settings: Settings, epoch: u64, now: Instant) -> Self {
        let auth = Auth::new(&settings.key);
        let sender = settings.sender_id();
        let min_burst = Self::min_burst_of(&settings);
        let peers = settings
            .peers
            .iter()
            .map(|&a| {
                let bucket = Bucket::new(settings.rate, min_burst, now);
                Peer::new(a, settings.timing.window, bucket, now)
            })
            .collect();
        Self {
            settings,
            auth,
            sender,
            epoch: epoch.max(1),
            start: now,
            now,
            last_ts: 0,
            next_req: 1,
            peers,
            rr: 0,
            rejected: Rejects::default(),
            invalid_records: 0,
            records_unknown_ext: 0,
            extensions_ignored: 0,
            lag: Histogram::new(&LAG_BUCKETS),
            events: Vec::new(),
            group_hello_due: now,
            forgotten: VecDeque::new(),
            peers_discovered: 0,
            peers_expired: 0,
            resynced_from: Vec::new(),
        }
    }

    /// The records of one full datagram (the least burst of the rate cap).
    fn min_burst_of(s: &Settings) -> u32 {
        u32::try_from(s.record_space() / 30)
            .unwrap_or(u32::MAX)
            .max(1)
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// This run's epoch.
    pub const fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Apply a new rate cap (the one `[sync]` key a reload changes without a restart).
    pub fn set_rate(&mut self, rate: u32, now: Instant) {
        self.settings.rate = rate;
        let min = Self::min_burst_of(&self.settings);
        for p in &mut self.peers {
            p.bucket.set_rate(rate, min, now);
        }
    }

    fn note(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    /// Microseconds since this channel started.
    fn clock_us(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.start).as_micros()).unwrap_or(u64::MAX)
    }

    /// A timestamp for a message sent at `now`: strictly above the last one.
    fn stamp(&mut self, now: Instant) -> u64 {
        self.last_ts = self.clock_us(now).max(self.last_ts + 1);
        self.last_ts
    }

    /// Queue a session (created, changed or deleted here) for every peer. In `backup` mode
    /// nothing is sent and this only checks the record. A peer not heard from yet, or waiting
    /// for a snapshot, gets it through its full resync instead.
    ///
    /// # Errors
    ///
    /// The record breaks an invariant of [`SyncSession::validate`]; it is counted and dropped.
    pub fn queue(&mut self, rec: SyncSession, now: Instant) -> Result<(), RecordError> {
        self.note(now);
        if let Err(e) = rec.validate() {
            self.invalid_records += 1;
            return Err(e);
        }
        if !self.settings.mode.sends() {
            return Ok(());
        }
        let max = self.settings.timing.max_pending;
        for p in &mut self.peers {
            if !p.takes_live() {
                if p.epoch != 0 {
                    p.counters.sessions_coalesced += 1;
                }
                continue;
            }
            enqueue(p, Item::Live(rec.clone()), now, max, &mut self.events);
        }
        Ok(())
    }

    /// Queue a record of a full resync the caller pushes (see [`Self::open_resync`]) for every
    /// peer with one open, in order with the live updates queued around it.
    ///
    /// # Errors
    ///
    /// The record breaks an invariant of [`SyncSession::validate`]; it is counted and dropped.
    pub fn queue_dump(&mut self, rec: SyncSession, now: Instant) -> Result<(), RecordError> {
        self.note(now);
        if let Err(e) = rec.validate() {
            self.invalid_records += 1;
            return Err(e);
        }
        let max = self.settings.timing.max_pending;
        for p in &mut self.peers {
            if let Some(o) = &mut p.open {
                o.records += 1;
                enqueue(p, Item::Dump(rec.clone()), now, max, &mut self.events);
            }
        }
        Ok(())
    }

    /// Answer `peer`'s request for a full resync (or start one) with records the caller
    /// pushes through [`Self::queue_dump`] (the workers' table walks arrive through their
    /// event rings, interleaved with live events), then closes with [`Self::close_resync`].
    /// The alternative to [`Self::begin_resync`] for tables that cannot be iterated here.
    ///
    /// # Errors
    ///
    /// Unknown peer, a peer not heard from yet, or `backup` mode.
    pub fn open_resync(&mut self, peer: SocketAddr, now: Instant) -> Result<(), ResyncError> {
        self.note(now);
        if !self.settings.mode.sends() {
            return Err(ResyncError::Mode(self.settings.mode.name()));
        }
        let p = self.peer_mut(peer)?;
        if p.epoch == 0 {
            return Err(ResyncError::NotConnected(peer));
        }
        let req = take_request(p);
        p.open = Some(OpenDump {
            req_id: req,
            records: 0,
        });
        Ok(())
    }

    /// End the resync opened for `peer`: its "resync done" follows everything queued so far.
    ///
    /// # Errors
    ///
    /// Unknown peer, or no resync open for it (a new request or a queue overflow closed it:
    /// [`Event::ResyncRequested`] came again).
    pub fn close_resync(&mut self, peer: SocketAddr, now: Instant) -> Result<(), ResyncError> {
        self.note(now);
        let p = self.peer_mut(peer)?;
        let o = p.open.take().ok_or(ResyncError::NotOpen(peer))?;
        p.pending.push_back(Queued {
            item: Item::Done(o.req_id, o.records),
            at: now,
        });
        Ok(())
    }

    /// The longest queue of a peer, in sessions: a caller that pushes a resync from its
    /// workers' rings drains them while this is well under `max_pending`, so the rings (and the
    /// workers' table walks) wait instead of the queue overflowing.
    pub fn backlog(&self) -> usize {
        self.peers
            .iter()
            .map(|p| p.pending.len())
            .max()
            .unwrap_or(0)
    }

    /// Start streaming `snapshot` (this gateway's table) to `peer`, answering its request if
    /// it made one (else a resync this gateway starts, e.g. after its workers' event rings
    /// overflowed).
    ///
    /// # Errors
    ///
    /// Unknown peer, a peer not heard from yet, or `backup` mode.
    pub fn begin_resync(
        &mut self,
        peer: SocketAddr,
        snapshot: Snapshot,
        now: Instant,
    ) -> Result<(), ResyncError> {
        self.note(now);
        if !self.settings.mode.sends() {
            return Err(ResyncError::Mode(self.settings.mode.name()));
        }
        let p = self.peer_mut(peer)?;
        if p.epoch == 0 {
            return Err(ResyncError::NotConnected(peer));
        }
        let req = take_request(p);
        p.dump = Some(Dump::new(req, snapshot));
        Ok(())
    }

    /// Ask `peer` for its full table again (e.g. after this gateway lost sessions).
    ///
    /// # Errors
    ///
    /// Unknown peer, a peer not heard from yet, or `master` mode.
    pub fn request_resync(&mut self, peer: SocketAddr, now: Instant) -> Result<(), ResyncError> {
        self.note(now);
        if !self.settings.mode.receives() {
            return Err(ResyncError::Mode(self.settings.mode.name()));
        }
        let req = self.next_req;
        let p = self.peer_mut(peer)?;
        if p.epoch == 0 {
            return Err(ResyncError::NotConnected(peer));
        }
        p.want = Some(Want::new(req, now));
        p.counters.resyncs_requested += 1;
        self.next_req += 1;
        Ok(())
    }

    /// The peers waiting for a snapshot ([`Event::ResyncRequested`] not yet answered).
    pub fn resync_wanted(&self) -> Vec<SocketAddr> {
        self.peers
            .iter()
            .filter(|p| p.dump_wanted.is_some())
            .map(|p| p.addr)
            .collect()
    }

    fn peer_mut(&mut self, addr: SocketAddr) -> Result<&mut Peer, ResyncError> {
        self.peers
            .iter_mut()
            .find(|p| p.addr == addr)
            .ok_or(ResyncError::UnknownPeer(addr))
    }

    /// Every peer with its state (as last reported), in `peers` order.
    pub fn peers(&self) -> Vec<(SocketAddr, PeerState)> {
        self.peers.iter().map(|p| (p.addr, p.reported)).collect()
    }

    /// The state of `peer` (as last reported in an event).
    pub fn peer_state(&self, peer: SocketAddr) -> Option<PeerState> {
        self.peers
            .iter()
            .find(|p| p.addr == peer)
            .map(|p| p.reported)
    }

    /// Whether this gateway has every peer's table: each listed peer completed a full resync
    /// towards it at least once since the channel started, and so did at least `expect_peers`
    /// distinct peers, listed or discovered (always true in `master` mode, which installs
    /// nothing). The HA ready check: a gateway that is not ready must not take the VIPs over.
    ///
    /// With a multicast group, every discovered peer heard from within `dead` must also have
    /// completed a resync, and the gateway must have listened for `dead` (every peer
    /// multicasts a hello each `hello`), so it waits for all the peers it can hear, not only
    /// the first `expect_peers`. A peer it never heard of is counted by `expect_peers` alone:
    /// with a group and no `peers`, 1 by default, so a restarted gateway whose peer is down or
    /// whose sync path is cut waits instead of owning with an empty table.
    pub fn ready(&self) -> bool {
        if !self.settings.mode.receives() {
            return true;
        }
        let dead = self.settings.timing.dead;
        let listening = self.settings.group.is_none() || self.now >= self.start + dead;
        listening
            && self.resynced_from.len() >= self.settings.expect_peers
            && self
                .peers
                .iter()
                .all(|p| p.ever_synced || (p.discovered && self.now >= p.seen + dead))
    }

    /// Take a datagram that arrived from `from`. Anything wrong with it is counted (see
    /// [`ChannelStats::rejected`]) and nothing in it is used.
    pub fn on_datagram(&mut self, bytes: &[u8], from: SocketAddr, now: Instant) -> Vec<Event> {
        self.note(now);
        let mut ev = core::mem::take(&mut self.events);
        if let Err(r) = self.receive(bytes, from, now, &mut ev) {
            self.rejected.add(r);
        }
        self.refresh_states(now, &mut ev);
        ev
    }

    /// Run the timers due at `now` (peers going down); call it when [`Self::next_timeout`]
    /// passes.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Event> {
        self.note(now);
        let mut ev = core::mem::take(&mut self.events);
        self.refresh_states(now, &mut ev);
        ev
    }

    fn refresh_states(&mut self, now: Instant, ev: &mut Vec<Event>) {
        self.expire(now, ev);
        let (dead, receives) = (self.settings.timing.dead, self.settings.mode.receives());
        for p in &mut self.peers {
            let s = p.state(now, dead, receives);
            if s != p.reported {
                p.reported = s;
                ev.push(Event::PeerState {
                    peer: p.addr,
                    state: s,
                });
            }
        }
    }

    /// Forget the discovered peers silent for `expire`, remembering their epochs.
    fn expire(&mut self, now: Instant, ev: &mut Vec<Event>) {
        let expire = self.settings.timing.expire;
        let mut i = 0;
        while i < self.peers.len() {
            let p = &self.peers[i];
            if !p.discovered || now < p.seen + expire {
                i += 1;
                continue;
            }
            let p = self.peers.remove(i);
            self.peers_expired += 1;
            if p.reported != PeerState::Down {
                ev.push(Event::PeerState {
                    peer: p.addr,
                    state: PeerState::Down,
                });
            }
            let mut epochs = p.old_epochs;
            if p.epoch != 0 {
                epochs.push_back(p.epoch);
            }
            if self.forgotten.len() == FORGOTTEN {
                self.forgotten.pop_front();
            }
            self.forgotten.push_back((p.addr, epochs));
        }
    }

    /// A gateway not in the peer list sent an authenticated message of this sync group: take
    /// it as a peer if peers are discovered here, its authenticated sender id is the one of
    /// the address it sends from, the message is not from an older life of a forgotten peer,
    /// and the cap leaves room. The message itself is not used: the new peer's first message
    /// tells the gateway that this one has no state of it, then the handshake runs as with a
    /// listed peer.
    fn discover(&mut self, h: &Header, from: SocketAddr, now: Instant) -> Result<(), Reject> {
        if self.settings.group.is_none() || h.sender != sender_id_of(from) {
            return Err(Reject::UnknownPeer);
        }
        let history = self
            .forgotten
            .iter()
            .position(|(a, _)| *a == from)
            .and_then(|i| self.forgotten.remove(i))
            .map(|(_, e)| e)
            .unwrap_or_default();
        // An epoch before the last one seen is an older life, replayed.
        if history.iter().rev().skip(1).any(|&e| e == h.epoch) {
            self.forgotten.push_back((from, history));
            return Err(Reject::Stale);
        }
        let t = self.settings.timing;
        if self.peers.iter().filter(|p| p.discovered).count() >= t.max_discovered {
            self.forgotten.push_back((from, history));
            return Err(Reject::PeerLimit);
        }
        let bucket = Bucket::new(self.settings.rate, Self::min_burst_of(&self.settings), now);
        let mut p = Peer::new(from, t.window, bucket, now);
        p.discovered = true;
        p.announce = true;
        p.old_epochs = history;
        self.peers.push(p);
        self.peers_discovered += 1;
        Ok(())
    }

    fn receive(
        &mut self,
        bytes: &[u8],
        from: SocketAddr,
        now: Instant,
        ev: &mut Vec<Event>,
    ) -> Result<(), Reject> {
        let h = parse_header(bytes).map_err(|e| match e {
            WireError::Version(_) => Reject::Version,
            _ => Reject::Malformed,
        })?;
        if h.syncid != self.settings.syncid {
            return Err(Reject::Syncid);
        }
        if !self.auth.verify(bytes) {
            return Err(Reject::Hmac);
        }
        if h.sender == self.sender && h.epoch == self.epoch {
            return Err(Reject::Own);
        }
        let mut skipped = Skipped::default();
        let (body, refused) = match parse_body_skipping(h.kind, body_of(bytes), &mut skipped) {
            Ok(b) => (b, false),
            // Authentic, numbered, from a known peer's current epoch to this one, but not
            // readable here (a newer peer's format): its slot in the stream is taken empty and
            // acknowledged, so the stream goes on behind it (see the module documentation).
            Err(_)
                if h.kind.reliable()
                    && h.peer_epoch == self.epoch
                    && self
                        .peers
                        .iter()
                        .any(|p| p.addr == from && p.epoch != 0 && p.epoch == h.epoch) =>
            {
                self.rejected.add(Reject::Undecodable);
                (Body::Ack, true)
            }
            Err(_) => return Err(Reject::Malformed),
        };
        let Some(idx) = self.peers.iter().position(|p| p.addr == from) else {
            return self.discover(&h, from, now);
        };
        let t = self.settings.timing;
        let receives = self.settings.mode.receives();
        let p = &mut self.peers[idx];

        if p.epoch != h.epoch {
            // A newer epoch is a restart; so is an unseen one of a peer that went silent (its
            // clock may have gone back). Anything else is a replay of an older life.
            if p.is_restart(h.epoch, now, t.dead) {
                p.adopt(h.epoch, t.window);
                if receives {
                    p.want = Some(Want::new(self.next_req, now));
                    p.counters.resyncs_requested += 1;
                    self.next_req += 1;
                }
            } else {
                return Err(Reject::Stale);
            }
        } else if h.kind == MsgType::Hello
            && h.flags & FLAG_GROUP == 0
            && h.peer_epoch == 0
            && p.addressed
            && h.ts_us > p.last_ts
        {
            // The peer addressed this gateway's epoch before and now says it does not know it:
            // it forgot this gateway (it expired it). Its streams restarted; so do ours.
            p.reset(t.window);
            p.counters.resets += 1;
            if receives {
                p.want = Some(Want::new(self.next_req, now));
                p.counters.resyncs_requested += 1;
                self.next_req += 1;
            }
        }
        let fresh = h.ts_us > p.last_ts;
        if fresh {
            p.seen = now;
            if !p.alive(now, t.dead) {
                // Back after a silence: resend what is in flight and the request at once.
                p.send.expedite();
                if let Some(w) = &mut p.want {
                    w.last_sent = None;
                }
            }
            p.last_ts = h.ts_us;
            p.last_heard = Some(now);
        }
        p.counters.messages_received += 1;
        let to_us = h.peer_epoch == self.epoch;
        if to_us {
            p.addressed = true;
            p.send.on_ack(h.ack);
            let next = if h.kind.reliable() {
                h.seq.saturating_add(1)
            } else {
                h.seq
            };
            p.peer_next = p.peer_next.max(next);
        }
        let mut delivered = Vec::new();
        match body {
            body if h.kind.reliable() => {
                if !to_us {
                    return Err(Reject::Stale);
                }
                let item = Inbound {
                    flags: h.flags,
                    body,
                    skipped,
                };
                match p.recv.accept(h.seq, item) {
                    Accept::Deliver(items) => delivered = items,
                    Accept::Buffered => {}
                    Accept::Duplicate => {
                        // A resend of something acknowledged: the ACK may have been lost.
                        p.counters.duplicates += 1;
                        p.ack_due = Some(now);
                    }
                    Accept::OutOfWindow => return Err(Reject::OutOfWindow),
                }
            }
            // A numbered type took the arm above, a refused one included.
            Body::Hello | Body::Ack | Body::Data { .. } | Body::ResyncDone { .. } => {
                debug_assert!(!refused);
            }
            Body::Nack { ranges } => {
                if !to_us || !fresh {
                    return Err(Reject::Stale);
                }
                p.counters.nacks_received += 1;
                p.send.on_nack(&ranges, now, t.rto / 4);
            }
            Body::ResyncRequest { req_id } => {
                if h.peer_epoch != 0 && !to_us {
                    return Err(Reject::Stale);
                }
                if req_id > p.served_req {
                    p.served_req = req_id;
                    if self.settings.mode.sends() {
                        p.dump = None;
                        p.open = None;
                        p.dump_wanted = Some(req_id);
                        ev.push(Event::ResyncRequested { peer: p.addr });
                    } else {
                        // A backup sends no sessions: its table for the peer is empty.
                        p.dump = Some(Dump::new(req_id, Box::new(core::iter::empty())));
                    }
                }
            }
        }
        if p.recv.has_gap(p.peer_horizon()) {
            p.gap_since.get_or_insert(now);
        } else {
            p.gap_since = None;
        }
        for item in delivered {
            self.deliver(idx, item, now, ev);
        }
        Ok(())
    }

    /// Hand one in-order numbered message to the caller.
    fn deliver(&mut self, idx: usize, item: Inbound, now: Instant, ev: &mut Vec<Event>) {
        let t = self.settings.timing;
        let receives = self.settings.mode.receives();
        let now_unix = self.epoch.saturating_add(self.clock_us(now));
        let p = &mut self.peers[idx];
        p.unacked += 1;
        let soon = now + t.ack_delay;
        p.ack_due = Some(if p.unacked >= t.ack_every {
            now
        } else {
            p.ack_due.map_or(soon, |d| d.min(soon))
        });
        self.records_unknown_ext += item.skipped.records;
        self.extensions_ignored += item.skipped.extensions;
        match item.body {
            Body::Data {
                first_queued_us,
                records,
            } => {
                if !receives {
                    self.rejected.add(Reject::Mode);
                    return;
                }
                let n = records.len() as u64;
                let resync = item.flags & FLAG_RESYNC != 0;
                p.counters.sessions_received += n;
                if let (true, Some(w)) = (resync, &mut p.want) {
                    w.sessions += n;
                }
                let sent_unix_us = p.epoch.saturating_add(first_queued_us);
                if !resync {
                    let lag_us = now_unix.saturating_sub(sent_unix_us);
                    self.lag
                        .observe(Duration::from_micros(lag_us).as_secs_f64());
                }
                ev.push(Event::Sessions {
                    peer: p.addr,
                    sessions: records,
                    sent_unix_us,
                    resync,
                });
            }
            Body::ResyncDone { req_id, .. } => {
                // Tell the peer at once that its resync arrived.
                p.ack_due = Some(now);
                if p.want.as_ref().is_some_and(|w| w.req_id == req_id) {
                    if let Some(w) = p.want.take() {
                        let duration = now.saturating_duration_since(w.started);
                        p.synced = true;
                        p.ever_synced = true;
                        if self.resynced_from.len() < self.settings.expect_peers
                            && !self.resynced_from.contains(&p.addr)
                        {
                            self.resynced_from.push(p.addr);
                        }
                        p.last_resync = Some(duration);
                        p.last_resync_sessions = w.sessions;
                        p.counters.resyncs_completed += 1;
                        ev.push(Event::ResyncComplete {
                            peer: p.addr,
                            sessions: w.sessions,
                            duration,
                        });
                    }
                }
            }
            _ => {}
        }
    }

    /// Return the next datagram to send at `now`, if any; call it until it returns `None`
    /// after every other call.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        self.note(now);
        if let Some(t) = self.poll_group(now) {
            return Some(t);
        }
        let n = self.peers.len();
        for i in 0..n {
            let idx = (self.rr + i) % n;
            if let Some(t) = self.poll_peer(idx, now) {
                self.rr = (idx + 1) % n;
                return Some(t);
            }
        }
        None
    }

    /// The hello to the multicast group, when one is due: it carries no stream position, only
    /// this gateway's existence (authenticated, with its sync group and epoch).
    fn poll_group(&mut self, now: Instant) -> Option<Transmit> {
        let group = self.settings.group?;
        if self.group_hello_due > now {
            return None;
        }
        self.group_hello_due = now + self.settings.timing.hello;
        let h = Header {
            kind: MsgType::Hello,
            syncid: self.settings.syncid,
            flags: FLAG_GROUP,
            sender: self.sender,
            epoch: self.epoch,
            peer_epoch: 0,
            seq: 0,
            ack: 0,
            ts_us: self.stamp(now),
        };
        let mut bytes = Vec::with_capacity(super::wire::OVERHEAD);
        seal(&mut bytes, &h, &[], &self.auth).ok()?;
        Some(Transmit { dst: group, bytes })
    }

    fn poll_peer(&mut self, idx: usize, now: Instant) -> Option<Transmit> {
        let ts = self.stamp(now);
        let t = self.settings.timing;
        let space = self.settings.record_space();
        let p = &mut self.peers[idx];
        let alive = p.alive(now, t.dead);
        let mut out = Vec::new();
        // (type, flags, seq, body, sessions, resent)
        let mut msg: Option<(MsgType, u8, u64, Vec<u8>, u16, bool)> = None;
        // A discovered peer first hears that this gateway has no state of it (peer epoch 0).
        let announce = core::mem::take(&mut p.announce);
        if announce {
            msg = Some((MsgType::Hello, 0, p.send.next_seq(), Vec::new(), 0, false));
        } else if p.epoch != 0 {
            let horizon = p.peer_horizon();
            let nack_ready = p.gap_since.is_some_and(|g| g + t.ack_delay <= now)
                && p.nack_at.is_none_or(|a| a + t.rto <= now);
            let want_ready = alive
                && p.want
                    .as_ref()
                    .is_some_and(|w| w.last_sent.is_none_or(|s| s + t.resync_retry <= now));
            if nack_ready && p.recv.has_gap(horizon) {
                let ranges = p.recv.missing(horizon, MAX_NACK_RANGES);
                let _ = put_body(&mut out, &Body::Nack { ranges });
                p.nack_at = Some(now);
                p.counters.nacks_sent += 1;
                msg = Some((MsgType::Nack, 0, p.send.next_seq(), out, 0, false));
            } else if p.ack_due.is_some_and(|d| d <= now) {
                msg = Some((MsgType::Ack, 0, p.send.next_seq(), out, 0, false));
            } else if want_ready {
                if let Some(w) = &mut p.want {
                    w.last_sent = Some(now);
                    let _ = put_body(&mut out, &Body::ResyncRequest { req_id: w.req_id });
                    msg = Some((MsgType::ResyncRequest, 0, p.send.next_seq(), out, 0, false));
                }
            } else if let Some(m) = alive
                .then(|| p.send.resend(now, t.rto, t.max_rto))
                .flatten()
            {
                let (kind, flags, seq, records) =
                    (m.item.kind, m.item.flags, m.seq, m.item.records);
                msg = Some((kind, flags, seq, m.item.body.clone(), records, true));
            } else if alive && p.send.can_send() {
                if let Some(o) = pack(p, now, space, self.start, &mut self.invalid_records) {
                    let seq = p.send.next_seq();
                    msg = Some((o.kind, o.flags, seq, o.body.clone(), o.records, false));
                    p.send.push(o, now);
                }
            }
        }
        if msg.is_none() && p.hello_due <= now {
            msg = Some((MsgType::Hello, 0, p.send.next_seq(), Vec::new(), 0, false));
        }
        let (kind, flags, seq, body, records, resent) = msg?;
        let h = Header {
            kind,
            syncid: self.settings.syncid,
            flags,
            sender: self.sender,
            epoch: self.epoch,
            peer_epoch: if announce { 0 } else { p.epoch },
            seq,
            ack: p.recv.ack(),
            ts_us: ts,
        };
        let mut bytes = Vec::with_capacity(body.len() + super::wire::OVERHEAD);
        seal(&mut bytes, &h, &body, &self.auth).ok()?;
        // Every message acknowledges and keeps the peer's liveness timer running.
        p.ack_due = None;
        p.unacked = 0;
        p.hello_due = now + t.hello;
        p.counters.messages_sent += 1;
        if resent {
            p.counters.messages_resent += 1;
            p.counters.sessions_resent += u64::from(records);
        } else {
            p.counters.sessions_sent += u64::from(records);
        }
        if kind == MsgType::ResyncDone && !resent {
            p.counters.resyncs_served += 1;
        }
        Some(Transmit { dst: p.addr, bytes })
    }

    /// When the channel next needs [`Self::handle_timeout`] or [`Self::poll_transmit`]; `None`
    /// when only a datagram or a call from the caller can change anything.
    pub fn next_timeout(&self) -> Option<Instant> {
        let now = self.now;
        if !self.events.is_empty() {
            return Some(now);
        }
        let t = self.settings.timing;
        let mut best: Option<Instant> = None;
        let mut at = |i: Instant| best = Some(best.map_or(i, |b| b.min(i)));
        if self.settings.group.is_some() {
            at(self.group_hello_due);
            if now < self.start + t.dead {
                // The end of the first listening period changes `ready`.
                at(self.start + t.dead);
            }
        }
        for p in &self.peers {
            at(p.hello_due);
            if p.announce {
                at(now);
            }
            if p.discovered {
                at(p.seen + t.expire);
                if !p.ever_synced && now < p.seen + t.dead {
                    at(p.seen + t.dead);
                }
            }
            if p.epoch == 0 {
                continue;
            }
            if let Some(d) = p.ack_due {
                at(d);
            }
            if let Some(g) = p.gap_since {
                let nack = p.nack_at.map_or(now, |a| a + t.rto);
                at((g + t.ack_delay).max(nack));
            }
            let Some(heard) = p.last_heard.filter(|&h| now < h + t.dead) else {
                continue;
            };
            at(heard + t.dead);
            if let Some(w) = &p.want {
                at(w.last_sent.map_or(now, |s| s + t.resync_retry));
            }
            if let Some(r) = p.send.next_resend(now, t.rto, t.max_rto) {
                at(r);
            }
            if p.send.can_send() && (!p.pending.is_empty() || p.dump.is_some()) {
                at(p.bucket.next_token(now).unwrap_or(now));
            }
        }
        best
    }

    /// Each peer's queue depths (in flight, buffered, pending), as [`Self::stats`] reports
    /// them, without building the rest: the fuzz harness checks them after every datagram.
    pub fn queue_depths(&self) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        self.peers
            .iter()
            .map(|p| (p.send.in_flight(), p.recv.buffered(), p.pending.len()))
    }

    /// Counters and state for the metrics endpoint.
    pub fn stats(&self) -> ChannelStats {
        ChannelStats {
            ready: self.ready(),
            rejected: self.rejected,
            invalid_records: self.invalid_records,
            records_unknown_ext: self.records_unknown_ext,
            extensions_ignored: self.extensions_ignored,
            peers_discovered: self.peers_discovered,
            peers_expired: self.peers_expired,
            peers: self
                .peers
                .iter()
                .map(|p| PeerStats {
                    addr: p.addr,
                    state: p.reported,
                    counters: p.counters,
                    in_flight: p.send.in_flight(),
                    pending: p.pending.len(),
                    buffered: p.recv.buffered(),
                    last_resync: p.last_resync,
                    last_resync_sessions: p.last_resync_sessions,
                    discovered: p.discovered,
                })
                .collect(),
            lag: self.lag.clone(),
            transport: TransportTotals::default(),
        }
    }

    /// The mode it runs in.
    pub fn mode(&self) -> SyncMode {
        self.settings.mode
    }
}

/// Queue `item` for `p`; on overflow, replace the queue by a full resync (which supersedes a
/// dump in progress, keeping the request it answers) and ask the caller for it.
fn enqueue(p: &mut Peer, item: Item, now: Instant, max: usize, events: &mut Vec<Event>) {
    if p.pending.len() >= max {
        p.pending.clear();
        p.counters.queue_overflows += 1;
        p.dump_wanted = Some(take_request(p));
        events.push(Event::ResyncRequested { peer: p.addr });
        return;
    }
    p.pending.push_back(Queued { item, at: now });
}

/// Take the request a new dump answers: the one waiting for a snapshot, else the one a dump in
/// progress answers (it is superseded), else 0 (this gateway's own initiative).
fn take_request(p: &mut Peer) -> u32 {
    p.dump_wanted
        .take()
        .or_else(|| p.dump.take().map(|d| d.req_id))
        .or_else(|| p.open.take().map(|o| o.req_id))
        .unwrap_or(0)
}

/// A `ResyncDone` body.
fn done(req_id: u32, records: u64) -> Outgoing {
    let mut body = Vec::new();
    let _ = put_body(&mut body, &Body::ResyncDone { req_id, records });
    Outgoing {
        kind: MsgType::ResyncDone,
        flags: 0,
        body,
        records: 0,
    }
}

/// Pack the next numbered message for `p`: the queue first (live updates and pushed resync
/// records, each message of one kind, and a pushed resync's end), then an iterator dump, whose
/// end gives its `ResyncDone`. `None` when there is nothing to send or no token left.
fn pack(
    p: &mut Peer,
    now: Instant,
    space: usize,
    start: Instant,
    invalid: &mut u64,
) -> Option<Outgoing> {
    if p.pending.is_empty() && p.dump.is_none() {
        return None;
    }
    if let Some(Queued {
        item: Item::Done(req, n),
        ..
    }) = p.pending.front()
    {
        let out = done(*req, *n);
        p.pending.pop_front();
        return Some(out);
    }
    let budget = p.bucket.available(now).min(u32::from(u16::MAX));
    let clock = |at: Instant| {
        u64::try_from(at.saturating_duration_since(start).as_micros()).unwrap_or(u64::MAX)
    };
    let mut body = vec![0; DATA_PREFIX_LEN];
    let mut used = 0;
    let mut count: u32 = 0;
    let (flags, first) = if let Some(q) = p.pending.front() {
        let (first, resync) = (clock(q.at), matches!(q.item, Item::Dump(_)));
        while count < budget {
            let rec = match p.pending.front().map(|q| &q.item) {
                Some(Item::Live(r)) if !resync => r,
                Some(Item::Dump(r)) if resync => r,
                _ => break,
            };
            let len = record_len(rec);
            if used + len > space {
                break;
            }
            // Records were checked when queued, so this cannot fail.
            if put_record(&mut body, rec).is_ok() {
                used += len;
                count += 1;
            }
            p.pending.pop_front();
        }
        (if resync { FLAG_RESYNC } else { 0 }, first)
    } else {
        let d = p.dump.as_mut()?;
        let mut exhausted = false;
        while count < budget {
            let Some(rec) = d.next() else {
                exhausted = true;
                break;
            };
            let len = record_len(&rec);
            if used + len > space {
                d.hold(rec);
                break;
            }
            match put_record(&mut body, &rec) {
                Ok(()) => {
                    used += len;
                    count += 1;
                }
                Err(_) => *invalid += 1,
            }
        }
        d.sent += u64::from(count);
        if count == 0 && exhausted {
            let d = p.dump.take()?;
            return Some(done(d.req_id, d.sent));
        }
        (FLAG_RESYNC, clock(now))
    };
    if count == 0 {
        return None;
    }
    let n16 = u16::try_from(count).unwrap_or(u16::MAX);
    let mut prefix = Vec::with_capacity(DATA_PREFIX_LEN);
    data_prefix(&mut prefix, first, n16);
    body[..DATA_PREFIX_LEN].copy_from_slice(&prefix);
    p.bucket.take(count);
    Some(Outgoing {
        kind: MsgType::Data,
        flags,
        body,
        records: n16,
    })
}

/// This moment as a channel epoch: Unix time in microseconds.
pub fn unix_epoch_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}
