//! Proves the hot path never allocates: a counting global allocator is armed on this thread
//! while thousands of frames of every kind go through `Worker::process` and `Worker::tick`.
//!
//! What runs armed: new flows (TCP SYNs and UDP) to every mode of both families, mid-flow ACKs
//! that open sessions on a Maglev DR service (`sloppy_tcp`), persistence,
//! the sorry server, established client packets (the first FullNAT ACK inserts TOA), NAT and
//! FullNAT replies, ICMP errors both ways, echo to VIPs, TUN "fragmentation needed", ARP, ND,
//! local traffic, unresolved next hops, fragmented UDP datagrams, every kind of drop, redirects to another worker, and
//! expiry of every session. What runs before arming: the worker's construction, and one burst
//! so the worker syncs to the snapshot generation (its one allocation per configuration).
//! Session sync is on: every event goes through the workers' rings, a third worker installs
//! what the first publishes (sessions, templates, state changes, deletions), and a full dump
//! runs, all armed.
//!
//! The counting allocator is the `allocation-counter` crate's (it counts this thread only),
//! so this test needs no hand-written global allocator.

use std::net::IpAddr;

use dataplane::frame::VecFrame;
use dataplane::fuzzing::snapshot;
use dataplane::snapshot::Snapshot;
use dataplane::sync::{link, ControlSync, Install, Role, SyncConfig};
use dataplane::wire::DropReason;
use dataplane::worker::{Verdict, Worker, WorkerConfig};
use testkit::packet::*;

const BURST: usize = 32;

/// Runs template frames through a worker in bursts, reusing preallocated frames.
struct Driver {
    frames: Vec<VecFrame>,
    verdicts: [Verdict; BURST],
    /// Verdict kinds seen: Tx, Punt, Redirect, Drop.
    seen: [usize; 4],
}

impl Driver {
    fn new() -> Self {
        Driver {
            frames: (0..BURST).map(|_| VecFrame::new(&[])).collect(),
            verdicts: [Verdict::Drop(DropReason::NotForUs); BURST],
            seen: [0; 4],
        }
    }

    /// Push `templates` (all received on `port`) through `w` in bursts at time `now`, calling
    /// `tick` after each burst as the worker loop does.
    fn run(&mut self, w: &mut Worker, snap: &Snapshot, now: u32, port: u8, templates: &[Vec<u8>]) {
        for chunk in templates.chunks(BURST) {
            for (f, t) in self.frames.iter_mut().zip(chunk) {
                assert!(f.reset(t));
            }
            let n = chunk.len();
            w.process(
                snap,
                now,
                port,
                &mut self.frames[..n],
                &mut self.verdicts[..n],
            );
            for v in &self.verdicts[..n] {
                let k = match v {
                    Verdict::Tx(_) | Verdict::TxFragment { .. } => 0,
                    Verdict::Punt(_) => 1,
                    Verdict::Redirect(_) => 2,
                    Verdict::Drop(_) => 3,
                };
                self.seen[k] += 1;
            }
            w.tick(now);
        }
    }

    /// Like [`Driver::run`] but return the frames as the gateway sent them (unarmed only).
    fn run_collect(
        &mut self,
        w: &mut Worker,
        snap: &Snapshot,
        now: u32,
        port: u8,
        templates: &[Vec<u8>],
    ) -> Vec<(Verdict, Vec<u8>)> {
        let mut out = Vec::new();
        for chunk in templates.chunks(BURST) {
            for (f, t) in self.frames.iter_mut().zip(chunk) {
                assert!(f.reset(t));
            }
            let n = chunk.len();
            w.process(
                snap,
                now,
                port,
                &mut self.frames[..n],
                &mut self.verdicts[..n],
            );
            for (v, f) in self.verdicts[..n].iter().zip(&self.frames) {
                out.push((*v, bytes(f)));
            }
        }
        out
    }
}

