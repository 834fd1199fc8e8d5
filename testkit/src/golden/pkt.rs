//! Building the table's frames, independently of the pipeline (etherparse computes every
//! checksum), and the table under construction.

use super::*;

pub(super) const FIN: u8 = 0x01;
pub(super) const SYN: u8 = 0x02;
pub(super) const RST: u8 = 0x04;
pub(super) const PSH: u8 = 0x08;
pub(super) const ACK: u8 = 0x10;

/// Transport layer of a [`Pkt`].
#[derive(Clone, Debug)]
pub(super) enum L4b {
    Tcp {
        sport: u16,
        dport: u16,
        seq: u32,
        ack: u32,
        flags: u8,
        opts: Vec<u8>,
    },
    Udp {
        sport: u16,
        dport: u16,
    },
    /// ICMP (IPv4) or ICMPv6, by the family of the addresses.
    Icmp {
        typ: u8,
        code: u8,
        rest: [u8; 4],
    },
    /// Any other IP protocol; the payload is the whole L4 segment, written as given.
    Raw {
        proto: u8,
    },
}

/// A packet described by its fields; [`Pkt::frame`] serialises it with valid checksums.
#[derive(Clone, Debug)]
pub(super) struct Pkt {
    pub(super) dmac: Mac,
    pub(super) smac: Mac,
    pub(super) src: IpAddr,
    pub(super) dst: IpAddr,
    pub(super) ttl: u8,
    pub(super) df: bool,
    pub(super) ident: u16,
    pub(super) l4: L4b,
    pub(super) payload: Vec<u8>,
}

impl Pkt {
    pub(super) fn new(src: IpAddr, dst: IpAddr, l4: L4b) -> Pkt {
        Pkt {
            dmac: GW0_MAC,
            smac: CLIENT_MAC,
            src,
            dst,
            ttl: 64,
            df: true,
            ident: 0x1234,
            l4,
            payload: Vec::new(),
        }
    }

    /// A TCP segment from the client side (client MAC -> port 0).
    pub(super) fn tcp(src: IpAddr, sport: u16, dst: IpAddr, dport: u16, flags: u8) -> Pkt {
        let ack = if flags & ACK != 0 { 5001 } else { 0 };
        Pkt::new(
            src,
            dst,
            L4b::Tcp {
                sport,
                dport,
                seq: 1000,
                ack,
                flags,
                opts: Vec::new(),
            },
        )
    }

