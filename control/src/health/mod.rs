//! Health checks of real servers (keepalived's checkers): TCP connect, HTTP GET and command
//! checks, with interval, timeout, retries, rise and fall.
//!
//! Design:
//! - **Never on the control loop.** [`HealthChecker::start`] spawns a scheduler thread; each
//!   check in flight runs on its own short-lived thread, so a hanging target delays nothing
//!   else. At most one run per check is in flight, so the thread count is bounded by the number
//!   of distinct checks.
//! - **Deduplicated.** A check is identified by the probed address and port plus its whole
//!   definition ([`Target`]): two services that check the same server the same way share one
//!   probe stream and one state.
//! - **Cadence.** A check starts `interval` after the previous one *started* (or at once if it
//!   ran longer), and the first one right away. One check is up to `1 + retries` probes, retried
//!   immediately, each bounded by `timeout`. A dead server is therefore reported down at most
//!   `fall * interval + (1 + retries) * timeout` after it died (usually much sooner: a refused
//!   connection fails at once).
//! - **Rise and fall.** Servers start up (keepalived's default without `alpha`: a gateway that
//!   restarts keeps serving); `fall` consecutive failed checks take an up server down, `rise`
//!   consecutive successful checks bring a down one back.
//! - **Events.** Each transition is logged once (with its reason) on stderr, counted in the
//!   check's status, and delivered as one [`HealthEvent`] per (service, real server) that uses
//!   the check, on the channel [`HealthChecker::events`] (the control loop waits on it with its
//!   other sources), or drained with [`HealthChecker::poll`].
//! - **Reload.** [`HealthChecker::update`] keeps the state of every check whose definition did
//!   not change, starts new ones (up) and stops removed ones.
//!
//! The gateway applies events by rebuilding its snapshot with [`HealthChecker::backend_health`]
//! for each real server (weight 0 while down with `inhibit_on_failure`, else unavailable).

pub mod probe;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use config::{CheckKind, Config};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::stats::{Histogram, ServiceKey};

/// Buckets of `ferrovs_healthcheck_probe_duration_seconds`: 0.5 ms (a LAN connect) to 10 s
/// (beyond the longest sensible check timeout, which then lands in `+Inf`).
pub const PROBE_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
pub use probe::{Failure, FailureKind, HttpSpec};

/// What a check does.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Probe {
    /// TCP connect.
    Tcp,
    /// HTTP GET.
    Http(HttpSpec),
    /// A command run by `/bin/sh -c`; exit 0 is up.
    Command(String),
}

/// One deduplicated check: the probed endpoint and the full definition.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    /// Real server address.
    pub address: IpAddr,
    /// Probed port (the check's `port`, else the real server's).
    pub port: u16,
    /// What to do.
    pub probe: Probe,
    /// Time between check starts.
    pub interval: Duration,
    /// Bound of one probe.
    pub timeout: Duration,
    /// Extra probes in one check before it fails.
    pub retries: u32,
    /// Consecutive successes to come up.
    pub rise: u32,
    /// Consecutive failures to go down.
    pub fall: u32,
}

impl Target {
    /// Return the check of real server `rs` of service `svc`, or `None` for `type = "none"`.
    pub fn of(svc: &config::Service, rs: &config::RealServer) -> Option<Self> {
        let hc = svc.effective_health_check(rs);
        let port = hc.port.unwrap_or(rs.port);
        let probe = match &hc.kind {
            CheckKind::None => return None,
            CheckKind::Tcp => Probe::Tcp,
            CheckKind::Http(h) => Probe::Http(HttpSpec {
                path: h.path.clone(),
                status: h.status.clone(),
                host: h
                    .host
                    .clone()
                    .unwrap_or_else(|| default_host(rs.address, port)),
                digest: h.digest.clone(),
            }),
            CheckKind::Command(c) => Probe::Command(c.command.clone()),
        };
        Some(Self {
            address: rs.address,
            port,
            probe,
            interval: Duration::from_secs(u64::from(hc.interval_s.max(1))),
            timeout: Duration::from_secs(u64::from(hc.timeout_s.max(1))),
            retries: hc.retries,
            rise: hc.rise.max(1),
            fall: hc.fall.max(1),
        })
    }

