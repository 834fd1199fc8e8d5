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
use crossbeam_channel::{never, select, tick, Receiver};

use super::admin::RATE_EVERY;
use super::{Control, FrameIo};
use crate::metrics::PortRow;

/// How long the loop waits for an event when no frame came: the latency a punted frame may
/// see (and the CPU an idle control lcore spends polling its rings).
pub const POLL_EVERY: Duration = Duration::from_micros(200);
/// How often control re-sends resolution requests for unresolved neighbours.
pub const RESOLVE_EVERY: Duration = Duration::from_secs(1);
/// How often the counters are logged.
pub const STATS_EVERY: Duration = Duration::from_secs(10);

/// What the control loop waits on besides its frame I/O.
#[derive(Debug)]
pub struct Sources {
    /// Admin socket requests (`AdminServer::requests`); `never()` without one.
    pub admin: Receiver<Pending>,
    /// Set (by a signal handler) to stop: checked every iteration.
    pub stop: Arc<AtomicBool>,
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
        let mut wait = if busy { Duration::ZERO } else { POLL_EVERY };
        if let Some(t) = ctl.ha_next_due() {
            wait = wait.min(t.saturating_duration_since(Instant::now()));
        }
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
            default(wait) => {}
        }
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
    }
}

impl<Io: FrameIo> Control<Io> {
    /// Update the admin API's rates and hand the ports' statistics to the metrics endpoint
    /// (read here, on control, which owns the ports' control queues).
    fn sample_rates(&mut self, sources: &Sources) {
        self.estimate_rates();
        self.sample_liveness(Instant::now());
        self.ha_refresh();
        let rows = self.io.port_stats();
        if let Ok(mut x) = sources.port_stats.lock() {
            *x = rows;
        }
    }
}
