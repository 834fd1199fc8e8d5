//! Golden packets: the forwarding behaviour as one table of (name, input frame, expected output
//! frame or verdict), STYLE rule 17 (Katran's `KatranBaseTestFixtures.h`).
//!
//! Everything here is fixed data: one test topology ([`snapshot`]), the worker settings the table
//! assumes ([`worker_config`], [`redirect_worker_config`]) and the cases ([`cases`],
//! [`redirect_cases`]). The in-process runner is `dataplane/tests/golden.rs`; the gateway binary
//! replays the same table through DPDK's `net_pcap` in `tests/gateway_pcap.rs` (see
//! [`write_pcap`]).
//!
//! Contract:
//! - **The table is a sequence.** A SYN creates a session and a later case (the SYN-ACK, the
//!   ACK carrying TOA, an ICMP error quoting the flow) uses it, so cases must be run in order,
//!   through ONE worker built with [`worker_config`], with [`NOW`] as the time, on [`snapshot`].
//!   [`redirect_cases`] are a separate sequence for a fresh worker built with
//!   [`redirect_worker_config`] (worker 0 of 2), and [`redirect_owner_cases`] (the frames it
//!   redirects) one for a fresh worker built with [`redirect_owner_worker_config`] (worker 1).
//! - **Expected frames are built independently of the code under test**: with etherparse's
//!   header types (which compute every checksum in full) or by hand, never by running the
//!   pipeline. An expectation is written as "the input packet, with these fields changed".
//! - **FullNAT local ports are derived from the documented choice**: worker `id` of `workers`
//!   picks ports `base + k * workers + id` with `base = lport_min` rounded up to a multiple of
//!   `workers`, `k` counting the worker's FullNAT flows from 0, and cycles through a service's
//!   local addresses with the same counter. With one local address per service and
//!   `WorkerConfig::default()` (id 0, one worker, `lport_min` 1024) the n-th FullNAT flow of the
//!   table (either family, any service) gets port `1024 + n`.
//!
//! Replaying through the gateway (`net_pcap`): [`inputs`] and [`outputs`] give the frames in
//! table order ([`outputs`] can keep one egress port's), [`write_pcap`] / [`read_pcap`] the
//! files, and [`diff`] the report of a frame that differs. The cases arrive on two ports and
//! later ones depend on earlier ones, so a replay must keep the table order across ports (for
//! example one case at a time, or the cases of one `in_port` only where they do not depend on
//! the other's); `Drop` and `Redirect` cases transmit nothing, `Punt` cases go to control. The
//! gateway must run one worker with `lport_min` 1024 for the FullNAT ports to match (two for
//! [`redirect_cases`]), and know [`neighbours`] from the start (static neighbours).
//!
//! Topology (DESIGN §9 addresses, 198.18.0.0/15 and 2001:db8::/32):
//!
//! | what | IPv4 | IPv6 | MAC |
//! |---|---|---|---|
//! | port 0, client side | 198.18.0.1/24 | 2001:db8:0::1/64 | 02:00:00:00:00:10 |
//! | port 1, server side | 198.18.1.1/24 | 2001:db8:1::1/64 | 02:00:00:00:00:11 |
//! | client | 198.18.0.50 | 2001:db8::50 | 02:00:00:00:00:c1 |
//! | client-side router (ICMP errors) | 198.18.0.254 | 2001:db8::254 | 02:00:00:00:00:fe |
//! | server-side router (ICMP errors) | 198.18.1.254 | 2001:db8:1::254 | 02:00:00:00:01:fe |
//!
//! Services, one backend each (so the scheduler's choice is fixed), backends on port 1:
//!
//! | mode | VIP (v4 / v6) | ports tcp, udp | backend (v4 / v6) | backend ports | MAC |
//! |---|---|---|---|---|---|
//! | DR | .0.101 / ::101 | 80, 53 | .1.21 / 1::21 | 80, 53 | 02:00:00:00:01:21 |
//! | TUN | .0.102 / ::102 | 80, 53 | .1.22 / 1::22 (v6 must fail) | 80, 53 | 02:00:00:00:01:22 |
//! | NAT | .0.103 / ::103 | 80, 53 | .1.23 / 1::23 | 8080, 5353 | 02:00:00:00:01:23 |
//! | FullNAT, TOA on ACK | .0.104 / ::104 | 80, 53 | .1.24 / 1::24 | 8080, 5353 | 02:00:00:00:01:24 |
//! | FullNAT, TOA on SYN | .0.105 / ::105 | 80 | .1.25 / 1::25 | 8080 | 02:00:00:00:01:25 |
//! | NAT, neighbour unresolved | .0.106 / ::106 | 80 | .1.26 / 1::26 | 80 | none |
//! | NAT, no backends | .0.107 / ::107 | 80 | none | | |
//! | DR, `mh` (`sloppy_tcp` on) | .0.108 / ::108 | 80 | .1.21 / 1::21 | 80 | 02:00:00:00:01:21 |
//! | TUN, `mh` (`sloppy_tcp` on) | .0.109 (v4 only) | 80 | .1.22 | 80 | 02:00:00:00:01:22 |
//! | DR, `rr` | .0.110 / ::110 | 80 | .1.21 / 1::21 | 80 | 02:00:00:00:01:21 |
//! | DR, `mh`, `sloppy_tcp` off | .0.111 / ::111 | 80 | .1.21 / 1::21 | 80 | 02:00:00:00:01:21 |
//!
//! Local addresses: 198.18.1.200 / 2001:db8:1::200 (TOA on ACK), 198.18.1.201 /
//! 2001:db8:1::201 (TOA on SYN). MTU 1500 on both ports.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::path::Path;

use etherparse::{
    EtherType, Ethernet2Header, Icmpv4Header, Icmpv4Type, Icmpv6Header, Icmpv6Type, IpNumber,
    Ipv4Header, Ipv6Header, TcpHeader, UdpHeader,
};

use crate::sched::SchedulerKind;
use crate::session::FwdMethod;
use crate::snapshot::{
    BackendSpec, Mac, PortInfo, Route, ServiceSpec, Snapshot, SnapshotBuilder, ToaMode,
};
use crate::types::{L4Proto, PortIdx};
use crate::wire::DropReason;
use crate::worker::{Punt, WorkerConfig};

/// The time (seconds) every case is processed at.
pub const NOW: u32 = 1;

/// MAC of port 0 (client side).
pub const GW0_MAC: Mac = [2, 0, 0, 0, 0, 0x10];
/// MAC of port 1 (server side).
pub const GW1_MAC: Mac = [2, 0, 0, 0, 0, 0x11];
/// MAC of the client.
pub const CLIENT_MAC: Mac = [2, 0, 0, 0, 0, 0xc1];
/// MAC of the client-side router.
pub const ROUTER0_MAC: Mac = [2, 0, 0, 0, 0, 0xfe];
/// MAC of the server-side router.
pub const ROUTER1_MAC: Mac = [2, 0, 0, 0, 1, 0xfe];
/// MAC of the DR backend.
pub const RS_DR_MAC: Mac = [2, 0, 0, 0, 1, 0x21];
/// MAC of the TUN backend.
pub const RS_TUN_MAC: Mac = [2, 0, 0, 0, 1, 0x22];
/// MAC of the NAT backend.
pub const RS_NAT_MAC: Mac = [2, 0, 0, 0, 1, 0x23];
/// MAC of the FullNAT (TOA on ACK) backend.
pub const RS_FNAT_MAC: Mac = [2, 0, 0, 0, 1, 0x24];
/// MAC of the FullNAT (TOA on SYN) backend.
pub const RS_FNAT_SYN_MAC: Mac = [2, 0, 0, 0, 1, 0x25];

/// Port MTU.
pub const MTU: u16 = 1500;
/// First FullNAT local port (`WorkerConfig::lport_min`).
pub const LPORT_MIN: u16 = 1024;

/// Number of TOA options the table's sequence inserts (the `toa_inserted` counter after it).
pub const TOA_INSERTED: u64 = 6;
/// Number of TOA insertions it skips for lack of option space (`toa_skipped`).
pub const TOA_SKIPPED: u64 = 4;

/// What the pipeline must do with a case's input frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Transmit `frame` (byte for byte) on `port`.
    Tx {
        /// Egress port.
        port: PortIdx,
        /// The exact frame.
        frame: Vec<u8>,
    },
    /// Drop with this reason.
    Drop(DropReason),
    /// Hand to control.
    Punt(Punt),
    /// Hand to the worker with this id.
    Redirect(u16),
}

/// One golden packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// What the case shows (unique in its table).
    pub name: &'static str,
    /// Port the frame arrives on.
    pub in_port: PortIdx,
    /// The frame as received.
    pub input: Vec<u8>,
    /// The verdict and, for `Tx`, the frame as sent.
    pub expect: Expect,
}

/// The addresses of one family.
struct Fam {
    v6: bool,
    client: IpAddr,
    router0: IpAddr,
    router1: IpAddr,
    gw0: IpAddr,
    gw1: IpAddr,
    other: IpAddr,
    dr: IpAddr,
    tun: IpAddr,
    nat: IpAddr,
    fnat: IpAddr,
    fnat_syn: IpAddr,
    unresolved: IpAddr,
    empty: IpAddr,
    dr_mh: IpAddr,
    tun_mh: IpAddr,
    dr_rr: IpAddr,
    dr_mh_strict: IpAddr,
    rs_unresolved: IpAddr,
    rs_dr: IpAddr,
    rs_tun: IpAddr,
    rs_nat: IpAddr,
    rs_fnat: IpAddr,
    rs_fnat_syn: IpAddr,
    laddr: IpAddr,
    laddr_syn: IpAddr,
}

/// `198.18.<net>.<host>` or `2001:db8:<net>::<host>` (the host written the same way in both).
fn addr(v6: bool, net: u8, host: u16) -> IpAddr {
    if v6 {
        format!("2001:db8:{net}::{host}").parse().expect("address")
    } else {
        IpAddr::V4(Ipv4Addr::new(
            198,
            18,
            net,
            u8::try_from(host).expect("v4 host"),
        ))
    }
}

fn fam(v6: bool) -> Fam {
    let a = |net, host| addr(v6, net, host);
    Fam {
        v6,
        client: a(0, 50),
        router0: a(0, 254),
        router1: a(1, 254),
        gw0: a(0, 1),
        gw1: a(1, 1),
        other: a(0, 77),
        dr: a(0, 101),
        tun: a(0, 102),
        nat: a(0, 103),
        fnat: a(0, 104),
        fnat_syn: a(0, 105),
        unresolved: a(0, 106),
        empty: a(0, 107),
        dr_mh: a(0, 108),
        tun_mh: a(0, 109),
        dr_rr: a(0, 110),
        dr_mh_strict: a(0, 111),
        rs_unresolved: a(1, 26),
        rs_dr: a(1, 21),
        rs_tun: a(1, 22),
        rs_nat: a(1, 23),
        rs_fnat: a(1, 24),
        rs_fnat_syn: a(1, 25),
        laddr: a(1, 200),
        laddr_syn: a(1, 201),
    }
}

