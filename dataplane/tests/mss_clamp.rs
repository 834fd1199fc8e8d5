//! The per-service TCP MSS clamp (`mss_clamp`) through the worker, every mode, IPv4 and IPv6 (TUN: IPv4, as the worker forwards it):
//! the client's SYN towards the real server has its MSS lowered (DR, TUN, NAT, FullNAT), the
//! server's SYN-ACK towards the client too (NAT, FullNAT: DR/TUN replies bypass the gateway);
//! an MSS at or below the limit is not raised, a SYN without the option gets none, an option at
//! an odd offset is lowered too a service without the clamp is untouched, and the PROXY
//! protocol's own lowering composes with the clamp as the smaller of both. Every frame out has
//! valid IP and TCP checksums (checked with etherparse on the whole segment).

use std::net::IpAddr;

use dataplane::frame::{Frame, VecFrame};
use dataplane::session::FwdMethod;
use dataplane::snapshot::{ProxyProtocol, Snapshot};
use dataplane::wire::DropReason;
use dataplane::worker::{Verdict, Worker, WorkerConfig};
use etherparse::{NetSlice, PacketBuilder, SlicedPacket, TcpOptionElement as Opt, TransportSlice};
use testkit::packet::CLIENT_MAC;
use testkit::topology::{GW0, GW1};

mod common;
use common::{net, snapshot, Net, RS_MAC};

const CLAMP: u16 = 1200;

/// A TCP segment `src:sp -> dst:dp` with `flags` ("S" or "SA").
fn seg(
    (mac_src, mac_dst): ([u8; 6], [u8; 6]),
    (src, sp): (IpAddr, u16),
    (dst, dp): (IpAddr, u16),
    flags: &str,
    opts: &[Opt],
) -> Vec<u8> {
    let e = PacketBuilder::ethernet2(mac_src, mac_dst);
    let ipb = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => e.ipv4(s.octets(), d.octets(), 64),
        (IpAddr::V6(s), IpAddr::V6(d)) => e.ipv6(s.octets(), d.octets(), 64),
        _ => unreachable!(),
    };
    let mut t = ipb.tcp(sp, dp, 1000, 65535).syn();
    if flags.contains('A') {
        t = t.ack(1001);
    }
    if !opts.is_empty() {
        t = t.options(opts).unwrap();
    }
    let mut out = Vec::new();
    t.write(&mut out, &[]).unwrap();
    out
}

/// What came out: (source port, options), after checking the IP and TCP checksums. A TUN
/// frame's outer IP header is skipped.
fn parse_out(d: &[u8]) -> (u16, Vec<Opt>) {
    let p = match SlicedPacket::from_ethernet(d).unwrap().net {
        Some(NetSlice::Ipv4(v4)) if v4.header().protocol() == etherparse::IpNumber::IPV4 => {
            SlicedPacket::from_ip(&d[14 + v4.header().slice().len()..]).unwrap()
        }
        Some(NetSlice::Ipv6(v6)) if v6.header().next_header() == etherparse::IpNumber::IPV6 => {
            SlicedPacket::from_ip(&d[14 + 40..]).unwrap()
        }
        _ => SlicedPacket::from_ethernet(d).unwrap(),
    };
    let Some(TransportSlice::Tcp(t)) = p.transport else {
        panic!("not TCP")
    };
    let th = t.to_header();
    match p.net {
        Some(NetSlice::Ipv4(v4)) => {
            let h = v4.header().to_header();
            assert_eq!(h.calc_header_checksum(), h.header_checksum, "IPv4 checksum");
            let want = th.calc_checksum_ipv4(&h, t.payload()).unwrap();
            assert_eq!(want, th.checksum, "TCP checksum");
        }
        Some(NetSlice::Ipv6(v6)) => {
            let h = v6.header().to_header();
            let want = th.calc_checksum_ipv6(&h, t.payload()).unwrap();
            assert_eq!(want, th.checksum, "TCP checksum");
        }
        _ => panic!("not IP"),
    }
    let opts = t.options_iterator().map(Result::unwrap).collect();
    (t.source_port(), opts)
}

/// The MSS among `opts`, if any.
fn mss(opts: &[Opt]) -> Option<u16> {
    opts.iter().find_map(|o| match o {
        Opt::MaximumSegmentSize(m) => Some(*m),
        _ => None,
    })
}

struct Case {
    w: Worker,
    snap: Snapshot,
    n: Net,
    method: FwdMethod,
    now: u32,
}

impl Case {
    fn new(method: FwdMethod, v6: bool, clamp: u16, pp: ProxyProtocol) -> Case {
        let mut n = net(v6);
        if method != FwdMethod::FullNat {
            n.laddr = n.client;
        }
        Case {
            w: Worker::new(WorkerConfig::default()),
            snap: snapshot(&n, method, |s| {
                s.proxy_protocol = pp;
                s.mss_clamp = clamp;
            }),
            n,
            method,
            now: 0,
        }
    }

    /// Send `frame` in on `port`; the frame out (expected on the other port), parsed.
    fn send(&mut self, port: u8, frame: Vec<u8>) -> (u16, Vec<Opt>) {
        let mut f = [VecFrame::new(&frame)];
        let mut v = [Verdict::Drop(DropReason::NotForUs)];
        self.now += 1;
        self.w.process(&self.snap, self.now, port, &mut f, &mut v);
        assert_eq!(v[0], Verdict::Tx(1 - port), "{:?}", self.w.counters().drops);
        parse_out(f[0].data())
    }

