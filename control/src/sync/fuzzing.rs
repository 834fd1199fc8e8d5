//! The fuzzing harness for the sync decoder and channel, shared by the cargo-fuzz target
//! (`control/fuzz/fuzz_targets/sync_decode.rs`) and the corpus replay test (`sync::tests::fuzz`),
//! so stable CI runs exactly what the fuzzer runs.
//!
//! Contract: [`fuzz_one`] accepts any bytes and panics only if the codec or the channel breaks
//! a promise: a panic inside them, a datagram that decodes but does not re-encode to the same
//! bytes (the encoding is canonical; a body holding record extensions this version skips
//! re-encodes without them, shorter), or a channel that grows past its bounds.
//!
//! Input format (several datagrams into one channel, so the fuzzer reaches its states):
//!
//! ```text
//! input  := record*
//! record := ctl:u8 len:u16le datagram[len]      (a short last record takes the bytes left)
//! ctl    := bit 0: re-seal the datagram with the channel's key (so its body reaches the
//!           state machine); bits 1-3: advance the clock by 2^n ms first; bit 4: from an
//!           unknown address
//! ```
//!
//! Every datagram is also decoded on its own, with and without the MAC check.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::auth::{Auth, MAC_LEN};
use super::channel::Channel;
use super::settings::{Settings, Timing};
use super::wire::{decode, parse_body_skipping, put_body, Body, Message, Skipped, HEADER_LEN};

/// The key of the harness's channel.
pub const KEY: [u8; 32] = [0x5a; 32];
/// The harness channel's own address.
pub const LOCAL: &str = "198.18.0.2:8848";
/// The harness channel's peer; datagrams come from it.
pub const PEER: &str = "198.18.0.3:8848";

fn addr(s: &str) -> SocketAddr {
    s.parse()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
}

/// The settings of the harness's channel (a small window, so inputs can fill it).
pub fn settings() -> Settings {
    Settings {
        listen: addr(LOCAL),
        peers: vec![addr(PEER)],
        key: KEY.to_vec(),
        syncid: 0,
        group: None,
        ttl: 1,
        max_datagram: 1400,
        rate: 0,
        mode: config::SyncMode::Both,
        expect_peers: 0,
        timing: Timing {
            window: 16,
            max_pending: 64,
            ..Timing::default()
        },
    }
}

/// Split an input into its records.
pub fn records(data: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let mut rest = data;
    while let [ctl, tail @ ..] = rest {
        let (len, tail) = match tail {
            [a, b, t @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), t),
            t => (t.len(), &t[t.len()..]),
        };
        let n = len.min(tail.len());
        out.push((*ctl, &tail[..n]));
        rest = &tail[n..];
    }
    out
}

/// Build an input from records (the inverse of [`records`]).
pub fn encode(records: &[(u8, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for &(ctl, d) in records {
        out.push(ctl);
        out.extend_from_slice(&u16::try_from(d.len()).unwrap_or(u16::MAX).to_le_bytes());
        out.extend_from_slice(d);
    }
    out
}

/// Check the codec's promises on one datagram.
fn check_codec(d: &[u8], auth: &Auth) {
    let _ = decode(d, Some(auth));
    if let Ok(Message { header, body }) = decode(d, None) {
        let wire = &d[HEADER_LEN..d.len() - MAC_LEN];
        let mut skipped = Skipped::default();
        let reparsed = parse_body_skipping(header.kind, wire, &mut skipped);
        assert_eq!(
            reparsed.as_ref(),
            Ok(&body),
            "parse_body_skipping parses as decode"
        );
        // Canonical encoding: the body re-encodes to the same bytes.
        let mut again = Vec::new();
        if let Body::Data { .. } | Body::Nack { .. } = &body {
            assert!(
                put_body(&mut again, &body).is_ok(),
                "decoded records re-encode"
            );
        } else {
            let _ = put_body(&mut again, &body);
        }
        // Every extension block holds an extension, so it shows in `skipped`.
        if skipped == Skipped::default() {
            assert_eq!(again.as_slice(), wire, "decode then encode is the identity");
        } else {
            assert!(
                again.len() < wire.len(),
                "skipped extensions re-encode shorter"
            );
        }
    }
}

/// Run one input; see the module documentation.
pub fn fuzz_one(data: &[u8]) {
    let auth = Auth::new(&KEY);
    let s = settings();
    let timing = s.timing;
    let t0 = Instant::now();
    let mut now = t0;
    let mut ch = Channel::new(s, 1_000_000, now);
    // Parsed once: parsing them per record took 5% of the time on a grown corpus.
    let (peer, stranger) = (addr(PEER), addr("198.18.0.99:8848"));
    let mut dgram = Vec::new();
    for (ctl, d) in records(data) {
        check_codec(d, &auth);
        now += Duration::from_millis(1 << (ctl >> 1 & 7));
        dgram.clear();
        dgram.extend_from_slice(d);
        if ctl & 1 != 0 && dgram.len() >= MAC_LEN {
            let split = dgram.len() - MAC_LEN;
            let mac = auth.sign(&dgram[..split]);
            dgram[split..].copy_from_slice(&mac);
        }
        let from = if ctl & 0x10 != 0 { stranger } else { peer };
        let _ = ch.on_datagram(&dgram, from, now);
        let _ = ch.handle_timeout(now);
        let mut sent = 0;
        while let Some(t) = ch.poll_transmit(now) {
            assert!(t.bytes.len() <= 1400, "a datagram over max_datagram");
            sent += 1;
            assert!(sent < 10_000, "poll_transmit does not run dry");
        }
        // The bounds after every datagram. Building the whole `stats` (a histogram clone, a
        // vector) per record took 7% of the time, so here only its one computed part,
        // `ready`, runs, and the depths come from `queue_depths`; `stats` runs once per input,
        // below, and must report the same depths.
        let _ = ch.ready();
        for (in_flight, buffered, pending) in ch.queue_depths() {
            check_bounds(in_flight, buffered, pending, &timing);
        }
    }
    let stats = ch.stats();
    let reported: Vec<_> = stats
        .peers
        .iter()
        .map(|p| (p.in_flight, p.buffered, p.pending))
        .collect();
    assert!(
        reported.iter().copied().eq(ch.queue_depths()),
        "stats and queue_depths disagree"
    );
}

/// The channel's promise on its queues: a window's worth in flight and buffered, at most
/// `max_pending` waiting.
fn check_bounds(in_flight: usize, buffered: usize, pending: usize, timing: &Timing) {
    assert!(in_flight <= timing.window && buffered <= timing.window);
    assert!(pending <= timing.max_pending);
}
