//! Scale-out behind an ECMP router in the network-namespace lab (`lab/lab up MODE --ecmp N`,
//! issue 16 items 4 and 5): N gateways, each running ferrovs and Debian's BIRD 2 on ferrovs's
//! exception-path TAP, announce the VIP over eBGP with BFD (100 ms x 3) to a `router`
//! namespace whose BIRD merges the paths into one kernel multipath route, hashed on the L4
//! 5-tuple. The client sits behind the router. The service uses `mh` (Maglev), so every
//! gateway picks the same real server for a client.
//!
//! The announced route is a host route that ferrovs keeps (`[announce]`) in kernel table
//! ANNOUNCE_TABLE of each gateway's namespace; these tests withdraw it through ferrovs (the real
//! servers' weights to 0, or `ferrovsadm --drain`).
//!
//! Needs root; runs serially with the other lab tests (nextest test group `lab`).

mod common;

use common::{now, poll, root, Attempt, Lab};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// This file's lab ids start so (tests/lab.rs "fvt", lab_ha "fvh", lab_sync "fvs").
const TAG: &str = "fve";

/// How long a crashed gateway may stay in the router's route: BFD at 100 ms x 3 detects it in
/// about 0.3 s (`lab/ecmp-convergence.sh` measures it: 0.21-0.29 s); polling through `lab/lab
/// exec` and a loaded 2-CPU machine get the rest. Beside two fuzz jobs, 6 of 29 runs took
/// 0.61-1.87 s (the router's BIRD declaring the session down late), one 8.4 s: the bound is
/// generous, the figure is the script's.
const BFD_BOUND_S: f64 = 2.0;

/// Each new connection's budget (connect and answer), as curl's in tests/lab_ha.rs: a SYN or
/// an answer lost once (the machine is small and shared) is retransmitted within it; the
/// router's removal of a dead gateway is timed on its own.
const BUDGET_S: &str = "5";

/// Keep-alive connections held through a crash by lab/hold-conns.py (a GET on each every 100
/// ms), its output in a file of the lab's state.
struct Streams {
    log: PathBuf,
    stop: PathBuf,
    child: Option<Child>,
}

/// What became of one connection: its client port, and whether it kept working (answers after
/// the crash, no error).
#[derive(Debug)]
struct Stream {
    port: u16,
    /// What the real server saw as the source (X-Client): FullNAT's local address.
    source: Option<String>,
    answers_after: usize,
    error: Option<String>,
}

impl Stream {
    fn kept(&self) -> bool {
        self.error.is_none() && self.answers_after > 0
    }
}

impl Streams {
    /// Every connection so far, with its answers after `t`.
    fn seen(&self, t: f64) -> Vec<Stream> {
        let text = std::fs::read_to_string(&self.log).expect("client log");
        let mut streams: Vec<Stream> = Vec::new();
        for l in text.lines() {
            let f: Vec<&str> = l.split_whitespace().collect();
            let conn = |i: usize| -> usize { f[i].parse().expect("connection number") };
            match f.first().copied() {
                // "open C PORT ADDR": connections are numbered in order.
                Some("open") => {
                    assert_eq!(conn(1), streams.len(), "{l}");
                    streams.push(Stream {
                        port: f[2].parse().expect("port"),
                        source: None,
                        answers_after: 0,
                        error: None,
                    });
                }
                Some("src") => streams[conn(1)].source = Some(f[2].to_owned()),
                Some("ok") => {
                    if f[2].parse::<f64>().expect("time") > t {
                        streams[conn(1)].answers_after += 1;
                    }
                }
                Some("err") => streams[conn(1)].error = Some(l.to_owned()),
                Some("ready" | "done") => {}
                _ => panic!("hold-conns.py said {l:?}\n{text}"),
            }
        }
        streams
    }

