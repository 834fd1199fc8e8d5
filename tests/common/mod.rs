//! What the lab tests share: a lab brought up by `lab/lab` under an id of its own and torn
//! down when dropped (even when the test fails), commands on its hosts, its logs' tails for
//! failure messages, its gateways' metrics and keepalived's view, and lab/conn-loop.py's
//! attempts. Every tests/lab*.rs file uses it; each adds what only it needs in an `impl Lab`
//! block of its own (an inherent impl may sit anywhere in the crate, and each test binary is
//! its own crate).

// Each test binary that includes this module uses only part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Unix time in seconds, the clock lab/conn-loop.py and `lab/lab stop` print.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A command's stdout and stderr, for failure messages.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// How many lines of each log a failure message shows.
const TAIL_LINES: usize = 40;

/// The last [`TAIL_LINES`] lines of the file at `path`, headed by its name.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(TAIL_LINES).collect();
    let mut out = format!("--- {} (last {TAIL_LINES} lines)\n", path.display());
    for l in lines.iter().rev() {
        out += l;
        out.push('\n');
    }
    out
}

/// The value of the first sample of `name` in a Prometheus scrape, labelled or not.
pub fn metric(scrape: &str, name: &str) -> Option<f64> {
    scrape.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?;
        let rest = rest.strip_prefix(' ').or_else(|| {
            rest.strip_prefix('{')
                .and_then(|r| r.split_once("} ").map(|x| x.1))
        })?;
        rest.trim().parse().ok()
    })
}

/// The per-worker samples of `ferrovs_worker_*` counter `name` in `scrape`, by worker id (every
/// worker from 0 up must have one).
pub fn per_worker(scrape: &str, name: &str) -> Vec<u64> {
    let mut v: Vec<(usize, u64)> = scrape
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?.strip_prefix("{worker=\"")?;
            let (w, value) = rest.split_once("\"} ")?;
            Some((w.parse().ok()?, value.parse().ok()?))
        })
        .collect();
    v.sort_unstable();
    assert!(
        v.iter().enumerate().all(|(i, (w, _))| i == *w),
        "{name}: {v:?}"
    );
    v.into_iter().map(|(_, n)| n).collect()
}

/// `ferrovs_ha_address_owned{address=ADDR}` in a scrape: whether ferrovs owns `addr` (None:
/// the scrape has no such sample).
pub fn address_owned(scrape: &str, addr: &str) -> Option<bool> {
    let label = format!("address=\"{addr}\"");
    scrape
        .lines()
        .find(|l| l.starts_with("ferrovs_ha_address_owned{") && l.contains(&label))
        .map(|l| l.trim_end().ends_with(" 1"))
}

/// A lab, torn down when dropped.
pub struct Lab {
    pub id: String,
    pub env: HashMap<String, String>,
    /// The files whose tails failure messages show ([`Lab::logs`]): the gateway's log unless
    /// the test file says otherwise.
    pub log_files: Vec<PathBuf>,
    /// How often [`Lab::wait_for`] asks.
    pub poll: Duration,
}

impl Lab {
    /// `lab/lab up MODE ARGS...` under an id made of `tag` (each test file its own, so files
    /// never collide: tests/lab.rs uses "fvt", lab_ha "fvh", lab_sync "fvs", lab_hasync "fvq",
    /// lab_ecmp "fve", lab_dpvs "fvd", lab_console "fvc", lab_flood "fvf"), the process id and a
    /// counter (tests in one process never collide either).
    pub fn create(tag: &str, mode: &str, extra: &[&str]) -> Lab {
        assert!(
            is_root(),
            "the lab tests need root (network namespaces); run make test as root"
        );
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = format!("{tag}{}{}{n}", std::process::id() % 100_000, &mode[..1]);
        let mut lab = Lab {
            id,
            env: HashMap::new(),
            log_files: Vec::new(),
            poll: Duration::from_millis(100),
        };
        let mut args = vec!["up", mode];
        args.extend_from_slice(extra);
        let out = lab.lab(&args);
        assert!(out.status.success(), "lab {args:?}: {}", text(&out));
        lab.env = String::from_utf8_lossy(&lab.lab(&["env"]).stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        lab.log_files = lab.env.get("LOG").map(PathBuf::from).into_iter().collect();
        lab
    }

    /// The lab's state directory (its configuration, logs and pid files).
    pub fn state(&self) -> PathBuf {
        PathBuf::from(format!("/run/ferrovs-lab/{}", self.id))
    }

    /// The network namespace of lab host `host`.
    pub fn ns(&self, host: &str) -> String {
        format!("{}-{host}", self.id)
    }

    /// `lab/lab ARGS` for this lab, with the binaries under test.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(root().join("lab/lab"));
        c.args(args)
            .env("FERROVS_LAB_ID", &self.id)
            .env("FERROVS_BIN", env!("CARGO_BIN_EXE_ferrovs"))
            .env(
                "FERROVS_TARGET_DIR",
                Path::new(env!("CARGO_BIN_EXE_ferrovs"))
                    .parent()
                    .expect("bin dir"),
            );
        c
    }

