//! ICMP to the gateway's VIPs that no mode translates.

use super::*;

/// ICMP that belongs to no forwarding mode: an echo request to a VIP is answered, an error
/// quoting a flow nobody knows is dropped. (Each mode's ICMP translation is in its own file.)
pub(super) fn icmp(t: &mut Table, f: &Fam) {
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