    /// Stop the client (each connection ends its current request, its timeout at most): every
    /// connection, with its answers after `t`.
    fn finish(mut self, t: f64) -> Vec<Stream> {
        std::fs::write(&self.stop, "").expect("stop file");
        let mut child = self.child.take().expect("the client runs");
        let start = Instant::now();
        while child.try_wait().expect("client").is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(40),
                "hold-conns.py did not stop within 40 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let text = std::fs::read_to_string(&self.log).expect("client log");
        assert!(
            text.contains("\ndone\n"),
            "hold-conns.py did not end cleanly:\n{text}"
        );
        self.seen(t)
    }
}

impl Drop for Streams {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A lab with N gateways behind the router.
struct Ecmp {
    lab: Lab,
    gateways: Vec<String>,
}

impl Ecmp {
    fn up(mode: &str, n: u32) -> Ecmp {
        Ecmp::up_with(mode, n, &[])
    }

    /// The same with more `lab/lab up` arguments (`--sync`).
    fn up_with(mode: &str, n: u32, extra: &[&str]) -> Ecmp {
        let n_text = n.to_string();
        let mut args = vec!["--ecmp", n_text.as_str()];
        args.extend_from_slice(extra);
        let lab = Lab::create(TAG, mode, &args);
        let gateways: Vec<String> = lab.var("GATEWAYS").split(',').map(str::to_owned).collect();
        assert_eq!(gateways.len(), n as usize, "lab env GATEWAYS");
        assert_eq!(
            lab.var("ANNOUNCE"),
            "ferrovs",
            "this ferrovs must keep the announce table itself ([announce])"
        );
        let e = Ecmp { lab, gateways };
        // lab/lab up returns once the router has every path; check it from here too.
        let paths = e.paths();
        assert_eq!(paths, e.addrs(&e.gateways), "router's paths\n{}", e.logs());
        e
    }

    /// Every gateway's and BIRD's log tails, for failure messages.
    fn logs(&self) -> String {
        let mut keys = vec!["ROUTER_BIRD_LOG".to_owned()];
        for g in &self.gateways {
            let g = g.to_uppercase();
            keys.push(format!("{g}_LOG"));
            keys.push(format!("{g}_BIRD_LOG"));
        }
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let mut out = self.lab.tails(&keys);
        // Where a lost packet went, if a gateway dropped it.
        for g in &self.gateways {
            let url = self.var(g, "METRICS");
            let scrape = self
                .lab
                .try_run(g, &["curl", "-sS", "-m", "3", url])
                .unwrap_or_default();
            out += &format!("--- {g}'s nonzero drop counters\n");
            for l in scrape.lines().filter(|l| {
                (l.starts_with("ferrovs_worker_drops_total")
                    || l.starts_with("ferrovs_port_rx_missed_total"))
                    && !l.ends_with(" 0")
            }) {
                out += l;
                out.push('\n');
            }
        }
        out
    }

    fn var(&self, gw: &str, what: &str) -> &str {
        self.lab.var(&format!("{}_{what}", gw.to_uppercase()))
    }

    /// The gateways' addresses on the uplink LAN (the router's next hops), sorted.
    fn addrs(&self, gws: &[String]) -> Vec<String> {
        let mut a: Vec<String> = gws.iter().map(|g| self.var(g, "ADDR").to_owned()).collect();
        a.sort();
        a
    }

    /// The next hops of the router's kernel route to the VIP, sorted.
    fn paths(&self) -> Vec<String> {
        let out = self
            .lab
            .try_run(
                "router",
                &["ip", "-4", "route", "show", self.lab.var("VIP")],
            )
            .unwrap_or_default();
        let mut hops: Vec<String> = out
            .split_whitespace()
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|w| w[0] == "via")
            .map(|w| w[1].to_owned())
            .collect();
        hops.sort();
        hops
    }

