//! Director HA in the control plane: addresses not owned get no ARP answers and no
//! announcements, become owned (and announced) as the kernel reports them on a TAP, reach the
//! snapshot, the listing and the readiness check; the exception path carries what keepalived
//! speaks both ways.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::unbounded;

use super::{
    arp, arp_fields, lock, Dataplane, Fixture, MemFrame, CLIENT, CLIENT_MAC, LADDR, MAC0, VIP,
    WAN_ADDR,
};
use crate::ha::{Event, Garp, KernelAddr, Settings, Tap};
use crate::plane::admin::{Published, CONFIRM_GRACE};
use crate::plane::{run, HaFollow, Limits, Sources};

fn settings(repeat: u32) -> Settings {
    Settings {
        followed: vec![IpAddr::V4(VIP), IpAddr::V4(LADDR)],
        taps: vec![
            Tap {
                name: "wan0".into(),
                port: 0,
            },
            Tap {
                name: "lan0".into(),
                port: 1,
            },
        ],
        garp: Garp {
            repeat,
            delay: Duration::ZERO,
            refresh: Duration::ZERO,
        },
    }
}

fn on(ifname: &str, a: Ipv4Addr) -> KernelAddr {
    KernelAddr {
        ifname: ifname.into(),
        addr: IpAddr::V4(a),
    }
}

/// A fixture following HA from a channel it returns the sender of.
fn following(dataplane: Dataplane) -> (Fixture, crossbeam_channel::Sender<Event>) {
    let mut f = Fixture::new(dataplane, Limits::default());
    let (tx, rx) = unbounded();
    f.ctl.follow_ha(HaFollow::from_events(settings(3), rx));
    f.ctl.publish();
    (f, tx)
}

/// The ARP replies and gratuitous ARPs control sent, as (port, op, sender address).
fn arps_sent(f: &Fixture) -> Vec<(u8, u16, Ipv4Addr)> {
    f.wire()
        .sent
        .iter()
        .filter_map(|(p, fr)| arp_fields(fr).map(|a| (*p, a.op, a.spa)))
        .collect()
}

#[test]
fn test_an_address_not_owned_is_neither_answered_nor_announced() {
    let (mut f, _tx) = following(Dataplane::Stuck(1));
    let snap = f.shared.load_full();
    assert!(!snap.is_owned(IpAddr::V4(VIP)) && !snap.is_owned(IpAddr::V4(LADDR)));
    f.ctl.announce_all();
    assert!(arps_sent(&f).is_empty(), "no GARP for what the peer owns");
    let req = arp(1, CLIENT_MAC, CLIENT, [0; 6], VIP);
    f.ctl.punted(MemFrame::on(0, req), &snap, Instant::now());
    assert!(arps_sent(&f).is_empty(), "no answer for the VIP");
    // The box's own address is answered all the same.
    let req = arp(1, CLIENT_MAC, CLIENT, [0; 6], WAN_ADDR);
    f.ctl.punted(MemFrame::on(0, req), &snap, Instant::now());
    assert_eq!(arps_sent(&f), [(0, 2, WAN_ADDR)]);
}

#[test]
fn test_ownership_follows_the_kernel_and_announces_on_the_taps_port() {
    let (mut f, _tx) = following(Dataplane::Stuck(1));
    assert!(
        !f.ctl.ha_event(Event::Dump(vec![on("lo", VIP)])),
        "an address on another interface owns nothing"
    );
    assert!(f.ctl.ha_event(Event::Added(on("wan0", VIP))));
    f.ctl.publish();
    let snap = f.shared.load_full();
    assert!(snap.is_owned(IpAddr::V4(VIP)));
    assert!(!snap.is_owned(IpAddr::V4(LADDR)));
    f.ctl.ha_announce(Instant::now());
    assert_eq!(
        arps_sent(&f),
        [(0, 1, VIP), (0, 1, VIP), (0, 1, VIP)],
        "garp_repeat gratuitous ARPs on wan0, none on lan0"
    );
    f.wire().sent.clear();
    f.ctl
        .ha_announce(Instant::now() + Duration::from_secs(3600));
    assert!(arps_sent(&f).is_empty(), "no second burst, no refresh");
    let req = arp(1, CLIENT_MAC, CLIENT, [0; 6], VIP);
    f.ctl.punted(MemFrame::on(0, req), &snap, Instant::now());
    assert_eq!(arps_sent(&f), [(0, 2, VIP)], "answered while owned");

    // keepalived gives it up: no more answers.
    f.wire().sent.clear();
    assert!(f.ctl.ha_event(Event::Removed(on("wan0", VIP))));
    f.ctl.publish();
    let snap = f.shared.load_full();
    let req = arp(1, CLIENT_MAC, CLIENT, [0; 6], VIP);
    f.ctl.punted(MemFrame::on(0, req), &snap, Instant::now());
    assert!(arps_sent(&f).is_empty());

    let l = f.ctl.ha_listing();
    assert_eq!(l.addresses.len(), 2);
    assert!(l.synced && !l.addresses[0].owned && l.addresses[0].tap.is_none());
}

