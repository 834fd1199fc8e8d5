//! Fragments (IPv4, and IPv6's Fragment header): the slow-path parse of a frame
//! [`super::parse_frame`] refused as `Ipv4Fragment` / `Ipv6Fragment`.
//!
//! The gateway does not reassemble. A first fragment (offset 0) carries the TCP/UDP header and
//! is parsed like a whole packet (the UDP length field covers the datagram, so it is not judged
//! against this fragment); a later fragment has no ports and comes back with [`L4::None`] and
//! `l4_off` at its payload. Only TCP and UDP fragments are taken; any other protocol keeps its
//! `Ipv4Fragment` / `Ipv6Fragment` drop. Refused as `FragmentBad`: a fragment whose end would
//! pass 65535 bytes, a non-last fragment whose payload is not a multiple of 8, and a TCP
//! fragment at offset 8 (RFC 1858's overlap that rewrites the TCP header's flags).
//! [`peek_fragment`] tells where a fragment of another protocol goes (ICMP fragments to a VIP
//! go to control, which reassembles large pings).

use core::net::IpAddr;

use super::ethernet::{self, EtherType};
use super::ip::IpProtocol;
use super::parse::{parse_tcp, ParsedFrame, L3, L4};
use super::{ipv4, ipv6, udp, DropReason};

/// What identifies a fragment's datagram beyond the addresses and protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragInfo {
    /// IPv4 identification, or the IPv6 Fragment header's 32-bit identification.
    pub id: u32,
    /// Offset 0: the fragment with the L4 header.
    pub first: bool,
    /// More fragments follow.
    pub more: bool,
}

/// Parse a fragment (at most one VLAN tag) down to its L4 header (first fragments) or payload.
///
/// # Errors
/// The first [`DropReason`] met: the header checks of [`super::parse_frame`], `Ipv4Fragment` /
/// `Ipv6Fragment` for a protocol other than TCP and UDP, `FragmentBad` (see the module), or the
/// L4 header check of a first fragment (`TruncatedTcp`, `TruncatedUdp`, ...: a first fragment
/// too short for its header is refused).
pub fn parse_fragment(data: &[u8]) -> Result<(ParsedFrame, FragInfo), DropReason> {
    let eth = ethernet::Frame::new_checked(data)?;
    let l3_off = eth.header_len();
    let vlan_tci = eth.vlan_tci();
    let l3 = &data[l3_off..];
    match eth.ethertype() {
        EtherType::Ipv4 => parse_v4(l3, l3_off, vlan_tci),
        EtherType::Ipv6 => parse_v6(l3, l3_off, vlan_tci),
        _ => Err(DropReason::UnsupportedEthertype),
    }
}

fn parse_v4(
    l3: &[u8],
    l3_off: usize,
    vlan_tci: Option<u16>,
) -> Result<(ParsedFrame, FragInfo), DropReason> {
    let ip = ipv4::Packet::new_checked(l3)?;
    if !ip.verify_checksum() {
        return Err(DropReason::BadIpv4Checksum);
    }
    let proto = ip.protocol();
    let offset = usize::from(ip.frag_offset());
    let info = FragInfo {
        id: u32::from(ip.ident()),
        first: offset == 0,
        more: ip.more_frags(),
    };
    let payload = ip.payload();
    let l4 = frag_l4(proto, offset, info.more, payload, DropReason::Ipv4Fragment)?;
    let p = ParsedFrame {
        vlan_tci,
        ethertype: EtherType::Ipv4,
        l3_off,
        l4_off: l3_off + ip.header_len(),
        l3_end: l3_off + usize::from(ip.total_len()),
        l4_proto: proto,
        ttl: ip.ttl(),
        dont_frag: ip.dont_frag(),
        frag: true,
        l3: L3::Ipv4 {
            src: ip.src_addr(),
            dst: ip.dst_addr(),
        },
        l4,
    };
    Ok((p, info))
}

fn parse_v6(
    l3: &[u8],
    l3_off: usize,
    vlan_tci: Option<u16>,
) -> Result<(ParsedFrame, FragInfo), DropReason> {
    let ip = ipv6::Packet::new_checked(l3)?;
    let payload = ip.payload();
    let mut proto = ip.next_header_raw();
    let mut off = 0usize;
    let mut frag = None;
    for _ in 0..=ipv6::MAX_EXT_HEADERS {
        match IpProtocol::from(proto) {
            IpProtocol::HopByHop | IpProtocol::Ipv6Route | IpProtocol::Ipv6Opts => {
                let len = payload
                    .get(off + 1)
                    .map(|&l| (usize::from(l) + 1) * 8)
                    .ok_or(DropReason::TruncatedIpv6ExtHeader)?;
                if off + len > payload.len() {
                    return Err(DropReason::TruncatedIpv6ExtHeader);
                }
                proto = payload[off];
                off += len;
            }
            IpProtocol::Ipv6Frag => {
                // A second Fragment header is not a datagram anyone sends.
                if frag.is_some() {
                    return Err(DropReason::FragmentBad);
                }
                let h = payload
                    .get(off..off + 8)
                    .ok_or(DropReason::TruncatedIpv6ExtHeader)?;
                let flo = u16::from_be_bytes([h[2], h[3]]);
                frag = Some(FragInfo {
                    id: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                    first: flo & 0xfff8 == 0,
                    more: flo & 1 != 0,
                });
                proto = h[0];
                off += 8;
                // A later fragment's payload is not headers: stop here.
                if flo & 0xfff8 != 0 {
                    break;
                }
            }
            _ => break,
        }
    }
    // Not a fragment after all (the walk ran out first): the whole-packet parse's reason.
    let info = frag.ok_or(DropReason::Ipv6ExtHeaderChainTooLong)?;
    let seg = payload
        .get(off..)
        .ok_or(DropReason::TruncatedIpv6ExtHeader)?;
    let offset = if info.first {
        0
    } else {
        usize::from(u16::from_be_bytes([payload[off - 6], payload[off - 5]]) & 0xfff8)
    };
    let l4 = frag_l4(proto, offset, info.more, seg, DropReason::Ipv6Fragment)?;
    let p = ParsedFrame {
        vlan_tci,
        ethertype: EtherType::Ipv6,
        l3_off,
        l4_off: l3_off + ipv6::HEADER_LEN + off,
        l3_end: l3_off + ipv6::HEADER_LEN + usize::from(ip.payload_len()),
        l4_proto: proto,
        ttl: ip.hop_limit(),
        dont_frag: true,
        frag: true,
        l3: L3::Ipv6 {
            src: ip.src_addr(),
            dst: ip.dst_addr(),
        },
        l4,
    };
    Ok((p, info))
}