    /// The router BIRD's routes to the VIP: the BGP protocols they came from ("gw2_4").
    fn bird_sources(&self) -> Vec<String> {
        let vip = format!("{}/32", self.lab.var("VIP"));
        let out = self.lab.run("router", &["birdc", "show", "route", &vip]);
        let mut protos: Vec<String> = out
            .split('[')
            .skip(1)
            .filter_map(|s| s.split_whitespace().next())
            .filter(|p| p.ends_with("_4"))
            .map(str::to_owned)
            .collect();
        protos.sort();
        protos
    }

    /// A gateway's counter summed over its labels (None while its ferrovs is down).
    fn counter(&self, gw: &str, name: &str) -> Option<f64> {
        let url = self.var(gw, "METRICS");
        let scrape = self.lab.try_run(gw, &["curl", "-sS", "-m", "3", url])?;
        let prefix = format!("{name}{{");
        Some(
            scrape
                .lines()
                .filter(|l| l.starts_with(&prefix))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum(),
        )
    }

    /// Connections each gateway has scheduled so far (0 for a gateway that is down).
    fn connections(&self) -> Vec<f64> {
        self.gateways
            .iter()
            .map(|g| {
                self.counter(g, "ferrovs_service_connections_total")
                    .unwrap_or(0.0)
            })
            .collect()
    }

    /// `count` new connections from the client, one after the other: every attempt.
    fn new_connections(&self, count: u32) -> Vec<Attempt> {
        let count = count.to_string();
        self.lab
            .conn_loop(&[
                "--count",
                &count,
                "--duration",
                "120",
                "--pause",
                "0",
                "--timeout",
                BUDGET_S,
            ])
            .attempts()
    }

    /// `count` new connections all answered, and by one real server (Maglev on every
    /// gateway picks the same one for this client; rr would alternate): how many each gateway
    /// scheduled.
    fn spread(&self, count: u32) -> Vec<f64> {
        let before = self.connections();
        let attempts = self.new_connections(count);
        let failed: Vec<&Attempt> = attempts.iter().filter(|a| !a.ok).collect();
        assert!(
            failed.is_empty(),
            "{} of {count} new connections failed: {failed:?}\n{}",
            failed.len(),
            self.logs()
        );
        assert_eq!(attempts.len(), count as usize, "conn-loop attempts");
        let backends: std::collections::BTreeSet<&str> =
            attempts.iter().map(|a| a.what.as_str()).collect();
        assert_eq!(
            backends.len(),
            1,
            "one real server for one client whichever gateway (mh): {backends:?}"
        );
        let after = self.connections();
        let per_gw: Vec<f64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
        eprintln!(
            "{count} new connections per gateway {:?}: {per_gw:?}",
            self.gateways
        );
        // A new connection on a recently used source port may join that one's session, so
        // the gateways may count fewer than `count`; never more (each is scheduled once).
        let total: f64 = per_gw.iter().sum();
        assert!(
            total <= f64::from(count) && total >= f64::from(count) * 0.8,
            "the gateways scheduled {total} of {count} connections: {per_gw:?}"
        );
        per_gw
    }

    /// (a) Every gateway carries part of `count` new connections.
    fn all_carry(&self, count: u32) {
        let per_gw = self.spread(count);
        for (g, n) in self.gateways.iter().zip(&per_gw) {
            assert!(
                *n >= 1.0,
                "{g} scheduled none of {count} new connections: {per_gw:?}\n{}",
                self.logs()
            );
        }
    }

    /// Take `gw`'s VIP route away through ferrovs: every real server's weight to 0 makes the
    /// VIP not worth announcing, and ferrovs withdraws its host route.
    fn withdraw(&self, gw: &str, mode: &str) {
        self.set_weights(gw, mode, "0");
    }

    fn announce_again(&self, gw: &str, mode: &str) {
        self.set_weights(gw, mode, "1");
    }

