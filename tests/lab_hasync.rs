//! Session sync under VRRP (issue 15 item 7): `lab/lab up MODE --ha --sync`, two ferrovs
//! directors with keepalived (gw MASTER 150, gw2 BACKUP 100, advert_int 1, a track_script on
//! `ferrovsadm --ready` with weight -60 and init_fail) and `[sync]` between them over their
//! server-LAN TAPs. The client (lab/hold-conns.py) holds 64 keep-alive HTTP connections and 8
//! UDP flows through the VIP, each logging every answer; the directors fail over and back under
//! it, and every failure is counted.
//!
//! Per mode (NAT, FullNAT, DR, TUN), one lab walks through:
//! (a)/(b) SIGKILL of gw's ferrovs mid-run: gw2 takes the VIP by VRRP; every connection open
//!     before the crash is served after it, by the same real server, and every UDP flow is
//!     answered again by the same real server;
//! (d) (NAT) gw restarts while the sync path to gw2 drops everything: its ready check fails, so
//!     keepalived keeps it backup (it never takes the VIP) for as long as that lasts;
//! (c) gw restarts (NAT: the sync path is open again): it resyncs from gw2, its ready check
//!     passes, it preempts, and every connection and flow is served through it again;
//! (e) 10% random loss on the sync path (nftables on the bridge, sync's UDP port only): a
//!     second client's connections, created and synced under that loss, and the first's survive
//!     another crash of gw.
//!
//! Over the whole run: no socket error, no timeout, no non-200 answer, no ICMP error on a flow.
//!
//! NAT and FullNAT also run with `--sync-mcast`: no peer list, `[sync] group = "224.0.0.81"`
//! (the kernel sync daemon's group), each gateway discovering the other by its authenticated
//! hellos there; the same walk, the 10% loss hitting the hellos too. Each gateway must list the
//! other as a discovered peer. NAT runs (d) there as well: the blocked sync path drops the
//! hellos, so the restarted gw hears no peer at all, and `[sync] expect_peers` (1 by default
//! with a group alone) keeps it unready. It then ends with
//! (f) gw2 gone for good (keepalived stopped, ferrovs killed) after gw restarted with the sync
//!     path blocked: gw, still unready, takes the VIP at its lowered priority and serves.
//!
//! Every mode also runs with two workers per gateway (`--workers 2`), where a session lives on
//! one worker (NAT: the client address's; FullNAT: the local port's; DR and TUN synced: worker 0,
//! AF_PACKET's fanout being the kernel's secret), packets that land on the other are redirected,
//! and sync must install a peer's sessions on the worker that owns them.
//! The clients send from several addresses there (NAT owns by address), and the per-worker
//! counters must show both workers of each gateway installing synced sessions and both workers
//! of the survivor forwarding after the last crash.
//! The PROXY protocol (`--proxy`, NAT and FullNAT, one worker): 8 keep-alive connections to the
//! PROXY v1 service VIP:8080 (nginx's `listen 8080 proxy_protocol`), every answer 200 with the
//! client's address in X-Client, across one SIGKILL of gw's ferrovs: gw2 shifts the synced
//! connections' sequence numbers as gw did (nginx reads a stream that is not shifted as a
//! broken request: 400).
//! The SYN proxy (`--syn-proxy`, NAT and FullNAT, one worker): 8 keep-alive connections to
//! VIP:80 whose server legs gw opened itself after a cookie, across one SIGKILL of gw's
//! ferrovs: gw2 translates them from the synced SYN proxy state and answers no SYN.
//! Needs root; runs serially with the other lab tests (nextest test group `lab`).

mod common;

use common::{address_owned, now, per_worker, root, text, Lab};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// This file's lab ids start so.
const TAG: &str = "fvq";

/// TCP connections and UDP flows each client holds.
const CONNS: usize = 64;
const FLOWS: usize = 8;

/// With two workers, the client addresses the clients send from (198.18.1.30 and up).
const SOURCES: u8 = 8;

impl Lab {
    /// `lab/lab up MODE --ha --sync --workers N` (`--sync-mcast` when `mcast`): both gateways
    /// ready (each has the other's table), gw master, gw2 backup.
    fn up(mode: &str, workers: u8, mcast: bool) -> Lab {
        let n = workers.to_string();
        let sync = if mcast { "--sync-mcast" } else { "--sync" };
        Self::up_args(mode, &["--ha", sync, "--workers", &n])
    }

    /// `lab/lab up MODE ARGS...` with this file's logs and polling.
    fn up_args(mode: &str, args: &[&str]) -> Lab {
        let mut lab = Lab::create(TAG, mode, args);
        lab.log_files = ["LOG", "GW_KEEPALIVED_LOG", "GW2_LOG", "GW2_KEEPALIVED_LOG"]
            .iter()
            .filter_map(|f| lab.env.get(*f).map(PathBuf::from))
            .collect();
        lab.poll = Duration::from_millis(200);
        lab
    }

