//! Large pings of a VIP: the workers answer echo requests to a VIP themselves, but not one that
//! arrives in fragments (they do not reassemble). Those come here: fragments are reassembled
//! (etherparse's `IpDefragBuf`) in a small table, bounded in datagrams, size and time, and the
//! whole request is answered with a reply that the caller splits to the port's MTU
//! (`dataplane::wire::fragmenter`), as the kernel of an LVS director answers `ping -s 3000`.
//!
//! Everything else that reaches [`EchoReassembly::add`] is refused with a reason; nothing here
//! grows without bound: at most [`MAX_DATAGRAMS`] datagrams of at most 65535 bytes, each
//! forgotten [`REASSEMBLY_TIMEOUT`] after its first fragment.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use dataplane::wire::fragment::peek_fragment;
use dataplane::wire::EthernetFrame;
use etherparse::defrag::IpDefragBuf;
use etherparse::{IpFragOffset, IpNumber, PacketBuilder};

/// Datagrams reassembled at once; a fragment of a new one beyond this is dropped.
pub const MAX_DATAGRAMS: usize = 16;
/// How long a datagram waits for its missing fragments (the kernel's `ipfrag_time` is 30 s;
/// a ping waits 1 s for its reply, so a few seconds is plenty).
pub const REASSEMBLY_TIMEOUT: Duration = Duration::from_secs(3);

/// Why a fragment was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Not an IP fragment of ICMP or ICMPv6 (the caller's to handle).
    NotIcmpFragment,
    /// [`MAX_DATAGRAMS`] datagrams are being reassembled.
    TableFull,
    /// The fragment does not fit its datagram (past 65535 bytes, unaligned, conflicting end).
    Bad,
    /// The whole datagram is not an echo request.
    NotEchoRequest,
}

/// One datagram: (source, destination, identification, VLAN).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    vlan: Option<u16>,
}

#[derive(Debug)]
struct Slot {
    key: Key,
    buf: IpDefragBuf,
    since: Instant,
}

/// The datagrams being reassembled.
#[derive(Debug, Default)]
pub struct EchoReassembly {
    slots: Vec<Slot>,
    /// The identification of the next reply fragmented.
    next_id: u32,
}

/// A whole echo request, as the reply needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EchoRequest {
    /// Its source MAC (the reply's destination).
    pub peer_mac: [u8; 6],
    /// Its VLAN tag's identifier.
    pub vlan: Option<u16>,
    /// Its source address (the client).
    pub src: IpAddr,
    /// Its destination (the VIP).
    pub dst: IpAddr,
    /// The ICMP message: header and data.
    pub icmp: Vec<u8>,
}

impl EchoReassembly {
    /// Take the fragment in Ethernet frame `frame`; return the whole request once its last
    /// missing fragment is in.
    ///
    /// # Errors
    /// [`Refused`]: why the fragment was dropped (or, for `NotIcmpFragment`, not taken).
    pub fn add(&mut self, frame: &[u8], now: Instant) -> Result<Option<EchoRequest>, Refused> {
        self.slots
            .retain(|s| now.duration_since(s.since) < REASSEMBLY_TIMEOUT);
        // Our own parse, not etherparse's: its 0.16 reads the IPv6 Fragment header's offset
        // and M flag from the wrong bits (etherparse#150, fixed in 0.20).
        let f = peek_fragment(frame)
            .filter(|f| f.is_icmp())
            .ok_or(Refused::NotIcmpFragment)?;
        let eth = EthernetFrame::new_checked(frame).map_err(|_| Refused::NotIcmpFragment)?;
        let vlan = eth.vlan_tci().map(|t| t & 0x0fff);
        let peer_mac: [u8; 6] = frame[6..12]
            .try_into()
            .map_err(|_| Refused::NotIcmpFragment)?;
        let proto = IpNumber(f.proto);
        let offset = IpFragOffset::try_new(f.offset >> 3).map_err(|_| Refused::Bad)?;
        let payload = frame.get(f.payload.clone()).ok_or(Refused::Bad)?;
        let key = Key {
            src: f.src,
            dst: f.dst,
            id: f.id,
            vlan,
        };
        let i = match self.slots.iter().position(|s| s.key == key) {
            Some(i) => i,
            None if self.slots.len() >= MAX_DATAGRAMS => return Err(Refused::TableFull),
            None => {
                self.slots.push(Slot {
                    key,
                    buf: IpDefragBuf::new(proto, Vec::new(), Vec::new()),
                    since: now,
                });
                self.slots.len() - 1
            }
        };
        if self.slots[i].buf.add(offset, f.more, payload).is_err() {
            self.slots.swap_remove(i);
            return Err(Refused::Bad);
        }
        if !self.slots[i].buf.is_complete() {
            return Ok(None);
        }
        let slot = self.slots.swap_remove(i);
        let (icmp, _) = slot.buf.take_bufs();
        // Echo request: type 8 (ICMP) or 128 (ICMPv6), code 0, and room for id and sequence.
        let echo_request = if f.src.is_ipv4() { 8 } else { 128 };
        if icmp.len() < 8 || icmp[0] != echo_request || icmp[1] != 0 {
            return Err(Refused::NotEchoRequest);
        }
        Ok(Some(EchoRequest {
            peer_mac,
            vlan,
            src: f.src,
            dst: f.dst,
            icmp,
        }))
    }

