//! Frames whose next hop is unresolved wait in control: released through the pipeline once the
//! neighbour is learned, dropped after the timeout, and never more than the bound.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::{arp, tcp_syn, Dataplane, Fixture, MemFrame, LAN_ADDR, MAC1, RS1, RS_MAC, VIP};
use crate::plane::Limits;

#[test]
fn test_held_frame_is_released_once_the_neighbour_is_learned() {
    let mut f = Fixture::new(Dataplane::Running(1), Limits::default());
    let syn = tcp_syn(VIP);
    f.wire().punted.push(MemFrame::on(0, syn.clone()));
    let mut buf = Vec::new();
    let now = Instant::now();
    let (busy, learned) = f.ctl.poll_frames(&mut buf, now);
    assert!(busy && !learned);
    assert_eq!(f.ctl.held_len(), 1, "held, not dropped, not injected");
    assert!(f.wire().injected.is_empty());

    // The real server answers control's ARP request: learned, the table changed.
    f.wire()
        .punted
        .push(MemFrame::on(1, arp(2, RS_MAC, RS1, MAC1, LAN_ADDR)));
    let (_, learned) = f.ctl.poll_frames(&mut buf, now);
    assert!(learned);
    assert_eq!(
        f.ctl
            .neighbours()
            .get(&IpAddr::V4(RS1))
            .map(|e| (e.mac, e.port)),
        Some((RS_MAC, 1))
    );
    f.ctl.publish();
    assert_eq!(f.shared.load().neighbour(IpAddr::V4(RS1)), Some(RS_MAC));
    f.ctl.release_held();
    assert_eq!(f.ctl.held_len(), 0);
    assert_eq!(f.wire().injected, [(0, MemFrame::on(0, syn))]);
    let s = f.ctl.stats();
    assert_eq!((s.held, s.injected, s.held_timeout), (1, 1, 0));
}

#[test]
fn test_held_frames_time_out() {
    let limits = Limits::default();
    let mut f = Fixture::new(Dataplane::Stuck(1), limits);
    let t0 = Instant::now();
    let snap = f.shared.load_full();
    assert!(!f.ctl.punted(MemFrame::on(0, tcp_syn(VIP)), &snap, t0));
    let t1 = t0 + Duration::from_secs(1);
    assert!(!f.ctl.punted(MemFrame::on(0, tcp_syn(VIP)), &snap, t1));
    f.ctl
        .expire_held(t0 + limits.held_for - Duration::from_millis(1));
    assert_eq!(f.ctl.held_len(), 2, "none waited long enough yet");
    f.ctl.expire_held(t0 + limits.held_for);
    assert_eq!(f.ctl.held_len(), 1, "the first one timed out");
    f.ctl.expire_held(t1 + limits.held_for);
    assert_eq!(f.ctl.held_len(), 0);
    assert_eq!(f.ctl.stats().held_timeout, 2);
    f.ctl.release_held();
    assert!(f.wire().injected.is_empty(), "nothing left to release");
}

#[test]
fn test_held_frames_are_bounded_oldest_dropped_first() {
    let limits = Limits {
        held_max: 4,
        ..Limits::default()
    };
    let mut f = Fixture::new(Dataplane::Stuck(1), limits);
    let snap = f.shared.load_full();
    let now = Instant::now();
    for i in 0..6u8 {
        let mut syn = tcp_syn(VIP);
        let n = syn.len();
        syn[n - 1] = i; // tell them apart (the TCP urgent pointer's low byte)
        f.ctl.punted(MemFrame::on(0, syn), &snap, now);
    }
    assert_eq!(f.ctl.held_len(), 4);
    let s = f.ctl.stats();
    assert_eq!((s.held, s.held_overflow), (6, 2));
    f.ctl.release_held();
    let kept: Vec<u8> = f
        .wire()
        .injected
        .iter()
        .map(|(_, m)| *m.data.last().unwrap())
        .collect();
    assert_eq!(kept, [2, 3, 4, 5], "the two oldest went");
}

#[test]
fn test_inject_spreads_by_rss_hash_and_counts_what_a_ring_refuses() {
    let mut f = Fixture::new(Dataplane::Stuck(2), Limits::default());
    let mut frames: Vec<MemFrame> = (0..5u32)
        .map(|rss| MemFrame {
            data: vec![u8::try_from(rss).unwrap()],
            port: 0,
            rss,
        })
        .collect();
    f.wire().inject_room = Some(4);
    f.ctl.inject(&mut frames);
    assert!(frames.is_empty());
    let got: Vec<(usize, u32)> = f.wire().injected.iter().map(|(w, m)| (*w, m.rss)).collect();
    assert_eq!(got, [(0, 0), (0, 2), (0, 4), (1, 1)]);
    let s = f.ctl.stats();
    assert_eq!((s.injected, s.inject_dropped), (4, 1));
    // The metrics endpoint reads the same counts.
    let row = f.ctl.inject_counters().row();
    assert_eq!((row.injected, row.dropped), (4, 1));
}
