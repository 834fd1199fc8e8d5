//! Admission control (issue 17): who may open a connection, how many, how fast.
//!
//! Everything here runs only when a flow starts (a TCP SYN, the first datagram of a UDP flow),
//! never on a packet of an established session, and never allocates or locks there:
//! - [`ClientLists`]: allow and deny prefixes (IPv4 and IPv6), built once per snapshot into a
//!   sorted step function per family, so a lookup is one binary search over boundaries. The
//!   longest matching prefix decides (deny `10.0.0.0/8`, allow `10.1.0.0/16` admits 10.1.x.x);
//!   an address no prefix covers is admitted unless the allow list is non-empty.
//! - [`TokenBucket`]: a new-connection rate with a burst, in integer micro-tokens on a
//!   millisecond clock; each worker has its own with its share of the service's rate (no
//!   sharing between cores).
//! - [`Rate`] and [`ServiceLimits`]: the per-service settings the snapshot carries.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What an address's longest matching prefix says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listed {
    /// In an allow prefix.
    Allowed,
    /// In a deny prefix.
    Denied,
    /// In no prefix of the lists.
    Unlisted,
}

/// The verdict of [`ClientLists::check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListVerdict {
    /// Admitted.
    Admit,
    /// Its longest matching prefix is a deny prefix.
    Denied,
    /// The allow list is not empty and no prefix covers it.
    NotAllowed,
}

/// One family's step function: `starts` is sorted, and an address `a` gets the value of the
/// last boundary `<= a` (the first boundary is always 0).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Steps<K> {
    starts: Vec<K>,
    values: Vec<Listed>,
}

/// An address family's numeric form, for [`Steps`].
trait Key: Copy + Ord + Default {
    const BITS: u32;
    fn mask(len: u8) -> Self;
    fn and(self, m: Self) -> Self;
    fn or_not(self, m: Self) -> Self;
    fn succ(self) -> Option<Self>;
}

impl Key for u32 {
    const BITS: u32 = 32;
    fn mask(len: u8) -> u32 {
        u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
    }
    fn and(self, m: u32) -> u32 {
        self & m
    }
    fn or_not(self, m: u32) -> u32 {
        self | !m
    }
    fn succ(self) -> Option<u32> {
        self.checked_add(1)
    }
}

impl Key for u128 {
    const BITS: u32 = 128;
    fn mask(len: u8) -> u128 {
        u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
    }
    fn and(self, m: u128) -> u128 {
        self & m
    }
    fn or_not(self, m: u128) -> u128 {
        self | !m
    }
    fn succ(self) -> Option<u128> {
        self.checked_add(1)
    }
}

impl<K: Key> Steps<K> {
    /// Build from prefixes `(network bits, length, value)`; lengths above the family's are
    /// clamped. Prefixes nest or are disjoint, so a sweep in (start, length) order with a
    /// stack of the open ones gives each address its longest prefix. A prefix listed twice
    /// keeps its last value.
    fn build(prefixes: &[(K, u8, Listed)]) -> Self {
        let mut ps: Vec<(K, K, u8, Listed)> = prefixes
            .iter()
            .map(|&(a, len, v)| {
                let len = len.min(K::BITS as u8);
                let m = K::mask(len);
                (a.and(m), a.or_not(m), len, v)
            })
            .collect();
        // Stable: equal prefixes keep their order, so the last listed is pushed last and wins.
        ps.sort_by_key(|&(start, _, len, _)| (start, len));
        let mut out = Steps {
            starts: vec![K::default()],
            values: vec![Listed::Unlisted],
        };
        let mut open: Vec<(K, Listed)> = Vec::new();
        let push = |out: &mut Steps<K>, at: K, v: Listed| {
            if out.starts.last() == Some(&at) {
                // A later (longer, or repeated) prefix at the same boundary wins.
                if let Some(last) = out.values.last_mut() {
                    *last = v;
                }
            } else {
                out.starts.push(at);
                out.values.push(v);
            }
        };
        // Close the open prefixes that end before `limit` (all of them with `None`).
        let close = |out: &mut Steps<K>, open: &mut Vec<(K, Listed)>, limit: Option<K>| {
            while let Some(&(end, _)) = open.last() {
                if limit.is_some_and(|l| end >= l) {
                    break;
                }
                open.pop();
                if let Some(next) = end.succ() {
                    let v = open.last().map_or(Listed::Unlisted, |&(_, v)| v);
                    push(out, next, v);
                }
            }
        };
        for &(start, end, _, v) in &ps {
            close(&mut out, &mut open, Some(start));
            push(&mut out, start, v);
            open.push((end, v));
        }
        close(&mut out, &mut open, None);
        // Merge equal neighbours: fewer boundaries to search.
        let mut merged = Steps {
            starts: Vec::with_capacity(out.starts.len()),
            values: Vec::with_capacity(out.values.len()),
        };
        for (s, v) in out.starts.into_iter().zip(out.values) {
            if merged.values.last() != Some(&v) {
                merged.starts.push(s);
                merged.values.push(v);
            }
        }
        merged
    }

