//! Any gateway carries any flow (ECMP scale-out, issue 16): two gateways with the same
//! configuration are two workers on two snapshots built independently (the second lists the
//! real servers in the opposite order, as another box's file might). A flow starts on gateway A
//! (its SYN); the router then moves it to gateway B, which has no session for it. With a
//! consistent scheduler (`sh`, `dh`, `mh`) and DR or TUN, B schedules the mid-flow packet
//! (`sloppy_tcp`, on by default there) to the real server A picked, and its session carries the
//! rest of the flow; with any other scheduler, with `sloppy_tcp` off, or with NAT, B drops it
//! (`not_syn_for_new_tcp`), as IPVS does by default.

use std::net::{IpAddr, Ipv4Addr};

use dataplane::frame::{Frame, VecFrame};
use dataplane::sched::SchedulerKind;
use dataplane::session::{FwdMethod, TcpState};
use dataplane::snapshot::{BackendSpec, ServiceSpec, Snapshot};
use dataplane::types::{BackendIdx, L4Proto};
use dataplane::wire::DropReason;
use dataplane::worker::{Verdict, Worker, WorkerConfig};
use testkit::packet::{tcp, udp};
use testkit::topology::{GW0, GW1};

const SYN: u8 = testkit::packet::SYN;
const ACK: u8 = testkit::packet::ACK;
const PSH: u8 = testkit::packet::PSH;
const FIN: u8 = testkit::packet::FIN;
const RST: u8 = testkit::packet::RST;

const CLIENT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0xc1];
const FROM_CLIENT: ([u8; 6], [u8; 6]) = (CLIENT_MAC, GW0);
const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 100);
const BACKENDS: u8 = 16;
/// Flows per scenario: enough to reach every backend of a hashing scheduler many times.
const FLOWS: usize = 2000;

fn backend(k: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 18, 1, 10 + k))
}

/// Each backend has its own MAC, so a forwarded frame's destination MAC names its backend.
fn backend_mac(k: u8) -> [u8; 6] {
    [2, 0, 0, 0, 1, 10 + k]
}

/// A gateway's snapshot: `VIP:80` (`proto`) over 16 real servers forwarding by `method`, in
/// config order or reversed.
fn gateway(
    kind: SchedulerKind,
    method: FwdMethod,
    proto: L4Proto,
    sloppy_tcp: bool,
    reversed: bool,
) -> Snapshot {
    let mut b = testkit::topology::two_port_lan(1);
    for k in 0..BACKENDS {
        b.neighbour(backend(k), backend_mac(k));
    }
    let mut s = ServiceSpec::new(IpAddr::V4(VIP), 80, proto);
    s.scheduler = kind;
    s.sloppy_tcp = sloppy_tcp;
    let port = if method == FwdMethod::Nat { 8080 } else { 80 };
    let mut ks: Vec<u8> = (0..BACKENDS).collect();
    if reversed {
        ks.reverse();
    }
    s.backends = ks
        .into_iter()
        .map(|k| BackendSpec::new(backend(k), port, method))
        .collect();
    b.service(s);
    b.build()
}

fn client(i: usize) -> (IpAddr, u16) {
    let i = u32::try_from(i).unwrap();
    (
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i * 7)),
        10_000 + (i % 50_000) as u16,
    )
}

fn segment(i: usize, flags: u8, payload: &[u8]) -> Vec<u8> {
    let (c, p) = client(i);
    tcp(FROM_CLIENT, c, IpAddr::V4(VIP), p, 80, flags, payload)
}

/// Run one frame; return the verdict and the frame as it left.
fn run(w: &mut Worker, snap: &Snapshot, frame: &[u8]) -> (Verdict, Vec<u8>) {
    let mut f = VecFrame::new(frame);
    let v = w.process_one(snap, 1, 0, &mut f);
    (v, f.data().to_vec())
}

/// The backend a forwarded frame goes to (by its destination MAC), after checking the source
/// MAC is the gateway's server side.
fn backend_of(out: &[u8]) -> u8 {
    assert_eq!(out[6..12], GW1, "sent from the server-side port");
    (0..BACKENDS)
        .find(|&k| out[..6] == backend_mac(k))
        .expect("a backend's MAC")
}

