//! The `/metrics` HTTP endpoint, on its own thread (tiny_http parses HTTP; nothing here does).
//!
//! [`MetricsServer::start`] binds the listen address, then returns at once: requests are
//! served by a thread of its own, which calls the gateway's `source` closure for each scrape.
//! The control loop never waits for a scrape, and a scrape never waits for the control loop
//! beyond what `source` itself reads (atomics, an `ArcSwap` load, a short status lock).
//!
//! Routes: `GET`/`HEAD /metrics` (any query string) answers 200 with the exposition
//! (`text/plain; version=0.0.4; charset=utf-8`), other methods on `/metrics` 405, every other path 404.
//! The response gets `ferrovs_scrape_duration_seconds` appended: what building it cost.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tiny_http::{Header, Method, Response, Server};

/// The content type of the Prometheus text format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What the endpoint calls to produce an exposition (usually: gather the registry of
/// [`expose::registry`](super::expose::registry) and [`encode`](super::expose::encode) it).
pub type Source = Arc<dyn Fn() -> String + Send + Sync>;

/// Errors of the metrics endpoint.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// Binding the listen address failed (in use, not an address of this host, not permitted).
    #[error("metrics: cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What tiny_http reported.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The OS refused to start the server thread.
    #[error("metrics: cannot start the server thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// A running `/metrics` endpoint. Stops (and joins its thread) on [`stop`](Self::stop) or drop.
