//! Neighbours: the ARP/ND table control keeps, and the ARP and neighbour-discovery frames it
//! answers and sends.
//!
//! Workers punt ARP and ND to control. Control answers for the VIPs, the FullNAT local
//! addresses and the box's own addresses; learns the sender of every ARP/ND packet addressed to
//! us; resolves next hops and backends by asking; announces VIPs with gratuitous ARP. The table
//! feeds the snapshot: a learned or changed neighbour means a new snapshot.
//!
//! Frames are built and parsed here as plain byte vectors: this is the slow path.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use dataplane::wire::{parse_frame, ArpOperation, ArpPacket, L3, L4};

/// An Ethernet address.
pub use types::Mac;

/// How long a learned entry is trusted before it is refreshed (Linux's base reachable time is
/// 30 s; gateways talk to few, stable neighbours, so refresh less often).
pub const REFRESH_AFTER: Duration = Duration::from_secs(60);
/// How long an entry lives without being confirmed.
pub const EXPIRE_AFTER: Duration = Duration::from_secs(300);

/// One neighbour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Its MAC.
    pub mac: Mac,
    /// The port (gateway index) it was learned on.
    pub port: u8,
    /// When it was last confirmed.
    pub confirmed: Instant,
}

/// The neighbour table.
#[derive(Debug, Default)]
pub struct Neighbours {
    entries: HashMap<IpAddr, Entry>,
}

impl Neighbours {
    /// Record `ip` at `mac` on `port`; return true when this changes what the snapshot holds
    /// (new neighbour, or moved).
    pub fn learn(&mut self, ip: IpAddr, mac: Mac, port: u8, now: Instant) -> bool {
        let old = self.entries.insert(
            ip,
            Entry {
                mac,
                port,
                confirmed: now,
            },
        );
        old.is_none_or(|o| o.mac != mac || o.port != port)
    }

    /// Return the entry for `ip`.
    pub fn get(&self, ip: &IpAddr) -> Option<&Entry> {
        self.entries.get(ip)
    }

    /// Iterate over (address, entry).
    pub fn iter(&self) -> impl Iterator<Item = (&IpAddr, &Entry)> {
        self.entries.iter()
    }

    /// Drop entries not confirmed for [`EXPIRE_AFTER`]; return true if any went.
    pub fn expire(&mut self, now: Instant) -> bool {
        let before = self.entries.len();
        self.entries
            .retain(|_, e| now.duration_since(e.confirmed) < EXPIRE_AFTER);
        self.entries.len() != before
    }

    /// Return the neighbours due for a refresh.
    pub fn stale(&self, now: Instant) -> Vec<(IpAddr, u8)> {
        self.entries
            .iter()
            .filter(|(_, e)| now.duration_since(e.confirmed) >= REFRESH_AFTER)
            .map(|(ip, e)| (*ip, e.port))
            .collect()
    }

    /// Return the number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Return true when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// What a punted ARP/ND frame means for control.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Outcome {
    /// A neighbour to record (sender of a packet addressed to us).
    pub learned: Option<(IpAddr, Mac)>,
    /// A frame to send back out of the same port.
    pub reply: Option<Vec<u8>>,
}

/// Handle an ARP or ND frame received on a port whose MAC is `port_mac`. `answers(ip)` says
/// whether we answer for `ip` (VIP, local address, own address).
pub fn handle(frame: &[u8], port_mac: Mac, answers: impl Fn(IpAddr) -> bool) -> Outcome {
    let Ok(p) = parse_frame(frame) else {
        return Outcome::default();
    };
    match p.l3 {
        L3::Arp => handle_arp(&frame[p.l3_off..], port_mac, answers),
        L3::Ipv6 { src, .. } => match p.l4 {
            L4::Icmpv6 { msg_type: 135, .. } => {
                handle_ns(frame, p.l4_off, p.l3_end, src, port_mac, answers)
            }
            L4::Icmpv6 { msg_type: 136, .. } => Outcome {
                learned: na_learn(frame, p.l4_off, p.l3_end),
                reply: None,
            },
            _ => Outcome::default(),
        },
        L3::Ipv4 { .. } => Outcome::default(),
    }
}

