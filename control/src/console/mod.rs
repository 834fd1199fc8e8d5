//! The web console (`[control] console`): a status page for operators in the spirit of
//! HAProxy's stats page and Piranha's monitor, and Piranha's actions on real servers and
//! services, served by the gateway on an address of its own.
//!
//! Threads: one accepts (and closes at once connections from outside `console_allow`), and
//! [`HANDLERS`] serve one request each at a time from a queue of [`QUEUE`] connections; when
//! the queue is full a connection gets 503 at once. All run on the control plane's CPU, never
//! on a worker's lcore, and touch the workers only as a metrics scrape does (relaxed atomic
//! loads); what they ask of the control loop goes through the admin queue, and the status they
//! ask for is built at most twice a second ([`status`]). Requests are bounded ([`http`]).
//!
//! Routes:
//! - `GET /` (the page), `/console.js`, `/console.css`: static, compiled in (no build step).
//! - `GET /api/status`: the status document (JSON), for anyone the allow-list lets in.
//! - `GET /api/session`: basic auth required: `{"user", "csrf"}`, the token changes need.
//! - `POST /api/action`: basic auth, CSRF token and JSON required: one [`actions::Action`];
//!   answers 200 with an [`actions::Outcome`] when applied, 422 with one when refused.
//!
//! Every action is logged on stderr with the user and the client address.

pub mod actions;
pub mod auth;
pub mod http;
pub mod status;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use actions::{Action, Actions};
use auth::Auth;
use http::{Request, Response};
use status::{GatewaySource, Status};

/// Threads serving requests.
pub const HANDLERS: usize = 8;
/// Connections waiting for a handler; more are answered 503.
pub const QUEUE: usize = 32;
/// How long writing a response may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

const INDEX_HTML: &str = include_str!("assets/index.html");
const CONSOLE_JS: &str = include_str!("assets/console.js");
const CONSOLE_CSS: &str = include_str!("assets/console.css");

/// Why the console did not start.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The listen address cannot be bound.
    #[error("console: cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// No randomness for the CSRF key, or no thread.
    #[error("console: {0}")]
    Start(String),
}

/// Counts of what the console turned away, for tests and the log at stop.
#[derive(Debug, Default)]
pub struct Refusals {
    /// Connections from outside the allow-list.
    pub not_allowed: AtomicU64,
    /// Connections answered 503 (queue full).
    pub busy: AtomicU64,
    /// Requests refused as malformed, too large or too slow.
    pub bad_requests: AtomicU64,
}

struct Shared {
    auth: Auth,
    actions: Actions,
    status: Status,
    refusals: Arc<Refusals>,
}

/// A running console; stops on [`Console::stop`] or drop.
pub struct Console {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    refusals: Arc<Refusals>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Console {
    /// Listen on `cfg.listen` and serve, reaching the control loop through `admin` and reading
    /// the gateway's own state through `gateway`.
    ///
    /// # Errors
    ///
    /// See [`ConsoleError`].
    pub fn start(
        cfg: &config::Console,
        admin: admin::server::LocalClient,
        names: Box<dyn admin::names::Names + Send + Sync>,
        gateway: GatewaySource,
    ) -> Result<Self, ConsoleError> {
        let listener = TcpListener::bind(cfg.listen).map_err(|source| ConsoleError::Bind {
            addr: cfg.listen,
            source,
        })?;
        let addr = listener.local_addr().unwrap_or(cfg.listen);
        // Non-blocking accept, polled: the stop flag is seen without a wake-up connection.
        listener
            .set_nonblocking(true)
            .map_err(|source| ConsoleError::Bind { addr, source })?;
        let key = Auth::random_key().map_err(|e| ConsoleError::Start(e.to_string()))?;
        let refusals = Arc::new(Refusals::default());
        let shared = Arc::new(Shared {
            auth: Auth::new(cfg.users.clone(), key),
            actions: Actions::new(admin.clone(), names),
            status: Status::new(admin, gateway),
            refusals: refusals.clone(),
        });
        let (tx, rx) = crossbeam_channel::bounded::<(TcpStream, SocketAddr)>(QUEUE);
        for i in 0..HANDLERS {
            let (rx, shared) = (rx.clone(), shared.clone());
            std::thread::Builder::new()
                .name(format!("ferrovs-console{i}"))
                .spawn(move || handler_loop(&rx, &shared))
                .map_err(|e| ConsoleError::Start(e.to_string()))?;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (stop, allow, refusals) = (stop.clone(), cfg.allow.clone(), refusals.clone());
            std::thread::Builder::new()
                .name("ferrovs-console".into())
                .spawn(move || accept_loop(&listener, &allow, &tx, &stop, &refusals))
                .map_err(|e| ConsoleError::Start(e.to_string()))?
        };
        Ok(Self {
            addr,
            stop,
            accept: Some(accept),
            refusals,
        })
    }