pub struct MetricsServer {
    /// `None` once stopped.
    server: Option<Arc<Server>>,
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl MetricsServer {
    /// Listen on `listen` (port 0 picks a free port; see [`local_addr`](Self::local_addr)) and
    /// serve `source()` on `/metrics` from a new thread.
    ///
    /// # Errors
    /// [`MetricsError::Bind`] if the address cannot be bound, [`MetricsError::Thread`] if the
    /// thread cannot be spawned.
    pub fn start(listen: SocketAddr, source: Source) -> Result<Self, MetricsError> {
        let server = Server::http(listen).map_err(|source| MetricsError::Bind {
            addr: listen,
            source,
        })?;
        let addr = server.server_addr().to_ip().unwrap_or(listen);
        let server = Arc::new(server);
        let stopping = Arc::new(AtomicBool::new(false));
        let thread = {
            let (server, stopping) = (server.clone(), stopping.clone());
            std::thread::Builder::new()
                .name("ferrovs-metrics".into())
                .spawn(move || serve(&server, &stopping, &source))
                .map_err(MetricsError::Thread)?
        };
        Ok(Self {
            server: Some(server),
            addr,
            stopping,
            thread: Some(thread),
        })
    }

    /// Return the address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop serving: finish the request in progress, join the thread, and return once the
    /// listener is closed (so the address can be bound again at once, say after a reload).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let Some(server) = self.server.take() else {
            return;
        };
        self.stopping.store(true, Ordering::Relaxed);
        server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // Dropping the last `Arc<Server>` tells tiny_http's accept thread to close the
        // listener, but that thread is detached and closes it a moment later; wait for it
        // (bounded) so that `stop` means the port is free.
        drop(server);
        let probe = match self.addr.ip() {
            IpAddr::V4(a) if a.is_unspecified() => {
                SocketAddr::from((Ipv4Addr::LOCALHOST, self.addr.port()))
            }
            IpAddr::V6(a) if a.is_unspecified() => {
                SocketAddr::from((Ipv6Addr::LOCALHOST, self.addr.port()))
            }
            _ => self.addr,
        };
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline
            && TcpStream::connect_timeout(&probe, Duration::from_millis(100)).is_ok()
        {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn serve(server: &Server, stopping: &AtomicBool, source: &Source) {
    loop {
        let req = match server.recv() {
            Ok(r) => r,
            Err(e) => {
                if stopping.load(Ordering::Relaxed) {
                    return;
                }
                // An accept error (say, out of file descriptors) is transient; do not spin.
                eprintln!("ferrovs: metrics: {e}");
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let path = req.url().split('?').next().unwrap_or("");
        let resp = if path != "/metrics" {
            Response::from_string("not found; metrics are on /metrics\n").with_status_code(404)
        } else if !matches!(req.method(), Method::Get | Method::Head) {
            Response::from_string("method not allowed\n")
                .with_status_code(405)
                .with_header(header("Allow", "GET, HEAD"))
        } else {
            let t = Instant::now();
            let mut body = source();
            let cost = t.elapsed().as_secs_f64();
            body.push_str(
                "# HELP ferrovs_scrape_duration_seconds Time spent building this exposition.\n\
                 # TYPE ferrovs_scrape_duration_seconds gauge\n",
            );
            body.push_str(&format!("ferrovs_scrape_duration_seconds {cost}\n"));
            Response::from_string(body).with_header(header("Content-Type", CONTENT_TYPE))
        };
        // A client that went away is its own problem, not the server's.
        let _ = req.respond(resp);
        if stopping.load(Ordering::Relaxed) {
            return;
        }
    }
}

fn header(name: &str, value: &str) -> Header {
    // Both strings are ASCII constants, which `from_bytes` accepts.
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("ASCII header")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::sync::atomic::AtomicU64;

    fn get(addr: SocketAddr, req: &str) -> String {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read");
        out
    }

    #[test]
    fn test_serves_metrics_404_and_405_then_stops() {
        let calls = Arc::new(AtomicU64::new(0));
        let c = calls.clone();
        let source: Source = Arc::new(move || {
            let n = c.fetch_add(1, Ordering::Relaxed) + 1;
            format!(
                "# HELP ferrovs_x_total X.\n# TYPE ferrovs_x_total counter\nferrovs_x_total {n}\n"
            )
        });
        let srv = MetricsServer::start("127.0.0.1:0".parse().unwrap(), source).expect("start");
        let addr = srv.local_addr();
        assert_ne!(addr.port(), 0);

        let r = get(addr, "GET /metrics HTTP/1.0\r\n\r\n");
        assert!(
            r.starts_with("HTTP/1.1 200") || r.starts_with("HTTP/1.0 200"),
            "{r}"
        );
        assert!(
            r.to_ascii_lowercase()
                .contains("content-type: text/plain; version=0.0.4"),
            "{r}"
        );
        assert!(r.contains("ferrovs_x_total 1\n"), "{r}");
        assert!(r.contains("ferrovs_scrape_duration_seconds "), "{r}");

        let r = get(addr, "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
        assert!(r.contains("ferrovs_x_total 2\n"), "{r}");

        let r = get(addr, "GET / HTTP/1.0\r\n\r\n");
        assert!(r.contains(" 404 "), "{r}");
        let r = get(addr, "GET /metricsx HTTP/1.0\r\n\r\n");
        assert!(r.contains(" 404 "), "{r}");
        let r = get(addr, "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
        assert!(r.contains(" 405 "), "{r}");
        assert_eq!(calls.load(Ordering::Relaxed), 2, "404/405 do not render");

        let t = Instant::now();
        srv.stop();
        assert!(t.elapsed() < Duration::from_secs(2), "stop is prompt");
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err(),
            "listener closed after stop"
        );
    }

    #[test]
    fn test_stop_during_a_slow_scrape_is_prompt() {
        // A slow source blocks only the endpoint's thread; stopping waits for that one scrape
        // at most.
        let source: Source = Arc::new(|| {
            std::thread::sleep(Duration::from_millis(300));
            String::new()
        });
        let srv = MetricsServer::start("127.0.0.1:0".parse().unwrap(), source).expect("start");
        let addr = srv.local_addr();
        let h = std::thread::spawn(move || get(addr, "GET /metrics HTTP/1.0\r\n\r\n"));
        std::thread::sleep(Duration::from_millis(50));
        let t = Instant::now();
        drop(srv);
        assert!(t.elapsed() < Duration::from_secs(3));
        let _ = h.join();
    }

    #[test]
    fn test_bind_error_is_reported() {
        let srv = MetricsServer::start("127.0.0.1:0".parse().unwrap(), Arc::new(String::new))
            .expect("start");
        let again = MetricsServer::start(srv.local_addr(), Arc::new(String::new));
        assert!(matches!(again, Err(MetricsError::Bind { .. })), "{again:?}");
    }
}