    pub fn lab(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run lab/lab")
    }

    /// `lab/lab ARGS`, which must succeed: what it said.
    pub fn lab_ok(&self, args: &[&str]) -> String {
        let out = self.lab(args);
        assert!(
            out.status.success(),
            "lab {args:?}: {}\n{}",
            text(&out),
            self.logs()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn var(&self, k: &str) -> &str {
        self.env
            .get(k)
            .unwrap_or_else(|| panic!("lab env has no {k}"))
    }

    /// `lab/lab exec HOST -- CMD...`: what it said.
    pub fn exec(&self, host: &str, cmd: &[&str]) -> Output {
        let mut args = vec!["exec", host, "--"];
        args.extend_from_slice(cmd);
        self.lab(&args)
    }

    /// Run a command on a lab host: its stdout, or None when it failed.
    pub fn try_run(&self, host: &str, cmd: &[&str]) -> Option<String> {
        let out = self.exec(host, cmd);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Run a command on a lab host; its stdout, or panic with what it said and the logs.
    pub fn run(&self, host: &str, cmd: &[&str]) -> String {
        let out = self.exec(host, cmd);
        assert!(
            out.status.success(),
            "{host}: {cmd:?} failed: {}\n{}",
            text(&out),
            self.logs()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Start a command on a lab host with its stdout and stderr captured.
    pub fn spawn(&self, host: &str, cmd: &[&str]) -> Child {
        self.spawn_with(host, cmd, Stdio::piped)
    }

    /// Start a command on a lab host with its output discarded (nothing fills a pipe that no
    /// one reads).
    pub fn spawn_quiet(&self, host: &str, cmd: &[&str]) -> Child {
        self.spawn_with(host, cmd, Stdio::null)
    }

    fn spawn_with(&self, host: &str, cmd: &[&str], out: fn() -> Stdio) -> Child {
        let mut args = vec!["exec", host, "--"];
        args.extend_from_slice(cmd);
        self.command(&args)
            .stdout(out())
            .stderr(out())
            .spawn()
            .unwrap_or_else(|e| panic!("{host}: {cmd:?}: {e}"))
    }

    /// The tails of the files the lab's env names under `keys` (those it has).
    pub fn tails(&self, keys: &[&str]) -> String {
        keys.iter()
            .filter_map(|k| self.env.get(*k))
            .map(|path| tail(Path::new(path)))
            .collect()
    }

    /// The tails of [`Lab::log_files`], for failure messages.
    pub fn logs(&self) -> String {
        self.log_files.iter().map(|p| tail(p)).collect()
    }

    /// Wait until `ok`, asking every [`Lab::poll`]; panic with `what` and the logs after
    /// `limit`.
    pub fn wait_for(&self, what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
        let start = Instant::now();
        while !ok() {
            assert!(
                start.elapsed() < limit,
                "{what}: not within {limit:?}\n{}",
                self.logs()
            );
            std::thread::sleep(self.poll);
        }
    }

    /// The seeds' client test, bounded: `curl URL` n times; the real servers' names.
    pub fn curl_names(&self, url: &str, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| {
                let body = self.run("client", &["curl", "-sS", "-m", "5", url]);
                body.trim()
                    .strip_prefix("<h1>Backend ")
                    .and_then(|b| b.strip_suffix("</h1>"))
                    .unwrap_or_else(|| panic!("unexpected body {body:?}"))
                    .to_owned()
            })
            .collect()
    }

    /// [`Lab::curl_names`] on the VIP.
    pub fn curl_vip(&self, n: usize) -> Vec<String> {
        self.curl_names(&format!("http://{}/", self.var("VIP")), n)
    }

    /// A gateway's `/metrics` (gw's or gw2's), or None while its ferrovs is down.
    pub fn metrics(&self, gw: &str) -> Option<String> {
        let url = if gw == "gw" {
            self.var("METRICS")
        } else {
            self.var("GW2_METRICS")
        };
        self.try_run(gw, &["curl", "-sS", "-m", "3", url])
    }

    /// keepalived's view: the VIP is on the director's eth0 (ferrovs's TAP, or a peer's veth).
    pub fn holds_vip(&self, director: &str) -> bool {
        let vip = format!("inet {}/", self.var("VIP"));
        self.try_run(director, &["ip", "-4", "-o", "addr", "show", "dev", "eth0"])
            .is_some_and(|out| out.contains(&vip))
    }

    /// `director`'s keepalived log so far.
    pub fn keepalived_log(&self, director: &str) -> String {
        let k = format!("{}_KEEPALIVED_LOG", director.to_uppercase());
        std::fs::read_to_string(self.var(&k)).unwrap_or_default()
    }

    /// Lines of lab/conn-loop.py run on the client with `args` (new connections to the VIP),
    /// started in the background: [`ConnLoop::attempts`] waits for them.
    pub fn conn_loop(&self, args: &[&str]) -> ConnLoop {
        let script = root().join("lab/conn-loop.py");
        let mut cmd = vec![
            "python3",
            script.to_str().expect("utf-8 path"),
            "--addr",
            self.var("VIP"),
        ];
        cmd.extend_from_slice(args);
        let mut child = self.spawn("client", &cmd);
        let stdout = BufReader::new(child.stdout.take().expect("conn-loop stdout"));
        ConnLoop {
            child,
            stdout,
            first: String::new(),
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.lab(&["down"]);
    }
}

/// Poll `ok` every 50 ms until it holds: how long that took, or None after `limit`.
pub fn poll(limit: Duration, mut ok: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if ok() {
            return Some(start.elapsed());
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One attempt of lab/conn-loop.py: a new TCP connection and one HTTP GET.
#[derive(Debug)]
pub struct Attempt {
    pub start: f64,
    pub end: f64,
    pub ok: bool,
    /// The backend that answered ("RS1"), or why it failed.
    pub what: String,
}

/// lab/conn-loop.py running on the client.
pub struct ConnLoop {
    child: Child,
    stdout: BufReader<ChildStdout>,
    /// The lines read by [`ConnLoop::started`].
    first: String,
}

impl ConnLoop {
    /// Wait until the loop's first attempt has ended: everything the test does from here on
    /// happens while the client is connecting. (Starting python in the client's namespace can
    /// take over a second on a loaded 2-CPU box; a fixed pause once let a crash come before the
    /// first attempt.)
    pub fn started(mut self) -> ConnLoop {
        let n = self
            .stdout
            .read_line(&mut self.first)
            .expect("read conn-loop");
        if n == 0 {
            let out = self.child.wait_with_output().expect("conn-loop");
            panic!(
                "conn-loop ended without an attempt: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        self
    }

    /// Wait for the loop to end: its attempts in order of their start.
    pub fn attempts(mut self) -> Vec<Attempt> {
        let mut lines = std::mem::take(&mut self.first);
        self.stdout
            .read_to_string(&mut lines)
            .expect("read conn-loop");
        let out = self.child.wait_with_output().expect("conn-loop");
        assert!(out.status.success(), "conn-loop: {}", text(&out));
        let mut attempts: Vec<Attempt> = lines
            .lines()
            .map(|l| {
                // conn-loop.py writes a failure's reason without spaces.
                let f: Vec<&str> = l.splitn(4, ' ').collect();
                assert_eq!(f.len(), 4, "conn-loop line {l:?}");
                Attempt {
                    start: f[0].parse().expect("start"),
                    end: f[1].parse().expect("end"),
                    ok: f[2] == "ok",
                    what: f[3].to_owned(),
                }
            })
            .collect();
        // Parallel attempts print as they end.
        attempts.sort_by(|a, b| a.start.total_cmp(&b.start));
        attempts
    }
}
