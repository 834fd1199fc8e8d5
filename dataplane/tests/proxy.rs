//! PROXY protocol through the worker (NAT and FullNAT, IPv4 and IPv6, v1 and v2): the header in
//! front of the client's first byte (on the handshake's ACK, on the first data segment and on
//! each retransmission of either, once per copy), the client's later sequence numbers shifted
//! by its length, the server's acknowledgements and SACK edges shifted back, the SYN-ACK's MSS
//! lowered; every frame out has valid checksums.

use std::net::IpAddr;

use dataplane::frame::{Frame, VecFrame};
use dataplane::session::FwdMethod;
use dataplane::snapshot::{ProxyProtocol, Snapshot};
use dataplane::sync::{link, Install, Refusal, Role, SyncConfig, SyncKind};
use dataplane::wire::DropReason;
use dataplane::worker::{InstallOutcome, Verdict, Worker, WorkerConfig};
use etherparse::{
    NetSlice, PacketBuilder, SlicedPacket, TcpOptionElement, TcpOptionElement as Opt,
    TransportSlice,
};
use testkit::packet::CLIENT_MAC;
use testkit::topology::{GW0, GW1};

mod common;
use common::{net, snapshot, Net, RS_MAC};

/// A TCP segment `src:sp -> dst:dp` with `flags` ("S", "SA", "A", "PA", "R", "FA").
#[allow(clippy::too_many_arguments)]
fn seg(
    (mac_src, mac_dst): ([u8; 6], [u8; 6]),
    (src, sp): (IpAddr, u16),
    (dst, dp): (IpAddr, u16),
    seq: u32,
    ack: u32,
    flags: &str,
    opts: &[TcpOptionElement],
    payload: &[u8],
) -> Vec<u8> {
    let e = PacketBuilder::ethernet2(mac_src, mac_dst);
    let ipb = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => e.ipv4(s.octets(), d.octets(), 64),
        (IpAddr::V6(s), IpAddr::V6(d)) => e.ipv6(s.octets(), d.octets(), 64),
        _ => unreachable!(),
    };
    let mut t = ipb.tcp(sp, dp, seq, 65535);
    if flags.contains('S') {
        t = t.syn();
    }
    if flags.contains('A') {
        t = t.ack(ack);
    }
    if flags.contains('P') {
        t = t.psh();
    }
    if flags.contains('R') {
        t = t.rst();
    }
    if flags.contains('F') {
        t = t.fin();
    }
    if !opts.is_empty() {
        t = t.options(opts).unwrap();
    }
    let mut out = Vec::new();
    t.write(&mut out, payload).unwrap();
    out
}

/// What came out: (seq, ack, payload, options), after checking the IP and TCP checksums.
struct Out {
    seq: u32,
    ack: u32,
    dport: u16,
    sport: u16,
    payload: Vec<u8>,
    opts: Vec<TcpOptionElement>,
}

fn parse_out(d: &[u8]) -> Out {
    let p = SlicedPacket::from_ethernet(d).unwrap();
    let Some(TransportSlice::Tcp(t)) = p.transport else {
        panic!("not TCP")
    };
    let th = t.to_header();
    match p.net {
        Some(NetSlice::Ipv4(v4)) => {
            let h = v4.header().to_header();
            assert_eq!(h.calc_header_checksum(), h.header_checksum, "IPv4 checksum");
            assert_eq!(
                th.calc_checksum_ipv4(&h, t.payload()).unwrap(),
                th.checksum,
                "TCP checksum"
            );
            assert_eq!(usize::from(h.total_len), d.len() - 14, "IPv4 total length");
        }
        Some(NetSlice::Ipv6(v6)) => {
            let h = v6.header().to_header();
            assert_eq!(
                th.calc_checksum_ipv6(&h, t.payload()).unwrap(),
                th.checksum,
                "TCP checksum"
            );
            assert_eq!(usize::from(h.payload_length), d.len() - 54, "IPv6 length");
        }
        _ => panic!("not IP"),
    }
    Out {
        seq: t.sequence_number(),
        ack: t.acknowledgment_number(),
        dport: t.destination_port(),
        sport: t.source_port(),
        payload: t.payload().to_vec(),
        opts: t.options_iterator().map(Result::unwrap).collect(),
    }
}