    /// An identification for the next reply that gets fragmented.
    pub fn next_id(&mut self) -> u32 {
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
    }

    /// Datagrams being reassembled.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

/// The reply to `req` from `mac`, as one Ethernet frame (longer than the MTU, most likely:
/// the caller fragments it), with the request's VLAN tag. IPv4: Don't Fragment clear,
/// identification 0 (the fragmenter gives it one).
pub fn echo_reply(req: &EchoRequest, mac: [u8; 6]) -> Option<Vec<u8>> {
    let id = u16::from_be_bytes([req.icmp[4], req.icmp[5]]);
    let seq = u16::from_be_bytes([req.icmp[6], req.icmp[7]]);
    let data = &req.icmp[8..];
    let eth = PacketBuilder::ethernet2(mac, req.peer_mac);
    let mut out = Vec::new();
    match (req.dst, req.src) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            eth.ipv4(s.octets(), d.octets(), 64)
                .icmpv4_echo_reply(id, seq)
                .write(&mut out, data)
                .ok()?;
            // The gateway is the source: clear Don't Fragment (etherparse sets it), keep the
            // header checksum right for a reply that fits as it is.
            let mut ip = dataplane::wire::Ipv4Packet::new_unchecked(&mut out[14..]);
            ip.set_frag(false, false, 0);
            ip.fill_checksum();
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => eth
            .ipv6(s.octets(), d.octets(), 64)
            .icmpv6_echo_reply(id, seq)
            .write(&mut out, data)
            .ok()?,
        _ => return None,
    }
    if let Some(v) = req.vlan {
        // 802.1Q between the MAC addresses and the EtherType.
        let tag = [0x81, 0x00, (v >> 8) as u8 & 0x0f, v as u8];
        out.splice(12..12, tag);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dataplane::wire::fragmenter::fragment;
    use etherparse::{Icmpv4Type, Icmpv6Type, PacketHeaders, TransportHeader};

    const CLIENT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const GW_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];

