//! ECMP announcements in the control plane: the VIP follows its real servers' weights through
//! commits, `--drain` / `--undrain` withdraw and announce, SIGTERM's drained stop withdraws,
//! forwards for the drain time and then ends the loop. The route table itself is tested
//! against a kernel in `control/tests/announce_table.rs`; here the decisions only.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{Dataplane, Fixture, VIP};
use crate::announce::{Settings, Timing};
use crate::plane::{run, AnnounceFollow, Limits, Sources};

fn settings(drain: Duration) -> Settings {
    Settings {
        table: 100,
        vips: vec![(IpAddr::V4(VIP), Some("wan0".into()))],
        timing: Timing::default(),
        drain,
        bird_socket: "/nonexistent/bird.ctl".into(),
    }
}

fn announced(f: &Fixture) -> Vec<IpAddr> {
    f.ctl
        .announce_listing()
        .expect("[announce]")
        .vips
        .iter()
        .filter(|v| v.announced)
        .map(|v| v.vip)
        .collect()
}

#[test]
fn test_the_vip_follows_its_real_servers_weights_and_the_drain() {
    let mut f = Fixture::new(Dataplane::Running(1), Limits::default());
    assert!(f.ctl.set_drained(true).is_err(), "no [announce] yet");
    f.ctl
        .follow_announce(AnnounceFollow::without_kernel(settings(Duration::ZERO)));
    // The real server has no health check: unchecked counts as up.
    assert_eq!(announced(&f), [IpAddr::V4(VIP)]);

    let mut zero = f.ctl.config().clone();
    zero.services[0].real_servers[0].weight = 0;
    f.ctl.commit(zero).expect("commit");
    assert!(announced(&f).is_empty(), "weight 0: withdrawn");
    let l = f.ctl.announce_listing().expect("listing");
    assert_eq!(l.vips[0].why, "none of 1 real servers up with weight > 0");
    assert_eq!(l.vips[0].transitions, 2);

    let mut back = f.ctl.config().clone();
    back.services[0].real_servers[0].weight = 3;
    f.ctl.commit(back).expect("commit");
    assert_eq!(announced(&f), [IpAddr::V4(VIP)]);

    let l = f.ctl.set_drained(true).expect("drain");
    assert!(l.drained && l.vips.iter().all(|v| !v.announced));
    let l = f.ctl.set_drained(false).expect("undrain");
    assert!(!l.drained && l.vips[0].announced);
    assert_eq!(l.table, 100);
    assert_eq!(l.vips[0].device.as_deref(), Some("wan0"));
}

#[test]
fn test_sigterm_withdraws_forwards_for_the_drain_time_then_stops() {
    let mut f = Fixture::new(Dataplane::Running(1), Limits::default());
    let drain = Duration::from_millis(300);
    f.ctl
        .follow_announce(AnnounceFollow::without_kernel(settings(drain)));
    let sources = Sources::idle();
    sources.drain.store(true, Ordering::Relaxed);
    let start = Instant::now();
    run(&mut f.ctl, &sources);
    let took = start.elapsed();
    assert!(
        took >= drain,
        "stopped after {took:?}, before the drain time"
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(
        sources.stop.load(Ordering::Relaxed),
        "the workers' stop flag is set"
    );
    let l = f.ctl.announce_listing().expect("listing");
    assert!(l.drained && l.vips.iter().all(|v| !v.announced));
    assert!(
        f.ctl.set_drained(false).is_err(),
        "a stopping gateway stays drained"
    );
}

#[test]
fn test_sigterm_without_announce_stops_at_once() {
    let mut f = Fixture::new(Dataplane::Running(1), Limits::default());
    let sources = Sources::idle();
    sources.drain.store(true, Ordering::Relaxed);
    let start = Instant::now();
    run(&mut f.ctl, &sources);
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(sources.stop.load(Ordering::Relaxed));
}

#[test]
fn test_a_second_sigterm_stops_at_once() {
    let mut f = Fixture::new(Dataplane::Running(1), Limits::default());
    f.ctl
        .follow_announce(AnnounceFollow::without_kernel(settings(
            Duration::from_secs(60),
        )));
    let now = Instant::now();
    assert_eq!(f.ctl.begin_stop(now), now + Duration::from_secs(60));
    let l = f.ctl.announce_listing().expect("listing");
    assert!(l.stopping_in_s.is_some_and(|s| s > 50), "{l:?}");
    let later = now + Duration::from_secs(1);
    assert_eq!(f.ctl.begin_stop(later), later, "the second one: now");
}