    /// `ferrovsadm -e` on both of the service's real servers on `gw`.
    fn set_weights(&self, gw: &str, mode: &str, weight: &str) {
        let svc = format!("{}:80", self.lab.var("VIP"));
        let fwd = match mode {
            "tun" => "-i",
            "nat" | "fullnat" => "-m",
            _ => "-g",
        };
        for rs in ["RS1", "RS2"] {
            let r = format!("{}:80", self.lab.var(rs));
            self.lab.run(
                gw,
                &["ferrovsadm", "-e", "-t", &svc, "-r", &r, fwd, "-w", weight],
            );
        }
    }

    /// Every gateway but `gw`.
    fn others(&self, gw: &str) -> Vec<String> {
        self.gateways.iter().filter(|g| *g != gw).cloned().collect()
    }

    /// Wait until the router's route to the VIP goes through exactly `gws`: how long it took.
    fn wait_paths(&self, gws: &[String], limit: Duration) -> Duration {
        let want = self.addrs(gws);
        poll(limit, || self.paths() == want).unwrap_or_else(|| {
            panic!(
                "the router's route to the VIP: {:?}, not {want:?} within {limit:?}\n{}",
                self.paths(),
                self.logs()
            )
        })
    }

    /// (b) `gw` withdraws the VIP: the router drops it (kernel route and BIRD), new
    /// connections all go to the others; announced again, it comes back.
    fn withdraw_and_return(&self, gw: &str, mode: &str) {
        let others = self.others(gw);
        self.withdraw(gw, mode);
        let took = self.wait_paths(&others, Duration::from_secs(5));
        eprintln!("{gw} withdrawn: the router dropped it in {took:?}");
        let sources = self.bird_sources();
        let gw_proto = format!("{gw}_4");
        assert!(
            !sources.contains(&gw_proto),
            "the router's BIRD still has the VIP from {gw}: {sources:?}"
        );
        assert_eq!(sources.len(), others.len(), "BIRD's routes: {sources:?}");
        let i = self.gateways.iter().position(|g| g == gw).expect("gateway");
        let per_gw = self.spread(30);
        assert_eq!(
            per_gw[i], 0.0,
            "{gw} withdrew the VIP but scheduled connections: {per_gw:?}"
        );
        for (g, n) in self.gateways.iter().zip(&per_gw) {
            if g != gw {
                assert!(*n >= 1.0, "{g} carried none of 30: {per_gw:?}");
            }
        }
        self.announce_again(gw, mode);
        self.wait_paths(&self.gateways, Duration::from_secs(10));
    }

    /// (c) `ferrovsadm --drain` on `gw` under wrk load (keep-alive, 8 connections, 8 s): the
    /// router drops `gw` and wrk sees no error and no non-2xx answer: the flows the router
    /// moves to the others go on there (mid-flow pickup with `mh`); `--undrain` brings it back.
    fn drain_under_load(&self, gw: &str) {
        let others = self.others(gw);
        let url = format!("http://{}/", self.lab.var("VIP"));
        let wrk = self.lab.spawn(
            "client",
            &["wrk", "-t", "1", "-c", "8", "-d", "8s", "--latency", &url],
        );
        std::thread::sleep(Duration::from_secs(2));
        let drained = self.lab.run(gw, &["ferrovsadm", "--drain"]);
        let took = self.wait_paths(&others, Duration::from_secs(5));
        eprintln!("{gw} drained: the router dropped it in {took:?}\n{drained}");
        let out = wrk.wait_with_output().expect("wrk");
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "wrk: {report}");
        let requests: u64 = report
            .lines()
            .find_map(|l| l.trim().split_once(" requests in "))
            .and_then(|(n, _)| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no request count in wrk's report:\n{report}"));
        assert!(requests > 100, "wrk made {requests} requests:\n{report}");
        assert!(
            !report.contains("Socket errors") && !report.contains("Non-2xx"),
            "requests failed while {gw} drained:\n{report}\n{}",
            self.logs()
        );
        eprintln!("{requests} requests through the drain, none failed");
        let listing = self.lab.run(gw, &["ferrovsadm", "-L", "--announce"]);
        assert!(
            listing.contains(", drained, 0 of 1 VIP announced"),
            "-L --announce on {gw}:\n{listing}"
        );
        self.lab.run(gw, &["ferrovsadm", "--undrain"]);
        self.wait_paths(&self.gateways, Duration::from_secs(10));
    }

