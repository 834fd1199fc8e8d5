//! The control loop: it waits on its event sources with `crossbeam_channel::select!` (admin
//! requests, health verdicts, director HA's address events, timers) and polls the frame I/O,
//! which has no channel (DPDK rings and queues), on a short tick while idle and at once while
//! frames flow.
//!
//! A new event source (netlink address events, session-sync messages) is one more field in
//! [`Sources`] and one more arm in [`run`]'s `select!`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use admin::server::Pending;
use crossbeam_channel::{at, never, select, tick, Receiver};

use super::admin::RATE_EVERY;
use super::{Control, FrameIo};
use crate::metrics::PortRow;

/// How long the loop waits for an event when no frame came: the latency a punted frame may
/// see (and the CPU an idle control lcore spends polling its rings).
pub const POLL_EVERY: Duration = Duration::from_micros(200);
/// How often control re-sends resolution requests for unresolved neighbours.
pub const RESOLVE_EVERY: Duration = Duration::from_secs(1);
/// How often the announce table is checked and repaired (and BIRD's state reported).
pub const ANNOUNCE_EVERY: Duration = Duration::from_secs(1);
/// How often the counters are logged.
pub const STATS_EVERY: Duration = Duration::from_secs(10);

/// What the control loop waits on besides its frame I/O.
#[derive(Debug)]
pub struct Sources {
    /// Admin socket requests (`AdminServer::requests`); `never()` without one.
    pub admin: Receiver<Pending>,
    /// Set (by a signal handler) to stop: checked every iteration. Control sets it itself when
    /// a drained stop ends (the workers watch the same flag).
    pub stop: Arc<AtomicBool>,
    /// Set (by SIGTERM) to withdraw every VIP, forward for `[announce] drain` seconds, then
    /// stop (at once without `[announce]`, or when set again): checked every iteration.
    pub drain: Arc<AtomicBool>,
    /// Set (by a signal handler) to reload the configuration file: checked every iteration.
    pub reload: Arc<AtomicBool>,
    /// Where the ports' extended statistics go for the metrics endpoint, every [`RATE_EVERY`].
    pub port_stats: Arc<Mutex<Vec<PortRow>>>,
}

impl Sources {
    /// No admin socket, flags nobody else sets (tests).
    pub fn idle() -> Self {
        Self {
            admin: never(),
            stop: Arc::default(),
            drain: Arc::default(),
            reload: Arc::default(),
            port_stats: Arc::default(),
        }
    }
}

