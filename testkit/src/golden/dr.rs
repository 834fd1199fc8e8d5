//! DR: only the MACs change; and DR/TUN flows that start mid-way (`sloppy_tcp`).

use super::*;

pub(super) fn dr(t: &mut Table, f: &Fam) {
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

/// A flow another gateway started (ECMP moved it here) or whose session expired: its ACK finds
/// no session. A consistent scheduler (`mh`) with DR or TUN schedules it (`sloppy_tcp`), and
/// the session it opens carries the next packet; `rr`, or `mh` with `sloppy_tcp` off, drops
/// it as IPVS does by default; a RST never starts a flow.
pub(super) fn mid_flow(t: &mut Table, f: &Fam) {
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
