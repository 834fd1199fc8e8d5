//! The reliable stream's two ends: the sender's window and resend queue, the receiver's
//! reorder buffer and anti-replay window.
//!
//! One stream runs from each gateway to each peer, for one (sender epoch, receiver epoch)
//! pair, its messages numbered 1, 2, 3... (u64: never wraps). Like conntrackd's FTFW:
//!
//! - the sender keeps every numbered message until it is acknowledged, at most `window` of
//!   them (so memory is bounded by `window` × the largest datagram), resends one when its
//!   timer runs out (the timer doubles on each resend of that message, up to a ceiling) or at
//!   once when the receiver reports it missing (NACK);
//! - the receiver hands messages on in order, each exactly once: a message below the next
//!   expected number is a duplicate (a resend, or a replay) and is dropped; one more than
//!   `window` ahead cannot come from an honest sender and is refused; one inside the window but
//!   ahead is kept until the gap before it fills (so at most `window` are buffered);
//! - acknowledgements are cumulative ("everything up to N"), so a lost or replayed ACK changes
//!   nothing.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// A numbered message waiting for its acknowledgement.
#[derive(Debug)]
pub struct InFlight<T> {
    /// Its sequence number.
    pub seq: u64,
    /// What to send again (the body and what the header needs).
    pub item: T,
    /// When it was last sent.
    pub last_sent: Instant,
    /// Times it was sent.
    pub sends: u32,
    /// The receiver reported it missing: resend at the next chance.
    pub nacked: bool,
}

/// The sending end of one stream.
#[derive(Debug)]
pub struct SendWindow<T> {
    next_seq: u64,
    acked: u64,
    window: usize,
    inflight: VecDeque<InFlight<T>>,
}

impl<T> SendWindow<T> {
    /// A new stream, numbered from 1, with at most `window` messages unacknowledged.
    pub fn new(window: usize) -> Self {
        Self {
            next_seq: 1,
            acked: 0,
            window: window.max(1),
            inflight: VecDeque::new(),
        }
    }

    /// The number the next new message gets.
    pub const fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Everything up to this number is acknowledged.
    pub const fn acked(&self) -> u64 {
        self.acked
    }

    /// Messages sent and not acknowledged.
    pub fn in_flight(&self) -> usize {
        self.inflight.len()
    }

    /// Whether a new message may be sent (the window is not full).
    pub fn can_send(&self) -> bool {
        self.inflight.len() < self.window
    }

    /// Number and keep a new message sent at `now`; returns its number. The caller checks
    /// [`Self::can_send`] first.
    pub fn push(&mut self, item: T, now: Instant) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.inflight.push_back(InFlight {
            seq,
            item,
            last_sent: now,
            sends: 1,
            nacked: false,
        });
        seq
    }

    /// Take a cumulative acknowledgement; returns how many messages it released. An ACK of a
    /// number never sent is ignored (it cannot come from an honest receiver).
    pub fn on_ack(&mut self, ack: u64) -> usize {
        if ack <= self.acked || ack >= self.next_seq {
            return 0;
        }
        self.acked = ack;
        let before = self.inflight.len();
        while self.inflight.front().is_some_and(|m| m.seq <= ack) {
            self.inflight.pop_front();
        }
        before - self.inflight.len()
    }

    /// Mark the messages in the inclusive ranges for an early resend, unless one was sent in
    /// the last `guard` (a resend is already on its way). Returns how many were marked.
    pub fn on_nack(&mut self, ranges: &[(u64, u64)], now: Instant, guard: Duration) -> usize {
        let mut n = 0;
        for m in &mut self.inflight {
            let asked = ranges.iter().any(|&(a, b)| (a..=b).contains(&m.seq));
            if asked && !m.nacked && now.saturating_duration_since(m.last_sent) >= guard {
                m.nacked = true;
                n += 1;
            }
        }
        n
    }

    /// When a message's resend timer runs out: `rto` doubled per earlier resend, at most `max`.
    fn due(m: &InFlight<T>, rto: Duration, max: Duration) -> Instant {
        let shift = m.sends.saturating_sub(1).min(16);
        let wait = rto.saturating_mul(1 << shift).min(max);
        m.last_sent + wait
    }

    /// Return the oldest message to resend at `now` (NACKed, or its timer ran out), marked as
    /// sent again.
    pub fn resend(&mut self, now: Instant, rto: Duration, max: Duration) -> Option<&InFlight<T>> {
        let m = self
            .inflight
            .iter_mut()
            .find(|m| m.nacked || Self::due(m, rto, max) <= now)?;
        m.nacked = false;
        m.last_sent = now;
        m.sends = m.sends.saturating_add(1);
        Some(m)
    }

    /// When the next resend falls due, if anything is in flight.
    pub fn next_resend(&self, now: Instant, rto: Duration, max: Duration) -> Option<Instant> {
        self.inflight
            .iter()
            .map(|m| {
                if m.nacked {
                    now
                } else {
                    Self::due(m, rto, max)
                }
            })
            .min()
    }

    /// Resend everything at the next chance (the peer came back after a silence).
    pub fn expedite(&mut self) {
        for m in &mut self.inflight {
            m.nacked = true;
        }
    }
}

/// What the receiving end did with a numbered message.
#[derive(Debug, PartialEq, Eq)]
pub enum Accept<T> {
    /// In order: these messages (it and any buffered ones it unblocked), in order.
    Deliver(Vec<T>),
    /// Ahead of a gap: kept until the gap fills.
    Buffered,
    /// Seen before (a resend, or a replay): dropped.
    Duplicate,
    /// Further ahead than the window: refused.
    OutOfWindow,
}

