//! The rate cap: a token bucket counting sessions (records), one per peer.
//!
//! `rate` tokens arrive per second, up to a burst of `rate / 20` (50 ms worth) but at least one
//! full datagram's worth, so a slow cap still sends full datagrams. Resends take no tokens:
//! they are bounded by the window, and holding them back would only stall the stream.

use std::time::{Duration, Instant};

/// Millionths of a token: integer arithmetic, exact at any rate.
const MICRO: u64 = 1_000_000;

/// A token bucket; `rate == 0` means no cap.
#[derive(Debug, Clone)]
pub struct Bucket {
    rate: u32,
    /// Burst in whole tokens.
    burst: u32,
    /// Tokens, in millionths.
    micro: u64,
    last: Instant,
}

impl Bucket {
    /// A full bucket of `rate` sessions per second, whose burst holds at least `min_burst`.
    pub fn new(rate: u32, min_burst: u32, now: Instant) -> Self {
        let burst = Self::burst_of(rate, min_burst);
        Self {
            rate,
            burst,
            micro: u64::from(burst) * MICRO,
            last: now,
        }
    }

    fn burst_of(rate: u32, min_burst: u32) -> u32 {
        (rate / 20).max(min_burst).max(1)
    }

    /// Change the rate, keeping the tokens there are (capped at the new burst).
    pub fn set_rate(&mut self, rate: u32, min_burst: u32, now: Instant) {
        self.refill(now);
        self.rate = rate;
        self.burst = Self::burst_of(rate, min_burst);
        self.micro = self.micro.min(u64::from(self.burst) * MICRO);
    }

    fn refill(&mut self, now: Instant) {
        let us = now.saturating_duration_since(self.last).as_micros();
        if us == 0 {
            return;
        }
        self.last = now;
        // Tokens per microsecond = rate / 1e6, so millionths of a token = µs × rate.
        let add = us.saturating_mul(u128::from(self.rate));
        let cap = u64::from(self.burst) * MICRO;
        self.micro = u64::try_from(u128::from(self.micro).saturating_add(add))
            .unwrap_or(u64::MAX)
            .min(cap);
    }

    /// How many sessions may go now (`u32::MAX` without a cap).
    pub fn available(&mut self, now: Instant) -> u32 {
        if self.rate == 0 {
            return u32::MAX;
        }
        self.refill(now);
        u32::try_from(self.micro / MICRO).unwrap_or(self.burst)
    }

    /// Spend `n` tokens (after [`Self::available`] allowed them).
    pub fn take(&mut self, n: u32) {
        if self.rate != 0 {
            self.micro = self.micro.saturating_sub(u64::from(n) * MICRO);
        }
    }

    /// When at least one token will be there; `None` when one is, or without a cap.
    pub fn next_token(&self, now: Instant) -> Option<Instant> {
        if self.rate == 0 || self.micro >= MICRO {
            return None;
        }
        let us = (MICRO - self.micro).div_ceil(u64::from(self.rate));
        Some((self.last + Duration::from_micros(us.max(1))).max(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_the_rate_with_a_burst() {
        let t0 = Instant::now();
        let mut b = Bucket::new(1000, 10, t0);
        assert_eq!(b.available(t0), 50, "burst is 50 ms worth");
        b.take(50);
        assert_eq!(b.available(t0), 0);
        let next = b.next_token(t0).expect("capped");
        assert!(next > t0 && next <= t0 + Duration::from_millis(2));
        assert_eq!(b.available(t0 + Duration::from_millis(10)), 10);
        assert_eq!(
            b.available(t0 + Duration::from_secs(5)),
            50,
            "at most the burst"
        );
        let mut slow = Bucket::new(5, 30, t0);
        assert_eq!(slow.available(t0), 30, "a full datagram even at 5/s");
        let mut none = Bucket::new(0, 30, t0);
        assert_eq!(none.available(t0), u32::MAX);
        none.take(1 << 30);
        assert_eq!(none.next_token(t0), None);
        b.set_rate(0, 10, t0);
        assert_eq!(b.available(t0), u32::MAX);
    }
}
