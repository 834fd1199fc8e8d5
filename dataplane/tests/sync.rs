//! Session sync between two gateways, the dataplane half: flows opened on gateway A (two
//! workers) are exported as events, placed and installed on gateway B (three workers, its
//! services added in the other order so every local index differs), and B then forwards their
//! mid-flow packets and replies exactly as A does, on the worker that owns them. Deletions
//! propagate, a full dump rebuilds the table after lost events, and the install rules
//! (update, conflict, refusal) hold.
//!
//! Each gateway's NIC is modelled as RSS (Toeplitz over the 5-tuple with ferrovs's key and a
//! round-robin redirection table) delivering to a worker, whose verdicts are followed through
//! redirects, as the worker loop's rings do.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use dataplane::frame::VecFrame;
use dataplane::fuzzing::{backend_mac, port_mac};
use dataplane::rss::{RssSteer, DEFAULT_KEY};
use dataplane::session::{FwdMethod, Session, SessionAddr, TcpState};
use dataplane::snapshot::{
    BackendSpec, Persistence, PortInfo, Route, ServiceSpec, Snapshot, SnapshotBuilder, ToaMode,
};
use dataplane::sync::{
    link, placement, ControlSync, DeleteReason, Install, Refusal, Role, Steering, SyncConfig,
    SyncEvent, SyncKind,
};
use dataplane::types::L4Proto;
use dataplane::wire::DropReason;
use dataplane::worker::{InstallOutcome, ReplySteering, Verdict, Worker, WorkerConfig};
use testkit::packet::*;
use testkit::topology::two_ports;

/// The services both gateways run; `reverse` adds them in the other order (other indices).
fn snapshot(reverse: bool) -> Snapshot {
    snapshot_with(reverse, &[])
}

/// The same, knowing `standby` as local addresses no service allocates from.
fn snapshot_with(reverse: bool, standby: &[&str]) -> Snapshot {
    let mut b = SnapshotBuilder::new(1);
    for a in standby {
        b.standby_laddr(ip(a));
    }
    two_ports(&mut b, true);
    for (prefix, len) in [("198.18.1.0", 24), ("2001:db8:1::", 64)] {
        b.route(Route {
            prefix: ip(prefix),
            len,
            port: 1,
            via: None,
        });
    }
    for last in 10u8..=16 {
        b.neighbour(ip(&format!("198.18.1.{last}")), backend_mac(last));
        b.neighbour(ip(&format!("2001:db8:1::{last}")), backend_mac(last));
    }
    let svc = |vip: &str, port: u16, proto: L4Proto, backends: &[(&str, u16, FwdMethod)]| {
        let mut s = ServiceSpec::new(ip(vip), port, proto);
        s.backends = backends
            .iter()
            .map(|&(a, p, m)| BackendSpec::new(ip(a), p, m))
            .collect();
        s
    };
    use FwdMethod::{Dr, FullNat, Nat, Tun};
    use L4Proto::{Tcp, Udp};
    let persist = |prefix_len| {
        Some(Persistence {
            timeout_s: 300,
            prefix_len,
        })
    };
    let mut all = vec![
        svc(
            "198.18.0.100",
            80,
            Tcp,
            &[("198.18.1.10", 80, Dr), ("198.18.1.15", 80, Dr)],
        ),
        svc("198.18.0.100", 53, Udp, &[("198.18.1.10", 53, Dr)]),
        svc(
            "198.18.0.101",
            80,
            Tcp,
            &[("198.18.1.11", 8080, Nat), ("198.18.1.12", 8080, Nat)],
        ),
        svc("198.18.0.101", 53, Udp, &[("198.18.1.11", 53, Nat)]),
        svc("198.18.0.102", 80, Tcp, &[("198.18.1.13", 80, Tun)]),
        svc("2001:db8::101", 80, Tcp, &[("2001:db8:1::11", 8080, Nat)]),
    ];
    let mut fnat = svc(
        "198.18.0.103",
        80,
        Tcp,
        &[
            ("198.18.1.14", 8080, FullNat),
            ("198.18.1.16", 8080, FullNat),
        ],
    );
    fnat.laddrs = vec![ip("198.18.1.200"), ip("198.18.1.201")];
    fnat.toa = ToaMode::Ack;
    all.push(fnat);
    let mut fnat_udp = svc("198.18.0.103", 53, Udp, &[("198.18.1.14", 53, FullNat)]);
    fnat_udp.laddrs = vec![ip("198.18.1.200")];
    all.push(fnat_udp);
    let mut pdr = svc(
        "198.18.0.104",
        0,
        Tcp,
        &[("198.18.1.10", 0, Dr), ("198.18.1.15", 0, Dr)],
    );
    pdr.persistence = persist(24);
    all.push(pdr);
    let mut pfnat = svc(
        "198.18.0.105",
        443,
        Tcp,
        &[
            ("198.18.1.14", 8443, FullNat),
            ("198.18.1.16", 8443, FullNat),
        ],
    );
    pfnat.laddrs = vec![ip("198.18.1.202")];
    pfnat.persistence = persist(32);
    all.push(pfnat);
    let mut fnat6 = svc(
        "2001:db8::103",
        80,
        Tcp,
        &[("2001:db8:1::14", 8080, FullNat)],
    );
    fnat6.laddrs = vec![ip("2001:db8:1::200")];
    all.push(fnat6);
    if reverse {
        all.reverse();
    }
    for s in all {
        b.service(s);
    }
    b.build()
}

