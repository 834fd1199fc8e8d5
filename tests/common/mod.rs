//! What the lab tests share: a lab brought up by `lab/lab` under an id of its own and torn
//! down when dropped (even when the test fails), commands on its hosts, its files' tails for
//! failure messages, and lab/conn-loop.py's attempts. tests/lab_ecmp.rs uses it; the older
//! lab*.rs files still carry copies of their own.

// Each test binary that includes this module uses only part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
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

/// A lab, torn down when dropped.
pub struct Lab {
    pub id: String,
    pub env: HashMap<String, String>,
}

impl Lab {
    /// `lab/lab up MODE EXTRA...` under an id made of `tag` (each test file its own, so files
    /// never collide: tests/lab.rs uses "fvt", lab_ha "fvh", lab_sync "fvs"), the process id and
    /// a counter (tests in one process never collide either).
    pub fn up(tag: &str, mode: &str, extra: &[&str]) -> Lab {
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
        lab
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
    pub fn lab_ok(&self, args: &[&str], logs: &[&str]) -> String {
        let out = self.lab(args);
        assert!(
            out.status.success(),
            "lab {args:?}: {}\n{}",
            text(&out),
            self.tails(logs)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn var(&self, k: &str) -> &str {
        self.env
            .get(k)
            .unwrap_or_else(|| panic!("lab env has no {k}"))
    }

    /// Run a command on a lab host: its stdout, or None when it failed.
    pub fn try_run(&self, host: &str, cmd: &[&str]) -> Option<String> {
        let mut args = vec!["exec", host, "--"];
        args.extend_from_slice(cmd);
        let out = self.lab(&args);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Run a command on a lab host; its stdout, or panic with what it said.
    pub fn run(&self, host: &str, cmd: &[&str]) -> String {
        let mut args = vec!["exec", host, "--"];
        args.extend_from_slice(cmd);
        let out = self.lab(&args);
        assert!(out.status.success(), "{host}: {cmd:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Start a command on a lab host with its stdout captured.
    pub fn spawn(&self, host: &str, cmd: &[&str]) -> Child {
        let mut args = vec!["exec", host, "--"];
        args.extend_from_slice(cmd);
        self.command(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{host}: {cmd:?}: {e}"))
    }

    /// The last 30 lines of each file the lab's env names under `keys` (those it has).
    pub fn tails(&self, keys: &[&str]) -> String {
        let mut out = String::new();
        for k in keys {
            let Some(path) = self.env.get(*k) else {
                continue;
            };
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            out += &format!("--- {path} (last 30 lines)\n");
            for l in tail.iter().rev() {
                out += l;
                out.push('\n');
            }
        }
        out
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
        ConnLoop {
            child: self.spawn("client", &cmd),
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
}

impl ConnLoop {
    /// Wait for the loop to end: its attempts in order of their start.
    pub fn attempts(self) -> Vec<Attempt> {
        let out = self.child.wait_with_output().expect("conn-loop");
        assert!(out.status.success(), "conn-loop: {}", text(&out));
        let mut attempts: Vec<Attempt> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                assert_eq!(f.len(), 4, "conn-loop line {l:?}");
                Attempt {
                    start: f[0].parse().expect("start"),
                    end: f[1].parse().expect("end"),
                    ok: f[2] == "ok",
                    what: f[3].to_owned(),
                }
            })
            .collect();
        attempts.sort_by(|a, b| a.start.total_cmp(&b.start));
        attempts
    }
}
