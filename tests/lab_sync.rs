//! Session sync end to end through the binary (issue 15), in the netns lab without VRRP: two
//! ferrovs gateways A (namespace `gw`) and B (namespace `gw2`, added here) on the same LANs,
//! `[sync]` between them over their exception-path TAPs (each has its own address on the
//! server LAN for it). The "VIP move" is done by hand, as keepalived would: the client's and
//! the real servers' neighbour entries for the VIP and the gateway (NAT) or the local address
//! (FullNAT) point at A, then at B after A is SIGKILLed. A long-lived keep-alive HTTP stream
//! through the VIP, opened via A, must keep working through B on the same TCP connection, to
//! the same real server (FullNAT: from the same local port).
//!
//! The `mcast` tests start the daemons as an ipvsadm user would, with no peer list: `[sync]`
//! has only the key, `ferrovsadm --start-daemon master|backup --mcast-interface server --syncid
//! 7` gives listen and the kernel's group 224.0.0.81, where the gateways discover each other.
//!
//! Needs root (namespaces); nextest runs it in the serial lab group.

mod common;

use common::{metric, text, Lab};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// This file's lab ids start so.
const TAG: &str = "fvs";

/// The shared HMAC key of the pair.
const KEY: &str = "5a1f0c9e3b7d24e8a6c1f09b3d5e7a2c4b6d8f0a1c3e5b7d9f1a2c4e6b8d0f13";
/// Each gateway's MACs (client port, server port), so the neighbours can be pointed at one.
const MACS: [[&str; 2]; 2] = [
    ["02:00:5e:0a:00:01", "02:00:5e:0a:00:02"],
    ["02:00:5e:0b:00:01", "02:00:5e:0b:00:02"],
];
/// Each gateway's own server-LAN address: the sync socket binds there.
const SYNC_ADDR: [&str; 2] = ["198.18.2.2", "198.18.2.3"];
const SYNC_PORT: u16 = 8848;

/// The client's long-lived stream: one TCP connection, a keep-alive GET every 200 ms; one line
/// per answer (`ok N RSx`), `port P` first (its local port), `error ...` and exit 1 on any
/// failure; it stops cleanly when the stop file appears.
const STREAM: &str = r#"
import socket, sys, time, os
vip, log, stop = sys.argv[1], sys.argv[2], sys.argv[3]
out = open(log, "w", buffering=1)
s = socket.create_connection((vip, 80), timeout=5)
s.settimeout(20)
out.write("port %d\n" % s.getsockname()[1])
n = 0
try:
    while not os.path.exists(stop):
        s.sendall(b"GET / HTTP/1.1\r\nHost: vip\r\nConnection: keep-alive\r\n\r\n")
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = s.recv(4096)
            if not d:
                raise Exception("connection closed by peer")
            buf += d
        head, body = buf.split(b"\r\n\r\n", 1)
        length = 0
        for l in head.split(b"\r\n"):
            if l.lower().startswith(b"content-length:"):
                length = int(l.split(b":")[1])
        while len(body) < length:
            d = s.recv(4096)
            if not d:
                raise Exception("connection closed in a body")
            body += d
        if not head.startswith(b"HTTP/1.1 200"):
            raise Exception("status " + head.split(b"\r\n")[0].decode())
        name = body.decode().strip().replace("<h1>Backend ", "").replace("</h1>", "")
        n += 1
        out.write("ok %d %s\n" % (n, name))
        time.sleep(0.2)
except Exception as e:
    out.write("error %r\n" % (e,))
    sys.exit(1)
s.close()
out.write("done\n")
"#;

/// The lab with a second gateway namespace; everything goes when dropped.
struct Pair {
    lab: Lab,
    gateways: Vec<Option<Child>>,
    extra: Vec<Child>,
    /// `[sync] enabled` in the gateways' files (false: `ferrovsadm --start-daemon` enables it).
    sync_enabled: bool,
    /// `[sync]` has only the key and syncid: `ferrovsadm --start-daemon --mcast-interface`
    /// gives listen, and the peers are discovered on the kernel's group (no peer list).
    key_only: bool,
}

