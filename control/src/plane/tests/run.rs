//! The control loop: admin requests served from the socket, SIGHUP's flag reloads, punted
//! frames are handled as they come and held ones released when their neighbour is learned, and
//! the stop flag ends it.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use admin::proto::{Request, Response};
use admin::server::AdminServer;

use super::{arp, lock, tcp_syn, with_rs2, Dataplane, Fixture, MemFrame, Wire};
use super::{LAN_ADDR, MAC1, RS1, RS_MAC, VIP};
use crate::plane::{run, Limits, Sources};

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
