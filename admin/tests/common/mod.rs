//! Shared test helpers: an in-memory gateway state and a base configuration.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::IpAddr;

use admin::handler::AdminState;
use admin::names::NameTables;
use admin::proto::{ConnEntry, Counters, DestHealth, DestState, Request, Response, SynProxyState};
use config::{Config, RealServer, Service};

/// A base configuration: one port on 10.0.0.0/8 and 2001:db8::/32, and a FullNAT pool.
pub const BASE: &str = r#"
[[port]]
name = "wan0"
device = "net_null0"
addresses = ["10.0.0.254/8", "2001:db8::fe/32"]

[[local_address_pool]]
name = "lan-snat"
addresses = ["10.255.0.1"]
port = "wan0"
"#;

pub fn base() -> Config {
    config::parse(BASE, "base.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// The gateway stand-in: a configuration, counters keyed by service and real server, a
/// connection list, and a record of what was committed.
#[derive(Debug)]
pub struct MemState {
    pub config: Config,
    pub svc_counters: HashMap<(IpAddr, u16), Counters>,
    pub dest_states: HashMap<(IpAddr, u16, IpAddr, u16), DestState>,
    /// Health per (vip, vport, rs, rs port); absent = the gateway does not say (`n/a`).
    pub health: HashMap<(IpAddr, u16, IpAddr, u16), DestHealth>,
    /// The SYN proxy per (vip, vport); absent = the gateway does not say (`n/a`).
    pub syn_proxy: HashMap<(IpAddr, u16), SynProxyState>,
    pub conns: Vec<ConnEntry>,
    pub commits: usize,
    pub zeroed: Vec<Option<(IpAddr, u16)>>,
    pub reload_result: Result<u64, String>,
    pub refuse_commit: Option<String>,
    pub table_size: u32,
    /// What `-L --ha` gets; `None`: the gateway does not say.
    pub ha: Option<admin::proto::HaListing>,
    /// What `--ready` gets.
    pub ready: Result<String, String>,
    /// Whether session sync can run (the sync-daemon commands).
    pub sync_available: Result<(), String>,
    /// What `-L --announce` gets; `None`: no `[announce]`.
    pub announce: Option<admin::proto::AnnounceListing>,
    /// Every `--drain` (true) / `--undrain` (false) asked.
    pub drains: Vec<bool>,
    /// Sessions each later `-L --announce` reports: one fewer per call (a drain draining).
    pub sessions_left: std::cell::Cell<u64>,
}

impl MemState {
    pub fn new(config: Config) -> Self {
        Self {
            config,
            svc_counters: HashMap::new(),
            dest_states: HashMap::new(),
            health: HashMap::new(),
            syn_proxy: HashMap::new(),
            conns: Vec::new(),
            commits: 0,
            zeroed: Vec::new(),
            reload_result: Ok(7),
            refuse_commit: None,
            table_size: 4096,
            ha: None,
            ready: Ok("2 ports up, 1 worker running, generation 1".into()),
            sync_available: Ok(()),
            announce: None,
            drains: Vec::new(),
            sessions_left: std::cell::Cell::new(0),
        }
    }
}

impl AdminState for MemState {
    fn config(&self) -> &Config {
        &self.config
    }

    fn commit(&mut self, new: Config) -> Result<(), String> {
        if let Some(e) = &self.refuse_commit {
            return Err(e.clone());
        }
        self.config = new;
        self.commits += 1;
        Ok(())
    }

    fn reload(&mut self) -> Result<u64, String> {
        self.reload_result.clone()
    }

    fn service_counters(&self, svc: &Service) -> Counters {
        self.svc_counters
            .get(&(svc.vip, svc.port))
            .copied()
            .unwrap_or_default()
    }

    fn dest_state(&self, svc: &Service, rs: &RealServer) -> DestState {
        self.dest_states
            .get(&(svc.vip, svc.port, rs.address, rs.port))
            .copied()
            .unwrap_or_default()
    }

    fn connections(&self) -> Vec<ConnEntry> {
        self.conns.clone()
    }

    fn zero(&mut self, svc: Option<&Service>) {
        self.zeroed.push(svc.map(|s| (s.vip, s.port)));
    }

    fn conn_table_size(&self) -> u32 {
        self.table_size
    }

    fn syn_proxy(&self, svc: &Service) -> Option<SynProxyState> {
        self.syn_proxy.get(&(svc.vip, svc.port)).copied()
    }

    fn dest_health(&self, svc: &Service, rs: &RealServer) -> Option<DestHealth> {
        self.health
            .get(&(svc.vip, svc.port, rs.address, rs.port))
            .cloned()
    }

    fn ha(&self) -> Option<admin::proto::HaListing> {
        self.ha.clone()
    }

    fn ready(&mut self) -> Result<String, String> {
        self.ready.clone()
    }

    fn sync_available(&self) -> Result<(), String> {
        self.sync_available.clone()
    }

    fn announce(&self) -> Option<admin::proto::AnnounceListing> {
        let mut l = self.announce.clone()?;
        l.sessions = self.sessions_left.get();
        self.sessions_left.set(l.sessions.saturating_sub(1));
        Some(l)
    }

    fn drain(&mut self, drained: bool) -> Result<admin::proto::AnnounceListing, String> {
        self.drains.push(drained);
        let l = self.announce.as_mut().ok_or_else(|| {
            "nothing is announced: the configuration has no [announce]".to_owned()
        })?;
        l.drained = drained;
        for v in &mut l.vips {
            v.announced = !drained && v.worthy;
        }
        Ok(self.announce().expect("set above"))
    }
}

/// Name tables for tests: a couple of hosts and services, independent of the machine.
pub fn names() -> NameTables {
    NameTables::from_texts(
        "10.0.0.1 www.example.com www\n10.0.0.11 rs1.example.com\n",
        "http 80/tcp www\nhttp 80/udp\nhttps 443/tcp\ndomain 53/tcp\ndomain 53/udp\n",
    )
}

/// The result of running ferrovsadm once.
#[derive(Debug)]
pub struct Run {
    pub code: u8,
    pub stdout: String,
    pub stderr: String,
}

/// Run ferrovsadm with `args` (without the program name) against `state` in process.
pub fn run(state: &mut MemState, args: &[&str], stdin: &str) -> Run {
    let mut argv = vec!["ipvsadm".to_owned()];
    argv.extend(args.iter().map(|s| (*s).to_owned()));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let names = names();
    let mut send =
        |_: &std::path::Path, req: &Request| -> Result<Response, admin::client::ClientError> {
            Ok(admin::handler::handle(state, req.clone()))
        };
    let code = admin::cli::run(
        argv,
        &mut stdin.as_bytes(),
        &mut out,
        &mut err,
        &names,
        &mut send,
    );
    Run {
        code,
        stdout: String::from_utf8(out).expect("utf8"),
        stderr: String::from_utf8(err).expect("utf8"),
    }
}

/// Run a command that must succeed silently.
pub fn ok(state: &mut MemState, args: &[&str]) {
    let r = run(state, args, "");
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{args:?}");
}

/// Whether a missing test prerequisite is a failure: under CI (`CI=true`) or with
/// `FERROVS_REQUIRE_ALL=1` (`.ci/run` sets it, after `make deps` installed everything).
pub fn require_all() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("FERROVS_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

/// A test cannot run without `what`: fail under [`require_all`], else say so (the caller
/// returns, skipping).
pub fn missing(what: &str) {
    assert!(
        !require_all(),
        "{what}: required under CI=true or FERROVS_REQUIRE_ALL=1"
    );
    eprintln!("{what}; skipped (FERROVS_REQUIRE_ALL=1 makes this a failure)");
}
