//! The per-packet parser: Ethernet → 802.1Q → ARP | IPv4 | IPv6 (+ extension headers) →
//! TCP | UDP | ICMP | ICMPv6, in one pass, without allocation.
//!
//! Contract: [`parse_frame`] either returns a [`ParsedFrame`] whose offsets are all in bounds
//! of the frame it parsed (`l3_off <= l4_off <= l3_end <= data.len()`) and whose L4 header is
//! complete, or the first [`DropReason`] met. It never panics. It checks what every later stage
//! relies on and nothing more:
//!
//! - IPv4: version, IHL, total length, **header checksum** (`BadIpv4Checksum`) and fragments
//!   (`Ipv4Fragment`: fragments leave the fast path here; the worker hands them to
//!   [`super::fragment::parse_fragment`]);
//! - IPv6: version, payload length, the extension-header walk, fragments (`Ipv6Fragment`, the
//!   same);
//! - TCP: data offset (options are not walked); UDP: length field against the IP payload;
//! - ICMP/ICMPv6: the 8-byte header, and for error messages the quoted inner IP header plus
//!   8 bytes of its L4 (`BadIcmpInner`), so the pipeline can find the session it refers to;
//! - any other EtherType or IP protocol is rejected (`UnsupportedEthertype`,
//!   `UnsupportedL4Proto`). A frame refused only for its IP protocol may still be the box's
//!   own (VRRP, OSPF, IGMP, ... for the exception path): [`peek_ip`] reads its addresses.
//!
//! TTL / hop limit is exposed, not judged (the pipeline decides `TtlExceeded`), and L4
//! checksums are not verified (NICs offload that; the views offer `verify_checksum_*`).

use super::ethernet::{self, EtherType};
use super::icmpv4::{self, Packet as Icmpv4Packet};
use super::icmpv6::{self, Packet as Icmpv6Packet};
use super::ip::IpProtocol;
use super::{arp, checksum, ipv4, ipv6, tcp, udp, DropReason};
use crate::types::{FlowKey4, FlowKey6, L4Proto};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Network-layer summary of a parsed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L3 {
    /// IPv4 with its addresses.
    Ipv4 {
        /// Source address.
        src: Ipv4Addr,
        /// Destination address.
        dst: Ipv4Addr,
    },
    /// IPv6 with its addresses.
    Ipv6 {
        /// Source address.
        src: Ipv6Addr,
        /// Destination address.
        dst: Ipv6Addr,
    },
    /// Ethernet/IPv4 ARP (view it with `ArpPacket::new_checked(&data[l3_off..])`).
    Arp,
}

/// The header an ICMP error quotes, located in the outer frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpInner<A> {
    /// Offset of the quoted IP header in the frame.
    pub l3_off: usize,
    /// Offset of the quoted L4 header in the frame (at least 8 bytes are present).
    pub l4_off: usize,
    /// Quoted IP protocol / final next header.
    pub proto: u8,
    /// Quoted source address (the gateway's side when the error answers a packet it sent).
    pub src: A,
    /// Quoted destination address.
    pub dst: A,
    /// Quoted source port (0 unless the quoted protocol is TCP or UDP).
    pub src_port: u16,
    /// Quoted destination port (0 unless the quoted protocol is TCP or UDP).
    pub dst_port: u16,
}

impl IcmpInner<Ipv4Addr> {
    /// Return the 5-tuple of the quoted packet, as it was sent, for TCP/UDP quotes.
    pub fn flow_key(&self) -> Option<FlowKey4> {
        Some(FlowKey4 {
            src: self.src,
            dst: self.dst,
            sport: self.src_port,
            dport: self.dst_port,
            proto: L4Proto::from_number(self.proto)?,
        })
    }
}

impl IcmpInner<Ipv6Addr> {
    /// Return the 5-tuple of the quoted packet, as it was sent, for TCP/UDP quotes.
    pub fn flow_key(&self) -> Option<FlowKey6> {
        Some(FlowKey6 {
            src: self.src,
            dst: self.dst,
            sport: self.src_port,
            dport: self.dst_port,
            proto: L4Proto::from_number(self.proto)?,
        })
    }
}

/// Transport-layer summary of a parsed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4 {
    /// No transport layer (ARP).
    None,
    /// TCP with ports and flag bits (`wire::tcp::flags`).
    Tcp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
        /// Flag bits.
        flags: u8,
    },
    /// UDP with ports.
    Udp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
    },
    /// ICMP for IPv4.
    Icmpv4 {
        /// Message type.
        msg_type: u8,
        /// Message code.
        code: u8,
        /// The quoted header, for error messages.
        inner: Option<IcmpInner<Ipv4Addr>>,
    },
    /// ICMPv6.
    Icmpv6 {
        /// Message type.
        msg_type: u8,
        /// Message code.
        code: u8,
        /// The quoted header, for error messages.
        inner: Option<IcmpInner<Ipv6Addr>>,
    },
}

/// What [`parse_frame`] learnt about a frame: offsets and the fields the pipeline branches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedFrame {
    /// 802.1Q TCI (PCP, DEI, VLAN id) when the frame is tagged.
    pub vlan_tci: Option<u16>,
    /// Payload EtherType (after the tag).
    pub ethertype: EtherType,
    /// Offset of the L3 header: the Ethernet header length, 14 or 18.
    pub l3_off: usize,
    /// Offset of the L4 header (IPv4 options and IPv6 extension headers skipped); `l3_end`
    /// for ARP.
    pub l4_off: usize,
    /// End of the L3 packet (IPv4 total length / IPv6 payload length), before any Ethernet
    /// padding.
    pub l3_end: usize,
    /// IP protocol of the L4 header (0 for ARP).
    pub l4_proto: u8,
    /// IPv4 TTL or IPv6 hop limit (0 for ARP).
    pub ttl: u8,
    /// IPv4 Don't Fragment flag (always true for IPv6, where routers never fragment).
    pub dont_frag: bool,
    /// A fragment ([`super::fragment::parse_fragment`]'s; never set by [`parse_frame`]).
    pub frag: bool,
    /// Network layer.
    pub l3: L3,
    /// Transport layer.
    pub l4: L4,
}

impl ParsedFrame {
    /// Return the L2 header length (the L3 offset).
    #[inline]
    pub const fn l2_len(&self) -> usize {
        self.l3_off
    }

    /// Return the L3 packet length (header through payload, no Ethernet padding).
    #[inline]
    pub const fn l3_len(&self) -> usize {
        self.l3_end - self.l3_off
    }

