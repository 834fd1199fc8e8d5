//! The session policy for dead backends (`health_check.on_failure_sessions`): with `keep`
//! (IPVS's default) an established session of a backend that went down goes on; with `drop`
//! (the kernel's `expire_nodest_conn` / `expire_quiescent_template`) its next packet is dropped
//! with `DropReason::BackendDown`, the session is removed so the client's next connection is
//! scheduled to a live backend, and persistence templates pointing at the dead backend are not
//! used.

use testkit::packet::CLIENT_MAC;
use testkit::topology::{two_port_lan, GW0, GW1};

use std::net::IpAddr;

use dataplane::frame::{Frame, VecFrame};
use dataplane::sched::SchedulerKind;
use dataplane::session::FwdMethod;
use dataplane::snapshot::{BackendSpec, Persistence, Route, ServiceSpec, Snapshot};
use dataplane::types::{BackendIdx, L4Proto, ServiceIdx};
use dataplane::wire::DropReason;
use dataplane::worker::{Verdict, Worker, WorkerConfig};
use testkit::packet::{addrs, ip, tcp, ACK, SYN};

const RS_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0xa1];
const FROM_CLIENT: ([u8; 6], [u8; 6]) = (CLIENT_MAC, GW0);
const FROM_RS: ([u8; 6], [u8; 6]) = (RS_MAC, GW1);

const VIP: &str = "198.18.0.100";
const CLIENT: &str = "198.18.0.50";
const RS: [&str; 2] = ["198.18.1.11", "198.18.1.12"];

/// What the health check made of a backend, as control puts it in the snapshot.
#[derive(Clone, Copy, Debug)]
enum Health {
    Up,
    /// Down and taken out of scheduling.
    Down {
        drop: bool,
    },
    /// Down with `inhibit_on_failure`: weight 0, still "available".
    Inhibited {
        drop: bool,
    },
    /// Removed from the service (ferrovsadm -d, a reload).
    Removed,
}

/// Generation `generation` of a NAT TCP service `VIP:80` (rr) over `RS[0]` and `RS[1]` port
/// 8080 with stable ids 0 and 1; `health[i]` is backend i's state, `expire_nodest` the service's
/// policy for removed backends, `persistent` a 300 s persistence.
fn snapshot(
    generation: u64,
    health: [Health; 2],
    expire_nodest: bool,
    persistent: bool,
) -> Snapshot {
    let mut b = two_port_lan(generation);
    b.route(Route {
        prefix: ip("198.18.0.0"),
        len: 24,
        port: 0,
        via: None,
    });
    for rs in RS {
        b.neighbour(ip(rs), RS_MAC);
    }
    let mut s = ServiceSpec::new(ip(VIP), 80, L4Proto::Tcp);
    s.id = Some(ServiceIdx::new(0));
    s.scheduler = SchedulerKind::Rr;
    s.expire_nodest = expire_nodest;
    if persistent {
        s.persistence = Some(Persistence {
            timeout_s: 300,
            prefix_len: 32,
        });
    }
    for (i, (rs, h)) in RS.iter().zip(health).enumerate() {
        let mut spec = BackendSpec::new(ip(rs), 8080, FwdMethod::Nat);
        spec.id = Some(BackendIdx::try_from(i).unwrap());
        match h {
            Health::Up => {}
            Health::Down { drop } => {
                spec.available = false;
                spec.drop_sessions = drop;
            }
            Health::Inhibited { drop } => {
                spec.weight = 0;
                spec.drop_sessions = drop;
            }
            Health::Removed => continue,
        }
        s.backends.push(spec);
    }
    b.service(s);
    b.build()
}

fn run(
    w: &mut Worker,
    snap: &Snapshot,
    now: u32,
    in_port: u8,
    frame: Vec<u8>,
) -> (Verdict, Vec<u8>) {
    let mut f = [VecFrame::new(&frame)];
    let mut v = [Verdict::Drop(DropReason::NotForUs)];
    w.process(snap, now, in_port, &mut f, &mut v);
    (v[0], f[0].data().to_vec())
}

fn from_client(sport: u16, flags: u8) -> Vec<u8> {
    tcp(FROM_CLIENT, ip(CLIENT), ip(VIP), sport, 80, flags, b"")
}

/// Open a connection from `CLIENT:sport` (SYN, the backend's SYN-ACK, the client's ACK) and
/// return the backend it went to.
fn connect(w: &mut Worker, snap: &Snapshot, now: u32, sport: u16) -> IpAddr {
    let (v, out) = run(w, snap, now, 0, from_client(sport, SYN));
    assert_eq!(v, Verdict::Tx(1), "SYN: {:?}", drops(w));
    let backend = addrs(&out).1;
    let (v, _) = run(
        w,
        snap,
        now,
        1,
        tcp(FROM_RS, backend, ip(CLIENT), 8080, sport, SYN | ACK, b""),
    );
    assert_eq!(v, Verdict::Tx(0), "SYN-ACK");
    let (v, _) = run(w, snap, now, 0, from_client(sport, ACK));
    assert_eq!(v, Verdict::Tx(1), "ACK");
    backend
}