#[test]
fn test_readiness_needs_workers_polling_the_current_snapshot_and_ha_synced() {
    let mut f = Fixture::new(Dataplane::Stuck(1), Limits::default());
    f.ctl.publish();
    let e = f.ctl.readiness(Instant::now()).expect_err("a stuck worker");
    assert_eq!(
        e,
        "worker 0 runs configuration generation 0, control published 2"
    );

    let (mut f, tx) = following(Dataplane::Running(1));
    let t0 = Instant::now();
    f.ctl.sample_liveness(t0);
    let wait_ready = |f: &Fixture| {
        let start = Instant::now();
        loop {
            match f.ctl.readiness(Instant::now()) {
                Err(e) if e.contains("generation") && start.elapsed() < Duration::from_secs(5) => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                other => return other,
            }
        }
    };
    assert_eq!(
        wait_ready(&f),
        Err("the exception-path addresses are not read yet".into())
    );
    tx.send(Event::Dump(Vec::new())).unwrap();
    let ev = f.ctl.ha_events().recv().unwrap();
    f.ctl.ha_event(ev);
    let ok = wait_ready(&f).expect("ready");
    assert!(
        ok.contains("1 workers polling") && ok.contains("following 2 HA addresses"),
        "{ok}"
    );
}

/// A worker whose poll count does not move for `STALLED_AFTER` is not running; one whose count
/// moved since control's last sample is, however late control samples (a loaded machine holds
/// the control loop back too, and it answers the check before it samples again).
#[test]
fn test_readiness_counts_polls_since_the_last_sample_as_progress() {
    let f = &mut Fixture::new(Dataplane::Stuck(1), Limits::default());
    let worker = f.ctl.counters[0].clone();
    worker.generation.set(1);
    let t0 = Instant::now();
    f.ctl.sample_liveness(t0);
    let later = t0 + Duration::from_secs(6);
    assert_eq!(
        f.ctl.readiness(later),
        Err("worker 0 is not polling (no progress for 6 s)".into())
    );
    worker.idle_polls.inc();
    f.ctl
        .readiness(later)
        .expect("polled since the last sample");
}

/// An ownership change publishes a generation exactly when keepalived's check runs; on a loaded
/// machine the workers take it tens or hundreds of milliseconds later. A healthy gateway stays
/// ready meanwhile (the check used to fail after 50 ms, lowering the priority); a worker that
/// has not taken the generation after `CONFIRM_GRACE` is stuck and fails it.
#[test]
fn test_readiness_holds_while_a_generation_propagates_and_fails_past_the_grace() {
    let f = &mut Fixture::new(Dataplane::Stuck(2), Limits::default());
    let workers = f.ctl.counters.clone();
    // Both workers run the first snapshot; control publishes two more (an address went, and
    // its neighbour was learned), which the workers have not taken yet.
    for w in &workers {
        w.generation.set(1);
    }
    f.ctl.publish();
    f.ctl.publish();
    let t = Instant::now();
    let ok = f
        .ctl
        .readiness(t)
        .expect("ready while generation 3 is on its way");
    assert!(ok.contains("generation 1 everywhere, 3 on its way"), "{ok}");
    // One worker took it; the other still has not once the grace is over.
    workers[0].generation.set(3);
    let past = t + CONFIRM_GRACE;
    assert_eq!(
        f.ctl.readiness(past),
        Err("worker 1 runs configuration generation 1, control published 3".into())
    );
    workers[1].generation.set(3);
    let ok = f.ctl.readiness(past).expect("ready");
    assert!(
        ok.contains("generation 3 everywhere") && !ok.contains("on its way"),
        "{ok}"
    );

    // A worker that never ran (below the first snapshot) is not ready even within the grace.
    workers[1].generation.set(0);
    f.ctl.publish();
    assert_eq!(
        f.ctl.readiness(Instant::now()),
        Err("worker 1 runs configuration generation 0, control published 4".into())
    );
}