    /// Return the short description used in logs and in the `check` label.
    pub fn describe(&self) -> String {
        match &self.probe {
            Probe::Tcp => "tcp".to_owned(),
            Probe::Http(h) => format!("http GET {}", h.path),
            Probe::Command(c) => {
                let mut s: String = c.chars().take(60).collect();
                if s.len() < c.len() {
                    s.push_str("...");
                }
                format!("command {s}")
            }
        }
    }

    fn socket(&self) -> SocketAddr {
        SocketAddr::new(self.address, self.port)
    }

    /// Run one probe.
    ///
    /// # Errors
    /// The probe's [`Failure`].
    pub fn probe_once(&self) -> Result<(), Failure> {
        match &self.probe {
            Probe::Tcp => probe::tcp(self.socket(), self.timeout),
            Probe::Http(h) => probe::http(self.socket(), h, self.timeout),
            Probe::Command(c) => probe::command(
                c,
                &[
                    ("FERROVS_RS_ADDRESS", self.address.to_string()),
                    ("FERROVS_RS_PORT", self.port.to_string()),
                ],
                self.timeout,
            ),
        }
    }
}

/// The `Host` header an HTTP check sends by default: the address, with the port unless 80.
fn default_host(a: IpAddr, port: u16) -> String {
    let host = match a {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    };
    if port == 80 {
        host
    } else {
        format!("{host}:{port}")
    }
}

/// A real server that uses a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Index of the service in the configuration last given to `start`/`update`.
    pub service: usize,
    /// Index of the real server in that service.
    pub real_server: usize,
    /// The service's identity.
    pub key: ServiceKey,
    /// Real server address.
    pub address: IpAddr,
    /// Real server port (the forwarding port, which the probed port may differ from).
    pub port: u16,
    /// Whether a failure sets weight 0 instead of removing the server.
    pub inhibit_on_failure: bool,
}

/// A state change of one real server of one service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthEvent {
    /// Index of the service in the configuration last given to `start`/`update`.
    pub service: usize,
    /// Index of the real server in that service.
    pub real_server: usize,
    /// The service's identity.
    pub key: ServiceKey,
    /// Real server address.
    pub address: IpAddr,
    /// Real server port.
    pub port: u16,
    /// New state: true = up.
    pub up: bool,
    /// Whether the server is to be inhibited (weight 0) rather than removed while down.
    pub inhibit_on_failure: bool,
    /// Why ("3 consecutive failed checks: connect: Connection refused", "2 consecutive
    /// successful checks").
    pub reason: String,
}

/// What the gateway does with one real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendHealth {
    /// No health check (or unknown server): always schedulable.
    Unchecked,
    /// The check passes.
    Up,
    /// The check fails.
    Down {
        /// Keep the server with weight 0 (existing flows and persistence keep it) instead of
        /// marking it unavailable.
        inhibit: bool,
    },
}

/// One real server's check, as `ferrovsadm -L --health` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerHealth {
    /// Current verdict.
    pub up: bool,
    /// When the verdict last changed (or the check was created).
    pub since: SystemTime,
    /// The check's description (`tcp`, `http GET /`).
    pub check: String,
    /// The last failed probe's reason, if any.
    pub last_failure: Option<String>,
}

