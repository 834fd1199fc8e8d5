//! The checksum oracle of the fuzz harness: a frame whose IP and L4 checksums were all correct
//! when it arrived must leave with all of them correct, whatever the pipeline rewrote (addresses,
//! ports, TTL, TOA options, ICMP quotes, IP-in-IP). The pipeline never verifies checksums on
//! receive (NICs do that), so a frame that arrived broken may leave broken: only good-in is
//! held to good-out.
//!
//! Written on raw offsets rather than the wire views on purpose: the oracle must not share the
//! code it checks.

use core::net::{Ipv4Addr, Ipv6Addr};

use crate::wire::checksum::{ipv4_header_ok, l4_verify_v4, l4_verify_v6};

const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMP: u8 = 1;
const ICMPV6: u8 = 58;
const IPIP: u8 = 4;

/// Return `Some(true)` when every checksum of the frame that can be verified is correct,
/// `Some(false)` when one is wrong, `None` when the frame is not an IP packet the oracle reads
/// (ARP, truncated, IPv6 extension headers, fragments are checked at the IP layer only).
pub fn frame_checksums_ok(d: &[u8]) -> Option<bool> {
    let l3 = match d.get(12..14)? {
        [0x81, 0x00] => 18,
        _ => 14,
    };
    let ethertype = d.get(l3 - 2..l3)?;
    match ethertype {
        [0x08, 0x00] => ipv4_ok(d.get(l3..)?),
        [0x86, 0xdd] => ipv6_ok(d.get(l3..)?),
        _ => None,
    }
}

fn ipv4_ok(p: &[u8]) -> Option<bool> {
    let ihl = usize::from(*p.first()? & 0xf) * 4;
    let total = usize::from(u16::from_be_bytes([*p.get(2)?, *p.get(3)?]));
    if *p.first()? >> 4 != 4 || ihl < 20 || total < ihl || total > p.len() {
        return None;
    }
    if !ipv4_header_ok(&p[..ihl]) {
        return Some(false);
    }
    let frag = u16::from_be_bytes([p[6], p[7]]);
    if frag & 0x3fff != 0 {
        // A fragment: its L4 checksum covers the whole datagram.
        return Some(true);
    }
    let src = Ipv4Addr::new(p[12], p[13], p[14], p[15]);
    let dst = Ipv4Addr::new(p[16], p[17], p[18], p[19]);
    let seg = &p[ihl..total];
    match p[9] {
        TCP if seg.len() >= 20 => Some(l4_verify_v4(src, dst, TCP, seg)),
        // A zero UDP checksum over IPv4 means "none".
        UDP if seg.len() >= 8 => Some(seg[6..8] == [0, 0] || l4_verify_v4(src, dst, UDP, seg)),
        ICMP if seg.len() >= 8 => Some(crate::wire::checksum::sum(seg) == 0xffff),
        IPIP => ipv4_ok(seg),
        _ => None,
    }
}

fn ipv6_ok(p: &[u8]) -> Option<bool> {
    if p.len() < 40 || p[0] >> 4 != 6 {
        return None;
    }
    let plen = usize::from(u16::from_be_bytes([p[4], p[5]]));
    let seg = p.get(40..40 + plen)?;
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&p[8..24]).ok()?);
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&p[24..40]).ok()?);
    match p[6] {
        TCP if seg.len() >= 20 => Some(l4_verify_v6(&src, &dst, TCP, seg)),
        // Zero is no checksum, which IPv6 forbids (RFC 8200 §8.1).
        UDP if seg.len() >= 8 => Some(seg[6..8] != [0, 0] && l4_verify_v6(&src, &dst, UDP, seg)),
        ICMPV6 if seg.len() >= 8 => Some(l4_verify_v6(&src, &dst, ICMPV6, seg)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::checksum::{ipv4_header_checksum, l4_checksum_v4};

    fn udp_frame() -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 8 + 4];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let ip = &mut f[14..];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&32u16.to_be_bytes());
        ip[8] = 64;
        ip[9] = UDP;
        ip[12..16].copy_from_slice(&[198, 18, 0, 2]);
        ip[16..20].copy_from_slice(&[198, 18, 0, 100]);
        let c = ipv4_header_checksum(&ip[..20]);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        let seg = &mut ip[20..];
        seg[0..2].copy_from_slice(&1000u16.to_be_bytes());
        seg[2..4].copy_from_slice(&53u16.to_be_bytes());
        seg[4..6].copy_from_slice(&12u16.to_be_bytes());
        seg[8..12].copy_from_slice(b"ping");
        let src = Ipv4Addr::new(198, 18, 0, 2);
        let dst = Ipv4Addr::new(198, 18, 0, 100);
        let c = l4_checksum_v4(src, dst, UDP, seg);
        seg[6..8].copy_from_slice(&c.to_be_bytes());
        f
    }

    #[test]
    fn a_correct_frame_passes_and_any_flipped_byte_of_ip_or_udp_fails() {
        let f = udp_frame();
        assert_eq!(frame_checksums_ok(&f), Some(true));
        // Every byte the checksums cover, except the TTL-free ones that cancel out, breaks it.
        for i in 14..f.len() {
            let mut g = f.clone();
            g[i] ^= 0x01;
            assert_ne!(
                frame_checksums_ok(&g),
                Some(true),
                "flipped byte {i} still passes"
            );
        }
    }

    #[test]
    fn a_zero_udp_checksum_over_ipv4_means_none() {
        let mut f = udp_frame();
        f[14 + 20 + 6..14 + 20 + 8].copy_from_slice(&[0, 0]);
        assert_eq!(frame_checksums_ok(&f), Some(true));
    }

    #[test]
    fn arp_and_truncated_frames_are_not_judged() {
        let mut arp = vec![0u8; 42];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(frame_checksums_ok(&arp), None);
        let f = udp_frame();
        assert_eq!(frame_checksums_ok(&f[..30]), None);
    }
}
