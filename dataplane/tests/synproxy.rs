//! The SYN proxy through the worker (NAT and FullNAT, IPv4 and IPv6): a SYN answered by the
//! gateway with a cookie and no session; a valid ACK opening the session and the server's SYN
//! with the client's options; the server's SYN-ACK answered with the client's ACK and its held
//! data; sequence numbers, SACK edges, timestamps and windows translated both ways (with TOA
//! on FullNAT); forged, stale, rotated and other-gateway cookies; the server's RST passed on;
//! a lost SYN sent again. Every frame out has valid checksums.

use std::net::IpAddr;

use dataplane::frame::{Frame, VecFrame};
use dataplane::session::{FwdMethod, Session};
use dataplane::snapshot::{Snapshot, ToaMode};
use dataplane::sync::{
    link, Install, Refusal, Role, SyncConfig, SyncEvent, SyncKind, SYNPROXY_FLAGS,
};
use dataplane::syncookie::{CookieKey, CookieKeys};
use dataplane::wire::DropReason;
use dataplane::worker::{InstallOutcome, Verdict, Worker, WorkerConfig};
use etherparse::{NetSlice, SlicedPacket, TcpOptionElement as Opt, TransportSlice};
use testkit::packet::{icmp_error_quoting, tcp_segment, CLIENT_MAC, PSH, RST, SYN};
use testkit::topology::{GW0, GW1};

mod common;
use common::{net, snapshot_keys, Net, RS_MAC};

const SECRET_A: [u8; 16] = *b"0123456789abcdef";
const SECRET_B: [u8; 16] = *b"fedcba9876543210";
/// Unix time of the tests (any; the cookie clock only needs it to agree within a minute).
const WALL: u64 = 1_800_000_000;

fn keys(cur: [u8; 16], prev: Option<[u8; 16]>) -> CookieKeys {
    CookieKeys {
        current: CookieKey::new(cur),
        previous: prev.map(CookieKey::new),
    }
}

/// A TCP segment with `flags` ("S", "SA", "A", "PA", "R", "RA").
#[allow(clippy::too_many_arguments)]
fn seg(
    macs: ([u8; 6], [u8; 6]),
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
    seq: u32,
    ack: u32,
    flags: &str,
    window: u16,
    opts: &[Opt],
    payload: &[u8],
) -> Vec<u8> {
    let bit = |c: char, b: u8| if flags.contains(c) { b } else { 0 };
    let bits = bit('S', SYN) | bit('P', PSH) | bit('R', RST);
    let ack = flags.contains('A').then_some(ack);
    tcp_segment(macs, src, dst, (seq, ack), bits, window, opts, payload)
}

/// A frame out, its checksums and lengths checked.
#[derive(Debug)]
struct Out {
    mac_dst: [u8; 6],
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    syn: bool,
    ackf: bool,
    rst: bool,
    window: u16,
    payload: Vec<u8>,
    opts: Vec<Opt>,
    raw_opts: Vec<u8>,
}

fn parse_out(d: &[u8]) -> Out {
    let p = SlicedPacket::from_ethernet(d).unwrap();
    let Some(TransportSlice::Tcp(t)) = p.transport else {
        panic!("not TCP")
    };
    let th = t.to_header();
    let (src, dst) = match p.net {
        Some(NetSlice::Ipv4(v4)) => {
            let h = v4.header().to_header();
            assert_eq!(h.calc_header_checksum(), h.header_checksum, "IPv4 checksum");
            let c = th.calc_checksum_ipv4(&h, t.payload()).unwrap();
            assert_eq!(c, th.checksum, "TCP checksum");
            assert!(
                usize::from(h.total_len) <= d.len() - 14,
                "IPv4 total length"
            );
            (IpAddr::from(h.source), IpAddr::from(h.destination))
        }
        Some(NetSlice::Ipv6(v6)) => {
            let h = v6.header().to_header();
            let c = th.calc_checksum_ipv6(&h, t.payload()).unwrap();
            assert_eq!(c, th.checksum, "TCP checksum");
            assert_eq!(usize::from(h.payload_length), d.len() - 54, "IPv6 length");
            (IpAddr::from(h.source), IpAddr::from(h.destination))
        }
        _ => panic!("not IP"),
    };
    let mut mac_dst = [0u8; 6];
    mac_dst.copy_from_slice(&d[..6]);
    Out {
        mac_dst,
        src,
        dst,
        sport: t.source_port(),
        dport: t.destination_port(),
        seq: t.sequence_number(),
        ack: t.acknowledgment_number(),
        syn: t.syn(),
        ackf: t.ack(),
        rst: t.rst(),
        window: t.window_size(),
        payload: t.payload().to_vec(),
        opts: t.options_iterator().filter_map(Result::ok).collect(),
        raw_opts: t.options().to_vec(),
    }
}

fn ts_of(o: &Out) -> Option<(u32, u32)> {
    o.opts.iter().find_map(|x| match *x {
        Opt::Timestamp(v, e) => Some((v, e)),
        _ => None,
    })
}

struct Case {
    w: Worker,
    snap: Snapshot,
    n: Net,
    now: u32,
    cport: u16,
}

impl Case {
    fn new(
        method: FwdMethod,
        v6: bool,
        tune: impl FnOnce(&mut dataplane::snapshot::ServiceSpec),
    ) -> Self {
        let mut n = net(v6);
        if method == FwdMethod::Nat {
            n.laddr = n.client;
        }
        let snap = snapshot_keys(
            &n,
            method,
            |s| {
                s.syn_proxy = true;
                tune(s);
            },
            Some(keys(SECRET_A, None)),
        );
        let mut w = Worker::new(WorkerConfig::default());
        w.set_wall_clock(WALL);
        Case {
            w,
            snap,
            n,
            now: 10,
            cport: 40000,
        }
    }

    /// Send `frame` in on `port`; the verdict and the frame.
    fn send(&mut self, port: u8, frame: Vec<u8>) -> (Verdict, VecFrame) {
        let mut f = [VecFrame::new(&frame)];
        let mut v = [Verdict::Drop(DropReason::NotForUs)];
        self.now += 1;
        self.w.process(&self.snap, self.now, port, &mut f, &mut v);
        let [f] = f;
        (v[0], f)
    }

    fn send_tx(&mut self, port: u8, frame: Vec<u8>, want_port: u8) -> Out {
        let (v, f) = self.send(port, frame);
        assert_eq!(v, Verdict::Tx(want_port), "{:?}", self.drops());
        parse_out(f.data())
    }

