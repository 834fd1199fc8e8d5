//! Admission control through the pipeline (issue 17): client lists, the connection cap and
//! the new-connection rate refuse new flows with their own drop reasons, and never touch a
//! packet of an established session.

use testkit::packet::{ip, tcp, ACK, CLIENT_MAC, RST, SYN};
use testkit::topology::{two_port_lan, GW0, GW1};

use std::net::IpAddr;

use dataplane::admission::{ClientLists, Rate, ServiceLimits};
use dataplane::frame::{Frame, VecFrame};
use dataplane::sched::SchedulerKind;
use dataplane::session::FwdMethod;
use dataplane::snapshot::{BackendSpec, Route, ServiceSpec, Snapshot};
use dataplane::types::{BackendIdx, L4Proto, ServiceIdx};
use dataplane::wire::DropReason;
use dataplane::worker::{Verdict, Worker, WorkerConfig};

const RS_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0xa1];
const FROM_CLIENT: ([u8; 6], [u8; 6]) = (CLIENT_MAC, GW0);
const FROM_RS: ([u8; 6], [u8; 6]) = (RS_MAC, GW1);
const VIP: &str = "198.18.0.100";
const CLIENT: &str = "198.18.0.50";
const RS: &str = "198.18.1.11";

fn pfx(s: &str) -> (IpAddr, u8) {
    let (a, l) = s.split_once('/').unwrap();
    (ip(a), l.parse().unwrap())
}

/// A NAT TCP service `VIP:80` over `RS:8080` with `limits`, the gateway's lists `global`.
fn snapshot(generation: u64, limits: ServiceLimits, global: ClientLists) -> Snapshot {
    let mut b = two_port_lan(generation);
    b.route(Route {
        prefix: ip("198.18.0.0"),
        len: 24,
        port: 0,
        via: None,
    });
    b.neighbour(ip(RS), RS_MAC);
    let mut s = ServiceSpec::new(ip(VIP), 80, L4Proto::Tcp);
    s.id = Some(ServiceIdx::new(0));
    s.scheduler = SchedulerKind::Rr;
    let mut rs = BackendSpec::new(ip(RS), 8080, FwdMethod::Nat);
    rs.id = Some(BackendIdx::new(0));
    s.backends.push(rs);
    s.limits = limits;
    b.service(s);
    b.clients(global);
    b.build()
}

fn run(w: &mut Worker, snap: &Snapshot, now: u32, in_port: u8, frame: Vec<u8>) -> Verdict {
    let mut f = [VecFrame::new(&frame)];
    let mut v = [Verdict::Drop(DropReason::NotForUs)];
    w.process(snap, now, in_port, &mut f, &mut v);
    let _ = f[0].data();
    v[0]
}

fn syn(w: &mut Worker, snap: &Snapshot, now: u32, sport: u16) -> Verdict {
    run(
        w,
        snap,
        now,
        0,
        tcp(FROM_CLIENT, ip(CLIENT), ip(VIP), sport, 80, SYN, b""),
    )
}

/// SYN, SYN-ACK, ACK from `CLIENT:sport`.
fn connect(w: &mut Worker, snap: &Snapshot, now: u32, sport: u16) {
    assert_eq!(syn(w, snap, now, sport), Verdict::Tx(1));
    let sa = tcp(FROM_RS, ip(RS), ip(CLIENT), 8080, sport, SYN | ACK, b"");
    assert_eq!(run(w, snap, now, 1, sa), Verdict::Tx(0));
    let ack = tcp(FROM_CLIENT, ip(CLIENT), ip(VIP), sport, 80, ACK, b"");
    assert_eq!(run(w, snap, now, 0, ack), Verdict::Tx(1));
}

fn dropped(w: &Worker, r: DropReason) -> u64 {
    w.counters().drops[r.index()].get()
}

#[test]
fn lists_refuse_new_flows_not_established_ones() {
    let mut w = Worker::new(WorkerConfig::default());
    let open = snapshot(1, ServiceLimits::default(), ClientLists::default());
    connect(&mut w, &open, 1, 40000);
    // The gateway denies the client's /24: new flows refused, the session goes on.
    let denied = snapshot(
        2,
        ServiceLimits::default(),
        ClientLists::new(&[], &[pfx("198.18.0.0/24")]),
    );
    assert_eq!(
        syn(&mut w, &denied, 2, 40001),
        Verdict::Drop(DropReason::ClientDenied)
    );
    let ack = tcp(FROM_CLIENT, ip(CLIENT), ip(VIP), 40000, 80, ACK, b"data");
    assert_eq!(run(&mut w, &denied, 2, 0, ack), Verdict::Tx(1));
    assert_eq!(dropped(&w, DropReason::ClientDenied), 1);
    // A longer allow prefix inside the denied one admits the client.
    let hole = ClientLists::new(&[pfx("198.18.0.50/32")], &[pfx("198.18.0.0/24")]);
    let s = snapshot(3, ServiceLimits::default(), hole);
    assert_eq!(syn(&mut w, &s, 3, 40002), Verdict::Tx(1));
    // The service's allow list does not cover the client.
    let limits = ServiceLimits {
        clients: ClientLists::new(&[pfx("198.18.2.0/24"), pfx("2001:2::/48")], &[]),
        ..ServiceLimits::default()
    };
    let s = snapshot(4, limits, ClientLists::default());
    assert_eq!(
        syn(&mut w, &s, 4, 40003),
        Verdict::Drop(DropReason::ClientNotAllowed)
    );
    assert_eq!(dropped(&w, DropReason::ClientNotAllowed), 1);
}