/// A flow the tests open: client endpoint to a service.
#[derive(Clone, Copy, Debug)]
struct Flow {
    client: IpAddr,
    cport: u16,
    vip: IpAddr,
    vport: u16,
    tcp: bool,
    /// Replies come back through the gateway (NAT, FullNAT).
    replies: bool,
}

const SERVICES: &[(&str, u16, bool, bool)] = &[
    ("198.18.0.100", 80, true, false),   // DR
    ("198.18.0.100", 53, false, false),  // DR UDP
    ("198.18.0.101", 80, true, true),    // NAT
    ("198.18.0.101", 53, false, true),   // NAT UDP
    ("198.18.0.102", 80, true, false),   // TUN
    ("198.18.0.103", 80, true, true),    // FullNAT (TOA on the ACK)
    ("198.18.0.103", 53, false, true),   // FullNAT UDP
    ("198.18.0.104", 8000, true, false), // persistent DR, port 0, /24
    ("198.18.0.105", 443, true, true),   // persistent FullNAT /32
    ("2001:db8::101", 80, true, true),   // NAT v6
    ("2001:db8::103", 80, true, true),   // FullNAT v6
];

fn flows(per_service: u16, base_port: u16) -> Vec<Flow> {
    let mut v = Vec::new();
    for (k, &(vip, vport, tcp, replies)) in SERVICES.iter().enumerate() {
        for i in 0..per_service {
            let client = if vip.contains(':') {
                ip(&format!("2001:db8:ff::{:x}", 0x10 + i))
            } else {
                IpAddr::from([203, 0, 113, 10 + (i % 40) as u8])
            };
            v.push(Flow {
                client,
                cport: base_port + (k as u16) * 100 + i,
                vip: ip(vip),
                vport,
                tcp,
                replies,
            });
        }
    }
    v
}

impl Flow {
    fn packet(&self, flags: u8, payload: &[u8]) -> Vec<u8> {
        if self.tcp {
            tcp(
                FROM_CLIENT,
                self.client,
                self.vip,
                self.cport,
                self.vport,
                flags,
                payload,
            )
        } else {
            udp(
                FROM_CLIENT,
                self.client,
                self.vip,
                self.cport,
                self.vport,
                payload,
            )
        }
    }
}

/// One gateway: its workers, control's ends of their sync links, and its NIC's RSS.
struct Gateway {
    workers: Vec<Worker>,
    links: Vec<ControlSync>,
    steering: Steering,
    rss: Arc<RssSteer>,
}

impl Gateway {
    fn new(n: u16, seed: u64, cfg: SyncConfig) -> Gateway {
        let rss =
            Arc::new(RssSteer::new(&DEFAULT_KEY, &RssSteer::round_robin_reta(128, n)).unwrap());
        let mut workers = Vec::new();
        let mut links = Vec::new();
        for id in 0..n {
            let mut w = Worker::new(WorkerConfig {
                id,
                workers: n,
                seed: seed ^ u64::from(id).wrapping_mul(0x9e37_79b9),
                sessions4: 1 << 12,
                sessions6: 1 << 10,
                templates: 1 << 8,
                ..WorkerConfig::default()
            });
            let (ws, cs) = link(cfg);
            assert!(w.attach_sync(ws).is_none());
            workers.push(w);
            links.push(cs);
        }
        Gateway {
            workers,
            links,
            steering: Steering {
                workers: n,
                replies: ReplySteering::Modulo,
                inbound: Some(rss.clone()),
            },
            rss,
        }
    }

