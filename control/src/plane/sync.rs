//! Session sync on control: the channel ([`crate::sync::Channel`]) and its socket, fed from the
//! workers' event rings and feeding their install rings (`dataplane::sync`).
//!
//! - **Out**: every loop iteration drains the workers' event rings into [`Channel::queue`],
//!   while the channel's backlog stays under half its queue bound (past that the rings wait,
//!   and a ring that fills counts its overflows on the worker).
//! - **Full resync** (a peer asks, or the rings overflowed): the peers that asked are opened
//!   ([`Channel::open_resync`]), every worker is asked for a paced walk of its tables; the
//!   walk's entries ([`SyncKind::Dump`] between the worker's `DumpBegin` and `DumpEnd`) go to
//!   [`Channel::queue_dump`], in ring order with the live events around them; when every
//!   worker has ended its walk the resync is closed ([`Channel::close_resync`]). A peer that
//!   asks while a walk runs waits for the next one.
//! - **In**: a peer's sessions are converted ([`crate::sync::to_event`]) and placed
//!   ([`dataplane::sync::placement`]: the worker that will own their packets, plus a redirect
//!   stub where the client's packets arrive elsewhere), then handed to those workers' install
//!   rings; what a full ring does not take waits here, bounded.
//! - **Reload**: a `[sync]` change that [`config::SessionSync::restart_needed`] restarts the
//!   channel (a new epoch: the peers resync); a rate change is applied in place. The rings
//!   exist only when sync was enabled at start.
//! - A socket that cannot be bound yet (its address not up) is retried every second.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use config::SessionSync;
use crossbeam_channel::{never, Receiver};
use dataplane::snapshot::Snapshot;
use dataplane::sync::{placement, ControlSync, Install, Role, Steering, SyncKind};

use crate::sync::{
    to_event, to_record, unix_epoch_now, Channel, ChannelStats, Datagram, Event, Settings,
    UdpTransport,
};

/// Installs waiting for room in one worker's ring, at most (beyond, they are dropped and
/// counted: the next full resync from the peer repairs them).
pub const PENDING_INSTALLS: usize = 1 << 16;
/// Events taken from one worker's ring per loop iteration, at most.
const DRAIN_PER_WORKER: usize = 4096;
/// How often a socket that could not be bound is tried again.
const BIND_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// What the gateway hands control when `[sync]` is enabled at start: control's end of every
/// worker's sync link (in worker order) and how this gateway steers packets to its workers.
#[derive(Debug)]
pub struct SyncLinks {
    /// One link per worker.
    pub links: Vec<ControlSync>,
    /// Where a synced session belongs here.
    pub steering: Steering,
    /// Where the channel's statistics go for the metrics endpoint.
    pub stats: Arc<Mutex<Option<ChannelStats>>>,
}

/// Control's own sync counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncPlaneStats {
    /// Peer sessions handed to a worker's install ring.
    pub installs: u64,
    /// Peer sessions dropped because a worker's pending installs were full.
    pub installs_dropped: u64,
    /// Peer sessions no worker can hold (mixed families, a bad port index) or with no
    /// service here.
    pub unplaceable: u64,
    /// Full resyncs served from the workers' table walks.
    pub resyncs_served: u64,
    /// Ring overflows seen on the workers (each starts a repairing full resync).
    pub overflows_seen: u64,
}

/// A running channel and its socket.
struct Running {
    channel: Channel,
    transport: UdpTransport,
}

/// A full resync being collected from the workers' walks.
#[derive(Debug)]
struct Collect {
    /// The peers it was opened for.
    peers: Vec<SocketAddr>,
    /// Per worker: its walk began (a `DumpBegin` came after the request).
    begun: Vec<bool>,
    /// Per worker: its walk ended.
    ended: Vec<bool>,
}

