//! Software Toeplitz hash (the NIC's RSS function) and the RSS steering a port was given, so a
//! worker can predict which RX queue, hence which worker, a packet lands on (DESIGN §5).
//!
//! The hash input is what NICs and DPDK's `rte_softrss` hash for TCP/UDP: source address,
//! destination address, source port, destination port, all in network byte order (12 bytes for
//! IPv4, 36 for IPv6). Bit `i` of the input (most significant bit of byte 0 first) set XORs the
//! 32-bit window of the key that starts at key bit `i` into the result.
//!
//! Design: the hash is linear over XOR, so it is precomputed per input byte position and byte
//! value ([`Toeplitz`], 36 tables of 256 words, 36 KiB): a tuple costs one table read per byte.
//! Linearity also splits a reply tuple into a part fixed for a new flow (addresses, source port)
//! and the destination port's two bytes, so choosing a FullNAT local port whose reply lands on a
//! given worker costs two table reads and an XOR per candidate ([`RssSteer::lport_hash`]).
//!
//! The RSS indirection table (RETA) maps the hash's low bits to a queue; ferrovs gives worker
//! `w` RX queue `w`, so [`RssSteer`] keeps it directly as hash bucket -> worker id.

use core::net::IpAddr;

/// Bytes of key the hash needs: 36 input bytes (an IPv6 tuple) plus a 4-byte window.
pub const KEY_LEN: usize = 40;
/// The key ferrovs programs into NICs: Microsoft's RSS verification key, the common default,
/// known so the RSS-aware local-port choice can predict where replies land.
pub const DEFAULT_KEY: [u8; KEY_LEN] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
    0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
    0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];
/// Most input bytes hashed (IPv6: 16 + 16 + 2 + 2).
const MAX_INPUT: usize = KEY_LEN - 4;
/// Offset of the destination port in an IPv4 tuple.
const DPORT_V4: usize = 10;
/// Offset of the destination port in an IPv6 tuple.
const DPORT_V6: usize = 34;

/// Why an RSS description cannot be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RssError {
    /// The key is shorter than [`KEY_LEN`] bytes.
    KeyTooShort(usize),
    /// The redirection table is empty or its size is not a power of two.
    BadRetaSize(usize),
}

impl core::fmt::Display for RssError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RssError::KeyTooShort(n) => write!(f, "RSS key of {n} bytes; {KEY_LEN} needed"),
            RssError::BadRetaSize(n) => {
                write!(
                    f,
                    "RSS redirection table of {n} entries, not a power of two"
                )
            }
        }
    }
}

impl std::error::Error for RssError {}

/// A Toeplitz hash with one lookup table per input byte position.
#[derive(Clone)]
pub struct Toeplitz {
    /// `tables[p][b]`: the hash of an input that is `b` at byte `p` and zero elsewhere.
    tables: Box<[[u32; 256]; MAX_INPUT]>,
}

impl core::fmt::Debug for Toeplitz {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Toeplitz").finish_non_exhaustive()
    }
}