fn handle_arp(arp: &[u8], port_mac: Mac, answers: impl Fn(IpAddr) -> bool) -> Outcome {
    let Ok(a) = ArpPacket::new_checked(arp) else {
        return Outcome::default();
    };
    let (spa, tpa) = (a.spa(), a.tpa());
    let sha: Mac = *a.sha().as_bytes();
    let ours = answers(IpAddr::V4(tpa));
    // Learn from anything addressed to us, and from gratuitous announcements of neighbours we
    // already talk to (the caller decides whether to keep those).
    let learned = (!spa.is_unspecified() && (ours || spa == tpa)).then_some((IpAddr::V4(spa), sha));
    let reply = (a.operation() == ArpOperation::Request && ours && spa != tpa)
        .then(|| arp_frame(ArpOperation::Reply, port_mac, tpa, sha, spa, sha));
    Outcome { learned, reply }
}

/// Build an ARP frame: `op` from (`sha`, `spa`) to (`tha`, `tpa`), Ethernet destination `eth_dst`.
fn arp_frame(
    op: ArpOperation,
    sha: Mac,
    spa: Ipv4Addr,
    tha: Mac,
    tpa: Ipv4Addr,
    eth_dst: Mac,
) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&eth_dst);
    f.extend_from_slice(&sha);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4]);
    f.extend_from_slice(&u16::from(op).to_be_bytes());
    f.extend_from_slice(&sha);
    f.extend_from_slice(&spa.octets());
    f.extend_from_slice(&tha);
    f.extend_from_slice(&tpa.octets());
    f.resize(60, 0); // minimum Ethernet frame without FCS
    f
}

/// An ARP request for `target`, from (`mac`, `sender`), broadcast.
pub fn arp_request(mac: Mac, sender: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    arp_frame(
        ArpOperation::Request,
        mac,
        sender,
        [0; 6],
        target,
        [0xff; 6],
    )
}

/// A gratuitous ARP announcing `ip` at `mac` (a request with sender == target, broadcast).
pub fn gratuitous_arp(mac: Mac, ip: Ipv4Addr) -> Vec<u8> {
    arp_frame(ArpOperation::Request, mac, ip, [0; 6], ip, [0xff; 6])
}

/// The solicited-node multicast address of `ip` (RFC 4291 §2.7.1).
fn solicited_node(ip: Ipv6Addr) -> Ipv6Addr {
    let o = ip.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(o[13]),
        u16::from_be_bytes([o[14], o[15]]),
    )
}

/// The Ethernet multicast MAC of an IPv6 multicast address (RFC 2464 §7).
fn multicast_mac(ip: Ipv6Addr) -> Mac {
    let o = ip.octets();
    [0x33, 0x33, o[12], o[13], o[14], o[15]]
}

fn icmpv6_frame(eth_dst: Mac, eth_src: Mac, src: Ipv6Addr, dst: Ipv6Addr, body: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + 40 + body.len());
    f.extend_from_slice(&eth_dst);
    f.extend_from_slice(&eth_src);
    f.extend_from_slice(&[0x86, 0xdd]);
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&u16::try_from(body.len()).unwrap_or(0).to_be_bytes());
    f.extend_from_slice(&[58, 255]); // ICMPv6, hop limit 255 as ND requires (RFC 4861 §7.1)
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&dst.octets());
    let at = f.len();
    f.extend_from_slice(body);
    let c = dataplane::wire::checksum::l4_checksum_v6(&src, &dst, 58, &f[at..]);
    f[at + 2..at + 4].copy_from_slice(&c.to_be_bytes());
    f
}

/// An unsolicited neighbour advertisement announcing `ip` at `mac` (RFC 4861 §7.2.6): to all
/// nodes, override set, solicited clear, with the target link-layer address option; IPv6's
/// gratuitous ARP.
pub fn unsolicited_na(mac: Mac, ip: Ipv6Addr) -> Vec<u8> {
    let all_nodes = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    let mut body = vec![136, 0, 0, 0, 0x20, 0, 0, 0];
    body.extend_from_slice(&ip.octets());
    body.extend_from_slice(&[2, 1]);
    body.extend_from_slice(&mac);
    icmpv6_frame(multicast_mac(all_nodes), mac, ip, all_nodes, &body)
}

/// An announcement of `ip` at `mac`: a gratuitous ARP for IPv4, an unsolicited neighbour
/// advertisement for IPv6.
pub fn announcement(mac: Mac, ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => gratuitous_arp(mac, v4),
        IpAddr::V6(v6) => unsolicited_na(mac, v6),
    }
}