fn expected_header(n: &Net, v: ProxyProtocol, cport: u16) -> Vec<u8> {
    match v {
        ProxyProtocol::V1 => {
            let fam = if n.client.is_ipv6() { "TCP6" } else { "TCP4" };
            format!("PROXY {fam} {} {} {cport} 80\r\n", n.client, n.vip).into_bytes()
        }
        ProxyProtocol::V2 => {
            let mut h = b"\r\n\r\n\0\r\nQUIT\n\x21".to_vec();
            let (fam, c, vip): (u8, Vec<u8>, Vec<u8>) = match (n.client, n.vip) {
                (IpAddr::V4(c), IpAddr::V4(v)) => (0x11, c.octets().into(), v.octets().into()),
                (IpAddr::V6(c), IpAddr::V6(v)) => (0x21, c.octets().into(), v.octets().into()),
                _ => unreachable!(),
            };
            h.push(fam);
            h.extend_from_slice(&((c.len() * 2 + 4) as u16).to_be_bytes());
            h.extend_from_slice(&c);
            h.extend_from_slice(&vip);
            h.extend_from_slice(&cport.to_be_bytes());
            h.extend_from_slice(&80u16.to_be_bytes());
            h
        }
        ProxyProtocol::Off => Vec::new(),
    }
}

struct Case {
    w: Worker,
    snap: Snapshot,
    n: Net,
    now: u32,
}

impl Case {
    /// Send `frame` in on `port`; the frame out (expected on the other port).
    fn send(&mut self, port: u8, frame: Vec<u8>) -> Out {
        let mut f = [VecFrame::new(&frame)];
        let mut v = [Verdict::Drop(DropReason::NotForUs)];
        self.now += 1;
        self.w.process(&self.snap, self.now, port, &mut f, &mut v);
        assert_eq!(v[0], Verdict::Tx(1 - port), "{:?}", self.w.counters().drops);
        parse_out(f[0].data())
    }

    fn client(&mut self, seq: u32, ack: u32, flags: &str, opts: &[Opt], data: &[u8]) -> Out {
        let f = seg(
            (CLIENT_MAC, GW0),
            (self.n.client, 40000),
            (self.n.vip, 80),
            seq,
            ack,
            flags,
            opts,
            data,
        );
        self.send(0, f)
    }

    fn server(&mut self, to: u16, seq: u32, ack: u32, flags: &str, opts: &[Opt]) -> Out {
        let c = self.w.counters();
        let has = c.sessions_created.get() > 0 || c.sync_installed.get() > 0;
        let dst = if has && self.is_fullnat() {
            self.n.laddr
        } else {
            self.n.client
        };
        let f = seg(
            (RS_MAC, GW1),
            (self.n.backend, 8080),
            (dst, to),
            seq,
            ack,
            flags,
            opts,
            &[],
        );
        self.send(1, f)
    }

    fn is_fullnat(&self) -> bool {
        self.n.laddr != self.n.client
    }
}