/// The receiving end of one stream.
#[derive(Debug)]
pub struct RecvWindow<T> {
    expected: u64,
    window: u64,
    buffered: BTreeMap<u64, T>,
}

impl<T> RecvWindow<T> {
    /// A new stream expecting message 1, buffering at most `window` ahead.
    pub fn new(window: usize) -> Self {
        Self {
            expected: 1,
            window: u64::try_from(window.max(1)).unwrap_or(u64::MAX),
            buffered: BTreeMap::new(),
        }
    }

    /// The cumulative acknowledgement: every message up to this number was received.
    pub const fn ack(&self) -> u64 {
        self.expected - 1
    }

    /// Messages held ahead of a gap.
    pub fn buffered(&self) -> usize {
        self.buffered.len()
    }

    /// Take message `seq`.
    pub fn accept(&mut self, seq: u64, item: T) -> Accept<T> {
        if seq < self.expected {
            return Accept::Duplicate;
        }
        if seq - self.expected >= self.window {
            return Accept::OutOfWindow;
        }
        if seq > self.expected {
            if self.buffered.contains_key(&seq) {
                return Accept::Duplicate;
            }
            self.buffered.insert(seq, item);
            return Accept::Buffered;
        }
        let mut out = vec![item];
        self.expected += 1;
        while let Some(next) = self.buffered.remove(&self.expected) {
            out.push(next);
            self.expected += 1;
        }
        Accept::Deliver(out)
    }

    /// The missing ranges below `upto` (exclusive: the sender's next number, or one past the
    /// highest buffered), at most `max` of them, oldest first.
    pub fn missing(&self, upto: u64, max: usize) -> Vec<(u64, u64)> {
        let upto = upto.min(self.expected.saturating_add(self.window));
        let mut out = Vec::new();
        let mut from = self.expected;
        for &s in self.buffered.keys().chain(core::iter::once(&upto)) {
            if out.len() >= max || from >= upto {
                break;
            }
            if s > from {
                out.push((from, s.min(upto) - 1));
            }
            from = from.max(s + 1);
        }
        out
    }

    /// Whether something below `upto` (the sender's next number) is missing.
    pub fn has_gap(&self, upto: u64) -> bool {
        !self.buffered.is_empty() || self.expected < upto
    }

    /// One past the highest message buffered (or the next expected when none is).
    pub fn horizon(&self) -> u64 {
        self.buffered
            .last_key_value()
            .map_or(self.expected, |(&k, _)| k + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RTO: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(1);

    #[test]
    fn send_window_bounds_acks_and_resends() {
        let t0 = Instant::now();
        let mut w = SendWindow::new(3);
        for i in 0..3 {
            assert!(w.can_send());
            assert_eq!(w.push(i, t0), i + 1);
        }
        assert!(!w.can_send(), "window of 3 is full");
        assert_eq!(w.on_ack(5), 0, "an ACK of an unsent number is ignored");
        assert_eq!(w.on_ack(2), 2);
        assert_eq!(w.on_ack(1), 0, "an older ACK changes nothing");
        assert!(w.can_send());
        assert_eq!(w.in_flight(), 1);
        assert!(
            w.resend(t0 + RTO / 2, RTO, MAX).is_none(),
            "timer still running"
        );
        assert_eq!(w.next_resend(t0, RTO, MAX), Some(t0 + RTO));
        let m = w.resend(t0 + RTO, RTO, MAX).expect("due");
        assert_eq!((m.seq, m.item, m.sends), (3, 2, 2));
        // The second resend waits twice as long.
        assert_eq!(w.next_resend(t0, RTO, MAX), Some(t0 + RTO * 3));
        assert_eq!(w.on_nack(&[(3, 3)], t0 + RTO, RTO / 4), 0, "just resent");
        assert_eq!(w.on_nack(&[(1, 9)], t0 + RTO * 2, RTO / 4), 1);
        assert_eq!(w.next_resend(t0 + RTO * 2, RTO, MAX), Some(t0 + RTO * 2));
        assert_eq!(w.resend(t0 + RTO * 2, RTO, MAX).map(|m| m.seq), Some(3));
    }

    #[test]
    fn recv_window_orders_drops_duplicates_and_bounds() {
        let mut w = RecvWindow::new(4);
        assert_eq!(w.accept(2, 'b'), Accept::Buffered);
        assert_eq!(w.accept(2, 'b'), Accept::Duplicate);
        assert_eq!(
            w.accept(5, 'x'),
            Accept::OutOfWindow,
            "1 + 4 is past the window"
        );
        assert_eq!(w.accept(4, 'd'), Accept::Buffered);
        assert_eq!(w.missing(9, 8), vec![(1, 1), (3, 3)]);
        assert_eq!(w.missing(9, 1), vec![(1, 1)]);
        assert_eq!(w.horizon(), 5);
        assert_eq!(w.accept(1, 'a'), Accept::Deliver(vec!['a', 'b']));
        assert_eq!(w.ack(), 2);
        assert_eq!(w.accept(1, 'a'), Accept::Duplicate, "a replay");
        assert_eq!(w.missing(7, 8), vec![(3, 3), (5, 6)]);
        assert_eq!(w.accept(3, 'c'), Accept::Deliver(vec!['c', 'd']));
        assert_eq!(w.buffered(), 0);
        assert_eq!(w.missing(5, 8), vec![]);
        assert_eq!(w.missing(7, 8), vec![(5, 6)]);
    }
}