/// A neighbour solicitation for `target` from `src` (one of our addresses) at `mac`.
pub fn neighbour_solicitation(mac: Mac, src: Ipv6Addr, target: Ipv6Addr) -> Vec<u8> {
    let group = solicited_node(target);
    let mut body = vec![135, 0, 0, 0, 0, 0, 0, 0];
    body.extend_from_slice(&target.octets());
    body.extend_from_slice(&[1, 1]); // source link-layer address option, 8 bytes
    body.extend_from_slice(&mac);
    icmpv6_frame(multicast_mac(group), mac, src, group, &body)
}

/// Find an ND option of `kind` carrying a link-layer address in the options at `opts`.
fn nd_lladdr(opts: &[u8], kind: u8) -> Option<Mac> {
    let mut i = 0;
    while i + 2 <= opts.len() {
        let len = usize::from(opts[i + 1]) * 8;
        if len == 0 || i + len > opts.len() {
            return None;
        }
        if opts[i] == kind && len >= 8 {
            let mut m = [0u8; 6];
            m.copy_from_slice(&opts[i + 2..i + 8]);
            return Some(m);
        }
        i += len;
    }
    None
}

fn handle_ns(
    frame: &[u8],
    l4: usize,
    end: usize,
    src: Ipv6Addr,
    port_mac: Mac,
    answers: impl Fn(IpAddr) -> bool,
) -> Outcome {
    if end < l4 + 24 {
        return Outcome::default();
    }
    let mut t = [0u8; 16];
    t.copy_from_slice(&frame[l4 + 8..l4 + 24]);
    let target = Ipv6Addr::from(t);
    if !answers(IpAddr::V6(target)) {
        return Outcome::default();
    }
    let sll = nd_lladdr(&frame[l4 + 24..end], 1);
    let learned = sll
        .filter(|_| !src.is_unspecified())
        .map(|m| (IpAddr::V6(src), m));
    // Neighbour advertisement: router=0, solicited=1 (unless DAD), override=1; target option.
    let (dst, eth_dst, flags) = if src.is_unspecified() {
        (
            Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1),
            [0x33, 0x33, 0, 0, 0, 1],
            0x20,
        )
    } else {
        (src, sll.unwrap_or(crate::neigh::src_mac(frame)), 0x60)
    };
    let mut body = vec![136, 0, 0, 0, flags, 0, 0, 0];
    body.extend_from_slice(&target.octets());
    body.extend_from_slice(&[2, 1]);
    body.extend_from_slice(&port_mac);
    Outcome {
        learned,
        reply: Some(icmpv6_frame(eth_dst, port_mac, target, dst, &body)),
    }
}

fn na_learn(frame: &[u8], l4: usize, end: usize) -> Option<(IpAddr, Mac)> {
    if end < l4 + 24 {
        return None;
    }
    let mut t = [0u8; 16];
    t.copy_from_slice(&frame[l4 + 8..l4 + 24]);
    let mac = nd_lladdr(&frame[l4 + 24..end], 2).unwrap_or_else(|| src_mac(frame));
    Some((IpAddr::V6(Ipv6Addr::from(t)), mac))
}

