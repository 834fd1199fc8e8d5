//! SYN cookies, as Linux makes them (`net/ipv4/syncookies.c`), keyed by the configuration's
//! secret so that every gateway given the same file validates any gateway's cookies.
//!
//! The cookie (our ISN towards the client) is
//! `h1(tuple) + client_isn + (count << 24) + ((h2(tuple, count) + mss_index) mod 2^24)`, where
//! `h1` and `h2` are SipHash-2-4 under the secret, `tuple` the client's address and port and
//! the VIP's, and `count` a clock counter of [`COUNT_SECONDS`]-second ticks of Unix time (so
//! two gateways with synchronised clocks agree on it). Checking subtracts `h1` and the ISN,
//! reads `count` back from the top 8 bits, and accepts it if it is the current tick, the one
//! before (cookies live 64 to 128 s, Linux's two minutes), or one tick ahead (a peer whose
//! clock runs up to a minute ahead); the low 24 bits minus `h2` must then be an MSS index.
//! A forged ACK passes with probability 4 in 2^24 per secret and accepted tick.
//!
//! With timestamps, the client's window scale and SACK-permitted ride in the low 6 bits of our
//! TSval, which the client echoes (Linux `cookie_init_timestamp`): bits 0-3 the window scale
//! (15: none), bit 4 SACK. They are not authenticated; a client lying about its own options
//! only hurts itself.

use core::hash::Hasher as _;

use siphasher::sip::SipHasher24;

use crate::rewrite::Family;

/// Seconds per tick of the cookie clock.
pub const COUNT_SECONDS: u64 = 64;
/// Low bits of the cookie holding the hash and the MSS index.
const COOKIEBITS: u32 = 24;
const COOKIEMASK: u32 = (1 << COOKIEBITS) - 1;

/// The MSS values a cookie can say, IPv4 (Linux's `msstab`): the client's MSS is rounded down
/// to one of them.
pub const MSS_V4: [u16; 4] = [536, 1300, 1440, 1460];
/// The same for IPv6 (Linux's `msstab` in `syncookies.c` for IPv6).
pub const MSS_V6: [u16; 4] = [1220, 1420, 1440, 8940];

/// TSval bits holding the options.
pub const TS_OPT_MASK: u32 = 0x3f;
/// Window-scale value meaning "the client sent none".
pub const NO_WSCALE: u8 = 0xf;
const TS_SACK: u32 = 1 << 4;

/// The SipHash keys of one secret.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CookieKey {
    k0: u64,
    k1: u64,
}

impl core::fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CookieKey(<redacted>)")
    }
}

impl CookieKey {
    /// The key of a 128-bit secret.
    pub fn new(secret: [u8; 16]) -> Self {
        let mut a = [0u8; 8];
        a.copy_from_slice(&secret[..8]);
        let mut b = [0u8; 8];
        b.copy_from_slice(&secret[8..]);
        Self {
            k0: u64::from_le_bytes(a),
            k1: u64::from_le_bytes(b),
        }
    }

    /// SipHash state after the tuple, the prefix `h1` and `h2` share.
    ///
    /// The message is the bytes client address, VIP, client port, VIP port (big-endian, as on
    /// the wire), then a domain byte (1: `h1`, 2: `h2`) and, for `h2`, the tick (big-endian).
    /// It is fed as the little-endian words of those bytes, which gives the hash of the bytes
    /// (`test_word_hashing_matches_the_byte_message` checks) with no buffer to fill and the
    /// tail handling resolved at compile time; the shared prefix is hashed once.
    #[inline(always)]
    fn prefix<A: Family>(&self, t: &Tuple<A>) -> SipHasher24 {
        let mut s = SipHasher24::new_with_keys(self.k0, self.k1);
        let mut a = [0u8; 16];
        t.client.write_bytes(&mut a);
        let mut b = [0u8; 16];
        t.vip.write_bytes(&mut b);
        if A::V6 {
            for x in [&a, &b] {
                s.write_u64(le64(&x[..8]));
                s.write_u64(le64(&x[8..]));
            }
        } else {
            let mut w = [0u8; 8];
            w[..4].copy_from_slice(&a[..4]);
            w[4..].copy_from_slice(&b[..4]);
            s.write_u64(u64::from_le_bytes(w));
        }
        let (c, v) = (t.cport.to_be_bytes(), t.vport.to_be_bytes());
        s.write_u32(u32::from_le_bytes([c[0], c[1], v[0], v[1]]));
        s
    }