    /// The worker the NIC delivers `frame` to.
    fn nic(&self, frame: &[u8]) -> usize {
        let (s, d) = addrs(frame);
        let (sp, dp) = ports(frame);
        usize::from(self.rss.worker_of(s, d, sp, dp).unwrap())
    }

    /// Receive `frame` on `port` at `now`; follow redirects. Returns the verdict, the frame as
    /// sent and the worker that decided it.
    fn deliver(
        &mut self,
        snap: &Snapshot,
        now: u32,
        port: u8,
        frame: &[u8],
    ) -> (Verdict, Vec<u8>, usize) {
        let at = self.nic(frame);
        self.deliver_on(snap, now, port, frame, at)
    }

    /// [`Gateway::deliver`], the frame arriving on worker `at` whatever the NIC would do.
    fn deliver_on(
        &mut self,
        snap: &Snapshot,
        now: u32,
        port: u8,
        frame: &[u8],
        mut at: usize,
    ) -> (Verdict, Vec<u8>, usize) {
        let mut f = [VecFrame::new(frame)];
        let mut v = [Verdict::Drop(DropReason::NotForUs)];
        for _ in 0..4 {
            self.workers[at].process(snap, now, port, &mut f, &mut v);
            match v[0] {
                Verdict::Redirect(o) => at = usize::from(o),
                _ => return (v[0], bytes(&f[0]), at),
            }
        }
        panic!("redirect loop");
    }

    /// Every event the workers published, per worker in ring order.
    fn drain(&mut self) -> Vec<SyncEvent> {
        let mut out = Vec::new();
        for l in &mut self.links {
            while let Ok(e) = l.events.pop() {
                out.push(e);
            }
        }
        out
    }

    /// Control's job on the receiving side: place each event, queue it to its worker (and a
    /// stub to the worker the client's packets reach), then let the workers apply them.
    /// Returns how many installs were queued with each role.
    fn receive(&mut self, snap: &Snapshot, now: u32, events: &[SyncEvent]) -> (usize, usize) {
        let (mut homes, mut stubs) = (0, 0);
        for ev in events.iter().filter(|e| !e.is_marker()) {
            let p = placement(snap, ev, &self.steering).expect("service known here");
            let home = usize::from(p.home);
            self.links[home]
                .installs
                .push(Install {
                    event: *ev,
                    role: Role::Home,
                })
                .unwrap();
            homes += 1;
            for s in p.stub_workers(self.steering.workers) {
                self.links[usize::from(s)]
                    .installs
                    .push(Install {
                        event: *ev,
                        role: Role::Stub { home: p.home },
                    })
                    .unwrap();
                stubs += 1;
            }
            self.serve(snap, now);
        }
        (homes, stubs)
    }

    fn serve(&mut self, snap: &Snapshot, now: u32) {
        for w in &mut self.workers {
            while w.serve_sync(snap, now) > 0 {}
        }
    }

    fn counter(&self, f: impl Fn(&dataplane::counters::WorkerCounters) -> u64) -> u64 {
        self.workers.iter().map(|w| f(w.counters())).sum()
    }

    /// Every session (not stubs) as a comparable row, with its seconds left at `now`.
    fn table(&self, now: u32) -> BTreeMap<String, u32> {
        let mut t = BTreeMap::new();
        for w in &self.workers {
            rows(w.sessions4().iter().map(|(_, s)| s), now, &mut t);
            rows(w.sessions6().iter().map(|(_, s)| s), now, &mut t);
        }
        t
    }
}

fn rows<'a, A: SessionAddr>(
    it: impl Iterator<Item = &'a Session<A>>,
    now: u32,
    out: &mut BTreeMap<String, u32>,
) {
    for s in it.filter(|s| !s.is_sync_stub()) {
        let row = format!(
            "{:?} {:?} {:?}:{} {:?}:{} -> {:?}:{} via {:?}:{} {:?} flags {}",
            s.proto(),
            s.method(),
            s.client(),
            s.cport(),
            s.vip(),
            s.vport(),
            s.backend(),
            s.bport(),
            s.laddr(),
            s.lport(),
            s.state(),
            s.flags
        );
        assert!(
            out.insert(row, s.expires() - now).is_none(),
            "one session per key"
        );
    }
}