    /// The first sample of `name` on `gw`, labelled or not (the sync families are per peer,
    /// and a gateway has one peer here); None while it is down or has none.
    fn metric(&self, gw: &str, name: &str) -> Option<f64> {
        common::metric(&self.metrics(gw)?, name)
    }

    /// ferrovs's view: `ferrovs_ha_address_owned{address=VIP}` on `gw`.
    fn ferrovs_owns_vip(&self, gw: &str) -> Option<bool> {
        address_owned(&self.metrics(gw)?, self.var("VIP"))
    }

    /// Wait until `gw` alone holds the VIP (keepalived's view) and its ferrovs owns it.
    fn wait_owner(&self, gw: &str, limit: Duration) {
        let other = if gw == "gw" { "gw2" } else { "gw" };
        self.wait_for(&format!("{gw} takes the VIP"), limit, || {
            self.holds_vip(gw) && !self.holds_vip(other) && self.ferrovs_owns_vip(gw) == Some(true)
        });
    }

    /// `ferrovsadm -L -c -n` on `gw`: (protocol, client endpoint) of every session it lists.
    fn sessions(&self, gw: &str) -> BTreeSet<(String, String)> {
        self.run(gw, &["ferrovsadm", "-L", "-c", "-n"])
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() >= 6 && (f[0] == "TCP" || f[0] == "UDP"))
                    .then(|| (f[0].to_owned(), f[3].to_owned()))
            })
            .collect()
    }

    /// `ferrovs_worker_*` counter `name` on `gw`, per worker.
    fn per_worker(&self, gw: &str, name: &str) -> Vec<u64> {
        let scrape = self
            .metrics(gw)
            .unwrap_or_else(|| panic!("{gw} has no metrics\n{}", self.logs()));
        per_worker(&scrape, name)
    }

    /// `ferrovs_worker_sessions` on `gw` (labelled by worker and family): live sessions per
    /// worker, both families.
    fn sessions_per_worker(&self, gw: &str) -> Vec<u64> {
        let scrape = self.metrics(gw).unwrap_or_default();
        let mut per: BTreeMap<usize, u64> = BTreeMap::new();
        for l in scrape.lines() {
            let Some(rest) = l.strip_prefix("ferrovs_worker_sessions{worker=\"") else {
                continue;
            };
            let (w, rest) = rest.split_once('"').expect("a worker label");
            let n: u64 = rest
                .rsplit_once(' ')
                .and_then(|(_, v)| v.trim().parse().ok())
                .expect("a value");
            *per.entry(w.parse().expect("a worker id")).or_default() += n;
        }
        per.into_values().collect()
    }

    /// Every worker of `gw` has installed sessions a peer sent (live updates or a resync):
    /// synced sessions are placed on more than one worker.
    fn assert_workers_installed(&self, gw: &str, workers: usize) {
        let installed = self.per_worker(gw, "ferrovs_worker_sync_installed_total");
        assert!(
            installed.len() == workers && installed.iter().all(|&n| n > 0),
            "{gw}: every worker installs synced sessions: {installed:?}\n{}",
            self.logs()
        );
        eprintln!("{gw}: synced sessions installed per worker: {installed:?}");
    }

    /// The client addresses a client sends from: with one worker the client's own; with more,
    /// [`SOURCES`] addresses added to its eth0 (a NAT gateway owns each client address's
    /// sessions on one worker, so one address would leave the others idle).
    fn sources(&self, workers: u8) -> Vec<String> {
        if workers == 1 {
            return vec![self.var("CLIENT").to_owned()];
        }
        let addrs: Vec<String> = (0..SOURCES)
            .map(|i| format!("198.18.1.{}", 30 + i))
            .collect();
        let adds: String = addrs
            .iter()
            .map(|a| format!("ip addr replace {a}/24 dev eth0\n"))
            .collect();
        self.run("client", &["sh", "-ec", &adds]);
        addrs
    }

    /// Wait until `gw` lists every connection and flow of `client` (learnt by sync).
    fn wait_lists(&self, gw: &str, client: &Client, limit: Duration) {
        let want = client.endpoints();
        let mut missing = want.len();
        self.wait_for(
            &format!("{gw} to list {}'s {} sessions", client.name, want.len()),
            limit,
            || {
                let have = self.sessions(gw);
                missing = want.iter().filter(|e| !have.contains(e)).count();
                missing == 0
            },
        );
    }

    /// `lab/lab stop gw`: SIGKILL of gw's ferrovs; the time of the kill.
    fn crash_gw(&self) -> f64 {
        let said = self.lab_ok(&["stop", "gw"]);
        said.split_once(" at ")
            .and_then(|(_, t)| t.trim().parse().ok())
            .unwrap_or_else(|| panic!("lab stop did not say when: {said:?}"))
    }

    /// `percent` random loss on the sync path, both ways, sync's UDP port only: an nftables
    /// bridge table in the switch namespace drops that share of the sync datagrams the bridge
    /// forwards between the gateways (`numgen random`; this kernel has no netem). VRRP, ARP and
    /// the client's traffic never meet it. Named counters count what passed the rule and what it
    /// dropped over the whole run.
    fn sync_loss(&self, percent: u32) {
        let port = self.var("SYNC_PORT");
        let mut rules = format!(
            "table bridge fvsync {{\n\
               counter seen {{}}\n\
               counter dropped {{}}\n\
               chain forward {{ type filter hook forward priority 0; policy accept; }}\n\
             }}\n\
             flush chain bridge fvsync forward\n\
             add rule bridge fvsync forward udp dport {port} counter name seen\n"
        );
        let pick = match percent {
            0 => None,
            100.. => Some(String::new()),
            p => Some(format!("numgen random mod 100 < {p} ")),
        };
        if let Some(pick) = pick {
            rules += &format!(
                "add rule bridge fvsync forward udp dport {port} {pick}counter name dropped drop\n"
            );
        }
        let mut nft = Command::new("ip")
            .args(["netns", "exec", &self.ns("sw"), "nft", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nft");
        std::io::Write::write_all(&mut nft.stdin.take().expect("stdin"), rules.as_bytes())
            .expect("write the rules");
        let out = nft.wait_with_output().expect("nft");
        assert!(out.status.success(), "nft -f:\n{rules}\n{}", text(&out));
    }

    /// Sync datagrams the bridge saw and dropped so far (both ways).
    fn sync_path_counts(&self) -> (u64, u64) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns("sw")])
            .args(["nft", "list", "counters", "table", "bridge", "fvsync"])
            .output()
            .expect("nft");
        assert!(out.status.success(), "nft list counters: {}", text(&out));
        let t = String::from_utf8_lossy(&out.stdout).into_owned();
        // "counter seen {\n packets N bytes B\n }"
        let packets = |name: &str| {
            t.split_once(&format!("counter {name} "))
                .and_then(|(_, r)| r.split_once("packets "))
                .and_then(|(_, r)| r.split_whitespace().next()?.parse().ok())
                .unwrap_or_else(|| panic!("no counter {name} in\n{t}"))
        };
        (packets("seen"), packets("dropped"))
    }

    /// Start lab/hold-conns.py on the client, sending from `sources`; it must have every
    /// connection and flow answered within 30 s.
    fn client(&self, name: &str, sources: &[String]) -> Client {
        self.client_with(
            name,
            sources,
            (CONNS, FLOWS),
            &["--udp-flows", &FLOWS.to_string()],
        )
    }

    /// [`Self::client`] with `want` (connections, UDP flows) and more arguments for the script.
    fn client_with(
        &self,
        name: &str,
        sources: &[String],
        want: (usize, usize),
        extra: &[&str],
    ) -> Client {
        let state = self.state();
        let log = state.join(format!("client-{name}.log"));
        let stop = state.join(format!("client-{name}.stop"));
        let script = root().join("lab/hold-conns.py");
        let out = std::fs::File::create(&log).expect("client log");
        let err = out.try_clone().expect("client log");
        let child = self
            .command(&["exec", "client", "--", "python3"])
            .arg(&script)
            .args(["--addr", self.var("VIP")])
            .args(["--conns", &want.0.to_string()])
            .args(extra)
            .args(["--every", "0.25", "--timeout", "30"])
            .args(["--sources", &sources.join(",")])
            .arg("--stop-file")
            .arg(&stop)
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("start the client");
        let c = Client {
            name: name.to_owned(),
            log,
            stop,
            child: Some(child),
            want,
        };
        self.wait_for(
            &format!("client {name}: every connection and flow answered"),
            Duration::from_secs(30),
            || {
                let s = c.seen();
                s.assert_clean(&c.name);
                s.ready
            },
        );
        c
    }

    /// Wait until every connection and flow of each client has `n` answers after `t`, failing
    /// at once on any error.
    fn served_after(&self, clients: &[&Client], t: f64, n: usize, what: &str) {
        let mut late = Vec::new();
        let start = Instant::now();
        loop {
            late.clear();
            for c in clients {
                let s = c.seen();
                s.assert_clean(&c.name);
                late.extend(
                    s.answered_fewer(t, n)
                        .into_iter()
                        .map(|k| format!("{}:{k}", c.name)),
                );
            }
            if late.is_empty() {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(40),
                "{what}: not served again within 40 s: {late:?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        eprintln!(
            "{what}: every connection and flow served again within {:.1} s",
            now() - t
        );
    }
}