/// The state of one deduplicated check, for metrics and `ferrovsadm`.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckStatus {
    /// Probed address.
    pub address: IpAddr,
    /// Probed port.
    pub port: u16,
    /// Description, unique per (address, port) (the `check` label).
    pub check: String,
    /// Current verdict.
    pub up: bool,
    /// When the verdict last changed (or the check was created).
    pub since: SystemTime,
    /// The last failure's reason, if any probe failed yet.
    pub last_failure: Option<String>,
    /// Checks completed.
    pub checks: u64,
    /// Failed probes by [`FailureKind`] (indexed by `kind as usize`).
    pub failures: [u64; FailureKind::COUNT],
    /// Transitions to up.
    pub transitions_up: u64,
    /// Transitions to down.
    pub transitions_down: u64,
    /// Probe durations.
    pub latency: Histogram,
    /// Real servers using this check.
    pub users: Vec<User>,
    /// Consecutive successful checks.
    pub successes: u32,
    /// Consecutive failed checks.
    pub fails: u32,
}

impl CheckStatus {
    fn new(t: &Target, check: String, users: Vec<User>) -> Self {
        Self {
            address: t.address,
            port: t.port,
            check,
            up: true,
            since: SystemTime::now(),
            last_failure: None,
            checks: 0,
            failures: [0; FailureKind::COUNT],
            transitions_up: 0,
            transitions_down: 0,
            latency: Histogram::new(&PROBE_BUCKETS),
            users,
            successes: 0,
            fails: 0,
        }
    }

    /// Apply one check's probes; return the transition reason if the verdict changed.
    fn apply(&mut self, t: &Target, probes: &[(Duration, Result<(), Failure>)]) -> Option<String> {
        self.checks += 1;
        for (d, r) in probes {
            self.latency.observe(d.as_secs_f64());
            if let Err(f) = r {
                self.failures[f.kind as usize] += 1;
                self.last_failure = Some(f.reason.clone());
            }
        }
        match probes.last().map(|(_, r)| r) {
            Some(Ok(())) => {
                self.fails = 0;
                self.successes = self.successes.saturating_add(1);
                if !self.up && self.successes >= t.rise {
                    self.up = true;
                    self.since = SystemTime::now();
                    self.transitions_up += 1;
                    return Some(format!(
                        "{} consecutive successful check(s)",
                        self.successes
                    ));
                }
            }
            Some(Err(f)) => {
                self.successes = 0;
                self.fails = self.fails.saturating_add(1);
                if self.up && self.fails >= t.fall {
                    self.up = false;
                    self.since = SystemTime::now();
                    self.transitions_down += 1;
                    return Some(format!(
                        "{} consecutive failed check(s), last: {}",
                        self.fails, f.reason
                    ));
                }
            }
            None => {}
        }
        None
    }
}

/// State shared by the scheduler thread and readers.
#[derive(Debug, Default)]
struct Shared {
    /// Every check by id.
    checks: BTreeMap<u64, CheckStatus>,
    /// `[service][real_server]` -> check id (`None`: unchecked).
    users: Vec<Vec<Option<u64>>>,
}