    /// A ping of `dst` from `src` with `len` data bytes, in fragments of a 1500-byte MTU.
    fn ping(src: IpAddr, dst: IpAddr, len: usize, id: u32) -> Vec<Vec<u8>> {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let eth = PacketBuilder::ethernet2(CLIENT_MAC, GW_MAC);
        let mut f = Vec::new();
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                eth.ipv4(s.octets(), d.octets(), 64)
                    .icmpv4_echo_request(0x77, 3)
                    .write(&mut f, &data)
                    .unwrap();
                let mut ip = dataplane::wire::Ipv4Packet::new_unchecked(&mut f[14..]);
                ip.set_frag(false, false, 0);
                ip.fill_checksum();
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => eth
                .ipv6(s.octets(), d.octets(), 64)
                .icmpv6_echo_request(0x77, 3)
                .write(&mut f, &data)
                .unwrap(),
            _ => unreachable!(),
        }
        let mut out = Vec::new();
        fragment(&f, 1500, id, |h, p| {
            out.push([h, p].concat());
            true
        })
        .unwrap();
        out
    }

    fn v4() -> (IpAddr, IpAddr) {
        (
            "198.18.0.10".parse().unwrap(),
            "198.18.1.100".parse().unwrap(),
        )
    }

    fn v6() -> (IpAddr, IpAddr) {
        (
            "2001:2::10".parse().unwrap(),
            "2001:2:0:1::100".parse().unwrap(),
        )
    }

    /// Reassemble `frags` in reverse order; return the request.
    fn reassemble(r: &mut EchoReassembly, frags: &[Vec<u8>], now: Instant) -> EchoRequest {
        let (last, rest) = frags.split_first().unwrap();
        for f in rest.iter().rev() {
            assert_eq!(r.add(f, now), Ok(None));
        }
        r.add(last, now).unwrap().expect("whole")
    }

    #[test]
    fn test_fragmented_pings_are_reassembled_and_answered_in_both_families() {
        for (src, dst) in [v4(), v6()] {
            let mut r = EchoReassembly::default();
            let frags = ping(src, dst, 3000, 42);
            assert_eq!(frags.len(), 3);
            let req = reassemble(&mut r, &frags, Instant::now());
            assert!(r.is_empty());
            assert_eq!((req.src, req.dst, req.peer_mac), (src, dst, CLIENT_MAC));
            assert_eq!(req.icmp.len(), 3008);
            let reply = echo_reply(&req, GW_MAC).unwrap();
            let h = PacketHeaders::from_ethernet_slice(&reply).unwrap();
            let eth = h.link.unwrap().ethernet2().unwrap();
            assert_eq!((eth.source, eth.destination), (GW_MAC, CLIENT_MAC));
            let data = h.payload.slice();
            assert_eq!(data, &req.icmp[8..]);
            match h.transport.unwrap() {
                TransportHeader::Icmpv4(i) => {
                    let Icmpv4Type::EchoReply(e) = i.icmp_type else {
                        panic!("not an echo reply: {i:?}")
                    };
                    assert_eq!((e.id, e.seq), (0x77, 3));
                    assert_eq!(i.checksum, i.icmp_type.calc_checksum(data));
                    let Some(etherparse::NetHeaders::Ipv4(ip, _)) = h.net else {
                        panic!("not IPv4")
                    };
                    assert!(
                        !ip.dont_fragment,
                        "the gateway lets its reply be fragmented"
                    );
                    assert_eq!(ip.header_checksum, ip.calc_header_checksum());
                    assert_eq!(
                        (ip.source, ip.destination),
                        ([198, 18, 1, 100], [198, 18, 0, 10])
                    );
                }
                TransportHeader::Icmpv6(i) => {
                    let Icmpv6Type::EchoReply(e) = i.icmp_type else {
                        panic!("not an echo reply: {i:?}")
                    };
                    assert_eq!((e.id, e.seq), (0x77, 3));
                    let Some(etherparse::NetHeaders::Ipv6(ip, _)) = h.net else {
                        panic!("not IPv6")
                    };
                    let want = i.icmp_type.calc_checksum(ip.source, ip.destination, data);
                    assert_eq!(i.checksum, want.unwrap());
                }
                t => panic!("unexpected {t:?}"),
            }
            // The reply splits to the MTU like the request did.
            let n = fragment(&reply, 1500, 9, |_, _| true).unwrap();
            assert_eq!(n, 3);
        }
    }

    /// A ping on VLAN 42 is answered on VLAN 42.
    #[test]
    fn test_vlan_tag_kept() {
        let (src, dst) = v6();
        let (IpAddr::V6(s), IpAddr::V6(d)) = (src, dst) else {
            unreachable!()
        };
        let mut f = Vec::new();
        PacketBuilder::ethernet2(CLIENT_MAC, GW_MAC)
            .single_vlan(etherparse::VlanId::try_new(42).unwrap())
            .ipv6(s.octets(), d.octets(), 64)
            .icmpv6_echo_request(1, 1)
            .write(&mut f, &[7u8; 2000])
            .unwrap();
        let mut frags = Vec::new();
        fragment(&f, 1500, 5, |h, p| {
            frags.push([h, p].concat());
            true
        })
        .unwrap();
        let mut r = EchoReassembly::default();
        let req = reassemble(&mut r, &frags, Instant::now());
        assert_eq!(req.vlan, Some(42));
        let reply = echo_reply(&req, GW_MAC).unwrap();
        let h = PacketHeaders::from_ethernet_slice(&reply).unwrap();
        let Some(etherparse::VlanHeader::Single(v)) = h.vlan else {
            panic!("no VLAN tag: {h:?}")
        };
        assert_eq!(v.vlan_id.value(), 42);
        assert_eq!(h.payload.slice(), &[7u8; 2000][..]);
    }

    #[test]
    fn test_bounded_in_datagrams_and_time() {
        let (src, dst) = v4();
        let t0 = Instant::now();
        let mut r = EchoReassembly::default();
        // First fragments of MAX_DATAGRAMS pings that never complete.
        for id in 0..MAX_DATAGRAMS as u32 {
            assert_eq!(r.add(&ping(src, dst, 3000, 100 + id)[0], t0), Ok(None));
        }
        let next = ping(src, dst, 3000, 7);
        assert_eq!(r.add(&next[0], t0), Err(Refused::TableFull));
        assert_eq!(r.len(), MAX_DATAGRAMS);
        // Once they expire, a new ping gets in and completes.
        let later = t0 + REASSEMBLY_TIMEOUT;
        let req = reassemble(&mut r, &next, later);
        assert_eq!(req.icmp.len(), 3008);
        assert!(r.is_empty());
    }

    #[test]
    fn test_bad_fragments_and_other_messages_are_refused() {
        let (src, dst) = v6();
        let now = Instant::now();
        let mut r = EchoReassembly::default();
        // Not a fragment.
        let whole = ping(src, dst, 100, 1);
        assert_eq!(r.add(&whole[0], now), Err(Refused::NotIcmpFragment));
        assert_eq!(r.add(&[0u8; 10], now), Err(Refused::NotIcmpFragment));
        // A middle fragment whose length is not a multiple of 8.
        let frags = ping(src, dst, 3000, 2);
        let mut odd = frags[1].clone();
        odd.pop();
        let len = u16::from_be_bytes([odd[18], odd[19]]) - 1;
        odd[18..20].copy_from_slice(&len.to_be_bytes());
        assert_eq!(r.add(&frags[0], now), Ok(None));
        assert_eq!(r.add(&odd, now), Err(Refused::Bad));
        assert!(r.is_empty(), "the datagram is dropped");
        // An echo reply (not a request) in fragments.
        let mut reply = frags.clone();
        // ICMPv6 type in the first fragment: after Ethernet, IPv6 and the Fragment header.
        reply[0][14 + 40 + 8] = 129;
        for f in &reply[1..] {
            assert_eq!(r.add(f, now), Ok(None));
        }
        assert_eq!(r.add(&reply[0], now), Err(Refused::NotEchoRequest));
    }
}