/// The lab's own methods (`var`, `ns`, `state`, `logs`, `wait_for`) on the pair.
impl std::ops::Deref for Pair {
    type Target = Lab;

    fn deref(&self) -> &Lab {
        &self.lab
    }
}

impl Pair {
    fn up(mode: &str, workers: u32) -> Pair {
        let w = workers.to_string();
        let mut lab = Lab::create(TAG, mode, &["--workers", &w, "--no-gateway"]);
        lab.poll = Duration::from_millis(200);
        let mut p = Pair {
            lab,
            gateways: Vec::new(),
            extra: Vec::new(),
            sync_enabled: true,
            key_only: false,
        };
        // Failure messages show both gateways' logs.
        p.lab.log_files = (0..2).map(|i| p.log_path(i)).collect();
        p.add_gw2();
        p
    }

    /// Run `sh -c script` on the host (root namespace); panic with its output on failure.
    fn sh(&self, script: &str) -> String {
        let out = Command::new("sh")
            .args(["-c", script])
            .output()
            .expect("sh");
        assert!(out.status.success(), "{script}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run a command in a lab namespace.
    fn run(&self, host: &str, cmd: &str) -> String {
        self.sh(&format!("ip netns exec {} sh -c '{cmd}'", self.ns(host)))
    }

    /// Namespace `gw2`, wired to the lab's bridges like `gw` (its veths quiet: DPDK owns them).
    fn add_gw2(&self) {
        let (gw2, sw) = (self.ns("gw2"), self.ns("sw"));
        let mut s = format!("set -e\nip netns add {gw2}\nip -n {gw2} link set lo up\n");
        for (dev, br) in [("eth0", "br0"), ("eth1", "br1")] {
            s.push_str(&format!(
                "ip -n {gw2} link add {dev} type veth peer name gw2-{dev} netns {sw}\n\
                 ip -n {sw} link set gw2-{dev} master {br} up\n\
                 ip netns exec {gw2} ethtool -K {dev} tx off rx off tso off gso off gro off >/dev/null 2>&1 || true\n\
                 ip netns exec {sw} ethtool -K gw2-{dev} tx off rx off tso off gso off gro off >/dev/null 2>&1 || true\n\
                 ip -n {gw2} link set {dev} up\n\
                 ip netns exec {gw2} sysctl -qw net.ipv6.conf.{dev}.disable_ipv6=1\n\
                 ip netns exec {gw2} sysctl -qw net.ipv4.conf.{dev}.arp_ignore=8\n\
                 ip netns exec {gw2} sysctl -qw net.ipv4.conf.{dev}.rp_filter=1\n"
            ));
        }
        s.push_str(&format!(
            "ip netns exec {gw2} sysctl -qw net.ipv6.conf.all.accept_dad=0\n\
             ip netns exec {gw2} sysctl -qw net.ipv6.conf.default.accept_dad=0\n"
        ));
        self.sh(&s);
    }

    /// Gateway `i`'s configuration: the lab's, with its own MACs, its own server-LAN address
    /// first (so its kernel's probes and sync leave from it), its own DPDK prefix and admin
    /// socket, and `[sync]` towards the other.
    fn config(&self, i: usize) -> PathBuf {
        let base = std::fs::read_to_string(self.var("CONFIG")).expect("lab config");
        let mut out = String::new();
        let mut port = 0;
        for line in base.lines() {
            if line.starts_with("addresses = [\"198.18.2.1/24\"") {
                out.push_str(&line.replacen('[', &format!("[\"{}/24\", ", SYNC_ADDR[i]), 1));
            } else if line.starts_with("file_prefix") && i == 1 {
                out.push_str(&format!("file_prefix = \"{}-b\"", self.id));
            } else if line.starts_with("admin_socket") {
                out.push_str(&format!("admin_socket = \"{}\"", self.admin(i)));
            } else {
                out.push_str(line);
            }
            out.push('\n');
            if line.starts_with("device = ") {
                out.push_str(&format!("mac = \"{}\"\n", MACS[i][port]));
                port += 1;
            }
        }
        if self.key_only {
            out.push_str(&format!("\n[sync]\nkey = \"{KEY}\"\nsyncid = 7\n"));
        } else {
            out.push_str(&format!(
                "\n[sync]\nenabled = {}\nlisten = \"{}:{SYNC_PORT}\"\npeers = [\"{}:{SYNC_PORT}\"]\n\
                 key = \"{KEY}\"\nsyncid = 7\n",
                self.sync_enabled,
                SYNC_ADDR[i],
                SYNC_ADDR[1 - i]
            ));
        }
        let path = self.state().join(format!("gw{i}.toml"));
        std::fs::write(&path, out).expect("write config");
        let check = Command::new(env!("CARGO_BIN_EXE_ferrovs"))
            .arg("check")
            .arg(&path)
            .output()
            .expect("ferrovs check");
        assert!(check.status.success(), "config {i}: {}", text(&check));
        path
    }

    fn admin(&self, i: usize) -> String {
        format!("{}/admin{i}.sock", self.state().display())
    }

    fn gw_ns(&self, i: usize) -> String {
        self.ns(["gw", "gw2"][i])
    }

    fn log_path(&self, i: usize) -> PathBuf {
        self.state().join(format!("gw{i}.log"))
    }

    fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.log_path(i)).unwrap_or_default()
    }