    /// The client's SYN from port `cport` with `opts`; the MSS out and the port the server
    /// sees the connection from.
    fn syn(&mut self, cport: u16, opts: &[Opt]) -> (Option<u16>, u16) {
        let f = seg(
            (CLIENT_MAC, GW0),
            (self.n.client, cport),
            (self.n.vip, 80),
            "S",
            opts,
        );
        let (sport, o) = self.send(0, f);
        (mss(&o), sport)
    }

    /// The server's SYN-ACK to port `to` with `opts`; the MSS out.
    fn syn_ack(&mut self, to: u16, opts: &[Opt]) -> Option<u16> {
        let f = seg(
            (RS_MAC, GW1),
            (self.n.backend, 8080),
            (self.n.laddr, to),
            "SA",
            opts,
        );
        mss(&self.send(1, f).1)
    }

    /// Whether the server's replies pass the gateway.
    fn replies_pass(&self) -> bool {
        matches!(self.method, FwdMethod::Nat | FwdMethod::FullNat)
    }
}

const MODES: [FwdMethod; 4] = [
    FwdMethod::Dr,
    FwdMethod::Tun,
    FwdMethod::Nat,
    FwdMethod::FullNat,
];

/// The families `method` forwards (TUN: IPIP, IPv4 only).
fn families(method: FwdMethod) -> &'static [bool] {
    if method == FwdMethod::Tun {
        &[false]
    } else {
        &[false, true]
    }
}

#[test]
fn syn_and_syn_ack_mss_lowered_every_mode() {
    for method in MODES {
        for &v6 in families(method) {
            let what = format!("{method:?} v6={v6}");
            let mut c = Case::new(method, v6, CLAMP, ProxyProtocol::Off);
            let (m, to) = c.syn(40000, &[Opt::MaximumSegmentSize(1460)]);
            assert_eq!(m, Some(CLAMP), "{what}: SYN");
            if c.replies_pass() {
                let m = c.syn_ack(to, &[Opt::MaximumSegmentSize(1460)]);
                assert_eq!(m, Some(CLAMP), "{what}: SYN-ACK");
            }
            // An option at an odd offset (after one NOP), with SACK-permitted and a window
            // scale around it.
            let opts = [
                Opt::Noop,
                Opt::MaximumSegmentSize(8960),
                Opt::SelectiveAcknowledgementPermitted,
                Opt::WindowScale(7),
            ];
            let (m, to) = c.syn(40001, &opts);
            assert_eq!(m, Some(CLAMP), "{what}: odd-offset SYN");
            if c.replies_pass() {
                assert_eq!(c.syn_ack(to, &opts), Some(CLAMP), "{what}: odd SYN-ACK");
            }
        }
    }
}

#[test]
fn mss_never_raised_nor_added() {
    for method in MODES {
        for &v6 in families(method) {
            let what = format!("{method:?} v6={v6}");
            let mut c = Case::new(method, v6, CLAMP, ProxyProtocol::Off);
            let (m, to) = c.syn(40000, &[Opt::MaximumSegmentSize(1000)]);
            assert_eq!(m, Some(1000), "{what}: SYN below the clamp");
            if c.replies_pass() {
                let m = c.syn_ack(to, &[Opt::MaximumSegmentSize(CLAMP)]);
                assert_eq!(m, Some(CLAMP), "{what}: SYN-ACK at the clamp");
            }
            let (m, to) = c.syn(40001, &[]);
            assert_eq!(m, None, "{what}: SYN without MSS");
            if c.replies_pass() {
                assert_eq!(
                    c.syn_ack(to, &[Opt::WindowScale(7)]),
                    None,
                    "{what}: SYN-ACK"
                );
            }
        }
    }
}

#[test]
fn service_without_clamp_untouched() {
    for method in MODES {
        let mut c = Case::new(method, false, 0, ProxyProtocol::Off);
        let (m, to) = c.syn(40000, &[Opt::MaximumSegmentSize(8960)]);
        assert_eq!(m, Some(8960), "{method:?}: SYN");
        if c.replies_pass() {
            let m = c.syn_ack(to, &[Opt::MaximumSegmentSize(8960)]);
            assert_eq!(m, Some(8960), "{method:?}: SYN-ACK");
        }
    }
}

/// PROXY lowers the SYN-ACK's MSS by its header's length; with the clamp the result is the
/// smaller of the two.
#[test]
fn proxy_and_clamp_compose_as_the_minimum() {
    for method in [FwdMethod::Nat, FwdMethod::FullNat] {
        // "PROXY TCP4 198.18.0.50 198.18.0.100 40000 80\r\n": 46 bytes.
        let l = 46;
        for (clamp, want) in [(CLAMP, CLAMP), (1450, 1460 - l), (0, 1460 - l)] {
            let mut c = Case::new(method, false, clamp, ProxyProtocol::V1);
            let (m, to) = c.syn(40000, &[Opt::MaximumSegmentSize(1460)]);
            assert_eq!(m, Some(if clamp == 0 { 1460 } else { clamp }), "{method:?}");
            let m = c.syn_ack(to, &[Opt::MaximumSegmentSize(1460)]);
            assert_eq!(m, Some(want), "{method:?} clamp {clamp}: SYN-ACK");
        }
    }
}
