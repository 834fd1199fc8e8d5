//! NAT: destination rewritten both ways, and its ICMP translation.

use super::*;

pub(super) fn nat(t: &mut Table, f: &Fam) {
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