    /// Return the L4 segment length (header plus payload).
    #[inline]
    pub const fn l4_len(&self) -> usize {
        self.l3_end - self.l4_off
    }

    /// Return the L4 segment of `data`, the frame this was parsed from (empty if it is not).
    #[inline]
    pub fn l4<'a>(&self, data: &'a [u8]) -> &'a [u8] {
        data.get(self.l4_off..self.l3_end).unwrap_or(&[])
    }

    /// Return the IPv4 5-tuple for TCP/UDP over IPv4.
    #[inline]
    pub fn flow_key4(&self) -> Option<FlowKey4> {
        let L3::Ipv4 { src, dst } = self.l3 else {
            return None;
        };
        let (sport, dport, proto) = self.ports()?;
        Some(FlowKey4 {
            src,
            dst,
            sport,
            dport,
            proto,
        })
    }

    /// Return the IPv6 5-tuple for TCP/UDP over IPv6.
    #[inline]
    pub fn flow_key6(&self) -> Option<FlowKey6> {
        let L3::Ipv6 { src, dst } = self.l3 else {
            return None;
        };
        let (sport, dport, proto) = self.ports()?;
        Some(FlowKey6 {
            src,
            dst,
            sport,
            dport,
            proto,
        })
    }

    #[inline]
    fn ports(&self) -> Option<(u16, u16, L4Proto)> {
        match self.l4 {
            L4::Tcp {
                src_port, dst_port, ..
            } => Some((src_port, dst_port, L4Proto::Tcp)),
            L4::Udp { src_port, dst_port } => Some((src_port, dst_port, L4Proto::Udp)),
            _ => None,
        }
    }
}

/// Parse one Ethernet frame down to its L4 header.
///
/// Inlined, so that the common frame's result is built where the caller keeps it (out of
/// line, it was built and then copied into the returned `Result`).
///
/// # Errors
/// The first [`DropReason`] met; see the module contract.
#[inline(always)]
pub fn parse_frame(data: &[u8]) -> Result<ParsedFrame, DropReason> {
    match parse_plain_ipv4(data) {
        Some(p) => Ok(p),
        None => parse_any(data),
    }
}

/// The frame nearly every packet is, read in one pass: untagged IPv4 without options, not a
/// fragment, its header checksum right, TCP or UDP with every length consistent. `None` for
/// anything else, which [`parse_any`] then reads (and refuses with its reason): this answers
/// only frames the general parser accepts, with the same result (a property test holds them
/// to that). It costs a FullNAT packet some 100 fewer instructions than the layered views.
#[inline(always)]
fn parse_plain_ipv4(d: &[u8]) -> Option<ParsedFrame> {
    let h: &[u8; 34] = d.get(..34)?.try_into().ok()?;
    if h[12..15] != [0x08, 0x00, 0x45] {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([h[16], h[17]]));
    let flags_off = u16::from_be_bytes([h[20], h[21]]);
    let ip: &[u8; 20] = h[14..34].try_into().ok()?;
    if total < 20 || 14 + total > d.len() || flags_off & 0x3fff != 0 {
        return None;
    }
    if !checksum::ipv4_header_ok_20(ip) {
        return None;
    }
    let proto = h[23];
    let l4 = plain_l4(proto, &d[34..14 + total])?;
    let addr = |at: usize| Ipv4Addr::new(h[at], h[at + 1], h[at + 2], h[at + 3]);
    Some(ParsedFrame {
        vlan_tci: None,
        ethertype: EtherType::Ipv4,
        l3_off: 14,
        l4_off: 34,
        l3_end: 14 + total,
        l4_proto: proto,
        ttl: h[22],
        dont_frag: flags_off & 0x4000 != 0,
        frag: false,
        l3: L3::Ipv4 {
            src: addr(26),
            dst: addr(30),
        },
        l4,
    })
}

/// [`parse_plain_ipv4`] for IPv6: untagged, no extension header, TCP or UDP. [`parse_any`]
/// tries it first for an IPv6 frame, so that IPv4's fast path stays as short as it is alone.
#[inline(always)]
fn parse_plain_ipv6(d: &[u8]) -> Option<ParsedFrame> {
    let h: &[u8; 54] = d.get(..54)?.try_into().ok()?;
    if h[12..14] != [0x86, 0xdd] || h[14] >> 4 != 6 {
        return None;
    }
    let end = 54 + usize::from(u16::from_be_bytes([h[18], h[19]]));
    let proto = h[20];
    let l4 = plain_l4(proto, d.get(54..end)?)?;
    let addr = |at: usize| Ipv6Addr::from(*h[at..at + 16].first_chunk::<16>().unwrap_or(&[0; 16]));
    Some(ParsedFrame {
        vlan_tci: None,
        ethertype: EtherType::Ipv6,
        l3_off: 14,
        l4_off: 54,
        l3_end: end,
        l4_proto: proto,
        ttl: h[21],
        dont_frag: true,
        frag: false,
        l3: L3::Ipv6 {
            src: addr(22),
            dst: addr(38),
        },
        l4,
    })
}

/// The TCP or UDP header at the start of `seg` (which ends where the IP packet does), as
/// [`parse_tcp`] and [`parse_udp`] read it; `None` for any other protocol or any length they
/// would refuse.
#[inline(always)]
fn plain_l4(proto: u8, seg: &[u8]) -> Option<L4> {
    let (src_port, dst_port) = ports(seg)?;
    match proto {
        6 => {
            let doff = usize::from(*seg.get(12)? >> 4) * 4;
            if doff < tcp::HEADER_LEN || doff > seg.len() {
                return None;
            }
            Some(L4::Tcp {
                src_port,
                dst_port,
                flags: seg[13],
            })
        }
        17 => {
            let len = usize::from(u16::from_be_bytes(*seg.get(4..6)?.first_chunk()?));
            if len < udp::HEADER_LEN || len > seg.len() {
                return None;
            }
            Some(L4::Udp { src_port, dst_port })
        }
        _ => None,
    }
}

