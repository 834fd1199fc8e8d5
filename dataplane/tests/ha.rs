//! Director HA in the pipeline: an address the gateway does not own is still forwarded (a
//! switch may lag behind a failover) and every such frame is counted; owned addresses cost
//! nothing and count nothing.

use testkit::packet::{ip, tcp, CLIENT_MAC, SYN};
use testkit::topology::{two_port_lan, GW0};

use dataplane::frame::VecFrame;
use dataplane::session::FwdMethod;
use dataplane::snapshot::{is_link_local_multicast, BackendSpec, ServiceSpec, Snapshot};
use dataplane::types::L4Proto;
use dataplane::worker::{Punt, Verdict, Worker, WorkerConfig};

const RS_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0xa1];

/// Two DR services, 198.18.0.100 and .101, one backend each; `not_owned` as given.
fn snapshot(not_owned: &[&str]) -> Snapshot {
    let mut b = two_port_lan(1);
    b.neighbour(ip("198.18.1.11"), RS_MAC);
    for vip in ["198.18.0.100", "198.18.0.101"] {
        let mut s = ServiceSpec::new(ip(vip), 80, L4Proto::Tcp);
        s.backends = vec![BackendSpec::new(ip("198.18.1.11"), 80, FwdMethod::Dr)];
        b.service(s);
    }
    for a in not_owned {
        b.not_owned(ip(a));
    }
    b.build()
}

fn syn_to(vip: &str, sport: u16) -> VecFrame {
    VecFrame::new(&tcp(
        (CLIENT_MAC, GW0),
        ip("198.18.0.50"),
        ip(vip),
        sport,
        80,
        SYN,
        &[],
    ))
}

#[test]
fn frames_to_a_vip_not_owned_are_forwarded_and_counted() {
    let snap = snapshot(&["198.18.0.100"]);
    assert!(snap.any_not_owned());
    assert!(!snap.is_owned(ip("198.18.0.100")));
    assert!(snap.is_owned(ip("198.18.0.101")));
    let mut w = Worker::new(WorkerConfig::default());
    let v = w.process_one(&snap, 1, 0, &mut syn_to("198.18.0.100", 40000));
    assert_eq!(v, Verdict::Tx(1), "forwarded although not owned");
    assert_eq!(w.counters().ha_not_owned.get(), 1);
    // The session's next packet is counted too; the owned VIP's are not.
    let v = w.process_one(&snap, 1, 0, &mut syn_to("198.18.0.100", 40000));
    assert_eq!(v, Verdict::Tx(1));
    assert_eq!(w.counters().ha_not_owned.get(), 2);
    let v = w.process_one(&snap, 1, 0, &mut syn_to("198.18.0.101", 40001));
    assert_eq!(v, Verdict::Tx(1));
    assert_eq!(w.counters().ha_not_owned.get(), 2);
}

#[test]
fn everything_is_owned_without_ha() {
    let snap = snapshot(&[]);
    assert!(!snap.any_not_owned());
    assert!(snap.is_owned(ip("198.18.0.100")));
    assert_eq!(snap.not_owned().count(), 0);
    let mut w = Worker::new(WorkerConfig::default());
    let v = w.process_one(&snap, 1, 0, &mut syn_to("198.18.0.100", 40000));
    assert_eq!(v, Verdict::Tx(1));
    assert_eq!(w.counters().ha_not_owned.get(), 0);
}

#[test]
fn link_local_multicast_is_for_the_box() {
    let snap = snapshot(&[]);
    for a in [
        "224.0.0.18",
        "224.0.0.255",
        "ff02::12",
        "ff02::1:ff00:1",
        "198.18.0.1",
    ] {
        assert!(snap.is_for_box(ip(a)), "{a}");
    }
    for a in [
        "224.0.1.1",
        "239.1.2.3",
        "ff05::2",
        "ff0e::1",
        "198.18.0.100",
    ] {
        assert!(!snap.is_for_box(ip(a)), "{a}");
    }
    assert!(is_link_local_multicast(ip("224.0.0.0")));
    assert!(!is_link_local_multicast(ip("223.255.255.255")));
    // A VRRP advertisement (IP protocol 112) goes to control whether it parses as VRRP or not.
    let mut f = testkit::packet::udp(
        ([2, 0, 0, 0, 0, 0xfd], [0x01, 0, 0x5e, 0, 0, 0x12]),
        ip("198.18.0.2"),
        ip("224.0.0.18"),
        1,
        2,
        b"x",
    );
    f[14 + 9] = 112;
    f[14 + 10..14 + 12].copy_from_slice(&[0, 0]);
    let c = header_checksum(&f[14..34]);
    f[14 + 10..14 + 12].copy_from_slice(&c.to_be_bytes());
    let mut w = Worker::new(WorkerConfig::default());
    let v = w.process_one(&snap, 1, 0, &mut VecFrame::new(&f));
    assert_eq!(v, Verdict::Punt(Punt::Local));
    assert_eq!(w.counters().punted.get(), 1);
}

fn header_checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = h
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !u16::try_from(sum).unwrap()
}