    fn client_frame(&self, seq: u32, ack: u32, flags: &str, opts: &[Opt], data: &[u8]) -> Vec<u8> {
        seg(
            (CLIENT_MAC, GW0),
            (self.n.client, self.cport),
            (self.n.vip, 80),
            seq,
            ack,
            flags,
            1000,
            opts,
            data,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn server_frame(
        &self,
        to: u16,
        seq: u32,
        ack: u32,
        flags: &str,
        window: u16,
        opts: &[Opt],
        data: &[u8],
    ) -> Vec<u8> {
        seg(
            (RS_MAC, GW1),
            (self.n.backend, 8080),
            (self.n.laddr, to),
            seq,
            ack,
            flags,
            window,
            opts,
            data,
        )
    }

    fn drops(&self) -> Vec<(DropReason, u64)> {
        DropReason::ALL
            .iter()
            .map(|&r| (r, self.w.counters().drops[r.index()].get()))
            .filter(|&(_, n)| n > 0)
            .collect()
    }

    fn drop_count(&self, r: DropReason) -> u64 {
        self.w.counters().drops[r.index()].get()
    }

    fn sessions(&self) -> usize {
        self.w.sessions4().len() + self.w.sessions6().len()
    }
}

const SYN_OPTS: [Opt; 4] = [
    Opt::MaximumSegmentSize(1460),
    Opt::SelectiveAcknowledgementPermitted,
    Opt::Timestamp(1000, 0),
    Opt::WindowScale(9),
];

/// One connection with timestamps, every step of the module doc.
fn connection(method: FwdMethod, v6: bool) {
    let what = format!("{method:?} v6={v6}");
    let mut c = Case::new(method, v6, |_| {});
    let isn = 0xffff_fff0_u32;
    let isn1 = isn.wrapping_add(1);

    // SYN -> the gateway's SYN-ACK, back out of port 0 to the client's MAC; no session.
    let f = c.client_frame(isn, 0, "S", &SYN_OPTS, &[]);
    let o = c.send_tx(0, f, 0);
    assert!(o.syn && o.ackf, "{what}: SYN-ACK");
    assert_eq!(
        (o.src, o.sport, o.dst, o.dport),
        (c.n.vip, 80, c.n.client, 40000)
    );
    assert_eq!(o.mac_dst, CLIENT_MAC);
    assert_eq!(o.ack, isn1);
    let mss = if v6 { 1440 } else { 1460 };
    assert!(
        o.opts.contains(&Opt::MaximumSegmentSize(mss)),
        "{what}: {:?}",
        o.opts
    );
    assert!(o.opts.contains(&Opt::SelectiveAcknowledgementPermitted));
    assert!(o.opts.contains(&Opt::WindowScale(7)));
    let (our_ts, echo) = ts_of(&o).expect("timestamps");
    assert_eq!(echo, 1000);
    let cookie = o.seq;
    assert_eq!(c.sessions(), 0, "{what}: no session for a SYN");
    assert_eq!(c.w.counters().syn_cookies_sent.get(), 1);

    // The ACK with data -> the server's SYN with the client's options; data held.
    let f = c.client_frame(
        isn1,
        cookie.wrapping_add(1),
        "PA",
        &[Opt::Timestamp(1001, our_ts)],
        b"GET /",
    );
    let o = c.send_tx(0, f, 1);
    assert!(o.syn && !o.ackf, "{what}: server SYN");
    assert_eq!((o.dst, o.dport, o.seq), (c.n.backend, 8080, isn), "{what}");
    assert!(o.payload.is_empty());
    let cmss = if v6 { 1440 } else { 1460 };
    assert!(
        o.opts.contains(&Opt::MaximumSegmentSize(cmss)),
        "{what}: {:?}",
        o.opts
    );
    assert!(o.opts.contains(&Opt::SelectiveAcknowledgementPermitted));
    assert!(o.opts.contains(&Opt::WindowScale(9)));
    assert_eq!(ts_of(&o), Some((1001, 0)));
    if method == FwdMethod::FullNat {
        assert_eq!(o.src, c.n.laddr);
    } else {
        assert_eq!((o.src, o.sport), (c.n.client, 40000));
    }
    let lport = o.sport;
    assert_eq!(c.sessions(), 1);
    assert_eq!(c.w.counters().syn_cookies_valid.get(), 1);
    assert_eq!(c.w.counters().syn_proxy_held.get(), 1);

    // The server's SYN-ACK -> the held ACK with its data, acknowledging the server's ISN.
    let sisn = 0x7000_0000_u32;
    let f = c.server_frame(
        lport,
        sisn,
        isn1,
        "SA",
        65535,
        &[
            Opt::MaximumSegmentSize(1460),
            Opt::SelectiveAcknowledgementPermitted,
            Opt::Timestamp(50_000, 1001),
            Opt::WindowScale(9),
        ],
        &[],
    );
    let o = c.send_tx(1, f, 1);
    assert!(o.ackf && !o.syn, "{what}: ACK to the server");
    assert_eq!((o.seq, o.ack), (isn1, sisn.wrapping_add(1)), "{what}");
    assert_eq!(o.payload, b"GET /");
    assert_eq!(
        ts_of(&o),
        Some((1001, 50_000)),
        "{what}: TSecr is the server's"
    );
    assert_eq!(c.w.counters().syn_proxy_opened.get(), 1);

    // Server data -> the client: sequence and TSval in our numbering; window rescaled 9 -> 7.
    let f = c.server_frame(
        lport,
        sisn.wrapping_add(1),
        isn1.wrapping_add(5),
        "PA",
        100,
        &[Opt::Timestamp(50_010, 1001)],
        b"HTTP/1.1 200",
    );
    let o = c.send_tx(1, f, 0);
    assert_eq!(
        (o.src, o.sport, o.dst, o.dport),
        (c.n.vip, 80, c.n.client, 40000)
    );
    assert_eq!(o.seq, cookie.wrapping_add(1), "{what}: seq");
    assert_eq!(o.ack, isn1.wrapping_add(5));
    assert_eq!(o.window, 400, "{what}: window");
    assert_eq!(
        ts_of(&o),
        Some((our_ts.wrapping_add(10), 1001)),
        "{what}: TSval"
    );
    assert_eq!(o.payload, b"HTTP/1.1 200");

    // Client ACK with a SACK block -> acknowledgement, SACK edges and TSecr in the server's.
    let l = cookie.wrapping_add(1);
    let f = c.client_frame(
        isn1.wrapping_add(5),
        l.wrapping_add(12),
        "A",
        &[
            Opt::Noop,
            Opt::Noop,
            Opt::Timestamp(1002, our_ts.wrapping_add(10)),
            Opt::Noop,
            Opt::Noop,
            Opt::SelectiveAcknowledgement((l.wrapping_add(20), l.wrapping_add(30)), [None; 3]),
        ],
        &[],
    );
    let o = c.send_tx(0, f, 1);
    let s1 = sisn.wrapping_add(1);
    assert_eq!(o.ack, s1.wrapping_add(12), "{what}: ack");
    assert_eq!(o.seq, isn1.wrapping_add(5));
    assert_eq!(ts_of(&o), Some((1002, 50_010)), "{what}: TSecr");
    let sack = o.opts.iter().find_map(|x| match *x {
        Opt::SelectiveAcknowledgement(a, _) => Some(a),
        _ => None,
    });
    assert_eq!(
        sack,
        Some((s1.wrapping_add(20), s1.wrapping_add(30))),
        "{what}: SACK"
    );
    assert_eq!(c.drops(), vec![], "{what}");
}

#[test]
fn nat_v4() {
    connection(FwdMethod::Nat, false);
}

#[test]
fn nat_v6() {
    connection(FwdMethod::Nat, true);
}

#[test]
fn fullnat_v4() {
    connection(FwdMethod::FullNat, false);
}

#[test]
fn fullnat_v6() {
    connection(FwdMethod::FullNat, true);
}

/// A client without timestamps: the SYN-ACK says the MSS only, the server's SYN too, and the
/// gateway makes the client's pure ACK itself (no data was sent with the ACK).
#[test]
fn no_timestamps_and_a_pure_ack() {
    for v6 in [false, true] {
        let mut c = Case::new(FwdMethod::Nat, v6, |_| {});
        let f = c.client_frame(7, 0, "S", &[Opt::MaximumSegmentSize(1300)], &[]);
        let o = c.send_tx(0, f, 0);
        let mss = if v6 { 1440 } else { 1460 };
        assert_eq!(o.opts, vec![Opt::MaximumSegmentSize(mss)]);
        let cookie = o.seq;
        let f = c.client_frame(8, cookie.wrapping_add(1), "A", &[], &[]);
        let o = c.send_tx(0, f, 1);
        assert!(o.syn);
        let cmss = if v6 { 1220 } else { 1300 };
        assert_eq!(o.opts, vec![Opt::MaximumSegmentSize(cmss)], "v6={v6}");
        let f = c.server_frame(
            40000,
            900,
            8,
            "SA",
            65535,
            &[Opt::MaximumSegmentSize(1460)],
            &[],
        );
        let o = c.send_tx(1, f, 1);
        assert!(o.ackf && !o.syn && !o.rst);
        assert_eq!((o.seq, o.ack, o.payload.len()), (8, 901, 0));
        assert_eq!(o.raw_opts, Vec::<u8>::new());
        // Windows unscaled both ways: unchanged.
        let f = c.server_frame(40000, 901, 8, "A", 5000, &[], b"hi");
        let o = c.send_tx(1, f, 0);
        assert_eq!((o.seq, o.window), (cookie.wrapping_add(1), 5000));
        assert_eq!(c.drops(), vec![]);
    }
}

/// FullNAT with TOA on the first ACK: the ACK the gateway sends the server carries it.
#[test]
fn fullnat_toa_on_the_first_ack() {
    let mut c = Case::new(FwdMethod::FullNat, false, |s| s.toa = ToaMode::Ack);
    let f = c.client_frame(7, 0, "S", &SYN_OPTS, &[]);
    let o = c.send_tx(0, f, 0);
    let (cookie, (our_ts, _)) = (o.seq, ts_of(&o).unwrap());
    let f = c.client_frame(
        8,
        cookie.wrapping_add(1),
        "A",
        &[Opt::Timestamp(1001, our_ts)],
        &[],
    );
    let o = c.send_tx(0, f, 1);
    let lport = o.sport;
    assert!(!o.raw_opts.contains(&254), "no TOA on the SYN");
    let f = c.server_frame(
        lport,
        900,
        8,
        "SA",
        65535,
        &[Opt::Timestamp(5, 1001), Opt::WindowScale(7)],
        &[],
    );
    let o = c.send_tx(1, f, 1);
    assert_eq!((o.seq, o.ack), (8, 901));
    let at = o
        .raw_opts
        .iter()
        .position(|&b| b == 254)
        .expect("TOA option");
    assert_eq!(o.raw_opts[at + 1], 8);
    assert_eq!(&o.raw_opts[at + 2..at + 4], &40000u16.to_be_bytes());
    assert_eq!(&o.raw_opts[at + 4..at + 8], &[198, 18, 0, 50]);
    assert_eq!(ts_of(&o), Some((1001, 5)));
    assert_eq!(c.w.counters().toa_inserted.get(), 1);
}

/// Forged and stale cookies are dropped and counted; an ACK storm makes no session.
#[test]
fn forged_and_stale_cookies() {
    let mut c = Case::new(FwdMethod::Nat, false, |_| {});
    let f = c.client_frame(7, 0, "S", &[Opt::MaximumSegmentSize(1460)], &[]);
    let cookie = c.send_tx(0, f, 0).seq;
    // An ACK storm of guesses: none opens a session.
    for i in 0..1000u32 {
        let f = c.client_frame(8, cookie.wrapping_add(2 + i * 7919), "A", &[], &[]);
        let (v, _) = c.send(0, f);
        assert!(
            matches!(v, Verdict::Drop(DropReason::SynProxyCookieBad)),
            "{v:?}"
        );
    }
    assert_eq!(c.drop_count(DropReason::SynProxyCookieBad), 1000);
    // Another client port with this cookie: bad.
    c.cport = 40001;
    let f = c.client_frame(8, cookie.wrapping_add(1), "A", &[], &[]);
    assert_eq!(c.send(0, f).0, Verdict::Drop(DropReason::SynProxyCookieBad));
    c.cport = 40000;
    // Three minutes later the real one is stale.
    c.w.set_wall_clock(WALL + 192);
    let f = c.client_frame(8, cookie.wrapping_add(1), "A", &[], &[]);
    assert_eq!(
        c.send(0, f).0,
        Verdict::Drop(DropReason::SynProxyCookieStale)
    );
    assert_eq!(c.sessions(), 0);
    // A RST or a bare segment to the service starts nothing either.
    let f = c.client_frame(8, 0, "R", &[], &[]);
    assert_eq!(c.send(0, f).0, Verdict::Drop(DropReason::NotSynForNewTcp));
    // A minute later it is still good.
    c.w.set_wall_clock(WALL + 64);
    let f = c.client_frame(8, cookie.wrapping_add(1), "A", &[], &[]);
    assert_eq!(c.send(0, f).0, Verdict::Tx(1));
}

/// Gateway B (same secrets) opens the connection gateway A's cookie answered; a reload that
/// rotates the secret keeps the cookies in flight; after a second rotation they are gone.
#[test]
fn other_gateway_and_rotation() {
    let mut a = Case::new(FwdMethod::Nat, false, |_| {});
    let f = a.client_frame(7, 0, "S", &SYN_OPTS, &[]);
    let o = a.send_tx(0, f, 0);
    let (cookie, (ts, _)) = (o.seq, ts_of(&o).unwrap());
    let ack = a.client_frame(
        8,
        cookie.wrapping_add(1),
        "A",
        &[Opt::Timestamp(1001, ts)],
        &[],
    );

    let mut b = Case::new(FwdMethod::Nat, false, |_| {});
    b.w.set_wall_clock(WALL + 30);
    let o = b.send_tx(0, ack.clone(), 1);
    assert!(o.syn && o.opts.contains(&Opt::WindowScale(9)));

    let mut r = Case::new(FwdMethod::Nat, false, |_| {});
    r.snap = snapshot_keys(
        &r.n,
        FwdMethod::Nat,
        |s| s.syn_proxy = true,
        Some(keys(SECRET_B, Some(SECRET_A))),
    );
    assert_eq!(r.send(0, ack.clone()).0, Verdict::Tx(1));

    let mut g = Case::new(FwdMethod::Nat, false, |_| {});
    g.snap = snapshot_keys(
        &g.n,
        FwdMethod::Nat,
        |s| s.syn_proxy = true,
        Some(keys(*b"another-secret-3", Some(SECRET_B))),
    );
    assert_eq!(
        g.send(0, ack).0,
        Verdict::Drop(DropReason::SynProxyCookieBad)
    );
}

/// The server refuses our SYN: the client gets a RST at our ISN + 1 from the VIP, the session
/// goes.
#[test]
fn server_rst_reaches_the_client() {
    for method in [FwdMethod::Nat, FwdMethod::FullNat] {
        let mut c = Case::new(method, false, |_| {});
        let f = c.client_frame(7, 0, "S", &[Opt::MaximumSegmentSize(1460)], &[]);
        let cookie = c.send_tx(0, f, 0).seq;
        let f = c.client_frame(8, cookie.wrapping_add(1), "A", &[], &[]);
        let lport = c.send_tx(0, f, 1).sport;
        assert_eq!(c.sessions(), 1);
        let f = c.server_frame(lport, 0, 8, "RA", 0, &[], &[]);
        let o = c.send_tx(1, f, 0);
        assert!(o.rst, "{method:?}");
        assert_eq!(
            (o.src, o.sport, o.dst, o.dport),
            (c.n.vip, 80, c.n.client, 40000)
        );
        assert_eq!(o.seq, cookie.wrapping_add(1));
        assert_eq!(o.mac_dst, CLIENT_MAC);
        assert_eq!(c.sessions(), 0);
        assert_eq!(c.w.counters().syn_proxy_refused.get(), 1);
    }
}

/// A lost server SYN: the client's next segment (a second later) sends it again and is held;
/// a segment in the same second is dropped as pending; a stray server segment is refused.
#[test]
fn lost_syn_is_sent_again_with_the_clients_next_segment() {
    let mut c = Case::new(FwdMethod::Nat, false, |_| {});
    let f = c.client_frame(7, 0, "S", &[Opt::MaximumSegmentSize(1460)], &[]);
    let cookie = c.send_tx(0, f, 0).seq;
    let f = c.client_frame(8, cookie.wrapping_add(1), "A", &[], &[]);
    let o = c.send_tx(0, f, 1);
    assert!(o.syn);
    // The SYN was lost; the client sends its request.
    let f = c.client_frame(8, cookie.wrapping_add(1), "PA", &[], b"GET /x");
    let o = c.send_tx(0, f, 1);
    assert!(o.syn && o.seq == 7 && o.payload.is_empty(), "{o:?}");
    assert_eq!(c.w.counters().syn_proxy_held.get(), 1);
    // Within the same second, another segment: pending.
    c.now -= 1;
    let f = c.client_frame(14, cookie.wrapping_add(1), "PA", &[], b"more");
    assert_eq!(c.send(0, f).0, Verdict::Drop(DropReason::SynProxyPending));
    // A server segment that is not the answer to our SYN.
    let f = c.server_frame(40000, 900, 99, "A", 100, &[], &[]);
    assert_eq!(c.send(1, f).0, Verdict::Drop(DropReason::SynProxyServerBad));
    // The answer: the held request goes.
    let f = c.server_frame(
        40000,
        900,
        8,
        "SA",
        65535,
        &[Opt::MaximumSegmentSize(1460)],
        &[],
    );
    let o = c.send_tx(1, f, 1);
    assert_eq!(
        (o.seq, o.ack, o.payload.as_slice()),
        (8, 901, &b"GET /x"[..])
    );
    // The state went ESTABLISHED with the ACK, not before.
    let s = c.w.sessions4().iter().next().unwrap().1;
    assert_eq!(s.state_name(), "ESTABLISHED");
}

/// The gateway answers for the server, so it checks TCP checksums as an endpoint does: a
/// corrupt SYN gets no cookie, a corrupt cookie ACK opens nothing (both counted as
/// `bad_tcp_checksum`; the client sends them again), and corrupt data while the server leg
/// opens is not held (the gateway would replay it to the server as its own; found by the
/// pipeline fuzzer: the corrupt data went out to the server).
#[test]
fn corrupt_segments_to_the_syn_proxy_are_dropped() {
    for v6 in [false, true] {
        let mut c = Case::new(FwdMethod::FullNat, v6, |_| {});
        let f = corrupt(c.client_frame(7, 0, "S", &[Opt::MaximumSegmentSize(1460)], &[]));
        assert_eq!(
            c.send(0, f).0,
            Verdict::Drop(DropReason::BadTcpChecksum),
            "v6={v6}: a corrupt SYN"
        );
        assert_eq!(c.w.counters().syn_cookies_sent.get(), 0, "v6={v6}");
        let f = c.client_frame(7, 0, "S", &[Opt::MaximumSegmentSize(1460)], &[]);
        let cookie = c.send_tx(0, f, 0).seq;
        let f = corrupt(c.client_frame(8, cookie.wrapping_add(1), "PA", &[], b"GET /x"));
        assert_eq!(
            c.send(0, f).0,
            Verdict::Drop(DropReason::BadTcpChecksum),
            "v6={v6}: a corrupt ACK with data"
        );
        assert_eq!(c.sessions(), 0, "v6={v6}: the corrupt ACK opened nothing");
        assert_eq!(c.w.counters().syn_cookies_valid.get(), 0, "v6={v6}");
        assert_eq!(c.drop_count(DropReason::BadTcpChecksum), 2, "v6={v6}");
        // The client's retransmission without data opens the leg; its next segment is corrupt.
        let f = c.client_frame(8, cookie.wrapping_add(1), "A", &[], &[]);
        let o = c.send_tx(0, f, 1);
        assert!(o.syn, "v6={v6}: the server leg opens");
        let lport = o.sport;
        c.now -= 1;
        let f = corrupt(c.client_frame(8, cookie.wrapping_add(1), "PA", &[], b"GET /x"));
        assert_eq!(
            c.send(0, f).0,
            Verdict::Drop(DropReason::SynProxyPending),
            "v6={v6}"
        );
        assert_eq!(c.w.counters().syn_proxy_held.get(), 0, "v6={v6}");
        let f = c.server_frame(
            lport,
            900,
            8,
            "SA",
            65535,
            &[Opt::MaximumSegmentSize(1460)],
            &[],
        );
        let o = c.send_tx(1, f, 1);
        assert_eq!((o.seq, o.ack), (8, 901), "v6={v6}");
        assert!(o.payload.is_empty(), "v6={v6}: nothing corrupt replayed");
    }
}

/// `frame` with its last byte changed, so its TCP checksum no longer verifies.
fn corrupt(mut frame: Vec<u8>) -> Vec<u8> {
    let n = frame.len();
    frame[n - 1] ^= 0x20;
    frame
}

/// Nothing on the SYN proxy's paths allocates: cookie answers, valid ACKs with held data, the
/// server's SYN-ACK and the replay, translated segments both ways, and refused legs, all under
/// the counting allocator (after the first packet synced the worker to the snapshot, which
/// allocates the side array and the hold pool once).
#[test]
fn the_syn_proxy_paths_do_not_allocate() {
    let mut c = Case::new(FwdMethod::Nat, false, |_| {});
    let flows: Vec<u16> = (41000..41064).collect();
    let isn = 1000u32;
    // Untimed: the cookies (a SYN makes no state, so asking twice gives the same answer).
    let mut cookies = Vec::new();
    for &p in &flows {
        c.cport = p;
        let f = c.client_frame(isn, 0, "S", &SYN_OPTS, &[]);
        let o = c.send_tx(0, f, 0);
        cookies.push((o.seq, ts_of(&o).unwrap().0));
    }
    let (mut syns, mut acks, mut synacks, mut data, mut cacks) =
        (vec![], vec![], vec![], vec![], vec![]);
    for (i, (&p, &(ck, ts))) in flows.iter().zip(&cookies).enumerate() {
        c.cport = p;
        syns.push(c.client_frame(isn, 0, "S", &SYN_OPTS, &[]));
        acks.push(c.client_frame(
            isn + 1,
            ck.wrapping_add(1),
            "PA",
            &[Opt::Timestamp(1001, ts)],
            b"GET /",
        ));
        let sa = if i % 8 == 7 { "RA" } else { "SA" };
        synacks.push(c.server_frame(
            p,
            7000,
            isn + 1,
            sa,
            65535,
            &[Opt::Timestamp(9, 1001), Opt::WindowScale(9)],
            &[],
        ));
        data.push(c.server_frame(
            p,
            7001,
            isn + 6,
            "PA",
            100,
            &[Opt::Timestamp(10, 1001)],
            b"200 OK",
        ));
        cacks.push(c.client_frame(
            isn + 6,
            ck.wrapping_add(7),
            "A",
            &[Opt::Timestamp(1002, ts.wrapping_add(1))],
            &[],
        ));
    }
    let mut frame = [VecFrame::new(&syns[0])];
    let mut v = [Verdict::Drop(DropReason::NotForUs)];
    let mut tx = 0;
    let probe = allocation_counter::measure(|| {
        drop(std::hint::black_box(Vec::<u8>::with_capacity(64)));
    });
    assert_eq!(probe.count_total, 1, "the counting allocator is not in use");
    let info = allocation_counter::measure(|| {
        for (port, set) in [
            (0u8, &syns),
            (0, &acks),
            (1, &synacks),
            (1, &data),
            (0, &cacks),
        ] {
            for t in set.iter() {
                assert!(frame[0].reset(t));
                c.w.process(&c.snap, 20, port, &mut frame, &mut v);
                tx += usize::from(matches!(v[0], Verdict::Tx(_)));
            }
        }
    });
    assert_eq!(info.count_total, 0, "allocations on the SYN proxy's paths");
    // Every SYN, ACK and server answer went out; the refused legs' data and ACKs are dropped.
    let refused = flows.len() / 8;
    assert_eq!(
        tx,
        3 * flows.len() + 2 * (flows.len() - refused),
        "{:?}",
        c.drops()
    );
    assert_eq!(c.w.counters().syn_proxy_refused.get(), refused as u64);
}

/// Install every event of `evs` on `c`'s worker as its home (after it took the snapshot, as
/// the worker loop has it); the outcomes.
fn install(c: &mut Case, evs: &[SyncEvent]) -> Vec<InstallOutcome> {
    c.w.sync(&c.snap);
    evs.iter()
        .map(|&event| {
            c.w.install(
                &c.snap,
                c.now,
                &Install {
                    event,
                    role: Role::Home,
                },
            )
        })
        .collect()
}

/// The events `cs` holds.
fn drain(cs: &mut dataplane::sync::ControlSync) -> Vec<SyncEvent> {
    core::iter::from_fn(|| cs.events.pop().ok()).collect()
}

/// The server's SYN-ACK to our SYN on local port `lport` (ISN `sisn`).
fn server_synack(c: &Case, lport: u16, sisn: u32, isn1: u32) -> Vec<u8> {
    c.server_frame(
        lport,
        sisn,
        isn1,
        "SA",
        65535,
        &[
            Opt::MaximumSegmentSize(1460),
            Opt::SelectiveAcknowledgementPermitted,
            Opt::Timestamp(50_000, 1001),
            Opt::WindowScale(9),
        ],
        &[],
    )
}

/// A SYN proxy session synced to another gateway goes on there as it went here (issue 17: the
/// SYN proxy state travels with session sync). Gateway A opens a connection through its SYN
/// proxy with sync on: every event carries the state, and the last one says the server leg
/// is open. Gateway B installs them; the server's data and the client's SACK through both come
/// out the same (sequence numbers, timestamps, window, SACK edges translated). A dump carries
/// the state as well. A connection whose server leg was still opening on A when it failed over
/// opens on C: the client's next segment sends the server its SYN again, and the server's
/// SYN-ACK to C completes it. A gateway without the SYN proxy refuses the state (it has no room
/// to keep it), and a state without its session flag is refused as malformed.
fn synced(method: FwdMethod, v6: bool) {
    let what = format!("{method:?} v6={v6}");
    let mut a = Case::new(method, v6, |_| {});
    let (ws, mut cs) = link(SyncConfig::default());
    a.w.attach_sync(ws);
    let isn = 0x1000_0000_u32;
    let isn1 = isn.wrapping_add(1);
    let f = a.client_frame(isn, 0, "S", &SYN_OPTS, &[]);
    let o = a.send_tx(0, f, 0);
    let (cookie, our_ts) = (o.seq, ts_of(&o).expect("timestamps").0);
    let ack = a.client_frame(
        isn1,
        cookie.wrapping_add(1),
        "PA",
        &[Opt::Timestamp(1001, our_ts)],
        b"GET /",
    );
    let lport = a.send_tx(0, ack.clone(), 1).sport;
    let opening = drain(&mut cs);
    assert_eq!(opening.len(), 1, "{what}: the creation: {opening:?}");
    assert_eq!(opening[0].kind, SyncKind::Created);
    let sp_open = Session::<std::net::Ipv4Addr>::FLAG_SYNPROXY_OPEN;
    assert_eq!(
        opening[0].flags & SYNPROXY_FLAGS,
        Session::<std::net::Ipv4Addr>::FLAG_SYNPROXY,
        "{what}: opening"
    );
    assert_eq!(opening[0].synproxy.map(|s| s.seq), Some(cookie), "{what}");
    let sisn = 0x7000_0000_u32;
    let f = server_synack(&a, lport, sisn, isn1);
    a.send_tx(1, f, 1);
    let open = drain(&mut cs);
    assert!(
        open.last()
            .is_some_and(|e| e.flags & sp_open != 0 && e.synproxy.is_some()),
        "{what}: the open leg is published: {open:?}"
    );
    let events: Vec<_> = opening.iter().chain(&open).copied().collect();
    assert!(events.iter().all(|e| e.synproxy.is_some()), "{what}");

    // B takes every event; the same segments through A and B come out the same.
    let mut b = Case::new(method, v6, |_| {});
    b.now = a.now;
    let got = install(&mut b, &events);
    assert_eq!(got[0], InstallOutcome::Installed, "{what}: {got:?}");
    assert!(
        got[1..].iter().all(|o| *o == InstallOutcome::Updated),
        "{what}: {got:?}"
    );
    let l = cookie.wrapping_add(1);
    let s1 = sisn.wrapping_add(1);
    let through = |c: &mut Case| {
        let f = c.server_frame(
            lport,
            s1,
            isn1.wrapping_add(5),
            "PA",
            100,
            &[Opt::Timestamp(50_010, 1001)],
            b"HTTP/1.1 200",
        );
        let down = c.send_tx(1, f, 0);
        let f = c.client_frame(
            isn1.wrapping_add(5),
            l.wrapping_add(12),
            "A",
            &[
                Opt::Noop,
                Opt::Noop,
                Opt::Timestamp(1002, our_ts.wrapping_add(10)),
                Opt::Noop,
                Opt::Noop,
                Opt::SelectiveAcknowledgement((l.wrapping_add(20), l.wrapping_add(30)), [None; 3]),
            ],
            &[],
        );
        let up = c.send_tx(0, f, 1);
        (
            (down.seq, down.ack, down.window, ts_of(&down), down.payload),
            (up.seq, up.ack, up.raw_opts),
        )
    };
    let want = through(&mut a);
    assert_eq!(want.0 .0, l, "{what}: the original translates");
    assert_eq!(
        through(&mut b),
        want,
        "{what}: the synced copy translates alike"
    );
    assert_eq!(b.drops(), vec![], "{what}");

    // A dump carries the open state.
    cs.request_dump();
    let mut all = Vec::new();
    for _ in 0..100_000 {
        a.w.serve_sync(&a.snap, a.now);
        all.extend(drain(&mut cs));
        if all.iter().any(|e| e.kind == SyncKind::DumpEnd) {
            break;
        }
    }
    let dumped: Vec<_> = all
        .into_iter()
        .filter(|e| e.kind == SyncKind::Dump)
        .collect();
    assert_eq!(dumped.len(), 1, "{what}: {dumped:?}");
    assert_eq!(
        dumped[0].synproxy,
        open.last().and_then(|e| e.synproxy),
        "{what}"
    );
    assert_eq!(dumped[0].flags & SYNPROXY_FLAGS, SYNPROXY_FLAGS, "{what}");
    let mut d = Case::new(method, v6, |_| {});
    d.now = a.now;
    assert_eq!(
        install(&mut d, &dumped),
        [InstallOutcome::Installed],
        "{what}"
    );
    assert_eq!(
        through(&mut d),
        want,
        "{what}: a copy from the dump translates alike"
    );

    // Failover while the server leg opens: C has only the creation. The client sends its
    // request again; C sends the server the client's SYN at once (the answer to A's may have
    // gone to A), and the server's SYN-ACK to C opens the leg with the request.
    let mut c = Case::new(method, v6, |_| {});
    c.now = a.now;
    assert_eq!(
        install(&mut c, &opening),
        [InstallOutcome::Installed],
        "{what}"
    );
    let o = c.send_tx(0, ack, 1);
    assert!(
        o.syn && !o.ackf && o.seq == isn && o.sport == lport,
        "{what}: SYN again: {o:?}"
    );
    assert_eq!(ts_of(&o), Some((1001, 0)), "{what}");
    let f = server_synack(&c, lport, sisn, isn1);
    let o = c.send_tx(1, f, 1);
    assert_eq!(
        (o.seq, o.ack, o.payload.as_slice()),
        (isn1, s1, &b"GET /"[..]),
        "{what}"
    );
    assert_eq!(
        through(&mut c),
        want,
        "{what}: opened on C, translated alike"
    );

    // A gateway without the SYN proxy has no room for the state; a state without its flag.
    let mut e = Case::new(method, v6, |s| s.syn_proxy = false);
    e.now = a.now;
    let got = install(&mut e, &events[..1]);
    assert_eq!(
        got,
        [InstallOutcome::Refused(Refusal::SynProxyOff)],
        "{what}"
    );
    let mut bad = events[..1].to_vec();
    bad[0].flags &= !SYNPROXY_FLAGS;
    let mut g = Case::new(method, v6, |_| {});
    let got = install(&mut g, &bad);
    assert_eq!(got, [InstallOutcome::Refused(Refusal::Malformed)], "{what}");
}

#[test]
fn synced_syn_proxy_sessions_go_on_on_another_gateway() {
    for method in [FwdMethod::FullNat, FwdMethod::Nat] {
        for v6 in [false, true] {
            synced(method, v6);
        }
    }
}

/// An open connection's numbers: the cookie (our ISN towards the client), our first TSval, the
/// server leg's local port, the client's ISN + 1, the server's ISN + 1.
struct Opened {
    cookie: u32,
    our_ts: u32,
    lport: u16,
    isn1: u32,
    s1: u32,
}

/// Open a connection through `c`'s SYN proxy: SYN, cookie, ACK, server SYN-ACK.
fn open(c: &mut Case) -> Opened {
    let isn1 = 0x2000_0001_u32;
    let f = c.client_frame(isn1.wrapping_sub(1), 0, "S", &SYN_OPTS, &[]);
    let o = c.send_tx(0, f, 0);
    let (cookie, our_ts) = (o.seq, ts_of(&o).expect("timestamps").0);
    let f = c.client_frame(
        isn1,
        cookie.wrapping_add(1),
        "A",
        &[Opt::Timestamp(1001, our_ts)],
        &[],
    );
    let lport = c.send_tx(0, f, 1).sport;
    let sisn = 0x6000_0000_u32;
    let f = server_synack(c, lport, sisn, isn1);
    c.send_tx(1, f, 1);
    Opened {
        cookie,
        our_ts,
        lport,
        isn1,
        s1: sisn.wrapping_add(1),
    }
}

/// The TCP segment an ICMP error out of the worker quotes (whole), its checksum verified: its
/// sequence and acknowledgement numbers.
fn quoted_seq_ack(out: &[u8]) -> (u32, u32) {
    let p = SlicedPacket::from_ethernet(out).unwrap();
    let quote = match p.transport {
        Some(TransportSlice::Icmpv4(i)) => i.payload().to_vec(),
        Some(TransportSlice::Icmpv6(i)) => i.payload().to_vec(),
        _ => panic!("not ICMP"),
    };
    let q = SlicedPacket::from_ip(&quote).unwrap();
    let Some(TransportSlice::Tcp(t)) = q.transport else {
        panic!("the quote is not TCP")
    };
    let th = t.to_header();
    let c = match q.net {
        Some(NetSlice::Ipv4(v4)) => th.calc_checksum_ipv4(&v4.header().to_header(), t.payload()),
        Some(NetSlice::Ipv6(v6)) => th.calc_checksum_ipv6(&v6.header().to_header(), t.payload()),
        _ => panic!("not IP"),
    }
    .unwrap();
    assert_eq!(c, th.checksum, "the quoted segment's checksum");
    (t.sequence_number(), t.acknowledgment_number())
}

/// ICMP errors about an open SYN proxy connection quote a segment in the numbering of the leg
/// it travelled; the error reaches the other end in that end's numbering (its stack ignores an
/// error whose quoted sequence number it never sent: path MTU discovery would fail). A "too
/// big" from the client's side about the server's data reaches the server quoting the server's
/// sequence number; one from the server's side about the client's segment reaches the client
/// quoting the client's acknowledgement. NAT and FullNAT, IPv4 and IPv6.
#[test]
fn icmp_errors_quote_each_end_its_own_numbers() {
    for method in [FwdMethod::FullNat, FwdMethod::Nat] {
        for v6 in [false, true] {
            let what = format!("{method:?} v6={v6}");
            let mut c = Case::new(method, v6, |_| {});
            let o = open(&mut c);
            let l = o.cookie.wrapping_add(1);
            // The server's data as the client got it, and the client's ACK as the server got it.
            let f = c.server_frame(
                o.lport,
                o.s1,
                o.isn1,
                "PA",
                100,
                &[Opt::Timestamp(50_010, 1001)],
                &[7; 100],
            );
            let (v, down) = c.send(1, f);
            assert_eq!(v, Verdict::Tx(0), "{what}");
            let down = down.data().to_vec();
            assert_eq!(parse_out(&down).seq, l, "{what}");
            let f = c.client_frame(
                o.isn1,
                l.wrapping_add(100),
                "A",
                &[Opt::Timestamp(1002, o.our_ts)],
                &[],
            );
            let (v, up) = c.send(0, f);
            assert_eq!(v, Verdict::Tx(1), "{what}");
            let up = up.data().to_vec();
            assert_eq!(parse_out(&up).ack, o.s1.wrapping_add(100), "{what}");

            // From the client's side, about the data: to the server, in its numbers.
            let err = icmp_error_quoting((CLIENT_MAC, GW0), c.n.client, c.n.vip, &down, 200);
            let (v, out) = c.send(0, err);
            assert_eq!(v, Verdict::Tx(1), "{what}: {:?}", c.drops());
            assert_eq!(
                quoted_seq_ack(out.data()),
                (o.s1, o.isn1),
                "{what}: to the server"
            );
            // From the server's side, about the client's ACK: to the client, in its numbers.
            let to = if method == FwdMethod::FullNat {
                c.n.laddr
            } else {
                c.n.client
            };
            let err = icmp_error_quoting((RS_MAC, GW1), c.n.backend, to, &up, 200);
            let (v, out) = c.send(1, err);
            assert_eq!(v, Verdict::Tx(0), "{what}: {:?}", c.drops());
            assert_eq!(
                quoted_seq_ack(out.data()),
                (o.isn1, l.wrapping_add(100)),
                "{what}: to the client"
            );
            assert_eq!(c.w.counters().icmp_translated.get(), 2, "{what}");
        }
    }
}

/// `syn_proxy = "auto"`: a worker measuring its own SYNs and table, stepped by `tick`.
mod auto {
    use super::*;
    use dataplane::synauto::AutoLevels;

    /// An `auto` case whose worker holds `sessions` IPv4 and IPv6 sessions, with `levels`.
    fn case(method: FwdMethod, v6: bool, sessions: usize, levels: AutoLevels) -> Case {
        let mut c = Case::new(method, v6, |s| {
            s.syn_proxy = false;
            s.syn_proxy_auto = true;
        });
        c.snap.syn_auto = levels;
        c.w = Worker::new(WorkerConfig {
            sessions4: sessions,
            sessions6: sessions,
            ..WorkerConfig::default()
        });
        c.w.set_wall_clock(WALL);
        // Take the snapshot now, so that the first tick starts the first window.
        c.w.sync(&c.snap);
        c.w.tick(c.now);
        c
    }

    /// The service's id (the snapshot has one).
    fn sid(c: &Case) -> dataplane::types::ServiceIdx {
        let i = c.snap.services.iter().position(Option::is_some).unwrap();
        dataplane::types::ServiceIdx::try_from(i).unwrap()
    }

    impl Case {
        /// Send `frame` at the current second (the clock stays: the SYN rate is per second).
        fn at(&mut self, port: u8, frame: Vec<u8>) -> (Verdict, VecFrame) {
            let mut f = [VecFrame::new(&frame)];
            let mut v = [Verdict::Drop(DropReason::NotForUs)];
            self.w.process(&self.snap, self.now, port, &mut f, &mut v);
            let [f] = f;
            (v[0], f)
        }

        fn at_tx(&mut self, port: u8, frame: Vec<u8>, want: u8) -> Out {
            let (v, f) = self.at(port, frame);
            assert_eq!(v, Verdict::Tx(want), "{:?}", self.drops());
            parse_out(f.data())
        }

        /// The next second's tick.
        fn next_second(&mut self) {
            self.now += 1;
            self.w.tick(self.now);
        }

        /// (engaged gauge, engagements, releases) of the service on this worker.
        fn gauge(&self) -> (u64, u64, u64) {
            let g = self.w.counters().syn_auto(sid(self)).unwrap();
            (
                g.engaged.get(),
                g.engaged_total.get(),
                g.released_total.get(),
            )
        }

        /// A SYN from `cport`, forwarded directly to the server: its source port there.
        fn direct_syn(&mut self, cport: u16, what: &str) -> u16 {
            self.cport = cport;
            let f = self.client_frame(100, 0, "S", &SYN_OPTS, &[]);
            let o = self.at_tx(0, f, 1);
            assert!(o.syn && !o.ackf, "{what}: a SYN to the server");
            assert_eq!(
                (o.dst, o.dport, o.seq),
                (self.n.backend, 8080, 100),
                "{what}"
            );
            o.sport
        }

        /// A SYN from `cport`, answered by the gateway: the cookie.
        fn cookie_syn(&mut self, cport: u16, what: &str) -> u32 {
            self.cport = cport;
            let f = self.client_frame(200, 0, "S", &SYN_OPTS, &[]);
            let o = self.at_tx(0, f, 0);
            assert!(o.syn && o.ackf, "{what}: the gateway's SYN-ACK");
            assert_eq!(
                (o.src, o.sport, o.dst, o.dport),
                (self.n.vip, 80, self.n.client, cport)
            );
            assert_eq!(o.ack, 201, "{what}");
            o.seq
        }
    }

    const RATE: AutoLevels = AutoLevels {
        on_syn_rate: 5,
        off_syn_rate: 2,
        on_table_fill: 100,
        off_table_fill: 99,
        hold_s: 3,
    };

    /// Below the rate SYNs go to the server; at the rate the proxy engages (gauge, counter),
    /// answers SYNs with cookies, and the direct sessions keep working; after the hold it lets
    /// go, the proxied session keeps its translation, and a cookie sent while engaged still
    /// opens its connection.
    fn rate(method: FwdMethod, v6: bool) {
        let what = format!("{method:?} v6={v6}");
        let mut c = case(method, v6, 1 << 12, RATE);
        // Four SYNs in a second: under the on level.
        let mut direct = Vec::new();
        for p in 0..4 {
            direct.push(c.direct_syn(41000 + p, &what));
        }
        c.next_second();
        assert_eq!(c.gauge(), (0, 0, 0), "{what}: 4/s stays off");
        assert_eq!(c.w.counters().syn_cookies_sent.get(), 0);
        // Five in the next: the tick after engages it.
        for p in 4..9 {
            direct.push(c.direct_syn(41000 + p, &what));
        }
        assert_eq!(c.sessions(), 9);
        c.next_second();
        assert_eq!(c.gauge(), (1, 1, 0), "{what}: 5/s engages");
        // Now a SYN gets the cookie and no session.
        let cookie = c.cookie_syn(42000, &what);
        assert_eq!(c.sessions(), 9, "{what}: no session for a proxied SYN");
        assert_eq!(c.w.counters().syn_cookies_sent.get(), 1);
        // A session opened directly keeps going directly: the server's SYN-ACK reaches the
        // client unchanged.
        let (to, cport) = (direct[0], 41000);
        c.cport = cport;
        let f = c.server_frame(to, 5000, 101, "SA", 65535, &[], &[]);
        let o = c.at_tx(1, f, 0);
        assert!(o.syn && o.ackf, "{what}");
        assert_eq!(
            (o.src, o.sport, o.dst, o.dport),
            (c.n.vip, 80, c.n.client, cport)
        );
        assert_eq!((o.seq, o.ack), (5000, 101), "{what}: no translation");
        // The cookie's ACK opens the proxied session and the server leg.
        c.cport = 42000;
        let f = c.client_frame(201, cookie.wrapping_add(1), "A", &[], &[]);
        let o = c.at_tx(0, f, 1);
        assert!(o.syn && !o.ackf, "{what}: server SYN");
        let plport = o.sport;
        // A calm second (1 SYN counted) starts the hold; a second with 2 SYNs (the off
        // level) restarts it; then three calm seconds let go.
        c.next_second();
        assert_eq!(c.gauge().0, 1);
        c.cookie_syn(42001, &what);
        c.cookie_syn(42002, &what);
        c.next_second();
        c.next_second();
        c.next_second();
        assert_eq!(c.gauge(), (1, 1, 0), "{what}: held on");
        // A cookie sent while engaged, answered after the release.
        let late = c.cookie_syn(42003, &what);
        c.next_second();
        assert_eq!(c.gauge().0, 1, "{what}: two calm seconds of three");
        c.next_second();
        assert_eq!(c.gauge(), (0, 1, 1), "{what}: released after the hold");
        // SYNs go to the server again.
        c.direct_syn(43000, &what);
        // The proxied session keeps its translation: the server's SYN-ACK becomes the
        // client's ACK, the server's data reaches the client in the cookie's numbering.
        c.cport = 42000;
        let f = c.server_frame(plport, 7000, 201, "SA", 65535, &[], &[]);
        let o = c.at_tx(1, f, 1);
        assert!(o.ackf && !o.syn, "{what}: the client's ACK to the server");
        assert_eq!((o.seq, o.ack), (201, 7001), "{what}");
        let f = c.server_frame(plport, 7001, 201, "PA", 1000, &[], b"hello");
        let o = c.at_tx(1, f, 0);
        assert_eq!(
            o.seq,
            cookie.wrapping_add(1),
            "{what}: translated after the release"
        );
        assert_eq!(o.payload, b"hello");
        // The late cookie's ACK still opens its connection.
        c.cport = 42003;
        let f = c.client_frame(201, late.wrapping_add(1), "A", &[], &[]);
        let o = c.at_tx(0, f, 1);
        assert!(
            o.syn && !o.ackf,
            "{what}: the late cookie opens the server leg"
        );
        assert_eq!(c.w.counters().syn_cookies_valid.get(), 2);
        assert_eq!(c.drops(), vec![], "{what}");
    }

    #[test]
    fn rate_nat_v4() {
        rate(FwdMethod::Nat, false);
    }

    #[test]
    fn rate_fullnat_v4() {
        rate(FwdMethod::FullNat, false);
    }

    #[test]
    fn rate_nat_v6() {
        rate(FwdMethod::Nat, true);
    }

    #[test]
    fn rate_fullnat_v6() {
        rate(FwdMethod::FullNat, true);
    }

    /// The `auto` paths allocate nothing: direct SYNs counted, the tick that engages, cookie
    /// answers, the tick that lets go.
    #[test]
    fn the_auto_paths_do_not_allocate() {
        let mut c = case(FwdMethod::FullNat, false, 1 << 12, RATE);
        let syns: Vec<Vec<u8>> = (0..64)
            .map(|p| {
                c.cport = 41000 + p;
                c.client_frame(100, 0, "S", &SYN_OPTS, &[])
            })
            .collect();
        // Warm: the session table's and the pools' first use.
        c.direct_syn(40999, "warm");
        let mut frame = [VecFrame::new(&syns[0])];
        let mut v = [Verdict::Drop(DropReason::NotForUs)];
        let (mut to_server, mut cookies) = (0, 0);
        let info = allocation_counter::measure(|| {
            for round in 0..2 {
                for t in &syns[round * 32..round * 32 + 32] {
                    assert!(frame[0].reset(t));
                    c.w.process(&c.snap, c.now, 0, &mut frame, &mut v);
                    to_server += usize::from(v[0] == Verdict::Tx(1));
                    cookies += usize::from(v[0] == Verdict::Tx(0));
                }
                c.now += 1;
                c.w.tick(c.now);
            }
            for _ in 0..5 {
                c.now += 1;
                c.w.tick(c.now);
            }
        });
        assert_eq!(info.count_total, 0, "allocations on the auto paths");
        assert_eq!((to_server, cookies), (32, 32));
        assert_eq!(c.gauge(), (0, 1, 1));
    }

    /// The table fill engages the proxy with few SYNs a second and holds it on while the table
    /// stays above the off level; it lets go when the sessions have expired; a bare ACK long
    /// after gets no cookie check.
    #[test]
    fn table_fill() {
        for method in [FwdMethod::Nat, FwdMethod::FullNat] {
            let what = format!("{method:?}");
            let levels = AutoLevels {
                on_syn_rate: 1000,
                off_syn_rate: 500,
                on_table_fill: 50,
                off_table_fill: 25,
                hold_s: 2,
            };
            let mut c = case(method, false, 16, levels);
            for p in 0..7 {
                c.direct_syn(41000 + p, &what);
                c.next_second();
            }
            assert_eq!(c.gauge(), (0, 0, 0), "{what}: 7/16 sessions");
            c.direct_syn(41007, &what);
            c.next_second();
            assert_eq!(c.gauge(), (1, 1, 0), "{what}: 8/16 sessions engage");
            c.cookie_syn(42000, &what);
            // Few SYNs, but the table stays at 50%: held on.
            for _ in 0..5 {
                c.next_second();
            }
            assert_eq!(c.sessions(), 8, "{what}");
            assert_eq!(c.gauge(), (1, 1, 0), "{what}: the fill holds it on");
            // The embryonic sessions time out: the table empties, and after the hold it lets go.
            c.now += 600;
            for _ in 0..4 {
                c.next_second();
            }
            assert_eq!(c.sessions(), 0, "{what}");
            assert_eq!(c.gauge(), (0, 1, 1), "{what}: released");
            c.direct_syn(43000, &what);
            // Long after, a bare ACK is a plain "not a SYN" again.
            c.now += 1000;
            c.w.tick(c.now);
            c.cport = 44000;
            let f = c.client_frame(5, 6, "A", &[], &[]);
            let (v, _) = c.at(0, f);
            assert_eq!(v, Verdict::Drop(DropReason::NotSynForNewTcp), "{what}");
        }
    }
}
