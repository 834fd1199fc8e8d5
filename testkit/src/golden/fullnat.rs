//! FullNAT: both addresses rewritten, local ports per worker, TOA, and its ICMP translation.

use super::*;

/// `p` as the gateway sends it on to the backend `rs` (MAC `rmac`) from `laddr:lport`.
fn to_rs(p: &Pkt, laddr: IpAddr, lport: u16, rs: IpAddr, rmac: Mac) -> Pkt {
    p.clone()
        .src(laddr, lport)
        .dst(rs, 8080)
        .ttl(p.ttl - 1)
        .macs(rmac, GW1_MAC)
}

/// The backend's `p` as the gateway sends it on to the client's port `cport` from `vip:80`.
fn to_client(f: &Fam, p: &Pkt, vip: IpAddr, cport: u16) -> Pkt {
    p.clone()
        .src(vip, 80)
        .dst(f.client, cport)
        .ttl(p.ttl - 1)
        .macs(CLIENT_MAC, GW0_MAC)
}

/// A new flow's handshake through the TOA-on-ACK service from client port `cport`: its SYN
/// (with an MSS option) out to the backend and the backend's SYN-ACK back, as the cases named
/// `names` (the SYN's, the SYN-ACK's). The local port the flow got; its first ACK is the
/// caller's case.
fn handshake(t: &mut Table, f: &Fam, cport: u16, names: [&'static str; 2]) -> u16 {
    let lport = t.next_lport(f.laddr, f.rs_fnat, 8080, true);
    let syn = Pkt::tcp(f.client, cport, f.fnat, 80, SYN).opts(&MSS);
    t.tx(
        names[0],
        0,
        &syn,
        1,
        &to_rs(&syn, f.laddr, lport, f.rs_fnat, RS_FNAT_MAC),
    );
    let synack = Pkt::tcp(f.rs_fnat, 8080, f.laddr, lport, SYN | ACK)
        .seq(5000, 1001)
        .macs(GW1_MAC, RS_FNAT_MAC);
    t.tx(
        names[1],
        1,
        &synack,
        0,
        &to_client(f, &synack, f.fnat, cport),
    );
    lport
}

pub(super) fn fullnat(t: &mut Table, f: &Fam) {
    // TOA on the first ACK.
    let lport = t.next_lport(f.laddr, f.rs_fnat, 8080, true);
    let syn = Pkt::tcp(f.client, 40004, f.fnat, 80, SYN).opts(&MSS);
    let syn_out = to_rs(&syn, f.laddr, lport, f.rs_fnat, RS_FNAT_MAC);
    t.tx(name!(f, "fullnat tcp syn (no toa)"), 0, &syn, 1, &syn_out);
    let synack = Pkt::tcp(f.rs_fnat, 8080, f.laddr, lport, SYN | ACK)
        .seq(5000, 1001)
        .opts(&MSS)
        .macs(GW1_MAC, RS_FNAT_MAC);
    let synack_out = to_client(f, &synack, f.fnat, 40004);
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
        &to_client(f, &rdata, f.fnat, 40004),
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
    let lport = t.next_lport(f.laddr, f.rs_fnat, 5353, false);
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
    let lport = handshake(
        t,
        f,
        40024,
        [
            name!(f, "fullnat tcp syn (first ack with data)"),
            name!(f, "fullnat tcp syn-ack reply (first ack with data)"),
        ],
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
    let lport = handshake(
        t,
        f,
        40034,
        [
            name!(f, "fullnat tcp syn (full-size first ack)"),
            name!(f, "fullnat tcp syn-ack reply (full-size first ack)"),
        ],
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
    let lport = handshake(
        t,
        f,
        40014,
        [
            name!(f, "fullnat tcp syn (full-options flow)"),
            name!(f, "fullnat tcp syn-ack reply (full-options flow)"),
        ],
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
    let lport = t.next_lport(f.laddr_syn, f.rs_fnat_syn, 8080, true);
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
        &to_client(f, &synack, f.fnat_syn, 40005),
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