    /// `h1` (tuple only) from the prefix, 32 bits.
    #[inline(always)]
    fn h1(prefix: &SipHasher24) -> u32 {
        let mut s = *prefix;
        s.write_u8(1);
        s.finish() as u32
    }

    /// `h2` (tuple and tick) from the prefix, 32 bits.
    #[inline(always)]
    fn h2(prefix: &SipHasher24, count: u32) -> u32 {
        let mut s = *prefix;
        s.write_u8(2);
        s.write_u32(u32::from_le_bytes(count.to_be_bytes()));
        s.finish() as u32
    }
}

/// The little-endian word of 8 bytes.
#[inline]
fn le64(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[..8]);
    u64::from_le_bytes(w)
}

/// The connection a cookie is bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tuple<A> {
    /// Client address.
    pub client: A,
    /// Client port.
    pub cport: u16,
    /// VIP.
    pub vip: A,
    /// Service port.
    pub vport: u16,
}

/// The current and the previous secret (rotation: both are valid).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CookieKeys {
    /// Makes and checks cookies.
    pub current: CookieKey,
    /// Also checks cookies.
    pub previous: Option<CookieKey>,
}

/// Why a cookie was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CookieError {
    /// Its clock tick is too old (or too far ahead).
    Stale,
    /// It does not decode under any secret (forged, or for another connection).
    Bad,
}

/// The index of the largest table MSS not above `mss` (0 when below them all).
pub(crate) fn mss_index<A: Family>(mss: u16) -> u32 {
    let tab = if A::V6 { &MSS_V6 } else { &MSS_V4 };
    tab.iter().rposition(|&m| m <= mss).unwrap_or(0) as u32
}

/// The MSS of index `i` (`i < 4`).
pub(crate) fn mss_of<A: Family>(i: u32) -> u16 {
    let tab = if A::V6 { &MSS_V6 } else { &MSS_V4 };
    tab[(i & 3) as usize]
}

/// The clock tick of Unix second `wall_s`.
pub fn count_of(wall_s: u64) -> u32 {
    (wall_s / COUNT_SECONDS) as u32
}

/// Make the cookie for a SYN with sequence number `isn` from `t`, carrying MSS index `mssi`.
pub(crate) fn make<A: Family>(
    key: &CookieKey,
    t: &Tuple<A>,
    isn: u32,
    count: u32,
    mssi: u32,
) -> u32 {
    let p = key.prefix(t);
    CookieKey::h1(&p)
        .wrapping_add(isn)
        .wrapping_add(count << COOKIEBITS)
        .wrapping_add(CookieKey::h2(&p, count).wrapping_add(mssi) & COOKIEMASK)
}

/// Check `cookie` (the ACK's acknowledgement number - 1) against `t`, the client's ISN (its
/// sequence number - 1) and the current tick under one key; return the MSS index.
fn check_one<A: Family>(
    key: &CookieKey,
    t: &Tuple<A>,
    isn: u32,
    cookie: u32,
    count: u32,
) -> Result<u32, CookieError> {
    let p = key.prefix(t);
    let c = cookie.wrapping_sub(CookieKey::h1(&p)).wrapping_sub(isn);
    let made = c >> COOKIEBITS;
    let age = count.wrapping_sub(made) & (u32::MAX >> COOKIEBITS);
    // The tick it names (one ahead reads as 255 in 8 bits).
    let full = if age == 0xff {
        count.wrapping_add(1)
    } else {
        count.wrapping_sub(age)
    };
    let mssi = c.wrapping_sub(CookieKey::h2(&p, full)) & COOKIEMASK;
    if mssi >= 4 {
        return Err(CookieError::Bad);
    }
    // Accepted ticks: now, one before, one ahead; a genuine older one is stale.
    if age > 1 && age != 0xff {
        return Err(CookieError::Stale);
    }
    Ok(mssi)
}

/// Check `cookie` under the current secret, then the previous one.
pub(crate) fn check<A: Family>(
    keys: &CookieKeys,
    t: &Tuple<A>,
    isn: u32,
    cookie: u32,
    count: u32,
) -> Result<u32, CookieError> {
    let first = check_one(&keys.current, t, isn, cookie, count);
    match (first, keys.previous) {
        (Ok(m), _) => Ok(m),
        (Err(e), None) => Err(e),
        (Err(e), Some(p)) => check_one(&p, t, isn, cookie, count).map_err(|e2| {
            // Stale under either key says more than "bad".
            if e == CookieError::Stale || e2 == CookieError::Stale {
                CookieError::Stale
            } else {
                CookieError::Bad
            }
        }),
    }
}