    #[inline]
    fn get(&self, a: K) -> Listed {
        let i = self.starts.partition_point(|&s| s <= a);
        self.values
            .get(i.wrapping_sub(1))
            .copied()
            .unwrap_or(Listed::Unlisted)
    }
}

/// Allow and deny prefixes of client addresses, for one service or the whole gateway.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientLists {
    v4: Steps<u32>,
    v6: Steps<u128>,
    /// Whether any allow prefix was given (then unlisted clients are refused).
    allow_only: bool,
}

impl ClientLists {
    /// Build from `allow` and `deny` prefixes (address, length; host bits are ignored). A
    /// prefix in both lists is denied. Allocates: call when a snapshot is built.
    pub fn new(allow: &[(IpAddr, u8)], deny: &[(IpAddr, u8)]) -> Self {
        let mut p4 = Vec::new();
        let mut p6 = Vec::new();
        for (list, v) in [(allow, Listed::Allowed), (deny, Listed::Denied)] {
            for &(a, len) in list {
                match a {
                    IpAddr::V4(a) => p4.push((u32::from(a), len, v)),
                    IpAddr::V6(a) => p6.push((u128::from(a), len, v)),
                }
            }
        }
        ClientLists {
            v4: Steps::build(&p4),
            v6: Steps::build(&p6),
            allow_only: !allow.is_empty(),
        }
    }

    /// Whether the lists refuse nobody (no prefix at all).
    pub fn is_empty(&self) -> bool {
        !self.allow_only && self.v4.starts.len() <= 1 && self.v6.starts.len() <= 1
    }

    /// What the longest prefix covering `a` says.
    #[inline]
    pub fn lookup(&self, a: IpAddr) -> Listed {
        match a {
            IpAddr::V4(a) => self.v4.get(u32::from(a)),
            IpAddr::V6(a) => self.v6.get(u128::from(a)),
        }
    }

    /// Admit or refuse client `a`.
    #[inline]
    pub fn check(&self, a: IpAddr) -> ListVerdict {
        match self.lookup(a) {
            Listed::Denied => ListVerdict::Denied,
            Listed::Allowed => ListVerdict::Admit,
            Listed::Unlisted if self.allow_only => ListVerdict::NotAllowed,
            Listed::Unlisted => ListVerdict::Admit,
        }
    }

    /// Admit or refuse IPv4 client `a`.
    #[inline]
    pub fn check_v4(&self, a: Ipv4Addr) -> ListVerdict {
        self.check(IpAddr::V4(a))
    }

    /// Admit or refuse IPv6 client `a`.
    #[inline]
    pub fn check_v6(&self, a: Ipv6Addr) -> ListVerdict {
        self.check(IpAddr::V6(a))
    }
}

/// A rate: `per_s` events a second, up to `burst` at once (after a quiet spell).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rate {
    /// Sustained events per second (above 0).
    pub per_s: u32,
    /// Events allowed at once (at least 1).
    pub burst: u32,
}