    pub(super) fn udp(src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> Pkt {
        Pkt::new(src, dst, L4b::Udp { sport, dport }).payload(b"golden udp")
    }

    pub(super) fn icmp(src: IpAddr, dst: IpAddr, typ: u8, code: u8, rest: [u8; 4]) -> Pkt {
        Pkt::new(src, dst, L4b::Icmp { typ, code, rest })
    }

    /// A packet of IP protocol `proto` carrying `segment` as is.
    pub(super) fn raw(src: IpAddr, dst: IpAddr, proto: u8, segment: &[u8]) -> Pkt {
        Pkt::new(src, dst, L4b::Raw { proto }).payload(segment)
    }

    /// An ICMP error (no DF, as hosts send them) quoting `quote`.
    pub(super) fn icmp_err(
        src: IpAddr,
        dst: IpAddr,
        typ: u8,
        code: u8,
        rest: [u8; 4],
        quote: &[u8],
    ) -> Pkt {
        Pkt::icmp(src, dst, typ, code, rest)
            .df(false)
            .payload(quote)
    }

    pub(super) fn macs(mut self, dmac: Mac, smac: Mac) -> Pkt {
        self.dmac = dmac;
        self.smac = smac;
        self
    }

    pub(super) fn ttl(mut self, ttl: u8) -> Pkt {
        self.ttl = ttl;
        self
    }

    pub(super) fn df(mut self, df: bool) -> Pkt {
        self.df = df;
        self
    }

    pub(super) fn ident(mut self, ident: u16) -> Pkt {
        self.ident = ident;
        self
    }

    pub(super) fn payload(mut self, p: &[u8]) -> Pkt {
        self.payload = p.to_vec();
        self
    }

    pub(super) fn opts(mut self, o: &[u8]) -> Pkt {
        if let L4b::Tcp { opts, .. } = &mut self.l4 {
            *opts = o.to_vec();
        }
        self
    }

    pub(super) fn seq(mut self, s: u32, a: u32) -> Pkt {
        if let L4b::Tcp { seq, ack, .. } = &mut self.l4 {
            *seq = s;
            *ack = a;
        }
        self
    }

    /// Set the source address and (TCP/UDP) port.
    pub(super) fn src(mut self, a: IpAddr, port: u16) -> Pkt {
        self.src = a;
        match &mut self.l4 {
            L4b::Tcp { sport, .. } | L4b::Udp { sport, .. } => *sport = port,
            L4b::Icmp { .. } | L4b::Raw { .. } => {}
        }
        self
    }

    /// Set the destination address and (TCP/UDP) port.
    pub(super) fn dst(mut self, a: IpAddr, port: u16) -> Pkt {
        self.dst = a;
        match &mut self.l4 {
            L4b::Tcp { dport, .. } | L4b::Udp { dport, .. } => *dport = port,
            L4b::Icmp { .. } | L4b::Raw { .. } => {}
        }
        self
    }

    /// The same flow the other way (addresses, ports and MACs swapped).
    pub(super) fn reversed(mut self, flags: u8) -> Pkt {
        core::mem::swap(&mut self.src, &mut self.dst);
        core::mem::swap(&mut self.smac, &mut self.dmac);
        match &mut self.l4 {
            L4b::Tcp {
                sport,
                dport,
                seq,
                ack,
                flags: f,
                opts,
            } => {
                core::mem::swap(sport, dport);
                (*seq, *ack) = (5000, if flags & ACK != 0 { 1001 } else { 0 });
                *f = flags;
                opts.clear();
            }
            L4b::Udp { sport, dport } => core::mem::swap(sport, dport),
            L4b::Icmp { .. } | L4b::Raw { .. } => {}
        }
        self
    }

    pub(super) fn l4_header(&self, ip4: Option<&Ipv4Header>, ip6: Option<&Ipv6Header>) -> Vec<u8> {
        let mut out = Vec::new();
        match &self.l4 {
            L4b::Tcp {
                sport,
                dport,
                seq,
                ack,
                flags,
                opts,
            } => {
                let mut t = TcpHeader::new(*sport, *dport, *seq, 65535);
                t.fin = flags & FIN != 0;
                t.syn = flags & SYN != 0;
                t.rst = flags & RST != 0;
                t.psh = flags & PSH != 0;
                t.ack = flags & ACK != 0;
                t.acknowledgment_number = *ack;
                t.set_options_raw(opts).expect("tcp options");
                t.checksum = match (ip4, ip6) {
                    (Some(h), _) => t.calc_checksum_ipv4(h, &self.payload),
                    (_, Some(h)) => t.calc_checksum_ipv6(h, &self.payload),
                    _ => unreachable!(),
                }
                .expect("tcp checksum");
                t.write(&mut out).expect("write");
            }
            L4b::Udp { sport, dport } => {
                let u = match (ip4, ip6) {
                    (Some(h), _) => UdpHeader::with_ipv4_checksum(*sport, *dport, h, &self.payload),
                    (_, Some(h)) => UdpHeader::with_ipv6_checksum(*sport, *dport, h, &self.payload),
                    _ => unreachable!(),
                }
                .expect("udp");
                u.write(&mut out).expect("write");
            }
            L4b::Icmp { typ, code, rest } => match (ip4, ip6) {
                (Some(_), _) => {
                    let t = Icmpv4Type::Unknown {
                        type_u8: *typ,
                        code_u8: *code,
                        bytes5to8: *rest,
                    };
                    Icmpv4Header::with_checksum(t, &self.payload)
                        .write(&mut out)
                        .expect("write");
                }
                (_, Some(h)) => {
                    let t = Icmpv6Type::Unknown {
                        type_u8: *typ,
                        code_u8: *code,
                        bytes5to8: *rest,
                    };
                    Icmpv6Header::with_checksum(t, h.source, h.destination, &self.payload)
                        .expect("icmpv6")
                        .write(&mut out)
                        .expect("write");
                }
                _ => unreachable!(),
            },
            L4b::Raw { .. } => {}
        }
        out
    }

    pub(super) fn l4_len(&self) -> usize {
        self.payload.len()
            + match &self.l4 {
                L4b::Tcp { opts, .. } => 20 + opts.len(),
                L4b::Udp { .. } | L4b::Icmp { .. } => 8,
                L4b::Raw { .. } => 0,
            }
    }

    pub(super) fn proto(&self) -> IpNumber {
        match (&self.l4, self.src) {
            (L4b::Tcp { .. }, _) => IpNumber::TCP,
            (L4b::Udp { .. }, _) => IpNumber::UDP,
            (L4b::Icmp { .. }, IpAddr::V4(_)) => IpNumber::ICMP,
            (L4b::Icmp { .. }, IpAddr::V6(_)) => IpNumber::IPV6_ICMP,
            (L4b::Raw { proto }, _) => IpNumber(*proto),
        }
    }

    /// The IP packet (no Ethernet header).
    pub(super) fn ip(&self) -> Vec<u8> {
        let len = u16::try_from(self.l4_len()).expect("length");
        let mut out = Vec::new();
        match (self.src, self.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let mut h = Ipv4Header::new(len, self.ttl, self.proto(), s.octets(), d.octets())
                    .expect("ipv4");
                h.dont_fragment = self.df;
                h.identification = self.ident;
                h.header_checksum = h.calc_header_checksum();
                h.write(&mut out).expect("write");
                out.extend(self.l4_header(Some(&h), None));
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let h = Ipv6Header {
                    traffic_class: 0,
                    flow_label: Default::default(),
                    payload_length: len,
                    next_header: self.proto(),
                    hop_limit: self.ttl,
                    source: s.octets(),
                    destination: d.octets(),
                };
                h.write(&mut out).expect("write");
                out.extend(self.l4_header(None, Some(&h)));
            }
            _ => panic!("mixed families"),
        }
        out.extend_from_slice(&self.payload);
        out
    }