/// The publish history keeps only what `due` needs: the newest generation past the grace and
/// every later one.
#[test]
fn test_published_asks_for_the_newest_generation_past_the_grace() {
    let t0 = Instant::now();
    let s = Duration::from_secs(1);
    let mut p = Published::new(1, t0);
    assert_eq!(p.due(t0), 1);
    p.push(2, t0 + s);
    p.push(3, t0 + 2 * s);
    assert_eq!(p.due(t0 + 2 * s), 1);
    assert_eq!(p.due(t0 + 3 * s), 2);
    p.push(4, t0 + 5 * s);
    assert_eq!(p.recent.len(), 2, "{p:?}");
    assert_eq!(p.due(t0 + 5 * s), 3);
    assert_eq!(p.due(t0 + 7 * s), 4);
    assert_eq!(p.when(2), Some(t0 + 2 * s), "the first later one noted");
}

#[test]
fn test_the_loop_follows_events_and_announces() {
    let (mut f, tx) = following(Dataplane::Running(1));
    let sources = Sources::idle();
    let stop = sources.stop.clone();
    let wire = f.wire.clone();
    let shared = f.shared.clone();
    let driver = std::thread::spawn(move || {
        tx.send(Event::Dump(vec![on("lan0", LADDR)])).unwrap();
        let start = Instant::now();
        loop {
            let garps = lock(&wire)
                .sent
                .iter()
                .filter(|(p, fr)| {
                    *p == 1 && arp_fields(fr).is_some_and(|a| a.op == 1 && a.spa == LADDR)
                })
                .count();
            if garps == 3 && shared.load().is_owned(IpAddr::V4(LADDR)) {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "no announcement");
            std::thread::sleep(Duration::from_millis(5));
        }
        stop.store(true, Ordering::Relaxed);
    });
    run(&mut f.ctl, &sources);
    driver.join().expect("driver");
    assert!(!f.shared.load().is_owned(IpAddr::V4(VIP)));
}

#[test]
fn test_vrrp_and_kernel_announcements_cross_the_exception_path() {
    let mut f = Fixture::new(Dataplane::Stuck(1), Limits::default());
    f.ctl.io_mut().taps = vec![true, false];
    let snap = f.shared.load_full();
    // A VRRP advertisement (IP protocol 112) the worker punted: the kernel's.
    let mut vrrp = super::ping(Ipv4Addr::new(224, 0, 0, 18));
    vrrp[14 + 9] = 112;
    vrrp[14 + 10..14 + 12].copy_from_slice(&[0, 0]);
    let mut sum: u32 = vrrp[14..34]
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let c = !u16::try_from(sum).unwrap();
    vrrp[14 + 10..14 + 12].copy_from_slice(&c.to_be_bytes());
    f.ctl
        .punted(MemFrame::on(0, vrrp.clone()), &snap, Instant::now());
    assert_eq!(f.wire().to_kernel, [(0, vrrp.clone())]);
    // On a port without an exception path it is dropped and counted there.
    f.ctl.punted(MemFrame::on(1, vrrp), &snap, Instant::now());
    let counts = f.ctl.exception_counters();
    assert_eq!(counts[0].to_kernel.load(Ordering::Relaxed), 1);
    assert_eq!(counts[1].dropped_no_tap.load(Ordering::Relaxed), 1);
    // keepalived's gratuitous ARP (a request, or a reply with sender = target) leaves; the
    // kernel's solicited reply does not (control answered already).
    let garp_req = arp(1, MAC0, VIP, [0; 6], VIP);
    let garp_reply = arp(2, MAC0, VIP, [0xff; 6], VIP);
    let solicited = arp(2, MAC0, WAN_ADDR, CLIENT_MAC, CLIENT);
    f.wire().from_kernel = vec![
        (0, garp_req.clone()),
        (0, solicited),
        (0, garp_reply.clone()),
    ];
    let mut buf = Vec::new();
    f.ctl.poll_frames(&mut buf, Instant::now());
    assert_eq!(f.wire().sent, [(0, garp_req), (0, garp_reply)]);
    assert_eq!(counts[0].from_kernel.load(Ordering::Relaxed), 2);
    assert_eq!(
        counts[0]
            .dropped_duplicate_arp_reply
            .load(Ordering::Relaxed),
        1
    );
}