fn worker() -> Worker {
    Worker::new(WorkerConfig {
        sessions4: 8192,
        sessions6: 16,
        ..WorkerConfig::default()
    })
}

/// The SYN of every flow through gateway A; return the backend A picked for each.
fn start_on_a(snap: &Snapshot) -> Vec<u8> {
    let mut a = worker();
    (0..FLOWS)
        .map(|i| {
            let (v, out) = run(&mut a, snap, &segment(i, SYN, &[]));
            assert_eq!(v, Verdict::Tx(1), "SYN of flow {i} on gateway A");
            backend_of(&out)
        })
        .collect()
}

#[test]
fn a_consistent_scheduler_lets_any_gateway_carry_a_flow_another_started() {
    for kind in [SchedulerKind::Mh, SchedulerKind::Sh, SchedulerKind::Dh] {
        for method in [FwdMethod::Dr, FwdMethod::Tun] {
            let what = format!("{kind} {method:?}");
            let snap_a = gateway(kind, method, L4Proto::Tcp, true, false);
            let snap_b = gateway(kind, method, L4Proto::Tcp, true, true);
            let picked = start_on_a(&snap_a);
            let mut used: Vec<u8> = picked.clone();
            used.sort_unstable();
            used.dedup();
            // dh hashes the destination (one VIP: one backend); the others spread clients.
            let want = if kind == SchedulerKind::Dh { 1 } else { 12 };
            assert!(used.len() >= want, "{what}: A used only {used:?}");

            let mut b = worker();
            for (i, &k) in picked.iter().enumerate() {
                let (v, out) = run(
                    &mut b,
                    &snap_b,
                    &segment(i, ACK | PSH, b"GET / HTTP/1.1\r\n"),
                );
                assert_eq!(v, Verdict::Tx(1), "{what}: mid-flow ACK of flow {i} on B");
                assert_eq!(
                    backend_of(&out),
                    k,
                    "{what}: flow {i} on B goes where A sent it"
                );
                let (v, out) = run(&mut b, &snap_b, &segment(i, ACK, &[]));
                assert_eq!(v, Verdict::Tx(1), "{what}: next ACK of flow {i} on B");
                assert_eq!(backend_of(&out), k, "{what}: flow {i} stays on its backend");
            }
            let c = b.counters();
            assert_eq!(c.sessions_created.get(), FLOWS as u64, "{what}");
            assert_eq!(c.sessions_mid_flow.get(), FLOWS as u64, "{what}");
            assert_eq!(b.sessions4().len(), FLOWS, "{what}");
            // An ACK opens the session ESTABLISHED (IPVS's state table from NONE), so it counts
            // as an active connection and gets the established timeout.
            assert!(
                b.sessions4()
                    .iter()
                    .all(|(_, s)| s.state() == TcpState::Established),
                "{what}"
            );
            let active: u64 = (0..u16::from(BACKENDS))
                .map(|id| c.backend(BackendIdx::new(id)).unwrap().active.get())
                .sum();
            assert_eq!(active, FLOWS as u64, "{what}");
            assert_eq!(c.drops.iter().map(|d| d.get()).sum::<u64>(), 0, "{what}");
        }
    }
}

#[test]
fn other_schedulers_drop_mid_flow_packets_and_count_them() {
    for kind in [
        SchedulerKind::Rr,
        SchedulerKind::Wrr,
        SchedulerKind::Wlc,
        SchedulerKind::Lc,
        SchedulerKind::Lblc,
        SchedulerKind::Fo,
    ] {
        let snap = gateway(kind, FwdMethod::Dr, L4Proto::Tcp, true, false);
        let mut b = worker();
        for i in 0..100 {
            let (v, _) = run(&mut b, &snap, &segment(i, ACK, &[]));
            assert_eq!(v, Verdict::Drop(DropReason::NotSynForNewTcp), "{kind}");
        }
        let c = b.counters();
        assert_eq!(
            c.drops[DropReason::NotSynForNewTcp.index()].get(),
            100,
            "{kind}"
        );
        assert_eq!(c.sessions_created.get(), 0, "{kind}");
        assert_eq!(b.sessions4().len(), 0, "{kind}");
        // A SYN still starts a flow.
        let (v, _) = run(&mut b, &snap, &segment(0, SYN, &[]));
        assert_eq!(v, Verdict::Tx(1), "{kind}");
    }
}