    /// The Ethernet frame.
    pub(super) fn frame(&self) -> Vec<u8> {
        let ether_type = if self.src.is_ipv6() {
            EtherType::IPV6
        } else {
            EtherType::IPV4
        };
        eth(self.dmac, self.smac, ether_type, &self.ip())
    }

    /// What an ICMP error quotes of this packet: its IP header and the first 8 bytes of the
    /// payload for IPv4 (RFC 792), the whole packet for IPv6 (RFC 4443: as much as fits).
    pub(super) fn quote(&self) -> Vec<u8> {
        let mut ip = self.ip();
        if self.src.is_ipv4() {
            ip.truncate(28);
        }
        ip
    }
}

pub(super) fn eth(dmac: Mac, smac: Mac, ether_type: EtherType, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Ethernet2Header {
        source: smac,
        destination: dmac,
        ether_type,
    }
    .write(&mut out)
    .expect("write");
    out.extend_from_slice(payload);
    out
}

/// IP-in-IP: `inner` in an outer IPv4 header `src -> dst`, TTL 64, DF copied from the inner.
pub(super) fn ipip(inner: &Pkt, src: IpAddr, dst: IpAddr, dmac: Mac, smac: Mac) -> Vec<u8> {
    let (IpAddr::V4(s), IpAddr::V4(d)) = (src, dst) else {
        panic!("ipip is IPv4")
    };
    let body = inner.ip();
    let mut h = Ipv4Header::new(
        u16::try_from(body.len()).expect("len"),
        64,
        IpNumber::IPV4,
        s.octets(),
        d.octets(),
    )
    .expect("ipv4");
    h.dont_fragment = inner.df;
    h.identification = 0;
    h.header_checksum = h.calc_header_checksum();
    let mut ip = Vec::new();
    h.write(&mut ip).expect("write");
    ip.extend(body);
    eth(dmac, smac, EtherType::IPV4, &ip)
}

/// The TOA option: kind 254, length 8 (port + IPv4) or 20 (port + IPv6).
pub(super) fn toa(client: IpAddr, cport: u16) -> Vec<u8> {
    let mut o = vec![254, 0];
    o.extend_from_slice(&cport.to_be_bytes());
    match client {
        IpAddr::V4(a) => o.extend_from_slice(&a.octets()),
        IpAddr::V6(a) => o.extend_from_slice(&a.octets()),
    }
    o[1] = u8::try_from(o.len()).expect("len");
    o
}