/// What a client saw, from its log.
#[derive(Default)]
struct Seen {
    /// TCP connection -> its local endpoint ("ADDR:PORT").
    conns: BTreeMap<u32, String>,
    /// UDP flow -> its local endpoint.
    flows: BTreeMap<u32, String>,
    /// "tcp C" / "udp F" -> every answer (time, backend).
    answers: BTreeMap<String, Vec<(f64, String)>>,
    /// Every error line.
    errors: Vec<String>,
    ready: bool,
    done: bool,
}

impl Seen {
    /// No error so far, and each connection and flow answered by one backend only.
    fn assert_clean(&self, name: &str) {
        assert!(
            self.errors.is_empty(),
            "client {name}: {} errors: {:?}",
            self.errors.len(),
            self.errors
        );
        for (k, a) in &self.answers {
            let backends: BTreeSet<&str> = a.iter().map(|(_, b)| b.as_str()).collect();
            assert!(
                backends.len() == 1,
                "client {name}: {k} was answered by {backends:?}: its session moved"
            );
        }
    }

    /// Print the answers seen, how many came after `t_crash`, and the time since `t0`.
    fn report(&self, what: &str, t_crash: f64, t0: Instant) {
        let after: usize = self
            .answers
            .values()
            .map(|a| a.iter().filter(|(t, _)| *t > t_crash).count())
            .sum();
        eprintln!(
            "{what}: {} answers ({after} after the crash), no error; {:.0} s",
            self.count("tcp"),
            t0.elapsed().as_secs_f64()
        );
    }