/// One connection through `method`, family `v6`, version `v`: every step of the module doc.
fn connection(method: FwdMethod, v6: bool, v: ProxyProtocol) {
    let mut n = net(v6);
    if method == FwdMethod::Nat {
        n.laddr = n.client;
    }
    let snap = snapshot(&n, method, |s| s.proxy_protocol = v);
    let hdr = expected_header(&n, v, 40000);
    let l = hdr.len() as u32;
    let mut c = Case {
        w: Worker::new(WorkerConfig::default()),
        snap,
        n,
        now: 0,
    };
    let what = format!("{method:?} v6={v6} {v:?}");
    let isn = 0xffff_fff0_u32; // the sequence numbers wrap during the test
    let isn1 = isn.wrapping_add(1);

    // SYN: untouched sequence number, no header.
    let o = c.client(isn, 0, "S", &[Opt::MaximumSegmentSize(1460)], &[]);
    assert_eq!((o.seq, o.payload.len()), (isn, 0), "{what}: SYN");
    let to = o.sport;
    assert_eq!(o.dport, 8080);

    // SYN-ACK: the acknowledgement is the client's (nothing inserted yet), the MSS goes down
    // by the header's length.
    let o = c.server(to, 5000, isn1, "SA", &[Opt::MaximumSegmentSize(1460)]);
    assert_eq!(o.ack, isn1, "{what}: SYN-ACK ack");
    assert_eq!(
        o.opts,
        vec![Opt::MaximumSegmentSize(1460 - l as u16)],
        "{what}: MSS"
    );

    // The handshake's ACK carries the header (a server that speaks first gets it too).
    let o = c.client(isn1, 5001, "A", &[], &[]);
    assert_eq!((o.seq, &o.payload), (isn1, &hdr), "{what}: pure ACK");

    // The first data segment: the header again, in front of the data, at the same place.
    let mut want = hdr.clone();
    want.extend_from_slice(b"GET /");
    let o = c.client(isn1, 5001, "PA", &[], b"GET /");
    assert_eq!((o.seq, &o.payload), (isn1, &want), "{what}: first data");
    // Its retransmission: the same bytes, one header.
    let o = c.client(isn1, 5001, "PA", &[], b"GET /");
    assert_eq!((o.seq, &o.payload), (isn1, &want), "{what}: retransmission");

    // The next segment moves by the header's length.
    let o = c.client(isn1.wrapping_add(5), 5001, "PA", &[], b"x");
    assert_eq!(
        (o.seq, o.payload.as_slice()),
        (isn1.wrapping_add(5 + l), &b"x"[..]),
        "{what}: second segment"
    );

    // An acknowledgement inside the header: the client's first byte.
    let o = c.server(to, 5001, isn1.wrapping_add(l / 2), "A", &[]);
    assert_eq!(o.ack, isn1, "{what}: partial ack");
    // The server has the header and "GET /"; it SACKs "x"... shifted back.
    let sack = (isn1.wrapping_add(l + 5), isn1.wrapping_add(l + 6));
    let o = c.server(
        to,
        5001,
        isn1.wrapping_add(l + 5),
        "A",
        &[
            Opt::Noop,
            Opt::Noop,
            Opt::SelectiveAcknowledgement(sack, [None; 3]),
        ],
    );
    assert_eq!(o.ack, isn1.wrapping_add(5), "{what}: ack");
    assert_eq!(
        o.opts,
        vec![
            Opt::Noop,
            Opt::Noop,
            Opt::SelectiveAcknowledgement((isn1.wrapping_add(5), isn1.wrapping_add(6)), [None; 3])
        ],
        "{what}: SACK"
    );

    // Acknowledged: a late copy of the first segment, and the client's ACKs, only move.
    let o = c.client(isn1, 5001, "PA", &[], b"GET /");
    assert_eq!(
        (o.seq, o.payload.as_slice()),
        (isn1.wrapping_add(l), &b"GET /"[..]),
        "{what}: late copy"
    );
    let o = c.client(isn1.wrapping_add(6), 5001, "A", &[], &[]);
    assert_eq!(
        (o.seq, o.payload.len()),
        (isn1.wrapping_add(6 + l), 0),
        "{what}: ACK"
    );
    let o = c.client(isn1.wrapping_add(6), 5001, "FA", &[], &[]);
    assert_eq!(o.seq, isn1.wrapping_add(6 + l), "{what}: FIN");
    assert_eq!(c.w.counters().proxy_inserted.get(), 3, "{what}: headers");
}

#[test]
fn fullnat_v1_v2_ipv4_ipv6() {
    for v6 in [false, true] {
        for v in [ProxyProtocol::V1, ProxyProtocol::V2] {
            connection(FwdMethod::FullNat, v6, v);
        }
    }
}

#[test]
fn nat_v1_v2_ipv4_ipv6() {
    for v6 in [false, true] {
        for v in [ProxyProtocol::V1, ProxyProtocol::V2] {
            connection(FwdMethod::Nat, v6, v);
        }
    }
}

/// Data in the SYN (TCP Fast Open) is cut, so that it comes again behind the header.
#[test]
fn syn_data_is_cut() {
    for v6 in [false, true] {
        let n = net(v6);
        let snap = snapshot(&n, FwdMethod::FullNat, |s| {
            s.proxy_protocol = ProxyProtocol::V2
        });
        let mut c = Case {
            w: Worker::new(WorkerConfig::default()),
            snap,
            n,
            now: 0,
        };
        let o = c.client(
            100,
            0,
            "S",
            &[Opt::MaximumSegmentSize(1460)],
            b"GET / HTTP/1.0\r\n\r\n",
        );
        assert_eq!((o.seq, o.payload.len()), (100, 0), "v6={v6}");
        assert_eq!(o.opts, vec![Opt::MaximumSegmentSize(1460)]);
        let to = o.sport;
        let o = c.server(to, 5000, 101, "SA", &[]);
        assert_eq!(o.ack, 101);
        let hdr = expected_header(&c.n, ProxyProtocol::V2, 40000);
        let o = c.client(101, 5001, "PA", &[], b"GET");
        assert_eq!(o.payload, [hdr.as_slice(), b"GET"].concat(), "v6={v6}");
    }
}

