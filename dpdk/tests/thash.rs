//! ferrovs's software Toeplitz hash (`dataplane::rss`) against DPDK's `rte_softrss`, on random
//! IPv4 and IPv6 TCP/UDP tuples, with the key ferrovs programs and with random keys. No EAL:
//! `rte_softrss` is a pure function.

use std::net::{Ipv4Addr, Ipv6Addr};

use dataplane::rss::{RssSteer, Toeplitz, DEFAULT_KEY, KEY_LEN};

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn u16(&mut self) -> u16 {
        (self.next() >> 48) as u16
    }
    fn u32(&mut self) -> u32 {
        (self.next() >> 32) as u32
    }
    fn key(&mut self) -> [u8; KEY_LEN] {
        let mut k = [0u8; KEY_LEN];
        for b in &mut k {
            *b = (self.next() >> 56) as u8;
        }
        k
    }
    fn v6(&mut self) -> Ipv6Addr {
        Ipv6Addr::from((u128::from(self.next()) << 64) | u128::from(self.next()))
    }
}

/// The tuple as `rte_softrss` takes it: host-order words, ports as `sport << 16 | dport`
/// (`struct rte_ipv4_tuple` / `rte_ipv6_tuple` with addresses converted word by word).
fn words_v4(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16) -> Vec<u32> {
    vec![
        u32::from(src),
        u32::from(dst),
        (u32::from(sport) << 16) | u32::from(dport),
    ]
}

fn words_v6(src: Ipv6Addr, dst: Ipv6Addr, sport: u16, dport: u16) -> Vec<u32> {
    let mut w = Vec::with_capacity(9);
    for a in [src, dst] {
        for c in a.octets().chunks_exact(4) {
            w.push(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
        }
    }
    w.push((u32::from(sport) << 16) | u32::from(dport));
    w
}

fn check_key(key: &[u8; KEY_LEN], rng: &mut Rng, n: usize) {
    let t = Toeplitz::new(key).expect("40-byte key");
    for _ in 0..n {
        let (s4, d4) = (Ipv4Addr::from(rng.u32()), Ipv4Addr::from(rng.u32()));
        let (sp, dp) = (rng.u16(), rng.u16());
        let want = dpdk::thash::softrss(&words_v4(s4, d4, sp, dp), key);
        assert_eq!(t.hash_v4(s4, d4, sp, dp), want, "{s4}:{sp} -> {d4}:{dp}");
        assert_eq!(t.hash_tuple(s4.into(), d4.into(), sp, dp), Some(want));

        let (s6, d6) = (rng.v6(), rng.v6());
        let want = dpdk::thash::softrss(&words_v6(s6, d6, sp, dp), key);
        assert_eq!(
            t.hash_v6(s6, d6, sp, dp),
            want,
            "[{s6}]:{sp} -> [{d6}]:{dp}"
        );
        assert_eq!(t.hash_tuple(s6.into(), d6.into(), sp, dp), Some(want));
    }
}

#[test]
fn test_steer_toeplitz_matches_softrss_default_key() {
    check_key(&DEFAULT_KEY, &mut Rng(0x5eed_1234_abcd_0001), 20_000);
}

#[test]
fn test_steer_toeplitz_matches_softrss_random_keys() {
    let mut rng = Rng(0x0dd_ba11_cafe_f00d);
    for _ in 0..16 {
        let key = rng.key();
        check_key(&key, &mut rng, 2_000);
    }
}

#[test]
fn test_steer_reply_worker_matches_softrss_and_reta() {
    // What the RSS-aware local-port choice relies on: worker = RETA[softrss & (size - 1)].
    let mut rng = Rng(42);
    for workers in [2u16, 3, 4] {
        let reta = RssSteer::round_robin_reta(128, workers);
        let s = RssSteer::new(&DEFAULT_KEY, &reta).unwrap();
        for _ in 0..2_000 {
            let (b, l) = (Ipv4Addr::from(rng.u32()), Ipv4Addr::from(rng.u32()));
            let (bp, lp) = (rng.u16(), rng.u16());
            let h = dpdk::thash::softrss(&words_v4(b, l, bp, lp), &DEFAULT_KEY);
            let want = reta[(h & 127) as usize];
            assert_eq!(s.worker_of(b.into(), l.into(), bp, lp), Some(want));
            let partial = s.toeplitz().partial(b.into(), l.into(), bp).unwrap();
            assert_eq!(s.worker(s.lport_hash(partial, false, lp)), want);
        }
    }
}
