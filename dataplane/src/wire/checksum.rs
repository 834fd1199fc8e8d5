//! The Internet checksum (RFC 1071), full and incremental (RFC 1624).
//!
//! Conventions:
//! - a *sum* is the folded 16-bit one's-complement sum of big-endian 16-bit words (never
//!   complemented); a *checksum* is its complement, as stored in a header;
//! - data is summed as if it started at an even offset; an odd trailing byte is padded with a
//!   zero low-order byte (RFC 1071 §4.1);
//! - "compute" functions expect the checksum field of the data to be zero; "verify" functions
//!   sum the data with its checksum field and expect `0xffff`.
//!
//! Incremental updates use RFC 1624 eqn. 3, `HC' = ~(~HC + ~m + m')`, which (unlike eqn. 2 of
//! RFC 1141) never produces `0xffff` where a full recomputation yields `0x0000`. They are
//! property-tested against full recomputation below. NAT and FullNAT call only these helpers
//! (STYLE rule 15).
//!
//! UDP is special: over IPv4 a transmitted checksum of 0 means "none" (so an update must leave
//! it 0) and over IPv6 0 is invalid; in both a computed 0 is sent as `0xffff` (RFC 768,
//! RFC 8200 §8.1). Use the `udp_*` helpers for UDP.

use core::net::{Ipv4Addr, Ipv6Addr};

/// Fold a wide one's-complement accumulator down to 16 bits.
///
/// Four fixed steps, no loop: after the 32-bit step the value is below 2^33, after the next
/// below 2^18, then at most 0x10002, and the last leaves at most 0xffff. A step on a value that
/// already fits changes nothing, so this equals folding until it fits (a test checks it), in
/// straight-line code that every checksum update on the per-packet path runs.
#[inline]
pub const fn fold(acc: u64) -> u16 {
    let a = (acc & 0xffff_ffff) + (acc >> 32);
    let a = (a & 0xffff) + (a >> 16);
    let a = (a & 0xffff) + (a >> 16);
    let a = (a & 0xffff) + (a >> 16);
    a as u16
}

/// Add two 16-bit one's-complement sums.
#[inline]
pub const fn add(a: u16, b: u16) -> u16 {
    fold(a as u64 + b as u64)
}

/// Return the 16-bit one's-complement sum of `data` (not complemented).
#[inline]
pub fn sum(data: &[u8]) -> u16 {
    let mut acc: u64 = 0;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        // Summing 32-bit big-endian words and folding is equivalent to summing 16-bit words,
        // because 2^16 == 1 modulo 0xffff.
        acc += u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    }
    let rest = chunks.remainder();
    let mut i = 0;
    while i + 1 < rest.len() {
        acc += u64::from(u16::from_be_bytes([rest[i], rest[i + 1]]));
        i += 2;
    }
    if i < rest.len() {
        acc += u64::from(rest[i]) << 8;
    }
    fold(acc)
}

/// Return the Internet checksum of `data`: the complement of its one's-complement sum.
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    !sum(data)
}

// ---------------------------------------------------------------------------------------------
// IPv4 header

/// Offset of the checksum field in an IPv4 header.
const IPV4_CSUM: usize = 10;

/// Compute the IPv4 header checksum, ignoring whatever the checksum field holds.
///
/// # Panics
/// If `header.len() < 12`.
#[inline]
pub fn ipv4_header_checksum(header: &[u8]) -> u16 {
    !add(sum(&header[..IPV4_CSUM]), sum(&header[IPV4_CSUM + 2..]))
}

/// [`ipv4_header_ok`] for a header without options, in straight-line code (the parser's fast
/// path).
#[inline(always)]
pub fn ipv4_header_ok_20(h: &[u8; 20]) -> bool {
    let w = |i: usize| u64::from(u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]));
    fold(w(0) + w(4) + w(8) + w(12) + w(16)) == 0xffff
}

