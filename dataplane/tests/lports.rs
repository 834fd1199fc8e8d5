//! FullNAT local-port pools through the worker: a new flow takes a free port of its
//! (local address, real server) pool, the pool runs dry with exactly as many flows as it has
//! ports, and ports come back when sessions expire, are removed by a peer's deletion, or are
//! taken by a session installed from a peer (session sync); a port held by a session the pool
//! never saw is skipped at insert without a drop.
//!
//! The fixture's UDP FullNAT service 198.18.0.103:53 has one real server (198.18.1.14:53) and
//! one local address (198.18.1.200); `lport_min = 65472` leaves its pool 64 ports.

use std::collections::HashSet;
use std::net::IpAddr;

use dataplane::frame::VecFrame;
use dataplane::fuzzing::snapshot;
use dataplane::session::{FwdMethod, TcpState};
use dataplane::snapshot::Snapshot;
use dataplane::sync::{DeleteReason, Install, Role, SyncEvent, SyncKind};
use dataplane::types::L4Proto;
use dataplane::wire::DropReason;
use dataplane::worker::{InstallOutcome, Verdict, Worker, WorkerConfig};
use testkit::packet::{addrs, ip, ports, udp, FROM_CLIENT};

const LPORT_MIN: u16 = 65472;
const VIP: &str = "198.18.0.103";

fn worker() -> Worker {
    Worker::new(WorkerConfig {
        lport_min: LPORT_MIN,
        sessions4: 1 << 12,
        ..WorkerConfig::default()
    })
}

/// A new UDP flow from client `i` at second `now`: the verdict and the local port it got.
fn open(w: &mut Worker, snap: &Snapshot, now: u32, i: u16) -> (Verdict, Option<u16>) {
    let client = IpAddr::from([203, 0, 113, (i % 200) as u8 + 1]);
    let frame = udp(FROM_CLIENT, client, ip(VIP), 10_000 + i, 53, b"q");
    let mut f = VecFrame::new(&frame);
    let v = w.process_one(snap, now, 0, &mut f);
    let out = testkit::packet::bytes(&f);
    let lport = (v == Verdict::Tx(1)).then(|| {
        assert_eq!(addrs(&out).0, ip("198.18.1.200"));
        ports(&out).0
    });
    (v, lport)
}

/// Open flows until the pool runs dry: the distinct ports they got.
fn drain(w: &mut Worker, snap: &Snapshot, now: u32, from: u16) -> HashSet<u16> {
    let mut got = HashSet::new();
    for i in from..from + 200 {
        match open(w, snap, now, i) {
            (Verdict::Tx(1), Some(p)) => {
                assert!(p >= LPORT_MIN, "port {p} below lport_min");
                assert!(got.insert(p), "port {p} handed out twice");
            }
            (Verdict::Drop(DropReason::LocalPortsExhausted), _) => return got,
            other => panic!("flow {i}: {other:?}"),
        }
    }
    panic!("the pool never ran dry after {} flows", got.len());
}

#[test]
fn test_pool_runs_dry_at_its_size_and_expired_sessions_give_ports_back() {
    let snap = snapshot();
    let mut w = worker();
    let got = drain(&mut w, &snap, 1, 0);
    assert_eq!(got.len(), 64, "one flow per port of the pool");
    let (pools, bytes, free) = w.lport_pools();
    assert!(
        pools >= 5,
        "one pool per (local address, FullNAT real server): {pools}"
    );
    assert!(
        bytes >= pools * 8192 && bytes <= pools * 9000,
        "{bytes} bytes"
    );
    // Every other pool still has all 64 of its ports.
    assert_eq!(free, (pools as u64 - 1) * 64);
    let exhausted = w.counters().drops[DropReason::LocalPortsExhausted as usize].get();
    assert_eq!(exhausted, 1);
    // UDP sessions time out after 300 s: expire them all, a bounded batch per tick.
    for now in 400..420 {
        w.tick(now);
    }
    assert_eq!(w.sessions4().len(), 0);
    let again = drain(&mut w, &snap, 420, 1000);
    assert_eq!(again, got, "every port came back after expiry");
}

fn synced(lport: u16, cport: u16, kind: SyncKind) -> Install {
    Install {
        event: SyncEvent {
            kind,
            template: false,
            proto: L4Proto::Udp,
            method: FwdMethod::FullNat,
            state: TcpState::None,
            prefix_len: 0,
            flags: 0,
            client: ip("203.0.113.250"),
            cport,
            vip: ip(VIP),
            vport: 53,
            laddr: ip("198.18.1.200"),
            lport,
            backend: ip("198.18.1.14"),
            bport: 53,
            timeout: 200,
            client_port: 0,
            client_mac: [2, 0, 0, 0, 0, 0xfe],
            proxy: None,
            synproxy: None,
        },
        role: Role::Home,
    }
}