/// A service the test opens flows to.
struct Target {
    vip: &'static str,
    vport: u16,
    tcp: bool,
    /// Replies come back through the gateway (NAT, FullNAT).
    replies: bool,
}

const fn t(vip: &'static str, vport: u16, tcp: bool, replies: bool) -> Target {
    Target {
        vip,
        vport,
        tcp,
        replies,
    }
}

const TARGETS: &[Target] = &[
    t("198.18.0.100", 80, true, false),  // DR
    t("198.18.0.100", 53, false, false), // DR UDP
    t("198.18.0.101", 80, true, true),   // NAT
    t("198.18.0.101", 53, false, true),  // NAT UDP
    t("198.18.0.102", 80, true, false),  // TUN
    t("198.18.0.103", 80, true, true),   // FullNAT (TOA on ACK)
    t("198.18.0.103", 53, false, true),  // FullNAT UDP
    t("198.18.0.104", 443, true, false), // persistent DR
    t("198.18.0.105", 80, true, false),  // TUN to the small-MTU network
    t("198.18.0.107", 80, true, false),  // sorry server
    t("198.18.0.109", 80, true, true),   // Maglev FullNAT (TOA on SYN) / no route
    t("2001:db8::100", 80, true, false), // DR v6
    t("2001:db8::101", 80, true, true),  // NAT v6
    t("2001:db8::101", 53, false, true), // NAT v6 UDP
    t("2001:db8::103", 80, true, true),  // FullNAT v6
    t("2001:db8::103", 53, false, true), // FullNAT v6 UDP
];

fn client(v6: bool, i: u32) -> IpAddr {
    if v6 {
        IpAddr::from(std::net::Ipv6Addr::from(
            0x2001_0db8_00ff_0000_0000_0000_0000_0000u128 + u128::from(i),
        ))
    } else {
        IpAddr::from(std::net::Ipv4Addr::from(0xcb00_7100 + (i % 200)))
    }
}

fn first(t: &Target, c: IpAddr, port: u16) -> Vec<u8> {
    if t.tcp {
        tcp(FROM_CLIENT, c, ip(t.vip), port, t.vport, SYN, &[])
    } else {
        udp(FROM_CLIENT, c, ip(t.vip), port, t.vport, b"query")
    }
}

/// Control's part of sync between two workers as if on two gateways: move `from`'s events to
/// `to`'s install ring (what the ring cannot take is dropped, as a lossy channel would), and
/// let `receiver` apply them. Returns the events moved.
fn relay(
    from: &mut ControlSync,
    to: &mut ControlSync,
    receiver: &mut Worker,
    snap: &Snapshot,
    now: u32,
) -> usize {
    let mut n = 0;
    while let Ok(event) = from.events.pop() {
        n += 1;
        let _ = to.installs.push(Install {
            event,
            role: Role::Home,
        });
        if to.installs.is_full() {
            while receiver.serve_sync(snap, now) > 0 {}
        }
    }
    while receiver.serve_sync(snap, now) > 0 {}
    n
}