/// [`ipv4_header_checksum`] of a header without options (20 bytes): always inlined, so a
/// header the worker emits per packet (TUN's outer header) sums five words, not a loop over a
/// slice of unknown length (callgrind `hot_ir tun ack`: +49 instructions a packet when the
/// compiler stopped inlining the general one into the encapsulation).
#[inline(always)]
pub fn ipv4_header_checksum_20(h: &[u8; 20]) -> u16 {
    let w = |i: usize| u64::from(u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]));
    // Bytes 10-11 are the checksum itself: of the third word only TTL and protocol count.
    let ttl_proto = u64::from(u16::from_be_bytes([h[8], h[9]]));
    !fold(w(0) + w(4) + ttl_proto + w(12) + w(16))
}

/// Return true when the IPv4 header (checksum field included) verifies.
#[inline]
pub fn ipv4_header_ok(header: &[u8]) -> bool {
    sum(header) == 0xffff
}

// ---------------------------------------------------------------------------------------------
// Pseudo-headers

/// Return the sum of the IPv4 pseudo-header (RFC 793 §3.1, RFC 768).
#[inline]
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, l4_len: u16) -> u16 {
    let acc =
        u64::from(src.to_bits()) + u64::from(dst.to_bits()) + u64::from(proto) + u64::from(l4_len);
    fold(acc)
}

/// Return the sum of the IPv6 pseudo-header (RFC 8200 §8.1).
#[inline]
pub fn pseudo_header_v6(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: u8, l4_len: u32) -> u16 {
    let s = src.to_bits();
    let d = dst.to_bits();
    let mut acc: u64 =
        u64::from(next_header) + (u64::from(l4_len) >> 16) + u64::from(l4_len & 0xffff);
    for v in [s, d] {
        acc += (v >> 96) as u64 & 0xffff_ffff;
        acc += (v >> 64) as u64 & 0xffff_ffff;
        acc += (v >> 32) as u64 & 0xffff_ffff;
        acc += v as u64 & 0xffff_ffff;
    }
    fold(acc)
}

/// Compute a TCP/UDP/ICMPv6-style checksum of `segment` (checksum field zeroed) over IPv4.
///
/// `segment.len()` must fit the 16-bit pseudo-header length, which IPv4 guarantees.
#[inline]
pub fn l4_checksum_v4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, segment: &[u8]) -> u16 {
    let len = u16::try_from(segment.len()).unwrap_or(u16::MAX);
    !add(pseudo_header_v4(src, dst, proto, len), sum(segment))
}

/// Compute a TCP/UDP/ICMPv6 checksum of `segment` (checksum field zeroed) over IPv6.
#[inline]
pub fn l4_checksum_v6(src: &Ipv6Addr, dst: &Ipv6Addr, proto: u8, segment: &[u8]) -> u16 {
    let len = u32::try_from(segment.len()).unwrap_or(u32::MAX);
    !add(pseudo_header_v6(src, dst, proto, len), sum(segment))
}

/// Return true when `segment` (checksum field included) verifies over IPv4.
#[inline]
pub fn l4_verify_v4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, segment: &[u8]) -> bool {
    l4_checksum_v4(src, dst, proto, segment) == 0
}

/// Return true when `segment` (checksum field included) verifies over IPv6.
#[inline]
pub fn l4_verify_v6(src: &Ipv6Addr, dst: &Ipv6Addr, proto: u8, segment: &[u8]) -> bool {
    l4_checksum_v6(src, dst, proto, segment) == 0
}

/// Map a computed UDP checksum to the value to transmit: 0 becomes `0xffff` (RFC 768).
#[inline]
pub const fn udp_on_wire(csum: u16) -> u16 {
    if csum == 0 {
        0xffff
    } else {
        csum
    }
}

// ---------------------------------------------------------------------------------------------
// Incremental update (RFC 1624)

/// Update `csum` after a 16-bit word of the covered data changed from `old` to `new`.
#[inline]
pub const fn update16(csum: u16, old: u16, new: u16) -> u16 {
    // HC' = ~(~HC + ~m + m')
    !fold(!csum as u64 + !old as u64 + new as u64)
}