#[test]
fn test_synced_session_takes_its_port_and_its_deletion_gives_it_back() {
    let snap = snapshot();
    let mut w = worker();
    // The peer's session holds port 65500 here too: local flows get the other 63.
    let inst = synced(65500, 4444, SyncKind::Created);
    assert_eq!(w.install(&snap, 1, &inst), InstallOutcome::Installed);
    let got = drain(&mut w, &snap, 1, 0);
    assert_eq!(got.len(), 63);
    assert!(
        !got.contains(&65500),
        "a synced session's port is not handed out"
    );
    // The peer deletes it: its port is free for the next flow.
    let del = synced(65500, 4444, SyncKind::Deleted(DeleteReason::Removed));
    assert_eq!(w.install(&snap, 2, &del), InstallOutcome::Removed);
    assert_eq!(open(&mut w, &snap, 2, 500), (Verdict::Tx(1), Some(65500)));
}

/// A session installed before its pool existed (here: before the worker took its first
/// snapshot, which builds the pools) holds its port once the pool is built: the new pool is
/// marked from the session table.
#[test]
fn test_new_pool_learns_the_ports_of_sessions_already_in_the_table() {
    let snap = snapshot();
    let mut w = worker();
    let inst = synced(65472, 4444, SyncKind::Created);
    assert_eq!(w.install(&snap, 1, &inst), InstallOutcome::Installed);
    let got = drain(&mut w, &snap, 1, 0);
    assert_eq!(got.len(), 63);
    assert!(!got.contains(&65472));
    assert_eq!(
        w.counters().drops[DropReason::LocalPortsExhausted as usize].get(),
        1,
        "the only drop is the one that found the pool dry"
    );
}

/// The walk that teaches new pools the ports sessions already hold runs in bounded steps, one
/// per tick (a reload that adds pools never stalls the worker for a whole table's walk), and
/// when it is done the pool counts the held port as taken.
#[test]
fn test_new_pools_claim_held_ports_in_bounded_steps() {
    let snap = snapshot();
    let mut w = Worker::new(WorkerConfig {
        lport_min: LPORT_MIN,
        sessions4: 1 << 16,
        ..WorkerConfig::default()
    });
    let inst = synced(65472, 4444, SyncKind::Created);
    assert_eq!(w.install(&snap, 1, &inst), InstallOutcome::Installed);
    w.sync(&snap);
    assert!(w.lport_claim_pending(), "the pools are new: a walk starts");
    let free = w.lport_pools().2;
    let mut ticks = 0;
    while w.lport_claim_pending() {
        w.tick(1);
        ticks += 1;
        assert!(ticks < 100, "the walk ends");
    }
    // 65,536 IPv4 slots and the IPv6 slab, 16,384 a tick.
    assert!(ticks >= 4, "{ticks} ticks");
    assert_eq!(w.lport_pools().2, free - 1, "the held port is taken");
    // A reload that builds no new pool starts no walk.
    let mut again = snapshot();
    again.generation += 1;
    w.sync(&again);
    assert!(!w.lport_claim_pending());
}

/// A port held by a session its pool never saw: a persistent any-port service's real server
/// (port 0, no pool: its flows probe the index) and another service's real server at the same
/// address and the port the first flow used share reply tuples. The pool offers the held port,
/// the insert refuses it, and the flow takes the next one: no drop, the held port never handed
/// out.
#[test]
fn test_port_held_outside_the_pool_is_skipped_without_a_drop() {
    use dataplane::snapshot::{BackendSpec, Persistence, ServiceSpec};
    let backend = ip("198.18.1.14");
    let laddr = ip("198.18.1.200");
    let mut b = testkit::topology::two_port_lan(1);
    b.neighbour(backend, dataplane::fuzzing::backend_mac(14));
    let mut any = ServiceSpec::new(ip("198.18.0.120"), 0, L4Proto::Udp);
    any.persistence = Some(Persistence {
        timeout_s: 300,
        prefix_len: 32,
    });
    any.backends = vec![BackendSpec::new(backend, 0, FwdMethod::FullNat)];
    any.laddrs = vec![laddr];
    b.service(any);
    let mut dns = ServiceSpec::new(ip(VIP), 53, L4Proto::Udp);
    dns.backends = vec![BackendSpec::new(backend, 53, FwdMethod::FullNat)];
    dns.laddrs = vec![laddr];
    b.service(dns);
    let snap = b.build();
    let mut w = worker();
    // The any-port service's flow to port 53: reply tuple 198.18.1.14:53 -> .200:held.
    let frame = udp(
        FROM_CLIENT,
        ip("203.0.113.250"),
        ip("198.18.0.120"),
        999,
        53,
        b"q",
    );
    let mut f = VecFrame::new(&frame);
    assert_eq!(w.process_one(&snap, 1, 0, &mut f), Verdict::Tx(1));
    let held = ports(&testkit::packet::bytes(&f)).0;
    assert!(held >= LPORT_MIN);
    let got = drain(&mut w, &snap, 1, 0);
    assert_eq!(got.len(), 63, "every port but the held one");
    assert!(!got.contains(&held));
    assert_eq!(
        w.counters().drops[DropReason::LocalPortsExhausted as usize].get(),
        1,
        "the only drop is the one that found the pool dry"
    );
}
