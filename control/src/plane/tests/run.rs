//! The control loop: admin requests served from the socket, SIGHUP's flag reloads, punted
//! frames are handled as they come and held ones released when their neighbour is learned, and
//! the stop flag ends it.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use admin::proto::{Request, Response};
use admin::server::AdminServer;

use super::{arp, lock, tcp_syn, with_rs2, Dataplane, Fixture, MemFrame, Wire, CONFIG};
use super::{LAN_ADDR, MAC1, RS1, RS_MAC, VIP};
use crate::plane::{run, Limits, Sources};
use crate::topology::Ids;

/// Wait (bounded) until `cond` holds on the wire.
fn wait_for(wire: &Mutex<Wire>, what: &str, cond: impl Fn(&Wire) -> bool) {
    let start = Instant::now();
    while !cond(&lock(wire)) {
        assert!(start.elapsed() < Duration::from_secs(10), "{what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn test_loop_serves_admin_requests_reloads_on_the_flag_and_stops() {
    let mut f = Fixture::new(Dataplane::Running(1), Limits::default());
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("admin.sock");
    let server = AdminServer::bind(&socket).expect("bind");
    let sources = Sources {
        admin: server.requests().clone(),
        ..Sources::idle()
    };
    let (stop, reload) = (sources.stop.clone(), sources.reload.clone());
    let (path, wire) = (f.path.clone(), f.wire.clone());
    let client = std::thread::spawn(move || {
        let get = admin::client::request(&socket, &Request::GetConfig).expect("get config");
        std::fs::write(&path, with_rs2()).unwrap();
        let reloaded = admin::client::request(&socket, &Request::Reload).expect("reload");
        // SIGHUP's flag: the same file again, a new generation.
        reload.store(true, Ordering::Relaxed);
        wait_for(&wire, "no reload on the flag", |_| {
            !reload.load(Ordering::Relaxed)
        });
        let listing =
            admin::client::request(&socket, &Request::List(admin::proto::ListQuery::default()))
                .expect("list");
        stop.store(true, Ordering::Relaxed);
        (get, reloaded, listing)
    });
    run(&mut f.ctl, &sources);
    let (get, reloaded, listing) = client.join().expect("client");
    let Response::Config { toml } = get else {
        panic!("{get:?}")
    };
    assert_eq!(
        config::parse(&toml, "export.toml").unwrap().services[0]
            .real_servers
            .len(),
        1
    );
    // Generation 2 was the loop's first publish (health verdicts), 3 the admin reload.
    assert_eq!(reloaded, Response::Reloaded { generation: 3 });
    let Response::Listing(l) = listing else {
        panic!("{listing:?}")
    };
    assert_eq!(l.services[0].real_servers.len(), 2);
    // The flag's reload is done before the listing is served (same thread, in order).
    assert_eq!(f.ctl.generation(), 4);
    assert_eq!(f.shared.load().generation, 4);
    assert_eq!(f.reload_stats.status(4).reloads_total, 2);
}

#[test]
fn test_loop_holds_a_punted_frame_and_releases_it_when_the_neighbour_answers() {
    let mut f = Fixture::new(Dataplane::Running(1), Limits::default());
    let sources = Sources::idle();
    let stop = sources.stop.clone();
    let wire = f.wire.clone();
    let syn = tcp_syn(VIP);
    let syn2 = syn.clone();
    let driver = std::thread::spawn(move || {
        // At start the loop announces the VIP and asks for the real server.
        wait_for(&wire, "no ARP request for the real server", |w| {
            w.sent.iter().any(|(p, fr)| {
                *p == 1 && super::arp_fields(fr).is_some_and(|a| a.op == 1 && a.tpa == RS1)
            })
        });
        lock(&wire).punted.push(MemFrame::on(0, syn2));
        std::thread::sleep(Duration::from_millis(50));
        let early = lock(&wire).injected.len();
        lock(&wire)
            .punted
            .push(MemFrame::on(1, arp(2, RS_MAC, RS1, MAC1, LAN_ADDR)));
        wait_for(&wire, "the held frame was not released", |w| {
            !w.injected.is_empty()
        });
        stop.store(true, Ordering::Relaxed);
        early
    });
    run(&mut f.ctl, &sources);
    assert_eq!(
        driver.join().expect("driver"),
        0,
        "held until the neighbour"
    );
    assert_eq!(f.wire().injected, [(0, MemFrame::on(0, syn))]);
    assert_eq!(f.shared.load().neighbour(RS1.into()), Some(RS_MAC));
    assert_eq!(f.ctl.held_len(), 0);
}

#[test]
fn test_loop_stops_on_the_flag_while_idle() {
    let mut f = Fixture::new(Dataplane::Stuck(1), Limits::default());
    let sources = Sources::idle();
    let stop = Arc::clone(&sources.stop);
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        stop.store(true, Ordering::Relaxed);
    });
    let start = Instant::now();
    run(&mut f.ctl, &sources);
    t.join().unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn test_loop_publishes_a_health_verdict_as_it_arrives() {
    // The check passes until the test creates `down`, then fails once: down. The verdict comes
    // while the loop runs, so only the health arm can publish it.
    let dir = tempfile::tempdir().unwrap();
    let down = dir.path().join("down");
    let text = format!(
        "{CONFIG}[service.real_server.health_check]\ntype = \"command\"\n\
         command = \"test ! -e {}\"\nfall = 1\nretries = 0\ninterval = 1\ntimeout = 5\n",
        down.display()
    );
    let mut f = Fixture::build(
        &text,
        Dataplane::Running(1),
        Limits::default(),
        Ids::new(64, 256),
    );
    let available = |shared: &arc_swap::ArcSwap<dataplane::snapshot::Snapshot>| {
        shared
            .load()
            .backends
            .iter()
            .flatten()
            .map(|b| b.available)
            .collect::<Vec<_>>()
    };
    let sources = Sources::idle();
    let stop = sources.stop.clone();
    let (shared, wire) = (f.shared.clone(), f.wire.clone());
    let driver = std::thread::spawn(move || {
        // The loop runs once it announced the VIP; let a check pass first.
        wait_for(&wire, "the loop did not start", |w| !w.sent.is_empty());
        std::thread::sleep(Duration::from_millis(100));
        let before = available(&shared);
        std::fs::write(&down, "").unwrap();
        let start = Instant::now();
        while available(&shared) != [false] && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(5));
        }
        stop.store(true, Ordering::Relaxed);
        (before, available(&shared))
    });
    run(&mut f.ctl, &sources);
    let (before, after) = driver.join().unwrap();
    assert_eq!(before, [true], "up while the check passes");
    assert_eq!(after, [false], "the down verdict was published");
    let svc = &f.ctl.config().services[0];
    let h = admin::handler::AdminState::dest_health(&f.ctl, svc, &svc.real_servers[0])
        .expect("checked");
    assert_eq!(h.state, admin::proto::HealthState::Down);
}