/// [`parse_frame`] for any frame: the layered views, each checking its own header.
#[inline(never)]
fn parse_any(data: &[u8]) -> Result<ParsedFrame, DropReason> {
    let eth = ethernet::Frame::new_checked(data)?;
    let l3_off = eth.header_len();
    let ethertype = eth.ethertype();
    let vlan_tci = eth.vlan_tci();
    let l3_data = &data[l3_off..];
    match ethertype {
        EtherType::Ipv4 => parse_ipv4(l3_data, l3_off, vlan_tci),
        EtherType::Ipv6 => match parse_plain_ipv6(data) {
            Some(p) => Ok(p),
            None => parse_ipv6(l3_data, l3_off, vlan_tci),
        },
        EtherType::Arp => {
            arp::Packet::new_checked(l3_data)?;
            let end = l3_off + arp::PACKET_LEN;
            Ok(ParsedFrame {
                vlan_tci,
                ethertype,
                l3_off,
                l4_off: end,
                l3_end: end,
                l4_proto: 0,
                ttl: 0,
                dont_frag: true,
                frag: false,
                l3: L3::Arp,
                l4: L4::None,
            })
        }
        _ => Err(DropReason::UnsupportedEthertype),
    }
}

/// The network layer of an IP frame whatever its protocol: what the pipeline needs to decide
/// whether a frame [`parse_frame`] refused as `UnsupportedL4Proto` is for the box itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpPeek {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IP protocol (IPv6: the upper-layer header after the extension headers).
    pub proto: u8,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
}

/// Read the addresses and protocol of an IPv4 or IPv6 frame (at most one VLAN tag), with the
/// same header checks as [`parse_frame`] up to the L4 header, which it does not look at.
/// `None` for anything else or anything malformed. The slow path: it runs only on frames
/// [`parse_frame`] refused for their IP protocol.
pub fn peek_ip(data: &[u8]) -> Option<IpPeek> {
    let eth = ethernet::Frame::new_checked(data).ok()?;
    let l3 = data.get(eth.header_len()..)?;
    match eth.ethertype() {
        EtherType::Ipv4 => {
            let ip = ipv4::Packet::new_checked(l3).ok()?;
            if !ip.verify_checksum() || ip.is_fragment() {
                return None;
            }
            Some(IpPeek {
                src: IpAddr::V4(ip.src_addr()),
                dst: IpAddr::V4(ip.dst_addr()),
                proto: ip.protocol(),
                ttl: ip.ttl(),
            })
        }
        EtherType::Ipv6 => {
            let ip = ipv6::Packet::new_checked(l3).ok()?;
            let ul = ip.upper_layer().ok()?;
            Some(IpPeek {
                src: IpAddr::V6(ip.src_addr()),
                dst: IpAddr::V6(ip.dst_addr()),
                proto: ul.proto,
                ttl: ip.hop_limit(),
            })
        }
        _ => None,
    }
}

#[inline]
fn parse_ipv4(
    l3_data: &[u8],
    l3_off: usize,
    vlan_tci: Option<u16>,
) -> Result<ParsedFrame, DropReason> {
    let ip = ipv4::Packet::new_checked(l3_data)?;
    if !ip.verify_checksum() {
        return Err(DropReason::BadIpv4Checksum);
    }
    if ip.is_fragment() {
        return Err(DropReason::Ipv4Fragment);
    }
    let l4_off = l3_off + ip.header_len();
    let l3_end = l3_off + usize::from(ip.total_len());
    let proto = ip.protocol();
    let l4 = match IpProtocol::from(proto) {
        IpProtocol::Tcp => parse_tcp(ip.payload())?,
        IpProtocol::Udp => parse_udp(ip.payload())?,
        IpProtocol::Icmp => {
            let icmp = Icmpv4Packet::new_checked(ip.payload())?;
            let msg = icmp.msg_type();
            let inner = if msg.is_error() {
                let q = icmp.inner()?;
                let q_l3_off = l4_off + icmpv4::HEADER_LEN;
                let (src_port, dst_port) = quoted_ports(q.protocol(), q.payload());
                Some(IcmpInner {
                    l3_off: q_l3_off,
                    l4_off: q_l3_off + q.header_len(),
                    proto: q.protocol(),
                    src: q.src_addr(),
                    dst: q.dst_addr(),
                    src_port,
                    dst_port,
                })
            } else {
                None
            };
            L4::Icmpv4 {
                msg_type: u8::from(msg),
                code: icmp.msg_code(),
                inner,
            }
        }
        _ => return Err(DropReason::UnsupportedL4Proto),
    };
    Ok(ParsedFrame {
        vlan_tci,
        ethertype: EtherType::Ipv4,
        l3_off,
        l4_off,
        l3_end,
        l4_proto: proto,
        ttl: ip.ttl(),
        dont_frag: ip.dont_frag(),
        frag: false,
        l3: L3::Ipv4 {
            src: ip.src_addr(),
            dst: ip.dst_addr(),
        },
        l4,
    })
}

#[inline]
fn parse_ipv6(
    l3_data: &[u8],
    l3_off: usize,
    vlan_tci: Option<u16>,
) -> Result<ParsedFrame, DropReason> {
    let ip = ipv6::Packet::new_checked(l3_data)?;
    let ul = ip.upper_layer()?;
    let l3_end = l3_off + ipv6::HEADER_LEN + usize::from(ip.payload_len());
    let l4_off = l3_off + ul.offset;
    // `upper_layer` guarantees ul.offset <= HEADER_LEN + payload_len <= l3_data.len().
    let seg = l3_data
        .get(ul.offset..ipv6::HEADER_LEN + usize::from(ip.payload_len()))
        .unwrap_or(&[]);
    let l4 = match IpProtocol::from(ul.proto) {
        IpProtocol::Tcp => parse_tcp(seg)?,
        IpProtocol::Udp => parse_udp(seg)?,
        IpProtocol::Icmpv6 => {
            let icmp = Icmpv6Packet::new_checked(seg)?;
            let msg = icmp.msg_type();
            let inner = if msg.is_error() {
                let (q, qul) = icmp.inner()?;
                let q_l3_off = l4_off + icmpv6::HEADER_LEN;
                let q_l4 = icmp.data().get(qul.offset..).unwrap_or(&[]);
                let (src_port, dst_port) = quoted_ports(qul.proto, q_l4);
                Some(IcmpInner {
                    l3_off: q_l3_off,
                    l4_off: q_l3_off + qul.offset,
                    proto: qul.proto,
                    src: q.src_addr(),
                    dst: q.dst_addr(),
                    src_port,
                    dst_port,
                })
            } else {
                None
            };
            L4::Icmpv6 {
                msg_type: u8::from(msg),
                code: icmp.msg_code(),
                inner,
            }
        }
        _ => return Err(DropReason::UnsupportedL4Proto),
    };
    Ok(ParsedFrame {
        vlan_tci,
        ethertype: EtherType::Ipv6,
        l3_off,
        l4_off,
        l3_end,
        l4_proto: ul.proto,
        ttl: ip.hop_limit(),
        dont_frag: true,
        frag: false,
        l3: L3::Ipv6 {
            src: ip.src_addr(),
            dst: ip.dst_addr(),
        },
        l4,
    })
}

