//! Seeded flow hash for the session index and the persistence table.
//!
//! Contract: `hash(seed, key)` is a pure function of the seed and the key, never allocates, and
//! spreads its entropy over all 64 output bits (the index takes the bucket from the high half and
//! the signature from the low bits). The construction is foldhash's folded multiply with a
//! per-table secret seed: not cryptographic, but an attacker who does not know the seed cannot
//! aim flows at one bucket (minimal flood resistance, the same bar as foldhash and ahash's
//! fallback). Give every worker's table its own random seed at start.

/// Per-table secret hash key; pick it at random at start (one per worker).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HashSeed {
    k: [u64; 4],
}

impl core::fmt::Debug for HashSeed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The seed is a secret against hash flooding; keep it out of logs.
        f.write_str("HashSeed(..)")
    }
}

/// Fractional digits of pi, used to derive the four key words from one seed word.
const PI: [u64; 4] = [
    0x243f_6a88_85a3_08d3,
    0x1319_8a2e_0370_7344,
    0xa409_3822_299f_31d0,
    0x082e_fa98_ec4e_6c89,
];

/// One step of splitmix64: a bijective scrambler used to expand the seed.
const fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Multiply to 128 bits and fold the halves together (the core of foldhash / wyhash).
#[inline(always)]
pub(crate) const fn folded_multiply(a: u64, b: u64) -> u64 {
    let p = (a as u128).wrapping_mul(b as u128);
    (p as u64) ^ ((p >> 64) as u64)
}

impl HashSeed {
    /// Expand one random word into a table seed.
    pub const fn new(seed: u64) -> Self {
        Self {
            k: [
                splitmix64(seed ^ PI[0]),
                splitmix64(seed ^ PI[1]),
                splitmix64(seed ^ PI[2]),
                splitmix64(seed ^ PI[3]),
            ],
        }
    }

    /// Hash two words (an IPv4 5-tuple fits in two).
    #[inline(always)]
    pub(crate) const fn hash2(&self, a: u64, b: u64) -> u64 {
        let h = folded_multiply(a ^ self.k[0], b ^ self.k[1]);
        folded_multiply(h ^ self.k[2], self.k[3] | 1)
    }

    /// Hash five words (an IPv6 5-tuple).
    #[inline(always)]
    pub(crate) const fn hash5(&self, a: u64, b: u64, c: u64, d: u64, e: u64) -> u64 {
        let h = folded_multiply(a ^ self.k[0], b ^ self.k[1]);
        let h = folded_multiply(h ^ c ^ self.k[2], d ^ self.k[3]);
        self.hash2(h, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn different_seeds_give_different_hashes() {
        let a = HashSeed::new(1);
        let b = HashSeed::new(2);
        assert_ne!(a.hash2(10, 20), b.hash2(10, 20));
        assert_eq!(a.hash2(10, 20), HashSeed::new(1).hash2(10, 20));
    }

    #[test]
    fn one_bit_change_flips_about_half_the_output_bits() {
        let s = HashSeed::new(0xdead_beef);
        let mut total = 0u32;
        let n = 64 * 2;
        for bit in 0..64 {
            let base = s.hash2(0x0a00_0001_0a00_0002, 0x12_3400_5006);
            total +=
                (base ^ s.hash2(0x0a00_0001_0a00_0002 ^ (1 << bit), 0x12_3400_5006)).count_ones();
            total +=
                (base ^ s.hash2(0x0a00_0001_0a00_0002, 0x12_3400_5006 ^ (1 << bit))).count_ones();
        }
        let mean = f64::from(total) / f64::from(n);
        assert!((24.0..40.0).contains(&mean), "mean flipped bits {mean}");
    }

    #[test]
    fn debug_hides_the_key() {
        assert_eq!(format!("{:?}", HashSeed::new(7)), "HashSeed(..)");
    }
}