/// Open `f` on gateway `g` at `now`: SYN (or first datagram), the backend's answer where it
/// comes through the gateway, and the client's ACK. Returns the first frame as sent.
fn open(g: &mut Gateway, snap: &Snapshot, now: u32, f: &Flow) -> Vec<u8> {
    let (v, out, _) = g.deliver(snap, now, 0, &f.packet(SYN, &[]));
    assert!(matches!(v, Verdict::Tx(1)), "{f:?}: {v:?}");
    if f.replies {
        let (v, _, _) = g.deliver(snap, now, 1, &reply_to(&out, SYN | ACK, f.tcp));
        assert_eq!(v, Verdict::Tx(0), "{f:?}");
    }
    if f.tcp {
        let (v, _, _) = g.deliver(snap, now, 0, &f.packet(ACK, &[]));
        assert!(matches!(v, Verdict::Tx(1)), "{f:?}: {v:?}");
    }
    out
}

fn sync_cfg() -> SyncConfig {
    SyncConfig {
        events: 1 << 14,
        installs: 1 << 14,
        ..SyncConfig::default()
    }
}

#[test]
fn flows_move_to_a_gateway_with_other_workers_and_forward_alike() {
    let (snap_a, snap_b) = (snapshot(false), snapshot(true));
    let mut a = Gateway::new(2, 1, sync_cfg());
    let mut b = Gateway::new(3, 2, sync_cfg());
    let fl = flows(12, 30000);
    let mut first = Vec::new();
    for f in &fl {
        first.push(open(&mut a, &snap_a, 10, f));
    }
    let events = a.drain();
    assert_eq!(a.counter(|c| c.sync_overflows.get()), 0);
    let created = events
        .iter()
        .filter(|e| e.kind == SyncKind::Created && !e.template)
        .count();
    assert_eq!(created, fl.len(), "one creation per flow, short or not");
    assert!(
        events
            .iter()
            .any(|e| e.kind == SyncKind::Created && e.template),
        "persistence templates are published"
    );
    assert!(
        events
            .iter()
            .any(|e| e.kind == SyncKind::State && e.state == TcpState::Established),
        "the handshake's end is published"
    );

    let (homes, stubs) = b.receive(&snap_b, 20, &events);
    assert_eq!(homes, events.len());
    assert!(
        stubs > 0,
        "FullNAT flows whose clients land elsewhere on B get stubs"
    );
    assert_eq!(b.counter(|c| c.sync_refused.get()), 0);
    assert_eq!(b.counter(|c| c.sync_conflicts.get()), 0);
    assert_eq!(
        b.counter(|c| c.sync_installed.get() + c.sync_updated.get()),
        (homes + stubs) as u64,
        "every request applied"
    );
    assert_eq!(
        b.counter(|c| c.sync_events.get()),
        0,
        "installing echoes nothing"
    );
    // Same sessions, same states, same time left (10 s passed on both clocks).
    assert_eq!(b.table(20), a.table(10));

    // Mid-flow packets and replies: B sends what A sends, from the worker owning the session.
    for (f, out) in fl.iter().zip(&first) {
        let data = f.packet(PSH | ACK, &[0x5a; 100]);
        let (va, fa, _) = a.deliver(&snap_a, 11, 0, &data);
        let (vb, fb, wb) = b.deliver(&snap_b, 21, 0, &data);
        assert!(matches!(va, Verdict::Tx(1)), "{f:?}: {va:?}");
        assert_eq!(vb, va, "{f:?}");
        assert_eq!(fb, fa, "{f:?}: B rewrites the client's packet as A does");
        let ev = events
            .iter()
            .find(|e| e.kind == SyncKind::Created && e.client == f.client && e.cport == f.cport)
            .unwrap();
        let p = placement(&snap_b, ev, &b.steering).unwrap();
        assert_eq!(
            wb,
            usize::from(p.home),
            "{f:?}: handled by the session's worker"
        );
        if f.replies {
            let reply = reply_to(out, ACK | PSH, f.tcp);
            let (va, fa, _) = a.deliver(&snap_a, 11, 1, &reply);
            let (vb, fb, wb) = b.deliver(&snap_b, 21, 1, &reply);
            assert_eq!(va, Verdict::Tx(0), "{f:?}");
            assert_eq!(vb, va, "{f:?}");
            assert_eq!(fb, fa, "{f:?}: B rewrites the reply as A does");
            assert_eq!(
                wb,
                usize::from(p.home),
                "{f:?}: the reply reaches the owner"
            );
        }
    }
    // No new session was scheduled on B: every packet found the synced one.
    assert_eq!(b.counter(|c| c.sessions_created.get()), 0);
    assert!(b.counter(|c| c.redirected.get()) > 0);
}

