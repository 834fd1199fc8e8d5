//! A first end-to-end check of the pipeline: FullNAT TCP both ways on IPv4.

use std::net::{IpAddr, Ipv4Addr};
use testkit::packet::CLIENT_MAC;
use testkit::topology::{two_port_lan, GW0, GW1};

use dataplane::frame::{Frame, VecFrame};
use dataplane::session::FwdMethod;
use dataplane::snapshot::{BackendSpec, ServiceSpec};
use dataplane::types::L4Proto;
use dataplane::worker::{Verdict, Worker, WorkerConfig};
use etherparse::{NetSlice, PacketBuilder, SlicedPacket, TransportSlice};

const RS_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0xa1];

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn fullnat_tcp_round_trip() {
    let snap = fullnat_snapshot(1, Some(RS_MAC));
    let mut w = Worker::new(WorkerConfig::default());

    let mut syn = Vec::new();
    PacketBuilder::ethernet2(CLIENT_MAC, GW0)
        .ipv4([198, 18, 0, 50], [198, 18, 0, 100], 64)
        .tcp(40000, 80, 1000, 65535)
        .syn()
        .write(&mut syn, &[])
        .unwrap();
    let mut f = [VecFrame::new(&syn)];
    let mut v = [Verdict::Drop(dataplane::wire::DropReason::NotForUs)];
    w.process(&snap, 1, 0, &mut f, &mut v);
    assert_eq!(v[0], Verdict::Tx(1), "{:?}", w.counters().drops);
    let out = SlicedPacket::from_ethernet(f[0].data()).unwrap();
    let Some(NetSlice::Ipv4(ipv4)) = out.net else {
        panic!()
    };
    assert_eq!(ipv4.header().source_addr(), Ipv4Addr::new(198, 18, 1, 200));
    assert_eq!(
        ipv4.header().destination_addr(),
        Ipv4Addr::new(198, 18, 1, 11)
    );
    assert_eq!(ipv4.header().ttl(), 63);
    let Some(TransportSlice::Tcp(tcp)) = out.transport else {
        panic!()
    };
    assert_eq!(tcp.destination_port(), 8080);
    let lport = tcp.source_port();
    // Checksums verify on the rewritten packet.
    let h = ipv4.header().to_header();
    assert_eq!(h.calc_header_checksum(), h.header_checksum);
    let th = tcp.to_header();
    assert_eq!(
        th.calc_checksum_ipv4(&h, tcp.payload()).unwrap(),
        th.checksum
    );

    // The backend's SYN-ACK comes back to the local address.
    let mut synack = Vec::new();
    PacketBuilder::ethernet2(RS_MAC, GW1)
        .ipv4([198, 18, 1, 11], [198, 18, 1, 200], 64)
        .tcp(8080, lport, 5000, 65535)
        .syn()
        .ack(1001)
        .write(&mut synack, &[])
        .unwrap();
    let mut f = [VecFrame::new(&synack)];
    w.process(&snap, 1, 1, &mut f, &mut v);
    assert_eq!(v[0], Verdict::Tx(0));
    let out = SlicedPacket::from_ethernet(f[0].data()).unwrap();
    let Some(NetSlice::Ipv4(ipv4)) = out.net else {
        panic!()
    };
    assert_eq!(ipv4.header().source_addr(), Ipv4Addr::new(198, 18, 0, 100));
    assert_eq!(
        ipv4.header().destination_addr(),
        Ipv4Addr::new(198, 18, 0, 50)
    );
    let Some(TransportSlice::Tcp(tcp)) = out.transport else {
        panic!()
    };
    assert_eq!((tcp.source_port(), tcp.destination_port()), (80, 40000));
    assert_eq!(&f[0].data()[0..6], &CLIENT_MAC);
    let h = ipv4.header().to_header();
    let th = tcp.to_header();
    assert_eq!(
        th.calc_checksum_ipv4(&h, tcp.payload()).unwrap(),
        th.checksum
    );

    // The client's ACK carries TOA (client port + address) to the backend.
    let mut ack = Vec::new();
    PacketBuilder::ethernet2(CLIENT_MAC, GW0)
        .ipv4([198, 18, 0, 50], [198, 18, 0, 100], 64)
        .tcp(40000, 80, 1001, 65535)
        .ack(5001)
        .write(&mut ack, &[])
        .unwrap();
    let mut f = [VecFrame::new(&ack)];
    w.process(&snap, 2, 0, &mut f, &mut v);
    assert_eq!(v[0], Verdict::Tx(1));
    let out = SlicedPacket::from_ethernet(f[0].data()).unwrap();
    let Some(NetSlice::Ipv4(ipv4)) = out.net else {
        panic!()
    };
    let Some(TransportSlice::Tcp(tcp)) = out.transport else {
        panic!()
    };
    assert_eq!(tcp.options(), &[254, 8, 0x9c, 0x40, 198, 18, 0, 50]);
    let h = ipv4.header().to_header();
    assert_eq!(h.calc_header_checksum(), h.header_checksum);
    let th = tcp.to_header();
    assert_eq!(
        th.calc_checksum_ipv4(&h, tcp.payload()).unwrap(),
        th.checksum
    );
    assert_eq!(w.counters().toa_inserted.get(), 1);
}