/// MSS 1460.
pub(super) const MSS: [u8; 4] = [2, 4, 0x05, 0xb4];
/// 40 bytes of options: NOP NOP timestamps, NOP NOP SACK with three blocks (a full header).
pub(super) const FULL_OPTS: [u8; 40] = [
    1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, // timestamps
    1, 1, 5, 26, 0, 0, 0x10, 0, 0, 0, 0x11, 0, 0, 0, 0x20, 0, 0, 0, 0x21, 0, 0, 0, 0x30, 0, 0, 0,
    0x31, 0, // SACK
];

/// A Linux client's SYN options: MSS, SACK permitted, timestamps, NOP, window scale (20 bytes;
/// with an IPv6 TOA the header reaches exactly 60 bytes).
pub(super) const LINUX_SYN_OPTS: [u8; 20] = [
    2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
];

/// Pad a frame to the 60-byte Ethernet minimum, as NICs deliver short frames; the padding is
/// not zero so that a rewrite mistaking it for payload shows.
pub(super) fn pad(mut f: Vec<u8>) -> Vec<u8> {
    if f.len() < 60 {
        f.resize(60, 0xee);
    }
    f
}

/// Zero the UDP checksum of an untagged IPv4 frame without IP options ("no checksum").
pub(super) fn zero_udp_csum(mut f: Vec<u8>) -> Vec<u8> {
    f[14 + 20 + 6] = 0;
    f[14 + 20 + 7] = 0;
    f
}

/// "Packet too big" for the family: ICMP 3/4 or ICMPv6 2/0, with `mtu`.
pub(super) fn too_big(v6: bool, mtu: u16) -> (u8, u8, [u8; 4]) {
    let m = mtu.to_be_bytes();
    if v6 {
        (2, 0, [0, 0, m[0], m[1]])
    } else {
        (3, 4, [0, 0, m[0], m[1]])
    }
}

/// "Port unreachable" for the family: ICMP 3/3 or ICMPv6 1/4.
pub(super) fn port_unreachable(v6: bool) -> (u8, u8, [u8; 4]) {
    if v6 {
        (1, 4, [0; 4])
    } else {
        (3, 3, [0; 4])
    }
}

/// The table under construction, with the FullNAT local-port counters.
pub(super) struct Table {
    pub(super) cases: Vec<Case>,
    /// The first FullNAT local port of the worker running the table.
    pub(super) lport: u16,
    /// Step between this worker's local ports (the number of workers).
    pub(super) lport_step: u16,
    /// Per reply tuple without its local port (local address, real server, its port, TCP or
    /// not): the flows that took a port from its pool so far.
    pub(super) pools: std::collections::HashMap<(IpAddr, IpAddr, u16, bool), u16>,
}

impl Table {
    pub(super) fn new(first_lport: u16, step: u16) -> Table {
        Table {
            cases: Vec::new(),
            lport: first_lport,
            lport_step: step,
            pools: Default::default(),
        }
    }

    /// The local port the next FullNAT flow from `laddr` to `rs:rport` (TCP or not) gets: the
    /// next of that pool's (see the module docs).
    pub(super) fn next_lport(&mut self, laddr: IpAddr, rs: IpAddr, rport: u16, tcp: bool) -> u16 {
        let n = self.pools.entry((laddr, rs, rport, tcp)).or_insert(0);
        let p = self.lport + *n * self.lport_step;
        *n += 1;
        p
    }

    pub(super) fn push(
        &mut self,
        name: &'static str,
        in_port: PortIdx,
        input: Vec<u8>,
        expect: Expect,
    ) {
        self.cases.push(Case {
            name,
            in_port,
            input,
            expect,
        });
    }

    pub(super) fn tx(
        &mut self,
        name: &'static str,
        in_port: PortIdx,
        input: &Pkt,
        port: PortIdx,
        out: &Pkt,
    ) {
        self.push(
            name,
            in_port,
            input.frame(),
            Expect::Tx {
                port,
                frame: out.frame(),
            },
        );
    }

    pub(super) fn drop(
        &mut self,
        name: &'static str,
        in_port: PortIdx,
        input: Vec<u8>,
        r: DropReason,
    ) {
        self.push(name, in_port, input, Expect::Drop(r));
    }
}
