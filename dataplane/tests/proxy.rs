//! PROXY protocol through the worker (NAT and FullNAT, IPv4 and IPv6, v1 and v2): the header in
//! front of the client's first byte (on the handshake's ACK, on the first data segment and on
//! each retransmission of either, once per copy), the client's later sequence numbers shifted
//! by its length, the server's acknowledgements and SACK edges shifted back, the SYN-ACK's MSS
//! lowered; every frame out has valid checksums.

use std::net::IpAddr;

use dataplane::frame::{Frame, VecFrame};
use dataplane::session::FwdMethod;
use dataplane::snapshot::{BackendSpec, ProxyProtocol, Route, ServiceSpec, Snapshot, ToaMode};
use dataplane::types::L4Proto;
use dataplane::wire::DropReason;
use dataplane::worker::{Verdict, Worker, WorkerConfig};
use etherparse::{
    NetSlice, PacketBuilder, SlicedPacket, TcpOptionElement, TcpOptionElement as Opt,
    TransportSlice,
};
use testkit::packet::CLIENT_MAC;
use testkit::topology::{two_ports, GW0, GW1};

const RS_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0xa1];

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The addresses of one case: client, VIP, backend, local address.
struct Net {
    client: IpAddr,
    vip: IpAddr,
    backend: IpAddr,
    laddr: IpAddr,
}

fn net(v6: bool) -> Net {
    if v6 {
        Net {
            client: ip("2001:db8::50"),
            vip: ip("2001:db8::100"),
            backend: ip("2001:db8:1::11"),
            laddr: ip("2001:db8:1::200"),
        }
    } else {
        Net {
            client: ip("198.18.0.50"),
            vip: ip("198.18.0.100"),
            backend: ip("198.18.1.11"),
            laddr: ip("198.18.1.200"),
        }
    }
}

fn snapshot(n: &Net, method: FwdMethod, v: ProxyProtocol) -> Snapshot {
    let mut b = dataplane::snapshot::SnapshotBuilder::new(1);
    two_ports(&mut b, true);
    for (p, len) in [("198.18.1.0", 24), ("2001:db8:1::", 64)] {
        b.route(Route {
            prefix: ip(p),
            len,
            port: 1,
            via: None,
        });
    }
    b.neighbour(n.backend, RS_MAC);
    let mut s = ServiceSpec::new(n.vip, 80, L4Proto::Tcp);
    if method == FwdMethod::FullNat {
        s.laddrs = vec![n.laddr];
    }
    s.toa = ToaMode::Off;
    s.proxy_protocol = v;
    s.backends = vec![BackendSpec::new(n.backend, 8080, method)];
    b.service(s);
    b.build()
}

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
        let dst = if self.w.counters().sessions_created.get() > 0 && self.is_fullnat() {
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
    let snap = snapshot(&n, method, v);
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
        let snap = snapshot(&n, FwdMethod::FullNat, ProxyProtocol::V2);
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
    let snap = snapshot(&n, FwdMethod::FullNat, ProxyProtocol::V1);
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
