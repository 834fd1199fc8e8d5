//! The `ferrovsadm` and `ferrovs import`/`config export` binaries, run as a user would run them,
//! against an admin socket served in this test process by a small in-memory gateway.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use admin::handler::AdminState;
use admin::proto::{ConnEntry, Counters, DestState};
use config::{Config, RealServer, Service};

const BASE: &str =
    "[[port]]\nname = \"wan0\"\ndevice = \"net_null0\"\naddresses = [\"10.0.0.254/8\"]\n";

/// A gateway with no traffic: the configuration is all it has.
#[derive(Debug)]
struct Idle(Config);

impl AdminState for Idle {
    fn config(&self) -> &Config {
        &self.0
    }
    fn commit(&mut self, new: Config) -> Result<(), String> {
        self.0 = new;
        Ok(())
    }
    fn reload(&mut self) -> Result<u64, String> {
        Err("no configuration file in this test".into())
    }
    fn service_counters(&self, _: &Service) -> Counters {
        Counters::default()
    }
    fn dest_state(&self, _: &Service, _: &RealServer) -> DestState {
        DestState::default()
    }
    fn connections(&self) -> Vec<ConnEntry> {
        Vec::new()
    }
    fn zero(&mut self, _: Option<&Service>) {}
    fn conn_table_size(&self) -> u32 {
        4096
    }
}

fn serve(path: &Path) -> (Arc<AtomicBool>, std::thread::JoinHandle<()>) {
    let server = admin::server::AdminServer::bind(path).unwrap_or_else(|e| panic!("{e}"));
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = Arc::clone(&stop);
    let t = std::thread::spawn(move || {
        let mut state = Idle(config::parse(BASE, "base").expect("base"));
        while !stop2.load(Ordering::SeqCst) {
            if let Some(p) = server.poll_timeout(Duration::from_millis(10)) {
                let r = admin::handler::handle(&mut state, p.request);
                p.responder.respond(r);
            }
        }
    });
    (stop, t)
}

fn adm(path: &Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrovsadm"))
        .args(args)
        .env("FERROVS_SOCKET", path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ferrovsadm");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp_socket(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "ferrovs-test-{}-{name}/admin.sock",
        std::process::id()
    ))
}

#[test]
fn ferrovsadm_speaks_ipvsadm_over_the_socket() {
    let path = temp_socket("adm");
    let (stop, t) = serve(&path);
    assert_eq!(
        adm(&path, &["-A", "-t", "10.0.0.1:80", "-s", "rr"], "").0,
        0
    );
    assert_eq!(
        adm(
            &path,
            &["-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-m", "-w", "2"],
            ""
        )
        .0,
        0
    );
    let (code, out, _) = adm(&path, &["-Ln"], "");
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\nTCP  10.0.0.1:80 rr\n  -> 10.0.0.2:80                  Masq    2      0          0         \n"
    );
    let (code, _, err) = adm(&path, &["-A", "-t", "10.0.0.1:80"], "");
    assert_eq!((code, err.as_str()), (255, "Service already exists\n"));
    let (code, _, err) = adm(&path, &["-D", "-t", "10.0.0.1:80", "-s", "rr"], "");
    assert_eq!(
        (code, err.as_str()),
        (
            2,
            "Illegal 'scheduler' option with the 'delete-service' command\n"
        )
    );
    let (code, _, err) = adm(&path, &["-t", "x"], "");
    assert_eq!(code, 255);
    assert!(err.starts_with("Try `"), "{err}");
    let (code, _, _) = adm(&path, &["-R"], "-C\n-A -u 10.0.0.1:53 -s rr\n");
    assert_eq!(code, 0);
    let (_, saved, _) = adm(&path, &["-S", "-n"], "");
    assert_eq!(saved, "-A -u 10.0.0.1:53 -s rr\n");
    let (code, _, err) = adm(&path, &["--reload"], "");
    assert_eq!(
        (code, err.as_str()),
        (1, "no configuration file in this test\n")
    );

    // ferrovs config export prints what ferrovsadm changed.
    let out = Command::new(env!("CARGO_BIN_EXE_ferrovs"))
        .args(["config", "export", "--socket"])
        .arg(&path)
        .output()
        .expect("run ferrovs");
    assert!(out.status.success());
    let exported = config::parse(&String::from_utf8_lossy(&out.stdout), "export").expect("valid");
    assert_eq!(exported.services[0].port, 53);

    stop.store(true, Ordering::SeqCst);
    t.join().expect("server thread");
    assert!(!path.exists());
    let (code, _, err) = adm(&path, &["-Ln"], "");
    assert_eq!(code, 2);
    assert!(
        err.starts_with("ferrovs is not running? cannot connect to"),
        "{err}"
    );
    let _ = std::fs::remove_dir(path.parent().expect("dir"));
}

#[test]
fn ferrovs_import_commands() {
    let dir = std::env::temp_dir().join(format!("ferrovs-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let kconf = dir.join("keepalived.conf");
    std::fs::write(
        &kconf,
        "vrrp_instance VI_1 {\n state MASTER\n}\nvirtual_server 10.0.0.1 80 {\n lb_algo rr\n lb_kind DR\n real_server 10.0.0.2 80 {\n TCP_CHECK {\n connect_timeout 3\n }\n }\n}\n",
    )
    .expect("write");
    let base = dir.join("base.toml");
    std::fs::write(&base, BASE).expect("write");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_ferrovs"))
            .args(args)
            .output()
            .expect("run ferrovs")
    };
    let k = kconf.to_str().expect("utf8");
    let b = base.to_str().expect("utf8");
    let out = run(&["import", "keepalived", k, "--base", b]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(":1: warning: vrrp_instance VI_1"),
        "{stderr}"
    );
    let cfg = config::parse(&String::from_utf8_lossy(&out.stdout), "out").expect("valid TOML");
    assert_eq!(cfg.services[0].scheduler, config::Scheduler::Rr);
    let out = run(&["import", "keepalived", k, "--strict"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());

    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrovs"))
        .args(["import", "ipvsadm", "-", "--base", b])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"-A -t 10.0.0.1:80 -s wlc\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 1\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cfg = config::parse(&String::from_utf8_lossy(&out.stdout), "out").expect("valid TOML");
    assert_eq!(cfg.services[0].real_servers.len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A socket that exists but refuses this user is a permission problem, not a stopped gateway:
/// ferrovsadm run as `nobody` against root's 0600 socket says so and what to do; a socket left
/// by a gateway that stopped is told apart from a missing one.
#[test]
fn ferrovsadm_tells_permission_denied_from_not_running() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("admin.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    // The directory must let nobody reach the socket for the socket's own mode to decide.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod dir");
    let out = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_ferrovsadm"))
        .arg("--socket")
        .arg(&path)
        .arg("-Ln")
        .output()
        .expect("setpriv (util-linux)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("permission denied") && err.contains("run ferrovsadm as root"),
        "{err}"
    );
    assert!(!err.contains("not running"), "{err}");

    drop(listener);
    let (code, _, err) = adm(&path, &["-Ln"], "");
    assert_eq!(code, 2);
    assert!(
        err.starts_with("ferrovs is not running?") && err.contains("nothing listens on it"),
        "{err}"
    );
}