#[test]
fn hot_path_does_not_allocate() {
    let snap = snapshot();
    let mut w = Worker::new(WorkerConfig::default());
    // A second worker of two, for redirects.
    let mut w2 = Worker::new(WorkerConfig {
        workers: 2,
        ..WorkerConfig::default()
    });
    // A worker of another gateway that installs what `w` publishes.
    let mut w3 = Worker::new(WorkerConfig::default());
    let cfg = SyncConfig {
        events: 1 << 12,
        installs: 1 << 10,
        ..SyncConfig::default()
    };
    let (l1, mut c1) = link(cfg);
    let (l2, mut c2) = link(cfg);
    let (l3, mut c3) = link(cfg);
    w.attach_sync(l1);
    w2.attach_sync(l2);
    w3.attach_sync(l3);
    let mut d = Driver::new();

    // ---- Unarmed: open flows, learn what the gateway sent, build every template. ----
    const FLOWS: u32 = 48;
    let mut warm = Vec::new();
    let mut flow_ids = Vec::new();
    for (k, tg) in TARGETS.iter().enumerate() {
        let v6 = tg.vip.contains(':');
        for i in 0..FLOWS {
            let c = client(v6, i);
            let port = 20000 + (k as u16) * 100 + i as u16;
            warm.push(first(tg, c, port));
            flow_ids.push((k, c, port));
        }
    }
    let sent = d.run_collect(&mut w, &snap, 1, 0, &warm);
    let mut established = Vec::new();
    let mut replies = Vec::new();
    let mut icmp_from_backends = Vec::new();
    let mut icmp_from_clients = Vec::new();
    for ((k, c, port), (v, out)) in flow_ids.iter().zip(&sent) {
        let tg = &TARGETS[*k];
        let vip = ip(tg.vip);
        if tg.tcp {
            established.push(tcp(FROM_CLIENT, *c, vip, *port, tg.vport, ACK, &[]));
            established.push(tcp(
                FROM_CLIENT,
                *c,
                vip,
                *port,
                tg.vport,
                PSH | ACK,
                &[7; 200],
            ));
            // Too big for the small-MTU TUN network: fragmentation needed.
            established.push(tcp(FROM_CLIENT, *c, vip, *port, tg.vport, ACK, &[7; 700]));
        } else {
            established.push(udp(FROM_CLIENT, *c, vip, *port, tg.vport, b"again"));
        }
        let reply_seen = if tg.tcp {
            tcp(FROM_CLIENT, vip, *c, tg.vport, *port, SYN | ACK, &[])
        } else {
            udp(FROM_CLIENT, vip, *c, tg.vport, *port, b"answer")
        };
        let router = if c.is_ipv4() {
            ip("203.0.113.1")
        } else {
            ip("2001:db8:ff::1")
        };
        icmp_from_clients.push(icmp_error_quoting(FROM_CLIENT, router, vip, &reply_seen, 8));
        if tg.replies && matches!(v, Verdict::Tx(1)) {
            replies.push(reply_to(out, if tg.tcp { SYN | ACK } else { 0 }, tg.tcp));
            replies.push(reply_to(out, if tg.tcp { ACK | PSH } else { 0 }, tg.tcp));
            let (gw, _) = addrs(out);
            let router = if gw.is_ipv4() {
                ip("198.18.1.1")
            } else {
                ip("2001:db8:1::fe")
            };
            icmp_from_backends.push(icmp_error_quoting(from_backend(1), router, gw, out, 8));
        }
    }
    // New flows to open while armed: fresh client ports for every target.
    let mut new_flows = Vec::new();
    for (k, tg) in TARGETS.iter().enumerate() {
        let v6 = tg.vip.contains(':');
        for i in 0..160u32 {
            new_flows.push(first(
                tg,
                client(v6, i),
                40000 + (k as u16) * 1000 + i as u16,
            ));
        }
    }
    // Fragmented UDP datagrams (2000 bytes in 3 fragments) to every UDP target: the first
    // fragment opens or finds the session and fills the fragment table, the later ones follow
    // it; the same fragments again later hit (or find expired) entries.
    let mut fragmented = Vec::new();
    for (k, tg) in TARGETS.iter().enumerate().filter(|(_, t)| !t.tcp) {
        let v6 = tg.vip.contains(':');
        for i in 0..16u32 {
            let sport = 20000 + (k as u16) * 100 + i as u16;
            let f = udp(
                FROM_CLIENT,
                client(v6, i),
                ip(tg.vip),
                sport,
                tg.vport,
                &[9; 2000],
            );
            fragmented.extend(fragment(&f, 800, 1000 * k as u32 + i));
        }
    }
    // Mid-flow ACKs of flows this gateway never saw, to a Maglev DR service: each opens a
    // session (`sloppy_tcp`); later rounds hit those sessions.
    let mid_flow: Vec<Vec<u8>> = (0..160u16)
        .map(|i| {
            let c = client(false, u32::from(i));
            tcp(
                FROM_CLIENT,
                c,
                ip("198.18.0.110"),
                30000 + i,
                80,
                PSH | ACK,
                &[7; 20],
            )
        })
        .collect();
    // Punts, echo and drops of every kind.
    let c4 = ip("203.0.113.50");
    let c6 = ip("2001:db8:ff::50");
    let syn4 = tcp(FROM_CLIENT, c4, ip("198.18.0.101"), 1234, 80, SYN, &[]);
    let mut bad_csum = syn4.clone();
    bad_csum[24] ^= 0xff;
    let mut ethertype = syn4.clone();
    ethertype[12..14].copy_from_slice(&[0x88, 0xcc]);
    let vlan = vlan(&syn4, 0x0064);
    let mut others = vec![
        arp_request([203, 0, 113, 50], [198, 18, 0, 100]),
        neighbour_solicitation(c6, ip("2001:db8::100")),
        icmp(
            FROM_CLIENT,
            c4,
            ip("198.18.0.100"),
            8,
            0,
            [0, 1, 0, 1],
            b"ping",
        ),
        icmp(
            FROM_CLIENT,
            c6,
            ip("2001:db8::103"),
            128,
            0,
            [0, 1, 0, 1],
            b"ping",
        ),
        icmp(
            FROM_CLIENT,
            c4,
            ip("198.18.0.1"),
            8,
            0,
            [0, 1, 0, 1],
            b"ping",
        ),
        icmp(
            FROM_CLIENT,
            c4,
            ip("198.18.0.100"),
            13,
            0,
            [0; 4],
            b"tstamp",
        ),
        tcp(FROM_CLIENT, c4, ip("198.18.0.1"), 1234, 22, SYN, &[]),
        tcp(FROM_CLIENT, c4, ip("198.18.0.106"), 1234, 80, SYN, &[]), // unresolved
        tcp(FROM_CLIENT, c4, ip("198.18.0.108"), 1234, 80, SYN, &[]), // no backend
        tcp(FROM_CLIENT, c4, ip("198.18.0.100"), 1234, 81, SYN, &[]), // no service
        tcp(FROM_CLIENT, c4, ip("198.51.100.7"), 1234, 80, SYN, &[]), // not for us
        tcp(FROM_CLIENT, c4, ip("198.18.0.103"), 1234, 80, ACK, &[]), // not a SYN
        tcp(FROM_CLIENT, c6, ip("2001:db8::102"), 1234, 80, SYN, &[]), // TUN v6
        tcp_ttl(FROM_CLIENT, c4, ip("198.18.0.101"), 1235, 80, SYN, &[], 1),
        tcp(from_backend(11), ip("198.18.1.11"), c4, 8080, 9, ACK, &[]), // no session
        tcp(
            from_backend(14),
            ip("198.18.1.14"),
            ip("198.18.1.200"),
            8080,
            9,
            ACK,
            &[],
        ),
        icmp_error_quoting(FROM_CLIENT, c4, ip("198.18.0.100"), &syn4, 8), // no session
        bad_csum,
        ethertype,
        vlan,
        syn4[..10].to_vec(),
    ];
    others.extend(std::iter::repeat_n(others.clone(), 3).flatten());

    // One burst per worker before arming: the generation sync builds scheduler state.
    d.run(&mut w2, &snap, 1, 0, &others[..1]);
    w3.sync(&snap);
    let warm_events = relay(&mut c1, &mut c3, &mut w3, &snap, 1);

    // The counter sees allocations made while measuring (and only then).
    let probe = allocation_counter::measure(|| {
        drop(std::hint::black_box(Vec::<u8>::with_capacity(64)));
    });
    assert_eq!(probe.count_total, 1, "the counting allocator is not in use");

    // ---- Measured: everything below must not allocate. ----
    let mut peak4 = 0;
    let mut peak6 = 0;
    let mut relayed = warm_events;
    let mut dump_steps = 0;
    let info = allocation_counter::measure(|| {
        let mut now = 2;
        for _ in 0..3 {
            d.run(&mut w, &snap, now, 0, &new_flows);
            relayed += relay(&mut c1, &mut c3, &mut w3, &snap, now);
            d.run(&mut w, &snap, now, 0, &established);
            relayed += relay(&mut c1, &mut c3, &mut w3, &snap, now);
            d.run(&mut w, &snap, now, 0, &mid_flow);
            d.run(&mut w, &snap, now, 0, &fragmented);
            d.run(&mut w, &snap, now, 1, &replies);
            d.run(&mut w, &snap, now, 1, &icmp_from_backends);
            d.run(&mut w, &snap, now, 0, &icmp_from_clients);
            d.run(&mut w, &snap, now, 0, &others);
            relayed += relay(&mut c1, &mut c3, &mut w3, &snap, now);
            d.run(&mut w2, &snap, now, 0, &new_flows);
            d.run(&mut w2, &snap, now, 1, &replies);
            while c2.events.pop().is_ok() {}
            now += 1;
        }
        // A full dump of `w`, paced, installed on `w3` as it comes.
        c1.request_dump();
        while c1.dumps_done() == 0 && dump_steps < 100_000 {
            w.serve_sync(&snap, now);
            relayed += relay(&mut c1, &mut c3, &mut w3, &snap, now);
            dump_steps += 1;
        }
        peak4 = w.sessions4().len();
        peak6 = w.sessions6().len();
        // Let every session and template expire; the deletions reach `w3`.
        now += 100_000;
        for _ in 0..10_000 {
            w.tick(now);
            w2.tick(now);
            // The deletions first, so they find `w3`'s copies before its own expiry does.
            relayed += relay(&mut c1, &mut c3, &mut w3, &snap, now);
            w3.tick(now);
            while c2.events.pop().is_ok() {}
            if w.sessions4().is_empty()
                && w.sessions6().is_empty()
                && w2.sessions4().is_empty()
                && w3.sessions4().is_empty()
                && w3.sessions6().is_empty()
            {
                break;
            }
        }
    });
    let allocs = info.count_total;
    // The fragments went through the fragment path: each round's first fragments were
    // tracked and no later fragment missed its entry.
    let udp_targets = TARGETS.iter().filter(|t| !t.tcp).count() as u64;
    assert_eq!(w.counters().fragments_tracked.get(), 3 * 16 * udp_targets);
    assert_eq!(
        w.counters().drops[DropReason::FragmentNoSession.index()].get(),
        0
    );
    // Frees without allocations show up as a negative current count.
    let frees = u64::try_from(-info.count_current.min(0)).unwrap_or(0);

    let frames: usize = d.seen.iter().sum();
    println!(
        "armed: {frames} frames (tx {}, punt {}, redirect {}, drop {}), peak sessions {peak4} v4 \
         {peak6} v6, {allocs} allocations, {frees} frees",
        d.seen[0], d.seen[1], d.seen[2], d.seen[3]
    );
    assert_eq!(allocs, 0, "the hot path allocated");
    assert_eq!(frees, 0, "the hot path freed memory");
    // The test is only as good as its coverage of the pipeline.
    assert!(frames > 10_000, "{frames} frames");
    assert!(
        d.seen.iter().all(|&n| n > 0),
        "verdict kinds seen: {:?}",
        d.seen
    );
    assert!(peak4 > 1000 && peak6 > 100, "{peak4} {peak6}");
    let c = w.counters();
    assert!(c.sessions_created.get() > 2000);
    assert!(c.icmp_translated.get() > 0);
    assert!(c.icmp_echo_answered.get() > 0);
    assert!(c.toa_inserted.get() > 0);
    assert_eq!(c.sessions_mid_flow.get(), mid_flow.len() as u64);
    assert_eq!(c.sessions_expired.get(), c.sessions_created.get());
    assert!(w.sessions4().is_empty() && w.sessions6().is_empty());
    // Sync ran armed: events, installs, updates, deletions and one full dump.
    assert!(c.sync_events.get() > 2000, "{}", c.sync_events.get());
    assert_eq!(relayed as u64, c.sync_events.get());
    assert_eq!(c1.dumps_done(), 1, "{dump_steps} dump steps");
    let r = w3.counters();
    println!(
        "sync: {} events, {} overflows; installed {}, updated {}, removed {}, conflicts {}, \
         refused {}",
        c.sync_events.get(),
        c.sync_overflows.get(),
        r.sync_installed.get(),
        r.sync_updated.get(),
        r.sync_removed.get(),
        r.sync_conflicts.get(),
        r.sync_refused.get()
    );
    assert!(r.sync_installed.get() > 1000);
    assert!(r.sync_updated.get() > 1000);
    assert!(r.sync_removed.get() > 0);
    assert!(w3.sessions4().is_empty() && w3.sessions6().is_empty());
}