/// A receiver that cannot tell which worker a client's packets reach (several workers, no RSS it
/// knows: AF_PACKET's fanout) puts a stub on every worker but the session's home, so a synced
/// flow's packets find their session whichever worker they arrive on, in every mode.
#[test]
fn unknown_inbound_steering_stubs_every_other_worker() {
    let (snap_a, snap_b) = (snapshot(false), snapshot(false));
    let mut a = Gateway::new(2, 1, sync_cfg());
    let mut b = Gateway::new(2, 2, sync_cfg());
    b.steering.inbound = None;
    let fl = flows(8, 31000);
    let mut first = Vec::new();
    for f in &fl {
        first.push(open(&mut a, &snap_a, 10, f));
    }
    let events = a.drain();
    let (_, stubs) = b.receive(&snap_b, 20, &events);
    assert!(
        stubs > 0,
        "flows without a NAT or persistence owner get stubs"
    );
    assert_eq!(b.counter(|c| c.sync_refused.get()), 0);
    assert_eq!(b.counter(|c| c.sync_conflicts.get()), 0);
    for f in &fl {
        let data = f.packet(PSH | ACK, &[0x5a; 100]);
        let (va, fa, _) = a.deliver(&snap_a, 11, 0, &data);
        assert!(matches!(va, Verdict::Tx(_)), "{f:?}: {va:?}");
        for w in 0..2 {
            let (vb, fb, _) = b.deliver_on(&snap_b, 21, 0, &data, w);
            assert_eq!(vb, va, "{f:?} arriving on worker {w}");
            assert_eq!(fb, fa, "{f:?} arriving on worker {w}: rewritten as on A");
        }
    }
}

#[test]
fn deletions_propagate() {
    let snap = snapshot(false);
    let mut a = Gateway::new(2, 3, sync_cfg());
    let mut b = Gateway::new(3, 4, sync_cfg());
    let fl = flows(4, 31000);
    for f in &fl {
        open(&mut a, &snap, 10, f);
    }
    let ev = a.drain();
    b.receive(&snap, 10, &ev);
    let live = b.table(10).len();
    assert_eq!(live, fl.len());
    // A client resets its TCP flows: CLOSE (10 s) on A, published, and so on B.
    for f in fl.iter().filter(|f| f.tcp) {
        let (v, _, _) = a.deliver(&snap, 12, 0, &f.packet(RST, &[]));
        assert!(matches!(v, Verdict::Tx(_)), "{f:?}: {v:?}");
    }
    let ev = a.drain();
    assert!(ev
        .iter()
        .all(|e| e.kind == SyncKind::State && e.state == TcpState::Close));
    b.receive(&snap, 12, &ev);
    let closed = b
        .table(12)
        .iter()
        .filter(|(row, left)| row.contains("Close") && **left == 10)
        .count();
    assert_eq!(closed, fl.iter().filter(|f| f.tcp).count());
    // Everything expires on A; the deletions remove B's copies (B's own timers not run).
    for w in &mut a.workers {
        for _ in 0..100 {
            w.tick(5000);
        }
    }
    let ev = a.drain();
    let deleted = ev
        .iter()
        .filter(|e| e.kind == SyncKind::Deleted(DeleteReason::Expired) && !e.template)
        .count();
    assert_eq!(deleted, fl.len());
    let (homes, stubs) = b.receive(&snap, 5000, &ev);
    assert!(b.table(5000).is_empty(), "{:?}", b.table(5000));
    assert!(stubs > 0);
    assert_eq!(
        b.counter(|c| c.sync_removed.get()),
        (homes + stubs) as u64,
        "each session and each stub removed"
    );
    assert!(
        b.workers
            .iter()
            .all(|w| w.sessions4().is_empty() && w.sessions6().is_empty()),
        "stubs go with their sessions"
    );
}