#[inline]
pub(super) fn parse_tcp(seg: &[u8]) -> Result<L4, DropReason> {
    let t = tcp::Packet::new_checked(seg)?;
    let (src_port, dst_port) = ports(seg).ok_or(DropReason::TruncatedTcp)?;
    Ok(L4::Tcp {
        src_port,
        dst_port,
        flags: t.flags(),
    })
}

#[inline]
fn parse_udp(seg: &[u8]) -> Result<L4, DropReason> {
    udp::Packet::new_checked(seg)?;
    let (src_port, dst_port) = ports(seg).ok_or(DropReason::TruncatedUdp)?;
    Ok(L4::Udp { src_port, dst_port })
}

/// The source and destination ports at the start of a TCP or UDP header, as the two halves of
/// one word (each half byte-swapped), so that the compiler stores them as one word: stored as
/// two 2-byte halves, the flow key's single read of the pair waited for both stores (a
/// store-forwarding stall, the hottest instruction of `classify` in `perf` on the ring path;
/// DR and FullNAT 10-15% of their cycles a packet). `None` if `seg` is shorter than 4 bytes.
#[inline(always)]
fn ports(seg: &[u8]) -> Option<(u16, u16)> {
    let raw = u32::from_le_bytes(*seg.first_chunk::<4>()?);
    let host = ((raw & 0x00ff_00ff) << 8) | ((raw >> 8) & 0x00ff_00ff);
    Some((host as u16, (host >> 16) as u16))
}

