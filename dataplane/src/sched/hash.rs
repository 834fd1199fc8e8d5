//! Stable, fast, non-cryptographic hashing for scheduler tables and flow hashes.
//!
//! Contract: every function here is a pure function of its inputs with fixed seeds, and its
//! output is **part of the wire contract**: gateways in one ECMP group must map the same client
//! to the same backend, so a rolling upgrade must not change these values. The golden tests at
//! the bottom pin them; changing any constant is a breaking change that needs a release note.
//!
//! Design: an xxHash64-style round (multiply, rotate, multiply) per 8-byte word, finished by
//! MurmurHash3's `fmix64` avalanche. It is not DoS-resistant (the seeds are public); the
//! scheduler tables are keyed by the operator's own backend identities and flows are pinned by
//! the session table, so an attacker gains nothing by predicting a slot that a random client
//! could not also reach.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// xxHash64 prime 1.
const P1: u64 = 0x9E37_79B1_85EB_CA87;
/// xxHash64 prime 2.
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
/// xxHash64 prime 3.
const P3: u64 = 0x1656_67B1_9E37_79F9;

/// Seed for client and destination address hashes ([`addr4`], [`addr6`], [`addr`]).
pub const SEED_ADDR: u64 = 0x6665_7272_6f76_7301; // "ferrovs" + 1
/// Seed for backend identities ([`backend_identity`]).
pub const SEED_BACKEND: u64 = 0x6665_7272_6f76_7302;
/// Seed for a Maglev backend's permutation offset.
pub const SEED_MAGLEV_OFFSET: u64 = 0x6665_7272_6f76_7303;
/// Seed for a Maglev backend's permutation skip.
pub const SEED_MAGLEV_SKIP: u64 = 0x6665_7272_6f76_7304;

/// MurmurHash3's 64-bit finaliser: a bijection with full avalanche.
#[inline]
pub const fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// One xxHash64 accumulator round.
#[inline]
const fn round(acc: u64, word: u64) -> u64 {
    acc.wrapping_add(word.wrapping_mul(P2))
        .rotate_left(31)
        .wrapping_mul(P1)
}

/// Hash one 64-bit word under `seed`.
#[inline]
pub const fn hash_u64(seed: u64, word: u64) -> u64 {
    fmix64(round(seed ^ P3, word))
}

/// Combine a hash with another value (for example a client hash with its source port).
#[inline]
pub const fn mix(hash: u64, value: u64) -> u64 {
    fmix64(round(hash, value))
}

/// Hash a byte string under `seed` (little-endian 8-byte words, zero-padded tail, length mixed
/// in so that trailing zero bytes change the result).
pub fn hash_bytes(seed: u64, bytes: &[u8]) -> u64 {
    let mut acc = seed ^ (bytes.len() as u64).wrapping_mul(P3);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        acc = round(acc, u64::from_le_bytes(word));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        acc = round(acc, u64::from_le_bytes(word));
    }
    fmix64(acc)
}

/// Hash an IPv4 address (as its IPv4-mapped IPv6 form, so `addr4(a) == addr(a.into())`).
#[inline]
pub fn addr4(a: Ipv4Addr) -> u64 {
    addr6(a.to_ipv6_mapped())
}

/// Hash an IPv6 address.
#[inline]
pub fn addr6(a: Ipv6Addr) -> u64 {
    let bits = a.to_bits();
    // Truncation is the point: split the 128 bits into two words.
    #[allow(clippy::cast_possible_truncation)]
    let (hi, lo) = ((bits >> 64) as u64, bits as u64);
    fmix64(round(round(SEED_ADDR ^ P3, hi), lo))
}

/// Hash an IP address of either family (IPv4 is hashed as IPv4-mapped IPv6).
#[inline]
pub fn addr(a: IpAddr) -> u64 {
    match a {
        IpAddr::V4(v4) => addr4(v4),
        IpAddr::V6(v6) => addr6(v6),
    }
}

/// The stable identity of a backend `addr:port`, used to order and place backends in the
/// sh, dh and Maglev tables so that the tables do not depend on the order of the config.
pub fn backend_identity(addr: IpAddr, port: u16) -> u64 {
    let v6 = match addr {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    };
    let mut key = [0u8; 18];
    key[..16].copy_from_slice(&v6.octets());
    key[16..].copy_from_slice(&port.to_be_bytes());
    hash_bytes(SEED_BACKEND, &key)
}

/// Return whether `n` is prime (trial division; only used at build time on small numbers).
pub const fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    if n.is_multiple_of(2) {
        return n == 2;
    }
    let mut d = 3;
    while d * d <= n {
        if n.is_multiple_of(d) {
            return false;
        }
        d += 2;
    }
    true
}

/// Return the smallest prime `>= n`.
pub const fn next_prime(n: u64) -> u64 {
    let mut p = if n < 2 { 2 } else { n };
    while !is_prime(p) {
        p += 1;
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_values_are_stable() {
        // Pinned: these values are part of the ECMP contract (see the module docs).
        assert_eq!(hash_u64(0, 0), GOLDEN[0]);
        assert_eq!(hash_bytes(0, b"ferrovs"), GOLDEN[1]);
        assert_eq!(addr4(Ipv4Addr::new(192, 0, 2, 1)), GOLDEN[2]);
        assert_eq!(
            backend_identity(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 80),
            GOLDEN[3]
        );
        assert_eq!(mix(1, 2), GOLDEN[4]);
    }

    const GOLDEN: [u64; 5] = [
        0xa3a4_567b_dff0_577e,
        0xf538_0e38_7c04_5c6d,
        0x530f_13e5_1016_92cf,
        0xf976_6d10_7ee4_9243,
        0x50f9_899f_d602_3d42,
    ];

    #[test]
    fn v4_hashes_as_mapped_v6() {
        let a = Ipv4Addr::new(198, 51, 100, 7);
        assert_eq!(addr4(a), addr6(a.to_ipv6_mapped()));
        assert_eq!(addr4(a), addr(IpAddr::V4(a)));
    }

    #[test]
    fn bytes_hash_depends_on_length() {
        assert_ne!(hash_bytes(1, &[0]), hash_bytes(1, &[0, 0]));
        assert_ne!(hash_bytes(1, &[]), hash_bytes(1, &[0]));
    }

    #[test]
    fn identity_distinguishes_port_and_addr() {
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        assert_ne!(backend_identity(a, 80), backend_identity(a, 81));
        assert_ne!(backend_identity(a, 80), backend_identity(b, 80));
    }

    #[test]
    fn primes() {
        assert!(is_prime(65537));
        assert!(is_prime(2));
        assert!(!is_prime(1));
        assert!(!is_prime(65535));
        assert_eq!(next_prime(65537), 65537);
        assert_eq!(next_prime(65538), 65539);
        assert_eq!(next_prime(100_000), 100_003);
        assert_eq!(next_prime(0), 2);
    }
}