/// The test topology every case runs against (see the module docs).
pub fn snapshot() -> Snapshot {
    let v4 = |s: &str| -> Ipv4Addr { s.parse().expect("v4") };
    let v6 = |s: &str| -> Ipv6Addr { s.parse().expect("v6") };
    let mut b = SnapshotBuilder::new(1);
    b.port(PortInfo {
        mac: GW0_MAC,
        addrs4: vec![v4("198.18.0.1")],
        addrs6: vec![v6("2001:db8:0::1")],
        mtu: MTU,
    });
    b.port(PortInfo {
        mac: GW1_MAC,
        addrs4: vec![v4("198.18.1.1")],
        addrs6: vec![v6("2001:db8:1::1")],
        mtu: MTU,
    });
    for f in [fam(false), fam(true)] {
        let len = if f.v6 { 64 } else { 24 };
        for (port, net) in [(0, addr(f.v6, 0, 0)), (1, addr(f.v6, 1, 0))] {
            b.route(Route {
                prefix: net,
                len,
                port,
                via: None,
            });
        }
        let svc = |vip, port, proto, rs, rport, method| {
            let mut s = ServiceSpec::new(vip, port, proto);
            s.backends = vec![BackendSpec::new(rs, rport, method)];
            s
        };
        for (proto, vport, nat_port) in [(L4Proto::Tcp, 80, 8080), (L4Proto::Udp, 53, 5353)] {
            b.service(svc(f.dr, vport, proto, f.rs_dr, vport, FwdMethod::Dr));
            b.service(svc(f.tun, vport, proto, f.rs_tun, vport, FwdMethod::Tun));
            b.service(svc(f.nat, vport, proto, f.rs_nat, nat_port, FwdMethod::Nat));
            let mut s = svc(
                f.fnat,
                vport,
                proto,
                f.rs_fnat,
                nat_port,
                FwdMethod::FullNat,
            );
            s.laddrs = vec![f.laddr];
            s.toa = ToaMode::Ack;
            b.service(s);
        }
        let mut s = svc(
            f.fnat_syn,
            80,
            L4Proto::Tcp,
            f.rs_fnat_syn,
            8080,
            FwdMethod::FullNat,
        );
        s.laddrs = vec![f.laddr_syn];
        s.toa = ToaMode::Syn;
        b.service(s);
        b.service(svc(
            f.unresolved,
            80,
            L4Proto::Tcp,
            f.rs_unresolved,
            80,
            FwdMethod::Nat,
        ));
        b.service(ServiceSpec::new(f.empty, 80, L4Proto::Tcp));
    }
    // Added after the others so that their ids stay as they were.
    for f in [fam(false), fam(true)] {
        let svc = |vip, scheduler, rs, method, sloppy_tcp| {
            let mut s = ServiceSpec::new(vip, 80, L4Proto::Tcp);
            s.scheduler = scheduler;
            s.sloppy_tcp = sloppy_tcp;
            s.backends = vec![BackendSpec::new(rs, 80, method)];
            s
        };
        b.service(svc(
            f.dr_mh,
            SchedulerKind::Mh,
            f.rs_dr,
            FwdMethod::Dr,
            true,
        ));
        if !f.v6 {
            b.service(svc(
                f.tun_mh,
                SchedulerKind::Mh,
                f.rs_tun,
                FwdMethod::Tun,
                true,
            ));
        }
        b.service(svc(
            f.dr_rr,
            SchedulerKind::Rr,
            f.rs_dr,
            FwdMethod::Dr,
            true,
        ));
        b.service(svc(
            f.dr_mh_strict,
            SchedulerKind::Mh,
            f.rs_dr,
            FwdMethod::Dr,
            false,
        ));
    }
    for (ip, mac) in neighbours() {
        b.neighbour(ip, mac);
    }
    b.build()
}

/// The neighbours [`snapshot`] knows, both families: every backend but the unresolved one, and
/// the server-side router. A replay through the gateway configures them as static neighbours.
pub fn neighbours() -> Vec<(IpAddr, Mac)> {
    let mut out = Vec::new();
    for f in [fam(false), fam(true)] {
        out.extend([
            (f.rs_dr, RS_DR_MAC),
            (f.rs_tun, RS_TUN_MAC),
            (f.rs_nat, RS_NAT_MAC),
            (f.rs_fnat, RS_FNAT_MAC),
            (f.rs_fnat_syn, RS_FNAT_SYN_MAC),
            (f.router1, ROUTER1_MAC),
        ]);
    }
    out
}

/// The worker [`cases`] assume: `WorkerConfig::default()` (worker 0 of 1, local ports from
/// [`LPORT_MIN`]).
pub fn worker_config() -> WorkerConfig {
    // Prefetch stages on at any table size, so the table runs through them too.
    let cfg = WorkerConfig {
        prefetch_from: 0,
        ..WorkerConfig::default()
    };
    debug_assert_eq!((cfg.id, cfg.workers, cfg.lport_min), (0, 1, LPORT_MIN));
    cfg
}

/// The worker [`redirect_cases`] assume: worker 0 of 2.
pub fn redirect_worker_config() -> WorkerConfig {
    WorkerConfig {
        id: 0,
        workers: 2,
        ..worker_config()
    }
}

// ---- Packet construction (independent of the pipeline: etherparse computes the checksums) ----

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

/// Transport layer of a [`Pkt`].
#[derive(Clone, Debug)]
enum L4b {
    Tcp {
        sport: u16,
        dport: u16,
        seq: u32,
        ack: u32,
        flags: u8,
        opts: Vec<u8>,
    },
    Udp {
        sport: u16,
        dport: u16,
    },
    /// ICMP (IPv4) or ICMPv6, by the family of the addresses.
    Icmp {
        typ: u8,
        code: u8,
        rest: [u8; 4],
    },
    /// Any other IP protocol; the payload is the whole L4 segment, written as given.
    Raw {
        proto: u8,
    },
}

/// A packet described by its fields; [`Pkt::frame`] serialises it with valid checksums.
#[derive(Clone, Debug)]
struct Pkt {
    dmac: Mac,
    smac: Mac,
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    df: bool,
    ident: u16,
    l4: L4b,
    payload: Vec<u8>,
}

impl Pkt {
    fn new(src: IpAddr, dst: IpAddr, l4: L4b) -> Pkt {
        Pkt {
            dmac: GW0_MAC,
            smac: CLIENT_MAC,
            src,
            dst,
            ttl: 64,
            df: true,
            ident: 0x1234,
            l4,
            payload: Vec::new(),
        }
    }

    /// A TCP segment from the client side (client MAC -> port 0).
    fn tcp(src: IpAddr, sport: u16, dst: IpAddr, dport: u16, flags: u8) -> Pkt {
        let ack = if flags & ACK != 0 { 5001 } else { 0 };
        Pkt::new(
            src,
            dst,
            L4b::Tcp {
                sport,
                dport,
                seq: 1000,
                ack,
                flags,
                opts: Vec::new(),
            },
        )
    }

    fn udp(src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> Pkt {
        Pkt::new(src, dst, L4b::Udp { sport, dport }).payload(b"golden udp")
    }

    fn icmp(src: IpAddr, dst: IpAddr, typ: u8, code: u8, rest: [u8; 4]) -> Pkt {
        Pkt::new(src, dst, L4b::Icmp { typ, code, rest })
    }

    /// A packet of IP protocol `proto` carrying `segment` as is.
    fn raw(src: IpAddr, dst: IpAddr, proto: u8, segment: &[u8]) -> Pkt {
        Pkt::new(src, dst, L4b::Raw { proto }).payload(segment)
    }

    /// An ICMP error (no DF, as hosts send them) quoting `quote`.
    fn icmp_err(src: IpAddr, dst: IpAddr, typ: u8, code: u8, rest: [u8; 4], quote: &[u8]) -> Pkt {
        Pkt::icmp(src, dst, typ, code, rest)
            .df(false)
            .payload(quote)
    }

    fn macs(mut self, dmac: Mac, smac: Mac) -> Pkt {
        self.dmac = dmac;
        self.smac = smac;
        self
    }

    fn ttl(mut self, ttl: u8) -> Pkt {
        self.ttl = ttl;
        self
    }

    fn df(mut self, df: bool) -> Pkt {
        self.df = df;
        self
    }

    fn ident(mut self, ident: u16) -> Pkt {
        self.ident = ident;
        self
    }

    fn payload(mut self, p: &[u8]) -> Pkt {
        self.payload = p.to_vec();
        self
    }

    fn opts(mut self, o: &[u8]) -> Pkt {
        if let L4b::Tcp { opts, .. } = &mut self.l4 {
            *opts = o.to_vec();
        }
        self
    }

    fn seq(mut self, s: u32, a: u32) -> Pkt {
        if let L4b::Tcp { seq, ack, .. } = &mut self.l4 {
            *seq = s;
            *ack = a;
        }
        self
    }

    /// Set the source address and (TCP/UDP) port.
    fn src(mut self, a: IpAddr, port: u16) -> Pkt {
        self.src = a;
        match &mut self.l4 {
            L4b::Tcp { sport, .. } | L4b::Udp { sport, .. } => *sport = port,
            L4b::Icmp { .. } | L4b::Raw { .. } => {}
        }
        self
    }

    /// Set the destination address and (TCP/UDP) port.
    fn dst(mut self, a: IpAddr, port: u16) -> Pkt {
        self.dst = a;
        match &mut self.l4 {
            L4b::Tcp { dport, .. } | L4b::Udp { dport, .. } => *dport = port,
            L4b::Icmp { .. } | L4b::Raw { .. } => {}
        }
        self
    }

    /// The same flow the other way (addresses, ports and MACs swapped).
    fn reversed(mut self, flags: u8) -> Pkt {
        core::mem::swap(&mut self.src, &mut self.dst);
        core::mem::swap(&mut self.smac, &mut self.dmac);
        match &mut self.l4 {
            L4b::Tcp {
                sport,
                dport,
                seq,
                ack,
                flags: f,
                opts,
            } => {
                core::mem::swap(sport, dport);
                (*seq, *ack) = (5000, if flags & ACK != 0 { 1001 } else { 0 });
                *f = flags;
                opts.clear();
            }
            L4b::Udp { sport, dport } => core::mem::swap(sport, dport),
            L4b::Icmp { .. } | L4b::Raw { .. } => {}
        }
        self
    }

    fn l4_header(&self, ip4: Option<&Ipv4Header>, ip6: Option<&Ipv6Header>) -> Vec<u8> {
        let mut out = Vec::new();
        match &self.l4 {
            L4b::Tcp {
                sport,
                dport,
                seq,
                ack,
                flags,
                opts,
            } => {
                let mut t = TcpHeader::new(*sport, *dport, *seq, 65535);
                t.fin = flags & FIN != 0;
                t.syn = flags & SYN != 0;
                t.rst = flags & RST != 0;
                t.psh = flags & PSH != 0;
                t.ack = flags & ACK != 0;
                t.acknowledgment_number = *ack;
                t.set_options_raw(opts).expect("tcp options");
                t.checksum = match (ip4, ip6) {
                    (Some(h), _) => t.calc_checksum_ipv4(h, &self.payload),
                    (_, Some(h)) => t.calc_checksum_ipv6(h, &self.payload),
                    _ => unreachable!(),
                }
                .expect("tcp checksum");
                t.write(&mut out).expect("write");
            }
            L4b::Udp { sport, dport } => {
                let u = match (ip4, ip6) {
                    (Some(h), _) => UdpHeader::with_ipv4_checksum(*sport, *dport, h, &self.payload),
                    (_, Some(h)) => UdpHeader::with_ipv6_checksum(*sport, *dport, h, &self.payload),
                    _ => unreachable!(),
                }
                .expect("udp");
                u.write(&mut out).expect("write");
            }
            L4b::Icmp { typ, code, rest } => match (ip4, ip6) {
                (Some(_), _) => {
                    let t = Icmpv4Type::Unknown {
                        type_u8: *typ,
                        code_u8: *code,
                        bytes5to8: *rest,
                    };
                    Icmpv4Header::with_checksum(t, &self.payload)
                        .write(&mut out)
                        .expect("write");
                }
                (_, Some(h)) => {
                    let t = Icmpv6Type::Unknown {
                        type_u8: *typ,
                        code_u8: *code,
                        bytes5to8: *rest,
                    };
                    Icmpv6Header::with_checksum(t, h.source, h.destination, &self.payload)
                        .expect("icmpv6")
                        .write(&mut out)
                        .expect("write");
                }
                _ => unreachable!(),
            },
            L4b::Raw { .. } => {}
        }
        out
    }

    fn l4_len(&self) -> usize {
        self.payload.len()
            + match &self.l4 {
                L4b::Tcp { opts, .. } => 20 + opts.len(),
                L4b::Udp { .. } | L4b::Icmp { .. } => 8,
                L4b::Raw { .. } => 0,
            }
    }

    fn proto(&self) -> IpNumber {
        match (&self.l4, self.src) {
            (L4b::Tcp { .. }, _) => IpNumber::TCP,
            (L4b::Udp { .. }, _) => IpNumber::UDP,
            (L4b::Icmp { .. }, IpAddr::V4(_)) => IpNumber::ICMP,
            (L4b::Icmp { .. }, IpAddr::V6(_)) => IpNumber::IPV6_ICMP,
            (L4b::Raw { proto }, _) => IpNumber(*proto),
        }
    }

    /// The IP packet (no Ethernet header).
    fn ip(&self) -> Vec<u8> {
        let len = u16::try_from(self.l4_len()).expect("length");
        let mut out = Vec::new();
        match (self.src, self.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let mut h = Ipv4Header::new(len, self.ttl, self.proto(), s.octets(), d.octets())
                    .expect("ipv4");
                h.dont_fragment = self.df;
                h.identification = self.ident;
                h.header_checksum = h.calc_header_checksum();
                h.write(&mut out).expect("write");
                out.extend(self.l4_header(Some(&h), None));
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let h = Ipv6Header {
                    traffic_class: 0,
                    flow_label: Default::default(),
                    payload_length: len,
                    next_header: self.proto(),
                    hop_limit: self.ttl,
                    source: s.octets(),
                    destination: d.octets(),
                };
                h.write(&mut out).expect("write");
                out.extend(self.l4_header(None, Some(&h)));
            }
            _ => panic!("mixed families"),
        }
        out.extend_from_slice(&self.payload);
        out
    }