    /// Connections and flows with fewer than `n` answers after `t`.
    fn answered_fewer(&self, t: f64, n: usize) -> Vec<String> {
        let keys = self
            .conns
            .keys()
            .map(|c| format!("tcp {c}"))
            .chain(self.flows.keys().map(|f| format!("udp {f}")));
        keys.filter(|k| {
            self.answers
                .get(k)
                .map_or(0, |a| a.iter().filter(|(at, _)| *at > t).count())
                < n
        })
        .collect()
    }

    fn count(&self, proto: &str) -> usize {
        self.answers
            .iter()
            .filter(|(k, _)| k.starts_with(proto))
            .map(|(_, a)| a.len())
            .sum()
    }
}

struct Client {
    name: String,
    log: PathBuf,
    stop: PathBuf,
    child: Option<Child>,
    /// The connections and UDP flows it holds.
    want: (usize, usize),
}

impl Client {
    fn seen(&self) -> Seen {
        let mut s = Seen::default();
        for l in std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
        {
            let f: Vec<&str> = l.split_whitespace().collect();
            let num = |i: usize| f.get(i).and_then(|v| v.parse::<u32>().ok());
            // "open C PORT ADDR": the endpoint as `ferrovsadm -L -c -n` lists it.
            let endpoint = || {
                let port = num(2).expect("port");
                format!("{}:{port}", f.get(3).expect("address"))
            };
            match f.first().copied() {
                Some("open") => {
                    s.conns.insert(num(1).expect("conn"), endpoint());
                }
                Some("uopen") => {
                    s.flows.insert(num(1).expect("flow"), endpoint());
                }
                Some(kind @ ("ok" | "uok")) if f.len() == 4 => {
                    let key = format!("{} {}", if kind == "ok" { "tcp" } else { "udp" }, f[1]);
                    let t: f64 = f[2].parse().expect("time");
                    s.answers
                        .entry(key)
                        .or_default()
                        .push((t, f[3].to_uppercase()));
                }
                Some("ready") => s.ready = true,
                Some("done") => s.done = true,
                // err, uerr, a Python traceback: all failures.
                _ => s.errors.push(l.to_owned()),
            }
        }
        s
    }

    /// (protocol, client endpoint) of every connection and flow, as `ferrovsadm -L -c -n`
    /// lists them.
    fn endpoints(&self) -> BTreeSet<(String, String)> {
        let s = self.seen();
        s.conns
            .values()
            .map(|e| ("TCP".to_owned(), e.clone()))
            .chain(s.flows.values().map(|e| ("UDP".to_owned(), e.clone())))
            .collect()
    }

