//! What goes to control: ARP, ND, the gateway's own addresses (the table's first cases), and
//! the exception path for routing and HA protocols (its last).

use super::*;

pub(super) fn punts(t: &mut Table) {
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

/// The RFC 1071 sum of `data` (for the VRRP and IGMP bodies below; the pipeline never reads
/// them, so this only makes the good cases good).
pub(super) fn rfc1071(data: &[u8]) -> u16 {
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
pub(super) fn vrrp2(vip: IpAddr, password: &[u8; 8]) -> Vec<u8> {
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
pub(super) fn vrrp3(src: IpAddr, dst: IpAddr, vip: IpAddr) -> Vec<u8> {
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
pub(super) fn mcast_mac(group: IpAddr) -> Mac {
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
pub(super) fn exception_path(t: &mut Table) {
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