fn lock(m: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    // A panic elsewhere while holding the lock leaves plain data behind; keep serving it.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The checks wanted by a configuration: each target with its users, plus the user table.
struct Plan {
    targets: Vec<(Target, Vec<User>)>,
    users: Vec<Vec<Option<usize>>>,
}

fn plan(cfg: &Config) -> Plan {
    let mut index: HashMap<Target, usize> = HashMap::new();
    let mut targets: Vec<(Target, Vec<User>)> = Vec::new();
    let mut users = Vec::with_capacity(cfg.services.len());
    for (si, svc) in cfg.services.iter().enumerate() {
        let key = svc.key();
        let mut row = Vec::with_capacity(svc.real_servers.len());
        for (ri, rs) in svc.real_servers.iter().enumerate() {
            let Some(t) = Target::of(svc, rs) else {
                row.push(None);
                continue;
            };
            let user = User {
                service: si,
                real_server: ri,
                key,
                address: rs.address,
                port: rs.port,
                inhibit_on_failure: svc.effective_health_check(rs).inhibit_on_failure,
            };
            let i = *index.entry(t.clone()).or_insert_with(|| {
                targets.push((t, Vec::new()));
                targets.len() - 1
            });
            targets[i].1.push(user);
            row.push(Some(i));
        }
        users.push(row);
    }
    Plan { targets, users }
}

/// Messages to the scheduler thread.
enum Msg {
    /// A check finished.
    Done {
        id: u64,
        probes: Vec<(Duration, Result<(), Failure>)>,
    },
    /// Replace the set of checks; reply when done.
    Update(Plan, Sender<()>),
    /// Stop.
    Stop,
}

/// A check the scheduler runs.
struct Entry {
    target: Arc<Target>,
    next_due: Instant,
    running: bool,
    started: Instant,
}

/// The health checker: a handle on its threads, owned by the gateway's control loop.
#[derive(Debug)]
pub struct HealthChecker {
    tx: Sender<Msg>,
    events: Receiver<HealthEvent>,
    /// `update` puts the events it drained back, mapped to the new configuration.
    requeue: Sender<HealthEvent>,
    shared: Arc<Mutex<Shared>>,
    thread: Option<JoinHandle<()>>,
}

/// A cheap, shareable reader of the checks' status (for the metrics thread and the admin API).
#[derive(Clone, Debug)]
pub struct StatusHandle(Arc<Mutex<Shared>>);

impl StatusHandle {
    /// Return a copy of every check's status, ordered by address, port and description.
    pub fn status(&self) -> Vec<CheckStatus> {
        status_of(&lock(&self.0))
    }
}

fn status_of(s: &Shared) -> Vec<CheckStatus> {
    let mut v: Vec<CheckStatus> = s.checks.values().cloned().collect();
    v.sort_by(|a, b| (a.address, a.port, &a.check).cmp(&(b.address, b.port, &b.check)));
    v
}

impl HealthChecker {
    /// Start checking every real server of `cfg` that has a health check.
    ///
    /// # Panics
    /// If the OS cannot spawn the scheduler thread.
    pub fn start(cfg: &Config) -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        let (ev_tx, events) = crossbeam_channel::unbounded();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let mut sched = Scheduler {
            rx,
            tx: tx.clone(),
            events: ev_tx.clone(),
            shared: shared.clone(),
            entries: HashMap::new(),
            ids: HashMap::new(),
            next_id: 1,
            cancel: Arc::new(AtomicBool::new(false)),
        };
        sched.reconcile(plan(cfg));
        let thread = std::thread::Builder::new()
            .name("ferrovs-health".into())
            .spawn(move || sched.run())
            .expect("spawn the health checker thread");
        Self {
            tx,
            events,
            requeue: ev_tx,
            shared,
            thread: Some(thread),
        }
    }

    /// Apply a reloaded configuration: unchanged checks keep their state, new ones start (up),
    /// removed ones stop. Events returned by later [`poll`](Self::poll)s use `cfg`'s indices.
    pub fn update(&mut self, cfg: &Config) {
        let plan = plan(cfg);
        let (ack_tx, ack_rx) = crossbeam_channel::bounded(1);
        if self.tx.send(Msg::Update(plan, ack_tx)).is_err() {
            return;
        }
        let _ = ack_rx.recv();
        // Events queued before the update carry the old indices: map them to the new
        // configuration by identity, and drop those whose server is gone.
        // (Events the scheduler sends meanwhile already use the new indices; mapping them again
        // by identity leaves them as they are.)
        let old: Vec<HealthEvent> = self.events.try_iter().collect();
        for mut ev in old {
            let found = cfg.services.iter().enumerate().find_map(|(si, s)| {
                (s.key() == ev.key)
                    .then(|| {
                        s.real_servers
                            .iter()
                            .position(|rs| rs.address == ev.address && rs.port == ev.port)
                            .map(|ri| (si, ri))
                    })
                    .flatten()
            });
            if let Some((si, ri)) = found {
                ev.service = si;
                ev.real_server = ri;
                let _ = self.requeue.send(ev);
            }
        }
    }

    /// Return the transitions since the last call (never blocks).
    pub fn poll(&mut self) -> Vec<HealthEvent> {
        self.events.try_iter().collect()
    }

    /// The channel transitions arrive on, for a control loop that waits on several sources
    /// (`crossbeam_channel::select!`). Indices are those of the configuration last given to
    /// `start`/`update`.
    pub fn events(&self) -> &Receiver<HealthEvent> {
        &self.events
    }

    /// Return what the gateway should do with real server `real_server` of service `service`
    /// (indices in the configuration last given to `start`/`update`).
    pub fn backend_health(&self, service: usize, real_server: usize) -> BackendHealth {
        let s = lock(&self.shared);
        let id = s
            .users
            .get(service)
            .and_then(|r| r.get(real_server))
            .copied()
            .flatten();
        let Some(c) = id.and_then(|id| s.checks.get(&id)) else {
            return BackendHealth::Unchecked;
        };
        if c.up {
            return BackendHealth::Up;
        }
        let inhibit = c
            .users
            .iter()
            .find(|u| u.service == service && u.real_server == real_server)
            .is_some_and(|u| u.inhibit_on_failure);
        BackendHealth::Down { inhibit }
    }

    /// Return the check of real server `real_server` of service `service` (indices as for
    /// [`backend_health`](Self::backend_health)) for listings: `None` when it has none.
    pub fn server_health(&self, service: usize, real_server: usize) -> Option<ServerHealth> {
        let s = lock(&self.shared);
        let id = s.users.get(service)?.get(real_server).copied().flatten()?;
        let c = s.checks.get(&id)?;
        Some(ServerHealth {
            up: c.up,
            since: c.since,
            check: c.check.clone(),
            last_failure: c.last_failure.clone(),
        })
    }

    /// Return a copy of every check's status.
    pub fn status(&self) -> Vec<CheckStatus> {
        status_of(&lock(&self.shared))
    }

    /// Return a reader of the status for other threads.
    pub fn status_handle(&self) -> StatusHandle {
        StatusHandle(self.shared.clone())
    }

    /// Stop the scheduler and wait for it. Probes in flight finish on their own within their
    /// timeout (commands are killed at it) and report to nobody.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.tx.send(Msg::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for HealthChecker {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The scheduler thread's state.
struct Scheduler {
    rx: Receiver<Msg>,
    /// For probe threads to report back.
    tx: Sender<Msg>,
    events: Sender<HealthEvent>,
    shared: Arc<Mutex<Shared>>,
    entries: HashMap<u64, Entry>,
    ids: HashMap<Arc<Target>, u64>,
    next_id: u64,
    /// Set at stop: probe threads skip their remaining retries.
    cancel: Arc<AtomicBool>,
}

impl Scheduler {
    fn run(mut self) {
        loop {
            let now = Instant::now();
            let mut wait = Duration::from_secs(3600);
            for (id, e) in &mut self.entries {
                if e.running {
                    continue;
                }
                if e.next_due <= now {
                    e.running = true;
                    e.started = now;
                    spawn_check(*id, e.target.clone(), self.tx.clone(), self.cancel.clone());
                } else {
                    wait = wait.min(e.next_due - now);
                }
            }
            match self.rx.recv_timeout(wait) {
                Ok(Msg::Done { id, probes }) => self.done(id, &probes),
                Ok(Msg::Update(plan, ack)) => {
                    self.reconcile(plan);
                    let _ = ack.send(());
                }
                Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
        self.cancel.store(true, Ordering::Relaxed);
    }

    fn done(&mut self, id: u64, probes: &[(Duration, Result<(), Failure>)]) {
        // A check removed by a reload while it ran reports to nobody.
        let Some(e) = self.entries.get_mut(&id) else {
            return;
        };
        e.running = false;
        e.next_due = (e.started + e.target.interval).max(Instant::now());
        let target = e.target.clone();
        let mut s = lock(&self.shared);
        let Some(c) = s.checks.get_mut(&id) else {
            return;
        };
        let Some(reason) = c.apply(&target, probes) else {
            return;
        };
        let up = c.up;
        let users = c.users.clone();
        let check = c.check.clone();
        drop(s);
        let services: Vec<String> = users
            .iter()
            .map(|u| {
                format!(
                    "{}/{}",
                    SocketAddr::new(u.key.vip, u.key.port),
                    u.key.protocol
                )
            })
            .collect();
        eprintln!(
            "ferrovs: health: {} {check}: {} ({reason}); services: {}",
            target.socket(),
            if up { "UP" } else { "DOWN" },
            services.join(", ")
        );
        for u in users {
            let _ = self.events.send(HealthEvent {
                service: u.service,
                real_server: u.real_server,
                key: u.key,
                address: u.address,
                port: u.port,
                up,
                inhibit_on_failure: u.inhibit_on_failure,
                reason: reason.clone(),
            });
        }
    }

    fn reconcile(&mut self, plan: Plan) {
        let now = Instant::now();
        let mut keep: HashSet<u64> = HashSet::new();
        let mut ids_of_plan = Vec::with_capacity(plan.targets.len());
        let mut s = lock(&self.shared);
        for (t, users) in plan.targets {
            let t = Arc::new(t);
            let id = if let Some(&id) = self.ids.get(&t) {
                if let Some(c) = s.checks.get_mut(&id) {
                    c.users = users;
                }
                id
            } else {
                let id = self.next_id;
                self.next_id += 1;
                s.checks
                    .insert(id, CheckStatus::new(&t, t.describe(), users));
                self.ids.insert(t.clone(), id);
                self.entries.insert(
                    id,
                    Entry {
                        target: t,
                        next_due: now,
                        running: false,
                        started: now,
                    },
                );
                id
            };
            keep.insert(id);
            ids_of_plan.push(id);
        }
        self.entries.retain(|id, _| keep.contains(id));
        self.ids.retain(|_, id| keep.contains(id));
        s.checks.retain(|id, _| keep.contains(id));
        s.users = plan
            .users
            .into_iter()
            .map(|row| row.into_iter().map(|i| i.map(|i| ids_of_plan[i])).collect())
            .collect();
        // Two checks of one endpoint with the same description (say, the same path with other
        // status codes) must still have distinct `check` labels.
        let mut seen: HashMap<(IpAddr, u16, String), u32> = HashMap::new();
        for (id, c) in s.checks.iter_mut() {
            let Some(t) = self.entries.get(id).map(|e| &e.target) else {
                continue;
            };
            let base = t.describe();
            let n = seen.entry((c.address, c.port, base.clone())).or_insert(0);
            *n += 1;
            c.check = if *n == 1 {
                base
            } else {
                format!("{base} #{n}")
            };
        }
    }
}

/// Run one check (up to `1 + retries` probes) on its own thread and report to the scheduler.
fn spawn_check(id: u64, t: Arc<Target>, tx: Sender<Msg>, cancel: Arc<AtomicBool>) {
    let tx2 = tx.clone();
    let run = move || {
        let mut probes = Vec::with_capacity(1);
        for _ in 0..=t.retries {
            if cancel.load(Ordering::Relaxed) {
                break;
            }
            let start = Instant::now();
            let r = t.probe_once();
            let ok = r.is_ok();
            probes.push((start.elapsed(), r));
            if ok {
                break;
            }
        }
        let _ = tx.send(Msg::Done { id, probes });
    };
    // A probe needs little stack; the default 2 MiB per in-flight check adds up with many.
    let spawned = std::thread::Builder::new()
        .name("ferrovs-probe".into())
        .stack_size(256 * 1024)
        .spawn(run);
    if let Err(e) = spawned {
        // Count it as a failed check so the entry is rescheduled rather than stuck running.
        let _ = tx2.send(Msg::Done {
            id,
            probes: vec![(
                Duration::ZERO,
                Err(Failure::new(
                    FailureKind::Spawn,
                    format!("cannot start a probe thread: {e}"),
                )),
            )],
        });
    }
}

#[cfg(test)]
mod tests;