/// The client's options a cookie's timestamp carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientOpts {
    /// The client's window scale ([`NO_WSCALE`]: none).
    pub wscale: u8,
    /// SACK permitted.
    pub sack: bool,
}

/// Our TSval for the SYN-ACK: `ts_ms`'s high bits, the options in the low 6.
pub fn encode_ts(ts_ms: u32, o: ClientOpts) -> u32 {
    let ws = u32::from(o.wscale.min(NO_WSCALE));
    (ts_ms & !TS_OPT_MASK) | ws | if o.sack { TS_SACK } else { 0 }
}

/// The options in the echoed TSecr. A window scale above 14 (RFC 7323's limit) reads as none.
pub fn decode_ts(tsecr: u32) -> ClientOpts {
    let ws = (tsecr & 0xf) as u8;
    ClientOpts {
        wscale: if ws > 14 { NO_WSCALE } else { ws },
        sack: tsecr & TS_SACK != 0,
    }
}

#[cfg(test)]
mod tests {
    use core::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    const A: [u8; 16] = *b"gateway-secret-1";
    const B: [u8; 16] = *b"gateway-secret-2";

    fn t4() -> Tuple<Ipv4Addr> {
        Tuple {
            client: Ipv4Addr::new(198, 18, 0, 50),
            cport: 40000,
            vip: Ipv4Addr::new(198, 18, 1, 100),
            vport: 80,
        }
    }

    fn keys(cur: [u8; 16], prev: Option<[u8; 16]>) -> CookieKeys {
        CookieKeys {
            current: CookieKey::new(cur),
            previous: prev.map(CookieKey::new),
        }
    }

    /// The hash of the byte message the words stand for, through the crate's byte interface
    /// (the message as the previous version built it, so cookies did not change).
    fn byte_hash<A: Family>(key: &CookieKey, t: &Tuple<A>, count: Option<u32>) -> u32 {
        let mut buf = Vec::new();
        let mut a = [0u8; 16];
        let alen = if A::V6 { 16 } else { 4 };
        t.client.write_bytes(&mut a);
        buf.extend_from_slice(&a[..alen]);
        t.vip.write_bytes(&mut a);
        buf.extend_from_slice(&a[..alen]);
        buf.extend_from_slice(&t.cport.to_be_bytes());
        buf.extend_from_slice(&t.vport.to_be_bytes());
        match count {
            None => buf.push(1),
            Some(c) => {
                buf.push(2);
                buf.extend_from_slice(&c.to_be_bytes());
            }
        }
        let mut s = SipHasher24::new_with_keys(key.k0, key.k1);
        s.write(&buf);
        s.finish() as u32
    }