    /// `count` keep-alive connections from the client to the VIP (lab/hold-conns.py, a GET on
    /// each every 100 ms, `timeout` seconds for each answer: TCP retransmits through a
    /// failover), once every one has had its first answer.
    fn hold(&self, count: usize, timeout: &str) -> Streams {
        let state = self.lab.state();
        let log = state.join("streams.log");
        let stop = state.join("streams.stop");
        let out = std::fs::File::create(&log).expect("client log");
        let child = self
            .lab
            .command(&["exec", "client", "--", "python3"])
            .arg(root().join("lab/hold-conns.py"))
            .args(["--addr", self.lab.var("VIP"), "--conns", &count.to_string()])
            .args([
                "--every",
                "0.1",
                "--timeout",
                timeout,
                "--show-source",
                "--stop-file",
            ])
            .arg(&stop)
            .stdout(Stdio::from(out))
            .stderr(Stdio::null())
            .spawn()
            .expect("start hold-conns.py");
        let s = Streams {
            log,
            stop,
            child: Some(child),
        };
        let ready = poll(Duration::from_secs(30), || {
            std::fs::read_to_string(&s.log).is_ok_and(|t| t.contains("\nready\n"))
        });
        assert!(
            ready.is_some(),
            "not every connection answered within 30 s:\n{}\n{}",
            std::fs::read_to_string(&s.log).unwrap_or_default(),
            self.logs()
        );
        s
    }

    /// The gateway that carries each of `streams` now, by client port. FullNAT: the one whose
    /// local address the real server saw (exact, sync or not). Otherwise: the one listing the
    /// connection as ESTABLISHED (without sync, only the gateway it went through has it). The
    /// router's own choice cannot be asked: `ip route get` with the ports disagrees with where
    /// its kernel forwards the lab's flows (seen: the client's socket hash, not the headers,
    /// decides there).
    fn carriers(&self, streams: &[Stream]) -> HashMap<u16, String> {
        if self.lab.var("MODE") == "fullnat" {
            return streams
                .iter()
                .filter_map(|s| {
                    let src = s.source.as_deref()?;
                    let g = self.gateways.iter().find(|g| self.var(g, "LADDR") == src)?;
                    Some((s.port, g.clone()))
                })
                .collect();
        }
        let mut via = HashMap::new();
        for g in &self.gateways {
            let list = self.lab.run(g, &["ferrovsadm", "-Lnc"]);
            for l in list.lines().filter(|l| l.contains("ESTABLISHED")) {
                if let Some(port) = l
                    .split_whitespace()
                    .nth(3)
                    .and_then(|src| src.rsplit(':').next())
                    .and_then(|p| p.parse().ok())
                {
                    via.insert(port, g.clone());
                }
            }
        }
        via
    }

    /// SIGKILL `victim` under `count` keep-alive connections; `settle` seconds later, what
    /// became of each, with the gateway that carried it before the crash (None: not found).
    fn crash_under_streams(
        &self,
        victim: Option<&str>,
        count: usize,
        timeout: &str,
        settle: u64,
    ) -> (String, Vec<(Stream, Option<String>)>) {
        let streams = self.hold(count, timeout);
        let via = self.carriers(&streams.seen(0.0));
        // None: the gateway the router gave the fewest streams, so that most go on through
        // the survivors (the router's hash, not the test, splits them, and unevenly at times).
        let victim = victim.map_or_else(
            || {
                let on = |g: &String| via.values().filter(|v| *v == g).count();
                let fewest = self.gateways.iter().min_by_key(|g| on(g));
                fewest.expect("gateways").clone()
            },
            str::to_owned,
        );
        let victim = victim.as_str();
        let others = self.others(victim);
        let said = self.lab.lab_ok(&["stop", victim]);
        let killed: f64 = said
            .rsplit(' ')
            .next()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or_else(|| panic!("lab stop said {said:?}"));
        self.wait_paths(&others, Duration::from_secs(5));
        // BFD, the router's rehash, a takeover, and a few retransmissions of each stream.
        std::thread::sleep(Duration::from_secs(settle));
        // Working afterwards: answers in the last two seconds before the stop.
        let ends = streams.finish(killed + settle as f64 - 2.0);
        assert_eq!(ends.len(), count, "connections opened");
        let ends = ends
            .into_iter()
            .map(|s| {
                let g = via.get(&s.port).cloned();
                (s, g)
            })
            .collect();
        (victim.to_owned(), ends)
    }