    /// The address bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// What was turned away so far.
    pub fn refusals(&self) -> &Refusals {
        &self.refusals
    }

    /// Stop accepting and close the listener. Requests in progress finish on their own
    /// (each is bounded); their threads end when the queue is empty.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn accept_loop(
    listener: &TcpListener,
    allow: &[config::Prefix],
    tx: &Sender<(TcpStream, SocketAddr)>,
    stop: &AtomicBool,
    refusals: &Refusals,
) {
    while !stop.load(Ordering::Relaxed) {
        let (stream, peer) = match listener.accept() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            Err(_) => {
                // Out of descriptors and the like: transient; do not spin.
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let ip = peer.ip().to_canonical();
        if !allow.iter().any(|p| p.contains(ip)) {
            refusals.not_allowed.fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        }
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
        match tx.try_send((stream, peer)) {
            Ok(()) => {}
            Err(TrySendError::Full((mut s, _)) | TrySendError::Disconnected((mut s, _))) => {
                refusals.busy.fetch_add(1, Ordering::Relaxed);
                let _ = s.set_write_timeout(Some(Duration::from_millis(200)));
                Response::text(503, "the console is busy; try again")
                    .with("Retry-After", "1")
                    .write_to(&mut s);
            }
        }
    }
}

fn handler_loop(rx: &Receiver<(TcpStream, SocketAddr)>, shared: &Shared) {
    while let Ok((mut stream, peer)) = rx.recv() {
        let resp = match http::read_request(&mut stream, Instant::now() + http::REQUEST_DEADLINE) {
            Ok(req) => route(shared, &req, peer),
            Err(http::HttpError::Closed) => continue,
            Err(e) => {
                shared.refusals.bad_requests.fetch_add(1, Ordering::Relaxed);
                Response::text(e.status(), &e.to_string())
            }
        };
        resp.write_to(&mut stream);
    }
}

/// Answer one request.
fn route(shared: &Shared, req: &Request, peer: SocketAddr) -> Response {
    let get = req.method == "GET";
    let asset = |ct: &'static str, body: &'static str| Response::new(200, ct, body);
    match (req.path.as_str(), get) {
        ("/" | "/index.html", true) => asset("text/html; charset=utf-8", INDEX_HTML),
        ("/console.js", true) => asset("text/javascript; charset=utf-8", CONSOLE_JS),
        ("/console.css", true) => asset("text/css; charset=utf-8", CONSOLE_CSS),
        ("/api/status", true) => {
            let doc = shared.status.json(|| {
                serde_json::json!({
                    "actions": shared.auth.has_users(),
                    "taken_out": shared.actions.taken_out(),
                })
            });
            Response::new(200, http::JSON, doc.as_slice())
        }
        ("/api/session", true) => match shared.auth.user(req) {
            Ok(user) => Response::json(
                200,
                &serde_json::json!({ "user": user, "csrf": shared.auth.csrf_token(&user) }),
            ),
            Err(e) => unauthorized(req, &e.to_string()),
        },
        ("/api/action", _) if req.method == "POST" => action(shared, req, peer),
        ("/api/action", _) => Response::text(405, "method not allowed").with("Allow", "POST"),
        (
            "/" | "/index.html" | "/console.js" | "/console.css" | "/api/status" | "/api/session",
            false,
        ) => Response::text(405, "method not allowed").with("Allow", "GET"),
        _ => Response::text(404, "not found"),
    }
}

/// 401; the basic-auth challenge only for a browser's own navigation (the page's requests
/// say `X-Requested-With`, and a challenge would make the browser ask again in a dialog).
fn unauthorized(req: &Request, message: &str) -> Response {
    let r = Response::json(401, &serde_json::json!({ "ok": false, "message": message }));
    if req.header("x-requested-with").is_some() {
        r
    } else {
        r.with(
            "WWW-Authenticate",
            "Basic realm=\"ferrovs console\", charset=\"UTF-8\"",
        )
    }
}

fn action(shared: &Shared, req: &Request, peer: SocketAddr) -> Response {
    let refused = |status: u16, message: &str| {
        Response::json(
            status,
            &serde_json::json!({ "ok": false, "command": "", "message": message }),
        )
    };
    let user = match shared.auth.user(req) {
        Ok(u) => u,
        Err(e) => {
            // Failed logins are worth a line; requests without credentials are not (a
            // read-only visitor's, or a flood's).
            if matches!(e, auth::AuthError::Wrong | auth::AuthError::Malformed) {
                eprintln!("ferrovs: console: {peer}: action refused: {e}");
            }
            return unauthorized(req, &e.to_string());
        }
    };
    if let Err(e) = shared.auth.check_csrf(&user, req) {
        eprintln!("ferrovs: console: {user}@{peer}: action refused: {e}");
        return refused(403, &e.to_string());
    }
    let json = req
        .header("content-type")
        .is_some_and(|c| c.split(';').next().is_some_and(|t| t.trim() == http::JSON));
    if !json {
        return refused(415, "send the action as application/json");
    }
    let a: Action = match serde_json::from_slice(&req.body) {
        Ok(a) => a,
        Err(e) => return refused(400, &format!("malformed action: {e}")),
    };
    let outcome = shared.actions.run(&a);
    shared.status.invalidate();
    if outcome.ok {
        eprintln!("ferrovs: console: {user}@{peer}: {}: ok", outcome.command);
    } else {
        eprintln!(
            "ferrovs: console: {user}@{peer}: {}: refused: {}",
            if outcome.command.is_empty() {
                &a.action
            } else {
                &outcome.command
            },
            outcome.message
        );
    }
    let status = if outcome.ok { 200 } else { 422 };
    Response::new(
        status,
        http::JSON,
        serde_json::to_vec(&outcome).unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use admin::proto::{Op, Request as AdminRequest, Response as AdminResponse};
    use admin::server::AdminServer;
    use base64::Engine as _;
    use std::io::{Read, Write};

    /// `openssl passwd -5 -salt saltsalt secret`.
    const HASH: &str = "$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA";

    struct Fixture {
        console: Console,
        applied: std::sync::mpsc::Receiver<Vec<Op>>,
        _admin: AdminServer,
        _dir: tempfile::TempDir,
    }

    fn start(allow: &str) -> Fixture {
        let dir = tempfile::tempdir().expect("tmp");
        let admin = AdminServer::bind(dir.path().join("a.sock")).expect("bind");
        let rx = admin.requests().clone();
        let (tx, applied) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            while let Ok(p) = rx.recv() {
                let r = match p.request {
                    AdminRequest::Apply { ops } => {
                        let _ = tx.send(ops);
                        AdminResponse::Ok
                    }
                    _ => AdminResponse::error("not here"),
                };
                p.responder.respond(r);
            }
        });
        let cfg = config::Console {
            listen: "127.0.0.1:0".parse().expect("addr"),
            allow: vec![config::Prefix::parse(allow).expect("prefix")],
            users: vec![config::ConsoleUser::parse(&format!("admin:{HASH}")).expect("user")],
        };
        let console = Console::start(
            &cfg,
            admin.local_client(),
            Box::new(admin::names::NameTables::default()),
            Arc::new(status::Gateway::default),
        )
        .expect("start");
        Fixture {
            console,
            applied,
            _admin: admin,
            _dir: dir,
        }
    }

    fn exchange(addr: SocketAddr, raw: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        s.write_all(raw).expect("write");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }

    fn post(addr: SocketAddr, headers: &str, body: &str) -> String {
        post_as(addr, "application/json", headers, body)
    }

    fn post_as(addr: SocketAddr, ct: &str, headers: &str, body: &str) -> String {
        exchange(
            addr,
            format!(
                "POST /api/action HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {ct}\r\n{headers}Content-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
    }

    const WEIGHT: &str = r#"{"action":"weight","protocol":"tcp","service":"198.18.1.100:80","server":"198.18.1.11:80","weight":"5"}"#;

    #[test]
    fn test_pages_status_and_the_guards_on_actions() {
        let f = start("127.0.0.0/8");
        let addr = f.console.local_addr();
        let r = exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 200 "), "{r}");
        assert!(r.contains("<title>ferrovs console</title>"), "{r}");
        assert!(
            r.contains("Content-Security-Policy: default-src 'self'"),
            "{r}"
        );
        let r = exchange(addr, b"GET /console.js HTTP/1.1\r\n\r\n");
        assert!(
            r.contains("text/javascript") && r.contains("/api/status"),
            "{r}"
        );
        let r = exchange(addr, b"GET /api/status HTTP/1.1\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 200 "), "{r}");
        let body = r.split("\r\n\r\n").nth(1).expect("body");
        let v: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(v["console"]["actions"], true);
        assert_eq!(
            v["listing_error"], "not here",
            "the admin answer, passed on"
        );

        // No credentials: nothing changes.
        let r = post(addr, "", WEIGHT);
        assert!(r.starts_with("HTTP/1.1 401 "), "{r}");
        assert!(r.contains("WWW-Authenticate: Basic"), "{r}");
        let auth = format!(
            "Authorization: Basic {}\r\n",
            base64::engine::general_purpose::STANDARD.encode("admin:secret")
        );
        let wrong = format!(
            "Authorization: Basic {}\r\n",
            base64::engine::general_purpose::STANDARD.encode("admin:guess")
        );
        assert!(post(addr, &wrong, WEIGHT).starts_with("HTTP/1.1 401 "));
        // Credentials without the CSRF token, or from another origin: refused.
        let r = post(addr, &auth, WEIGHT);
        assert!(r.starts_with("HTTP/1.1 403 ") && r.contains("CSRF"), "{r}");
        assert!(f.applied.try_recv().is_err(), "nothing applied");

        let r = exchange(
            addr,
            format!("GET /api/session HTTP/1.1\r\n{auth}\r\n").as_bytes(),
        );
        assert!(r.starts_with("HTTP/1.1 200 "), "{r}");
        let v: serde_json::Value =
            serde_json::from_str(r.split("\r\n\r\n").nth(1).expect("body")).expect("json");
        let token = v["csrf"].as_str().expect("token").to_owned();
        assert_eq!(v["user"], "admin");
        let r = post(
            addr,
            &format!("{auth}X-CSRF-Token: {token}\r\nOrigin: http://evil.example\r\n"),
            WEIGHT,
        );
        assert!(
            r.starts_with("HTTP/1.1 403 ") && r.contains("Origin"),
            "{r}"
        );
        let r = post_as(
            addr,
            "text/plain",
            &format!("{auth}X-CSRF-Token: {token}\r\n"),
            WEIGHT,
        );
        assert!(r.starts_with("HTTP/1.1 415 "), "{r}");
        assert!(f.applied.try_recv().is_err(), "nothing applied");
        let r = post(addr, &format!("{auth}X-CSRF-Token: {token}\r\n"), "{nope");
        assert!(r.starts_with("HTTP/1.1 400 "), "{r}");

        // With both: applied, through the admin queue.
        let r = post(
            addr,
            &format!("{auth}X-CSRF-Token: {token}\r\nOrigin: http://{addr}\r\n"),
            WEIGHT,
        );
        assert!(r.starts_with("HTTP/1.1 200 "), "{r}");
        assert!(
            r.contains("ferrovsadm -e -t 198.18.1.100:80 -r 198.18.1.11:80 -w 5"),
            "{r}"
        );
        match &f.applied.try_recv().expect("applied")[..] {
            [Op::EditServer { server, .. }] => assert_eq!(server.weight, 5),
            other => panic!("{other:?}"),
        }

        // Wrong methods, unknown paths, oversized and garbage requests.
        assert!(exchange(addr, b"GET /api/action HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405 "));
        assert!(exchange(addr, b"PUT /api/action HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405 "));
        assert!(exchange(addr, b"DELETE / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405 "));
        assert!(exchange(addr, b"GET /etc/passwd HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 "));
        let mut big = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
        big.resize(http::MAX_HEAD * 2, b'a');
        assert!(exchange(addr, &big).starts_with("HTTP/1.1 431 "));
        assert!(exchange(addr, b"\x00\x01garbage\r\n\r\n").starts_with("HTTP/1.1 400 "));
        assert!(f.console.refusals().bad_requests.load(Ordering::Relaxed) >= 2);
        f.console.stop();
    }

    #[test]
    fn test_clients_outside_the_allow_list_get_nothing() {
        let f = start("10.0.0.0/8");
        let r = exchange(f.console.local_addr(), b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(r, "", "closed before anything is read");
        assert_eq!(f.console.refusals().not_allowed.load(Ordering::Relaxed), 1);
        let addr = f.console.local_addr();
        f.console.stop();
        assert!(
            TcpStream::connect(addr).is_err(),
            "listener closed after stop"
        );
    }
}