impl Rate {
    /// This worker's share of the rate among `workers`: `per_s` and `burst` split evenly, the
    /// remainder to the lowest ids, each share at least one burst token. Sustained rates below
    /// one a second per worker are kept (the bucket counts micro-tokens).
    pub fn share(self, id: u16, workers: u16) -> (u64, u64) {
        let w = u64::from(workers.max(1));
        let id = u64::from(id);
        let part = |total: u64| total / w + u64::from(id < total % w);
        // Micro-tokens a millisecond: per_s * 10^6 / 1000 / w.
        let micro_per_ms = u64::from(self.per_s) * 1000 / w;
        (micro_per_ms.max(1), part(u64::from(self.burst)).max(1))
    }
}

/// A token bucket on a millisecond clock, in micro-tokens (integer; a worker's share of the rate
/// is rounded down to a micro-token a millisecond, at most 0.1% under for 1/s). Starts full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenBucket {
    micro: u64,
    cap: u64,
    micro_per_ms: u64,
    last_ms: u64,
}

const MICRO: u64 = 1_000_000;

impl TokenBucket {
    /// A full bucket filling at `micro_per_ms` micro-tokens a millisecond up to `burst` tokens.
    pub fn new(micro_per_ms: u64, burst: u64, now_ms: u64) -> Self {
        let cap = burst.max(1).saturating_mul(MICRO);
        TokenBucket {
            micro: cap,
            cap,
            micro_per_ms,
            last_ms: now_ms,
        }
    }

    /// This worker's bucket for `rate` (see [`Rate::share`]).
    pub fn for_worker(rate: Rate, id: u16, workers: u16, now_ms: u64) -> Self {
        let (per_ms, burst) = rate.share(id, workers);
        Self::new(per_ms, burst, now_ms)
    }

    /// Take one token at `now_ms`; false when the bucket is empty. A clock that went back
    /// refills nothing.
    #[inline]
    pub fn take(&mut self, now_ms: u64) -> bool {
        let dt = now_ms.saturating_sub(self.last_ms);
        if dt > 0 {
            self.micro = self
                .micro
                .saturating_add(dt.saturating_mul(self.micro_per_ms))
                .min(self.cap);
            self.last_ms = now_ms;
        }
        if self.micro >= MICRO {
            self.micro -= MICRO;
            true
        } else {
            false
        }
    }

    /// Whether `other` has the same rate and burst (its fill level aside).
    pub fn same_rate(&self, other: &TokenBucket) -> bool {
        self.cap == other.cap && self.micro_per_ms == other.micro_per_ms
    }
}

/// A service's admission settings, as the snapshot carries them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceLimits {
    /// New connections a second (and burst) over all workers; `None`: no limit.
    pub new_conns: Option<Rate>,
    /// Connections at once (ActiveConn + InActConn) over all workers; 0: no cap. Each worker
    /// holds its share (see [`ServiceLimits::conns_share`]).
    pub max_conns: u32,
    /// The service's client lists.
    pub clients: ClientLists,
}

impl ServiceLimits {
    /// Whether nothing is limited.
    pub fn is_empty(&self) -> bool {
        self.new_conns.is_none() && self.max_conns == 0 && self.clients.is_empty()
    }

