//! Director HA in the control loop: the address watcher's events go through the ownership
//! state machine ([`crate::ha::Ownership`]); every change is logged (one line), published
//! (the snapshot's not-owned set: no ARP/ND answers, no announcements) and reported (listing,
//! metrics); announcements go out when due, on the port of the TAP that has the address.
//!
//! Without `[ha]` (`mode = "none"`) none of this runs and every address is always owned.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use admin::proto::{HaAddress, HaListing};
use crossbeam_channel::{never, Receiver};

use super::{Control, FrameIo};
use crate::ha::watcher::{WatchError, Watcher};
use crate::ha::{At, Event, Ownership, Report, Settings, Transition, WatchCounts};
use crate::neigh;

/// What control follows HA with: the state machine, where its events come from, and the
/// report it keeps for the threads that show it.
#[derive(Debug)]
pub struct HaFollow {
    own: Ownership,
    events: Receiver<Event>,
    /// The rtnetlink watcher; `None` when the events come from elsewhere (tests).
    watcher: Option<Watcher>,
    report: Arc<Mutex<Report>>,
}

impl HaFollow {
    /// Follow `settings` with a watcher of the kernel's addresses (started here, so a failure
    /// stops the gateway's start with its reason).
    ///
    /// # Errors
    /// The watcher cannot start.
    pub fn start(settings: Settings) -> Result<Self, WatchError> {
        let w = Watcher::start()?;
        let events = w.events().clone();
        Ok(Self::build(settings, events, Some(w)))
    }

    /// Follow `settings` with events from `events` (tests, tools).
    pub fn from_events(settings: Settings, events: Receiver<Event>) -> Self {
        Self::build(settings, events, None)
    }

    fn build(settings: Settings, events: Receiver<Event>, watcher: Option<Watcher>) -> Self {
        let own = Ownership::new(settings, At::now());
        let report = Arc::new(Mutex::new(own.report(WatchCounts::default(), None)));
        Self {
            own,
            events,
            watcher,
            report,
        }
    }

    /// The report, kept current by control, for the metrics endpoint.
    pub fn report_handle(&self) -> Arc<Mutex<Report>> {
        self.report.clone()
    }

    /// The addresses not owned now (the first snapshot needs them before control runs).
    pub fn not_owned(&self) -> Vec<IpAddr> {
        self.own.not_owned()
    }

    /// The number of followed addresses.
    pub(super) fn own_len(&self) -> usize {
        self.own.rows().len()
    }

    fn problem(&self) -> Option<String> {
        self.watcher.as_ref().and_then(Watcher::problem)
    }

    fn refresh_report(&self) {
        let counts = self
            .watcher
            .as_ref()
            .map_or_else(WatchCounts::default, Watcher::counts);
        let r = self.own.report(counts, self.problem());
        if let Ok(mut g) = self.report.lock() {
            *g = r;
        }
    }
}

impl<Io: FrameIo> Control<Io> {
    /// Follow director HA from now on (before [`super::run`]).
    pub fn follow_ha(&mut self, f: HaFollow) {
        f.refresh_report();
        self.ha = Some(f);
    }

    /// The HA events to wait on (`never()` without HA).
    pub(super) fn ha_events(&self) -> Receiver<Event> {
        self.ha.as_ref().map_or_else(never, |h| h.events.clone())
    }

    /// The addresses director HA does not own now (empty without HA).
    pub(super) fn not_owned(&self) -> Vec<IpAddr> {
        self.ha.as_ref().map_or_else(Vec::new, HaFollow::not_owned)
    }

    /// Whether `a` follows HA and is not owned now (no ARP/ND answers, no announcements).
    pub(super) fn is_not_owned(&self, a: IpAddr) -> bool {
        self.ha.as_ref().is_some_and(|h| h.own.is_not_owned(a))
    }

    /// Apply one address event; log each change; return true when ownership changed (then
    /// publish). Announcements for newly owned addresses go out from [`Self::ha_announce`].
    pub fn ha_event(&mut self, ev: Event) -> bool {
        let Some(h) = self.ha.as_mut() else {
            return false;
        };
        let t = h.own.apply(ev, At::now());
        h.refresh_report();
        log(&t);
        !t.is_empty()
    }

    /// Take new settings after a commit; return true when ownership changed.
    pub(super) fn ha_reconfigure(&mut self) -> bool {
        let Some(settings) = Settings::from_config(&self.cfg) else {
            return false;
        };
        let Some(h) = self.ha.as_mut() else {
            return false;
        };
        if *h.own.settings() == settings {
            return false;
        }
        let t = h.own.reconfigure(settings, At::now());
        h.refresh_report();
        log(&t);
        !t.is_empty()
    }

    /// Send the announcements due at `now` (gratuitous ARP / unsolicited NA bursts, second
    /// bursts, refreshes) and refresh the report (the watcher's counts move on their own).
    pub fn ha_announce(&mut self, now: Instant) {
        let Some(h) = self.ha.as_mut() else { return };
        let due = h.own.due(now);
        h.refresh_report();
        for a in due {
            let Some(&mac) = self.macs.get(usize::from(a.port)) else {
                continue;
            };
            let frame = neigh::announcement(mac, a.addr);
            for _ in 0..a.count {
                self.send(a.port, &frame);
            }
        }
    }

    /// Refresh the report (the watcher's counts and problem move on their own).
    pub(super) fn ha_refresh(&self) {
        if let Some(h) = &self.ha {
            h.refresh_report();
        }
    }

    /// When the next announcement is due, if any.
    pub(super) fn ha_next_due(&self) -> Option<Instant> {
        self.ha.as_ref().and_then(|h| h.own.next_due())
    }

    /// Why HA keeps this gateway from being ready, if it does: it cannot follow the kernel, or
    /// has not read it yet.
    pub(super) fn ha_unready(&self) -> Option<String> {
        let h = self.ha.as_ref()?;
        if let Some(p) = h.problem() {
            return Some(format!("cannot follow the exception-path addresses: {p}"));
        }
        (!h.own.synced()).then(|| "the exception-path addresses are not read yet".to_owned())
    }

    /// The `-L --ha` listing.
    pub(super) fn ha_listing(&self) -> HaListing {
        let secs = |t: SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        };
        let now_s = secs(SystemTime::now());
        match &self.ha {
            None => HaListing {
                mode: self.cfg.ha.mode.name().to_owned(),
                synced: true,
                problem: None,
                addresses: Vec::new(),
                now_s,
            },
            Some(h) => HaListing {
                mode: self.cfg.ha.mode.name().to_owned(),
                synced: h.own.synced(),
                problem: h.problem(),
                addresses: h
                    .own
                    .rows()
                    .into_iter()
                    .map(|r| HaAddress {
                        address: r.addr,
                        owned: r.owned,
                        since_s: secs(r.since),
                        tap: r.tap,
                    })
                    .collect(),
                now_s,
            },
        }
    }
}

/// One line per ownership change.
fn log(t: &[Transition]) {
    for t in t {
        match (&t.tap, t.owned) {
            (Some(tap), true) => println!("ferrovs: ha: {} owned via {tap} ({})", t.addr, t.why),
            (None, true) => println!("ferrovs: ha: {} owned ({})", t.addr, t.why),
            (_, false) => println!(
                "ferrovs: ha: {} not owned ({}): no ARP/ND answers, traffic still forwarded",
                t.addr, t.why
            ),
        }
    }
}
