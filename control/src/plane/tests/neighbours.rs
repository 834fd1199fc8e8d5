//! ARP: requests for VIPs and local addresses answered, VIPs and local addresses announced,
//! real servers asked for.

use std::net::Ipv4Addr;
use std::time::Instant;

use super::{
    arp, arp_fields, Arp, Dataplane, Fixture, MemFrame, CLIENT, CLIENT_MAC, LADDR, LAN_ADDR, MAC0,
    MAC1, RS1, VIP,
};
use crate::plane::Limits;

#[test]
fn test_announce_sends_gratuitous_arp_per_port_for_vips_and_local_addresses() {
    let mut f = Fixture::new(Dataplane::Stuck(1), Limits::default());
    f.ctl.announce_all();
    let wire = f.wire();
    let mut got: Vec<(u8, Arp)> = wire
        .sent
        .iter()
        .map(|(p, fr)| {
            assert_eq!(fr.len(), 60, "padded to the Ethernet minimum");
            (*p, arp_fields(fr).expect("an ARP frame"))
        })
        .collect();
    got.sort();
    // A request with sender == target, broadcast, no target MAC.
    let want = |port: u8, sha, ip| {
        let a = Arp {
            dst: [0xff; 6],
            op: 1,
            sha,
            spa: ip,
            tha: [0; 6],
            tpa: ip,
        };
        (port, a)
    };
    assert_eq!(
        got,
        [
            want(0, MAC0, VIP),
            want(0, MAC0, LADDR),
            want(1, MAC1, VIP),
            want(1, MAC1, LADDR),
        ]
    );
}

/// An ARP reply from (`sha`, `spa`) to (`to`, `tpa`).
fn reply(to: [u8; 6], sha: [u8; 6], spa: Ipv4Addr, tpa: Ipv4Addr) -> Arp {
    Arp {
        dst: to,
        op: 2,
        sha,
        spa,
        tha: to,
        tpa,
    }
}

#[test]
fn test_arp_request_for_a_vip_is_answered_on_its_port() {
    let mut f = Fixture::new(Dataplane::Stuck(1), Limits::default());
    let snap = f.shared.load_full();
    let now = Instant::now();
    let req = arp(1, CLIENT_MAC, CLIENT, [0; 6], VIP);
    let changed = f.ctl.punted(MemFrame::on(0, req), &snap, now);
    assert!(changed, "the client, which asked us, is learned");
    let sent = std::mem::take(&mut f.wire().sent);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, 0, "answered on the port it came in");
    assert_eq!(
        arp_fields(&sent[0].1),
        Some(reply(CLIENT_MAC, MAC0, VIP, CLIENT))
    );
    assert!(f.ctl.held_len() == 0 && f.wire().to_kernel.is_empty());

    // A local address answers too (on the port asked); an address that is not ours does not.
    let req = arp(1, super::RS_MAC, RS1, [0; 6], LADDR);
    f.ctl.punted(MemFrame::on(1, req), &snap, now);
    let req = arp(1, CLIENT_MAC, CLIENT, [0; 6], Ipv4Addr::new(198, 18, 0, 99));
    assert!(!f.ctl.punted(MemFrame::on(0, req), &snap, now));
    let sent = std::mem::take(&mut f.wire().sent);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        arp_fields(&sent[0].1),
        Some(reply(super::RS_MAC, MAC1, LADDR, RS1))
    );
}

#[test]
fn test_resolve_asks_for_real_servers_until_learned() {
    let mut f = Fixture::new(Dataplane::Stuck(1), Limits::default());
    let now = Instant::now();
    assert!(!f.ctl.neighbour_pass(now));
    let asked: Vec<_> = f
        .wire()
        .sent
        .iter()
        .map(|(p, fr)| (*p, arp_fields(fr).unwrap()))
        .collect();
    assert_eq!(
        asked,
        [(
            1,
            Arp {
                dst: [0xff; 6],
                op: 1,
                sha: MAC1,
                spa: LAN_ADDR,
                tha: [0; 6],
                tpa: RS1
            }
        )],
        "an ARP request for the real server, from lan0's address"
    );
    f.wire().sent.clear();
    let snap = f.shared.load_full();
    let reply = arp(2, super::RS_MAC, RS1, MAC1, LAN_ADDR);
    assert!(f.ctl.punted(MemFrame::on(1, reply), &snap, now));
    f.ctl.neighbour_pass(now);
    assert!(f.wire().sent.is_empty(), "known and fresh: not asked again");
}
