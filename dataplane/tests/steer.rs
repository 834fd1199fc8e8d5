//! RSS-aware FullNAT reply steering (DESIGN §5): with [`ReplySteering::Rss`] each worker picks
//! local ports whose reply tuple hashes (ferrovs's Toeplitz, checked against `rte_softrss` in
//! `dpdk/tests/thash.rs`) through the key and redirection table to its own queue, so replies
//! need no redirect; a reply or ICMP error that lands on another worker is redirected to the
//! worker RSS names. Run with 2 and 4 workers, IPv4 and IPv6, TCP and UDP.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use dataplane::frame::VecFrame;
use dataplane::fuzzing::{backend_mac, port_mac, snapshot};
use dataplane::rss::{RssSteer, DEFAULT_KEY};
use dataplane::snapshot::Snapshot;
use dataplane::worker::{ReplySteering, Verdict, Worker, WorkerConfig};
use testkit::packet::{
    bytes, icmp_error_quoting, ip, ports, reply_to, tcp, udp, ACK, FROM_CLIENT, SYN,
};

fn workers(n: u16, steer: &ReplySteering) -> Vec<Worker> {
    (0..n)
        .map(|id| {
            Worker::new(WorkerConfig {
                id,
                workers: n,
                sessions4: 1 << 12,
                sessions6: 1 << 10,
                reply_steering: steer.clone(),
                ..WorkerConfig::default()
            })
        })
        .collect()
}

fn run(w: &mut Worker, frame: &[u8], port: u8) -> (Verdict, Vec<u8>) {
    static SNAP: OnceLock<Snapshot> = OnceLock::new();
    let snap = SNAP.get_or_init(snapshot);
    let mut f = VecFrame::new(frame);
    let v = w.process_one(snap, 1, port, &mut f);
    (v, bytes(&f))
}

fn src_dst(frame: &[u8]) -> (IpAddr, IpAddr) {
    testkit::packet::addrs(frame)
}

/// The services of `dataplane::fuzzing::snapshot()` with FullNAT backends: (vip, vport, tcp).
const FULLNAT: [(&str, u16, bool); 4] = [
    ("198.18.0.103", 80, true),
    ("198.18.0.103", 53, false),
    ("2001:db8::103", 80, true),
    ("2001:db8::103", 53, false),
];

fn client_for(vip: IpAddr, i: u16) -> IpAddr {
    match vip {
        IpAddr::V4(_) => IpAddr::from([203, 0, 113, (i % 250) as u8 + 1]),
        IpAddr::V6(_) => ip(&format!("2001:db8:c::{:x}", i + 1)),
    }
}

fn rss_aware_round_trips(n: u16) {
    let rs = Arc::new(RssSteer::new(&DEFAULT_KEY, &RssSteer::round_robin_reta(128, n)).unwrap());
    let steer = ReplySteering::Rss(rs.clone());
    let mut ws = workers(n, &steer);
    let mut per_worker = vec![0u32; usize::from(n)];
    let mut lports = std::collections::HashSet::new();
    for (vip, vport, is_tcp) in FULLNAT {
        let vip = ip(vip);
        for i in 0..48u16 {
            let client = client_for(vip, i);
            let cport = 20000 + i * 7;
            let first = if is_tcp {
                tcp(FROM_CLIENT, client, vip, cport, vport, SYN, &[])
            } else {
                udp(FROM_CLIENT, client, vip, cport, vport, b"q")
            };
            // The client's packet lands where RSS puts it; that worker creates the session.
            let creator = rs.worker_of(client, vip, cport, vport).unwrap();
            let (v, out) = run(&mut ws[usize::from(creator)], &first, 0);
            assert_eq!(
                v,
                Verdict::Tx(1),
                "new flow {client}:{cport} -> {vip}:{vport}"
            );
            per_worker[usize::from(creator)] += 1;
            let (laddr, backend) = src_dst(&out);
            let (lport, bport) = ports(&out);
            assert!(lport >= 1024);
            lports.insert(lport);
            // Where RSS delivers the reply backend:bport -> laddr:lport: the creator.
            let owner = rs.worker_of(backend, laddr, bport, lport).unwrap();
            assert_eq!(
                owner, creator,
                "{n} workers: reply to {laddr}:{lport} lands on worker {owner}, session on {creator}"
            );
            assert_eq!(steer.owner(backend, bport, laddr, lport, n), creator);

            let reply = reply_to(&out, SYN | ACK, is_tcp);
            // Delivered anywhere else: redirected to the owner, untouched.
            for other in (0..n).filter(|&o| o != owner) {
                let (v, again) = run(&mut ws[usize::from(other)], &reply, 1);
                assert_eq!(v, Verdict::Redirect(owner), "reply on worker {other}");
                assert_eq!(again, reply);
                // So is an ICMP error about the packet we sent the backend.
                let err = icmp_error_quoting(
                    (backend_mac(254), port_mac(1)),
                    router_on_backend_side(backend),
                    laddr,
                    &out,
                    8,
                );
                let (v, _) = run(&mut ws[usize::from(other)], &err, 1);
                assert_eq!(v, Verdict::Redirect(owner), "ICMP error on worker {other}");
            }
            // Delivered where RSS says: the session is there, no redirect.
            let before = ws[usize::from(owner)].counters().redirected.get();
            let (v, back) = run(&mut ws[usize::from(owner)], &reply, 1);
            assert_eq!(v, Verdict::Tx(0), "reply on its owner {owner}");
            assert_eq!(src_dst(&back), (vip, client));
            assert_eq!(ports(&back), (vport, cport));
            assert_eq!(ws[usize::from(owner)].counters().redirected.get(), before);
        }
    }
    // Every worker created flows, and ports are spread, not one fixed value.
    assert!(per_worker.iter().all(|&c| c > 0), "{per_worker:?}");
    assert!(lports.len() > 32, "{} distinct local ports", lports.len());
}

fn router_on_backend_side(backend: IpAddr) -> IpAddr {
    match backend {
        IpAddr::V4(_) => ip("198.18.1.254"),
        IpAddr::V6(_) => ip("2001:db8:1::fe"),
    }
}

#[test]
fn test_steer_rss_aware_two_workers() {
    rss_aware_round_trips(2);
}

#[test]
fn test_steer_rss_aware_four_workers() {
    rss_aware_round_trips(4);
}

#[test]
fn test_steer_rss_aware_three_workers_non_power_of_two() {
    // RSS-aware needs no power of two (flow rules do): RETA i % 3 over 128 buckets.
    rss_aware_round_trips(3);
}

#[test]
fn test_steer_modulo_keeps_lport_ownership() {
    // Redirect / flow-rule mode: lport % workers is the creator, whatever RSS would say.
    let steer = ReplySteering::Modulo;
    let mut ws = workers(4, &steer);
    let vip = ip("198.18.0.103");
    for i in 0..32u16 {
        let client = client_for(vip, i);
        let id = i % 4;
        let syn = tcp(FROM_CLIENT, client, vip, 30000 + i, 80, SYN, &[]);
        let (v, out) = run(&mut ws[usize::from(id)], &syn, 0);
        assert_eq!(v, Verdict::Tx(1));
        let (lport, _) = ports(&out);
        assert_eq!(lport % 4, id);
        let reply = reply_to(&out, SYN | ACK, true);
        let (v, _) = run(&mut ws[usize::from((id + 1) % 4)], &reply, 1);
        assert_eq!(v, Verdict::Redirect(id));
        let (v, _) = run(&mut ws[usize::from(id)], &reply, 1);
        assert_eq!(v, Verdict::Tx(0));
    }
}
