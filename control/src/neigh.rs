//! Neighbours: the ARP/ND table control keeps, and the ARP and neighbour-discovery frames it
//! answers and sends.
//!
//! Workers punt ARP and ND to control. Control answers for the VIPs, the FullNAT local
//! addresses and the box's own addresses; learns the sender of every ARP/ND packet addressed to
//! us; resolves next hops and backends by asking; announces VIPs with gratuitous ARP. The table
//! feeds the snapshot: a learned or changed neighbour means a new snapshot.
//!
//! Frames are built with the wire views' `Repr::emit` (Ethernet, ARP, IPv6) and the ICMPv6
//! view, into plain byte vectors: this is the slow path.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use dataplane::wire::{
    ethernet, icmpv6, ipv6, parse_frame, ArpOperation, ArpPacket, ArpRepr, EtherType,
    EthernetAddress, EthernetFrame, EthernetRepr, Icmpv6Message, Icmpv6Packet, IpProtocol,
    Ipv6Packet, Ipv6Repr, L3, L4,
};

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

/// The minimum Ethernet frame without FCS; shorter ARP frames are padded to it.
const MIN_FRAME_LEN: usize = 60;

/// Build an ARP frame: `op` from (`sha`, `spa`) to (`tha`, `tpa`), Ethernet destination `eth_dst`.
fn arp_frame(
    op: ArpOperation,
    sha: Mac,
    spa: Ipv4Addr,
    tha: Mac,
    tpa: Ipv4Addr,
    eth_dst: Mac,
) -> Vec<u8> {
    let mut f = vec![0u8; MIN_FRAME_LEN];
    let mut eth = EthernetFrame::new_unchecked(&mut f[..]);
    EthernetRepr {
        src_addr: EthernetAddress(sha),
        dst_addr: EthernetAddress(eth_dst),
        vlan_tci: None,
        ethertype: EtherType::Arp,
    }
    .emit(&mut eth);
    ArpRepr {
        operation: op,
        sha: EthernetAddress(sha),
        spa,
        tha: EthernetAddress(tha),
        tpa,
    }
    .emit(&mut ArpPacket::new_unchecked(eth.payload_mut()));
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

/// A neighbour solicitation or advertisement: its type, flags (`icmpv6::ND_FLAG_*`), target,
/// and the one link-layer address option it carries (1: source, 2: target).
struct Nd {
    msg: Icmpv6Message,
    flags: u8,
    target: Ipv6Addr,
    option: u8,
    mac: Mac,
}

/// Length of an ND link-layer address option for Ethernet (in units of 8 bytes: 1).
const LLADDR_OPT_LEN: usize = 8;

/// Build the frame of an ND message from `src` to `dst`, hop limit 255 as ND requires
/// (RFC 4861 §7.1).
fn nd_frame(eth_dst: Mac, eth_src: Mac, src: Ipv6Addr, dst: Ipv6Addr, nd: &Nd) -> Vec<u8> {
    let nd_len = icmpv6::ND_HEADER_LEN + LLADDR_OPT_LEN;
    let mut f = vec![0u8; ethernet::HEADER_LEN + ipv6::HEADER_LEN + nd_len];
    let mut eth = EthernetFrame::new_unchecked(&mut f[..]);
    EthernetRepr {
        src_addr: EthernetAddress(eth_src),
        dst_addr: EthernetAddress(eth_dst),
        vlan_tci: None,
        ethertype: EtherType::Ipv6,
    }
    .emit(&mut eth);
    let mut ip = Ipv6Packet::new_unchecked(eth.payload_mut());
    Ipv6Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::Icmpv6.into(),
        payload_len: nd_len,
        hop_limit: 255,
        traffic_class: 0,
        flow_label: 0,
    }
    .emit(&mut ip);
    let mut icmp = Icmpv6Packet::new_unchecked(ip.payload_mut());
    icmp.set_msg_type(nd.msg);
    icmp.set_msg_code(0);
    icmp.set_nd_flags(nd.flags);
    icmp.set_nd_target(&nd.target);
    let opt = icmpv6_lladdr_opt(nd.option, nd.mac);
    icmp.nd_options_mut().copy_from_slice(&opt);
    icmp.fill_checksum(&src, &dst);
    f
}

/// An ND link-layer address option of `kind` for `mac`.
fn icmpv6_lladdr_opt(kind: u8, mac: Mac) -> [u8; LLADDR_OPT_LEN] {
    let mut o = [kind, 1, 0, 0, 0, 0, 0, 0];
    o[2..].copy_from_slice(&mac);
    o
}