    /// Watch the router's kernel route to the VIP (every 10 ms, straight through `ip -n`: no
    /// lab/lab start-up in the way) from now until `gw` has left it and another gateway is
    /// still in it: when that was seen (None after 10 s).
    fn watch_removal(&self, gw: &str) -> std::thread::JoinHandle<Option<f64>> {
        let netns = format!("{}-router", self.lab.id);
        let vip = self.lab.var("VIP").to_owned();
        let hop = format!("via {} ", self.var(gw, "ADDR"));
        std::thread::spawn(move || {
            let end = now() + 10.0;
            while now() < end {
                let out = std::process::Command::new("ip")
                    .args(["-n", &netns, "-4", "route", "show", &vip])
                    .output()
                    .ok()?;
                let route = String::from_utf8_lossy(&out.stdout);
                if route.contains("via ") && !route.contains(&hop) {
                    return Some(now());
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            None
        })
    }

    /// (d) SIGKILL `victim` while new connections start every 50 ms: BFD takes it out of the
    /// router's route within BFD_BOUND_S of the kill, and every connection started after that
    /// succeeds; then it starts again and rejoins.
    fn crash(&self, victim: &str) -> f64 {
        let others = self.others(victim);
        let load =
            self.lab
                .conn_loop(&["--every", "0.05", "--timeout", BUDGET_S, "--duration", "5"]);
        std::thread::sleep(Duration::from_millis(1500));
        let watch = self.watch_removal(victim);
        let said = self.lab.lab_ok(&["stop", victim]);
        let killed: f64 = said
            .rsplit(' ')
            .next()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or_else(|| panic!("lab stop said {said:?}"));
        let gone = watch.join().expect("route watcher").unwrap_or_else(|| {
            panic!(
                "{victim} killed: the router still routes {:?} 10 s later\n{}",
                self.paths(),
                self.logs()
            )
        });
        assert_eq!(self.paths(), self.addrs(&others), "the router's paths");
        let removal = gone - killed;
        eprintln!("{victim} SIGKILLed: out of the router's route {removal:.3} s later");
        assert!(
            removal <= BFD_BOUND_S,
            "BFD took {removal:.3} s to remove {victim} (bound {BFD_BOUND_S} s)\n{}",
            self.logs()
        );
        let attempts = load.attempts();
        let before: Vec<&Attempt> = attempts.iter().filter(|a| a.end < killed).collect();
        assert!(
            before.iter().all(|a| a.ok),
            "connections before the crash failed: {before:?}"
        );
        let after: Vec<&Attempt> = attempts.iter().filter(|a| a.start >= gone).collect();
        assert!(
            after.len() >= 20,
            "too few connections after the removal to judge: {}",
            after.len()
        );
        let failed: Vec<&&Attempt> = after.iter().filter(|a| !a.ok).collect();
        assert!(
            failed.is_empty(),
            "{} of {} new connections after {victim}'s removal failed (killed at {killed:.3}, \
             out of the route at {gone:.3}): {failed:?}\n{}",
            failed.len(),
            after.len(),
            self.logs()
        );
        let hit = attempts
            .iter()
            .filter(|a| a.start >= killed && a.start < gone && !a.ok)
            .count();
        eprintln!(
            "{} connections after the removal all answered; {hit} started between kill and removal failed",
            after.len()
        );
        // Afterwards the survivors take every new connection.
        let i = self
            .gateways
            .iter()
            .position(|g| g == victim)
            .expect("gateway");
        let per_gw = self.spread(20);
        assert_eq!(per_gw[i], 0.0, "{victim} is dead: {per_gw:?}");
        // And it comes back.
        self.lab.lab_ok(&["start", victim]);
        self.wait_paths(&self.gateways, Duration::from_secs(15));
        removal
    }
}

#[test]
fn lab_ecmp_dr_three_gateways_spread_withdraw_drain_crash() {
    let e = Ecmp::up("dr", 3);
    e.all_carry(60);
    e.withdraw_and_return("gw2", "dr");
    e.drain_under_load("gw2");
    e.crash("gw3");
    // Back with all three, all three carry again.
    e.all_carry(60);
}

#[test]
fn lab_ecmp_tun_two_gateways_spread_crash() {
    let e = Ecmp::up("tun", 2);
    e.all_carry(40);
    e.crash("gw");
    e.all_carry(40);
}

/// NAT: the real servers send each connection's replies back to the gateway that brought it
/// (the lab's connmark routing), so connections through both gateways complete.
#[test]
fn lab_ecmp_nat_two_gateways_replies_return() {
    let e = Ecmp::up("nat", 2);
    e.all_carry(40);
    e.withdraw_and_return("gw", "nat");
}

/// FullNAT: each gateway its own local address; the real servers' replies find their owner
/// (issue 16 item 3), and the real servers see both local addresses.
#[test]
fn lab_ecmp_fullnat_two_gateways_own_local_addresses() {
    let e = Ecmp::up("fullnat", 2);
    e.all_carry(40);
    let state = format!("/run/ferrovs-lab/{}", e.lab.id);
    let mut seen: HashMap<String, usize> = HashMap::new();
    for rs in ["rs1", "rs2"] {
        let log = std::fs::read_to_string(format!("{state}/{rs}/access.log")).unwrap_or_default();
        for l in log.lines() {
            if let Some(src) = l.split_whitespace().next() {
                *seen.entry(src.to_owned()).or_default() += 1;
            }
        }
    }
    for g in &e.gateways {
        let la = e.var(g, "LADDR");
        assert!(
            seen.get(la).copied().unwrap_or(0) >= 1,
            "no request reached a real server from {g}'s local address {la}: {seen:?}"
        );
    }
    assert!(
        seen.keys()
            .all(|src| e.gateways.iter().any(|g| e.var(g, "LADDR") == src)),
        "requests from addresses no gateway owns: {seen:?}"
    );
}

/// (d), second half: established keep-alive connections through the surviving gateways keep
/// working when one gateway crashes, including those the router's rehash moves from one
/// survivor to another (Linux's multipath is hash-threshold: removing a next hop moves some
/// flows between the others too). Those arrive mid-flow at a gateway without their session:
/// with mid-flow scheduling by a consistent scheduler (`mh`) the new gateway picks the same
/// real server and the connection goes on.
#[test]
fn lab_ecmp_dr_crash_keeps_established_flows() {
    let e = Ecmp::up("dr", 3);
    let count = 40;
    let (victim, ends) = e.crash_under_streams(None, count, "5", 6);
    let victim = victim.as_str();
    let through = |pred: &dyn Fn(&str) -> bool| -> Vec<&Stream> {
        ends.iter()
            .filter(|(_, g)| g.as_deref().is_some_and(pred))
            .map(|(s, _)| s)
            .collect()
    };
    let survivors = through(&|g| g != victim);
    let on_victim = through(&|g| g == victim);
    let kept = survivors.iter().filter(|s| s.kept()).count();
    eprintln!(
        "streams through the surviving gateways: {kept} of {} kept working; through {victim}: {} \
         of {} (ports without a session found: {})",
        survivors.len(),
        on_victim.iter().filter(|s| s.kept()).count(),
        on_victim.len(),
        ends.iter().filter(|(_, g)| g.is_none()).count()
    );
    assert!(
        survivors.len() >= count / 2,
        "too few streams through the survivors to judge: {}",
        survivors.len()
    );
    assert!(
        kept * 100 >= survivors.len() * 99,
        "{kept} of {} established streams through the surviving gateways kept working: {:?}\n{}",
        survivors.len(),
        survivors.iter().filter(|s| !s.kept()).collect::<Vec<_>>(),
        e.logs()
    );
}

/// (e) FullNAT with session sync among three gateways and the local-address takeover
/// (`lab/lab up fullnat --ecmp 3 --sync`, docs/ecmp.md): every gateway has every session, and
/// when one dies a survivor takes its local addresses (keepalived VRRP, advert_int 1), so the
/// real servers' replies to them find a gateway that holds the flow. 60 keep-alive connections,
/// each one's gateway known by the local address its real server saw; SIGKILL one gateway: the
/// dead gateway's flows (the router moves them to the survivors, the replies go to the taker)
/// and the survivors' keep working, counted per connection: all of the survivors' and >= 99%
/// overall.
#[test]
fn lab_ecmp_fullnat_sync_crash_keeps_established_flows() {
    let e = Ecmp::up_with("fullnat", 3, &["--sync"]);
    assert_eq!(e.lab.var("TAKEOVER"), "vrrp", "lab env TAKEOVER");
    let victim = "gw3";
    let count = 60;
    let (_, ends) = e.crash_under_streams(Some(victim), count, "15", 10);
    // A survivor holds the victim's local address now, and exactly one.
    let laddr = e.var(victim, "LADDR").to_owned();
    let holders: Vec<&String> = e
        .gateways
        .iter()
        .filter(|g| *g != victim)
        .filter(|g| {
            e.lab
                .run(g, &["ferrovsadm", "-L", "--ha"])
                .lines()
                .any(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    f.len() > 1 && f[0] == laddr && f[1] == "owned"
                })
        })
        .collect();
    assert_eq!(
        holders.len(),
        1,
        "survivors owning {laddr}: {holders:?}\n{}",
        e.logs()
    );
    assert!(
        ends.iter().all(|(_, g)| g.is_some()),
        "streams whose local address is no gateway's: {ends:?}"
    );
    let of = |pred: &dyn Fn(&str) -> bool| {
        let all: Vec<&Stream> = ends
            .iter()
            .filter(|(_, g)| g.as_deref().is_some_and(pred))
            .map(|(s, _)| s)
            .collect();
        (all.iter().filter(|s| s.kept()).count(), all.len())
    };
    let dead = of(&|g| g == victim);
    let survivors = of(&|g| g != victim);
    let all = of(&|_| true);
    eprintln!(
        "FullNAT, sync, {victim} SIGKILLed, its local address taken by {}: kept working: \
         {}/{} of {victim}'s streams, {}/{} of the surviving gateways'; {}/{} overall",
        holders[0], dead.0, dead.1, survivors.0, survivors.1, all.0, all.1
    );
    assert!(
        dead.1 >= 5 && survivors.1 >= 10,
        "too few streams per gateway to judge: {dead:?} {survivors:?}"
    );
    let lost: Vec<&(Stream, Option<String>)> = ends.iter().filter(|(s, _)| !s.kept()).collect();
    assert_eq!(
        survivors.0,
        survivors.1,
        "streams of the surviving gateways broke: {lost:?}\n{}",
        e.logs()
    );
    assert!(
        all.0 * 100 >= all.1 * 99,
        "{} of {} streams kept working: {lost:?}\n{}",
        all.0,
        all.1,
        e.logs()
    );
}