    /// The Ethernet frame.
    fn frame(&self) -> Vec<u8> {
        let ether_type = if self.src.is_ipv6() {
            EtherType::IPV6
        } else {
            EtherType::IPV4
        };
        eth(self.dmac, self.smac, ether_type, &self.ip())
    }

    /// What an ICMP error quotes of this packet: its IP header and the first 8 bytes of the
    /// payload for IPv4 (RFC 792), the whole packet for IPv6 (RFC 4443: as much as fits).
    fn quote(&self) -> Vec<u8> {
        let mut ip = self.ip();
        if self.src.is_ipv4() {
            ip.truncate(28);
        }
        ip
    }
}

fn eth(dmac: Mac, smac: Mac, ether_type: EtherType, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Ethernet2Header {
        source: smac,
        destination: dmac,
        ether_type,
    }
    .write(&mut out)
    .expect("write");
    out.extend_from_slice(payload);
    out
}

/// IP-in-IP: `inner` in an outer IPv4 header `src -> dst`, TTL 64, DF copied from the inner.
fn ipip(inner: &Pkt, src: IpAddr, dst: IpAddr, dmac: Mac, smac: Mac) -> Vec<u8> {
    let (IpAddr::V4(s), IpAddr::V4(d)) = (src, dst) else {
        panic!("ipip is IPv4")
    };
    let body = inner.ip();
    let mut h = Ipv4Header::new(
        u16::try_from(body.len()).expect("len"),
        64,
        IpNumber::IPV4,
        s.octets(),
        d.octets(),
    )
    .expect("ipv4");
    h.dont_fragment = inner.df;
    h.identification = 0;
    h.header_checksum = h.calc_header_checksum();
    let mut ip = Vec::new();
    h.write(&mut ip).expect("write");
    ip.extend(body);
    eth(dmac, smac, EtherType::IPV4, &ip)
}

/// The TOA option: kind 254, length 8 (port + IPv4) or 20 (port + IPv6).
fn toa(client: IpAddr, cport: u16) -> Vec<u8> {
    let mut o = vec![254, 0];
    o.extend_from_slice(&cport.to_be_bytes());
    match client {
        IpAddr::V4(a) => o.extend_from_slice(&a.octets()),
        IpAddr::V6(a) => o.extend_from_slice(&a.octets()),
    }
    o[1] = u8::try_from(o.len()).expect("len");
    o
}

/// MSS 1460.
const MSS: [u8; 4] = [2, 4, 0x05, 0xb4];
/// 40 bytes of options: NOP NOP timestamps, NOP NOP SACK with three blocks (a full header).
const FULL_OPTS: [u8; 40] = [
    1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, // timestamps
    1, 1, 5, 26, 0, 0, 0x10, 0, 0, 0, 0x11, 0, 0, 0, 0x20, 0, 0, 0, 0x21, 0, 0, 0, 0x30, 0, 0, 0,
    0x31, 0, // SACK
];

/// A Linux client's SYN options: MSS, SACK permitted, timestamps, NOP, window scale (20 bytes;
/// with an IPv6 TOA the header reaches exactly 60 bytes).
const LINUX_SYN_OPTS: [u8; 20] = [
    2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
];

/// Pad a frame to the 60-byte Ethernet minimum, as NICs deliver short frames; the padding is
/// not zero so that a rewrite mistaking it for payload shows.
fn pad(mut f: Vec<u8>) -> Vec<u8> {
    if f.len() < 60 {
        f.resize(60, 0xee);
    }
    f
}

/// Zero the UDP checksum of an untagged IPv4 frame without IP options ("no checksum").
fn zero_udp_csum(mut f: Vec<u8>) -> Vec<u8> {
    f[14 + 20 + 6] = 0;
    f[14 + 20 + 7] = 0;
    f
}

/// "Packet too big" for the family: ICMP 3/4 or ICMPv6 2/0, with `mtu`.
fn too_big(v6: bool, mtu: u16) -> (u8, u8, [u8; 4]) {
    let m = mtu.to_be_bytes();
    if v6 {
        (2, 0, [0, 0, m[0], m[1]])
    } else {
        (3, 4, [0, 0, m[0], m[1]])
    }
}

/// "Port unreachable" for the family: ICMP 3/3 or ICMPv6 1/4.
fn port_unreachable(v6: bool) -> (u8, u8, [u8; 4]) {
    if v6 {
        (1, 4, [0; 4])
    } else {
        (3, 3, [0; 4])
    }
}

/// Prefix a case name with its family.
macro_rules! name {
    ($f:expr, $s:literal) => {
        if $f.v6 {
            concat!("ipv6 ", $s)
        } else {
            concat!("ipv4 ", $s)
        }
    };
}

/// The table under construction, with the FullNAT local-port counter.
struct Table {
    cases: Vec<Case>,
    /// Next FullNAT local port of the worker running the table.
    lport: u16,
    /// Step between this worker's local ports (the number of workers).
    lport_step: u16,
}

impl Table {
    fn new(first_lport: u16, step: u16) -> Table {
        Table {
            cases: Vec::new(),
            lport: first_lport,
            lport_step: step,
        }
    }

    /// The local port the next FullNAT flow gets (see the module docs).
    fn next_lport(&mut self) -> u16 {
        let p = self.lport;
        self.lport += self.lport_step;
        p
    }

    fn push(&mut self, name: &'static str, in_port: PortIdx, input: Vec<u8>, expect: Expect) {
        self.cases.push(Case {
            name,
            in_port,
            input,
            expect,
        });
    }

    fn tx(&mut self, name: &'static str, in_port: PortIdx, input: &Pkt, port: PortIdx, out: &Pkt) {
        self.push(
            name,
            in_port,
            input.frame(),
            Expect::Tx {
                port,
                frame: out.frame(),
            },
        );
    }

    fn drop(&mut self, name: &'static str, in_port: PortIdx, input: Vec<u8>, r: DropReason) {
        self.push(name, in_port, input, Expect::Drop(r));
    }
}

/// The main table, in order (see the module contract: one worker, [`worker_config`], [`NOW`]).
pub fn cases() -> Vec<Case> {
    let mut t = Table::new(LPORT_MIN, 1);
    punts(&mut t);
    for f in [fam(false), fam(true)] {
        dr(&mut t, &f);
        tun(&mut t, &f);
        nat(&mut t, &f);
        fullnat(&mut t, &f);
        misc(&mut t, &f);
    }
    malformed(&mut t);
    exception_path(&mut t);
    for f in [fam(false), fam(true)] {
        mid_flow(&mut t, &f);
    }
    t.cases
}

/// Sessions [`mid_flow`] starts from a packet other than a SYN (the `sessions_mid_flow`
/// counter after the table): the DR ACK in both families and the TUN ACK in IPv4.
pub const MID_FLOW_SESSIONS: u64 = 3;

/// A flow another gateway started (ECMP moved it here) or whose session expired: its ACK finds
/// no session. A consistent scheduler (`mh`) with DR or TUN schedules it (`sloppy_tcp`), and
/// the session it opens carries the next packet; `rr`, or `mh` with `sloppy_tcp` off, drops
/// it as IPVS does by default; a RST never starts a flow.
fn mid_flow(t: &mut Table, f: &Fam) {
    let ack =
        Pkt::tcp(f.client, 40200, f.dr_mh, 80, ACK | PSH).payload(b"GET /mid HTTP/1.0\r\n\r\n");
    let out = ack.clone().macs(RS_DR_MAC, GW1_MAC);
    t.tx(
        name!(
            f,
            "dr mh mid-flow ack without a session is scheduled (sloppy_tcp)"
        ),
        0,
        &ack,
        1,
        &out,
    );
    let next = Pkt::tcp(f.client, 40200, f.dr_mh, 80, ACK);
    let out = next.clone().macs(RS_DR_MAC, GW1_MAC);
    t.tx(
        name!(
            f,
            "dr mh: the next ack uses the session the mid-flow ack opened"
        ),
        0,
        &next,
        1,
        &out,
    );
    let rst = Pkt::tcp(f.client, 40201, f.dr_mh, 80, RST | ACK);
    t.drop(
        name!(f, "dr mh: a rst without a session starts nothing"),
        0,
        rst.frame(),
        DropReason::NotSynForNewTcp,
    );
    if !f.v6 {
        let ack = Pkt::tcp(f.client, 40202, f.tun_mh, 80, ACK).payload(b"mid-flow");
        let out = ipip(&ack, f.gw1, f.rs_tun, RS_TUN_MAC, GW1_MAC);
        t.push(
            "ipv4 tun mh mid-flow ack without a session is scheduled: ipip",
            0,
            ack.frame(),
            Expect::Tx {
                port: 1,
                frame: out,
            },
        );
    }
    let ack = Pkt::tcp(f.client, 40203, f.dr_rr, 80, ACK);
    t.drop(
        name!(f, "dr rr mid-flow ack without a session is dropped"),
        0,
        ack.frame(),
        DropReason::NotSynForNewTcp,
    );
    let ack = Pkt::tcp(f.client, 40204, f.dr_mh_strict, 80, ACK);
    t.drop(
        name!(
            f,
            "dr mh with sloppy_tcp off: mid-flow ack without a session is dropped"
        ),
        0,
        ack.frame(),
        DropReason::NotSynForNewTcp,
    );
}

fn punts(t: &mut Table) {
    let v4 = fam(false);
    let v6 = fam(true);
    // ARP who-has 198.18.0.103 from the client, by hand.
    let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 1];
    arp.extend_from_slice(&CLIENT_MAC);
    arp.extend_from_slice(&[198, 18, 0, 50]);
    arp.extend_from_slice(&[0; 6]);
    arp.extend_from_slice(&[198, 18, 0, 103]);
    let frame = eth([0xff; 6], CLIENT_MAC, EtherType::ARP, &arp);
    t.push("arp request is punted", 0, frame, Expect::Punt(Punt::Arp));

    // Neighbour solicitation for the NAT VIP: target + source link-layer address option.
    let mut ns = Vec::new();
    if let IpAddr::V6(a) = v6.nat {
        ns.extend_from_slice(&a.octets());
    }
    ns.extend_from_slice(&[1, 1]);
    ns.extend_from_slice(&CLIENT_MAC);
    let sol: IpAddr = "ff02::1:ff00:103".parse().expect("v6");
    let p = Pkt::icmp(v6.client, sol, 135, 0, [0; 4])
        .ttl(255)
        .payload(&ns)
        .macs([0x33, 0x33, 0xff, 0, 1, 3], CLIENT_MAC);
    t.push(
        "ipv6 neighbour solicitation is punted",
        0,
        p.frame(),
        Expect::Punt(Punt::Nd),
    );

    for f in [&v4, &v6] {
        let p = Pkt::tcp(f.client, 40100, f.gw0, 22, SYN);
        t.push(
            name!(f, "tcp to the gateway's own address is punted"),
            0,
            p.frame(),
            Expect::Punt(Punt::Local),
        );
        let echo = if f.v6 { 128 } else { 8 };
        let p = Pkt::icmp(f.client, f.gw0, echo, 0, [0x12, 0x34, 0, 1]).payload(b"ping");
        t.push(
            name!(f, "echo to the gateway's own address is punted"),
            0,
            p.frame(),
            Expect::Punt(Punt::Local),
        );
    }
}