#[test]
fn full_dump_rebuilds_the_table_after_lost_events() {
    let snap = snapshot(false);
    // A ring far too small for the flows: most events are lost, and counted.
    let small = SyncConfig {
        events: 64,
        dump_step: 100,
        dump_interval_s: 30,
        ..sync_cfg()
    };
    let mut a = Gateway::new(2, 5, small);
    let fl = flows(30, 32000);
    for f in &fl {
        open(&mut a, &snap, 10, f);
    }
    let lost = a.counter(|c| c.sync_overflows.get());
    assert!(lost > 100, "{lost} events lost");
    assert_eq!(a.counter(|c| c.sync_events.get()), 128, "two full rings");
    a.drain();

    for l in &a.links {
        l.request_dump();
    }
    // Control drains while the workers dump in bounded steps (a quarter of the ring kept free).
    let mut dumped = Vec::new();
    let mut steps = 0;
    while a.links.iter().any(|l| l.dumps_done() == 0) {
        for (w, l) in a.workers.iter_mut().zip(&mut a.links) {
            w.serve_sync(&snap, 40);
            let mut got = 0;
            while let Ok(e) = l.events.pop() {
                dumped.push(e);
                got += 1;
            }
            assert!(
                got <= 48,
                "a step leaves a quarter of the ring to live events"
            );
        }
        steps += 1;
        assert!(steps < 10_000);
    }
    assert!(steps > 10, "the dump is paced over {steps} steps");
    let begins = dumped
        .iter()
        .filter(|e| e.kind == SyncKind::DumpBegin)
        .count();
    let ends = dumped
        .iter()
        .filter(|e| e.kind == SyncKind::DumpEnd)
        .count();
    assert_eq!((begins, ends), (2, 2));
    assert!(dumped
        .iter()
        .filter(|e| !e.is_marker())
        .all(|e| e.kind == SyncKind::Dump));

    let mut b = Gateway::new(3, 6, sync_cfg());
    let snap_b = snapshot(true);
    let (homes, stubs) = b.receive(&snap_b, 50, &dumped);
    assert_eq!(b.counter(|c| c.sync_refused.get()), 0);
    assert_eq!(
        b.counter(|c| c.sync_installed.get() + c.sync_updated.get()),
        (homes + stubs) as u64
    );
    assert_eq!(b.table(50), a.table(40), "the dump reproduces A's sessions");
    assert_eq!(b.table(50).len(), fl.len());
    assert!(dumped.iter().any(|e| e.template), "templates are dumped");

    // Asked again at once: the next dump waits for the interval.
    for l in &a.links {
        l.request_dump();
    }
    for w in &mut a.workers {
        w.serve_sync(&snap, 41);
    }
    assert!(a.drain().is_empty(), "paced: no second dump within 30 s");
    for w in &mut a.workers {
        w.serve_sync(&snap, 70);
    }
    assert!(a
        .drain()
        .iter()
        .any(|e| e.kind == SyncKind::DumpBegin && e.timeout == 2));
}

