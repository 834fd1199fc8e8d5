//! ECMP announcements in the control loop: the VIPs' worth goes through the announce state
//! machine ([`crate::announce::Announcer`]) after every health verdict, admin change and
//! reload; every change is logged (one line) and applied to ferrovs's route table, which is
//! also checked once a second and repaired; the report feeds `-L --announce` and the metrics.
//!
//! Drain: `ferrovsadm --drain` withdraws every VIP and keeps forwarding until `--undrain`;
//! SIGTERM withdraws every VIP, keeps forwarding for `[announce] drain` seconds, then stops
//! (a second SIGTERM stops at once). Without `[announce]` none of this runs and SIGTERM stops
//! at once.

use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use admin::proto::{AnnounceListing, AnnounceVip};

use super::{Control, FrameIo};
use crate::announce::bird::BirdWatch;
use crate::announce::table::{RouteTable, TableError};
use crate::announce::{worth, Announcer, Change, Report, Settings};
use crate::ha::At;

/// What control announces with: the settings, the state machine, the route table and the
/// report it keeps for the threads that show it.
#[derive(Debug)]
pub struct AnnounceFollow {
    settings: Settings,
    state: Announcer,
    /// The route table; `None` when routes are not written (tests of the decisions).
    table: Option<RouteTable>,
    bird: Option<BirdWatch>,
    report: Arc<Mutex<Report>>,
    /// Why the last table sync did not reach the wanted state, if it did not.
    problem: Option<String>,
    foreign: Vec<String>,
    repairs: u64,
    errors: u64,
    /// When the drain of a stop (SIGTERM) ends.
    stopping_at: Option<(Instant, SystemTime)>,
}

impl AnnounceFollow {
    /// Announce `settings` through the kernel's table (its socket opened here, so a failure
    /// stops the start with its reason) and probe BIRD's control socket. The table must hold
    /// no route that is not ferrovs's (the `ferrovs check` rule).
    ///
    /// # Errors
    /// The socket cannot be opened, the table cannot be read or holds foreign routes, or the
    /// BIRD probe thread cannot start.
    pub fn start(settings: Settings) -> Result<Self, String> {
        let mut table = RouteTable::open(settings.table).map_err(|e| e.to_string())?;
        let foreign = table.foreign().map_err(|e| e.to_string())?;
        if let Some(r) = foreign.first() {
            return Err(format!(
                "table {} has {} route(s) that are not ferrovs's (proto {}), such as {r}: \
                 give [announce] a table of its own",
                settings.table,
                foreign.len(),
                config::ANNOUNCE_PROTOCOL
            ));
        }
        let bird = BirdWatch::start(settings.bird_socket.clone().into())
            .map_err(|e| format!("BIRD probe thread: {e}"))?;
        Ok(Self::build(settings, Some(table), Some(bird)))
    }

    /// Decide without writing routes or probing BIRD (tests).
    pub fn without_kernel(settings: Settings) -> Self {
        Self::build(settings, None, None)
    }

    fn build(settings: Settings, table: Option<RouteTable>, bird: Option<BirdWatch>) -> Self {
        let state = Announcer::new(settings.timing);
        Self {
            settings,
            state,
            table,
            bird,
            report: Arc::default(),
            problem: None,
            foreign: Vec::new(),
            repairs: 0,
            errors: 0,
            stopping_at: None,
        }
    }

    /// The report, kept current by control, for the metrics endpoint.
    pub fn report_handle(&self) -> Arc<Mutex<Report>> {
        self.report.clone()
    }

    /// The VIPs announced now.
    pub fn announced(&self) -> Vec<std::net::IpAddr> {
        self.state.announced()
    }