fn dr(t: &mut Table, f: &Fam) {
    // DR: only the MACs change (backend <- port 1); the IP packet is untouched.
    let syn = Pkt::tcp(f.client, 40001, f.dr, 80, SYN).opts(&MSS);
    let out = syn.clone().macs(RS_DR_MAC, GW1_MAC);
    t.tx(name!(f, "dr tcp syn: mac rewrite only"), 0, &syn, 1, &out);
    let ack = Pkt::tcp(f.client, 40001, f.dr, 80, ACK | PSH).payload(b"GET / HTTP/1.0\r\n\r\n");
    let out = ack.clone().macs(RS_DR_MAC, GW1_MAC);
    t.tx(name!(f, "dr tcp data on the session"), 0, &ack, 1, &out);
    let udp = Pkt::udp(f.client, 40001, f.dr, 53);
    let out = udp.clone().macs(RS_DR_MAC, GW1_MAC);
    t.tx(name!(f, "dr udp: mac rewrite only"), 0, &udp, 1, &out);
    // A client-side router cannot deliver the backend's reply (VIP -> client): the error goes
    // to the VIP and on to the backend, unchanged.
    let reply = syn.clone().reversed(SYN | ACK).src(f.dr, 80);
    let (ty, code, rest) = too_big(f.v6, 1400);
    let err =
        Pkt::icmp_err(f.router0, f.dr, ty, code, rest, &reply.quote()).macs(GW0_MAC, ROUTER0_MAC);
    let out = err.clone().macs(RS_DR_MAC, GW1_MAC);
    t.tx(
        name!(
            f,
            "dr icmp too-big about a reply goes to the backend unchanged"
        ),
        0,
        &err,
        1,
        &out,
    );
}

fn tun(t: &mut Table, f: &Fam) {
    if f.v6 {
        let syn = Pkt::tcp(f.client, 40002, f.tun, 80, SYN);
        t.drop(
            "ipv6 tun is not supported",
            0,
            syn.frame(),
            DropReason::UnsupportedMode,
        );
        return;
    }
    // Outer IPv4 gateway (port 1 address) -> backend, proto 4, TTL 64, DF from the inner.
    let syn = Pkt::tcp(f.client, 40002, f.tun, 80, SYN).opts(&MSS);
    let out = ipip(&syn, f.gw1, f.rs_tun, RS_TUN_MAC, GW1_MAC);
    t.push(
        "ipv4 tun tcp syn with DF: ipip, DF copied",
        0,
        syn.frame(),
        Expect::Tx {
            port: 1,
            frame: out,
        },
    );
    let udp = Pkt::udp(f.client, 40002, f.tun, 53).df(false);
    let out = ipip(&udp, f.gw1, f.rs_tun, RS_TUN_MAC, GW1_MAC);
    t.push(
        "ipv4 tun udp without DF: ipip without DF",
        0,
        udp.frame(),
        Expect::Tx {
            port: 1,
            frame: out,
        },
    );
    // Ethernet padding of a short frame stays outside the tunnel.
    let out = ipip(&udp, f.gw1, f.rs_tun, RS_TUN_MAC, GW1_MAC);
    t.push(
        "ipv4 tun udp with ethernet padding: padding not encapsulated",
        0,
        pad(udp.frame()),
        Expect::Tx {
            port: 1,
            frame: out,
        },
    );
    // 1500 bytes of IP + 20 of outer header > MTU 1500, DF: frag-needed (MTU 1480) from the
    // gateway's client-side address, quoting the IP header and 8 bytes.
    let big = Pkt::tcp(f.client, 40002, f.tun, 80, ACK).payload(&[0x5a; 1460]);
    let (ty, code, rest) = too_big(false, 1480);
    let icmp = Pkt::icmp(f.gw0, f.client, ty, code, rest)
        .df(false)
        .ident(0)
        .payload(&big.quote())
        .macs(CLIENT_MAC, GW0_MAC);
    t.tx(
        "ipv4 tun too big with DF: frag-needed to the client",
        0,
        &big,
        0,
        &icmp,
    );
    let big = Pkt::udp(f.client, 40002, f.tun, 53)
        .df(false)
        .payload(&[0x5a; 1460]);
    t.drop(
        "ipv4 tun too big without DF is dropped",
        0,
        big.frame(),
        DropReason::MtuExceeded,
    );
    // An error about the backend's reply (VIP -> client) is tunnelled to the backend.
    let reply = syn.clone().reversed(SYN | ACK).src(f.tun, 80);
    let err = Pkt::icmp_err(
        f.router0,
        f.tun,
        ty,
        code,
        [0, 0, 0x05, 0x78],
        &reply.quote(),
    )
    .macs(GW0_MAC, ROUTER0_MAC);
    let out = ipip(&err, f.gw1, f.rs_tun, RS_TUN_MAC, GW1_MAC);
    t.push(
        "ipv4 tun icmp too-big about a reply is tunnelled to the backend",
        0,
        err.frame(),
        Expect::Tx {
            port: 1,
            frame: out,
        },
    );
}

fn nat(t: &mut Table, f: &Fam) {
    let to_rs = |p: &Pkt, port: u16| {
        p.clone()
            .dst(f.rs_nat, port)
            .ttl(p.ttl - 1)
            .macs(RS_NAT_MAC, GW1_MAC)
    };
    let to_client = |p: &Pkt, port: u16| {
        p.clone()
            .src(f.nat, port)
            .ttl(p.ttl - 1)
            .macs(CLIENT_MAC, GW0_MAC)
    };
    // Inbound: dst := backend:8080, TTL - 1. Reply: src := VIP:80, TTL - 1.
    let syn = Pkt::tcp(f.client, 40003, f.nat, 80, SYN).opts(&MSS);
    t.tx(name!(f, "nat tcp syn"), 0, &syn, 1, &to_rs(&syn, 8080));
    let synack = Pkt::tcp(f.rs_nat, 8080, f.client, 40003, SYN | ACK)
        .seq(5000, 1001)
        .opts(&MSS)
        .macs(GW1_MAC, RS_NAT_MAC);
    t.tx(
        name!(f, "nat tcp syn-ack reply"),
        1,
        &synack,
        0,
        &to_client(&synack, 80),
    );
    let ack = Pkt::tcp(f.client, 40003, f.nat, 80, ACK).seq(1001, 5001);
    t.tx(name!(f, "nat tcp ack"), 0, &ack, 1, &to_rs(&ack, 8080));
    if !f.v6 {
        // Ethernet padding is left as it came (it is not part of the IP packet).
        t.push(
            "ipv4 nat tcp ack with ethernet padding keeps it",
            0,
            pad(ack.frame()),
            Expect::Tx {
                port: 1,
                frame: pad(to_rs(&ack, 8080).frame()),
            },
        );
    }
    let data = Pkt::tcp(f.rs_nat, 8080, f.client, 40003, ACK | PSH)
        .seq(5001, 1001)
        .payload(b"HTTP/1.0 200 OK\r\n\r\n")
        .macs(GW1_MAC, RS_NAT_MAC);
    t.tx(
        name!(f, "nat tcp data reply"),
        1,
        &data,
        0,
        &to_client(&data, 80),
    );
    let udp = Pkt::udp(f.client, 40003, f.nat, 53);
    let udp_out = to_rs(&udp, 5353);
    t.tx(name!(f, "nat udp"), 0, &udp, 1, &udp_out);
    let reply = Pkt::udp(f.rs_nat, 5353, f.client, 40003).macs(GW1_MAC, RS_NAT_MAC);
    t.tx(
        name!(f, "nat udp reply"),
        1,
        &reply,
        0,
        &to_client(&reply, 53),
    );
    if !f.v6 {
        // UDP checksum 0 means "none" over IPv4 and must stay 0 through the rewrite.
        t.push(
            "ipv4 nat udp without checksum keeps none",
            0,
            zero_udp_csum(udp.frame()),
            Expect::Tx {
                port: 1,
                frame: zero_udp_csum(udp_out.frame()),
            },
        );
        t.push(
            "ipv4 nat udp reply without checksum keeps none",
            1,
            zero_udp_csum(reply.frame()),
            Expect::Tx {
                port: 0,
                frame: zero_udp_csum(to_client(&reply, 53).frame()),
            },
        );
    }

    // The backend answers our UDP with port unreachable, quoting the whole datagram as we sent
    // it: the client gets it from the VIP, quoting its own datagram (client -> VIP:53).
    let (ty, code, rest) = port_unreachable(f.v6);
    let err =
        Pkt::icmp_err(f.rs_nat, f.client, ty, code, rest, &udp_out.ip()).macs(GW1_MAC, RS_NAT_MAC);
    let quoted = udp.clone().ttl(udp.ttl - 1);
    let out = Pkt::icmp_err(f.nat, f.client, ty, code, rest, &quoted.ip())
        .ttl(63)
        .macs(CLIENT_MAC, GW0_MAC);
    t.tx(
        name!(
            f,
            "nat icmp port-unreachable from the backend goes to the client"
        ),
        1,
        &err,
        0,
        &out,
    );
    // A client-side router cannot deliver the reply (VIP:80 -> client): the backend gets the
    // error in terms of its own packet (backend:8080 -> client).
    let reply = synack.clone().src(f.nat, 80).ttl(63);
    let (ty, code, rest) = too_big(f.v6, 1400);
    let err =
        Pkt::icmp_err(f.router0, f.nat, ty, code, rest, &reply.quote()).macs(GW0_MAC, ROUTER0_MAC);
    let quoted = reply.clone().src(f.rs_nat, 8080);
    let out = Pkt::icmp_err(f.router0, f.rs_nat, ty, code, rest, &quoted.quote())
        .ttl(63)
        .macs(RS_NAT_MAC, GW1_MAC);
    t.tx(
        name!(f, "nat icmp too-big about a reply goes to the backend"),
        0,
        &err,
        1,
        &out,
    );
    let syn = Pkt::tcp(f.client, 40013, f.nat, 80, SYN).ttl(1);
    t.drop(
        name!(f, "nat tcp syn with ttl 1"),
        0,
        syn.frame(),
        DropReason::TtlExceeded,
    );
}