    /// Worker `id`'s share of `max_conns` among `workers` (0: no cap): an even split, the
    /// remainder to the lowest ids, at least 1.
    pub fn conns_share(&self, id: u16, workers: u16) -> u64 {
        if self.max_conns == 0 {
            return 0;
        }
        let w = u64::from(workers.max(1));
        let total = u64::from(self.max_conns);
        (total / w + u64::from(u64::from(id) < total % w)).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> (IpAddr, u8) {
        let (a, l) = s.split_once('/').unwrap();
        (a.parse().unwrap(), l.parse().unwrap())
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn test_longest_prefix_decides_v4() {
        let l = ClientLists::new(
            &[p("10.1.0.0/16"), p("10.1.2.3/32")],
            &[p("10.0.0.0/8"), p("10.1.2.0/24")],
        );
        assert_eq!(l.check(ip("10.9.9.9")), ListVerdict::Denied);
        assert_eq!(l.check(ip("10.1.9.9")), ListVerdict::Admit);
        assert_eq!(l.check(ip("10.1.2.4")), ListVerdict::Denied);
        assert_eq!(l.check(ip("10.1.2.3")), ListVerdict::Admit);
        assert_eq!(l.check(ip("10.1.3.0")), ListVerdict::Admit);
        assert_eq!(l.check(ip("10.255.255.255")), ListVerdict::Denied);
        assert_eq!(l.check(ip("11.0.0.0")), ListVerdict::NotAllowed);
        assert_eq!(l.check(ip("9.255.255.255")), ListVerdict::NotAllowed);
        assert_eq!(l.check(ip("0.0.0.0")), ListVerdict::NotAllowed);
        assert_eq!(l.check(ip("255.255.255.255")), ListVerdict::NotAllowed);
    }

    #[test]
    fn test_deny_only_admits_the_rest_and_edges() {
        let l = ClientLists::new(&[], &[p("198.18.5.0/24"), p("255.255.255.0/24")]);
        assert!(!l.is_empty());
        assert_eq!(l.check(ip("198.18.4.255")), ListVerdict::Admit);
        assert_eq!(l.check(ip("198.18.5.0")), ListVerdict::Denied);
        assert_eq!(l.check(ip("198.18.5.255")), ListVerdict::Denied);
        assert_eq!(l.check(ip("198.18.6.0")), ListVerdict::Admit);
        assert_eq!(l.check(ip("255.255.255.255")), ListVerdict::Denied);
        // The IPv6 side is empty: everything admitted.
        assert_eq!(l.check(ip("2001:2::1")), ListVerdict::Admit);
        // Host bits in a prefix are ignored; /0 covers everything.
        let all = ClientLists::new(&[], &[p("1.2.3.4/0")]);
        assert_eq!(all.check(ip("0.0.0.0")), ListVerdict::Denied);
        assert_eq!(all.check(ip("255.255.255.255")), ListVerdict::Denied);
        assert!(ClientLists::new(&[], &[]).is_empty());
        assert_eq!(
            ClientLists::default().check(ip("1.1.1.1")),
            ListVerdict::Admit
        );
    }

    #[test]
    fn test_v6_prefixes() {
        let l = ClientLists::new(
            &[p("2001:2::/48"), p("2001:2:0:ff::/64")],
            &[p("2001:2:0:f0::/60"), p("ffff::/16")],
        );
        assert_eq!(l.check(ip("2001:2::1")), ListVerdict::Admit);
        assert_eq!(l.check(ip("2001:2:0:f3::1")), ListVerdict::Denied);
        assert_eq!(l.check(ip("2001:2:0:ff::1")), ListVerdict::Admit);
        assert_eq!(l.check(ip("2001:2:0:ef:ffff::")), ListVerdict::Admit);
        assert_eq!(l.check(ip("2001:3::")), ListVerdict::NotAllowed);
        assert_eq!(
            l.check(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")),
            ListVerdict::Denied
        );
        // The IPv4 side: unlisted, and an allow list exists.
        assert_eq!(l.check(ip("198.18.0.1")), ListVerdict::NotAllowed);
    }

    #[test]
    fn test_same_prefix_in_both_lists_is_denied() {
        let l = ClientLists::new(&[p("10.0.0.0/8")], &[p("10.0.0.0/8")]);
        assert_eq!(l.check(ip("10.1.1.1")), ListVerdict::Denied);
    }

    /// Against a brute-force longest-prefix match over random nested prefixes.
    #[test]
    fn test_matches_brute_force() {
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..50 {
            let n = (rnd() % 40) as usize;
            let mut allow = Vec::new();
            let mut deny = Vec::new();
            for _ in 0..n {
                // A small address space so prefixes nest often.
                let a = Ipv4Addr::from(0x0a00_0000 | (rnd() as u32 & 0xffff));
                let len = 16 + (rnd() % 17) as u8;
                let list = if rnd() % 2 == 0 {
                    &mut allow
                } else {
                    &mut deny
                };
                list.push((IpAddr::V4(a), len));
            }
            let l = ClientLists::new(&allow, &deny);
            for _ in 0..2000 {
                let a = Ipv4Addr::from(0x0a00_0000 | (rnd() as u32 & 0x1ffff));
                let covers = |&(n, len): &(IpAddr, u8)| {
                    let IpAddr::V4(n) = n else { unreachable!() };
                    let m = u32::mask(len);
                    u32::from(n) & m == u32::from(a) & m
                };
                let best = |list: &[(IpAddr, u8)]| {
                    list.iter()
                        .filter(|e| covers(e))
                        .map(|e| i32::from(e.1))
                        .max()
                        .unwrap_or(-1)
                };
                let (ba, bd) = (best(&allow), best(&deny));
                let want = if bd >= 0 && bd >= ba {
                    ListVerdict::Denied
                } else if ba >= 0 || allow.is_empty() {
                    ListVerdict::Admit
                } else {
                    ListVerdict::NotAllowed
                };
                assert_eq!(
                    l.check(IpAddr::V4(a)),
                    want,
                    "{a} allow {allow:?} deny {deny:?}"
                );
            }
        }
    }

    #[test]
    fn test_bucket_burst_then_rate() {
        // 100/s, burst 10, one worker.
        let r = Rate {
            per_s: 100,
            burst: 10,
        };
        let mut b = TokenBucket::for_worker(r, 0, 1, 5_000);
        let got = (0..50).filter(|_| b.take(5_000)).count();
        assert_eq!(got, 10, "the burst");
        // 100 ms later: 10 more.
        let got = (0..50).filter(|_| b.take(5_100)).count();
        assert_eq!(got, 10);
        // 10 ms: 1 more; 5 ms: none yet; 5 more: one.
        assert!(b.take(5_110));
        assert!(!b.take(5_110));
        assert!(!b.take(5_115));
        assert!(b.take(5_120));
        // A long pause refills only the burst.
        let got = (0..50).filter(|_| b.take(100_000)).count();
        assert_eq!(got, 10);
        // The clock going back gives nothing.
        assert!(!b.take(1_000));
    }

    #[test]
    fn test_bucket_split_over_workers() {
        // 10/s burst 5 over 3 workers: bursts 2, 2, 1; 10/3 a second each, in micro-tokens.
        let r = Rate {
            per_s: 10,
            burst: 5,
        };
        let bursts: Vec<u64> = (0..3).map(|i| r.share(i, 3).1).collect();
        assert_eq!(bursts, [2, 2, 1]);
        let mut b = TokenBucket::for_worker(r, 2, 3, 0);
        assert!(b.take(0));
        assert!(!b.take(0));
        // 3.333/s (3333 micro-tokens a ms, rounded down): a token after 301 ms, not 300.
        assert!(!b.take(300));
        assert!(b.take(301));
        // Over 60 s a worker admits its third of 600 (± the burst).
        let mut b = TokenBucket::for_worker(r, 0, 3, 0);
        let got = (0..60_000u64).filter(|&ms| b.take(ms)).count();
        assert!((199..=203).contains(&got), "{got}");
        // 1/s over 4 workers: each gets one every 4 s.
        let slow = Rate { per_s: 1, burst: 1 };
        let mut b = TokenBucket::for_worker(slow, 3, 4, 0);
        assert!(b.take(0));
        assert!(!b.take(3_999));
        assert!(b.take(4_000));
        assert!(b.same_rate(&TokenBucket::for_worker(slow, 3, 4, 77)));
        assert!(!b.same_rate(&TokenBucket::for_worker(r, 3, 4, 77)));
    }

    #[test]
    fn test_conns_share() {
        let l = ServiceLimits {
            max_conns: 5,
            ..ServiceLimits::default()
        };
        let s: Vec<u64> = (0..2).map(|i| l.conns_share(i, 2)).collect();
        assert_eq!(s, [3, 2]);
        assert_eq!(l.conns_share(0, 1), 5);
        assert_eq!(l.conns_share(7, 8), 1, "at least one per worker");
        assert_eq!(ServiceLimits::default().conns_share(0, 1), 0);
        assert!(ServiceLimits::default().is_empty());
        assert!(!l.is_empty());
    }
}