/// Update `csum` after a 32-bit aligned field (an IPv4 address) changed from `old` to `new`.
#[inline]
pub const fn update32(csum: u16, old: u32, new: u32) -> u16 {
    let acc = !csum as u64
        + (!(old >> 16) & 0xffff) as u64
        + (!old & 0xffff) as u64
        + (new >> 16) as u64
        + (new & 0xffff) as u64;
    !fold(acc)
}

/// Update `csum` after bytes at an even offset of the covered data changed from `old` to `new`
/// (an IPv6 address, a MAC-free run of fields).
///
/// Both slices must have the same length; if they do not, only the common prefix is used.
#[inline]
pub fn update_bytes(csum: u16, old: &[u8], new: &[u8]) -> u16 {
    let n = old.len().min(new.len());
    // ~m summed over words == ~(sum of m) in one's-complement arithmetic.
    let acc = u64::from(!csum) + u64::from(!sum(&old[..n])) + u64::from(sum(&new[..n]));
    !fold(acc)
}

/// Update a TCP checksum after an IPv4 pseudo-header address changed.
#[inline]
pub const fn update_pseudo_v4(csum: u16, old: Ipv4Addr, new: Ipv4Addr) -> u16 {
    update32(csum, old.to_bits(), new.to_bits())
}

/// Update a TCP/ICMPv6 checksum after an IPv6 pseudo-header address changed.
#[inline]
pub fn update_pseudo_v6(csum: u16, old: &Ipv6Addr, new: &Ipv6Addr) -> u16 {
    update_bytes(csum, &old.octets(), &new.octets())
}

/// [`update16`] for a UDP checksum over IPv4: 0 ("no checksum") stays 0, a result of 0 is
/// sent as `0xffff`.
#[inline]
pub const fn udp_update16(csum: u16, old: u16, new: u16) -> u16 {
    if csum == 0 {
        0
    } else {
        udp_on_wire(update16(csum, old, new))
    }
}

/// [`update32`] for a UDP checksum over IPv4 (0 stays 0, a result of 0 becomes `0xffff`).
#[inline]
pub const fn udp_update32(csum: u16, old: u32, new: u32) -> u16 {
    if csum == 0 {
        0
    } else {
        udp_on_wire(update32(csum, old, new))
    }
}

/// [`update_bytes`] for a UDP checksum over IPv6 (a result of 0 becomes `0xffff`).
#[inline]
pub fn udp_update_bytes(csum: u16, old: &[u8], new: &[u8]) -> u16 {
    udp_on_wire(update_bytes(csum, old, new))
}

/// Update a UDP-over-IPv4 checksum after a pseudo-header address changed.
#[inline]
pub const fn udp_update_pseudo_v4(csum: u16, old: Ipv4Addr, new: Ipv4Addr) -> u16 {
    udp_update32(csum, old.to_bits(), new.to_bits())
}

/// Update a UDP-over-IPv6 checksum after a pseudo-header address changed.
#[inline]
pub fn udp_update_pseudo_v6(csum: u16, old: &Ipv6Addr, new: &Ipv6Addr) -> u16 {
    udp_update_bytes(csum, &old.octets(), &new.octets())
}

/// An incremental update (RFC 1624 eqn. 3) over several changed fields, folded once: the same
/// checksum as one [`update16`]/[`update32`] per field in turn (each fold keeps the sum's value
/// modulo 0xffff and its non-zeroness, so folding once at the end gives the same
/// representative), for the rewrites that change a header's addresses, ports and TTL together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Update(u64);

impl Update {
    /// A 16-bit word goes from `old` to `new`.
    #[inline(always)]
    #[must_use]
    pub const fn word16(self, old: u16, new: u16) -> Update {
        Update(self.0 + (!old) as u64 + new as u64)
    }

    /// A 32-bit word goes from `old` to `new` (its two halves: `!old` as a 32-bit word is the
    /// sum of the halves' complements modulo 0xffff, as 2^16 == 1).
    #[inline(always)]
    #[must_use]
    pub const fn word32(self, old: u32, new: u32) -> Update {
        Update(self.0 + (!old) as u64 + new as u64)
    }