    #[test]
    fn test_word_hashing_matches_the_byte_message() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..500 {
            let key = CookieKey {
                k0: next(),
                k1: next(),
            };
            let count = next() as u32;
            let t4 = Tuple {
                client: Ipv4Addr::from_bits(next() as u32),
                cport: next() as u16,
                vip: Ipv4Addr::from_bits(next() as u32),
                vport: next() as u16,
            };
            let p = key.prefix(&t4);
            assert_eq!(CookieKey::h1(&p), byte_hash(&key, &t4, None));
            assert_eq!(CookieKey::h2(&p, count), byte_hash(&key, &t4, Some(count)));
            let t6 = Tuple {
                client: Ipv6Addr::from_bits(u128::from(next()) << 64 | u128::from(next())),
                cport: next() as u16,
                vip: Ipv6Addr::from_bits(u128::from(next()) << 64 | u128::from(next())),
                vport: next() as u16,
            };
            let p = key.prefix(&t6);
            assert_eq!(CookieKey::h1(&p), byte_hash(&key, &t6, None));
            assert_eq!(CookieKey::h2(&p, count), byte_hash(&key, &t6, Some(count)));
        }
    }

    #[test]
    fn test_cookies_are_pinned() {
        // A cookie of a fixed secret, tuple, ISN and tick: gateways of this version (and of
        // the byte-buffer version before it) make and accept the same one.
        let c = make(&CookieKey::new(A), &t4(), 1000, 0x1ad2_74a0, 3);
        assert_eq!(c, 0x19e4_94fd);
    }

    #[test]
    fn test_round_trip_every_mss_index_both_families() {
        let k = keys(A, None);
        let count = count_of(1_800_000_000);
        for isn in [0u32, 1, 0x8000_0000, u32::MAX] {
            for mssi in 0..4 {
                let c = make(&k.current, &t4(), isn, count, mssi);
                assert_eq!(check(&k, &t4(), isn, c, count), Ok(mssi));
                let t6 = Tuple {
                    client: "2001:2::50".parse::<Ipv6Addr>().unwrap(),
                    cport: 1,
                    vip: "2001:2:0:1::100".parse().unwrap(),
                    vport: 443,
                };
                let c = make(&k.current, &t6, isn, count, mssi);
                assert_eq!(check(&k, &t6, isn, c, count), Ok(mssi));
            }
        }
    }

    #[test]
    fn test_mss_rounds_down_to_the_table() {
        type V4 = Ipv4Addr;
        type V6 = Ipv6Addr;
        assert_eq!(mss_index::<V4>(100), 0);
        assert_eq!(mss_index::<V4>(1299), 0);
        assert_eq!(mss_index::<V4>(1300), 1);
        assert_eq!(mss_index::<V4>(1460), 3);
        assert_eq!(mss_index::<V4>(9000), 3);
        assert_eq!(mss_of::<V4>(mss_index::<V4>(1448)), 1440);
        assert_eq!(mss_of::<V6>(mss_index::<V6>(1440)), 1440);
        assert_eq!(mss_of::<V6>(mss_index::<V6>(1400)), 1220);
    }

    #[test]
    fn test_age_window_and_forgeries() {
        let k = keys(A, None);
        let t = t4();
        let count = count_of(1_800_000_000);
        let c = make(&k.current, &t, 7, count, 2);
        // One tick old, one tick ahead: fine; two old: stale; across the 8-bit wrap too.
        assert_eq!(check(&k, &t, 7, c, count + 1), Ok(2));
        assert_eq!(check(&k, &t, 7, c, count - 1), Ok(2));
        assert_eq!(check(&k, &t, 7, c, count + 2), Err(CookieError::Stale));
        let w = 0x1ff;
        let cw = make(&k.current, &t, 7, w, 0);
        assert_eq!(check(&k, &t, 7, cw, w + 1), Ok(0));
        assert_eq!(check(&k, &t, 7, cw, w + 3), Err(CookieError::Stale));
        // Another port, another ISN, another secret, a flipped low bit: refused.
        let other = Tuple { cport: 40001, ..t };
        assert!(check(&k, &other, 7, c, count).is_err());
        // (An ISN off by less than the index moves the index, as in Linux; the hash is not
        // over the ISN, which only the client and whoever saw its SYN know.)
        assert!(check(&k, &t, 7 + 1000, c, count).is_err());
        assert!(check(&keys(B, None), &t, 7, c, count).is_err());
        assert!(check(&k, &t, 7, c ^ 0x100, count).is_err());
        // Random forgeries: about 4 in 2^24 pass; none of these 20000.
        let mut x = 0x1234_5678u32;
        let mut ok = 0;
        for _ in 0..20000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            ok += usize::from(check(&k, &t, 7, x, count).is_ok());
        }
        assert_eq!(ok, 0);
    }

    #[test]
    fn test_rotation_keeps_both_secrets_valid() {
        let count = count_of(1_800_000_000);
        let old = make(&CookieKey::new(A), &t4(), 9, count, 3);
        let rotated = keys(B, Some(A));
        assert_eq!(check(&rotated, &t4(), 9, old, count), Ok(3));
        let new = make(&rotated.current, &t4(), 9, count, 1);
        assert_eq!(check(&rotated, &t4(), 9, new, count), Ok(1));
        // After the next rotation A is gone.
        assert!(check(&keys(*b"gateway-secret-3", Some(B)), &t4(), 9, old, count).is_err());
    }

    #[test]
    fn test_gateway_b_validates_gateway_a() {
        // Two gateways configured alike, a few seconds apart on the same tick.
        let a = keys(A, Some(B));
        let b = keys(A, Some(B));
        let c = make(&a.current, &t4(), 1000, count_of(1_800_000_003), 3);
        assert_eq!(check(&b, &t4(), 1000, c, count_of(1_800_000_010)), Ok(3));
    }

    #[test]
    fn test_timestamp_options() {
        for ws in 0..=14u8 {
            for sack in [false, true] {
                let o = ClientOpts { wscale: ws, sack };
                let ts = encode_ts(0xdead_beef, o);
                assert_eq!(ts & !TS_OPT_MASK, 0xdead_beef & !TS_OPT_MASK);
                assert_eq!(decode_ts(ts), o);
            }
        }
        let none = ClientOpts {
            wscale: NO_WSCALE,
            sack: false,
        };
        assert_eq!(decode_ts(encode_ts(5, none)), none);
        assert_eq!(format!("{:?}", CookieKey::new(A)), "CookieKey(<redacted>)");
    }
}