fn fullnat(t: &mut Table, f: &Fam) {
    let to_rs = |p: &Pkt, laddr: IpAddr, lport: u16, rs: IpAddr, rmac: Mac| {
        p.clone()
            .src(laddr, lport)
            .dst(rs, 8080)
            .ttl(p.ttl - 1)
            .macs(rmac, GW1_MAC)
    };
    let to_client = |p: &Pkt, vip: IpAddr, cport: u16| {
        p.clone()
            .src(vip, 80)
            .dst(f.client, cport)
            .ttl(p.ttl - 1)
            .macs(CLIENT_MAC, GW0_MAC)
    };

    // TOA on the first ACK.
    let lport = t.next_lport();
    let syn = Pkt::tcp(f.client, 40004, f.fnat, 80, SYN).opts(&MSS);
    let syn_out = to_rs(&syn, f.laddr, lport, f.rs_fnat, RS_FNAT_MAC);
    t.tx(name!(f, "fullnat tcp syn (no toa)"), 0, &syn, 1, &syn_out);
    let synack = Pkt::tcp(f.rs_fnat, 8080, f.laddr, lport, SYN | ACK)
        .seq(5000, 1001)
        .opts(&MSS)
        .macs(GW1_MAC, RS_FNAT_MAC);
    let synack_out = to_client(&synack, f.fnat, 40004);
    t.tx(
        name!(f, "fullnat tcp syn-ack reply"),
        1,
        &synack,
        0,
        &synack_out,
    );
    let ack = Pkt::tcp(f.client, 40004, f.fnat, 80, ACK).seq(1001, 5001);
    let out = to_rs(&ack, f.laddr, lport, f.rs_fnat, RS_FNAT_MAC).opts(&toa(f.client, 40004));
    t.tx(
        name!(f, "fullnat tcp first ack carries toa"),
        0,
        &ack,
        1,
        &out,
    );
    let data = Pkt::tcp(f.client, 40004, f.fnat, 80, ACK | PSH)
        .seq(1001, 5001)
        .payload(b"GET / HTTP/1.0\r\n\r\n");
    let out = to_rs(&data, f.laddr, lport, f.rs_fnat, RS_FNAT_MAC);
    t.tx(name!(f, "fullnat tcp data has no toa"), 0, &data, 1, &out);
    let rdata = Pkt::tcp(f.rs_fnat, 8080, f.laddr, lport, ACK | PSH)
        .seq(5001, 1019)
        .payload(b"HTTP/1.0 200 OK\r\n\r\n")
        .macs(GW1_MAC, RS_FNAT_MAC);
    t.tx(
        name!(f, "fullnat tcp data reply"),
        1,
        &rdata,
        0,
        &to_client(&rdata, f.fnat, 40004),
    );

    // A server-side router cannot forward our SYN (laddr -> backend): the client gets the
    // error from the VIP, quoting its own SYN (client:40004 -> VIP:80).
    let (ty, code, rest) = too_big(f.v6, 1400);
    let err = Pkt::icmp_err(f.router1, f.laddr, ty, code, rest, &syn_out.quote())
        .macs(GW1_MAC, ROUTER1_MAC);
    let quoted = syn.clone().ttl(63);
    let out = Pkt::icmp_err(f.fnat, f.client, ty, code, rest, &quoted.quote())
        .ttl(63)
        .macs(CLIENT_MAC, GW0_MAC);
    t.tx(
        name!(
            f,
            "fullnat icmp too-big from the server side goes to the client"
        ),
        1,
        &err,
        0,
        &out,
    );
    // A client-side router cannot deliver our reply (VIP:80 -> client): the backend gets the
    // error from the local address, quoting its own packet (backend:8080 -> laddr:lport).
    let err = Pkt::icmp_err(f.router0, f.fnat, ty, code, rest, &synack_out.quote())
        .macs(GW0_MAC, ROUTER0_MAC);
    let quoted = synack_out.clone().src(f.rs_fnat, 8080).dst(f.laddr, lport);
    let out = Pkt::icmp_err(f.laddr, f.rs_fnat, ty, code, rest, &quoted.quote())
        .ttl(63)
        .macs(RS_FNAT_MAC, GW1_MAC);
    t.tx(
        name!(
            f,
            "fullnat icmp too-big from the client side goes to the backend"
        ),
        0,
        &err,
        1,
        &out,
    );

    // UDP both ways.
    let lport = t.next_lport();
    let udp = Pkt::udp(f.client, 40004, f.fnat, 53);
    let out = udp
        .clone()
        .src(f.laddr, lport)
        .dst(f.rs_fnat, 5353)
        .ttl(63)
        .macs(RS_FNAT_MAC, GW1_MAC);
    t.tx(name!(f, "fullnat udp"), 0, &udp, 1, &out);
    let reply = Pkt::udp(f.rs_fnat, 5353, f.laddr, lport).macs(GW1_MAC, RS_FNAT_MAC);
    let out = reply
        .clone()
        .src(f.fnat, 53)
        .dst(f.client, 40004)
        .ttl(63)
        .macs(CLIENT_MAC, GW0_MAC);
    t.tx(name!(f, "fullnat udp reply"), 1, &reply, 0, &out);
    if !f.v6 {
        t.push(
            "ipv4 fullnat udp reply without checksum keeps none",
            1,
            zero_udp_csum(reply.frame()),
            Expect::Tx {
                port: 0,
                frame: zero_udp_csum(out.frame()),
            },
        );
    }

    // A first ACK carrying data (and, over IPv4, Ethernet padding): TOA goes between the
    // header and the data, the padding is dropped.
    let lport = t.next_lport();
    let syn = Pkt::tcp(f.client, 40024, f.fnat, 80, SYN).opts(&MSS);
    t.tx(
        name!(f, "fullnat tcp syn (first ack with data)"),
        0,
        &syn,
        1,
        &to_rs(&syn, f.laddr, lport, f.rs_fnat, RS_FNAT_MAC),
    );
    let synack = Pkt::tcp(f.rs_fnat, 8080, f.laddr, lport, SYN | ACK)
        .seq(5000, 1001)
        .macs(GW1_MAC, RS_FNAT_MAC);
    t.tx(
        name!(f, "fullnat tcp syn-ack reply (first ack with data)"),
        1,
        &synack,
        0,
        &to_client(&synack, f.fnat, 40024),
    );
    let ack = Pkt::tcp(f.client, 40024, f.fnat, 80, ACK | PSH)
        .seq(1001, 5001)
        .payload(b"hi");
    let out = to_rs(&ack, f.laddr, lport, f.rs_fnat, RS_FNAT_MAC).opts(&toa(f.client, 40024));
    t.push(
        name!(
            f,
            "fullnat tcp first ack with data and padding: toa before the data"
        ),
        0,
        pad(ack.frame()),
        Expect::Tx {
            port: 1,
            frame: out.frame(),
        },
    );

    // A first ACK already at the MTU: TOA would exceed it, so it is skipped (counted).
    let lport = t.next_lport();
    let syn = Pkt::tcp(f.client, 40034, f.fnat, 80, SYN).opts(&MSS);
    t.tx(
        name!(f, "fullnat tcp syn (full-size first ack)"),
        0,
        &syn,
        1,
        &to_rs(&syn, f.laddr, lport, f.rs_fnat, RS_FNAT_MAC),
    );
    let synack = Pkt::tcp(f.rs_fnat, 8080, f.laddr, lport, SYN | ACK)
        .seq(5000, 1001)
        .macs(GW1_MAC, RS_FNAT_MAC);
    t.tx(
        name!(f, "fullnat tcp syn-ack reply (full-size first ack)"),
        1,
        &synack,
        0,
        &to_client(&synack, f.fnat, 40034),
    );
    let data = vec![0x5a; if f.v6 { 1440 } else { 1460 }];
    let ack = Pkt::tcp(f.client, 40034, f.fnat, 80, ACK)
        .seq(1001, 5001)
        .payload(&data);
    t.tx(
        name!(f, "fullnat tcp full-size first ack skips toa (mtu)"),
        0,
        &ack,
        1,
        &to_rs(&ack, f.laddr, lport, f.rs_fnat, RS_FNAT_MAC),
    );

    // A first ACK whose header already has 40 bytes of options: no room, forwarded without
    // TOA (counted in toa_skipped), and no later packet gets it either.
    let lport = t.next_lport();
    let syn = Pkt::tcp(f.client, 40014, f.fnat, 80, SYN).opts(&MSS);
    t.tx(
        name!(f, "fullnat tcp syn (full-options flow)"),
        0,
        &syn,
        1,
        &to_rs(&syn, f.laddr, lport, f.rs_fnat, RS_FNAT_MAC),
    );
    let synack = Pkt::tcp(f.rs_fnat, 8080, f.laddr, lport, SYN | ACK)
        .seq(5000, 1001)
        .macs(GW1_MAC, RS_FNAT_MAC);
    t.tx(
        name!(f, "fullnat tcp syn-ack reply (full-options flow)"),
        1,
        &synack,
        0,
        &to_client(&synack, f.fnat, 40014),
    );
    let ack = Pkt::tcp(f.client, 40014, f.fnat, 80, ACK)
        .seq(1001, 5001)
        .opts(&FULL_OPTS);
    t.tx(
        name!(
            f,
            "fullnat tcp first ack with 40 bytes of options skips toa"
        ),
        0,
        &ack,
        1,
        &to_rs(&ack, f.laddr, lport, f.rs_fnat, RS_FNAT_MAC),
    );
    let ack = Pkt::tcp(f.client, 40014, f.fnat, 80, ACK).seq(1001, 5001);
    t.tx(
        name!(f, "fullnat tcp ack after a skipped toa has none"),
        0,
        &ack,
        1,
        &to_rs(&ack, f.laddr, lport, f.rs_fnat, RS_FNAT_MAC),
    );

    // TOA on the SYN (after the MSS option), not on the ACK.
    let lport = t.next_lport();
    let syn = Pkt::tcp(f.client, 40005, f.fnat_syn, 80, SYN).opts(&LINUX_SYN_OPTS);
    let mut opts = LINUX_SYN_OPTS.to_vec();
    opts.extend(toa(f.client, 40005));
    let out = to_rs(&syn, f.laddr_syn, lport, f.rs_fnat_syn, RS_FNAT_SYN_MAC).opts(&opts);
    t.tx(
        name!(f, "fullnat toa=syn: syn carries toa after its options"),
        0,
        &syn,
        1,
        &out,
    );
    let synack = Pkt::tcp(f.rs_fnat_syn, 8080, f.laddr_syn, lport, SYN | ACK)
        .seq(5000, 1001)
        .macs(GW1_MAC, RS_FNAT_SYN_MAC);
    t.tx(
        name!(f, "fullnat toa=syn: syn-ack reply"),
        1,
        &synack,
        0,
        &to_client(&synack, f.fnat_syn, 40005),
    );
    let ack = Pkt::tcp(f.client, 40005, f.fnat_syn, 80, ACK).seq(1001, 5001);
    t.tx(
        name!(f, "fullnat toa=syn: ack has no toa"),
        0,
        &ack,
        1,
        &to_rs(&ack, f.laddr_syn, lport, f.rs_fnat_syn, RS_FNAT_SYN_MAC),
    );
}

fn misc(t: &mut Table, f: &Fam) {
    // A new flow whose backend's MAC is unknown goes to control, which resolves it.
    let p = Pkt::tcp(f.client, 40099, f.unresolved, 80, SYN);
    t.push(
        name!(f, "syn to a backend with an unresolved neighbour is punted"),
        0,
        p.frame(),
        Expect::Punt(Punt::Resolve {
            neighbour: f.rs_unresolved,
            port: 1,
        }),
    );
    let p = Pkt::tcp(f.client, 40099, f.empty, 80, SYN);
    t.drop(
        name!(f, "syn to a service without backends"),
        0,
        p.frame(),
        DropReason::NoBackend,
    );
    let p = Pkt::tcp(f.client, 40099, f.nat, 80, ACK);
    t.drop(
        name!(f, "tcp ack without a session"),
        0,
        p.frame(),
        DropReason::NotSynForNewTcp,
    );
    let p = Pkt::tcp(f.client, 40099, f.nat, 81, SYN);
    t.drop(
        name!(f, "tcp syn to an unknown vip port"),
        0,
        p.frame(),
        DropReason::NoService,
    );
    let p = Pkt::udp(f.client, 40099, f.nat, 54);
    t.drop(
        name!(f, "udp to an unknown vip port"),
        0,
        p.frame(),
        DropReason::NoService,
    );
    let p = Pkt::tcp(f.client, 40099, f.other, 80, SYN);
    t.drop(
        name!(f, "tcp syn to an address that is not ours"),
        0,
        p.frame(),
        DropReason::NotForUs,
    );
    // Echo to a VIP: answered by the gateway from the VIP, TTL 64, same id/sequence/data.
    let (req, rep) = if f.v6 { (128, 129) } else { (8, 0) };
    let p = Pkt::icmp(f.client, f.nat, req, 0, [0x12, 0x34, 0, 1]).payload(b"golden ping");
    let out = Pkt::icmp(f.nat, f.client, rep, 0, [0x12, 0x34, 0, 1])
        .payload(b"golden ping")
        .macs(CLIENT_MAC, GW0_MAC);
    t.tx(
        name!(f, "echo request to a vip is answered"),
        0,
        &p,
        0,
        &out,
    );
    // An error quoting a flow nobody knows.
    let ghost = Pkt::tcp(f.nat, 80, f.client, 40098, SYN | ACK);
    let (ty, code, rest) = too_big(f.v6, 1400);
    let p = Pkt::icmp_err(f.router0, f.nat, ty, code, rest, &ghost.quote());
    t.drop(
        name!(f, "icmp error without a session"),
        0,
        p.frame(),
        DropReason::IcmpNoSession,
    );
}