#[test]
fn sloppy_tcp_off_keeps_ipvs_strict_behaviour() {
    for kind in [SchedulerKind::Mh, SchedulerKind::Sh, SchedulerKind::Dh] {
        let snap = gateway(kind, FwdMethod::Dr, L4Proto::Tcp, false, false);
        let mut b = worker();
        for flags in [ACK, ACK | PSH, FIN | ACK, 0] {
            let (v, _) = run(&mut b, &snap, &segment(1, flags, &[]));
            assert_eq!(v, Verdict::Drop(DropReason::NotSynForNewTcp), "{kind}");
        }
        assert_eq!(
            b.counters().drops[DropReason::NotSynForNewTcp.index()].get(),
            4
        );
        assert_eq!(b.sessions4().len(), 0);
    }
}

#[test]
fn nat_services_stay_strict_whatever_the_scheduler() {
    // NAT replies must come back through the gateway that owns the flow (session sync's job).
    let snap = gateway(SchedulerKind::Mh, FwdMethod::Nat, L4Proto::Tcp, true, false);
    let mut b = worker();
    let (v, _) = run(&mut b, &snap, &segment(3, ACK, &[]));
    assert_eq!(v, Verdict::Drop(DropReason::NotSynForNewTcp));
    assert_eq!(b.sessions4().len(), 0);
}

/// As the kernel's `tcp_conn_schedule` with `sloppy_tcp`: any segment but a RST is scheduled,
/// and the state follows IPVS's table from NONE (FIN: CLOSE, no flag: CLOSE, SYN+ACK: SYN_RECV).
#[test]
fn sloppy_states_follow_ipvs_and_a_rst_starts_nothing() {
    let snap = gateway(SchedulerKind::Mh, FwdMethod::Dr, L4Proto::Tcp, true, false);
    let mut b = worker();
    let (v, _) = run(&mut b, &snap, &segment(1, RST | ACK, &[]));
    assert_eq!(v, Verdict::Drop(DropReason::NotSynForNewTcp));
    let (v, _) = run(&mut b, &snap, &segment(1, RST, &[]));
    assert_eq!(v, Verdict::Drop(DropReason::NotSynForNewTcp));
    assert_eq!(b.sessions4().len(), 0);
    for (i, flags, state) in [
        (2, FIN | ACK, TcpState::Close),
        (3, 0, TcpState::Close),
        (4, SYN | ACK, TcpState::SynRecv),
        (5, ACK, TcpState::Established),
    ] {
        let (v, _) = run(&mut b, &snap, &segment(i, flags, &[]));
        assert_eq!(v, Verdict::Tx(1), "flags {flags:#x}");
        let (c, p) = client(i);
        let s = b
            .sessions4()
            .iter()
            .map(|(_, s)| s)
            .find(|s| IpAddr::V4(s.client()) == c && s.cport() == p)
            .expect("session");
        assert_eq!(s.state(), state, "flags {flags:#x}");
    }
    assert_eq!(b.counters().sessions_mid_flow.get(), 4);
}

/// UDP never needed a SYN: any datagram starts a flow, so with a consistent scheduler gateway
/// B sends a flow's datagrams where A sent the first one.
#[test]
fn udp_flows_move_between_gateways_too() {
    let snap_a = gateway(SchedulerKind::Mh, FwdMethod::Dr, L4Proto::Udp, true, false);
    let snap_b = gateway(SchedulerKind::Mh, FwdMethod::Dr, L4Proto::Udp, true, true);
    let (mut a, mut b) = (worker(), worker());
    for i in 0..500 {
        let (c, p) = client(i);
        let d = udp(FROM_CLIENT, c, IpAddr::V4(VIP), p, 80, b"q");
        let (va, oa) = run(&mut a, &snap_a, &d);
        let (vb, ob) = run(&mut b, &snap_b, &d);
        assert_eq!((va, vb), (Verdict::Tx(1), Verdict::Tx(1)));
        assert_eq!(backend_of(&oa), backend_of(&ob), "datagram {i}");
    }
    assert_eq!(b.counters().sessions_mid_flow.get(), 0, "TCP only");
}
