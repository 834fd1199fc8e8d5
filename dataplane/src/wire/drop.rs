//! Every reason the fast path drops a packet, as one closed enum.
//!
//! Each variant maps 1:1 to a slot of a per-lcore counter array ([`DropReason::index`]) and to
//! the Prometheus `reason` label ([`DropReason::as_str`]). The enum is `Copy`, carries no data
//! and never allocates, so it is cheap to return from every parse step (STYLE rule 6).
//!
//! The list is defined once, in the `drop_reasons!` invocation below, so `ALL`, `COUNT`,
//! `as_str` and `index` cannot drift apart.

macro_rules! drop_reasons {
    ( $( $(#[doc = $doc:expr])+ $name:ident => $label:literal, )+ ) => {
        /// Why a packet was dropped; one per-lcore counter per variant.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum DropReason {
            $( $(#[doc = $doc])+ $name, )+
        }

        impl DropReason {
            /// Number of drop reasons (the length of a per-reason counter array).
            pub const COUNT: usize = [$( $label ),+].len();

            /// Every drop reason, in `index()` order.
            pub const ALL: [DropReason; Self::COUNT] = [$( DropReason::$name ),+];

            /// Return the snake_case label used as the Prometheus `reason` label.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( DropReason::$name => $label, )+
                }
            }
        }
    };
}

drop_reasons! {
    // ---- Ethernet / ARP ----
    /// Frame shorter than the 14-byte Ethernet header.
    TruncatedEthernet => "truncated_ethernet",
    /// 802.1Q tag announced but the frame ends inside it.
    TruncatedVlan => "truncated_vlan",
    /// EtherType (after at most one VLAN tag) is not IPv4, IPv6 or ARP.
    UnsupportedEthertype => "unsupported_ethertype",
    /// ARP packet shorter than 28 bytes.
    TruncatedArp => "truncated_arp",
    /// ARP that is not Ethernet/IPv4 (hardware/protocol type or address lengths).
    MalformedArp => "malformed_arp",
    // ---- IPv4 ----
    /// Buffer shorter than the 20-byte IPv4 header (or the IHL-sized header of a quote).
    TruncatedIpv4 => "truncated_ipv4",
    /// IPv4 version field is not 4.
    BadIpv4Version => "bad_ipv4_version",
    /// IHL below 5 or larger than the total length.
    BadIpv4Ihl => "bad_ipv4_ihl",
    /// Total length larger than the buffer.
    BadIpv4TotalLen => "bad_ipv4_total_len",
    /// IPv4 header checksum does not verify.
    BadIpv4Checksum => "bad_ipv4_checksum",
    /// IPv4 fragment (MF set or offset non-zero) of a protocol other than TCP and UDP; the
    /// gateway does not reassemble.
    Ipv4Fragment => "ipv4_fragment",
    // ---- IPv6 ----
    /// Buffer shorter than the 40-byte IPv6 header.
    TruncatedIpv6 => "truncated_ipv6",
    /// IPv6 version field is not 6.
    BadIpv6Version => "bad_ipv6_version",
    /// Payload length runs past the buffer.
    BadIpv6PayloadLen => "bad_ipv6_payload_len",
    /// More extension headers than the walker accepts (also catches repeated headers).
    Ipv6ExtHeaderChainTooLong => "ipv6_ext_header_chain_too_long",
    /// An extension header runs past the payload.
    TruncatedIpv6ExtHeader => "truncated_ipv6_ext_header",
    /// IPv6 Fragment header of a protocol other than TCP and UDP; the gateway does not
    /// reassemble.
    Ipv6Fragment => "ipv6_fragment",
    /// A TCP/UDP fragment no datagram has: its end past 65535 bytes, a non-last fragment not a
    /// multiple of 8 bytes, a TCP fragment at offset 8 (RFC 1858), two IPv6 Fragment headers;
    /// and a first fragment of a PROXY protocol session (it cannot grow by the header).
    FragmentBad => "fragment_bad",
    /// A later fragment (offset non-zero) whose first fragment this worker has not forwarded:
    /// it came first, was lost or dropped, or went to another worker. No reassembly.
    FragmentNoSession => "fragment_no_session",
    /// A later fragment whose first fragment's entry has expired.
    FragmentExpired => "fragment_expired",
    // ---- L4 ----
    /// Segment shorter than the 20-byte TCP header.
    TruncatedTcp => "truncated_tcp",
    /// TCP data offset below 5 or past the end of the segment.
    BadTcpDataOffset => "bad_tcp_data_offset",
    /// TCP option list malformed (length 0/1, past the end, wrong length for its kind).
    BadTcpOptions => "bad_tcp_options",
    /// TCP checksum does not verify. Checked where the gateway is the TCP endpoint (the SYN
    /// proxy's SYN and cookie ACK); forwarded segments are left to the real server to check.
    BadTcpChecksum => "bad_tcp_checksum",
    /// Datagram shorter than the 8-byte UDP header.
    TruncatedUdp => "truncated_udp",
    /// UDP length field below 8 or past the end of the IP payload.
    BadUdpLength => "bad_udp_length",
    /// UDP checksum does not verify (or is zero over IPv6).
    BadUdpChecksum => "bad_udp_checksum",
    /// ICMP/ICMPv6 message shorter than its 8-byte header.
    TruncatedIcmp => "truncated_icmp",
    /// ICMP error whose quoted inner IP header + 8 bytes is missing or malformed.
    BadIcmpInner => "bad_icmp_inner",
    /// ICMP/ICMPv6 checksum does not verify.
    BadIcmpChecksum => "bad_icmp_checksum",
    /// ICMP type the gateway does not handle (redirects, router adverts, …).
    UnsupportedIcmpType => "unsupported_icmp_type",
    /// IP protocol is not TCP, UDP, ICMP or ICMPv6.
    UnsupportedL4Proto => "unsupported_l4_proto",
    /// TTL / hop limit would reach zero when forwarded.
    TtlExceeded => "ttl_exceeded",
    // ---- Pipeline ----
    /// Destination is neither a VIP nor a local address.
    NotForUs => "not_for_us",
    /// Destination address matches but no virtual service listens on that port/protocol.
    NoService => "no_service",
    /// The service has no available backend.
    NoBackend => "no_backend",
    /// A TCP segment without SYN (or with ACK/RST) would create a new session: the service is
    /// strict (`sloppy_tcp` off, or its scheduler or forwarding is not the same on every
    /// gateway), or the segment is a RST.
    NotSynForNewTcp => "not_syn_for_new_tcp",
    /// A reply or ICMP error arrived for a flow with no session.
    NoSession => "no_session",
    /// The per-lcore session table is full.
    SessionTableFull => "session_table_full",
    /// The new-connection rate guard (SYN flood) skipped the session insert and the packet.
    FlowGuardSkip => "flow_guard_skip",
    /// No route to the next hop.
    NoRoute => "no_route",
    /// The next hop's MAC address is not resolved yet (and the packet was not queued).
    NeighbourUnresolved => "neighbour_unresolved",
    /// The queue of packets waiting for neighbour resolution is full.
    NeighbourQueueFull => "neighbour_queue_full",
    /// The packet (after encapsulation or option insertion) exceeds the egress MTU.
    MtuExceeded => "mtu_exceeded",
    /// A packet larger than the egress MTU that the gateway would fragment (Don't Fragment
    /// clear) but cannot: IPv4 options, IPv6 extension headers (see `wire::fragmenter`).
    CannotFragment => "cannot_fragment",
    /// No buffer (or no room in the burst) for the fragments of a packet being fragmented.
    FragmentNoBuffer => "fragment_no_buffer",
    /// The TX ring was full after the retry.
    TxRingFull => "tx_ring_full",
    /// The ring redirecting a packet to the lcore that owns its session was full.
    RedirectRingFull => "redirect_ring_full",
    /// The ring punting a packet to the control plane (ARP, NDP, local) was full.
    PuntRingFull => "punt_ring_full",
    /// FullNAT ran out of local address/port pairs.
    LocalPortsExhausted => "local_ports_exhausted",
    /// No room in the TCP header to insert the TOA option.
    TcpOptionSpaceFull => "tcp_option_space_full",
    /// The mbuf has more than one segment.
    MultiSegment => "multi_segment",
    /// The service is draining: existing sessions only, new connections refused.
    ServiceDraining => "service_draining",
    // Admission control (new flows only; a refused TCP SYN is dropped, as LVS does).
    /// The client's longest matching prefix is in a deny list (the service's or the global).
    ClientDenied => "client_denied",
    /// An allow list is set (the service's or the global) and no prefix of it covers the client.
    ClientNotAllowed => "client_not_allowed",
    /// The service's new-connection rate (`max_new_per_s`, this worker's share) is spent.
    NewConnRateLimit => "new_conn_rate_limit",
    /// The service holds `max_conns` connections (this worker's share) already.
    ConnLimit => "conn_limit",
    /// An ICMP error the gateway would send itself (fragmentation needed) is over the
    /// `icmp_errors_per_s` rate; the packet that caused it is dropped.
    IcmpRateLimit => "icmp_rate_limit",
    /// An ICMP error quotes a flow with no session.
    IcmpNoSession => "icmp_no_session",
    /// The forwarding method does not support this address family (TUN over IPv6).
    UnsupportedMode => "unsupported_mode",
    /// TUN needs an IPv4 address on the egress port for the outer header, and there is none.
    TunNoSource => "tun_no_source",
    /// A packet of an established session whose backend is down (health check) or gone from
    /// its service, under the `drop` session policy; the session is removed with it.
    BackendDown => "backend_down",
    /// No room (MTU or buffer) to insert the PROXY protocol header in front of the client's
    /// first segment.
    ProxyHeaderNoRoom => "proxy_header_no_room",
    // SYN proxy (`crate::forward::synproxy`).
    /// An ACK to a SYN-proxied service with no session whose cookie does not decode under
    /// either secret (forged, for another connection, or an ACK storm's).
    SynProxyCookieBad => "syn_proxy_cookie_bad",
    /// An ACK to a SYN-proxied service whose cookie is older than its lifetime (64-128 s).
    SynProxyCookieStale => "syn_proxy_cookie_stale",
    /// A client segment while the server leg opens, not held and not due a SYN retransmission
    /// (at most one held segment and one SYN a second per connection).
    SynProxyPending => "syn_proxy_pending",
    /// A server segment of a connection whose server leg is opening that is not the SYN-ACK
    /// (or RST) to our SYN.
    SynProxyServerBad => "syn_proxy_server_bad",
}

impl DropReason {
    /// Return the dense index `0..COUNT` of this reason, for a counter array.
    #[inline]
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl core::fmt::Display for DropReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn test_index_is_dense_and_ordered() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
        assert_eq!(DropReason::ALL.len(), DropReason::COUNT);
    }

    #[test]
    fn test_labels_unique_snake_case() {
        let mut seen = HashSet::new();
        for r in DropReason::ALL {
            let s = r.as_str();
            assert!(seen.insert(s), "duplicate label {s}");
            assert!(!s.is_empty());
            assert!(s
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
            assert!(!s.starts_with('_') && !s.ends_with('_') && !s.contains("__"));
        }
        assert_eq!(DropReason::TruncatedIpv4.as_str(), "truncated_ipv4");
        assert_eq!(DropReason::TruncatedIpv4.to_string(), "truncated_ipv4");
    }

    #[test]
    fn test_label_matches_variant_name() {
        // The label is the variant name in snake_case.
        for r in DropReason::ALL {
            let name = format!("{r:?}");
            let mut snake = String::new();
            for (i, c) in name.chars().enumerate() {
                if c.is_ascii_uppercase() {
                    if i != 0 {
                        snake.push('_');
                    }
                    snake.push(c.to_ascii_lowercase());
                } else {
                    snake.push(c);
                }
            }
            assert_eq!(snake, r.as_str());
        }
    }
}