/// Run the control loop until `sources.stop` is set: announce the VIPs, publish with the health
/// verdicts, then serve every source as it fires.
pub fn run<Io: FrameIo>(ctl: &mut Control<Io>, sources: &Sources) {
    ctl.announce_all();
    // Health verdicts count from the start (servers start up, as keepalived's do).
    ctl.publish();
    let mut admin = sources.admin.clone();
    let mut health = ctl.health.events().clone();
    let mut ha = ctl.ha_events();
    let (resolve, rates, stats) = (tick(RESOLVE_EVERY), tick(RATE_EVERY), tick(STATS_EVERY));
    let announce = tick(ANNOUNCE_EVERY);
    // When a drained stop (SIGTERM) ends.
    let mut stop_at: Option<Instant> = None;
    // The periodic passes also run once at start, not one period later.
    let mut changed = ctl.neighbour_pass(Instant::now());
    ctl.sample_rates(sources);
    let mut buf = Vec::new();
    let mut busy = false;
    while !sources.stop.load(Ordering::Relaxed) {
        if sources.reload.swap(false, Ordering::Relaxed) {
            // The outcome is logged by reload_file.
            let _ = ctl.reload_file();
        }
        if sources.drain.swap(false, Ordering::Relaxed) {
            stop_at = Some(ctl.begin_stop(Instant::now()));
        }
        if stop_at.is_some_and(|t| t <= Instant::now()) {
            sources.stop.store(true, Ordering::Relaxed);
            break;
        }
        let mut wait = if busy { Duration::ZERO } else { POLL_EVERY };
        for t in [ctl.ha_next_due(), ctl.announce_next_due()]
            .into_iter()
            .flatten()
        {
            wait = wait.min(t.saturating_duration_since(Instant::now()));
        }
        let (sync_rx, sync_timer) = ctl.sync_sources();
        select! {
            recv(admin) -> p => match p {
                Ok(p) => {
                    let response = ::admin::handler::handle(ctl, p.request);
                    p.responder.respond(response);
                }
                // The server is gone (shutting down): stop waiting on it.
                Err(_) => admin = never(),
            },
            recv(health) -> ev => match ev {
                // The checker logged each transition; the snapshot takes the new verdicts
                // (all of them: the rest of a burst comes along).
                Ok(_) => {
                    ctl.health.poll();
                    changed = true;
                    // A VIP whose last server went down is withdrawn now, not at the tick.
                    ctl.announce_evaluate();
                }
                Err(_) => health = never(),
            },
            recv(ha) -> ev => match ev {
                // An address came or went on a TAP: ownership may change (logged there).
                Ok(ev) => changed |= ctl.ha_event(ev),
                Err(_) => ha = never(),
            },
            recv(resolve) -> _ => changed |= ctl.neighbour_pass(Instant::now()),
            recv(rates) -> _ => ctl.sample_rates(sources),
            recv(stats) -> _ => ctl.log_stats(),
            recv(announce) -> _ => ctl.announce_tick(),
            recv(sync_rx) -> d => {
                if let Ok(d) = d {
                    ctl.sync_datagram(&d, Instant::now());
                }
            },
            recv(sync_timer) -> _ => ctl.sync_timer(Instant::now()),
            default(wait) => {}
        }
        ctl.sync_poll(Instant::now());
        let (frames, learned) = ctl.poll_frames(&mut buf, Instant::now());
        busy = frames;
        if changed || learned {
            changed = false;
            ctl.publish();
            // Frames that waited for a neighbour go back through the pipeline on the new
            // snapshot; those still unresolved come back and wait again, until they time out.
            ctl.release_held();
        }
        // Announcements of newly owned addresses go after the snapshot that answers for them.
        let now = Instant::now();
        if ctl.ha_next_due().is_some_and(|t| t <= now) {
            ctl.ha_announce(now);
        }
        if ctl.announce_next_due().is_some_and(|t| t <= now) {
            ctl.announce_tick();
        }
    }
    // A stopped gateway leaves no VIP announced, drained or not.
    ctl.withdraw_all();
}

impl<Io: FrameIo> Control<Io> {
    /// The session-sync sources to wait on: the socket's datagrams and the channel's next
    /// timer (`never()` without sync).
    fn sync_sources(&self) -> (Receiver<crate::sync::Datagram>, Receiver<Instant>) {
        match &self.sync {
            Some(s) => (s.datagrams(), s.next_timeout().map_or_else(never, at)),
            None => (never(), never()),
        }
    }

    fn sync_datagram(&mut self, d: &crate::sync::Datagram, now: Instant) {
        if let Some(s) = &mut self.sync {
            s.on_datagram(d, &self.shared.load(), now);
        }
    }

    fn sync_timer(&mut self, now: Instant) {
        if let Some(s) = &mut self.sync {
            s.on_timer(&self.shared.load(), now);
        }
    }

    /// Session sync's work of every iteration (see [`super::SyncPlane::poll`]).
    fn sync_poll(&mut self, now: Instant) {
        if let Some(s) = &mut self.sync {
            let overflows = self.counters.iter().map(|c| c.sync_overflows.get()).sum();
            s.poll(&self.shared.load(), overflows, now);
        }
    }

    /// Update the admin API's rates and hand the ports' statistics to the metrics endpoint
    /// (read here, on control, which owns the ports' control queues).
    fn sample_rates(&mut self, sources: &Sources) {
        self.estimate_rates();
        if let Some(s) = &self.sync {
            s.publish_stats();
        }
        self.sample_liveness(Instant::now());
        self.ha_refresh();
        let rows = self.io.port_stats();
        if let Ok(mut x) = sources.port_stats.lock() {
            *x = rows;
        }
    }
}