/// Recompute the IPv4 header checksum of a frame's (untagged) IPv4 header in place.
fn fix_ipv4_checksum(frame: &mut [u8]) {
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    frame[24] = 0;
    frame[25] = 0;
    let mut sum = 0u32;
    for w in frame[14..14 + ihl].chunks(2) {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let c = !(sum as u16);
    frame[24..26].copy_from_slice(&c.to_be_bytes());
}

fn malformed(t: &mut Table) {
    let v4 = fam(false);
    let v6 = fam(true);
    let good4 = Pkt::tcp(v4.client, 40200, v4.nat, 80, SYN).frame();
    let good6 = Pkt::tcp(v6.client, 40200, v6.nat, 80, SYN).frame();
    let udp4 = Pkt::udp(v4.client, 40200, v4.nat, 53).frame();

    t.drop(
        "truncated ethernet",
        0,
        good4[..10].to_vec(),
        DropReason::TruncatedEthernet,
    );
    t.drop(
        "truncated ipv4 header",
        0,
        good4[..14 + 12].to_vec(),
        DropReason::TruncatedIpv4,
    );
    t.drop(
        "truncated ipv6 header",
        0,
        good6[..14 + 30].to_vec(),
        DropReason::TruncatedIpv6,
    );
    // Total length says 20 + 10: a 10-byte TCP header.
    let mut f = good4[..14 + 30].to_vec();
    f[16..18].copy_from_slice(&30u16.to_be_bytes());
    fix_ipv4_checksum(&mut f);
    t.drop("truncated tcp over ipv4", 0, f, DropReason::TruncatedTcp);
    let mut f = good6[..14 + 40 + 10].to_vec();
    f[18..20].copy_from_slice(&10u16.to_be_bytes());
    t.drop("truncated tcp over ipv6", 0, f, DropReason::TruncatedTcp);
    let mut f = udp4[..14 + 24].to_vec();
    f[16..18].copy_from_slice(&24u16.to_be_bytes());
    fix_ipv4_checksum(&mut f);
    t.drop("truncated udp over ipv4", 0, f, DropReason::TruncatedUdp);
    let mut f = good4.clone();
    f[14] = 0x44;
    fix_ipv4_checksum(&mut f);
    t.drop("ipv4 ihl below 5", 0, f, DropReason::BadIpv4Ihl);
    let mut f = good4.clone();
    f[16..18].copy_from_slice(&100u16.to_be_bytes());
    fix_ipv4_checksum(&mut f);
    t.drop(
        "ipv4 total length past the frame",
        0,
        f,
        DropReason::BadIpv4TotalLen,
    );
    let mut f = good4.clone();
    f[25] ^= 0x01;
    t.drop(
        "bad ipv4 header checksum",
        0,
        f,
        DropReason::BadIpv4Checksum,
    );
    // More-fragments set (first fragment).
    let mut f = good4.clone();
    f[20] |= 0x20;
    fix_ipv4_checksum(&mut f);
    t.drop("ipv4 fragment", 0, f, DropReason::Ipv4Fragment);
    // IPv6 with a Fragment header (next header 44) in front of the TCP header.
    let mut f = good6[..14 + 40].to_vec();
    f[14 + 6] = 44;
    f[18..20].copy_from_slice(&(8u16 + 20).to_be_bytes());
    f.extend_from_slice(&[6, 0, 0, 0, 0, 0, 0, 1]);
    f.extend_from_slice(&good6[14 + 40..14 + 60]);
    t.drop("ipv6 fragment header", 0, f, DropReason::Ipv6Fragment);
    let mut f = good4.clone();
    f[14 + 20 + 12] = 0x40;
    t.drop(
        "tcp data offset below 5",
        0,
        f,
        DropReason::BadTcpDataOffset,
    );
    let mut f = good4.clone();
    f[14] = 0x65;
    t.drop(
        "ipv4 ethertype with version 6",
        0,
        f,
        DropReason::BadIpv4Version,
    );
    let mut f = good6.clone();
    f[18..20].copy_from_slice(&100u16.to_be_bytes());
    t.drop(
        "ipv6 payload length past the frame",
        0,
        f,
        DropReason::BadIpv6PayloadLen,
    );
    let mut f = udp4.clone();
    f[14 + 20 + 4..14 + 20 + 6].copy_from_slice(&200u16.to_be_bytes());
    t.drop(
        "udp length past the ip payload",
        0,
        f,
        DropReason::BadUdpLength,
    );
    // GRE (47) to a VIP.
    let mut f = good4.clone();
    f[14 + 9] = 47;
    fix_ipv4_checksum(&mut f);
    t.drop("gre to a vip", 0, f, DropReason::UnsupportedL4Proto);
    // LLDP.
    let f = eth(
        [1, 0x80, 0xc2, 0, 0, 0x0e],
        CLIENT_MAC,
        EtherType(0x88cc),
        &[0; 46],
    );
    t.drop("lldp frame", 0, f, DropReason::UnsupportedEthertype);
}

/// The RFC 1071 sum of `data` (for the VRRP and IGMP bodies below; the pipeline never reads
/// them, so this only makes the good cases good).
fn rfc1071(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for w in data.chunks(2) {
        sum += u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !u16::try_from(sum).expect("folded")
}

/// A VRRPv2 advertisement (RFC 3768 §5.1): VRID 51, priority 150, one address, simple-text
/// authentication with `password`, advertisement interval 1 s, valid checksum.
fn vrrp2(vip: IpAddr, password: &[u8; 8]) -> Vec<u8> {
    let IpAddr::V4(a) = vip else {
        panic!("VRRPv2 carries IPv4 addresses")
    };
    let mut v = vec![0x21, 51, 150, 1, 1, 1, 0, 0];
    v.extend_from_slice(&a.octets());
    v.extend_from_slice(password);
    let c = rfc1071(&v);
    v[6..8].copy_from_slice(&c.to_be_bytes());
    v
}

/// A VRRPv3 advertisement for IPv6 (RFC 5798 §5.1): VRID 51, priority 150, interval 100 cs,
/// checksum over the IPv6 pseudo-header.
fn vrrp3(src: IpAddr, dst: IpAddr, vip: IpAddr) -> Vec<u8> {
    let (IpAddr::V6(s), IpAddr::V6(d), IpAddr::V6(a)) = (src, dst, vip) else {
        panic!("IPv6 VRRPv3")
    };
    let mut v = vec![0x31, 51, 150, 1, 0, 100, 0, 0];
    v.extend_from_slice(&a.octets());
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&s.octets());
    pseudo.extend_from_slice(&d.octets());
    pseudo.extend_from_slice(&u32::try_from(v.len()).expect("len").to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, 112]);
    pseudo.extend_from_slice(&v);
    let c = rfc1071(&pseudo);
    v[6..8].copy_from_slice(&c.to_be_bytes());
    v
}

/// The Ethernet multicast MAC of an IP multicast group (RFC 1112 §6.4, RFC 2464 §7).
fn mcast_mac(group: IpAddr) -> Mac {
    match group {
        IpAddr::V4(g) => {
            let o = g.octets();
            [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]]
        }
        IpAddr::V6(g) => {
            let o = g.octets();
            [0x33, 0x33, o[12], o[13], o[14], o[15]]
        }
    }
}

