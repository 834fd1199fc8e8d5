//! The admin socket end to end: a real `AdminServer` on a temporary path, a control loop thread
//! serving an in-memory gateway, the client and the ferrovsadm program over it.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use admin::client::{request, ClientError};
use admin::proto::{ListQuery, Request, Response};
use admin::server::{AdminServer, ServerError};
use common::MemState;

/// A control loop on its own thread: polls the server and serves requests against `state`.
struct Gateway {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<MemState>>,
}

impl Gateway {
    fn start(path: &Path, mut state: MemState) -> Self {
        let server = AdminServer::bind(path).unwrap_or_else(|e| panic!("{e}"));
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                if let Some(p) = server.poll_timeout(Duration::from_millis(10)) {
                    // A reload request is left unanswered, to test the dropped-responder path.
                    if p.request == Request::Reload {
                        drop(p.responder);
                        continue;
                    }
                    let resp = admin::handler::handle(&mut state, p.request);
                    p.responder.respond(resp);
                }
            }
            drop(server);
            state
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> MemState {
        self.stop.store(true, Ordering::SeqCst);
        self.thread
            .take()
            .expect("running")
            .join()
            .expect("control loop")
    }
}

fn sock(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("run/ferrovs/admin.sock")
}

fn ferrovsadm(path: &Path, args: &[&str], stdin: &str) -> common::Run {
    let mut argv = vec![
        "ferrovsadm".to_owned(),
        "--socket".to_owned(),
        path.display().to_string(),
    ];
    argv.extend(args.iter().map(|s| (*s).to_owned()));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = admin::cli::run(
        argv,
        &mut stdin.as_bytes(),
        &mut out,
        &mut err,
        &common::names(),
        &mut admin::cli::socket_send,
    );
    common::Run {
        code,
        stdout: String::from_utf8(out).expect("utf8"),
        stderr: String::from_utf8(err).expect("utf8"),
    }
}

#[test]
fn round_trip_through_a_real_socket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = sock(&dir);
    let gw = Gateway::start(&path, MemState::new(common::base()));

    let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600, "socket is root-only");
    assert_eq!(
        mode(path.parent().expect("dir")),
        0o700,
        "created directory is private"
    );

    for args in [
        "-A -t 10.0.0.1:80 -s rr",
        "-a -t 10.0.0.1:80 -r 10.0.0.2 -g -w 2",
        "-a -t 10.0.0.1:80 -r 10.0.0.3",
    ] {
        let r = ferrovsadm(&path, &args.split(' ').collect::<Vec<_>>(), "");
        assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{args}");
    }
    let r = ferrovsadm(&path, &["-Ln"], "");
    assert_eq!(
        r.stdout,
        "IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.0.0.1:80 rr
  -> 10.0.0.2:80                  Route   2      0          0         
  -> 10.0.0.3:80                  Route   1      0          0         
"
    );
    let r = ferrovsadm(&path, &["-a", "-t", "10.0.0.1:80", "-r", "10.0.0.3"], "");
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (255, "Destination already exists\n")
    );
    let r = ferrovsadm(&path, &["-R"], "-C\n-A -u 10.0.0.1:53 -s rr\n");
    assert_eq!(r.code, 0, "{}", r.stderr);

    // The library client and the running configuration as TOML.
    match request(&path, &Request::GetConfig).expect("answer") {
        Response::Config { toml } => {
            let back = config::parse(&toml, "export").expect("export parses");
            assert_eq!(back.services.len(), 1);
            assert_eq!(back.services[0].port, 53);
        }
        other => panic!("{other:?}"),
    }
    match request(&path, &Request::List(ListQuery::default())).expect("answer") {
        Response::Listing(l) => assert_eq!(l.services.len(), 1),
        other => panic!("{other:?}"),
    }
    // A request the control loop drops gets an error, not a hang.
    match request(&path, &Request::Reload).expect("answer") {
        Response::Error { message } => assert!(message.contains("without an answer"), "{message}"),
        other => panic!("{other:?}"),
    }

    let state = gw.stop();
    assert_eq!(state.commits, 4);
    assert!(!path.exists(), "the socket is removed on shutdown");
}

