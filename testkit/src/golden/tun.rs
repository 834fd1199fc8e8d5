//! TUN: IPIP (or IPv6-in-IPv6) towards the backend, and its ICMP translation.

use super::*;

pub(super) fn tun(t: &mut Table, f: &Fam) {
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
    // An 802.1Q tag stays in front of the outer header (the Ethernet header moves, tag and all).
    let tagged = Pkt::udp(f.client, 40012, f.tun, 53).df(false);
    let out = ipip(&tagged, f.gw1, f.rs_tun, RS_TUN_MAC, GW1_MAC);
    t.push(
        "ipv4 tun udp with a vlan tag: the tag kept before the outer header",
        0,
        vlan(&tagged.frame(), 0x0064),
        Expect::Tx {
            port: 1,
            frame: vlan(&out, 0x0064),
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
    // Without DF, the tunnel packet goes in fragments (RFC 2003 §5.1), 1480 + 20 bytes of IP
    // payload, with the loop's identification (the outer header has none).
    let big = Pkt::udp(f.client, 40002, f.tun, 53)
        .df(false)
        .payload(&[0x5a; 1460]);
    let out = ipip(&big, f.gw1, f.rs_tun, RS_TUN_MAC, GW1_MAC);
    t.push(
        "ipv4 tun too big without DF is sent in fragments",
        0,
        big.frame(),
        Expect::TxFragment {
            port: 1,
            mtu: 1500,
            fragments: crate::packet::fragment(&out, 1480, FIRST_FRAG_ID),
            frame: out,
        },
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