/// The L4 of a TCP/UDP fragment at `offset` (bytes) with `payload`: the header of a first one,
/// nothing for a later one; `other` for any other protocol.
fn frag_l4(
    proto: u8,
    offset: usize,
    more: bool,
    payload: &[u8],
    other: DropReason,
) -> Result<L4, DropReason> {
    let tcp = match IpProtocol::from(proto) {
        IpProtocol::Tcp => true,
        IpProtocol::Udp => false,
        _ => return Err(other),
    };
    if offset + payload.len() > 65535
        || (more && !payload.len().is_multiple_of(8))
        || (tcp && offset == 8)
    {
        return Err(DropReason::FragmentBad);
    }
    if offset != 0 {
        return Ok(L4::None);
    }
    if tcp {
        return parse_tcp(payload);
    }
    if payload.len() < udp::HEADER_LEN {
        return Err(DropReason::TruncatedUdp);
    }
    Ok(L4::Udp {
        src_port: u16::from_be_bytes([payload[0], payload[1]]),
        dst_port: u16::from_be_bytes([payload[2], payload[3]]),
    })
}

/// A fragment of any protocol, as [`peek_fragment`] sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FragPeek {
    /// The source address.
    pub src: IpAddr,
    /// The destination address.
    pub dst: IpAddr,
    /// The upper-layer protocol (IPv6: the Fragment header's next header).
    pub proto: u8,
    /// The identification (IPv4's 16 bits, or the Fragment header's 32).
    pub id: u32,
    /// The offset of its payload in the datagram's, in bytes.
    pub offset: u16,
    /// More fragments follow.
    pub more: bool,
    /// Where its payload (the fragment's share of the datagram) lies in the frame.
    pub payload: core::ops::Range<usize>,
}

impl FragPeek {
    /// Whether it is a fragment of ICMP (IPv4) or ICMPv6 (IPv6).
    pub fn is_icmp(&self) -> bool {
        let icmp = if self.dst.is_ipv4() {
            IpProtocol::Icmp
        } else {
            IpProtocol::Icmpv6
        };
        self.proto == u8::from(icmp)
    }
}

/// A fragment of an IP datagram of any protocol (one VLAN tag at most), or `None` for
/// anything else: for fragments [`parse_fragment`] refuses for their protocol, such as a large
/// ping of a VIP, which control reassembles.
pub fn peek_fragment(data: &[u8]) -> Option<FragPeek> {
    let eth = ethernet::Frame::new_checked(data).ok()?;
    let l3_off = eth.header_len();
    let l3 = data.get(l3_off..)?;
    match eth.ethertype() {
        EtherType::Ipv4 => {
            let ip = ipv4::Packet::new_checked(l3).ok()?;
            if !ip.is_fragment() || !ip.verify_checksum() {
                return None;
            }
            let start = l3_off + ip.header_len();
            Some(FragPeek {
                src: IpAddr::V4(ip.src_addr()),
                dst: IpAddr::V4(ip.dst_addr()),
                proto: ip.protocol(),
                id: u32::from(ip.ident()),
                offset: ip.frag_offset(),
                more: ip.more_frags(),
                payload: start..start + ip.payload().len(),
            })
        }
        EtherType::Ipv6 => {
            let ip = ipv6::Packet::new_checked(l3).ok()?;
            let payload = ip.payload();
            let base = l3_off + ipv6::HEADER_LEN;
            let (mut proto, mut off) = (ip.next_header_raw(), 0usize);
            for _ in 0..=ipv6::MAX_EXT_HEADERS {
                match IpProtocol::from(proto) {
                    IpProtocol::HopByHop | IpProtocol::Ipv6Route | IpProtocol::Ipv6Opts => {
                        proto = *payload.get(off)?;
                        off += (usize::from(*payload.get(off + 1)?) + 1) * 8;
                    }
                    IpProtocol::Ipv6Frag => {
                        let h = payload.get(off..off + 8)?;
                        let flo = u16::from_be_bytes([h[2], h[3]]);
                        return Some(FragPeek {
                            src: IpAddr::V6(ip.src_addr()),
                            dst: IpAddr::V6(ip.dst_addr()),
                            proto: h[0],
                            id: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                            offset: flo & 0xfff8,
                            more: flo & 1 != 0,
                            payload: base + off + 8..base + payload.len(),
                        });
                    }
                    _ => return None,
                }
            }
            None
        }
        _ => None,
    }
}
