//! Several workers sharing one snapshot, with frames delivered to whatever worker "RSS" picks
//! and redirected as the pipeline says: the gateway as a whole must schedule like one IPVS
//! (exact `rr`/`wrr` rotation, `-p` stickiness) whichever worker a packet lands on.

use std::net::IpAddr;
use testkit::packet::CLIENT_MAC;
use testkit::topology::{two_port_lan, GW0};

use dataplane::frame::{Frame, VecFrame};
use dataplane::sched::SchedulerKind;
use dataplane::session::FwdMethod;
use dataplane::snapshot::{BackendSpec, Persistence, ServiceSpec, Snapshot};
use dataplane::types::L4Proto;
use dataplane::wire::DropReason;
use dataplane::worker::{Verdict, Worker, WorkerConfig};
use etherparse::PacketBuilder;

const VIP: [u8; 4] = [198, 18, 0, 100];

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Backend `i` (1-based): 198.18.1.1i with MAC 02:..:a<i>.
fn rs_mac(i: u8) -> [u8; 6] {
    [2, 0, 0, 0, 0, 0xa0 + i]
}

fn snapshot(
    method: FwdMethod,
    kind: SchedulerKind,
    weights: &[u32],
    persist: Option<u8>,
) -> Snapshot {
    let mut b = two_port_lan(1);
    let mut s = ServiceSpec::new(IpAddr::from(VIP), 80, L4Proto::Tcp);
    s.scheduler = kind;
    s.persistence = persist.map(|prefix_len| Persistence {
        timeout_s: 300,
        prefix_len,
    });
    if method == FwdMethod::FullNat {
        s.laddrs = vec![ip("198.18.1.200"), ip("198.18.1.201")];
    }
    for (i, &w) in weights.iter().enumerate() {
        let n = u8::try_from(i + 1).unwrap();
        let addr = IpAddr::from([198, 18, 1, 10 + n]);
        b.neighbour(addr, rs_mac(n));
        let port = if method == FwdMethod::Dr || method == FwdMethod::Tun {
            80
        } else {
            8080
        };
        let mut be = BackendSpec::new(addr, port, method);
        be.weight = w;
        s.backends.push(be);
    }
    b.service(s);
    b.build()
}

fn workers(n: u16) -> Vec<Worker> {
    (0..n)
        .map(|id| {
            Worker::new(WorkerConfig {
                id,
                workers: n,
                ..WorkerConfig::default()
            })
        })
        .collect()
}

fn tcp(client: [u8; 4], cport: u16, syn: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let b = PacketBuilder::ethernet2(CLIENT_MAC, GW0)
        .ipv4(client, VIP, 64)
        .tcp(cport, 80, 1000, 65535);
    let b = if syn { b.syn() } else { b.ack(1) };
    b.write(&mut out, &[]).unwrap();
    out
}

/// Deliver `frame` to worker `first` and follow redirects; return the backend it was sent to
/// (by destination MAC) and how many redirects it took.
fn deliver(ws: &mut [Worker], snap: &Snapshot, first: usize, frame: &[u8]) -> (u8, u32) {
    let mut at = first;
    let mut data = frame.to_vec();
    for hops in 0..4 {
        let mut f = [VecFrame::new(&data)];
        let mut v = [Verdict::Drop(DropReason::NotForUs)];
        ws[at].process(snap, 1, 0, &mut f, &mut v);
        match v[0] {
            Verdict::Redirect(o) => {
                at = usize::from(o);
                data = f[0].data().to_vec();
            }
            Verdict::Tx(1) => {
                let mac = &f[0].data()[..6];
                let rs = (1..=9)
                    .find(|&i| rs_mac(i) == mac)
                    .expect("a backend's MAC");
                return (rs, hops);
            }
            other => panic!(
                "worker {at}: {other:?}, drops {:?}",
                ws[at].counters().drops
            ),
        }
    }
    panic!("redirect loop");
}