    /// Stop the client; what it saw over its whole run, which must be clean.
    fn finish(mut self) -> Seen {
        std::fs::write(&self.stop, "").expect("stop file");
        let mut child = self.child.take().expect("the client runs");
        let start = Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().expect("client") {
                break st;
            }
            if start.elapsed() > Duration::from_secs(40) {
                let _ = child.kill();
                panic!("client {} did not stop within 40 s", self.name);
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let s = self.seen();
        s.assert_clean(&self.name);
        assert!(
            status.success() && s.done,
            "client {}: {status}, done: {}",
            self.name,
            s.done
        );
        assert_eq!(
            (s.conns.len(), s.flows.len()),
            self.want,
            "client {}",
            self.name
        );
        s
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The backends of a client's connections: both real servers (rr) and nothing else.
fn assert_backends(s: &Seen, name: &str) {
    let all: BTreeSet<&str> = s
        .answers
        .values()
        .flat_map(|a| a.iter().map(|(_, b)| b.as_str()))
        .collect();
    assert_eq!(
        all,
        BTreeSet::from(["RS1", "RS2"]),
        "client {name}: the answers came from"
    );
}

/// Two workers: after the last crash, both of gw2's workers transmitted (each holds sessions
/// and forwards their packets: `tx0` were its per-worker frames just before the crash), and
/// packets that reached the worker not owning their session were redirected to the one that
/// does (`redirected0` before). DR and TUN: gw2 cannot tell which worker AF_PACKET's fanout
/// hands a synced flow's packets to, so its sessions live on worker 0 and the other worker
/// redirects them there (a stub for each); both workers must take part, one way or the other.
fn survivor_workers_forward(lab: &Lab, mode: &str, tx0: &[u64], redirected0: &[u64]) {
    let tx = lab.per_worker("gw2", "ferrovs_worker_tx_packets_total");
    let redirected = lab.per_worker("gw2", "ferrovs_worker_redirected_packets_total");
    let sessions = lab.sessions_per_worker("gw2");
    let delta = |now: &[u64], then: &[u64]| -> Vec<u64> {
        now.iter().zip(then).map(|(n, t)| n - t).collect()
    };
    let (sent, moved) = (delta(&tx, tx0), delta(&redirected, redirected0));
    eprintln!(
        "gw2 after the crash, per worker: {sent:?} frames sent, {moved:?} redirected, \
         {sessions:?} sessions"
    );
    assert!(sent.len() == tx0.len() && sent.len() > 1, "{sent:?}");
    let took_part: Vec<u64> = if matches!(mode, "dr" | "tun") {
        sent.iter().zip(&moved).map(|(s, m)| s + m).collect()
    } else {
        sent.clone()
    };
    assert!(
        took_part.iter().all(|&n| n > 0),
        "every worker of gw2 forwards after the crash: {sent:?} frames sent, {moved:?} \
         redirected\n{}",
        lab.logs()
    );
    assert!(
        sessions.len() == tx0.len() && sessions.iter().all(|&n| n > 0),
        "every worker of gw2 holds sessions: {sessions:?}"
    );
    assert!(
        moved.iter().sum::<u64>() > 0,
        "packets that land on the other worker are redirected: {moved:?}"
    );
}

/// (c) gw restarts (the sync path open): it must resync from gw2 before its ready check passes
/// and before it takes the VIP back. Returns when gw owns the VIP: the moment it became master.
fn gw_returns(lab: &Lab, from: usize) -> f64 {
    lab.wait_for(
        "gw's keepalived to preempt",
        Duration::from_secs(40),
        || lab.keepalived_log("gw")[from..].contains("(VI_1) Entering MASTER STATE"),
    );
    let t = now();
    lab.wait_owner("gw", Duration::from_secs(10));
    let k = lab.keepalived_log("gw");
    let since = &k[from..];
    let ok = since.find("VRRP_Script(chk_ferrovs) succeeded");
    let master = since.find("(VI_1) Entering MASTER STATE");
    assert!(
        ok.is_some() && ok < master,
        "gw's ready check passed before it became master:\n{since}"
    );
    // Its table came from gw2 by a full resync, the first client's sessions in it.
    let done = lab.metric("gw", "ferrovs_sync_resyncs_completed_total");
    let carried = lab.metric("gw", "ferrovs_sync_last_resync_sessions");
    assert!(
        done.is_some_and(|n| n >= 1.0) && carried.is_some_and(|n| n >= (CONNS + FLOWS) as f64),
        "gw resynced from gw2 ({done:?} resyncs, the last with {carried:?} sessions)"
    );
    eprintln!("gw preempted after a resync of {carried:?} sessions");
    t
}

/// (d) gw restarts while the sync path drops everything: it stays backup and unready for
/// `hold`, while gw2 keeps the VIP.
fn gw_waits_for_its_peer(lab: &Lab, from: usize, hold: Duration) {
    let start = Instant::now();
    let mut checks = 0;
    while start.elapsed() < hold {
        assert!(
            !lab.holds_vip("gw") && lab.holds_vip("gw2"),
            "gw took the VIP with no table (sync peer unreachable)\n{}",
            lab.logs()
        );
        let since = lab.keepalived_log("gw")[from..].to_owned();
        assert!(
            !since.contains("Entering MASTER STATE"),
            "gw's keepalived became master without its ready check:\n{since}"
        );
        checks += 1;
        std::thread::sleep(Duration::from_millis(250));
    }
    // Each check runs three commands in the lab's namespaces: on a loaded 2-CPU machine one
    // can take a second or more, so ask for a few, not one per 250 ms.
    assert!(checks >= 4, "only {checks} ownership checks in {hold:?}");
    assert_gw_unready_for_sync(lab);
    let since = lab.keepalived_log("gw")[from..].to_owned();
    assert!(
        since.contains("VRRP_Script(chk_ferrovs) failed"),
        "gw's keepalived ran the ready check and saw it fail:\n{since}"
    );
}

/// `ferrovsadm --ready` on gw fails because of session sync.
fn assert_gw_unready_for_sync(lab: &Lab) {
    let out = lab
        .command(&["exec", "gw", "--", "ferrovsadm", "--ready"])
        .output()
        .expect("ferrovsadm --ready");
    assert!(
        out.status.code() == Some(1) && text(&out).contains("session sync"),
        "gw is not ready because of sync: {:?} {}",
        out.status,
        text(&out)
    );
}

/// (f) gw2 is gone for good (keepalived stopped, ferrovs killed) while gw, restarted, has heard
/// no sync peer: gw's ready check keeps failing, yet keepalived makes it master at its lowered
/// priority (the weight, not FAULT), so the VIP is served, from an empty table.
fn gw_alone_takes_the_vip_unready(lab: &Lab) {
    lab.sync_loss(100);
    let from = lab.keepalived_log("gw").len();
    lab.lab_ok(&["start", "gw"]);
    lab.wait_for(
        "gw's keepalived to run its failing check",
        Duration::from_secs(15),
        || lab.keepalived_log("gw")[from..].contains("VRRP_Script(chk_ferrovs) failed"),
    );
    assert!(
        !lab.holds_vip("gw") && lab.holds_vip("gw2"),
        "gw2 still owns"
    );
    assert_gw_unready_for_sync(lab);
    let t = now();
    lab.lab_ok(&["keepalived", "stop", "gw2"]);
    lab.lab_ok(&["stop", "gw2"]);
    lab.wait_for("gw to take the VIP alone", Duration::from_secs(20), || {
        lab.holds_vip("gw") && lab.ferrovs_owns_vip("gw") == Some(true)
    });
    let took = now() - t;
    assert_gw_unready_for_sync(lab);
    let since = lab.keepalived_log("gw")[from..].to_owned();
    // 150 less the track_script's weight of 60: still above nobody.
    let lowered = since.find("(VI_1) Changing effective priority from 150 to 90");
    let master = since.find("(VI_1) Entering MASTER STATE");
    assert!(
        lowered.is_some()
            && lowered < master
            && !since.contains("VRRP_Script(chk_ferrovs) succeeded"),
        "gw's keepalived became master at its lowered priority, its check failing:\n{since}"
    );
    let names = lab.curl_vip(3);
    assert_eq!(names.len(), 3, "served through the VIP: {names:?}");
    eprintln!("gw, unready with no sync peer, took the VIP {took:.1} s after gw2 went: {names:?}");
}

/// The whole walk in `mode` with `workers` workers per gateway; `peer_down`: gw's restart first
/// meets an unreachable sync peer (d); `mcast`: the peers discover each other on the group
/// (with `peer_down`, gw2 is also gone for good at the end, (f)).
fn failovers(mode: &str, workers: u8, peer_down: bool, mcast: bool) {
    let t0 = Instant::now();
    let lab = Lab::up(mode, workers, mcast);
    if mcast {
        // Both found the other on the group: no peer list.
        for gw in ["gw", "gw2"] {
            assert_eq!(
                lab.metric(gw, "ferrovs_sync_peer_discovered"),
                Some(1.0),
                "{gw} lists its peer as discovered\n{}",
                lab.logs()
            );
        }
        let cfg = std::fs::read_to_string(lab.state().join("ferrovs.toml")).unwrap_or_default();
        assert!(
            !cfg.contains("peers =") && cfg.contains("group = \"224.0.0.81\""),
            "the lab wrote a peer list or no group:\n{cfg}"
        );
    }
    let two = workers > 1;
    let sources = lab.sources(workers);
    lab.wait_owner("gw", Duration::from_secs(10));
    lab.sync_loss(0);
    let a = lab.client("a", &sources);
    lab.wait_lists("gw2", &a, Duration::from_secs(15));
    if two {
        lab.assert_workers_installed("gw2", workers.into());
    }

    // (a), (b): gw's ferrovs dies mid-run.
    std::thread::sleep(Duration::from_secs(1));
    let t_crash = lab.crash_gw();
    lab.wait_owner("gw2", Duration::from_secs(20));
    lab.served_after(&[&a], t_crash, 3, "crash of gw, gw2 took over");

    // (d), (c): gw comes back.
    let from = lab.keepalived_log("gw").len();
    if peer_down {
        lab.sync_loss(100);
        lab.lab_ok(&["start", "gw"]);
        gw_waits_for_its_peer(&lab, from, Duration::from_secs(8));
        lab.sync_loss(0);
    } else {
        lab.lab_ok(&["start", "gw"]);
    }
    let t_back = gw_returns(&lab, from);
    lab.served_after(&[&a], t_back, 3, "gw resynced and preempted");
    lab.wait_lists("gw", &a, Duration::from_secs(5));
    if two {
        // The restarted gw's table came by resync: on both of its workers.
        lab.assert_workers_installed("gw", workers.into());
    }

    // (e): 10% loss on the sync path; new connections are synced through it, then gw dies again.
    let (seen0, dropped0) = lab.sync_path_counts();
    lab.sync_loss(10);
    let b = lab.client("b", &sources);
    lab.wait_lists("gw2", &b, Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(1));
    let (seen1, dropped1) = lab.sync_path_counts();
    let (gw_resent, gw_nacks) = (
        lab.metric("gw", "ferrovs_sync_messages_resent_total"),
        lab.metric("gw", "ferrovs_sync_nacks_received_total"),
    );
    let tx0 = lab.per_worker("gw2", "ferrovs_worker_tx_packets_total");
    let redirected0 = lab.per_worker("gw2", "ferrovs_worker_redirected_packets_total");
    let t_crash2 = lab.crash_gw();
    lab.wait_owner("gw2", Duration::from_secs(20));
    lab.served_after(&[&a, &b], t_crash2, 3, "crash of gw under 10% sync loss");
    if two {
        survivor_workers_forward(&lab, mode, &tx0, &redirected0);
    }

    // gw2 ran throughout: its ready check never failed (so its priority never dropped), and
    // its netlink watcher never lost its sockets (a signal interrupting its poll used to count
    // as a socket error and fail the ready check for a second).
    let errors = lab.metric("gw2", "ferrovs_ha_netlink_errors_total");
    assert_eq!(errors, Some(0.0), "gw2's HA watcher errors\n{}", lab.logs());
    let k = lab.keepalived_log("gw2");
    // ferrovs logs why a check failed, and each check that passed while a generation was on
    // its way to the workers (keepalived discards the script's output).
    let checks: String = std::fs::read_to_string(lab.var("GW2_LOG"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("ferrovs: ready check:"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        !k.contains("VRRP_Script(chk_ferrovs) failed"),
        "gw2's ready check failed while it ran:\n{k}\ngw2's ready checks:\n{checks}"
    );
    if !checks.is_empty() {
        eprintln!("gw2's ready-check log (verdict changes, generations on their way):\n{checks}");
    }

    let (sa, sb) = (a.finish(), b.finish());
    assert_backends(&sa, "a");
    assert_backends(&sb, "b");
    eprintln!(
        "{mode}: client a {} HTTP answers and {} UDP answers, client b {} and {}, no error; \
         10% loss: {} sync datagrams, {} dropped, gw resent {gw_resent:?} (NACKs {gw_nacks:?}); \
         {:.0} s",
        sa.count("tcp"),
        sa.count("udp"),
        sb.count("tcp"),
        sb.count("udp"),
        seen1 - seen0,
        dropped1 - dropped0,
        t0.elapsed().as_secs_f64()
    );
    assert!(
        dropped1 > dropped0,
        "the loss hit the sync path: {} datagrams, none dropped",
        seen1 - seen0
    );
    if mcast {
        // gw2 ran throughout and still knows gw (restarted twice) as the one discovered peer.
        assert_eq!(
            lab.metric("gw2", "ferrovs_sync_discovered_peers"),
            Some(1.0)
        );
        if peer_down {
            gw_alone_takes_the_vip_unready(&lab);
        }
    }
}

#[test]
fn lab_hasync_nat_failover_peer_down_waits_resync_preempt_lossy_sync() {
    failovers("nat", 1, true, false);
}

#[test]
fn lab_hasync_fullnat_failover_resync_preempt_lossy_sync() {
    failovers("fullnat", 1, false, false);
}

#[test]
fn lab_hasync_dr_failover_resync_preempt_lossy_sync() {
    failovers("dr", 1, false, false);
}

#[test]
fn lab_hasync_tun_failover_resync_preempt_lossy_sync() {
    failovers("tun", 1, false, false);
}

#[test]
fn lab_hasync_nat_two_workers_failover_peer_down_waits_resync_preempt_lossy_sync() {
    failovers("nat", 2, true, false);
}

#[test]
fn lab_hasync_fullnat_two_workers_failover_resync_preempt_lossy_sync() {
    failovers("fullnat", 2, false, false);
}

#[test]
fn lab_hasync_dr_two_workers_failover_resync_preempt_lossy_sync() {
    failovers("dr", 2, false, false);
}

#[test]
fn lab_hasync_tun_two_workers_failover_resync_preempt_lossy_sync() {
    failovers("tun", 2, false, false);
}

#[test]
fn lab_hasync_nat_mcast_failover_peer_down_waits_resync_preempt_lossy_sync_peer_gone() {
    failovers("nat", 1, true, true);
}

#[test]
fn lab_hasync_fullnat_mcast_failover_resync_preempt_lossy_sync() {
    failovers("fullnat", 1, false, true);
}

/// Keep-alive connections the PROXY protocol failover holds.
const PROXY_CONNS: usize = 8;

/// PROXY protocol across a failover (`lab/lab up MODE --ha --sync --proxy`): keep-alive
/// connections to the PROXY v1 service VIP:8080 (nginx's `listen 8080 proxy_protocol`) through
/// gw; gw's ferrovs dies; gw2 carries on every connection with the synced PROXY state. nginx
/// answers a stream whose sequence numbers were not shifted with a 400, or not at all (it
/// reads the client's bytes from the wrong place), so each 200 after the crash, naming the
/// client (X-Client, from the header gw inserted), says gw2 translates as gw did.
fn proxy_failover(mode: &str) {
    let t0 = Instant::now();
    let lab = Lab::up_args(mode, &["--ha", "--sync", "--workers", "1", "--proxy"]);
    lab.wait_owner("gw", Duration::from_secs(10));
    let client = lab.var("CLIENT").to_owned();
    let want = ["--port", "8080", "--want-source", &client];
    let a = lab.client_with("p", &[], (PROXY_CONNS, 0), &want);
    lab.wait_lists("gw2", &a, Duration::from_secs(15));
    std::thread::sleep(Duration::from_secs(1));
    let inserted = |gw: &str| -> u64 {
        let m = lab.metrics(gw).expect("metrics");
        per_worker(&m, "ferrovs_worker_proxy_inserted_total")
            .iter()
            .sum()
    };
    assert!(
        inserted("gw") >= PROXY_CONNS as u64,
        "gw inserted a header per connection"
    );
    let t_crash = lab.crash_gw();
    lab.wait_owner("gw2", Duration::from_secs(20));
    lab.served_after(&[&a], t_crash, 5, "PROXY connections after the crash of gw");
    assert_eq!(
        inserted("gw2"),
        0,
        "gw2 inserted no header: the connections were past it"
    );
    let s = a.finish();
    assert_backends(&s, "p");
    // nginx: every request on port 8080 answered 200, each from the client's address as the
    // header named it, as many as the client counted.
    let logs: String = ["rs1", "rs2"]
        .iter()
        .map(|h| std::fs::read_to_string(lab.state().join(h).join("proxy.log")).unwrap_or_default())
        .collect();
    let bad: Vec<&str> = logs
        .lines()
        .filter(|l| !l.starts_with(&format!("{client} ")) || !l.ends_with(" 200"))
        .collect();
    assert!(
        bad.is_empty(),
        "nginx: {} bad of {}: {bad:?}",
        bad.len(),
        logs.lines().count()
    );
    assert_eq!(
        logs.lines().count(),
        s.count("tcp"),
        "nginx logged every answer"
    );
    s.report(&format!("{mode} PROXY"), t_crash, t0);
}

#[test]
fn lab_hasync_fullnat_proxy_failover() {
    proxy_failover("fullnat");
}

#[test]
fn lab_hasync_nat_proxy_failover() {
    proxy_failover("nat");
}

/// Keep-alive connections the SYN proxy failover holds.
const SYN_PROXY_CONNS: usize = 8;

/// The SYN proxy across a failover (`lab/lab up MODE --ha --sync --syn-proxy`): keep-alive
/// connections to the demo service VIP:80, whose `syn_proxy = "on"` has gw answer each SYN with
/// a cookie and open the server leg itself, so every connection's sequence numbers (and
/// timestamps) differ by the cookie on the two legs; gw's ferrovs dies; gw2 translates each
/// connection as gw did, from the synced SYN proxy state. A connection gw2 forwarded
/// untranslated would acknowledge data the server never sent: the kernels reset or stall it,
/// and the client counts an error or a missing answer.
fn syn_proxy_failover(mode: &str) {
    let t0 = Instant::now();
    let lab = Lab::up_args(mode, &["--ha", "--sync", "--workers", "1", "--syn-proxy"]);
    lab.wait_owner("gw", Duration::from_secs(10));
    let a = lab.client_with("s", &[], (SYN_PROXY_CONNS, 0), &[]);
    lab.wait_lists("gw2", &a, Duration::from_secs(15));
    std::thread::sleep(Duration::from_secs(1));
    let total = |gw: &str, name: &str| -> u64 {
        let m = lab.metrics(gw).expect("metrics");
        per_worker(&m, name).iter().sum()
    };
    let opened = "ferrovs_worker_syn_proxy_server_opened_total";
    assert!(
        total("gw", opened) >= SYN_PROXY_CONNS as u64,
        "gw opened each connection's server leg through its SYN proxy"
    );
    let t_crash = lab.crash_gw();
    lab.wait_owner("gw2", Duration::from_secs(20));
    lab.served_after(
        &[&a],
        t_crash,
        5,
        "SYN proxy connections after the crash of gw",
    );
    assert_eq!(
        total("gw2", opened),
        0,
        "gw2 opened no server leg: the connections were past it"
    );
    assert_eq!(
        total("gw2", "ferrovs_worker_syn_cookies_sent_total"),
        0,
        "gw2 answered no SYN: no connection started again"
    );
    let s = a.finish();
    assert_backends(&s, "s");
    s.report(&format!("{mode} SYN proxy"), t_crash, t0);
}

#[test]
fn lab_hasync_fullnat_syn_proxy_failover() {
    syn_proxy_failover("fullnat");
}

#[test]
fn lab_hasync_nat_syn_proxy_failover() {
    syn_proxy_failover("nat");
}