    /// Bring the table in line with the announced VIPs; remember what went wrong.
    fn sync_table(&mut self) {
        let Some(t) = self.table.as_mut() else { return };
        let (mut want, mut missing_dev) = (Vec::new(), Vec::new());
        for v in self.state.announced() {
            match self.settings.device(v) {
                Some(d) => want.push((v, d.to_owned())),
                None => missing_dev.push(format!(
                    "{v}: no interface for its route ([announce] device)"
                )),
            }
        }
        match t.sync(&want) {
            Ok(o) => {
                let changed = !o.added.is_empty() || !o.removed.is_empty();
                let mut problems = missing_dev;
                problems.extend(o.problems);
                let problem = (!problems.is_empty()).then(|| problems.join("; "));
                if problem.is_some() && problem != self.problem {
                    eprintln!(
                        "ferrovs: announce: table {}: {}",
                        t.id(),
                        problem.as_deref().unwrap_or_default()
                    );
                }
                if changed || problem.is_some() {
                    self.repairs += 1;
                }
                if problem.is_none() && self.problem.is_some() {
                    println!("ferrovs: announce: table {} as wanted again", t.id());
                }
                self.problem = problem;
                self.foreign = o.foreign.iter().map(ToString::to_string).collect();
            }
            Err(e) => self.failed(&e),
        }
    }

    fn failed(&mut self, e: &TableError) {
        self.errors += 1;
        let p = Some(e.to_string());
        if p != self.problem {
            eprintln!("ferrovs: announce: {e}");
        }
        self.problem = p;
    }

    fn refresh_report(&self) {
        let rows = self.state.rows();
        let devices = rows
            .iter()
            .map(|r| self.settings.device(r.vip).map(str::to_owned))
            .collect();
        let r = Report {
            table: self.settings.table,
            rows,
            devices,
            drained: self.state.drained(),
            stopping_at: self.stopping_at.map(|(_, w)| w),
            problem: self.problem.clone(),
            foreign: self.foreign.clone(),
            repairs: self.repairs,
            errors: self.errors,
            bird_up: self.bird.as_ref().is_some_and(BirdWatch::up),
            bird_problem: self.bird.as_ref().and_then(BirdWatch::problem),
            bird_socket: self.settings.bird_socket.clone(),
        };
        if let Ok(mut g) = self.report.lock() {
            *g = r;
        }
    }

    /// Apply changes: log them, sync the table when there are any, refresh the report.
    fn apply(&mut self, changes: &[Change]) {
        log(changes, &self.settings);
        if !changes.is_empty() {
            self.sync_table();
        }
        self.refresh_report();
    }
}

impl<Io: FrameIo> Control<Io> {
    /// Announce VIPs from now on (before [`super::run`]); the first decision is made at once.
    pub fn follow_announce(&mut self, f: AnnounceFollow) {
        self.announce = Some(f);
        self.announce_evaluate();
    }

    /// Re-decide every VIP from the running configuration and the health verdicts (after a
    /// verdict, an admin change, a reload).
    pub fn announce_evaluate(&mut self) {
        let Some(a) = self.announce.as_mut() else {
            return;
        };
        let health = &self.health;
        let w = worth(&self.cfg, &a.settings, &|s, r| health.backend_health(s, r));
        let changes = a.state.update(&w, At::now());
        a.apply(&changes);
    }

    /// Take new settings after a commit (the table is boot-only), then re-decide.
    pub(super) fn announce_reconfigure(&mut self) {
        let Some(a) = self.announce.as_mut() else {
            return;
        };
        if let Some(s) = Settings::from_config(&self.cfg) {
            if s != a.settings {
                let timing = s.timing;
                if s.bird_socket != a.settings.bird_socket && a.bird.is_some() {
                    // Probe the new socket; the old thread ends when dropped.
                    match BirdWatch::start(s.bird_socket.clone().into()) {
                        Ok(w) => a.bird = Some(w),
                        Err(e) => eprintln!("ferrovs: announce: BIRD probe thread: {e}"),
                    }
                }
                a.settings = s;
                let changes = a.state.set_timing(timing, At::now());
                a.apply(&changes);
                // Devices may have changed: the next sync moves the routes.
                a.sync_table();
            }
        }
        self.announce_evaluate();
    }

    /// The periodic pass: timers that came due (rise, hold-down), the table checked and
    /// repaired, BIRD's state taken into the report.
    pub(super) fn announce_tick(&mut self) {
        let Some(a) = self.announce.as_mut() else {
            return;
        };
        let changes = a.state.tick(At::now());
        log(&changes, &a.settings);
        a.sync_table();
        a.refresh_report();
    }

