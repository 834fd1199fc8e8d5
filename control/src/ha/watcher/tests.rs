//! Decoding notifications built with netlink-packet-route itself, as the kernel sends them.

use std::collections::HashMap;
use std::net::IpAddr;

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use netlink_packet_route::route::RouteMessage;
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::{messages, note, poll_outcome, restart, Note};
use crate::ha::{Event, KernelAddr};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

fn bytes(inner: RouteNetlinkMessage) -> Vec<u8> {
    let mut m = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(inner));
    m.finalize();
    let mut b = vec![0; m.buffer_len()];
    m.serialize(&mut b);
    b
}

fn link(index: u32, name: &str) -> LinkMessage {
    let mut l = LinkMessage::default();
    l.header.index = index;
    l.attributes.push(LinkAttribute::IfName(name.into()));
    l
}

fn addr(index: u32, a: &str, peer: Option<&str>) -> AddressMessage {
    let mut m = AddressMessage::default();
    m.header.index = index;
    m.header.family = if ip(a).is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    m.header.prefix_len = 32;
    if ip(a).is_ipv4() {
        // IPv4: IFA_LOCAL is ours; IFA_ADDRESS the peer's on point-to-point links.
        m.attributes
            .push(AddressAttribute::Address(ip(peer.unwrap_or(a))));
        m.attributes.push(AddressAttribute::Local(ip(a)));
    } else {
        m.attributes.push(AddressAttribute::Address(ip(a)));
    }
    m
}

/// Decode one datagram the way the watcher does.
fn decode(datagram: &[u8], links: &mut HashMap<u32, String>) -> Vec<Result<Note, ()>> {
    messages(datagram)
        .map(|m| m.map(|m| note(m, links)))
        .collect()
}

#[test]
fn address_notifications_name_their_interface() {
    let mut links = HashMap::new();
    let mut d = bytes(RouteNetlinkMessage::NewLink(link(7, "eth0")));
    d.extend(bytes(RouteNetlinkMessage::NewAddress(addr(
        7,
        "198.18.1.100",
        Some("198.18.1.1"),
    ))));
    d.extend(bytes(RouteNetlinkMessage::NewAddress(addr(
        7,
        "2001:2:0:1::100",
        None,
    ))));
    d.extend(bytes(RouteNetlinkMessage::DelAddress(addr(
        7,
        "198.18.1.100",
        None,
    ))));
    let on = |a: &str| KernelAddr {
        ifname: "eth0".into(),
        addr: ip(a),
    };
    assert_eq!(
        decode(&d, &mut links),
        [
            Ok(Note::Quiet),
            Ok(Note::Event(Event::Added(on("198.18.1.100")))),
            Ok(Note::Event(Event::Added(on("2001:2:0:1::100")))),
            Ok(Note::Event(Event::Removed(on("198.18.1.100")))),
        ],
        "IFA_LOCAL, not the peer's IFA_ADDRESS"
    );
    assert_eq!(links.get(&7).map(String::as_str), Some("eth0"));
}

#[test]
fn an_unknown_interface_asks_for_a_dump_and_a_deleted_one_is_reported() {
    let mut links = HashMap::from([(3, "eth1".to_owned())]);
    let d = bytes(RouteNetlinkMessage::NewAddress(addr(
        9,
        "198.18.2.100",
        None,
    )));
    assert_eq!(decode(&d, &mut links), [Ok(Note::Resync)]);
    let d = bytes(RouteNetlinkMessage::DelLink(link(3, "eth1")));
    assert_eq!(
        decode(&d, &mut links),
        [Ok(Note::Event(Event::LinkGone("eth1".into())))]
    );
    assert!(links.is_empty());
}

#[test]
fn unexpected_and_broken_messages_are_told_apart() {
    let mut links = HashMap::new();
    // A route notification nobody subscribed to, and an address message without an address.
    let mut d = bytes(RouteNetlinkMessage::NewRoute(RouteMessage::default()));
    d.extend(bytes(RouteNetlinkMessage::NewAddress(
        AddressMessage::default(),
    )));
    assert_eq!(
        decode(&d, &mut links),
        [Ok(Note::Unexpected), Ok(Note::Unexpected)]
    );
    // A length past the datagram, a length below the header, and a short tail.
    let mut bad = bytes(RouteNetlinkMessage::NewLink(link(1, "lo")));
    bad[0..4].copy_from_slice(&1000u32.to_ne_bytes());
    assert_eq!(decode(&bad, &mut links), [Err(())]);
    bad[0..4].copy_from_slice(&8u32.to_ne_bytes());
    assert_eq!(decode(&bad, &mut links), [Err(())]);
    assert!(decode(&[0; 15], &mut links).is_empty());
    // Garbage never panics.
    for n in 0..64u8 {
        let g: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37) ^ n).collect();
        let _ = decode(&g, &mut links);
    }
}

#[test]
fn a_tap_created_again_under_a_new_index_is_followed() {
    // keepalived puts the VIP on a TAP that was deleted and created again (a new ifindex, the
    // same name): the address is reported on it, and the old index is forgotten.
    let mut links = HashMap::from([(5, "eth0".to_owned())]);
    let mut d = bytes(RouteNetlinkMessage::DelLink(link(5, "eth0")));
    d.extend(bytes(RouteNetlinkMessage::NewLink(link(11, "eth0"))));
    d.extend(bytes(RouteNetlinkMessage::NewAddress(addr(
        11,
        "198.18.1.100",
        None,
    ))));
    assert_eq!(
        decode(&d, &mut links),
        [
            Ok(Note::Event(Event::LinkGone("eth0".into()))),
            Ok(Note::Quiet),
            Ok(Note::Event(Event::Added(KernelAddr {
                ifname: "eth0".into(),
                addr: ip("198.18.1.100"),
            }))),
        ]
    );
    assert_eq!(links, HashMap::from([(11, "eth0".to_owned())]));
}

/// A signal the gateway handles interrupts the watcher's poll and receives at random (it showed
/// as `not ready: cannot follow the exception-path addresses: rtnetlink poll: Interrupted system
/// call` in the HA lab): an interrupted wait is a wakeup without data and an interrupted call is
/// made again; only real errors reach the watcher's reopen-and-report path.
#[test]
fn a_signal_is_not_a_socket_error() {
    use rustix::io::Errno;
    assert!(!poll_outcome(Err(Errno::INTR)).expect("EINTR is no error"));
    assert!(!poll_outcome(Ok(0)).expect("timeout"));
    assert!(poll_outcome(Ok(1)).expect("readable"));
    let e = poll_outcome(Err(Errno::BADF)).expect_err("EBADF is an error");
    assert_eq!(e.raw_os_error(), Some(Errno::BADF.raw_os_error()));

    let mut calls = 0;
    let n = restart(|| {
        calls += 1;
        if calls < 3 {
            Err(std::io::Error::from(std::io::ErrorKind::Interrupted))
        } else {
            Ok(42)
        }
    })
    .expect("made again until it completes");
    assert_eq!((n, calls), (42, 3));
    let mut calls = 0;
    let e = restart(|| -> std::io::Result<()> {
        calls += 1;
        Err(std::io::Error::from_raw_os_error(
            Errno::NOBUFS.raw_os_error(),
        ))
    })
    .expect_err("ENOBUFS is the caller's");
    assert_eq!((e.raw_os_error(), calls), (Some(105), 1));
}