/// Session sync on control (see the module doc).
pub struct SyncPlane {
    links: Vec<ControlSync>,
    steering: Steering,
    pending: Vec<VecDeque<Install>>,
    cfg: SessionSync,
    running: Option<Running>,
    last_bind_try: Option<Instant>,
    collect: Option<Collect>,
    waiting: Vec<SocketAddr>,
    overflows: u64,
    stats: SyncPlaneStats,
    published: Arc<Mutex<Option<ChannelStats>>>,
}

impl std::fmt::Debug for SyncPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncPlane")
            .field("workers", &self.links.len())
            .field("running", &self.running.is_some())
            .field("collect", &self.collect)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl SyncPlane {
    /// Take over the links; the channel starts at the first [`Self::poll`] (binding its
    /// socket) when `cfg` enables it.
    pub fn new(l: SyncLinks, cfg: &SessionSync) -> Self {
        Self {
            pending: l.links.iter().map(|_| VecDeque::new()).collect(),
            links: l.links,
            steering: l.steering,
            cfg: cfg.clone(),
            running: None,
            last_bind_try: None,
            collect: None,
            waiting: Vec::new(),
            overflows: 0,
            stats: SyncPlaneStats::default(),
            published: l.stats,
        }
    }

    /// Control's sync counts.
    pub fn stats(&self) -> SyncPlaneStats {
        self.stats
    }

    /// The channel, when it runs.
    pub fn channel(&self) -> Option<&Channel> {
        self.running.as_ref().map(|r| &r.channel)
    }

    /// The HA ready check: with sync enabled, the channel runs and has every peer's table
    /// ([`Channel::ready`]), false while the socket is not bound; with sync disabled
    /// (`[sync] enabled = false`, `--stop-daemon`) there is nothing to wait for.
    pub fn ready(&self) -> bool {
        !self.cfg.enabled || self.running.as_ref().is_some_and(|r| r.channel.ready())
    }

    /// The `[sync]` the plane runs with.
    pub fn settings(&self) -> &SessionSync {
        &self.cfg
    }

    /// The datagrams to wait on (`never()` while no socket is bound).
    pub fn datagrams(&self) -> Receiver<Datagram> {
        self.running
            .as_ref()
            .map_or_else(never, |r| r.transport.datagrams().clone())
    }

    /// When the channel next needs [`Self::on_timer`].
    pub fn next_timeout(&self) -> Option<Instant> {
        self.running.as_ref().and_then(|r| r.channel.next_timeout())
    }

    /// Take a datagram from the socket.
    pub fn on_datagram(&mut self, d: &Datagram, snap: &Snapshot, now: Instant) {
        let Some(r) = &mut self.running else {
            return;
        };
        let events = r.channel.on_datagram(&d.bytes, d.from, now);
        self.handle(events, snap, now);
    }

    /// Run the channel's timers.
    pub fn on_timer(&mut self, snap: &Snapshot, now: Instant) {
        let Some(r) = &mut self.running else {
            return;
        };
        if r.channel.next_timeout().is_some_and(|t| t <= now) {
            let events = r.channel.handle_timeout(now);
            self.handle(events, snap, now);
        }
    }

    /// The work of every loop iteration: bind the socket if it is not, drain the workers'
    /// events into the channel, hand waiting installs over, send what the channel has.
    /// `overflows` is the sum of the workers' ring overflows.
    pub fn poll(&mut self, snap: &Snapshot, overflows: u64, now: Instant) {
        self.ensure_running(now);
        if overflows > self.overflows {
            self.stats.overflows_seen += overflows - self.overflows;
            self.overflows = overflows;
            // Lost events: every connected peer gets the whole table again.
            if let Some(r) = &self.running {
                for (p, _) in r.channel.peers() {
                    if !self.waiting.contains(&p) {
                        self.waiting.push(p);
                    }
                }
            }
        }
        self.drain(now);
        self.start_collect(now);
        self.flush_installs();
        if let Some(r) = &mut self.running {
            let events = r.channel.handle_timeout(now);
            self.handle(events, snap, now);
        }
        self.transmit(now);
    }

    /// Publish the channel's statistics for the metrics endpoint.
    pub fn publish_stats(&self) {
        let s = self.running.as_ref().map(|r| {
            let mut s = r.channel.stats();
            s.transport = r.transport.totals();
            s
        });
        if let Ok(mut slot) = self.published.lock() {
            *slot = s;
        }
    }

    /// Apply a new `[sync]` (a reload): restart the channel when its settings change, apply a
    /// rate change in place, stop it when disabled.
    pub fn reconfigure(&mut self, new: &SessionSync, now: Instant) {
        if self.cfg.restart_needed(new) {
            match (self.cfg.enabled, new.enabled) {
                (false, false) => {}
                (true, false) => println!("ferrovs: sync: disabled: stopping the channel"),
                (false, true) => println!("ferrovs: sync: enabled: starting the channel"),
                (true, true) => {
                    println!("ferrovs: sync: settings changed: restarting the channel (new epoch)");
                }
            }
            self.running = None;
            self.collect = None;
            self.waiting.clear();
            self.last_bind_try = None;
            self.cfg = new.clone();
            self.ensure_running(now);
            self.publish_stats();
        } else if self.cfg.rate != new.rate {
            if let Some(r) = &mut self.running {
                r.channel.set_rate(new.rate, now);
            }
            self.cfg.rate = new.rate;
        }
    }

    fn ensure_running(&mut self, now: Instant) {
        if self.running.is_some() || !self.cfg.enabled {
            return;
        }
        if self
            .last_bind_try
            .is_some_and(|t| now.saturating_duration_since(t) < BIND_RETRY)
        {
            return;
        }
        let first = self.last_bind_try.is_none();
        self.last_bind_try = Some(now);
        let settings = match Settings::from_config(&self.cfg) {
            Ok(s) => s,
            Err(e) => {
                if first {
                    eprintln!("ferrovs: sync: {e}");
                }
                return;
            }
        };
        let bound = match settings.group {
            Some(g) => UdpTransport::bind_group(settings.listen, g, settings.ttl),
            None => UdpTransport::bind(settings.listen),
        };
        match bound {
            Ok(transport) => {
                let group = settings
                    .group
                    .map_or_else(String::new, |g| format!(", discovering peers on group {g}"));
                println!(
                    "ferrovs: sync: channel on {} to {:?}{group}, mode {}",
                    settings.listen,
                    settings.peers,
                    settings.mode.name()
                );
                let channel = Channel::new(settings, unix_epoch_now(), now);
                self.running = Some(Running { channel, transport });
            }
            Err(e) => {
                if first {
                    eprintln!(
                        "ferrovs: sync: cannot bind {} yet ({e}); retrying every second",
                        settings.listen
                    );
                }
            }
        }
    }

    fn handle(&mut self, events: Vec<Event>, snap: &Snapshot, now: Instant) {
        for e in events {
            match e {
                Event::Sessions {
                    sessions, resync, ..
                } => {
                    for rec in &sessions {
                        self.place(snap, rec, resync);
                    }
                }
                Event::ResyncRequested { peer } => {
                    if !self.waiting.contains(&peer) {
                        self.waiting.push(peer);
                    }
                }
                Event::ResyncComplete {
                    peer,
                    sessions,
                    duration,
                } => println!(
                    "ferrovs: sync: full resync from {peer} complete: {sessions} sessions in {:.3} s",
                    duration.as_secs_f64()
                ),
                Event::PeerState { peer, state } => {
                    println!("ferrovs: sync: peer {peer} is {}", state.name());
                }
            }
        }
        self.start_collect(now);
    }

    /// Hand a peer's record to the worker that owns it (and a stub to those its client's
    /// packets may reach).
    fn place(&mut self, snap: &Snapshot, rec: &crate::sync::SyncSession, resync: bool) {
        let Ok(event) = to_event(rec, resync) else {
            self.stats.unplaceable += 1;
            return;
        };
        let Ok(p) = placement(snap, &event, &self.steering) else {
            self.stats.unplaceable += 1;
            return;
        };
        self.push_install(
            p.home,
            Install {
                event,
                role: Role::Home,
            },
        );
        for w in p.stub_workers(self.steering.workers) {
            self.push_install(
                w,
                Install {
                    event,
                    role: Role::Stub { home: p.home },
                },
            );
        }
    }

    fn push_install(&mut self, w: u16, req: Install) {
        let Some(q) = self.pending.get_mut(usize::from(w)) else {
            self.stats.unplaceable += 1;
            return;
        };
        if q.len() >= PENDING_INSTALLS {
            self.stats.installs_dropped += 1;
            return;
        }
        q.push_back(req);
        self.stats.installs += 1;
    }

    fn flush_installs(&mut self) {
        for (q, l) in self.pending.iter_mut().zip(&mut self.links) {
            while let Some(req) = q.front() {
                if l.installs.push(*req).is_err() {
                    break;
                }
                q.pop_front();
            }
        }
    }

    /// Open a full resync for the peers waiting, if none is being collected.
    fn start_collect(&mut self, now: Instant) {
        if self.collect.is_some() || self.waiting.is_empty() {
            return;
        }
        let Some(r) = &mut self.running else {
            self.waiting.clear();
            return;
        };
        let peers: Vec<SocketAddr> = self
            .waiting
            .drain(..)
            .filter(|&p| r.channel.open_resync(p, now).is_ok())
            .collect();
        if peers.is_empty() {
            return;
        }
        for l in &self.links {
            l.request_dump();
        }
        let n = self.links.len();
        self.collect = Some(Collect {
            peers,
            begun: vec![false; n],
            ended: vec![false; n],
        });
    }

    /// Move the workers' events into the channel while its backlog allows.
    fn drain(&mut self, now: Instant) {
        let Some(r) = &mut self.running else {
            // No channel: keep the rings from filling with what nobody will send.
            for l in &mut self.links {
                while l.events.pop().is_ok() {}
            }
            return;
        };
        let room = r.channel.settings().timing.max_pending / 2;
        for (w, l) in self.links.iter_mut().enumerate() {
            for _ in 0..DRAIN_PER_WORKER {
                if r.channel.backlog() >= room {
                    break;
                }
                let Ok(ev) = l.events.pop() else {
                    break;
                };
                match ev.kind {
                    SyncKind::DumpBegin => {
                        if let Some(c) = &mut self.collect {
                            c.begun[w] = true;
                        }
                    }
                    SyncKind::DumpEnd => {
                        if let Some(c) = &mut self.collect {
                            if c.begun[w] {
                                c.ended[w] = true;
                            }
                        }
                    }
                    SyncKind::Dump => {
                        let ours = self
                            .collect
                            .as_ref()
                            .is_some_and(|c| c.begun[w] && !c.ended[w]);
                        if ours {
                            if let Some(rec) = to_record(&ev) {
                                let _ = r.channel.queue_dump(rec, now);
                            }
                        }
                    }
                    _ => {
                        if let Some(rec) = to_record(&ev) {
                            let _ = r.channel.queue(rec, now);
                        }
                    }
                }
            }
        }
        if self
            .collect
            .as_ref()
            .is_some_and(|c| c.ended.iter().all(|&e| e))
        {
            if let Some(c) = self.collect.take() {
                for p in c.peers {
                    if r.channel.close_resync(p, now).is_ok() {
                        self.stats.resyncs_served += 1;
                    }
                }
            }
        }
    }

    fn transmit(&mut self, now: Instant) {
        if let Some(r) = &mut self.running {
            while let Some(t) = r.channel.poll_transmit(now) {
                r.transport.send(&t);
            }
        }
    }
}