    /// A 128-bit word (an IPv6 address) goes from `old` to `new`.
    #[inline(always)]
    #[must_use]
    pub const fn word128(self, old: u128, new: u128) -> Update {
        let mut acc = self.0;
        let mut i = 0;
        while i < 4 {
            acc += (!(old >> (32 * i)) as u32) as u64 + ((new >> (32 * i)) as u32) as u64;
            i += 1;
        }
        Update(acc)
    }

    /// Apply to the checksum `csum`.
    #[inline(always)]
    pub const fn apply(self, csum: u16) -> u16 {
        !fold(!csum as u64 + self.0)
    }

    /// Apply to a UDP checksum: 0 ("none" over IPv4) stays 0, a computed 0 is sent as
    /// `0xffff` (as [`udp_update32`]).
    #[inline(always)]
    pub const fn apply_udp(self, csum: u16) -> u16 {
        if csum == 0 {
            0
        } else {
            udp_on_wire(self.apply(csum))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_20_byte_header_checksum_is_the_general_one() {
        use proptest::prelude::*;
        proptest!(|(h in any::<[u8; 20]>())| {
            prop_assert_eq!(super::ipv4_header_checksum_20(&h), super::ipv4_header_checksum(&h));
        });
    }

    use super::*;

    /// Fold until it fits, the definition.
    fn fold_loop(mut acc: u64) -> u16 {
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        acc as u16
    }

    #[test]
    fn test_fixed_fold_equals_folding_until_it_fits() {
        let mut edges = vec![
            0,
            1,
            0xffff,
            0x1_0000,
            0x1_fffe,
            0x1_ffff,
            0x2_fffd,
            u64::MAX,
        ];
        for k in [16, 17, 18, 31, 32, 33, 47, 48, 63] {
            edges.extend([
                (1u64 << k) - 1,
                1u64 << k,
                (1u64 << k) + 1,
                (1u64 << k) | 0xffff,
            ]);
        }
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..1_000_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Sums of up to a few thousand 32-bit words, and anything.
            edges.push(x >> (x % 40));
            edges.push(x);
        }
        for a in edges {
            assert_eq!(fold(a), fold_loop(a), "{a:#x}");
        }
    }
    use proptest::prelude::*;

    /// A 20-byte IPv4 header from RFC 1071-style examples (checksum 0xb861).
    const IPV4_HDR: [u8; 20] = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];

