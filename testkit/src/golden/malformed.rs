//! Malformed and unsupported frames: dropped and counted by reason, never forwarded.

use super::*;

/// Recompute the IPv4 header checksum of a frame's (untagged) IPv4 header in place.
pub(super) fn fix_ipv4_checksum(frame: &mut [u8]) {
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    frame[24] = 0;
    frame[25] = 0;
    let mut sum = 0u32;
    for w in frame[14..14 + ihl].chunks(2) {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let c = !(sum as u16);
    frame[24..26].copy_from_slice(&c.to_be_bytes());
}

pub(super) fn malformed(t: &mut Table) {
    let v4 = fam(false);
    let v6 = fam(true);
    let good4 = Pkt::tcp(v4.client, 40200, v4.nat, 80, SYN).frame();
    let good6 = Pkt::tcp(v6.client, 40200, v6.nat, 80, SYN).frame();
    let udp4 = Pkt::udp(v4.client, 40200, v4.nat, 53).frame();

    t.drop(
        "truncated ethernet",
        0,
        good4[..10].to_vec(),
        DropReason::TruncatedEthernet,
    );
    t.drop(
        "truncated ipv4 header",
        0,
        good4[..14 + 12].to_vec(),
        DropReason::TruncatedIpv4,
    );
    t.drop(
        "truncated ipv6 header",
        0,
        good6[..14 + 30].to_vec(),
        DropReason::TruncatedIpv6,
    );
    // Total length says 20 + 10: a 10-byte TCP header.
    let mut f = good4[..14 + 30].to_vec();
    f[16..18].copy_from_slice(&30u16.to_be_bytes());
    fix_ipv4_checksum(&mut f);
    t.drop("truncated tcp over ipv4", 0, f, DropReason::TruncatedTcp);
    let mut f = good6[..14 + 40 + 10].to_vec();
    f[18..20].copy_from_slice(&10u16.to_be_bytes());
    t.drop("truncated tcp over ipv6", 0, f, DropReason::TruncatedTcp);
    let mut f = udp4[..14 + 24].to_vec();
    f[16..18].copy_from_slice(&24u16.to_be_bytes());
    fix_ipv4_checksum(&mut f);
    t.drop("truncated udp over ipv4", 0, f, DropReason::TruncatedUdp);
    let mut f = good4.clone();
    f[14] = 0x44;
    fix_ipv4_checksum(&mut f);
    t.drop("ipv4 ihl below 5", 0, f, DropReason::BadIpv4Ihl);
    let mut f = good4.clone();
    f[16..18].copy_from_slice(&100u16.to_be_bytes());
    fix_ipv4_checksum(&mut f);
    t.drop(
        "ipv4 total length past the frame",
        0,
        f,
        DropReason::BadIpv4TotalLen,
    );
    let mut f = good4.clone();
    f[25] ^= 0x01;
    t.drop(
        "bad ipv4 header checksum",
        0,
        f,
        DropReason::BadIpv4Checksum,
    );
    // More-fragments set (first fragment) on 20 bytes: a non-last fragment must be a multiple
    // of 8 bytes.
    let mut f = good4.clone();
    f[20] |= 0x20;
    fix_ipv4_checksum(&mut f);
    t.drop("ipv4 fragment of odd length", 0, f, DropReason::FragmentBad);
    // A fragment of a protocol other than TCP and UDP (GRE): not forwarded.
    let mut f = good4.clone();
    f[20] |= 0x20;
    f[14 + 9] = 47;
    f.truncate(14 + 20 + 16);
    f[16..18].copy_from_slice(&36u16.to_be_bytes());
    fix_ipv4_checksum(&mut f);
    t.drop("ipv4 gre fragment", 0, f, DropReason::Ipv4Fragment);
    // IPv6 with a Fragment header (next header 44, more fragments) in front of a GRE header.
    let mut f = good6[..14 + 40].to_vec();
    f[14 + 6] = 44;
    f[18..20].copy_from_slice(&(8u16 + 16).to_be_bytes());
    f.extend_from_slice(&[47, 0, 0, 1, 0, 0, 0, 1]);
    f.extend_from_slice(&good6[14 + 40..14 + 56]);
    t.drop("ipv6 gre fragment", 0, f, DropReason::Ipv6Fragment);
    let mut f = good4.clone();
    f[14 + 20 + 12] = 0x40;
    t.drop(
        "tcp data offset below 5",
        0,
        f,
        DropReason::BadTcpDataOffset,
    );
    let mut f = good4.clone();
    f[14] = 0x65;
    t.drop(
        "ipv4 ethertype with version 6",
        0,
        f,
        DropReason::BadIpv4Version,
    );
    let mut f = good6.clone();
    f[18..20].copy_from_slice(&100u16.to_be_bytes());
    t.drop(
        "ipv6 payload length past the frame",
        0,
        f,
        DropReason::BadIpv6PayloadLen,
    );
    let mut f = udp4.clone();
    f[14 + 20 + 4..14 + 20 + 6].copy_from_slice(&200u16.to_be_bytes());
    t.drop(
        "udp length past the ip payload",
        0,
        f,
        DropReason::BadUdpLength,
    );
    // GRE (47) to a VIP.
    let mut f = good4.clone();
    f[14 + 9] = 47;
    fix_ipv4_checksum(&mut f);
    t.drop("gre to a vip", 0, f, DropReason::UnsupportedL4Proto);
    // LLDP.
    let f = eth(
        [1, 0x80, 0xc2, 0, 0, 0x0e],
        CLIENT_MAC,
        EtherType(0x88cc),
        &[0; 46],
    );
    t.drop("lldp frame", 0, f, DropReason::UnsupportedEthertype);
}