/// A SYN from client port `cport` to the service of [`fullnat_snapshot`]; its verdict and,
/// when sent, the destination MAC it went out with.
fn syn_through(
    w: &mut Worker,
    snap: &dataplane::snapshot::Snapshot,
    cport: u16,
) -> (Verdict, [u8; 6]) {
    let mut syn = Vec::new();
    PacketBuilder::ethernet2(CLIENT_MAC, GW0)
        .ipv4([198, 18, 0, 50], [198, 18, 0, 100], 64)
        .tcp(cport, 80, 1000, 65535)
        .syn()
        .write(&mut syn, &[])
        .unwrap();
    let mut f = [VecFrame::new(&syn)];
    let mut v = [Verdict::Drop(dataplane::wire::DropReason::NotForUs)];
    w.process(snap, 1, 0, &mut f, &mut v);
    let mut mac = [0; 6];
    mac.copy_from_slice(&f[0].data()[..6]);
    (v[0], mac)
}

/// Generation `generation` of a FullNAT service with one real server, whose MAC is `rs_mac`
/// (none: not resolved).
fn fullnat_snapshot(generation: u64, rs_mac: Option<[u8; 6]>) -> dataplane::snapshot::Snapshot {
    let mut b = two_port_lan(generation);
    if let Some(m) = rs_mac {
        b.neighbour(ip("198.18.1.11"), m);
    }
    let mut s = ServiceSpec::new(ip("198.18.0.100"), 80, L4Proto::Tcp);
    s.laddrs = vec![ip("198.18.1.200")];
    s.backends = vec![BackendSpec::new(
        ip("198.18.1.11"),
        8080,
        FwdMethod::FullNat,
    )];
    b.service(s);
    b.build()
}

/// The worker keeps a real server's next hop for a configuration generation: a new
/// generation's neighbour (its MAC changed, or gone) is what the next new flow uses.
#[test]
fn a_new_generation_moves_new_flows_to_the_real_servers_new_next_hop() {
    let mut w = Worker::new(WorkerConfig::default());
    let (a, b) = (RS_MAC, [2, 0, 0, 0, 0, 0xb2]);
    let g1 = fullnat_snapshot(1, Some(a));
    assert_eq!(syn_through(&mut w, &g1, 40000), (Verdict::Tx(1), a));
    assert_eq!(syn_through(&mut w, &g1, 40001), (Verdict::Tx(1), a));
    let g2 = fullnat_snapshot(2, Some(b));
    assert_eq!(syn_through(&mut w, &g2, 40002), (Verdict::Tx(1), b));
    let g3 = fullnat_snapshot(3, None);
    let (v, _) = syn_through(&mut w, &g3, 40003);
    assert!(
        matches!(
            v,
            Verdict::Punt(dataplane::worker::Punt::Resolve { port: 1 })
        ),
        "{v:?}"
    );
    let g4 = fullnat_snapshot(4, Some(a));
    assert_eq!(syn_through(&mut w, &g4, 40004), (Verdict::Tx(1), a));
}