fn drops(w: &Worker) -> Vec<(&'static str, u64)> {
    DropReason::ALL
        .iter()
        .map(|r| (r.as_str(), w.counters().drops[r.index()].get()))
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn backend_down_drops(w: &Worker) -> u64 {
    w.counters().drops[DropReason::BackendDown.index()].get()
}

fn up() -> [Health; 2] {
    [Health::Up, Health::Up]
}

/// `health` with the backend at `backend` (an address of `RS`) set to `h`.
fn with(backend: IpAddr, h: Health) -> [Health; 2] {
    let mut out = up();
    out[RS.iter().position(|r| ip(r) == backend).unwrap()] = h;
    out
}

#[test]
fn keep_forwards_established_sessions_of_a_down_backend() {
    let mut w = Worker::new(WorkerConfig::default());
    let s1 = snapshot(1, up(), false, false);
    let dead = connect(&mut w, &s1, 1, 40000);
    for h in [
        Health::Down { drop: false },
        Health::Inhibited { drop: false },
    ] {
        let s2 = snapshot(2, with(dead, h), false, false);
        let (v, out) = run(&mut w, &s2, 2, 0, from_client(40000, ACK));
        assert_eq!(v, Verdict::Tx(1), "{h:?}");
        assert_eq!(addrs(&out).1, dead, "still to the dead backend: {h:?}");
        let (v, _) = run(
            &mut w,
            &s2,
            2,
            1,
            tcp(FROM_RS, dead, ip(CLIENT), 8080, 40000, ACK, b"data"),
        );
        assert_eq!(v, Verdict::Tx(0), "replies still reach the client: {h:?}");
    }
    assert_eq!(backend_down_drops(&w), 0);
    assert_eq!(w.sessions4().len(), 1);
}

#[test]
fn drop_ends_established_sessions_of_a_down_backend() {
    for h in [
        Health::Down { drop: true },
        Health::Inhibited { drop: true },
    ] {
        let mut w = Worker::new(WorkerConfig::default());
        let s1 = snapshot(1, up(), false, false);
        let dead = connect(&mut w, &s1, 1, 40000);
        let bid = usize::from(RS.iter().position(|r| ip(r) == dead).unwrap() as u16);
        assert_eq!(w.counters().backends[bid].active.get(), 1);
        let expired = w.counters().sessions_expired.get();

        let s2 = snapshot(2, with(dead, h), false, false);
        let (v, _) = run(&mut w, &s2, 2, 0, from_client(40000, ACK));
        assert_eq!(v, Verdict::Drop(DropReason::BackendDown), "{h:?}");
        assert_eq!(backend_down_drops(&w), 1, "counted by reason: {h:?}");
        assert_eq!(w.sessions4().len(), 0, "the session is gone: {h:?}");
        assert_eq!(w.counters().sessions_expired.get(), expired + 1);
        assert_eq!(
            w.counters().backends[bid].active.get(),
            0,
            "ActiveConn follows: {h:?}"
        );
        // The client's retransmission finds no session; its new SYN goes to the live backend.
        let (v, _) = run(&mut w, &s2, 3, 0, from_client(40000, ACK));
        assert_eq!(v, Verdict::Drop(DropReason::NotSynForNewTcp));
        let (v, out) = run(&mut w, &s2, 3, 0, from_client(40000, SYN));
        assert_eq!(v, Verdict::Tx(1), "{h:?}: {:?}", drops(&w));
        assert_ne!(addrs(&out).1, dead, "rescheduled to a live backend: {h:?}");
        assert_eq!(backend_down_drops(&w), 1);
    }
}

#[test]
fn drop_applies_to_replies_and_only_to_the_dead_backend() {
    let mut w = Worker::new(WorkerConfig::default());
    let s1 = snapshot(1, up(), false, false);
    let a = connect(&mut w, &s1, 1, 40000);
    let b = connect(&mut w, &s1, 1, 40001);
    assert_ne!(a, b, "rr spreads the two connections");
    let s2 = snapshot(2, with(a, Health::Down { drop: true }), false, false);
    let (v, _) = run(
        &mut w,
        &s2,
        2,
        1,
        tcp(FROM_RS, a, ip(CLIENT), 8080, 40000, ACK, b"late"),
    );
    assert_eq!(
        v,
        Verdict::Drop(DropReason::BackendDown),
        "a reply of the dead one"
    );
    let (v, out) = run(&mut w, &s2, 2, 0, from_client(40001, ACK));
    assert_eq!(
        (v, addrs(&out).1),
        (Verdict::Tx(1), b),
        "the live one is untouched"
    );
    assert_eq!(w.sessions4().len(), 1);
}

#[test]
fn a_backend_that_comes_back_before_the_next_packet_keeps_its_session() {
    let mut w = Worker::new(WorkerConfig::default());
    let s1 = snapshot(1, up(), false, false);
    let a = connect(&mut w, &s1, 1, 40000);
    let _down = snapshot(2, with(a, Health::Down { drop: true }), false, false);
    // No packet while it was down; it is up again in generation 3.
    let s3 = snapshot(3, up(), false, false);
    let (v, out) = run(&mut w, &s3, 2, 0, from_client(40000, ACK));
    assert_eq!((v, addrs(&out).1), (Verdict::Tx(1), a));
}

#[test]
fn persistence_templates_to_a_dead_backend_are_not_reused_under_drop() {
    // With inhibit_on_failure the backend stays in the service with weight 0: under `keep` its
    // template still holds (IPVS keeps templates of quiescent servers), under `drop` it does
    // not (expire_quiescent_template).
    for (drop, reused) in [(false, true), (true, false)] {
        let mut w = Worker::new(WorkerConfig::default());
        let s1 = snapshot(1, up(), false, true);
        let dead = connect(&mut w, &s1, 1, 40000);
        // The template sticks while both are up.
        let (v, out) = run(&mut w, &s1, 1, 0, from_client(40001, SYN));
        assert_eq!((v, addrs(&out).1), (Verdict::Tx(1), dead));

        let s2 = snapshot(2, with(dead, Health::Inhibited { drop }), false, true);
        let (v, out) = run(&mut w, &s2, 2, 0, from_client(40002, SYN));
        assert_eq!(v, Verdict::Tx(1), "drop={drop}: {:?}", drops(&w));
        assert_eq!(addrs(&out).1 == dead, reused, "drop={drop}");
        if !reused {
            // The new pick replaced the template: the next connection follows it even after
            // the dead backend is back.
            let live = addrs(&out).1;
            let s3 = snapshot(3, up(), false, true);
            let (v, out) = run(&mut w, &s3, 3, 0, from_client(40003, SYN));
            assert_eq!((v, addrs(&out).1), (Verdict::Tx(1), live));
        }
    }
    // A backend taken out of scheduling (no inhibit) loses its templates under either policy.
    for drop in [false, true] {
        let mut w = Worker::new(WorkerConfig::default());
        let s1 = snapshot(1, up(), false, true);
        let dead = connect(&mut w, &s1, 1, 40000);
        let s2 = snapshot(2, with(dead, Health::Down { drop }), false, true);
        let (v, out) = run(&mut w, &s2, 2, 0, from_client(40002, SYN));
        assert_eq!(v, Verdict::Tx(1));
        assert_ne!(addrs(&out).1, dead, "drop={drop}");
    }
}

#[test]
fn removed_backends_follow_the_services_policy() {
    for (expire_nodest, want) in [
        (false, Verdict::Tx(1)),
        (true, Verdict::Drop(DropReason::BackendDown)),
    ] {
        let mut w = Worker::new(WorkerConfig::default());
        let s1 = snapshot(1, up(), expire_nodest, false);
        let gone = connect(&mut w, &s1, 1, 40000);
        let s2 = snapshot(2, with(gone, Health::Removed), expire_nodest, false);
        assert_eq!(s2.drops_sessions(), expire_nodest);
        let (v, _) = run(&mut w, &s2, 2, 0, from_client(40000, ACK));
        assert_eq!(v, want, "expire_nodest={expire_nodest}");
    }
}

#[test]
fn the_drop_path_does_not_allocate() {
    let mut w = Worker::new(WorkerConfig::default());
    let s1 = snapshot(1, up(), true, false);
    let ports: Vec<u16> = (41000..41032).collect();
    let mut dead = None;
    for &p in &ports {
        let b = connect(&mut w, &s1, 1, p);
        dead.get_or_insert(b);
    }
    let dead = dead.expect("connections");
    let s2 = snapshot(2, with(dead, Health::Down { drop: true }), true, false);
    // The generation sync (scheduler state) is the one allocation per snapshot: before arming.
    w.sync(&s2);
    let mut frames: Vec<VecFrame> = ports
        .iter()
        .map(|&p| VecFrame::new(&from_client(p, ACK)))
        .collect();
    let mut verdicts = [Verdict::Drop(DropReason::NotForUs); 32];
    let info = allocation_counter::measure(|| {
        w.process(&s2, 2, 0, &mut frames, &mut verdicts);
    });
    assert_eq!(info.count_total, 0, "the drop path allocated");
    let dropped = verdicts
        .iter()
        .filter(|v| **v == Verdict::Drop(DropReason::BackendDown))
        .count();
    assert_eq!(dropped, ports.len() / 2, "rr put half on the dead one");
    assert_eq!(backend_down_drops(&w), dropped as u64);
    assert_eq!(w.sessions4().len(), ports.len() / 2);
}