    /// Start gateway `i` and wait for "ferrovs: running".
    fn start(&mut self, i: usize) {
        let cfg = self.config(i);
        let log = std::fs::File::create(self.log_path(i)).expect("log");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.gw_ns(i)])
            .arg(env!("CARGO_BIN_EXE_ferrovs"))
            .arg("run")
            .arg("--config")
            .arg(&cfg)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start ferrovs");
        // lab down stops what it finds here too.
        std::fs::write(
            self.state().join(format!("gw{i}.pid")),
            child.id().to_string(),
        )
        .expect("pid file");
        while self.gateways.len() <= i {
            self.gateways.push(None);
        }
        self.gateways[i] = Some(child);
        let start = Instant::now();
        while !self.log(i).contains("ferrovs: running") {
            if let Some(Some(c)) = self.gateways.get_mut(i) {
                if let Ok(Some(st)) = c.try_wait() {
                    panic!("gateway {i} exited with {st}:\n{}", self.log(i));
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "gateway {i} did not start:\n{}",
                self.log(i)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILL gateway `i`.
    fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.gateways[i].take() {
            c.kill().expect("SIGKILL");
            c.wait().expect("reap");
        }
    }

    /// Gateway `i`'s metrics.
    fn scrape(&self, i: usize) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.gw_ns(i)])
            .args(["curl", "-sS", "-m", "5", "http://127.0.0.1:9173/metrics"])
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Gateway `i`'s `ferrovsadm -L -c -n`.
    fn conns(&self, i: usize) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.gw_ns(i)])
            .arg(env!("CARGO_BIN_EXE_ferrovsadm"))
            .args(["-L", "-c", "-n"])
            .env("FERROVS_SOCKET", self.admin(i))
            .output()
            .expect("ferrovsadm");
        assert!(out.status.success(), "ferrovsadm -L -c -n: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run `ferrovsadm ARGS` against gateway `i`: (exit status, stdout, stderr).
    fn adm(&self, i: usize, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_ferrovsadm"))
            .args(args)
            .env("FERROVS_SOCKET", self.admin(i))
            .output()
            .expect("ferrovsadm");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Point the client's and the real servers' neighbours at gateway `i` (what a VRRP
    /// failover does with gratuitous ARP), permanently, so the other's answers change nothing.
    fn steer_to(&self, i: usize, mode: &str) {
        let vip = self.var("VIP").to_owned();
        let gw = self.var("GW").to_owned();
        self.run(
            "client",
            &format!(
                "ip neigh replace {vip} lladdr {m} dev eth0 nud permanent && \
                 ip neigh replace {gw} lladdr {m} dev eth0 nud permanent",
                m = MACS[i][0]
            ),
        );
        let back = if mode == "fullnat" {
            self.var("LADDR").to_owned()
        } else {
            "198.18.2.1".to_owned()
        };
        for rs in ["rs1", "rs2"] {
            self.run(
                rs,
                &format!(
                    "ip neigh replace {back} lladdr {} dev eth0 nud permanent",
                    MACS[i][1]
                ),
            );
        }
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for c in self
            .gateways
            .iter_mut()
            .flatten()
            .chain(self.extra.iter_mut())
        {
            let _ = c.kill();
            let _ = c.wait();
        }
        let gw2 = self.ns("gw2");
        let _ = Command::new("sh")
            .args([
                "-c",
                &format!(
                    "p=$(ip netns pids {gw2} 2>/dev/null); [ -n \"$p\" ] && kill -9 $p; \
                     ip netns del {gw2} 2>/dev/null; rm -rf /var/run/dpdk/{}-b",
                    self.id
                ),
            ])
            .status();
        // The lab itself goes when `self.lab` is dropped, after this.
    }
}

/// The stream's log lines.
fn stream_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn answers(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("ok "))
        .filter_map(|l| l.split_once(' ').map(|(_, n)| n.to_owned()))
        .collect()
}

/// The established connections to port 80 on real server `rs`, as `PEER:PORT`.
fn rs_peers(p: &Pair, rs: &str) -> Vec<String> {
    p.run(rs, "ss -tnH state established \"( sport = :80 )\"")
        .lines()
        .filter_map(|l| l.split_whitespace().last().map(str::to_owned))
        .collect()
}

/// Wait until both gateways' channels have each other's table.
fn both_ready(p: &Pair) {
    for i in 0..2 {
        p.wait_for(
            &format!("gateway {i}'s sync channel to be ready"),
            Duration::from_secs(40),
            || metric(&p.scrape(i), "ferrovs_sync_ready") == Some(1.0),
        );
    }
}

/// The failover case in `mode`, `workers` per gateway (two: the synced session goes to the
/// worker that owns the flow on B, as live traffic would put it). With `late_backup`, B starts only once the connection is
/// established through A, so it learns the session from A's full resync (A's worker walks its
/// table for it) instead of from live events.
fn failover(mode: &str, late_backup: bool, workers: u32) {
    failover_with(mode, late_backup, workers, false);
}

/// The two gateways' sync daemons started with ipvsadm's commands: `[sync]` is in their files
/// but disabled; both directions are started on each with `ferrovsadm --start-daemon` and
/// listed with `-L --daemon` in ipvsadm's format.
fn start_daemons(p: &Pair) {
    if p.key_only {
        start_mcast_daemons(p);
        return;
    }
    for i in 0..2 {
        assert_eq!(
            p.adm(i, &["-L", "--daemon"]),
            (0, String::new(), String::new()),
            "gateway {i}: no daemon before"
        );
        assert_eq!(
            p.adm(i, &["--start-daemon", "master"]),
            (0, String::new(), String::new())
        );
        assert_eq!(
            p.adm(
                i,
                &[
                    "--start-daemon",
                    "backup",
                    "--mcast-interface",
                    "server",
                    "--syncid",
                    "7"
                ]
            ),
            (0, String::new(), String::new())
        );
        let (code, _, err) = p.adm(i, &["--start-daemon", "backup"]);
        assert_eq!(
            (code, err.lines().next()),
            (255, Some("Daemon has already run"))
        );
        assert_eq!(
            p.adm(i, &["-Ln", "--daemon"]).1,
            format!(
                "master sync daemon (mcast=server, syncid=7, maxlen=1400, port={SYNC_PORT})\n\
                 backup sync daemon (mcast=server, syncid=7, maxlen=1400, port={SYNC_PORT})\n"
            )
        );
    }
}

/// ipvsadm's usage of the kernel daemons, no peer list: `[sync]` has only the key; each
/// gateway's daemons start on the server port (`--mcast-interface server`), which gives listen
/// (the port's first address, 8848), and find each other on 224.0.0.81.
fn start_mcast_daemons(p: &Pair) {
    for i in 0..2 {
        for state in ["master", "backup"] {
            assert_eq!(
                p.adm(
                    i,
                    &[
                        "--start-daemon",
                        state,
                        "--mcast-interface",
                        "server",
                        "--syncid",
                        "7"
                    ]
                ),
                (0, String::new(), String::new()),
                "gateway {i}: --start-daemon {state}"
            );
        }
        let line = |s: &str| {
            format!(
                "{s} sync daemon (mcast=server, syncid=7, maxlen=1400, group=224.0.0.81, \
                 port={SYNC_PORT}, ttl=1)\n"
            )
        };
        assert_eq!(
            p.adm(i, &["-Ln", "--daemon"]).1,
            format!("{}{}", line("master"), line("backup"))
        );
    }
    // Each found the other on the group.
    p.wait_for(
        "both gateways to discover each other",
        Duration::from_secs(10),
        || (0..2).all(|i| metric(&p.scrape(i), "ferrovs_sync_peer_discovered") == Some(1.0)),
    );
}

fn failover_with(mode: &str, late_backup: bool, workers: u32, by_ferrovsadm: bool) {
    failover_by(mode, late_backup, workers, by_ferrovsadm, false);
}

/// `key_only`: the daemons are started by ferrovsadm on a `[sync]` with only the key.
fn failover_by(mode: &str, late_backup: bool, workers: u32, by_ferrovsadm: bool, key_only: bool) {
    let mut p = Pair::up(mode, workers);
    p.sync_enabled = !by_ferrovsadm;
    p.key_only = key_only;
    p.start(0);
    if late_backup {
        // Alone, A has no peer's table: the ready check (keepalived's track_script) fails.
        let (code, _, err) = p.adm(0, &["--ready"]);
        assert_eq!(
            (code, err.as_str()),
            (
                1,
                "not ready: session sync: the initial resync from the peers is not complete\n"
            ),
            "{}",
            p.logs()
        );
    } else {
        p.start(1);
    }
    if by_ferrovsadm {
        start_daemons(&p);
    }
    p.steer_to(0, mode);
    if !late_backup {
        // Both channels up: each has the other's (empty) table.
        both_ready(&p);
    }

    let vip = p.var("VIP").to_owned();
    let state = p.state();
    let (log, stop) = (state.join("stream.log"), state.join("stream.stop"));
    let script = state.join("stream.py");
    std::fs::write(&script, STREAM).expect("stream script");
    let stream = Command::new("ip")
        .args(["netns", "exec", &p.ns("client"), "python3"])
        .arg(&script)
        .arg(&vip)
        .arg(&log)
        .arg(&stop)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the stream");
    p.extra.push(stream);
    p.wait_for("5 answers through A", Duration::from_secs(30), || {
        answers(&stream_lines(&log)).len() >= 5
    });
    let lines = stream_lines(&log);
    assert!(
        !lines.iter().any(|l| l.starts_with("error")),
        "{lines:?}\n{}",
        p.logs()
    );
    let cport: u16 = lines
        .iter()
        .find_map(|l| l.strip_prefix("port "))
        .and_then(|s| s.parse().ok())
        .expect("the stream's port");
    let before = answers(&lines);
    let server = before[0].clone();
    assert!(
        before.iter().all(|n| *n == server),
        "one connection, one real server: {before:?}"
    );
    let rs = server.to_lowercase();
    let rs_addr = p.var(&server).to_owned();
    if late_backup {
        p.start(1);
        both_ready(&p);
        // Each has the other's table now: ready to own.
        for i in 0..2 {
            let (code, out, err) = p.adm(i, &["--ready"]);
            assert_eq!(code, 0, "gateway {i}: {out}{err}\n{}", p.logs());
        }
        let b = p.scrape(1);
        assert!(
            metric(&b, "ferrovs_sync_resyncs_completed_total").is_some_and(|n| n >= 1.0)
                && metric(&b, "ferrovs_sync_last_resync_sessions").is_some_and(|n| n >= 1.0),
            "B's table came by a full resync carrying the session:\n{b}"
        );
    }

    // B learnt the connection by sync: the same client, VIP and real server as on A.
    let want = |listing: &str| {
        listing.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() >= 6
                && f[0] == "TCP"
                && f[3] == format!("{}:{cport}", p.var("CLIENT"))
                && f[4] == format!("{vip}:80")
                && f[5] == format!("{rs_addr}:80")
        })
    };
    let on_a = p.conns(0);
    assert!(want(&on_a), "A lists the connection:\n{on_a}");
    p.wait_for(
        "B to list the synced session",
        Duration::from_secs(10),
        || want(&p.conns(1)),
    );
    let peers_before = rs_peers(&p, &rs);
    assert_eq!(
        peers_before.len(),
        1,
        "one connection on {rs}: {peers_before:?}"
    );
    let installed = metric(&p.scrape(1), "ferrovs_worker_sync_installed_total");
    assert!(
        installed.is_some_and(|n| n >= 1.0),
        "B installed it: {installed:?}"
    );

    // A dies; the neighbours move to B (keepalived's job in the HA lab).
    p.kill(0);
    p.steer_to(1, mode);
    let served = answers(&stream_lines(&log)).len();
    p.wait_for("5 more answers through B", Duration::from_secs(30), || {
        answers(&stream_lines(&log)).len() >= served + 5
    });
    let peers_after = rs_peers(&p, &rs);
    assert_eq!(
        peers_after, peers_before,
        "{rs} still has the same one connection, from the same address and port"
    );
    std::fs::write(&stop, "").expect("stop file");
    let mut stream = p.extra.pop().expect("the stream");
    let st = stream.wait().expect("the stream ends");
    let lines = stream_lines(&log);
    assert!(
        st.success() && lines.last().map(String::as_str) == Some("done"),
        "the connection survived the failover: {st} {lines:?}\n{}",
        p.logs()
    );
    let all = answers(&lines);
    assert!(
        all.iter().all(|n| *n == server),
        "every answer from {server}: {all:?}"
    );
    // The real server saw one connection throughout: same peer (the client for NAT, the
    // local address and port for FullNAT), so the same local port was kept.
    let scrape_b = p.scrape(1);
    assert!(
        metric(&scrape_b, "ferrovs_sync_sessions_received_total").is_some_and(|n| n >= 1.0),
        "B counts what it received:\n{scrape_b}"
    );
    if mode == "fullnat" {
        assert!(
            peers_before[0].starts_with(&format!("{}:", p.var("LADDR"))),
            "FullNAT: {rs} sees the local address: {peers_before:?}"
        );
    } else {
        assert_eq!(peers_before[0], format!("{}:{cport}", p.var("CLIENT")));
    }
    // Closed by the client at the end; what the server saw while it ran was one peer.
    let log_rs = std::fs::read_to_string(state.join(&rs).join("access.log")).unwrap_or_default();
    let peers: std::collections::BTreeSet<&str> = log_rs
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        peers.len(),
        1,
        "{rs} served every request to one peer address: {peers:?}"
    );
}

