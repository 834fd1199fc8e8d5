//! Golden packets: the forwarding behaviour as one table of (name, input frame, expected output
//! frame or verdict), STYLE rule 17 (Katran's `KatranBaseTestFixtures.h`).
//!
//! Everything here is fixed data: one test topology ([`snapshot`]), the worker settings the table
//! assumes ([`worker_config`], [`redirect_worker_config`]) and the cases ([`cases`],
//! [`redirect_cases`]). The in-process runner is `dataplane/tests/golden.rs`; the gateway binary
//! replays the same table through DPDK's `net_pcap` in `tests/gateway_pcap.rs` (see
//! [`write_pcap`](crate::pcap::write_pcap)).
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
//!   `workers`, `k` counting the flows that took a port from that reply tuple's pool (local
//!   address, real server, its port, protocol) from 0; a service's local addresses are taken in
//!   turn by the worker's flows. With one local address per service and
//!   `WorkerConfig::default()` (id 0, one worker, `lport_min` 1024) the n-th FullNAT flow of a
//!   pool gets port `1024 + n`.
//!
//! Replaying through the gateway (`net_pcap`): [`inputs`] and [`outputs`] give the frames in
//! table order ([`outputs`] can keep one egress port's), [`crate::pcap`] writes and reads the
//! files, and [`crate::diff::diff`] reports a frame that differs. The cases arrive on two ports
//! and later ones depend on earlier ones, so a replay must keep the table order across ports (for
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
//!
//! Layout: this file holds the topology, the worker settings and the order of the table
//! ([`cases`]); `pkt.rs` builds the frames (etherparse) and the table; one file per forwarding
//! mode with its ICMP translation (`dr.rs` with the flows that start mid-way, `tun.rs`, `nat.rs`,
//! `fullnat.rs` with its handshake helper), `icmp.rs` (echo, errors without a session), `misc.rs`
//! (what no service takes), `malformed.rs`, `exception.rs` (punts, the exception path) and
//! `redirect.rs` (the two-worker sequences). The imports from `dataplane` are all here.

// Everything the table's files take from the dataplane and etherparse, in one place (the files
// say `use super::*`).
use core::net::{IpAddr, Ipv4Addr};

use etherparse::{
    EtherType, Ethernet2Header, Icmpv4Header, Icmpv4Type, Icmpv6Header, Icmpv6Type, IpNumber,
    Ipv4Header, Ipv6Header, TcpHeader, UdpHeader,
};

use dataplane::sched::SchedulerKind;
use dataplane::session::FwdMethod;
use dataplane::snapshot::{
    BackendSpec, Mac, Route, ServiceSpec, Snapshot, SnapshotBuilder, ToaMode,
};
use dataplane::types::{L4Proto, PortIdx};
use dataplane::wire::DropReason;
use dataplane::worker::{Punt, WorkerConfig};

use crate::packet::vlan;
use crate::topology::{self, two_ports};

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

mod dr;
mod exception;
mod fullnat;
mod icmp;
mod malformed;
mod misc;
mod nat;
mod pkt;
mod redirect;
mod tun;

use dr::{dr, mid_flow};
use exception::{exception_path, punts};
use fullnat::fullnat;
use icmp::icmp;
use malformed::malformed;
use misc::misc;
use nat::nat;
use pkt::*;
pub use redirect::{
    clients, nat_client_owned_by_0, redirect_cases, redirect_owner_cases,
    redirect_owner_worker_config, redirect_worker_config,
};
use tun::tun;

/// The time (seconds) every case is processed at.
pub const NOW: u32 = 1;

/// MAC of port 0 (client side).
pub const GW0_MAC: Mac = topology::GW0;
/// MAC of port 1 (server side).
pub const GW1_MAC: Mac = topology::GW1;
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
pub const MTU: u16 = topology::MTU;
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
    /// Transmit `frame` on `port` in fragments of at most `mtu` bytes of IP: the worker's
    /// verdict is `TxFragment` with `frame` rewritten; its loop sends `fragments` (made here
    /// by [`crate::packet::fragment`], with the identification worker 0 gives its first
    /// fragmented datagram, [`FIRST_FRAG_ID`]).
    TxFragment {
        /// Egress port.
        port: PortIdx,
        /// Its MTU.
        mtu: u16,
        /// The frame the worker hands its loop, exactly.
        frame: Vec<u8>,
        /// The fragments the loop sends, exactly.
        fragments: Vec<Vec<u8>>,
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
    let mut b = SnapshotBuilder::new(1);
    two_ports(&mut b, true);
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
        icmp(&mut t, &f);
    }
    malformed(&mut t);
    exception_path(&mut t);
    for f in [fam(false), fam(true)] {
        mid_flow(&mut t, &f);
    }
    t.cases
}

/// Sessions the mid-flow cases (`golden/dr.rs`) start from a packet other than a SYN (the `sessions_mid_flow`
/// counter after the table): the DR ACK in both families and the TUN ACK in IPv4.
pub const MID_FLOW_SESSIONS: u64 = 3;

/// The input frames of `cases`, in order.
pub fn inputs(cases: &[Case]) -> Vec<Vec<u8>> {
    cases.iter().map(|c| c.input.clone()).collect()
}

/// The identification worker 0's loop gives the first datagram without one that it fragments
/// (the table has one such case).
pub const FIRST_FRAG_ID: u32 = 1;

impl Expect {
    /// The frames this case has sent on `port` (any port for `None`), in order.
    pub fn sent(&self, port: Option<PortIdx>) -> Vec<&[u8]> {
        match self {
            Expect::Tx { port: p, frame } if port.is_none_or(|q| q == *p) => vec![frame],
            Expect::TxFragment {
                port: p, fragments, ..
            } if port.is_none_or(|q| q == *p) => fragments.iter().map(Vec::as_slice).collect(),
            _ => Vec::new(),
        }
    }
}

/// The datagrams `cases` expect to be sent (what a worker's `tx` counter counts: a fragmented
/// one is one).
pub fn transmitted(cases: &[Case]) -> u64 {
    cases
        .iter()
        .filter(|c| matches!(c.expect, Expect::Tx { .. } | Expect::TxFragment { .. }))
        .count() as u64
}

/// The frames `cases` expect to be sent, in order (`Some(port)`: only those sent on it).
pub fn outputs(cases: &[Case], port: Option<PortIdx>) -> Vec<Vec<u8>> {
    cases
        .iter()
        .flat_map(|c| c.expect.sent(port))
        .map(<[u8]>::to_vec)
        .collect()
}