/// The exception path for routing and HA protocols (issue 14): whatever their IP protocol,
/// frames for the box (its own addresses, link-local multicast) are punted for the kernel
/// behind the TAP, malformed or not (VRRP is keepalived's to judge); the same protocols to
/// anyone else are dropped as before. Punts change no state, so these cases can run anywhere
/// in the sequence; they run last so the earlier cases keep their positions.
fn exception_path(t: &mut Table) {
    const PEER_MAC: Mac = [2, 0, 0, 0, 0, 0xfd];
    let v4 = fam(false);
    let v6 = fam(true);
    let peer4 = addr(false, 0, 2);
    let peer6: IpAddr = "fe80::2".parse().expect("v6");
    let ip = |s: &str| -> IpAddr { s.parse().expect("address") };

    // VRRP (112) from the peer gateway: multicast adverts, TTL 255 as RFC 3768 requires.
    let g = ip("224.0.0.18");
    let advert = Pkt::raw(peer4, g, 112, &vrrp2(v4.dr, b"secret\0\0"))
        .ttl(255)
        .df(false)
        .macs(mcast_mac(g), PEER_MAC);
    t.push(
        "vrrp v2 advertisement to 224.0.0.18 is punted",
        0,
        advert.frame(),
        Expect::Punt(Punt::Local),
    );
    let wrong = Pkt::raw(peer4, g, 112, &vrrp2(v4.dr, b"wrong\0\0\0"))
        .ttl(255)
        .macs(mcast_mac(g), PEER_MAC);
    t.push(
        "vrrp v2 advertisement with a wrong password is punted unchanged",
        0,
        wrong.frame(),
        Expect::Punt(Punt::Local),
    );
    let mut bad = vrrp2(v4.dr, b"secret\0\0");
    bad[6] ^= 0xff;
    let bad = Pkt::raw(peer4, g, 112, &bad)
        .ttl(1)
        .macs(mcast_mac(g), PEER_MAC);
    t.push(
        "vrrp v2 advertisement with ttl 1 and a bad checksum is punted unchanged",
        0,
        bad.frame(),
        Expect::Punt(Punt::Local),
    );
    let short = Pkt::raw(peer4, g, 112, &[0x21, 51])
        .ttl(255)
        .macs(mcast_mac(g), PEER_MAC);
    t.push(
        "truncated vrrp advertisement is punted unchanged",
        0,
        short.frame(),
        Expect::Punt(Punt::Local),
    );
    let g6 = ip("ff02::12");
    let advert6 = Pkt::raw(peer6, g6, 112, &vrrp3(peer6, g6, v6.dr))
        .ttl(255)
        .macs(mcast_mac(g6), PEER_MAC);
    t.push(
        "vrrp v3 advertisement to ff02::12 is punted",
        0,
        advert6.frame(),
        Expect::Punt(Punt::Local),
    );
    // Unicast VRRP (keepalived's unicast_peer) to the box's own address.
    for f in [&v4, &v6] {
        let body = if f.v6 {
            vrrp3(f.client, f.gw0, f.dr)
        } else {
            vrrp2(f.dr, b"secret\0\0")
        };
        let p = Pkt::raw(f.client, f.gw0, 112, &body).ttl(255);
        t.push(
            name!(f, "unicast vrrp to the gateway's own address is punted"),
            0,
            p.frame(),
            Expect::Punt(Punt::Local),
        );
    }
    // Not for the box: a VIP is not an address the box's kernel speaks VRRP on, and routed
    // multicast is not ours to receive.
    let p = Pkt::raw(peer4, v4.dr, 112, &vrrp2(v4.dr, b"secret\0\0")).ttl(255);
    t.drop(
        "vrrp to a vip is dropped",
        0,
        p.frame(),
        DropReason::UnsupportedL4Proto,
    );
    let routed = ip("239.1.2.3");
    let p = Pkt::raw(peer4, routed, 112, &vrrp2(v4.dr, b"secret\0\0"))
        .ttl(255)
        .macs(mcast_mac(routed), PEER_MAC);
    t.drop(
        "vrrp to a routed multicast group is dropped",
        0,
        p.frame(),
        DropReason::UnsupportedL4Proto,
    );
    let p = Pkt::udp(v4.client, 5000, routed, 5000).macs(mcast_mac(routed), CLIENT_MAC);
    t.drop(
        "udp to a routed multicast group is dropped",
        0,
        p.frame(),
        DropReason::NotForUs,
    );

    // OSPF (89) hellos to AllSPFRouters, TTL 1.
    let spf = ip("224.0.0.5");
    let hello = [2, 1, 0, 44, 198, 18, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0];
    let p = Pkt::raw(peer4, spf, 89, &hello)
        .ttl(1)
        .macs(mcast_mac(spf), PEER_MAC);
    t.push(
        "ospf hello to 224.0.0.5 is punted",
        0,
        p.frame(),
        Expect::Punt(Punt::Local),
    );
    let spf6 = ip("ff02::5");
    let p = Pkt::raw(peer6, spf6, 89, &[3, 1, 0, 36, 198, 18, 0, 2, 0, 0, 0, 0])
        .ttl(1)
        .macs(mcast_mac(spf6), PEER_MAC);
    t.push(
        "ospfv3 hello to ff02::5 is punted",
        0,
        p.frame(),
        Expect::Punt(Punt::Local),
    );

    // IGMP (2) and MLD (ICMPv6 130-143): group management on the link.
    let all = ip("224.0.0.1");
    let mut query = vec![0x11, 100, 0, 0, 0, 0, 0, 0];
    let c = rfc1071(&query);
    query[2..4].copy_from_slice(&c.to_be_bytes());
    let p = Pkt::raw(peer4, all, 2, &query)
        .ttl(1)
        .macs(mcast_mac(all), PEER_MAC);
    t.push(
        "igmp membership query to 224.0.0.1 is punted",
        0,
        p.frame(),
        Expect::Punt(Punt::Local),
    );
    let v3r = ip("224.0.0.22");
    let mut report = vec![0x22, 0, 0, 0, 0, 0, 0, 1, 4, 0, 0, 0, 224, 0, 0, 18];
    let c = rfc1071(&report);
    report[2..4].copy_from_slice(&c.to_be_bytes());
    let p = Pkt::raw(v4.gw0, v3r, 2, &report)
        .ttl(1)
        .macs(mcast_mac(v3r), PEER_MAC);
    t.push(
        "igmpv3 report to 224.0.0.22 is punted",
        0,
        p.frame(),
        Expect::Punt(Punt::Local),
    );
    let mld = ip("ff02::16");
    let p = Pkt::icmp(peer6, mld, 143, 0, [0, 0, 0, 0])
        .ttl(1)
        .macs(mcast_mac(mld), PEER_MAC);
    t.push(
        "mldv2 report to ff02::16 is punted",
        0,
        p.frame(),
        Expect::Punt(Punt::Local),
    );
    let nodes = ip("ff02::1");
    let p = Pkt::icmp(peer6, nodes, 128, 0, [0x12, 0x34, 0, 1])
        .payload(b"ping")
        .macs(mcast_mac(nodes), PEER_MAC);
    t.push(
        "echo to ff02::1 is punted",
        0,
        p.frame(),
        Expect::Punt(Punt::Local),
    );
    let rip = ip("224.0.0.9");
    let p = Pkt::udp(peer4, 520, rip, 520)
        .ttl(1)
        .macs(mcast_mac(rip), PEER_MAC);
    t.push(
        "rip response to 224.0.0.9 is punted",
        0,
        p.frame(),
        Expect::Punt(Punt::Local),
    );

    // What the scale-out work runs next: BGP (TCP 179) and BFD (UDP 3784 single hop, 4784
    // multihop) with the box's own addresses.
    for f in [&v4, &v6] {
        let p = Pkt::tcp(f.client, 40179, f.gw0, 179, SYN);
        t.push(
            name!(f, "bgp syn to the gateway's own address is punted"),
            0,
            p.frame(),
            Expect::Punt(Punt::Local),
        );
        let p = Pkt::udp(f.client, 49152, f.gw0, 3784).ttl(255);
        t.push(
            name!(f, "bfd control to the gateway's own address is punted"),
            0,
            p.frame(),
            Expect::Punt(Punt::Local),
        );
        let p = Pkt::udp(f.client, 49153, f.gw1, 4784).macs(GW1_MAC, ROUTER1_MAC);
        t.push(
            name!(f, "multihop bfd to the gateway's own address is punted"),
            1,
            p.frame(),
            Expect::Punt(Punt::Local),
        );
    }
}

/// The multi-worker sequence, for a fresh worker built with [`redirect_worker_config`]
/// (worker 0 of 2): flows owned by worker 1 are redirected to it, its own are forwarded.
///
/// NAT ownership is a hash of the client address (`pipeline::nat_owner`): the table's client is
/// owned by worker 1 and [`nat_client_owned_by_0`] by worker 0, in both families (the runner
/// checks it).
pub fn redirect_cases() -> Vec<Case> {
    let workers = redirect_worker_config().workers;
    // Worker 0 of 2: ports 1024, 1026, ...
    let mut t = Table::new(LPORT_MIN, workers);
    for f in [fam(false), fam(true)] {
        let lport = t.next_lport();
        let syn = Pkt::tcp(f.client, 41000, f.fnat, 80, SYN);
        let out = syn
            .clone()
            .src(f.laddr, lport)
            .dst(f.rs_fnat, 8080)
            .ttl(63)
            .macs(RS_FNAT_MAC, GW1_MAC);
        t.tx(
            name!(f, "fullnat syn on worker 0 of 2 gets an even local port"),
            0,
            &syn,
            1,
            &out,
        );
        let reply =
            Pkt::tcp(f.rs_fnat, 8080, f.laddr, LPORT_MIN + 1, SYN | ACK).macs(GW1_MAC, RS_FNAT_MAC);
        t.push(
            name!(f, "fullnat reply to an odd local port goes to worker 1"),
            1,
            reply.frame(),
            Expect::Redirect(1),
        );
        let reply = Pkt::tcp(f.rs_fnat, 8080, f.laddr, LPORT_MIN + 100, SYN | ACK)
            .macs(GW1_MAC, RS_FNAT_MAC);
        t.drop(
            name!(f, "fullnat reply to our own local port without a session"),
            1,
            reply.frame(),
            DropReason::NoSession,
        );
        let (mine, theirs) = (42000, 42001);
        let mine_client = nat_client_owned_by_0(f.v6);
        let syn = Pkt::tcp(f.client, theirs, f.nat, 80, SYN);
        t.push(
            name!(f, "nat syn from a client endpoint of worker 1 goes to it"),
            0,
            syn.frame(),
            Expect::Redirect(1),
        );
        let udp = Pkt::udp(f.client, theirs, f.nat, 53);
        t.push(
            name!(f, "nat udp from a client endpoint of worker 1 goes to it"),
            0,
            udp.frame(),
            Expect::Redirect(1),
        );
        let reply = Pkt::tcp(f.rs_nat, 8080, f.client, theirs, SYN | ACK).macs(GW1_MAC, RS_NAT_MAC);
        t.push(
            name!(f, "nat reply to a client endpoint of worker 1 goes to it"),
            1,
            reply.frame(),
            Expect::Redirect(1),
        );
        let syn = Pkt::tcp(mine_client, mine, f.nat, 80, SYN);
        let out = syn
            .clone()
            .dst(f.rs_nat, 8080)
            .ttl(63)
            .macs(RS_NAT_MAC, GW1_MAC);
        t.tx(
            name!(f, "nat syn from a client endpoint of worker 0 is forwarded"),
            0,
            &syn,
            1,
            &out,
        );
        // The rest of a NAT connection follows its SYN to the owner (RSS put it here too).
        let ack = Pkt::tcp(f.client, theirs, f.nat, 80, ACK).seq(1001, 5001);
        t.push(
            name!(
                f,
                "nat tcp ack from a client endpoint of worker 1 goes to it"
            ),
            0,
            ack.frame(),
            Expect::Redirect(1),
        );

        // ICMP errors about flows of worker 1, where the quote names the owner.
        let (ty, code, rest) = too_big(f.v6, 1400);
        let sent = Pkt::tcp(f.laddr, LPORT_MIN + 1, f.rs_fnat, 8080, SYN).ttl(63);
        let err = Pkt::icmp_err(f.router1, f.laddr, ty, code, rest, &sent.quote())
            .macs(GW1_MAC, ROUTER1_MAC);
        t.push(
            name!(
                f,
                "fullnat icmp error quoting an odd local port goes to worker 1"
            ),
            1,
            err.frame(),
            Expect::Redirect(1),
        );
        let (pty, pcode, prest) = port_unreachable(f.v6);
        let sent = Pkt::udp(f.client, theirs, f.rs_nat, 5353).ttl(63);
        let err = Pkt::icmp_err(f.rs_nat, f.client, pty, pcode, prest, &sent.ip())
            .macs(GW1_MAC, RS_NAT_MAC);
        t.push(
            name!(
                f,
                "nat icmp error from the backend about a flow of worker 1 goes to it"
            ),
            1,
            err.frame(),
            Expect::Redirect(1),
        );
        let sent = Pkt::tcp(f.nat, 80, f.client, theirs, SYN | ACK).ttl(63);
        let err = Pkt::icmp_err(f.router0, f.nat, ty, code, rest, &sent.quote())
            .macs(GW0_MAC, ROUTER0_MAC);
        t.push(
            name!(
                f,
                "nat icmp error about a reply to a flow of worker 1 goes to it"
            ),
            0,
            err.frame(),
            Expect::Redirect(1),
        );
        // (Worker 0 has a TCP session for `mine` from the case above, none for UDP.)
        let sent = Pkt::udp(f.nat, 53, mine_client, mine).ttl(63);
        let err = Pkt::icmp_err(f.router0, f.nat, ty, code, rest, &sent.quote())
            .macs(GW0_MAC, ROUTER0_MAC);
        t.drop(
            name!(f, "nat icmp error about our own flow without a session"),
            0,
            err.frame(),
            DropReason::IcmpNoSession,
        );
    }
    t.cases
}

/// The worker [`redirect_owner_cases`] assume: worker 1 of 2.
pub fn redirect_owner_worker_config() -> WorkerConfig {
    WorkerConfig {
        id: 1,
        ..redirect_worker_config()
    }
}