impl Toeplitz {
    /// Precompute the tables for `key` (its first [`KEY_LEN`] bytes are used).
    ///
    /// # Errors
    /// [`RssError::KeyTooShort`] if the key has fewer than [`KEY_LEN`] bytes.
    pub fn new(key: &[u8]) -> Result<Toeplitz, RssError> {
        if key.len() < KEY_LEN {
            return Err(RssError::KeyTooShort(key.len()));
        }
        let mut tables = Box::new([[0u32; 256]; MAX_INPUT]);
        for (p, table) in tables.iter_mut().enumerate() {
            // Key bits 8p .. 8p+40 cover the windows of the 8 input bits of byte p.
            let k = key[p..p + 5]
                .iter()
                .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
            let mut windows = [0u32; 8];
            for (j, w) in windows.iter_mut().enumerate() {
                // Input bit j of the byte (j = 0 is the most significant) selects the window
                // starting j bits into k.
                *w = ((k >> (8 - j)) & 0xffff_ffff) as u32;
            }
            for (b, slot) in table.iter_mut().enumerate() {
                *slot = windows
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| b & (0x80 >> j) != 0)
                    .fold(0, |acc, (_, &w)| acc ^ w);
            }
        }
        Ok(Toeplitz { tables })
    }

    /// Hash `input` (at most 36 bytes), as placed at byte offset `at` of the tuple.
    #[inline]
    fn hash_at(&self, at: usize, input: &[u8]) -> u32 {
        input
            .iter()
            .zip(&self.tables[at..])
            .fold(0, |acc, (&b, t)| acc ^ t[usize::from(b)])
    }

    /// Hash raw input bytes (at most 36; more are ignored).
    #[inline]
    pub fn hash(&self, input: &[u8]) -> u32 {
        self.hash_at(0, input)
    }

    /// Hash an IPv4 TCP/UDP tuple.
    #[inline]
    pub fn hash_v4(
        &self,
        src: core::net::Ipv4Addr,
        dst: core::net::Ipv4Addr,
        sport: u16,
        dport: u16,
    ) -> u32 {
        self.partial_v4(src, dst, sport) ^ self.dport_term(false, dport)
    }

    /// Hash an IPv6 TCP/UDP tuple.
    #[inline]
    pub fn hash_v6(
        &self,
        src: core::net::Ipv6Addr,
        dst: core::net::Ipv6Addr,
        sport: u16,
        dport: u16,
    ) -> u32 {
        self.partial_v6(src, dst, sport) ^ self.dport_term(true, dport)
    }

    /// Hash a tuple of either family; `None` if the addresses' families differ.
    #[inline]
    pub fn hash_tuple(&self, src: IpAddr, dst: IpAddr, sport: u16, dport: u16) -> Option<u32> {
        Some(self.partial(src, dst, sport)? ^ self.dport_term(src.is_ipv6(), dport))
    }

    /// The hash of the tuple with destination port 0.
    #[inline]
    fn partial_v4(&self, src: core::net::Ipv4Addr, dst: core::net::Ipv4Addr, sport: u16) -> u32 {
        let mut b = [0u8; DPORT_V4];
        b[0..4].copy_from_slice(&src.octets());
        b[4..8].copy_from_slice(&dst.octets());
        b[8..10].copy_from_slice(&sport.to_be_bytes());
        self.hash_at(0, &b)
    }

    /// The hash of the tuple with destination port 0.
    #[inline]
    fn partial_v6(&self, src: core::net::Ipv6Addr, dst: core::net::Ipv6Addr, sport: u16) -> u32 {
        let mut b = [0u8; DPORT_V6];
        b[0..16].copy_from_slice(&src.octets());
        b[16..32].copy_from_slice(&dst.octets());
        b[32..34].copy_from_slice(&sport.to_be_bytes());
        self.hash_at(0, &b)
    }

    /// The hash of a tuple of either family with destination port 0 (`None` if the families
    /// differ). XOR [`Toeplitz::dport_term`] to complete it.
    #[inline]
    pub fn partial(&self, src: IpAddr, dst: IpAddr, sport: u16) -> Option<u32> {
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => Some(self.partial_v4(s, d, sport)),
            (IpAddr::V6(s), IpAddr::V6(d)) => Some(self.partial_v6(s, d, sport)),
            _ => None,
        }
    }

    /// The destination port's share of the hash (zero addresses and source port).
    #[inline]
    pub fn dport_term(&self, v6: bool, dport: u16) -> u32 {
        let at = if v6 { DPORT_V6 } else { DPORT_V4 };
        self.hash_at(at, &dport.to_be_bytes())
    }
}

/// How a port's RSS spreads packets over workers: our key and the redirection table we set.
#[derive(Clone, Debug)]
pub struct RssSteer {
    hash: Toeplitz,
    /// Hash bucket (the hash's low bits) -> worker id.
    reta: Box<[u16]>,
    mask: u32,
}