/// The RSS-aware local-port choice (a hashed scan per new FullNAT flow) and its ownership
/// checks allocate nothing either: worker 1 of 4 opens FullNAT flows of both families and
/// protocols, takes their replies, and redirects replies and ICMP errors of other workers.
#[test]
fn rss_aware_fullnat_does_not_allocate() {
    use dataplane::rss::{RssSteer, DEFAULT_KEY};
    use dataplane::worker::ReplySteering;
    let snap = snapshot();
    let rs = RssSteer::new(&DEFAULT_KEY, &RssSteer::round_robin_reta(128, 4)).unwrap();
    let mut w = Worker::new(WorkerConfig {
        id: 1,
        workers: 4,
        reply_steering: ReplySteering::Rss(std::sync::Arc::new(rs)),
        ..WorkerConfig::default()
    });
    let mut d = Driver::new();
    let fullnat = [&TARGETS[5], &TARGETS[6], &TARGETS[14], &TARGETS[15]];
    let flows = |base: u16| -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        for (k, tg) in fullnat.iter().enumerate() {
            for i in 0..200u32 {
                let c = client(tg.vip.contains(':'), i);
                v.push(first(tg, c, base + (k as u16) * 1000 + i as u16));
            }
        }
        v
    };
    let warm = flows(20000);
    let sent = d.run_collect(&mut w, &snap, 1, 0, &warm);
    let mut replies = Vec::new();
    for (v, out) in &sent {
        assert_eq!(*v, Verdict::Tx(1));
        let v4 = out[12..14] == [0x08, 0x00];
        let tcp_proto = if v4 { out[23] == 6 } else { out[20] == 6 };
        replies.push(reply_to(
            out,
            if tcp_proto { SYN | ACK } else { 0 },
            tcp_proto,
        ));
        // The same reply to a local port of another worker, and an ICMP error about it.
        let mut stray = reply_to(out, ACK, tcp_proto);
        let l4 = if v4 { 34 } else { 54 };
        stray[l4 + 2] ^= 0x01;
        replies.push(stray);
        let (gw, _) = addrs(out);
        let router = if gw.is_ipv4() {
            ip("198.18.1.1")
        } else {
            ip("2001:db8:1::fe")
        };
        replies.push(icmp_error_quoting(from_backend(1), router, gw, out, 8));
    }
    let new_flows = flows(40000);
    let info = allocation_counter::measure(|| {
        d.run(&mut w, &snap, 2, 0, &new_flows);
        d.run(&mut w, &snap, 2, 1, &replies);
    });
    assert_eq!(info.count_total, 0, "RSS-aware FullNAT allocated");
    assert!(d.seen[0] > 1000, "tx {:?}", d.seen);
    assert!(d.seen[2] > 100, "redirects {:?}", d.seen);
    assert_eq!(w.counters().insert_failures.get(), 0);
}