fn src_mac(frame: &[u8]) -> Mac {
    let mut m = [0u8; 6];
    m.copy_from_slice(&frame[6..12]);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: Mac = [2, 0, 0, 0, 0, 0x10];
    const PEER: Mac = [2, 0, 0, 0, 0, 0xc1];

    fn v4(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn test_arp_request_for_a_vip_is_answered_and_sender_learned() {
        let req = arp_request(PEER, v4("198.18.0.50"), v4("198.18.0.100"));
        let out = handle(&req, US, |ip| ip == IpAddr::V4(v4("198.18.0.100")));
        assert_eq!(out.learned, Some((IpAddr::V4(v4("198.18.0.50")), PEER)));
        let reply = out.reply.expect("a reply");
        assert_eq!(&reply[0..6], &PEER);
        assert_eq!(&reply[6..12], &US);
        let a = ArpPacket::new_checked(&reply[14..]).unwrap();
        assert_eq!(a.operation(), ArpOperation::Reply);
        assert_eq!(a.spa(), v4("198.18.0.100"));
        assert_eq!(*a.sha().as_bytes(), US);
        assert_eq!(a.tpa(), v4("198.18.0.50"));
        assert_eq!(*a.tha().as_bytes(), PEER);
    }

    #[test]
    fn test_arp_for_someone_else_is_ignored() {
        let req = arp_request(PEER, v4("198.18.0.50"), v4("198.18.0.77"));
        assert_eq!(handle(&req, US, |_| false), Outcome::default());
    }

    #[test]
    fn test_arp_reply_to_us_is_learned() {
        let reply = arp_frame(
            ArpOperation::Reply,
            PEER,
            v4("198.18.1.11"),
            US,
            v4("198.18.1.1"),
            US,
        );
        let out = handle(&reply, US, |ip| ip == IpAddr::V4(v4("198.18.1.1")));
        assert_eq!(out.learned, Some((IpAddr::V4(v4("198.18.1.11")), PEER)));
        assert!(out.reply.is_none());
    }

    #[test]
    fn test_gratuitous_arp_is_learned_not_answered() {
        let g = gratuitous_arp(PEER, v4("198.18.1.12"));
        let out = handle(&g, US, |_| false);
        assert_eq!(out.learned, Some((IpAddr::V4(v4("198.18.1.12")), PEER)));
        assert!(out.reply.is_none());
    }

    #[test]
    fn test_neighbour_solicitation_is_answered_with_a_valid_advertisement() {
        let vip: Ipv6Addr = "2001:db8::100".parse().unwrap();
        let client: Ipv6Addr = "2001:db8::50".parse().unwrap();
        let ns = neighbour_solicitation(PEER, client, vip);
        let out = handle(&ns, US, |ip| ip == IpAddr::V6(vip));
        assert_eq!(out.learned, Some((IpAddr::V6(client), PEER)));
        let na = out.reply.expect("an advertisement");
        let p = parse_frame(&na).expect("parses");
        let L4::Icmpv6 { msg_type, .. } = p.l4 else {
            panic!("not ICMPv6")
        };
        assert_eq!(msg_type, 136);
        assert!(dataplane::wire::checksum::l4_verify_v6(
            &vip,
            &client,
            58,
            &na[p.l4_off..p.l3_end]
        ));
        // The advertisement teaches whoever reads it our MAC for the VIP.
        assert_eq!(
            na_learn(&na, p.l4_off, p.l3_end),
            Some((IpAddr::V6(vip), US))
        );
    }

    #[test]
    fn test_unsolicited_advertisement_teaches_our_mac_to_all_nodes() {
        let vip: Ipv6Addr = "2001:2:0:1::100".parse().unwrap();
        let na = announcement(US, IpAddr::V6(vip));
        assert_eq!(&na[0..6], &[0x33, 0x33, 0, 0, 0, 1], "all-nodes multicast");
        let p = parse_frame(&na).expect("parses");
        let L3::Ipv6 { src, dst } = p.l3 else {
            panic!("not IPv6")
        };
        assert_eq!((src, dst.segments()[0]), (vip, 0xff02));
        assert_eq!(p.ttl, 255, "ND needs hop limit 255");
        let L4::Icmpv6 { msg_type, .. } = p.l4 else {
            panic!("not ICMPv6")
        };
        assert_eq!(msg_type, 136);
        assert_eq!(na[p.l4_off + 4], 0x20, "override, not solicited");
        assert!(dataplane::wire::checksum::l4_verify_v6(
            &vip,
            &dst,
            58,
            &na[p.l4_off..p.l3_end]
        ));
        assert_eq!(
            na_learn(&na, p.l4_off, p.l3_end),
            Some((IpAddr::V6(vip), US))
        );
        // IPv4: a gratuitous ARP, sender = target = the address.
        let g = announcement(US, IpAddr::V4(v4("198.18.1.100")));
        let a = ArpPacket::new_checked(&g[14..]).unwrap();
        assert_eq!((a.spa(), a.tpa()), (v4("198.18.1.100"), v4("198.18.1.100")));
    }

    #[test]
    fn test_table_learns_changes_and_expires() {
        let mut t = Neighbours::default();
        let now = Instant::now();
        let ip = IpAddr::V4(v4("198.18.1.11"));
        assert!(t.learn(ip, PEER, 1, now));
        assert!(
            !t.learn(ip, PEER, 1, now),
            "same entry: no new snapshot needed"
        );
        assert!(t.learn(ip, US, 1, now), "moved MAC");
        assert!(t.stale(now).is_empty());
        assert_eq!(t.stale(now + REFRESH_AFTER), vec![(ip, 1)]);
        assert!(t.expire(now + EXPIRE_AFTER));
        assert!(t.is_empty());
    }
}