impl RssSteer {
    /// Describe RSS with `key` and the redirection table `reta` (entry i: the worker whose
    /// queue gets hash bucket i; its size a power of two, as NICs index it by low hash bits).
    ///
    /// # Errors
    /// A key shorter than [`KEY_LEN`], or a table whose size is not a power of two.
    pub fn new(key: &[u8], reta: &[u16]) -> Result<RssSteer, RssError> {
        if reta.is_empty() || !reta.len().is_power_of_two() || reta.len() > 1 << 16 {
            return Err(RssError::BadRetaSize(reta.len()));
        }
        Ok(RssSteer {
            hash: Toeplitz::new(key)?,
            mask: u32::try_from(reta.len() - 1).unwrap_or(u32::MAX),
            reta: reta.into(),
        })
    }

    /// The table ferrovs programs for `workers` workers: bucket i to worker `i % workers`.
    pub fn round_robin_reta(size: u16, workers: u16) -> Vec<u16> {
        (0..size).map(|i| i % workers.max(1)).collect()
    }

    /// Return the highest worker id the redirection table names.
    pub fn max_worker(&self) -> u16 {
        self.reta.iter().copied().max().unwrap_or(0)
    }

    /// Return the redirection table (hash bucket -> worker id).
    pub fn reta(&self) -> &[u16] {
        &self.reta
    }

    /// Return the hash.
    pub fn toeplitz(&self) -> &Toeplitz {
        &self.hash
    }

    /// Return the worker whose queue gets packets with this hash.
    #[inline]
    pub fn worker(&self, hash: u32) -> u16 {
        self.reta[(hash & self.mask) as usize]
    }

    /// Return the worker RSS delivers a TCP/UDP packet to (`None` if the families differ).
    #[inline]
    pub fn worker_of(&self, src: IpAddr, dst: IpAddr, sport: u16, dport: u16) -> Option<u16> {
        self.hash
            .hash_tuple(src, dst, sport, dport)
            .map(|h| self.worker(h))
    }

    /// Return the hash of a reply tuple given its fixed part (`partial`, from
    /// [`Toeplitz::partial`]) and a candidate destination (local) port.
    #[inline]
    pub fn lport_hash(&self, partial: u32, v6: bool, lport: u16) -> u32 {
        partial ^ self.hash.dport_term(v6, lport)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    /// Microsoft's RSS verification key ("Verifying the RSS Hash Calculation").
    const MS_KEY: [u8; 40] = [
        0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f,
        0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
        0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
    ];

    /// Bit-by-bit Toeplitz straight from the definition, as an oracle for the tables.
    fn slow(key: &[u8], input: &[u8]) -> u32 {
        let bit = |i: usize| (key[i / 8] >> (7 - i % 8)) & 1;
        let mut h = 0u32;
        for i in 0..input.len() * 8 {
            if (input[i / 8] >> (7 - i % 8)) & 1 == 1 {
                let w = (0..32).fold(0u32, |acc, k| (acc << 1) | u32::from(bit(i + k)));
                h ^= w;
            }
        }
        h
    }

    // (source, source port, destination, destination port, hash with TCP ports)
    const MS_V4: [(&str, u16, &str, u16, u32); 5] = [
        ("66.9.149.187", 2794, "161.142.100.80", 1766, 0x51cc_c178),
        ("199.92.111.2", 14230, "65.69.140.83", 4739, 0xc626_b0ea),
        ("24.19.198.95", 12898, "12.22.207.184", 38024, 0x5c2b_394a),
        ("38.27.205.30", 48228, "209.142.163.6", 2217, 0xafc7_327f),
        ("153.39.163.191", 44251, "202.188.127.2", 1303, 0x10e8_28a2),
    ];
    const MS_V6: [(&str, u16, &str, u16, u32); 3] = [
        (
            "3ffe:2501:200:1fff::7",
            2794,
            "3ffe:2501:200:3::1",
            1766,
            0x4020_7d3d,
        ),
        (
            "3ffe:501:8::260:97ff:fe40:efab",
            14230,
            "ff02::1",
            4739,
            0xdde5_1bbf,
        ),
        (
            "3ffe:1900:4545:3:200:f8ff:fe21:67cf",
            44251,
            "fe80::200:f8ff:fe21:67cf",
            38024,
            0x02d1_feef,
        ),
    ];

    #[test]
    fn test_microsoft_ipv4_tcp_known_answers() {
        let t = Toeplitz::new(&MS_KEY).unwrap();
        for (s, sp, d, dp, want) in MS_V4 {
            let (s, d): (Ipv4Addr, Ipv4Addr) = (s.parse().unwrap(), d.parse().unwrap());
            assert_eq!(t.hash_v4(s, d, sp, dp), want, "{s}:{sp} -> {d}:{dp}");
            let v = t.hash_tuple(s.into(), d.into(), sp, dp);
            assert_eq!(v, Some(want));
        }
    }

    #[test]
    fn test_microsoft_ipv6_tcp_known_answers() {
        let t = Toeplitz::new(&MS_KEY).unwrap();
        for (s, sp, d, dp, want) in MS_V6 {
            let (s, d): (Ipv6Addr, Ipv6Addr) = (s.parse().unwrap(), d.parse().unwrap());
            assert_eq!(t.hash_v6(s, d, sp, dp), want, "{s}:{sp} -> {d}:{dp}");
            assert_eq!(t.hash_tuple(s.into(), d.into(), sp, dp), Some(want));
        }
    }

    #[test]
    fn test_microsoft_ipv4_address_only() {
        // The suite's IPv4-only column: the first 8 bytes of the tuple.
        let t = Toeplitz::new(&MS_KEY).unwrap();
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&[66, 9, 149, 187]);
        b[4..].copy_from_slice(&[161, 142, 100, 80]);
        assert_eq!(t.hash(&b), 0x323e_8fc2);
    }