    /// When a VIP waiting for `rise` or `hold_down` comes due.
    pub(super) fn announce_next_due(&self) -> Option<Instant> {
        self.announce.as_ref().and_then(|a| a.state.next_due())
    }

    /// Drain (withdraw every VIP, keep forwarding) or undrain; return the listing after it.
    ///
    /// # Errors
    /// There is no `[announce]`, or the gateway is stopping (an undrain cannot stop a stop).
    pub fn set_drained(&mut self, drained: bool) -> Result<AnnounceListing, String> {
        let Some(a) = self.announce.as_mut() else {
            return Err("nothing is announced: the configuration has no [announce]".into());
        };
        if !drained && a.stopping_at.is_some() {
            return Err("the gateway is stopping (SIGTERM): it stays drained".into());
        }
        if drained != a.state.drained() {
            println!(
                "ferrovs: announce: {}",
                if drained {
                    "drained: every VIP withdrawn, established flows still forwarded"
                } else {
                    "undrained: healthy VIPs announced again"
                }
            );
        }
        let changes = a.state.set_drained(drained, At::now());
        a.apply(&changes);
        self.announce_listing()
            .ok_or_else(|| "no announce state".to_owned())
    }

    /// SIGTERM: withdraw every VIP and stop once `[announce] drain` has passed; return when to
    /// stop. Without `[announce]`, or on a second SIGTERM, stop now.
    pub fn begin_stop(&mut self, now: Instant) -> Instant {
        let Some(a) = self.announce.as_mut() else {
            return now;
        };
        if a.stopping_at.is_some() {
            println!("ferrovs: announce: second SIGTERM: stopping now");
            return now;
        }
        let at = now + a.settings.drain;
        a.stopping_at = Some((at, SystemTime::now() + a.settings.drain));
        println!(
            "ferrovs: announce: SIGTERM: every VIP withdrawn; forwarding established flows for \
             {} s, then stopping",
            a.settings.drain.as_secs()
        );
        let changes = a.state.set_drained(true, At::now());
        a.apply(&changes);
        at
    }

    /// Withdraw every route at the very end (a stop without drain time, or after it), so a
    /// stopped gateway never leaves a VIP announced.
    pub fn withdraw_all(&mut self) {
        let Some(a) = self.announce.as_mut() else {
            return;
        };
        let changes = a.state.set_drained(true, At::now());
        log(&changes, &a.settings);
        if let Some(t) = a.table.as_mut() {
            if let Err(e) = t.sync(&[]) {
                eprintln!("ferrovs: announce: withdrawing at stop: {e}");
            }
        }
    }

    /// The `-L --announce` listing; `None` without `[announce]`.
    pub(super) fn announce_listing(&self) -> Option<AnnounceListing> {
        let a = self.announce.as_ref()?;
        a.refresh_report();
        let r = a.report.lock().ok()?.clone();
        let secs = |t: SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        };
        let sessions = self
            .counters
            .iter()
            .map(|c| c.sessions_created.get() - c.sessions_expired.get())
            .sum();
        Some(AnnounceListing {
            table: r.table,
            drained: r.drained,
            stopping_in_s: r.stopping_at.map(|t| {
                t.duration_since(SystemTime::now())
                    .map_or(0, |d| d.as_secs())
            }),
            problem: r.problem,
            foreign: r.foreign,
            bird_up: r.bird_up,
            bird_problem: r.bird_problem,
            sessions,
            vips: r
                .rows
                .iter()
                .zip(&r.devices)
                .map(|(row, dev)| AnnounceVip {
                    vip: row.vip,
                    announced: row.announced,
                    worthy: row.worthy,
                    since_s: secs(row.since),
                    device: dev.clone(),
                    transitions: row.transitions,
                    why: row.why.clone(),
                })
                .collect(),
            now_s: secs(SystemTime::now()),
        })
    }
}

/// One line per change.
fn log(changes: &[Change], s: &Settings) {
    for c in changes {
        if c.announced {
            println!(
                "ferrovs: announce: {} announced (table {} dev {}): {}",
                c.vip,
                s.table,
                s.device(c.vip).unwrap_or("?"),
                c.why
            );
        } else {
            println!(
                "ferrovs: announce: {} withdrawn (table {}): {}",
                c.vip, s.table, c.why
            );
        }
    }
}