#[test]
fn install_rules_update_conflict_refuse() {
    let snap = snapshot(false);
    let mut a = Gateway::new(1, 7, sync_cfg());
    let mut b = Gateway::new(1, 8, sync_cfg());
    // NAT, two backends in rr: A's first flow goes to .11; B schedules the same client
    // endpoint itself first (to .11 too), then its second flow to .12.
    let f = Flow {
        client: ip("203.0.113.77"),
        cport: 40000,
        vip: ip("198.18.0.101"),
        vport: 80,
        tcp: true,
        replies: true,
    };
    let g = Flow { cport: 40001, ..f };
    open(&mut a, &snap, 10, &g); // A: g -> .11
    open(&mut a, &snap, 10, &f); // A: f -> .12
    open(&mut b, &snap, 10, &f); // B: f -> .11
    let ev = a.drain();
    let created_f = *ev
        .iter()
        .find(|e| e.kind == SyncKind::Created && e.cport == f.cport)
        .unwrap();
    assert_eq!(created_f.backend, ip("198.18.1.12"));
    let before = b.table(10);
    let w = &mut b.workers[0];
    let home = |e: SyncEvent| Install {
        event: e,
        role: Role::Home,
    };
    assert_eq!(
        w.install(&snap, 10, &home(created_f)),
        InstallOutcome::Conflict
    );
    assert_eq!(w.counters().sync_conflicts.get(), 1);
    assert_eq!(b.table(10), before, "the local session wins");

    // g is new on B: installed, then updated by a later state.
    let w = &mut b.workers[0];
    let created_g = *ev
        .iter()
        .find(|e| e.kind == SyncKind::Created && e.cport == g.cport)
        .unwrap();
    assert_eq!(
        w.install(&snap, 10, &home(created_g)),
        InstallOutcome::Installed
    );
    let mut later = created_g;
    later.kind = SyncKind::State;
    later.state = TcpState::FinWait;
    later.timeout = 100;
    assert_eq!(w.install(&snap, 11, &home(later)), InstallOutcome::Updated);
    let s = w
        .sessions4()
        .iter()
        .map(|(_, s)| *s)
        .find(|s| s.cport() == g.cport)
        .unwrap();
    assert_eq!((s.state(), s.expires()), (TcpState::FinWait, 111));
    // An expiry of a copy that is not due here is not applied; a removal is.
    let mut expired = later;
    expired.kind = SyncKind::Deleted(DeleteReason::Expired);
    assert_eq!(
        w.install(&snap, 12, &home(expired)),
        InstallOutcome::Ignored
    );
    let mut removed = later;
    removed.kind = SyncKind::Deleted(DeleteReason::Removed);
    assert_eq!(
        w.install(&snap, 12, &home(removed)),
        InstallOutcome::Removed
    );

    // Refusals: unknown backend, unknown service, a local address not ours, mixed families.
    let mut bad = created_g;
    bad.backend = ip("198.18.1.99");
    let refused = |e| InstallOutcome::Refused(e);
    assert_eq!(
        w.install(&snap, 12, &home(bad)),
        refused(Refusal::NoBackend)
    );
    bad = created_g;
    bad.vport = 81;
    assert_eq!(
        w.install(&snap, 12, &home(bad)),
        refused(Refusal::NoService)
    );
    bad = created_g;
    bad.bport = 9999;
    assert_eq!(
        w.install(&snap, 12, &home(bad)),
        refused(Refusal::NoBackend)
    );
    bad = created_g;
    bad.vip = ip("2001:db8::101");
    assert_eq!(
        w.install(&snap, 12, &home(bad)),
        refused(Refusal::Malformed)
    );
    assert_eq!(w.counters().sync_refused.get(), 4);

    // A FullNAT session on a worker that does not own its local port is refused.
    let mut two = Gateway::new(2, 9, sync_cfg());
    let h = Flow {
        vip: ip("198.18.0.103"),
        ..f
    };
    open(&mut a, &snap, 10, &h);
    let fnat = *a
        .drain()
        .iter()
        .find(|e| e.kind == SyncKind::Created && e.method == FwdMethod::FullNat)
        .unwrap();
    let owner = usize::from(fnat.lport % 2);
    let other = &mut two.workers[1 - owner];
    assert_eq!(
        other.install(&snap, 10, &home(fnat)),
        refused(Refusal::Misplaced)
    );
    let mut not_ours = fnat;
    not_ours.laddr = ip("198.18.1.250");
    assert_eq!(
        two.workers[owner].install(&snap, 10, &home(not_ours)),
        refused(Refusal::NoLocalAddress)
    );
    assert_eq!(
        two.workers[owner].install(&snap, 10, &home(fnat)),
        InstallOutcome::Installed
    );
    // Its local port is now taken on B, in the owner's table.
    assert!(two.workers[owner]
        .sessions4()
        .iter()
        .any(|(_, s)| s.lport() == fnat.lport && IpAddr::V4(s.laddr()) == fnat.laddr));
}