#[test]
fn lab_sync_nat_failover_keeps_tcp_connection() {
    failover("nat", false, 1);
}

#[test]
fn lab_sync_fullnat_failover_keeps_tcp_connection_and_local_port() {
    failover("fullnat", false, 1);
}

#[test]
fn lab_sync_nat_backup_started_later_learns_by_resync() {
    failover("nat", true, 1);
}

#[test]
fn lab_sync_fullnat_backup_started_later_learns_by_resync() {
    failover("fullnat", true, 1);
}

#[test]
fn lab_sync_nat_daemons_started_by_ferrovsadm_keep_tcp_connection() {
    failover_with("nat", false, 1, true);
}

#[test]
fn lab_sync_nat_mcast_daemons_started_by_ferrovsadm_without_peers_keep_tcp_connection() {
    failover_by("nat", false, 1, true, true);
}

#[test]
fn lab_sync_fullnat_mcast_daemons_started_by_ferrovsadm_without_peers_keep_tcp_connection() {
    failover_by("fullnat", false, 1, true, true);
}

#[test]
fn lab_sync_nat_failover_keeps_tcp_connection_two_workers() {
    failover("nat", false, 2);
}

#[test]
fn lab_sync_fullnat_failover_keeps_tcp_connection_and_local_port_two_workers() {
    failover("fullnat", false, 2);
}