    #[test]
    fn test_tables_match_bitwise_definition() {
        let key: Vec<u8> = (0..40u8)
            .map(|i| i.wrapping_mul(97).wrapping_add(13))
            .collect();
        let t = Toeplitz::new(&key).unwrap();
        let mut x = 0x1234_5678u32;
        for _ in 0..200 {
            let input: Vec<u8> = (0..36)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            assert_eq!(t.hash(&input), slow(&key, &input));
            assert_eq!(t.hash(&input[..12]), slow(&key, &input[..12]));
        }
    }

    #[test]
    fn test_lport_hash_is_linear() {
        let s = RssSteer::new(&MS_KEY, &RssSteer::round_robin_reta(128, 4)).unwrap();
        let (b, l): (IpAddr, IpAddr) = ("10.0.0.7".parse().unwrap(), "10.0.1.1".parse().unwrap());
        let partial = s.toeplitz().partial(b, l, 8080).unwrap();
        for lport in [0, 1, 1024, 40000, 65535] {
            let h = s.toeplitz().hash_tuple(b, l, 8080, lport).unwrap();
            assert_eq!(s.lport_hash(partial, false, lport), h);
            assert_eq!(s.worker_of(b, l, 8080, lport), Some(s.worker(h)));
            assert_eq!(s.worker(h), u16::try_from((h & 127) % 4).unwrap());
        }
    }

    #[test]
    fn test_rejects_short_key_and_odd_reta() {
        assert_eq!(
            Toeplitz::new(&MS_KEY[..39]).unwrap_err(),
            RssError::KeyTooShort(39)
        );
        assert_eq!(
            RssSteer::new(&MS_KEY, &[0, 1, 0]).unwrap_err(),
            RssError::BadRetaSize(3)
        );
        assert!(RssSteer::new(&MS_KEY, &[]).is_err());
        let mixed = Toeplitz::new(&MS_KEY).unwrap().hash_tuple(
            "1.2.3.4".parse().unwrap(),
            "::1".parse().unwrap(),
            1,
            2,
        );
        assert_eq!(mixed, None);
    }
}