/// ECMP FullNAT takeover (docs/ecmp.md): a session another gateway made from its own local
/// address is installed where that address is a standby local address, refused where it is
/// unknown.
#[test]
fn synced_fullnat_session_through_a_standby_local_address_is_installed() {
    let snap = snapshot(false);
    let mut a = Gateway::new(1, 21, sync_cfg());
    let f = Flow {
        client: ip("203.0.113.9"),
        cport: 41007,
        vip: ip("198.18.0.103"),
        vport: 80,
        tcp: true,
        replies: false,
    };
    open(&mut a, &snap, 10, &f);
    let mut ev = *a
        .drain()
        .iter()
        .find(|e| e.kind == SyncKind::Created && e.method == FwdMethod::FullNat)
        .unwrap();
    // Made by another gateway, from its own local address.
    ev.laddr = ip("198.18.1.250");
    let home = Install {
        event: ev,
        role: Role::Home,
    };
    let mut b = Gateway::new(1, 22, sync_cfg());
    assert_eq!(
        b.workers[0].install(&snap, 10, &home),
        InstallOutcome::Refused(Refusal::NoLocalAddress)
    );
    let standby = snapshot_with(false, &["198.18.1.250"]);
    assert_eq!(
        b.workers[0].install(&standby, 10, &home),
        InstallOutcome::Installed
    );
    assert!(b.workers[0]
        .sessions4()
        .iter()
        .any(|(_, s)| s.lport() == ev.lport && IpAddr::V4(s.laddr()) == ev.laddr));
}

#[test]
fn synced_session_without_route_is_refused() {
    let snap = snapshot(false);
    let mut a = Gateway::new(1, 10, sync_cfg());
    let f = Flow {
        client: ip("203.0.113.9"),
        cport: 41000,
        vip: ip("198.18.0.100"),
        vport: 80,
        tcp: true,
        replies: false,
    };
    open(&mut a, &snap, 10, &f);
    let ev = a.drain()[0];
    // B knows the service but has not resolved the backend's neighbour.
    let mut bld = SnapshotBuilder::new(1);
    bld.port(PortInfo {
        mac: port_mac(0),
        addrs4: vec!["198.18.0.1".parse().unwrap()],
        addrs6: vec![],
        mtu: 1500,
    });
    bld.route(Route {
        prefix: ip("198.18.1.0"),
        len: 24,
        port: 0,
        via: None,
    });
    let mut s = ServiceSpec::new(ip("198.18.0.100"), 80, L4Proto::Tcp);
    s.backends = vec![BackendSpec::new(ip("198.18.1.10"), 80, FwdMethod::Dr)];
    bld.service(s);
    let unresolved = bld.build();
    let mut w = Worker::new(WorkerConfig::default());
    let out = w.install(
        &unresolved,
        10,
        &Install {
            event: ev,
            role: Role::Home,
        },
    );
    assert_eq!(out, InstallOutcome::Refused(Refusal::NoRoute));
    assert!(w.sessions4().is_empty());
}

/// A peer that sends no client-side hint (as the wire record may leave it out) nor NAT's
/// reply endpoint: the session learns where its client is from the client's first packet
/// here, and drops replies until then rather than send them nowhere.
#[test]
fn client_side_is_learnt_when_the_peer_gives_none() {
    let snap = snapshot(false);
    let mut a = Gateway::new(1, 11, sync_cfg());
    let mut b = Gateway::new(1, 12, sync_cfg());
    let f = Flow {
        client: ip("203.0.113.50"),
        cport: 42000,
        vip: ip("198.18.0.101"),
        vport: 80,
        tcp: true,
        replies: true,
    };
    let out = open(&mut a, &snap, 10, &f);
    let mut ev: Vec<SyncEvent> = a.drain();
    for e in &mut ev {
        e.client_mac = [0; 6];
        e.client_port = 0;
        e.laddr = ip("0.0.0.0");
        e.lport = 0;
    }
    b.receive(&snap, 10, &ev);
    assert_eq!(b.counter(|c| c.sync_refused.get()), 0);
    let reply = reply_to(&out, ACK, true);
    let (v, _, _) = b.deliver(&snap, 11, 1, &reply);
    assert_eq!(
        v,
        Verdict::Drop(DropReason::NoRoute),
        "no next hop to the client yet"
    );
    // The client's next packet, from another router MAC on port 0, teaches the session.
    let mut data = f.packet(PSH | ACK, &[1; 10]);
    let router = [2, 0, 0, 0, 0, 0xc9];
    data[6..12].copy_from_slice(&router);
    let (v, _, _) = b.deliver(&snap, 11, 0, &data);
    assert_eq!(v, Verdict::Tx(1));
    let (v, sent, _) = b.deliver(&snap, 11, 1, &reply);
    assert_eq!(v, Verdict::Tx(0));
    assert_eq!(
        sent[..6],
        router,
        "replies go to where the client's packets came from"
    );
    let (_, fa, _) = a.deliver(&snap, 11, 1, &reply);
    assert_eq!(sent[6..], fa[6..], "and are rewritten as on A");
}