#[test]
fn version_mismatch_and_garbage_are_refused_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = sock(&dir);
    let gw = Gateway::start(&path, MemState::new(common::base()));
    let exchange = |line: &str| {
        let mut s = UnixStream::connect(&path).expect("connect");
        s.write_all(line.as_bytes()).expect("write");
        let mut answer = String::new();
        BufReader::new(s).read_line(&mut answer).expect("read");
        let v: serde_json::Value = serde_json::from_str(&answer).expect("json");
        assert_eq!(v["version"], 1);
        assert_eq!(v["body"]["type"], "error");
        v["body"]["message"].as_str().expect("message").to_owned()
    };
    let m = exchange("{\"version\":99,\"body\":{\"type\":\"frobnicate\"}}\n");
    assert!(
        m.contains("version mismatch: the client speaks version 99, this ferrovs speaks version 1"),
        "{m}"
    );
    assert!(exchange("not json\n").starts_with("malformed request"));
    assert!(exchange("{\"body\":{\"type\":\"reload\"}}\n").contains("no protocol version"));
    assert!(
        exchange("{\"version\":1,\"body\":{\"type\":\"frobnicate\"}}\n")
            .starts_with("malformed request")
    );
    assert_eq!(gw.stop().commits, 0);
}

#[test]
fn client_errors_say_what_is_wrong() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nothing.sock");
    let e = request(&path, &Request::GetConfig).expect_err("nobody listens");
    assert!(matches!(e, ClientError::Connect { .. }));
    assert!(
        e.to_string().starts_with(&format!(
            "ferrovs is not running? cannot connect to {}: ",
            path.display()
        )),
        "{e}"
    );
    let r = ferrovsadm(&path, &["-Ln"], "");
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.starts_with("ferrovs is not running?"),
        "{}",
        r.stderr
    );
    // A server that answers with another protocol version.
    let listener = UnixListener::bind(&path).expect("bind");
    let t = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        let mut line = String::new();
        BufReader::new(s.try_clone().expect("clone"))
            .read_line(&mut line)
            .expect("read");
        s.write_all(b"{\"version\":2,\"body\":{\"type\":\"ok\"}}\n")
            .expect("write");
    });
    let e = request(&path, &Request::Reload).expect_err("mismatch");
    assert!(e.to_string().contains("version mismatch"), "{e}");
    t.join().expect("fake server");
}

#[test]
fn bind_handles_stale_foreign_and_live_sockets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("admin.sock");
    // A stale socket (its listener is gone) is replaced.
    drop(UnixListener::bind(&path).expect("bind"));
    assert!(path.exists());
    let server = AdminServer::bind(&path).expect("stale socket replaced");
    // A live one is not.
    match AdminServer::bind(&path) {
        Err(ServerError::InUse(p)) => assert_eq!(p, path),
        other => panic!("{other:?}"),
    }
    drop(server);
    assert!(!path.exists());
    // Something that is not a socket is never deleted.
    std::fs::write(&path, "precious").expect("write");
    match AdminServer::bind(&path) {
        Err(e @ ServerError::NotASocket(_)) => assert!(e.to_string().contains("is not a socket")),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        std::fs::read_to_string(&path).expect("still there"),
        "precious"
    );
}

#[test]
fn socket_path_precedence() {
    assert_eq!(
        admin::client::socket_path(Some("/x.sock")),
        PathBuf::from("/x.sock")
    );
    // The environment is process-global; only the explicit and default cases are checked here
    // unless FERROVS_SOCKET happens to be set.
    if std::env::var_os(admin::client::SOCKET_ENV).is_none() {
        assert_eq!(
            admin::client::socket_path(None),
            PathBuf::from(config::DEFAULT_ADMIN_SOCKET)
        );
    }
}

#[test]
fn local_client_requests_are_served_by_the_same_loop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = AdminServer::bind(sock(&dir)).unwrap_or_else(|e| panic!("{e}"));
    let client = server.local_client();
    let loop_ = std::thread::spawn(move || {
        let mut state = MemState::new(common::base());
        // Two requests: one from the local client, then the socket's (the same queue).
        for _ in 0..2 {
            let p = server
                .poll_timeout(Duration::from_secs(10))
                .expect("a request");
            let resp = admin::handler::handle(&mut state, p.request);
            p.responder.respond(resp);
        }
        // Gone: a local client's next request is told so, not left waiting.
        drop(server);
    });
    match client.request(Request::List(ListQuery::default()), Duration::from_secs(10)) {
        Response::Listing(l) => assert!(l.services.is_empty(), "{l:?}"),
        other => panic!("{other:?}"),
    }
    let r = request(&sock(&dir), &Request::List(ListQuery::default())).expect("socket");
    assert!(matches!(r, Response::Listing(_)), "{r:?}");
    loop_.join().expect("loop");
    assert_eq!(
        client.request(Request::Ha, Duration::from_secs(1)),
        Response::error("ferrovs is shutting down")
    );
}
