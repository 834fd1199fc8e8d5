//! The checker against real servers on 127.0.0.1: fall and rise timing, deduplication,
//! inhibit, reload, HTTP and command checks through the scheduler.

use super::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::AtomicU16;

/// Parse a configuration whose real servers are on 198.18.1.0/24 (real servers may not be
/// loopback addresses in a config file), then move them to 127.0.0.1, where the tests' servers
/// listen. `services` is the TOML of the `[[service]]` tables.
fn config(services: &str) -> Config {
    let text = format!(
        "[dpdk]\nlcores = \"0-1\"\nhugepages = false\n\n\
         [[port]]\nname = \"lan0\"\ndevice = \"net_null0\"\naddresses = [\"198.18.1.1/24\"]\n\n\
         {services}"
    );
    let mut cfg = config::parse(&text, "test.toml").expect("valid test config");
    for s in &mut cfg.services {
        for rs in &mut s.real_servers {
            rs.address = "127.0.0.1".parse().unwrap();
        }
    }
    cfg
}

fn service(vip: &str, check: &str, ports: &[u16]) -> String {
    let mut s = format!(
        "[[service]]\nvip = \"{vip}\"\nport = 80\nforward = \"nat\"\n  [service.health_check]\n{check}\n"
    );
    for (i, p) in ports.iter().enumerate() {
        s.push_str(&format!(
            "  [[service.real_server]]\n  address = \"198.18.1.{}\"\n  port = {p}\n",
            10 + i
        ));
    }
    s
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Wait up to `limit` for an event; return it with the time it took.
fn next_event(hc: &mut HealthChecker, limit: Duration) -> Option<(HealthEvent, Duration)> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if let Some(e) = hc.poll().into_iter().next() {
            return Some((e, t0.elapsed()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// Scheduling noise allowed on a loaded 2-core CI machine.
const SLACK: Duration = Duration::from_millis(600);

#[test]
fn test_tcp_check_falls_and_rises_within_bounds() {
    let (interval, timeout, fall, rise) = (1u32, 1u32, 2u32, 2u32);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let check = format!(
        "  type = \"tcp\"\n  interval = {interval}\n  timeout = {timeout}\n  retries = 0\n  fall = {fall}\n  rise = {rise}"
    );
    let cfg = config(&service("198.18.0.100", &check, &[port]));
    let mut hc = HealthChecker::start(&cfg);
    assert!(wait_until(Duration::from_secs(2), || hc.status()[0].checks >= 1));
    assert_eq!(hc.backend_health(0, 0), BackendHealth::Up);
    assert!(hc.poll().is_empty(), "no event while it stays up");

    // Kill the server.
    drop(l);
    let (ev, took) = next_event(&mut hc, Duration::from_secs(10)).expect("down event");
    let iv = Duration::from_secs(interval.into());
    assert!(!ev.up);
    assert_eq!((ev.service, ev.real_server, ev.port), (0, 0, port));
    assert!(ev.reason.contains("2 consecutive failed"), "{}", ev.reason);
    assert!(ev.reason.contains("refused"), "{}", ev.reason);
    assert!(took + SLACK >= iv * (fall - 1), "too early: {took:?}");
    assert!(
        took <= iv * fall + Duration::from_secs(timeout.into()) + SLACK,
        "too late: {took:?}"
    );
    assert_eq!(
        hc.backend_health(0, 0),
        BackendHealth::Down { inhibit: false }
    );

    // Restart it.
    let l = TcpListener::bind(("127.0.0.1", port)).expect("rebind the same port");
    let (ev, took) = next_event(&mut hc, Duration::from_secs(10)).expect("up event");
    assert!(ev.up, "{ev:?}");
    assert!(
        ev.reason.contains("2 consecutive successful"),
        "{}",
        ev.reason
    );
    assert!(took + SLACK >= iv * (rise - 1), "too early: {took:?}");
    assert!(took <= iv * rise + SLACK, "too late: {took:?}");
    assert_eq!(hc.backend_health(0, 0), BackendHealth::Up);

    let st = &hc.status()[0];
    assert_eq!((st.transitions_down, st.transitions_up), (1, 1));
    assert!(st.failures[FailureKind::Connect as usize] >= 2);
    assert!(st.latency.count >= 4, "every probe is timed");
    hc.stop();
    drop(l);
}

#[test]
fn test_checks_are_shared_and_inhibit_is_per_service() {
    let port = closed_port();
    let tcp = "  type = \"tcp\"\n  interval = 1\n  timeout = 1\n  retries = 0";
    let cfg = config(&format!(
        "{}{}{}",
        service("198.18.0.100", tcp, &[port]),
        service(
            "198.18.0.101",
            &format!("{tcp}\n  inhibit_on_failure = true"),
            &[port]
        ),
        service("198.18.0.102", "  type = \"none\"", &[port]),
    ));
    let mut hc = HealthChecker::start(&cfg);
    let st = hc.status();
    assert_eq!(
        st.len(),
        1,
        "one probe stream for one endpoint and definition"
    );
    assert_eq!(st[0].users.len(), 2);
    assert_eq!(st[0].check, "tcp");

    let mut events = Vec::new();
    assert!(wait_until(Duration::from_secs(5), || {
        events.extend(hc.poll());
        events.len() >= 2
    }));
    events.sort_by_key(|e| e.service);
    assert_eq!(
        events.iter().map(|e| (e.service, e.up)).collect::<Vec<_>>(),
        [(0, false), (1, false)]
    );
    assert!(!events[0].inhibit_on_failure && events[1].inhibit_on_failure);
    assert_eq!(
        hc.backend_health(0, 0),
        BackendHealth::Down { inhibit: false }
    );
    assert_eq!(
        hc.backend_health(1, 0),
        BackendHealth::Down { inhibit: true }
    );
    assert_eq!(hc.backend_health(2, 0), BackendHealth::Unchecked);
    assert_eq!(hc.backend_health(9, 9), BackendHealth::Unchecked);
    assert_eq!(hc.status()[0].transitions_down, 1, "counted once per check");
}

#[test]
fn test_reload_keeps_state_of_unchanged_checks_and_remaps_events() {
    let port = closed_port();
    let tcp = "  type = \"tcp\"\n  interval = 1\n  timeout = 1\n  retries = 0";
    let a = service("198.18.0.100", tcp, &[port]);
    let mut hc = HealthChecker::start(&config(&a));
    assert!(wait_until(Duration::from_secs(5), || {
        hc.backend_health(0, 0) != BackendHealth::Up
    }));

    // Reload: a new service goes first, so service A moves from index 0 to 1; its check is
    // unchanged. The down event not yet polled must come out with the new index.
    let b = service("198.18.0.99", "  type = \"none\"", &[port]);
    hc.update(&config(&format!("{b}{a}")));
    assert_eq!(
        hc.backend_health(1, 0),
        BackendHealth::Down { inhibit: false }
    );
    assert_eq!(hc.backend_health(0, 0), BackendHealth::Unchecked);
    let evs = hc.poll();
    assert_eq!(evs.len(), 1, "{evs:?}");
    assert_eq!((evs[0].service, evs[0].up), (1, false));
    assert_eq!(hc.status()[0].transitions_down, 1, "state kept");

    // Changing the definition (fall) makes a new check, which starts up.
    let a2 = service("198.18.0.100", &format!("{tcp}\n  fall = 3"), &[port]);
    hc.update(&config(&a2));
    assert_eq!(hc.backend_health(0, 0), BackendHealth::Up);
    let st = hc.status();
    assert_eq!(st.len(), 1, "the old check is gone");
    assert_eq!(st[0].transitions_down, 0);

    // Removing the server drops its pending events.
    let port2 = closed_port();
    let c = service("198.18.0.100", tcp, &[port2]);
    hc.update(&config(&c));
    assert!(wait_until(Duration::from_secs(5), || {
        hc.backend_health(0, 0) != BackendHealth::Up
    }));
    hc.update(&config(&service("198.18.0.100", tcp, &[port])));
    assert!(
        hc.poll().iter().all(|e| e.port == port),
        "events of a removed server are dropped"
    );
}

/// An HTTP server answering every request with the status in `status`, until dropped.
fn http_server(status: Arc<AtomicU16>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let code = status.load(Ordering::Relaxed);
            if code == 0 {
                return;
            }
            let mut b = [0u8; 1024];
            let _ = s.read(&mut b);
            let _ = write!(s, "HTTP/1.0 {code} X\r\nContent-Length: 2\r\n\r\nok");
        }
    });
    port
}

#[test]
fn test_http_check_goes_down_on_status_and_comes_back() {
    let status = Arc::new(AtomicU16::new(200));
    let port = http_server(status.clone());
    let check = "  type = \"http\"\n  path = \"/healthz\"\n  status = [200]\n  interval = 1\n  timeout = 1\n  retries = 0";
    let mut hc = HealthChecker::start(&config(&service("198.18.0.100", check, &[port])));
    assert_eq!(hc.status()[0].check, "http GET /healthz");
    assert!(wait_until(Duration::from_secs(3), || hc.status()[0].checks >= 1));
    assert_eq!(hc.backend_health(0, 0), BackendHealth::Up);
    status.store(500, Ordering::Relaxed);
    let (ev, _) = next_event(&mut hc, Duration::from_secs(5)).expect("down");
    assert!(!ev.up);
    assert!(
        ev.reason.contains("status 500, expected 200"),
        "{}",
        ev.reason
    );
    status.store(200, Ordering::Relaxed);
    let (ev, _) = next_event(&mut hc, Duration::from_secs(5)).expect("up");
    assert!(ev.up);
    assert!(hc.status()[0].failures[FailureKind::Status as usize] >= 1);
    status.store(0, Ordering::Relaxed);
}

#[test]
fn test_hanging_server_is_bounded_by_timeout_and_retries() {
    // Accepts (the kernel completes the handshake) but never answers.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (interval, timeout, retries) = (1u32, 1u32, 1u32);
    let check = format!(
        "  type = \"http\"\n  interval = {interval}\n  timeout = {timeout}\n  retries = {retries}"
    );
    let t0 = Instant::now();
    let mut hc = HealthChecker::start(&config(&service("198.18.0.100", &check, &[port])));
    let (ev, _) = next_event(&mut hc, Duration::from_secs(10)).expect("down");
    let took = t0.elapsed();
    assert!(!ev.up);
    assert!(ev.reason.contains("timed out"), "{}", ev.reason);
    // fall = 1: the first check fails after 1 + retries timeouts.
    let bound = Duration::from_secs(u64::from(timeout * (1 + retries)));
    assert!(took + SLACK >= bound, "retried: {took:?}");
    assert!(took <= bound + SLACK, "bounded: {took:?}");
    assert_eq!(
        hc.status()[0].failures[FailureKind::Timeout as usize],
        u64::from(1 + retries)
    );
    // Stopping does not wait for the probe in flight.
    let t = Instant::now();
    hc.stop();
    assert!(t.elapsed() < Duration::from_millis(500));
    drop(l);
}

#[test]
fn test_command_checks_report_their_reason() {
    let check = |cmd: &str| {
        format!("  type = \"command\"\n  command = \"{cmd}\"\n  interval = 1\n  timeout = 1\n  retries = 0")
    };
    let cfg = config(&format!(
        "{}{}{}",
        service("198.18.0.100", &check("exit 0"), &[80]),
        service("198.18.0.101", &check("/nonexistent/check-it"), &[80]),
        service("198.18.0.102", &check("sleep 5"), &[80]),
    ));
    let mut hc = HealthChecker::start(&cfg);
    let mut events = Vec::new();
    assert!(wait_until(Duration::from_secs(5), || {
        events.extend(hc.poll());
        events.len() >= 2
    }));
    events.sort_by_key(|e| e.service);
    assert_eq!(events[0].service, 1);
    assert!(
        events[0].reason.contains("command not found"),
        "{}",
        events[0].reason
    );
    assert_eq!(events[1].service, 2);
    assert!(events[1].reason.contains("killed"), "{}", events[1].reason);
    assert_eq!(hc.backend_health(0, 0), BackendHealth::Up);
}

#[test]
fn test_target_from_config() {
    let cfg = config(&service(
        "198.18.0.100",
        "  type = \"http\"\n  port = 8081\n  digest = \"0123456789abcdef0123456789ABCDEF\"",
        &[8080],
    ));
    let t = Target::of(&cfg.services[0], &cfg.services[0].real_servers[0]).unwrap();
    assert_eq!(t.port, 8081, "connect port overrides the real server's");
    assert_eq!(t.interval, Duration::from_secs(5));
    let Probe::Http(h) = &t.probe else {
        panic!("{t:?}")
    };
    assert_eq!(h.host, "127.0.0.1:8081");
    assert_eq!(h.path, "/");
    assert_eq!(h.status, [200]);
    assert_eq!(
        h.digest.as_deref(),
        Some("0123456789abcdef0123456789abcdef")
    );
    assert_eq!(
        default_host("2001:db8::1".parse().unwrap(), 80),
        "[2001:db8::1]"
    );
}