const MODES: [FwdMethod; 4] = [
    FwdMethod::Dr,
    FwdMethod::Tun,
    FwdMethod::Nat,
    FwdMethod::FullNat,
];

#[test]
fn rr_alternates_exactly_whichever_worker_gets_the_syn() {
    for method in MODES {
        for n in [2, 3, 4] {
            let snap = snapshot(method, SchedulerKind::Rr, &[1, 1], None);
            let mut ws = workers(n);
            let picks: Vec<u8> = (0..12u16)
                .map(|i| {
                    let first = usize::from((i * 7 + 3) % n);
                    deliver(
                        &mut ws,
                        &snap,
                        first,
                        &tcp([198, 18, 0, 50], 40000 + i, true),
                    )
                    .0
                })
                .collect();
            assert_eq!(
                picks,
                [1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2],
                "{method:?} on {n} workers"
            );
        }
    }
}

#[test]
fn wrr_two_to_one_splits_exactly_across_workers() {
    for method in MODES {
        let snap = snapshot(method, SchedulerKind::Wrr, &[2, 1], None);
        let mut ws = workers(2);
        let mut count = [0usize; 3];
        for i in 0..30u16 {
            let client = [198, 18, 0, 50 + (i % 5) as u8];
            let (rs, _) = deliver(
                &mut ws,
                &snap,
                usize::from(i % 2),
                &tcp(client, 41000 + i, true),
            );
            count[usize::from(rs)] += 1;
        }
        assert_eq!(count[1..], [20, 10], "{method:?}");
    }
}

#[test]
fn persistence_sticks_across_workers_and_other_clients_spread() {
    for method in MODES {
        for n in [2, 4] {
            let snap = snapshot(method, SchedulerKind::Rr, &[1, 1, 1], Some(32));
            let mut ws = workers(n);
            let mut backends = Vec::new();
            for client in 50..56u8 {
                let addr = [198, 18, 0, client];
                let mut seen = Vec::new();
                for i in 0..8u16 {
                    let cport = 30000 + u16::from(client) * 100 + i;
                    // The SYN on one worker, the ACK on another: RSS spreads by endpoint.
                    let first = usize::from((i + u16::from(client)) % n);
                    let (rs, _) = deliver(&mut ws, &snap, first, &tcp(addr, cport, true));
                    let second = (first + 1) % usize::from(n);
                    let (ack_rs, _) = deliver(&mut ws, &snap, second, &tcp(addr, cport, false));
                    assert_eq!(ack_rs, rs, "{method:?}: the ACK follows its session");
                    seen.push(rs);
                }
                assert!(
                    seen.iter().all(|&r| r == seen[0]),
                    "{method:?} on {n} workers: client .{client} moved: {seen:?}"
                );
                backends.push(seen[0]);
            }
            // rr over the clients' first connections: six clients, three backends, each twice.
            let mut per = [0; 4];
            backends.iter().for_each(|&b| per[usize::from(b)] += 1);
            assert_eq!(
                per[1..],
                [2, 2, 2],
                "{method:?} on {n} workers: {backends:?}"
            );
        }
    }
}

#[test]
fn persistence_netmask_groups_a_network_across_workers() {
    for method in [FwdMethod::Dr, FwdMethod::Tun, FwdMethod::FullNat] {
        let snap = snapshot(method, SchedulerKind::Rr, &[1, 1], Some(24));
        let mut ws = workers(2);
        let picks: Vec<u8> = (0..10u8)
            .map(|h| {
                let cport = 20000 + u16::from(h);
                let first = usize::from(h % 2);
                deliver(
                    &mut ws,
                    &snap,
                    first,
                    &tcp([198, 18, 0, 10 + h], cport, true),
                )
                .0
            })
            .collect();
        assert!(
            picks.iter().all(|&p| p == picks[0]),
            "{method:?}: one /24, one backend: {picks:?}"
        );
        // Another network gets the next backend.
        let other = deliver(&mut ws, &snap, 1, &tcp([198, 18, 5, 9], 999, true)).0;
        assert_ne!(other, picks[0], "{method:?}");
    }
}