/// An unsolicited neighbour advertisement announcing `ip` at `mac` (RFC 4861 §7.2.6): to all
/// nodes, override set, solicited clear, with the target link-layer address option; IPv6's
/// gratuitous ARP.
pub fn unsolicited_na(mac: Mac, ip: Ipv6Addr) -> Vec<u8> {
    let all_nodes = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    let na = Nd {
        msg: Icmpv6Message::NeighborAdvert,
        flags: icmpv6::ND_FLAG_OVERRIDE,
        target: ip,
        option: 2,
        mac,
    };
    nd_frame(multicast_mac(all_nodes), mac, ip, all_nodes, &na)
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
    let ns = Nd {
        msg: Icmpv6Message::NeighborSolicit,
        flags: 0,
        target,
        option: 1,
        mac,
    };
    nd_frame(multicast_mac(group), mac, src, group, &ns)
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
    let Ok(ns) = Icmpv6Packet::new_checked(&frame[l4..end]) else {
        return Outcome::default();
    };
    let Some(target) = ns.nd_target() else {
        return Outcome::default();
    };
    if !answers(IpAddr::V6(target)) {
        return Outcome::default();
    }
    let sll = nd_lladdr(ns.nd_options(), 1);
    let learned = sll
        .filter(|_| !src.is_unspecified())
        .map(|m| (IpAddr::V6(src), m));
    // Neighbour advertisement: router=0, solicited=1 (unless DAD), override=1; target option.
    let (dst, eth_dst, flags) = if src.is_unspecified() {
        (
            Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1),
            [0x33, 0x33, 0, 0, 0, 1],
            icmpv6::ND_FLAG_OVERRIDE,
        )
    } else {
        (
            src,
            sll.unwrap_or(crate::neigh::src_mac(frame)),
            icmpv6::ND_FLAG_SOLICITED | icmpv6::ND_FLAG_OVERRIDE,
        )
    };
    let na = Nd {
        msg: Icmpv6Message::NeighborAdvert,
        flags,
        target,
        option: 2,
        mac: port_mac,
    };
    Outcome {
        learned,
        reply: Some(nd_frame(eth_dst, port_mac, target, dst, &na)),
    }
}

fn na_learn(frame: &[u8], l4: usize, end: usize) -> Option<(IpAddr, Mac)> {
    let na = Icmpv6Packet::new_checked(&frame[l4..end]).ok()?;
    let target = na.nd_target()?;
    let mac = nd_lladdr(na.nd_options(), 2).unwrap_or_else(|| src_mac(frame));
    Some((IpAddr::V6(target), mac))
}

fn src_mac(frame: &[u8]) -> Mac {
    EthernetFrame::new_unchecked(frame).src_addr().0
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

    /// The frames control builds, byte for byte as the hand-built versions before them (these
    /// hex strings are their output): moving onto `Repr::emit` changed nothing on the wire.
    #[test]
    fn test_built_frames_are_byte_identical_to_the_hand_built_ones() {
        let hex = |v: &[u8]| v.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let (a4, b4) = (v4("198.18.0.50"), v4("198.18.0.100"));
        let a6: Ipv6Addr = "2001:2::50".parse().unwrap();
        let b6: Ipv6Addr = "2001:2::1:100".parse().unwrap();
        let req = arp_request(PEER, a4, b4);
        let ns = neighbour_solicitation(PEER, a6, b6);
        let dad = neighbour_solicitation(PEER, Ipv6Addr::UNSPECIFIED, b6);
        let cases: [(&str, Vec<u8>, &str); 7] = [
            (
                "arp request",
                req.clone(),
                concat!(
                    "ffffffffffff0200000000c1080600010800060400010200000000c1c6120032",
                    "000000000000c6120064000000000000000000000000000000000000",
                ),
            ),
            (
                "gratuitous arp",
                gratuitous_arp(US, b4),
                concat!(
                    "ffffffffffff02000000001008060001080006040001020000000010c6120064",
                    "000000000000c6120064000000000000000000000000000000000000",
                ),
            ),
            (
                "arp reply",
                handle(&req, US, |_| true).reply.unwrap(),
                concat!(
                    "0200000000c102000000001008060001080006040002020000000010c6120064",
                    "0200000000c1c6120032000000000000000000000000000000000000",
                ),
            ),
            (
                "unsolicited na",
                unsolicited_na(US, b6),
                concat!(
                    "33330000000102000000001086dd6000000000203aff20010002000000000000",
                    "000000010100ff02000000000000000000000000000188001288200000002001",
                    "00020000000000000000000101000201020000000010",
                ),
            ),
            (
                "ns",
                ns.clone(),
                concat!(
                    "3333ff0101000200000000c186dd6000000000203aff20010002000000000000",
                    "000000000050ff0200000000000000000001ff01010087003486000000002001",
                    "000200000000000000000001010001010200000000c1",
                ),
            ),
            (
                "na",
                handle(&ns, US, |_| true).reply.unwrap(),
                concat!(
                    "0200000000c102000000001086dd6000000000203aff20010002000000000000",
                    "000000010100200100020000000000000000000000508800b138600000002001",
                    "00020000000000000000000101000201020000000010",
                ),
            ),
            (
                "na to dad",
                handle(&dad, US, |_| true).reply.unwrap(),
                concat!(
                    "33330000000102000000001086dd6000000000203aff20010002000000000000",
                    "000000010100ff02000000000000000000000000000188001288200000002001",
                    "00020000000000000000000101000201020000000010",
                ),
            ),
        ];
        for (name, frame, want) in cases {
            assert_eq!(hex(&frame), want, "{name}");
        }
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
