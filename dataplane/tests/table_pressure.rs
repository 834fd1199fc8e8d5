//! Table pressure (issue 17 item 3) through the worker: a full session table gives up half-open
//! sessions for new flows, counts each, and never an established one.

use std::net::IpAddr;
use testkit::packet::CLIENT_MAC;
use testkit::topology::{two_port_lan, GW0};

use dataplane::frame::VecFrame;
use dataplane::session::FwdMethod;
use dataplane::snapshot::{BackendSpec, ServiceSpec, Snapshot};
use dataplane::types::L4Proto;
use dataplane::wire::DropReason;
use dataplane::worker::{Verdict, Worker, WorkerConfig};
use etherparse::PacketBuilder;

const CAPACITY: usize = 256;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn snapshot() -> Snapshot {
    let mut b = two_port_lan(1);
    b.neighbour(ip("198.18.1.11"), [2, 0, 0, 0, 0, 0xa1]);
    let mut s = ServiceSpec::new(ip("198.18.0.100"), 80, L4Proto::Tcp);
    s.backends = vec![BackendSpec::new(ip("198.18.1.11"), 80, FwdMethod::Dr)];
    b.service(s);
    b.build()
}

/// A client segment to the VIP from 198.18.0.50:`sport`; `syn` or a bare ACK.
fn segment(sport: u16, syn: bool) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(CLIENT_MAC, GW0)
        .ipv4([198, 18, 0, 50], [198, 18, 0, 100], 64)
        .tcp(sport, 80, 1000, 65535);
    let b = if syn { b.syn() } else { b.ack(1) };
    let mut out = Vec::new();
    b.write(&mut out, &[]).unwrap();
    out
}

fn send(w: &mut Worker, snap: &Snapshot, frame: Vec<u8>) -> Verdict {
    let mut f = [VecFrame::new(&frame)];
    let mut v = [Verdict::Drop(DropReason::NotForUs)];
    w.process(snap, 1, 0, &mut f, &mut v);
    v[0]
}

#[test]
fn a_full_table_evicts_half_open_sessions_for_new_flows_and_keeps_established_ones() {
    let snap = snapshot();
    let cfg = WorkerConfig {
        sessions4: CAPACITY,
        ..WorkerConfig::default()
    };
    let mut w = Worker::new(cfg);
    // Fill the table: the first 32 connections complete their handshake (DR: the client's
    // ACK makes them ESTABLISHED), the rest stay half-open.
    for port in 0..CAPACITY as u16 {
        assert_eq!(
            send(&mut w, &snap, segment(10_000 + port, true)),
            Verdict::Tx(1)
        );
        if port < 32 {
            assert_eq!(
                send(&mut w, &snap, segment(10_000 + port, false)),
                Verdict::Tx(1)
            );
        }
    }
    assert_eq!(w.counters().sessions_evicted.get(), 0);
    // A flood of new SYNs: each one gets in, in place of a half-open session.
    let flood = 3 * CAPACITY as u16;
    for port in 0..flood {
        assert_eq!(
            send(&mut w, &snap, segment(30_000 + port, true)),
            Verdict::Tx(1)
        );
    }
    assert_eq!(w.counters().sessions_evicted.get(), u64::from(flood));
    assert_eq!(
        w.counters().drops[DropReason::SessionTableFull.index()].get(),
        0
    );
    // The established connections kept their sessions: a mid-flow ACK still finds its session
    // (a miss would be refused: DR without sloppy_tcp takes no non-SYN as a new flow).
    for port in 0..32 {
        assert_eq!(
            send(&mut w, &snap, segment(10_000 + port, false)),
            Verdict::Tx(1)
        );
    }
    assert_eq!(
        w.counters().drops[DropReason::NotSynForNewTcp.index()].get(),
        0
    );
    // The half-open ones from the first fill are gone: their ACK is a miss now.
    assert_eq!(
        send(&mut w, &snap, segment(10_000 + 100, false)),
        Verdict::Drop(DropReason::NotSynForNewTcp)
    );
}

#[test]
fn a_table_of_established_sessions_refuses_new_flows_and_counts_them() {
    let snap = snapshot();
    let cfg = WorkerConfig {
        sessions4: CAPACITY,
        ..WorkerConfig::default()
    };
    let mut w = Worker::new(cfg);
    for port in 0..CAPACITY as u16 {
        send(&mut w, &snap, segment(10_000 + port, true));
        send(&mut w, &snap, segment(10_000 + port, false));
    }
    assert_eq!(
        send(&mut w, &snap, segment(50_000, true)),
        Verdict::Drop(DropReason::SessionTableFull)
    );
    assert_eq!(w.counters().sessions_evicted.get(), 0);
    for port in 0..CAPACITY as u16 {
        assert_eq!(
            send(&mut w, &snap, segment(10_000 + port, false)),
            Verdict::Tx(1)
        );
    }
}