/// A first segment that the header would push past the egress MTU (a client ignoring the
/// lowered MSS) is dropped and counted, not sent without its header.
#[test]
fn a_first_segment_without_room_is_dropped() {
    let n = net(false);
    let snap = snapshot(&n, FwdMethod::FullNat, |s| {
        s.proxy_protocol = ProxyProtocol::V1
    });
    let mut c = Case {
        w: Worker::new(WorkerConfig::default()),
        snap,
        n,
        now: 0,
    };
    let o = c.client(100, 0, "S", &[], &[]);
    c.server(o.sport, 5000, 101, "SA", &[]);
    let big = vec![b'a'; 1460];
    let f = seg(
        (CLIENT_MAC, GW0),
        (c.n.client, 40000),
        (c.n.vip, 80),
        101,
        5001,
        "PA",
        &[],
        &big,
    );
    let mut fr = [VecFrame::new(&f)];
    let mut v = [Verdict::Tx(0)];
    c.w.process(&c.snap, 9, 0, &mut fr, &mut v);
    assert_eq!(v[0], Verdict::Drop(DropReason::ProxyHeaderNoRoom));
    assert_eq!(
        c.w.counters().drops[DropReason::ProxyHeaderNoRoom.index()].get(),
        1
    );
    // A segment that fits still gets the header.
    let o = c.client(101, 5001, "PA", &[], &big[..1400]);
    assert_eq!(
        o.payload.len(),
        1400 + expected_header(&c.n, ProxyProtocol::V1, 40000).len()
    );
}