/// What the owner does with the frames [`redirect_cases`] redirect: the `Redirect(1)` cases'
/// input frames, in table order, each with what a fresh worker 1 of 2
/// ([`redirect_owner_worker_config`]) must do with it. Its NAT flows are forwarded (the SYN makes
/// the session its reply, ACK and ICMP errors use); the FullNAT reply and ICMP error name a local
/// port of worker 1 that no flow of its has, so they are dropped.
pub fn redirect_owner_cases() -> Vec<Case> {
    let mut t = Table::new(LPORT_MIN + 1, redirect_worker_config().workers);
    for f in [fam(false), fam(true)] {
        let to_rs = |p: &Pkt, port: u16| {
            p.clone()
                .dst(f.rs_nat, port)
                .ttl(p.ttl - 1)
                .macs(RS_NAT_MAC, GW1_MAC)
        };
        let theirs = 42001;
        let reply =
            Pkt::tcp(f.rs_fnat, 8080, f.laddr, LPORT_MIN + 1, SYN | ACK).macs(GW1_MAC, RS_FNAT_MAC);
        t.drop(
            name!(
                f,
                "owner: fullnat reply to its local port without a session"
            ),
            1,
            reply.frame(),
            DropReason::NoSession,
        );
        let syn = Pkt::tcp(f.client, theirs, f.nat, 80, SYN);
        t.tx(
            name!(f, "owner: nat syn redirected to it is forwarded"),
            0,
            &syn,
            1,
            &to_rs(&syn, 8080),
        );
        let udp = Pkt::udp(f.client, theirs, f.nat, 53);
        t.tx(
            name!(f, "owner: nat udp redirected to it is forwarded"),
            0,
            &udp,
            1,
            &to_rs(&udp, 5353),
        );
        let reply = Pkt::tcp(f.rs_nat, 8080, f.client, theirs, SYN | ACK).macs(GW1_MAC, RS_NAT_MAC);
        let out = reply
            .clone()
            .src(f.nat, 80)
            .ttl(63)
            .macs(CLIENT_MAC, GW0_MAC);
        t.tx(
            name!(f, "owner: nat reply redirected to it goes to the client"),
            1,
            &reply,
            0,
            &out,
        );
        let ack = Pkt::tcp(f.client, theirs, f.nat, 80, ACK).seq(1001, 5001);
        t.tx(
            name!(f, "owner: nat tcp ack redirected to it is forwarded"),
            0,
            &ack,
            1,
            &to_rs(&ack, 8080),
        );

        let (ty, code, rest) = too_big(f.v6, 1400);
        let sent = Pkt::tcp(f.laddr, LPORT_MIN + 1, f.rs_fnat, 8080, SYN).ttl(63);
        let err = Pkt::icmp_err(f.router1, f.laddr, ty, code, rest, &sent.quote())
            .macs(GW1_MAC, ROUTER1_MAC);
        t.drop(
            name!(
                f,
                "owner: fullnat icmp error quoting its local port without a session"
            ),
            1,
            err.frame(),
            DropReason::IcmpNoSession,
        );
        // The backend's port unreachable about the UDP flow: the client gets it from the VIP,
        // quoting its own datagram.
        let (pty, pcode, prest) = port_unreachable(f.v6);
        let sent = Pkt::udp(f.client, theirs, f.rs_nat, 5353).ttl(63);
        let err = Pkt::icmp_err(f.rs_nat, f.client, pty, pcode, prest, &sent.ip())
            .macs(GW1_MAC, RS_NAT_MAC);
        let quoted = Pkt::udp(f.client, theirs, f.nat, 53).ttl(63);
        let out = Pkt::icmp_err(f.nat, f.client, pty, pcode, prest, &quoted.ip())
            .ttl(63)
            .macs(CLIENT_MAC, GW0_MAC);
        t.tx(
            name!(
                f,
                "owner: nat icmp error from the backend goes to the client"
            ),
            1,
            &err,
            0,
            &out,
        );
        // A router cannot deliver the reply (VIP:80 -> client): the backend gets it in terms of
        // its own packet.
        let sent = Pkt::tcp(f.nat, 80, f.client, theirs, SYN | ACK).ttl(63);
        let err = Pkt::icmp_err(f.router0, f.nat, ty, code, rest, &sent.quote())
            .macs(GW0_MAC, ROUTER0_MAC);
        let quoted = sent.clone().src(f.rs_nat, 8080);
        let out = Pkt::icmp_err(f.router0, f.rs_nat, ty, code, rest, &quoted.quote())
            .ttl(63)
            .macs(RS_NAT_MAC, GW1_MAC);
        t.tx(
            name!(f, "owner: nat icmp error about a reply goes to the backend"),
            0,
            &err,
            1,
            &out,
        );
    }
    t.cases
}

/// A client on the table's client LAN whose NAT flows worker 0 of 2 owns.
pub fn nat_client_owned_by_0(v6: bool) -> IpAddr {
    addr(v6, 0, 58)
}

/// The client every NAT redirect case of worker 1 uses, per family (for checking the ownership
/// assumption of [`redirect_cases`]).
pub fn clients() -> [IpAddr; 2] {
    [fam(false).client, fam(true).client]
}

// ---- Diagnostics ----

/// Describe how `got` differs from the expected frame `want`: the lengths, the first differing
/// offset and the header field it falls in (Ethernet, IPv4/IPv6, TCP/UDP/ICMP, quoted and
/// tunnelled packets), and a hex dump of the differing 16-byte rows. Runners print it per case.
pub fn diff(want: &[u8], got: &[u8]) -> String {
    let mut s = String::new();
    if want.len() != got.len() {
        let _ = writeln!(s, "length: expected {}, got {}", want.len(), got.len());
    }
    if let Some(off) = (0..want.len().max(got.len())).find(|&i| want.get(i) != got.get(i)) {
        let _ = writeln!(
            s,
            "first difference at offset {off} (0x{off:x}): {}",
            field(want, off)
        );
    }
    let rows = want.len().max(got.len()).div_ceil(16);
    for r in 0..rows {
        let range = r * 16..(r + 1) * 16;
        let row = |b: &[u8]| {
            range
                .clone()
                .map(|i| b.get(i).map_or("  ".to_string(), |x| format!("{x:02x}")))
                .collect::<Vec<_>>()
                .join(" ")
        };
        if range.clone().any(|i| want.get(i) != got.get(i)) {
            let marks: Vec<&str> = range
                .clone()
                .map(|i| {
                    if want.get(i) != got.get(i) {
                        "^^"
                    } else {
                        "  "
                    }
                })
                .collect();
            let _ = writeln!(s, "{:04x} want {}", r * 16, row(want));
            let _ = writeln!(s, "     got  {}", row(got));
            let _ = writeln!(s, "          {}", marks.join(" "));
        }
    }
    s
}

/// Name the header field at `off` of an Ethernet frame laid out like `frame`.
fn field(frame: &[u8], off: usize) -> String {
    match off {
        0..=5 => "ethernet destination".into(),
        6..=11 => "ethernet source".into(),
        12..=13 => "ethertype".into(),
        _ if frame.len() < 14 => "past the end".into(),
        _ => match u16::from_be_bytes([frame[12], frame[13]]) {
            0x0800 => ip_field(&frame[14..], off - 14, "ipv4"),
            0x86dd => ip_field(&frame[14..], off - 14, "ipv6"),
            _ => format!("payload byte {}", off - 14),
        },
    }
}

fn ip_field(ip: &[u8], off: usize, prefix: &str) -> String {
    let v6 = ip.first().is_some_and(|b| b >> 4 == 6);
    let (hl, proto) = if v6 {
        (40, ip.get(6).copied().unwrap_or(0))
    } else {
        (
            usize::from(ip.first().copied().unwrap_or(0x45) & 0x0f) * 4,
            ip.get(9).copied().unwrap_or(0),
        )
    };
    if off < hl {
        let name = if v6 {
            match off {
                0..=3 => "version/class/flow",
                4..=5 => "payload length",
                6 => "next header",
                7 => "hop limit",
                8..=23 => "source address",
                _ => "destination address",
            }
        } else {
            match off {
                0 => "version/ihl",
                1 => "tos",
                2..=3 => "total length",
                4..=5 => "identification",
                6..=7 => "flags/fragment offset",
                8 => "ttl",
                9 => "protocol",
                10..=11 => "header checksum",
                12..=15 => "source address",
                16..=19 => "destination address",
                _ => "options",
            }
        };
        return format!("{prefix} {name}");
    }
    let l4 = &ip[hl.min(ip.len())..];
    let o = off - hl;
    match proto {
        6 => {
            let thl = l4.get(12).map_or(20, |b| usize::from(b >> 4) * 4);
            let name = match o {
                0..=1 => "source port",
                2..=3 => "destination port",
                4..=7 => "sequence",
                8..=11 => "acknowledgment",
                12 => "data offset",
                13 => "flags",
                14..=15 => "window",
                16..=17 => "checksum",
                18..=19 => "urgent pointer",
                _ if o < thl => "options",
                _ => "payload",
            };
            format!("{prefix} tcp {name}")
        }
        17 => {
            let name = match o {
                0..=1 => "source port",
                2..=3 => "destination port",
                4..=5 => "length",
                6..=7 => "checksum",
                _ => "payload",
            };
            format!("{prefix} udp {name}")
        }
        1 | 58 => match o {
            0 => format!("{prefix} icmp type"),
            1 => format!("{prefix} icmp code"),
            2..=3 => format!("{prefix} icmp checksum"),
            4..=7 => format!("{prefix} icmp rest of header"),
            _ => ip_field(&l4[8.min(l4.len())..], o - 8, &format!("{prefix} quoted")),
        },
        4 => ip_field(l4, o, &format!("{prefix} inner")),
        _ => format!("{prefix} payload"),
    }
}

// ---- pcap ----

/// Classic pcap magic (microsecond timestamps), written little-endian.
const PCAP_MAGIC: u32 = 0xa1b2_c3d4;
/// Link type Ethernet.
const LINKTYPE_ETHERNET: u32 = 1;
/// Snap length written in the header.
const SNAPLEN: u32 = 65535;

/// Write `frames` as a classic pcap file (version 2.4, microsecond timestamps, link type 1,
/// little-endian), one record per frame, record `i` stamped `i` microseconds after 1 s.
///
/// # Errors
/// Any I/O error; a frame longer than the snap length.
pub fn write_pcap(path: impl AsRef<Path>, frames: &[Vec<u8>]) -> io::Result<()> {
    let mut out = Vec::new();
    out.extend_from_slice(&PCAP_MAGIC.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes()); // thiszone
    out.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
    out.extend_from_slice(&SNAPLEN.to_le_bytes());
    out.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        let len = u32::try_from(f.len())
            .ok()
            .filter(|&l| l <= SNAPLEN)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame too long"))?;
        let usec = u32::try_from(i % 1_000_000).unwrap_or(0);
        let sec = 1 + u32::try_from(i / 1_000_000).unwrap_or(0);
        out.extend_from_slice(&sec.to_le_bytes());
        out.extend_from_slice(&usec.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(f);
    }
    std::fs::File::create(path)?.write_all(&out)
}

/// Read the frames of a classic pcap file (either byte order, micro- or nanosecond magic).
///
/// # Errors
/// Any I/O error; not a pcap file; a truncated record.
pub fn read_pcap(path: impl AsRef<Path>) -> io::Result<Vec<Vec<u8>>> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    let mut data = Vec::new();
    std::fs::File::open(path)?.read_to_end(&mut data)?;
    if data.len() < 24 {
        return Err(bad("short pcap header"));
    }
    let magic = [data[0], data[1], data[2], data[3]];
    let le = match u32::from_le_bytes(magic) {
        0xa1b2_c3d4 | 0xa1b2_3c4d => true,
        _ if matches!(u32::from_be_bytes(magic), 0xa1b2_c3d4 | 0xa1b2_3c4d) => false,
        _ => return Err(bad("not a pcap file")),
    };
    let rd = |b: &[u8]| {
        let w = [b[0], b[1], b[2], b[3]];
        if le {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        }
    };
    let mut frames = Vec::new();
    let mut at = 24;
    while at < data.len() {
        let hdr = data.get(at..at + 16).ok_or_else(|| bad("short record"))?;
        let incl = usize::try_from(rd(&hdr[8..12])).map_err(|_| bad("length"))?;
        let body = data
            .get(at + 16..at + 16 + incl)
            .ok_or_else(|| bad("short record"))?;
        frames.push(body.to_vec());
        at += 16 + incl;
    }
    Ok(frames)
}

/// The input frames of `cases`, in order.
pub fn inputs(cases: &[Case]) -> Vec<Vec<u8>> {
    cases.iter().map(|c| c.input.clone()).collect()
}

/// The frames `cases` expect to be sent, in order (`Some(port)`: only those sent on it).
pub fn outputs(cases: &[Case], port: Option<PortIdx>) -> Vec<Vec<u8>> {
    cases
        .iter()
        .filter_map(|c| match &c.expect {
            Expect::Tx { port: p, frame } if port.is_none_or(|q| q == *p) => Some(frame.clone()),
            _ => None,
        })
        .collect()
}