/// Read the ports of a quoted TCP/UDP header (both start with them); 0s otherwise.
#[inline]
fn quoted_ports(proto: u8, l4: &[u8]) -> (u16, u16) {
    match IpProtocol::from(proto) {
        IpProtocol::Tcp | IpProtocol::Udp => ports(l4).unwrap_or((0, 0)),
        _ => (0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::checksum;
    use crate::wire::tcp::flags;
    use etherparse::{
        icmpv4::DestUnreachableHeader, Icmpv4Type, Icmpv6Type, NetSlice, PacketBuilder,
        SlicedPacket, TransportSlice, VlanId, VlanSlice,
    };
    use proptest::prelude::*;

    const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 2];

    /// A hand-written VLAN 100 IPv4 TCP SYN 10.0.0.1:49152 -> 10.0.0.2:80, MSS 1460, with
    /// 2 bytes of Ethernet padding.
    fn golden_tcp4() -> Vec<u8> {
        let mut f = vec![];
        f.extend_from_slice(&MAC_B);
        f.extend_from_slice(&MAC_A);
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x64, 0x08, 0x00]);
        f.extend_from_slice(&[
            0x45, 0x00, 0x00, 0x2c, 0x00, 0x01, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, 10, 0, 0, 1,
            10, 0, 0, 2,
        ]);
        f.extend_from_slice(&[
            0xc0, 0x00, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x60, 0x02, 0xff, 0xff, 0, 0, 0, 0,
            0x02, 0x04, 0x05, 0xb4,
        ]);
        f.extend_from_slice(&[0, 0]);
        let c = checksum::ipv4_header_checksum(&f[18..38]);
        f[28..30].copy_from_slice(&c.to_be_bytes());
        f
    }

    fn build_tcp4(vlan: Option<u16>, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![];
        let b = PacketBuilder::ethernet2(MAC_A, MAC_B);
        match vlan {
            Some(v) => b
                .single_vlan(VlanId::try_new(v).unwrap())
                .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .tcp(1234, 80, 1, 1000)
                .syn()
                .write(&mut out, payload)
                .unwrap(),
            None => b
                .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .tcp(1234, 80, 1, 1000)
                .syn()
                .write(&mut out, payload)
                .unwrap(),
        }
        out
    }

    fn build_udp6(payload: &[u8]) -> Vec<u8> {
        let mut out = vec![];
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv6(
                [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
                64,
            )
            .udp(5353, 53)
            .write(&mut out, payload)
            .unwrap();
        out
    }

    /// Fix the IPv4 total length and header checksum after the frame was cut to `len`.
    fn cut_ipv4(f: &[u8], l3_off: usize, len: usize) -> Vec<u8> {
        let mut f = f[..len].to_vec();
        let total = u16::try_from(len - l3_off).unwrap();
        let mut ip = crate::wire::Ipv4Packet::new_unchecked(&mut f[l3_off..]);
        ip.set_total_len(total);
        ip.fill_checksum();
        f
    }

    /// Fix the IPv6 payload length after the frame was cut to `len`.
    fn cut_ipv6(f: &[u8], l3_off: usize, len: usize) -> Vec<u8> {
        let mut f = f[..len].to_vec();
        let pl = u16::try_from(len - l3_off - 40).unwrap();
        crate::wire::Ipv6Packet::new_unchecked(&mut f[l3_off..]).set_payload_len(pl);
        f
    }

    #[test]
    fn test_parse_golden_tcp4() {
        let f = golden_tcp4();
        let p = parse_frame(&f).unwrap();
        assert_eq!(
            p,
            ParsedFrame {
                vlan_tci: Some(100),
                ethertype: EtherType::Ipv4,
                l3_off: 18,
                l4_off: 38,
                l3_end: 62,
                l4_proto: 6,
                ttl: 64,
                dont_frag: true,
                frag: false,
                l3: L3::Ipv4 {
                    src: Ipv4Addr::new(10, 0, 0, 1),
                    dst: Ipv4Addr::new(10, 0, 0, 2)
                },
                l4: L4::Tcp {
                    src_port: 49152,
                    dst_port: 80,
                    flags: flags::SYN
                },
            }
        );
        assert_eq!(p.l2_len(), 18);
        assert_eq!(p.l3_len(), 44);
        assert_eq!(p.l4_len(), 24);
        assert_eq!(p.l4(&f).len(), 24);
        assert_eq!(
            p.flow_key4(),
            Some(FlowKey4 {
                src: Ipv4Addr::new(10, 0, 0, 1),
                dst: Ipv4Addr::new(10, 0, 0, 2),
                sport: 49152,
                dport: 80,
                proto: L4Proto::Tcp
            })
        );
        assert_eq!(p.flow_key6(), None);
    }

    /// Every one-byte change of plain IPv4 and IPv6 TCP and UDP frames and of a VLAN-tagged
    /// one, with and without a fixed-up header checksum, and every cut: the fast path and the
    /// layered parser agree; and the fast path takes the plain frames themselves.
    #[test]
    fn test_fast_path_agrees_with_the_layered_parser_on_every_byte_change() {
        let eth = || PacketBuilder::ethernet2(MAC_A, MAC_B);
        let (a6, b6) = (
            [0x20, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            [0x20, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
        );
        let (mut udp, mut tcp6) = (vec![], vec![]);
        let ip4 = eth().ipv4([198, 18, 0, 1], [198, 18, 0, 2], 64);
        ip4.udp(1234, 53).write(&mut udp, b"question").unwrap();
        let ip6 = eth().ipv6(a6, b6, 64).tcp(1234, 80, 7, 1000).ack(9);
        ip6.write(&mut tcp6, b"data").unwrap();
        let mut fast = 0;
        let cases = [
            (build_tcp4(None, b""), true),
            (build_tcp4(None, b"data"), true),
            (udp, true),
            (tcp6, true),
            (build_udp6(b"answer"), true),
            (golden_tcp4(), false),
        ];
        let plain_path = |f: &[u8]| parse_plain_ipv4(f).or_else(|| parse_plain_ipv6(f));
        for (base, plain) in cases {
            assert_eq!(plain_path(&base).is_some(), plain, "{base:02x?}");
            for cut in 0..=base.len() {
                assert_eq!(
                    parse_frame(&base[..cut]),
                    parse_any(&base[..cut]),
                    "cut {cut}"
                );
            }
            for i in 0..base.len() {
                for v in 0..=255u8 {
                    let mut g = base.clone();
                    g[i] = v;
                    for fix in [false, true] {
                        if fix && g[14] & 0x0f >= 5 && g.len() >= 14 + usize::from(g[14] & 0x0f) * 4
                        {
                            crate::wire::Ipv4Packet::new_unchecked(&mut g[14..]).fill_checksum();
                        }
                        let got = parse_frame(&g);
                        assert_eq!(got, parse_any(&g), "byte {i} = {v:#x}, fixed {fix}");
                        fast += usize::from(plain_path(&g).is_some());
                    }
                }
            }
        }
        assert!(
            fast > 10_000,
            "the changes that keep a frame plain take the fast path: {fast}"
        );
    }

    #[test]
    fn test_parse_truncated_frame_tcp4() {
        let f = golden_tcp4();
        for len in 0..14 {
            assert_eq!(parse_frame(&f[..len]), Err(DropReason::TruncatedEthernet));
        }
        for len in 14..18 {
            assert_eq!(parse_frame(&f[..len]), Err(DropReason::TruncatedVlan));
        }
        for len in 18..38 {
            assert_eq!(parse_frame(&f[..len]), Err(DropReason::TruncatedIpv4));
        }
        for len in 38..62 {
            // Cut without fixing the IP header: the total length lies.
            assert_eq!(parse_frame(&f[..len]), Err(DropReason::BadIpv4TotalLen));
        }
        for len in 38..58 {
            // Cut and fixed: the TCP header itself is short.
            assert_eq!(
                parse_frame(&cut_ipv4(&f, 18, len)),
                Err(DropReason::TruncatedTcp)
            );
        }
        for len in 58..62 {
            assert_eq!(
                parse_frame(&cut_ipv4(&f, 18, len)),
                Err(DropReason::BadTcpDataOffset)
            );
        }
        assert!(parse_frame(&f[..62]).is_ok());
    }

    #[test]
    fn test_parse_truncated_frame_udp6() {
        let f = build_udp6(b"hello");
        assert!(parse_frame(&f).is_ok());
        for len in 14..54 {
            assert_eq!(parse_frame(&f[..len]), Err(DropReason::TruncatedIpv6));
        }
        for len in 54..f.len() {
            assert_eq!(parse_frame(&f[..len]), Err(DropReason::BadIpv6PayloadLen));
        }
        for len in 54..62 {
            assert_eq!(
                parse_frame(&cut_ipv6(&f, 14, len)),
                Err(DropReason::TruncatedUdp)
            );
        }
        for len in 62..f.len() {
            assert_eq!(
                parse_frame(&cut_ipv6(&f, 14, len)),
                Err(DropReason::BadUdpLength)
            );
        }
    }

    #[test]
    fn test_parse_hostile_ipv4() {
        let f = golden_tcp4();
        // Bad checksum.
        let mut g = f.clone();
        g[28] ^= 0xff;
        assert_eq!(parse_frame(&g), Err(DropReason::BadIpv4Checksum));
        // Fragments: MF, then an offset.
        for (b6, b7) in [(0x20u8, 0u8), (0, 1), (0x40, 0xb9)] {
            let mut g = f.clone();
            g[24] = b6;
            g[25] = b7;
            let mut ip = crate::wire::Ipv4Packet::new_unchecked(&mut g[18..]);
            ip.fill_checksum();
            assert_eq!(parse_frame(&g), Err(DropReason::Ipv4Fragment));
        }
        // Unsupported protocol (GRE).
        let mut g = f.clone();
        g[27] = 47;
        crate::wire::Ipv4Packet::new_unchecked(&mut g[18..]).fill_checksum();
        assert_eq!(parse_frame(&g), Err(DropReason::UnsupportedL4Proto));
        // IHL below 5 and past the total length.
        for vi in [0x44u8, 0x4f] {
            let mut g = f.clone();
            g[18] = vi;
            assert_eq!(parse_frame(&g), Err(DropReason::BadIpv4Ihl));
        }
        // TCP data offset < 5.
        let mut g = f.clone();
        g[50] = 0x40;
        assert_eq!(parse_frame(&g), Err(DropReason::BadTcpDataOffset));
        // TTL is exposed, not judged.
        let mut g = f.clone();
        crate::wire::Ipv4Packet::new_unchecked(&mut g[18..]).set_ttl(1);
        crate::wire::Ipv4Packet::new_unchecked(&mut g[18..]).fill_checksum();
        assert_eq!(parse_frame(&g).unwrap().ttl, 1);
    }

    #[test]
    fn test_peek_ip_reads_what_parse_refuses_for_its_protocol() {
        // VRRP (112) to 224.0.0.18, TTL 255: refused by the parser, read by the peek.
        let mut g = golden_tcp4();
        g[27] = 112;
        g[26] = 255;
        g[34..38].copy_from_slice(&[224, 0, 0, 18]);
        crate::wire::Ipv4Packet::new_unchecked(&mut g[18..]).fill_checksum();
        assert_eq!(parse_frame(&g), Err(DropReason::UnsupportedL4Proto));
        let k = peek_ip(&g).expect("an IPv4 frame");
        assert_eq!(k.dst, IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18)));
        assert_eq!((k.proto, k.ttl), (112, 255));
        // The same header checks as the parser: a bad header checksum reads nothing.
        let mut h = g.clone();
        h[28] ^= 0xff;
        assert_eq!(peek_ip(&h), None);
        // Every truncation of the IP header reads nothing, and never panics.
        for len in 0..38 {
            assert_eq!(peek_ip(&g[..len]), None, "{len} bytes");
        }
        // IPv6 "no next header" after the extension-header walk.
        let mut h = build_udp6(b"x");
        h[20] = 59;
        assert_eq!(parse_frame(&h), Err(DropReason::UnsupportedL4Proto));
        assert_eq!(peek_ip(&h).map(|k| k.proto), Some(59));
        // Not IP.
        let mut a = golden_tcp4();
        a[16..18].copy_from_slice(&[0x88, 0xcc]);
        assert_eq!(peek_ip(&a), None);
    }

    #[test]
    fn test_parse_ethertypes() {
        let f = golden_tcp4();
        // QinQ / double tag and unknown EtherTypes are refused.
        let mut g = f.clone();
        g[16..18].copy_from_slice(&[0x81, 0x00]);
        assert_eq!(parse_frame(&g), Err(DropReason::UnsupportedEthertype));
        let mut g = f.clone();
        g[12..14].copy_from_slice(&[0x88, 0xa8]);
        assert_eq!(parse_frame(&g), Err(DropReason::UnsupportedEthertype));
        let mut g = [&f[..12], &f[16..]].concat();
        assert!(parse_frame(&g).is_ok());
        g[12..14].copy_from_slice(&[0x88, 0xcc]);
        assert_eq!(parse_frame(&g), Err(DropReason::UnsupportedEthertype));
        // IPv4 EtherType carrying an IPv6 header.
        let mut g = build_udp6(b"x");
        g[12..14].copy_from_slice(&[0x08, 0x00]);
        assert_eq!(parse_frame(&g), Err(DropReason::BadIpv4Version));
        let mut g = golden_tcp4();
        g[16..18].copy_from_slice(&[0x86, 0xdd]);
        assert_eq!(parse_frame(&g), Err(DropReason::BadIpv6Version));
    }

    #[test]
    fn test_parse_arp() {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&MAC_A);
        f.extend_from_slice(&[0x08, 0x06]);
        let arp_start = f.len();
        f.resize(arp_start + 28 + 18, 0);
        let mut a = crate::wire::ArpPacket::new_unchecked(&mut f[arp_start..]);
        a.init_ethernet_ipv4();
        a.set_operation(crate::wire::ArpOperation::Request);
        let p = parse_frame(&f).unwrap();
        assert_eq!(p.l3, L3::Arp);
        assert_eq!((p.l3_off, p.l3_end, p.l4), (14, 42, L4::None));
        for len in 14..42 {
            assert_eq!(parse_frame(&f[..len]), Err(DropReason::TruncatedArp));
        }
        f[arp_start + 4] = 8;
        assert_eq!(parse_frame(&f), Err(DropReason::MalformedArp));
    }

    #[test]
    fn test_parse_ipv6_ext_headers() {
        // UDP behind Hop-by-Hop + Destination Options, built by hand from an etherparse frame.
        let f = build_udp6(b"abcd");
        let mut g = f[..54].to_vec();
        g[20] = 0; // next header: hop-by-hop
        g.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]); // HBH -> DestOpts, PadN
        g.extend_from_slice(&[17, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // -> UDP
        g.extend_from_slice(&f[54..]);
        let pl = u16::try_from(g.len() - 54).unwrap();
        g[18..20].copy_from_slice(&pl.to_be_bytes());
        let p = parse_frame(&g).unwrap();
        assert_eq!(p.l4_off, 54 + 24);
        assert_eq!(p.l4_proto, 17);
        assert_eq!(
            p.l4,
            L4::Udp {
                src_port: 5353,
                dst_port: 53
            }
        );
        let k = p.flow_key6().unwrap();
        assert_eq!((k.sport, k.dport, k.proto), (5353, 53, L4Proto::Udp));
        // Same chain with a Fragment header in the middle.
        let mut h = g.clone();
        h[54] = 44;
        assert_eq!(parse_frame(&h), Err(DropReason::Ipv6Fragment));
        // Chain longer than the maximum: Destination Options pointing at themselves.
        let mut h = f[..54].to_vec();
        h[20] = 60;
        for _ in 0..=ipv6::MAX_EXT_HEADERS {
            h.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
        }
        let pl = u16::try_from(h.len() - 54).unwrap();
        h[18..20].copy_from_slice(&pl.to_be_bytes());
        assert_eq!(parse_frame(&h), Err(DropReason::Ipv6ExtHeaderChainTooLong));
        // No next header.
        let mut h = f.clone();
        h[20] = 59;
        assert_eq!(parse_frame(&h), Err(DropReason::UnsupportedL4Proto));
    }

    #[test]
    fn test_parse_icmpv4_frag_needed() {
        // The backend's reply was too big somewhere: the router quotes our packet.
        let quoted = build_tcp4(None, &[0; 8]);
        let mut out = vec![];
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4([192, 0, 2, 1], [10, 0, 0, 1], 64)
            .icmpv4(Icmpv4Type::DestinationUnreachable(
                DestUnreachableHeader::FragmentationNeeded { next_hop_mtu: 1400 },
            ))
            .write(&mut out, &quoted[14..14 + 20 + 8])
            .unwrap();
        let p = parse_frame(&out).unwrap();
        let L4::Icmpv4 {
            msg_type,
            code,
            inner: Some(inner),
        } = p.l4
        else {
            panic!("{p:?}")
        };
        assert_eq!((msg_type, code), (3, 4));
        assert_eq!(inner.l3_off, 14 + 20 + 8);
        assert_eq!(inner.l4_off, 14 + 20 + 8 + 20);
        assert_eq!(
            inner.flow_key(),
            Some(FlowKey4 {
                src: Ipv4Addr::new(10, 0, 0, 1),
                dst: Ipv4Addr::new(10, 0, 0, 2),
                sport: 1234,
                dport: 80,
                proto: L4Proto::Tcp
            })
        );
        let icmp = Icmpv4Packet::new_checked(p.l4(&out)).unwrap();
        assert!(icmp.verify_checksum());
        assert_eq!(icmp.next_hop_mtu(), 1400);
        // A quote one byte short of header + 8 is refused.
        let mut short = vec![];
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4([192, 0, 2, 1], [10, 0, 0, 1], 64)
            .icmpv4(Icmpv4Type::TimeExceeded(
                etherparse::icmpv4::TimeExceededCode::TtlExceededInTransit,
            ))
            .write(&mut short, &quoted[14..14 + 27])
            .unwrap();
        assert_eq!(parse_frame(&short), Err(DropReason::BadIcmpInner));
        // Echo has no inner header.
        let mut echo = vec![];
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4([192, 0, 2, 1], [10, 0, 0, 1], 64)
            .icmpv4_echo_request(7, 9)
            .write(&mut echo, b"ping")
            .unwrap();
        let p = parse_frame(&echo).unwrap();
        assert_eq!(
            p.l4,
            L4::Icmpv4 {
                msg_type: 8,
                code: 0,
                inner: None
            }
        );
        for len in 34..42 {
            assert_eq!(
                parse_frame(&cut_ipv4(&echo, 14, len)),
                Err(DropReason::TruncatedIcmp)
            );
        }
    }

    #[test]
    fn test_parse_icmpv6_packet_too_big() {
        let quoted = build_udp6(&[0; 8]);
        let mut out = vec![];
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv6(
                [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9],
                [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                64,
            )
            .icmpv6(Icmpv6Type::PacketTooBig { mtu: 1280 })
            .write(&mut out, &quoted[14..14 + 40 + 8])
            .unwrap();
        let p = parse_frame(&out).unwrap();
        let L4::Icmpv6 {
            msg_type,
            inner: Some(inner),
            ..
        } = p.l4
        else {
            panic!("{p:?}")
        };
        assert_eq!(msg_type, 2);
        assert_eq!(inner.l3_off, 14 + 40 + 8);
        assert_eq!(inner.l4_off, 14 + 40 + 8 + 40);
        let k = inner.flow_key().unwrap();
        assert_eq!((k.sport, k.dport, k.proto), (5353, 53, L4Proto::Udp));
        let L3::Ipv6 { src, dst } = p.l3 else {
            panic!()
        };
        let icmp = Icmpv6Packet::new_checked(p.l4(&out)).unwrap();
        assert!(icmp.verify_checksum(&src, &dst));
        assert_eq!(icmp.mtu(), 1280);
        // Truncated quote.
        let mut short = vec![];
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv6([0; 16], [1; 16], 64)
            .icmpv6(Icmpv6Type::PacketTooBig { mtu: 1280 })
            .write(&mut short, &quoted[14..14 + 40 + 7])
            .unwrap();
        assert_eq!(parse_frame(&short), Err(DropReason::BadIcmpInner));
    }

    /// Compare our parse with etherparse's on a frame both must accept.
    fn cross_check(f: &[u8]) -> Result<(), TestCaseError> {
        let ours = parse_frame(f).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        let theirs =
            SlicedPacket::from_ethernet(f).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        let vid = match theirs.vlan {
            Some(VlanSlice::SingleVlan(v)) => Some(v.vlan_identifier().value()),
            None => None,
            Some(_) => return Err(TestCaseError::fail("double vlan")),
        };
        prop_assert_eq!(ours.vlan_tci.map(|t| t & 0x0fff), vid);
        let ip_payload = match (&theirs.net, ours.l3) {
            (Some(NetSlice::Ipv4(s)), L3::Ipv4 { src, dst }) => {
                prop_assert_eq!(s.header().source_addr(), src);
                prop_assert_eq!(s.header().destination_addr(), dst);
                prop_assert_eq!(s.header().ttl(), ours.ttl);
                s.payload().payload
            }
            (Some(NetSlice::Ipv6(s)), L3::Ipv6 { src, dst }) => {
                prop_assert_eq!(s.header().source_addr(), src);
                prop_assert_eq!(s.header().destination_addr(), dst);
                prop_assert_eq!(s.header().hop_limit(), ours.ttl);
                s.payload().payload
            }
            other => return Err(TestCaseError::fail(format!("net mismatch {other:?}"))),
        };
        prop_assert_eq!(ours.l4(f), ip_payload);
        match (&theirs.transport, ours.l4) {
            (
                Some(TransportSlice::Tcp(t)),
                L4::Tcp {
                    src_port,
                    dst_port,
                    flags: fl,
                },
            ) => {
                prop_assert_eq!(
                    (t.source_port(), t.destination_port()),
                    (src_port, dst_port)
                );
                prop_assert_eq!(t.syn(), fl & flags::SYN != 0);
                prop_assert_eq!(t.ack(), fl & flags::ACK != 0);
            }
            (Some(TransportSlice::Udp(u)), L4::Udp { src_port, dst_port }) => {
                prop_assert_eq!(
                    (u.source_port(), u.destination_port()),
                    (src_port, dst_port)
                );
            }
            (Some(TransportSlice::Icmpv4(i)), L4::Icmpv4 { msg_type, code, .. }) => {
                prop_assert_eq!((i.type_u8(), i.code_u8()), (msg_type, code));
            }
            (Some(TransportSlice::Icmpv6(i)), L4::Icmpv6 { msg_type, code, .. }) => {
                prop_assert_eq!((i.type_u8(), i.code_u8()), (msg_type, code));
            }
            other => return Err(TestCaseError::fail(format!("transport mismatch {other:?}"))),
        }
        Ok(())
    }

    /// A random valid frame built by etherparse: VLAN or not, IPv4/IPv6, TCP/UDP/ICMP echo.
    fn frame() -> impl Strategy<Value = Vec<u8>> {
        (
            proptest::option::of(0u16..4096),
            any::<bool>(),
            0u8..3,
            any::<[u8; 16]>(),
            any::<[u8; 16]>(),
            any::<(u16, u16, u32, u8)>(),
            proptest::collection::vec(any::<u8>(), 0..64),
            any::<bool>(),
        )
            .prop_map(
                |(vlan, v6, l4, src, dst, (sp, dp, seq, ttl), payload, ack)| {
                    let eth = PacketBuilder::ethernet2(MAC_A, MAC_B);
                    let ip = match (vlan, v6) {
                        (Some(v), false) => eth.single_vlan(VlanId::try_new(v).unwrap()).ipv4(
                            [src[0], src[1], src[2], src[3]],
                            [dst[0], dst[1], dst[2], dst[3]],
                            ttl,
                        ),
                        (Some(v), true) => eth
                            .single_vlan(VlanId::try_new(v).unwrap())
                            .ipv6(src, dst, ttl),
                        (None, false) => eth.ipv4(
                            [src[0], src[1], src[2], src[3]],
                            [dst[0], dst[1], dst[2], dst[3]],
                            ttl,
                        ),
                        (None, true) => eth.ipv6(src, dst, ttl),
                    };
                    let mut out = vec![];
                    match (l4, v6) {
                        (0, _) => {
                            let t = ip.tcp(sp, dp, seq, 1024);
                            let t = if ack { t.ack(seq ^ 1) } else { t.syn() };
                            t.write(&mut out, &payload).unwrap();
                        }
                        (1, _) => ip.udp(sp, dp).write(&mut out, &payload).unwrap(),
                        (_, false) => ip
                            .icmpv4_echo_request(sp, dp)
                            .write(&mut out, &payload)
                            .unwrap(),
                        (_, true) => ip
                            .icmpv6_echo_request(sp, dp)
                            .write(&mut out, &payload)
                            .unwrap(),
                    }
                    out
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn test_prop_cross_check_etherparse(f in frame(), pad in 0usize..20) {
            cross_check(&f)?;
            // Ethernet padding (short frames) must not change anything.
            let mut g = f.clone();
            g.resize(f.len() + pad, 0);
            prop_assert_eq!(parse_frame(&g), parse_frame(&f));
        }

        #[test]
        fn test_prop_never_panics_arbitrary(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            check_invariants(&data)?;
        }

        #[test]
        fn test_prop_never_panics_typed_garbage(
            ethertype in prop::sample::select(vec![0x0800u16, 0x86dd, 0x0806, 0x8100]),
            inner in prop::sample::select(vec![0x0800u16, 0x86dd, 0x0806]),
            version in prop::sample::select(vec![0x45u8, 0x46, 0x4f, 0x60]),
            proto in prop::sample::select(vec![1u8, 6, 17, 58, 0, 43, 44, 60, 59]),
            body in proptest::collection::vec(any::<u8>(), 0..160),
        ) {
            // A plausible L2/L3 prefix followed by garbage, so the fuzzing reaches L3/L4.
            let mut g = MAC_B.to_vec();
            g.extend_from_slice(&MAC_A);
            g.extend_from_slice(&ethertype.to_be_bytes());
            if ethertype == 0x8100 {
                g.extend_from_slice(&[0, 1]);
                g.extend_from_slice(&inner.to_be_bytes());
            }
            let l3 = g.len();
            g.extend_from_slice(&body);
            if g.len() > l3 + 9 {
                g[l3] = version;
                if version == 0x60 {
                    g[l3 + 6] = proto;
                } else {
                    g[l3 + 9] = proto;
                }
            }
            check_invariants(&g)?;
            let ihl = usize::from(version & 0x0f) * 4;
            if version != 0x60 && g.len() >= l3 + ihl {
                crate::wire::Ipv4Packet::new_unchecked(&mut g[l3..]).fill_checksum();
                check_invariants(&g)?;
            }
        }

        #[test]
        fn test_prop_never_panics_mutated(
            f in frame(),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
            cut in any::<prop::sample::Index>(),
            do_cut: bool,
        ) {
            let mut g = f.clone();
            for (i, v) in flips {
                let i = i.index(g.len());
                g[i] = v;
            }
            if do_cut {
                g.truncate(cut.index(g.len() + 1));
            }
            check_invariants(&g)?;
            // Fix the IPv4 header checksum so mutations reach deeper layers too.
            if let Ok(eth) = ethernet::Frame::new_checked(&g[..]) {
                let off = eth.header_len();
                if eth.ethertype() == EtherType::Ipv4 && g.len() >= off + 20 {
                    let ihl = usize::from(g[off] & 0x0f) * 4;
                    if ihl >= 20 && g.len() >= off + ihl {
                        crate::wire::Ipv4Packet::new_unchecked(&mut g[off..]).fill_checksum();
                    }
                }
            }
            check_invariants(&g)?;
        }
    }

    /// `parse_frame` must not panic, and on success every offset is in bounds and the views
    /// it vouches for are constructible.
    fn check_invariants(data: &[u8]) -> Result<(), TestCaseError> {
        // The fast path answers only what the layered parser accepts, with its result.
        prop_assert_eq!(parse_frame(data), parse_any(data));
        // `peek_ip` never panics either, and agrees with a successful parse.
        let peek = peek_ip(data);
        if let Ok(p) = parse_frame(data) {
            match p.l3 {
                L3::Ipv4 { src, dst } => prop_assert_eq!(
                    peek.map(|k| (k.src, k.dst, k.proto)),
                    Some((IpAddr::V4(src), IpAddr::V4(dst), p.l4_proto))
                ),
                L3::Ipv6 { src, dst } => prop_assert_eq!(
                    peek.map(|k| (k.src, k.dst, k.proto)),
                    Some((IpAddr::V6(src), IpAddr::V6(dst), p.l4_proto))
                ),
                L3::Arp => prop_assert_eq!(peek, None),
            }
        }
        if let Ok(p) = parse_frame(data) {
            prop_assert!(p.l3_off <= p.l4_off);
            prop_assert!(p.l4_off <= p.l3_end);
            prop_assert!(p.l3_end <= data.len());
            let l4 = p.l4(data);
            prop_assert_eq!(l4.len(), p.l4_len());
            match p.l4 {
                L4::Tcp { .. } => prop_assert!(tcp::Packet::new_checked(l4).is_ok()),
                L4::Udp { .. } => prop_assert!(udp::Packet::new_checked(l4).is_ok()),
                L4::Icmpv4 { inner, .. } => {
                    if let Some(i) = inner {
                        prop_assert!(i.l4_off + 8 <= p.l3_end);
                    }
                }
                L4::Icmpv6 { inner, .. } => {
                    if let Some(i) = inner {
                        prop_assert!(i.l4_off + 8 <= p.l3_end);
                    }
                }
                L4::None => prop_assert_eq!(p.l3, L3::Arp),
            }
            if let L4::Tcp { .. } = p.l4 {
                // Walking options on a vouched-for segment never panics either.
                let _ = tcp::Packet::new_unchecked(l4).options().count();
            }
        }
        Ok(())
    }
}