/// A PROXY connection synced to another worker (another gateway's, as session sync installs
/// it) goes on there as on the worker that opened it: the same sequence shift both ways, the
/// header again on a copy of the first segment the server has not acknowledged, and none once a
/// full dump has carried the acknowledgement. Without the
/// PROXY state (a sender that predates it) the stream would not be shifted; a state whose
/// header length does not match the flow is refused.
fn synced(method: FwdMethod, v6: bool, v: ProxyProtocol) {
    let what = format!("{method:?} v6={v6} {v:?}");
    let mut n = net(v6);
    if method == FwdMethod::Nat {
        n.laddr = n.client;
    }
    let case = |w: Worker| Case {
        w,
        snap: snapshot(&n, method, |s| s.proxy_protocol = v),
        n: net_like(&n),
        now: 0,
    };
    let mut a = case(Worker::new(WorkerConfig::default()));
    let (ws, mut cs) = link(SyncConfig::default());
    a.w.attach_sync(ws);
    let hdr = expected_header(&a.n, v, 40000);
    let l = hdr.len() as u32;
    let isn1 = 0xffff_fff1_u32;
    let to = a.client(isn1 - 1, 0, "S", &[], &[]).sport;
    a.server(to, 5000, isn1, "SA", &[]);
    a.client(isn1, 5001, "A", &[], &[]);
    let events: Vec<_> = core::iter::from_fn(|| cs.events.pop().ok()).collect();
    assert!(
        events
            .iter()
            .all(|e| e.proxy.is_some_and(|p| p.len as u32 == l)),
        "{what}: every event carries the PROXY state: {events:?}"
    );
    assert_eq!(events[0].kind, SyncKind::Created, "{what}");
    let install =
        |w: &mut Worker, snap: &Snapshot, now: u32, evs: &[dataplane::sync::SyncEvent]| {
            evs.iter()
                .map(|&event| {
                    w.install(
                        snap,
                        now,
                        &Install {
                            event,
                            role: Role::Home,
                        },
                    )
                })
                .collect::<Vec<_>>()
        };
    let mut b = case(Worker::new(WorkerConfig::default()));
    b.now = a.now;
    // The creation alone (the state changes' updates are checked below).
    let got = install(&mut b.w, &b.snap, b.now, &events[..1]);
    assert_eq!(got, [InstallOutcome::Installed], "{what}");
    // The same segments through both: the same bytes out.
    let mut outs = Vec::new();
    for c in [&mut a, &mut b] {
        let first = c.client(isn1, 5001, "PA", &[], b"GET /");
        let next = c.client(isn1.wrapping_add(5), 5001, "PA", &[], b"x");
        let acked = c.server(to, 5001, isn1.wrapping_add(l + 6), "A", &[]);
        outs.push((
            (first.seq, first.payload),
            (next.seq, next.payload),
            acked.ack,
        ));
    }
    let want = (
        (isn1, [hdr.as_slice(), b"GET /"].concat()),
        (isn1.wrapping_add(5 + l), b"x".to_vec()),
        isn1.wrapping_add(6),
    );
    assert_eq!(outs[0], want, "{what}: the original");
    assert_eq!(outs[1], want, "{what}: the synced copy");

    // A full dump of the original, now that the server has acknowledged the header: its entry
    // carries the state and the acknowledgement, so a copy made from it inserts no header in a
    // late copy of the first segment, and shifts it as the original does.
    let _ = core::iter::from_fn(|| cs.events.pop().ok()).count();
    cs.request_dump();
    let snap_a = snapshot(&a.n, method, |s| s.proxy_protocol = v);
    let mut all = Vec::new();
    // Bounded steps over the whole table, until its end marker.
    for _ in 0..100_000 {
        a.w.serve_sync(&snap_a, a.now);
        all.extend(core::iter::from_fn(|| cs.events.pop().ok()));
        if all.iter().any(|e| e.kind == SyncKind::DumpEnd) {
            break;
        }
    }
    assert!(
        all.iter().any(|e| e.kind == SyncKind::DumpEnd),
        "{what}: the dump ended"
    );
    let dumped: Vec<_> = all
        .into_iter()
        .filter(|e| e.kind == SyncKind::Dump)
        .collect();
    assert_eq!(dumped.len(), 1, "{what}: {dumped:?}");
    assert_eq!(dumped[0].proxy, events[0].proxy, "{what}: dumped state");
    assert_eq!(
        dumped[0].flags & dataplane::sync::PROXY_FLAGS,
        dataplane::sync::PROXY_FLAGS,
        "{what}: the dump says the header was acknowledged"
    );
    let mut f = case(Worker::new(WorkerConfig::default()));
    f.now = a.now;
    let got = install(&mut f.w, &f.snap, f.now, &dumped);
    assert_eq!(got, [InstallOutcome::Installed], "{what}");
    for c in [&mut a, &mut f] {
        let late = c.client(isn1, 5001, "PA", &[], b"GET /");
        assert_eq!(
            (late.seq, late.payload.as_slice()),
            (isn1.wrapping_add(l), &b"GET /"[..]),
            "{what}: a late copy after the acknowledgement"
        );
    }

    // Every event in order: the creation, then updates that carry the state again.
    let mut e = case(Worker::new(WorkerConfig::default()));
    e.now = a.now;
    let got = install(&mut e.w, &e.snap, e.now, &events);
    assert!(
        got[1..].iter().all(|o| *o == InstallOutcome::Updated),
        "{what}: {got:?}"
    );
    let o = e.client(isn1.wrapping_add(6), 5001, "A", &[], &[]);
    assert_eq!(o.seq, isn1.wrapping_add(6 + l), "{what}: updated copy");

    // A record without the state (an older sender): installed as before, and not shifted.
    let mut old = events.clone();
    for e in &mut old {
        e.proxy = None;
        e.flags &= !dataplane::sync::PROXY_FLAGS;
    }
    let mut c = case(Worker::new(WorkerConfig::default()));
    c.now = a.now;
    let got = install(&mut c.w, &c.snap, c.now, &old);
    assert_eq!(got[0], InstallOutcome::Installed, "{what}");
    let o = c.client(isn1.wrapping_add(5), 5001, "PA", &[], b"x");
    assert_eq!(o.seq, isn1.wrapping_add(5), "{what}: no state, no shift");

    // A state whose header length this flow's header cannot have.
    let mut bad = events[..1].to_vec();
    if let Some(p) = &mut bad[0].proxy {
        p.len += 1;
    }
    let mut d = case(Worker::new(WorkerConfig::default()));
    let got = install(&mut d.w, &d.snap, a.now, &bad);
    assert_eq!(got, [InstallOutcome::Refused(Refusal::Malformed)], "{what}");
}

fn net_like(n: &Net) -> Net {
    Net {
        client: n.client,
        vip: n.vip,
        backend: n.backend,
        laddr: n.laddr,
    }
}

#[test]
fn synced_sessions_translate_like_the_original() {
    for method in [FwdMethod::FullNat, FwdMethod::Nat] {
        for v6 in [false, true] {
            for v in [ProxyProtocol::V1, ProxyProtocol::V2] {
                synced(method, v6, v);
            }
        }
    }
}