    #[test]
    fn test_rfc1071_example() {
        // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
        assert_eq!(
            sum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0xddf2
        );
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            !0xddf2
        );
    }

    #[test]
    fn test_odd_length() {
        assert_eq!(sum(&[0xab]), 0xab00);
        assert_eq!(sum(&[0x12, 0x34, 0xab]), 0x1234 + 0xab00);
        assert_eq!(sum(&[]), 0);
    }

    #[test]
    fn test_ipv4_header() {
        assert!(ipv4_header_ok(&IPV4_HDR));
        assert_eq!(ipv4_header_checksum(&IPV4_HDR), 0xb861);
        let mut h = IPV4_HDR;
        h[8] = 0x3f;
        assert!(!ipv4_header_ok(&h));
    }

    #[test]
    fn test_rfc1624_example() {
        // RFC 1624 §4: HC = 0xdd2f, m 0x5555 -> 0x3285 gives HC' = 0x0000.
        assert_eq!(update16(0xdd2f, 0x5555, 0x3285), 0x0000);
    }

    #[test]
    fn test_udp_zero_rules() {
        assert_eq!(udp_on_wire(0), 0xffff);
        assert_eq!(udp_update16(0, 1, 2), 0);
        assert_eq!(udp_update16(0xdd2f, 0x5555, 0x3285), 0xffff);
    }

    fn set16(b: &mut [u8], at: usize, v: u16) {
        b[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }

    fn get16(b: &[u8], at: usize) -> u16 {
        u16::from_be_bytes([b[at], b[at + 1]])
    }

    /// A random IPv4 header (IHL 5..=15) with a valid checksum.
    fn ipv4_header() -> impl Strategy<Value = Vec<u8>> {
        (5usize..=15).prop_flat_map(|ihl| {
            proptest::collection::vec(any::<u8>(), ihl * 4).prop_map(move |mut h| {
                h[0] = 0x40 | ihl as u8;
                h[10] = 0;
                h[11] = 0;
                let c = ipv4_header_checksum(&h);
                set16(&mut h, 10, c);
                h
            })
        })
    }

    proptest! {
        #[test]
        fn test_prop_update_matches_one_per_field(
            csum: u16, a: (u32, u32), b: (u32, u32), c: (u16, u16), v6: (u128, u128)
        ) {
            let step = update16(update32(update32(csum, a.0, a.1), b.0, b.1), c.0, c.1);
            let once = Update::default().word32(a.0, a.1).word32(b.0, b.1).word16(c.0, c.1);
            prop_assert_eq!(once.apply(csum), step);
            let (o, n) = (Ipv6Addr::from(v6.0), Ipv6Addr::from(v6.1));
            let step6 = update_pseudo_v6(update32(csum, a.0, a.1), &o, &n);
            let once6 = Update::default().word32(a.0, a.1).word128(v6.0, v6.1);
            prop_assert_eq!(once6.apply(csum), step6);
            let udp = udp_update16(udp_update32(csum, a.0, a.1), c.0, c.1);
            let once_udp = Update::default().word32(a.0, a.1).word16(c.0, c.1);
            prop_assert_eq!(once_udp.apply_udp(csum), udp);
        }

        #[test]
        fn test_prop_sum_matches_naive(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut acc: u32 = 0;
            for pair in data.chunks(2) {
                let w = if pair.len() == 2 { u16::from_be_bytes([pair[0], pair[1]]) } else { u16::from(pair[0]) << 8 };
                acc += u32::from(w);
                acc = (acc & 0xffff) + (acc >> 16);
            }
            prop_assert_eq!(sum(&data), acc as u16);
        }

        #[test]
        fn test_prop_ipv4_addr_rewrite(mut h in ipv4_header(), new_src: u32, new_dst: u32) {
            prop_assert!(ipv4_header_ok(&h));
            let old_src = u32::from_be_bytes([h[12], h[13], h[14], h[15]]);
            let old_dst = u32::from_be_bytes([h[16], h[17], h[18], h[19]]);
            let mut c = get16(&h, 10);
            c = update32(c, old_src, new_src);
            c = update32(c, old_dst, new_dst);
            h[12..16].copy_from_slice(&new_src.to_be_bytes());
            h[16..20].copy_from_slice(&new_dst.to_be_bytes());
            prop_assert_eq!(c, ipv4_header_checksum(&h));
            set16(&mut h, 10, c);
            prop_assert!(ipv4_header_ok(&h));
        }

        #[test]
        fn test_prop_ipv4_ttl_decrement(mut h in ipv4_header()) {
            prop_assume!(h[8] > 0);
            let old = get16(&h, 8);
            h[8] -= 1;
            let c = update16(get16(&h, 10), old, get16(&h, 8));
            prop_assert_eq!(c, ipv4_header_checksum(&h));
        }

        #[test]
        fn test_prop_tcp_v4_addr_port_rewrite(
            src: u32, dst: u32, new_src: u32, new_dport: u16,
            mut seg in proptest::collection::vec(any::<u8>(), 20..120),
        ) {
            let (src, dst, new_src) = (Ipv4Addr::from_bits(src), Ipv4Addr::from_bits(dst), Ipv4Addr::from_bits(new_src));
            set16(&mut seg, 16, 0);
            let c = l4_checksum_v4(src, dst, 6, &seg);
            set16(&mut seg, 16, c);
            prop_assert!(l4_verify_v4(src, dst, 6, &seg));
            // SNAT the source address and DNAT the destination port.
            let old_dport = get16(&seg, 2);
            let mut c2 = update_pseudo_v4(c, src, new_src);
            c2 = update16(c2, old_dport, new_dport);
            set16(&mut seg, 2, new_dport);
            set16(&mut seg, 16, 0);
            prop_assert_eq!(c2, l4_checksum_v4(new_src, dst, 6, &seg));
        }

        #[test]
        fn test_prop_udp_v4_rewrite(
            src: u32, dst: u32, new_dst: u32, new_sport: u16,
            mut seg in proptest::collection::vec(any::<u8>(), 8..120),
        ) {
            let (src, dst, new_dst) = (Ipv4Addr::from_bits(src), Ipv4Addr::from_bits(dst), Ipv4Addr::from_bits(new_dst));
            set16(&mut seg, 6, 0);
            let c = udp_on_wire(l4_checksum_v4(src, dst, 17, &seg));
            set16(&mut seg, 6, c);
            prop_assert!(l4_verify_v4(src, dst, 17, &seg));
            let old_sport = get16(&seg, 0);
            let mut c2 = udp_update_pseudo_v4(c, dst, new_dst);
            c2 = udp_update16(c2, old_sport, new_sport);
            set16(&mut seg, 0, new_sport);
            set16(&mut seg, 6, 0);
            prop_assert_eq!(c2, udp_on_wire(l4_checksum_v4(src, new_dst, 17, &seg)));
            set16(&mut seg, 6, c2);
            prop_assert!(l4_verify_v4(src, new_dst, 17, &seg));
        }

        #[test]
        fn test_prop_tcp_v6_addr_rewrite(
            src: u128, dst: u128, new_src: u128, new_dst: u128,
            mut seg in proptest::collection::vec(any::<u8>(), 20..120),
        ) {
            let (src, dst) = (Ipv6Addr::from_bits(src), Ipv6Addr::from_bits(dst));
            let (new_src, new_dst) = (Ipv6Addr::from_bits(new_src), Ipv6Addr::from_bits(new_dst));
            set16(&mut seg, 16, 0);
            let c = l4_checksum_v6(&src, &dst, 6, &seg);
            let mut c2 = update_pseudo_v6(c, &src, &new_src);
            c2 = update_pseudo_v6(c2, &dst, &new_dst);
            prop_assert_eq!(c2, l4_checksum_v6(&new_src, &new_dst, 6, &seg));
            set16(&mut seg, 16, c2);
            prop_assert!(l4_verify_v6(&new_src, &new_dst, 6, &seg));
        }

        #[test]
        fn test_prop_udp_v6_addr_rewrite(
            src: u128, dst: u128, new_dst: u128,
            mut seg in proptest::collection::vec(any::<u8>(), 8..120),
        ) {
            let (src, dst, new_dst) = (Ipv6Addr::from_bits(src), Ipv6Addr::from_bits(dst), Ipv6Addr::from_bits(new_dst));
            set16(&mut seg, 6, 0);
            let c = udp_on_wire(l4_checksum_v6(&src, &dst, 17, &seg));
            let c2 = udp_update_pseudo_v6(c, &dst, &new_dst);
            prop_assert_eq!(c2, udp_on_wire(l4_checksum_v6(&src, &new_dst, 17, &seg)));
        }

        #[test]
        fn test_prop_update_bytes_matches_update32(csum: u16, old: u32, new: u32) {
            prop_assert_eq!(
                update_bytes(csum, &old.to_be_bytes(), &new.to_be_bytes()),
                update32(csum, old, new)
            );
        }

        #[test]
        fn test_prop_pseudo_v6_matches_bytes(src: u128, dst: u128, nh: u8, len: u32) {
            let (s, d) = (Ipv6Addr::from_bits(src), Ipv6Addr::from_bits(dst));
            let mut b = Vec::new();
            b.extend_from_slice(&s.octets());
            b.extend_from_slice(&d.octets());
            b.extend_from_slice(&len.to_be_bytes());
            b.extend_from_slice(&[0, 0, 0, nh]);
            prop_assert_eq!(pseudo_header_v6(&s, &d, nh, len), sum(&b));
        }
    }
}