#[test]
fn cap_counts_the_services_connections_until_they_expire() {
    let mut w = Worker::new(WorkerConfig::default());
    let limits = ServiceLimits {
        max_conns: 2,
        ..ServiceLimits::default()
    };
    let s = snapshot(1, limits, ClientLists::default());
    connect(&mut w, &s, 1, 40000);
    connect(&mut w, &s, 1, 40001);
    assert_eq!(
        syn(&mut w, &s, 1, 40002),
        Verdict::Drop(DropReason::ConnLimit)
    );
    assert_eq!(
        syn(&mut w, &s, 1, 40003),
        Verdict::Drop(DropReason::ConnLimit)
    );
    assert_eq!(dropped(&w, DropReason::ConnLimit), 2);
    // One ends with a reset: CLOSE still counts (InActConn, as IPVS) until it expires (10 s).
    let rst = tcp(FROM_CLIENT, ip(CLIENT), ip(VIP), 40000, 80, RST | ACK, b"");
    assert_eq!(run(&mut w, &s, 2, 0, rst), Verdict::Tx(1));
    assert_eq!(
        syn(&mut w, &s, 2, 40004),
        Verdict::Drop(DropReason::ConnLimit)
    );
    for now in 3..=15 {
        w.tick(now);
    }
    assert_eq!(syn(&mut w, &s, 15, 40005), Verdict::Tx(1));
    assert_eq!(
        syn(&mut w, &s, 15, 40006),
        Verdict::Drop(DropReason::ConnLimit)
    );
}

#[test]
fn rate_refuses_a_burst_above_it_and_refills() {
    let mut w = Worker::new(WorkerConfig::default());
    let limits = ServiceLimits {
        new_conns: Some(Rate {
            per_s: 10,
            burst: 5,
        }),
        ..ServiceLimits::default()
    };
    let s = snapshot(1, limits.clone(), ClientLists::default());
    let ok = |v: &Verdict| *v == Verdict::Tx(1);
    let first: Vec<Verdict> = (0..20).map(|i| syn(&mut w, &s, 1, 40000 + i)).collect();
    assert_eq!(first.iter().filter(|v| ok(v)).count(), 5, "{first:?}");
    assert_eq!(dropped(&w, DropReason::NewConnRateLimit), 15);
    // A retransmitted SYN of an admitted flow is its session's: not limited.
    assert!(ok(&syn(&mut w, &s, 1, 40000)));
    // A second later the bucket holds its burst again, no more.
    let later = (100..120)
        .filter(|&i| ok(&syn(&mut w, &s, 2, 40000 + i)))
        .count();
    assert_eq!(later, 5);
    // A reload with the same rate keeps the bucket (empty now); another rate starts afresh.
    let same = snapshot(2, limits, ClientLists::default());
    assert_eq!(
        syn(&mut w, &same, 2, 41000),
        Verdict::Drop(DropReason::NewConnRateLimit)
    );
    let more = ServiceLimits {
        new_conns: Some(Rate {
            per_s: 10,
            burst: 8,
        }),
        ..ServiceLimits::default()
    };
    let other = snapshot(3, more, ClientLists::default());
    let n = (0..20)
        .filter(|&i| ok(&syn(&mut w, &other, 2, 42000 + i)))
        .count();
    assert_eq!(n, 8);
}

/// The gateway's own ICMP errors (TUN's fragmentation needed) within `icmp_errors`: over the
/// rate the packet is dropped as `icmp_rate_limit`; without a rate every one is answered.
#[test]
fn icmp_errors_are_rate_limited() {
    use testkit::packet::FROM_CLIENT as FROM_CLIENT0;
    let client = ip("203.0.113.9");
    let vip = ip("198.18.0.102");
    let send = |w: &mut Worker, snap: &Snapshot, now: u32, flags: u8, payload: &[u8]| {
        run(
            w,
            snap,
            now,
            0,
            tcp(FROM_CLIENT0, client, vip, 40000, 80, flags, payload),
        )
    };
    let big = [0x5a; 1460];
    for limited in [true, false] {
        let mut snap = dataplane::fuzzing::snapshot();
        snap.icmp_errors = limited.then_some(Rate { per_s: 1, burst: 2 });
        let mut w = Worker::new(WorkerConfig::default());
        assert_eq!(send(&mut w, &snap, 1, SYN, b""), Verdict::Tx(1));
        let v: Vec<Verdict> = (0..5).map(|_| send(&mut w, &snap, 1, ACK, &big)).collect();
        let sent = v.iter().filter(|v| **v == Verdict::Tx(0)).count();
        if limited {
            assert_eq!(sent, 2, "the burst: {v:?}");
            assert_eq!(dropped(&w, DropReason::IcmpRateLimit), 3);
            // A second later, one more.
            assert_eq!(send(&mut w, &snap, 2, ACK, &big), Verdict::Tx(0));
            assert_eq!(
                send(&mut w, &snap, 2, ACK, &big),
                Verdict::Drop(DropReason::IcmpRateLimit)
            );
            assert_eq!(w.counters().icmp_frag_needed_sent.get(), 3);
        } else {
            assert_eq!(sent, 5, "no limit: {v:?}");
            assert_eq!(dropped(&w, DropReason::IcmpRateLimit), 0);
        }
    }
}
