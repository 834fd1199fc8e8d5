//! Replays the committed seed corpus of the sync decoder's fuzz target
//! (`control/fuzz/corpus/sync_decode/`) and any crash reproducers a local fuzzing run left
//! (`control/fuzz/artifacts/`) through the harness, so stable CI runs what the fuzzer runs.
//!
//! The seeds are written by the ignored test `sync_write_seed_corpus`:
//! `cargo test -p control sync_write_seed_corpus -- --ignored`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use testkit::corpus::files_under;

use crate::sync::fuzzing::{self, encode, fuzz_one};
use crate::sync::{Channel, Settings};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

#[test]
fn sync_fuzz_seed_corpus_replays() {
    let files = files_under(&fuzz_dir().join("corpus/sync_decode"));
    assert!(files.len() >= 8, "seed corpus has {} files", files.len());
    for f in &files {
        let data = std::fs::read(f).expect("readable");
        let r = std::panic::catch_unwind(|| fuzz_one(&data));
        assert!(r.is_ok(), "{} panicked", f.display());
    }
}

#[test]
fn sync_fuzz_artifacts_replay() {
    for f in files_under(&fuzz_dir().join("artifacts")) {
        let data = std::fs::read(&f).expect("readable");
        let r = std::panic::catch_unwind(|| fuzz_one(&data));
        assert!(r.is_ok(), "{} panicked", f.display());
    }
}

/// A short mutation campaign on stable: every seed cut, bit-flipped, byte-stomped and spliced
/// with a deterministic generator, re-sealed half the time so mutated bodies reach the channel.
#[test]
fn sync_fuzz_mutated_seeds() {
    let seeds: Vec<Vec<u8>> = files_under(&fuzz_dir().join("corpus/sync_decode"))
        .iter()
        .map(|f| std::fs::read(f).expect("readable"))
        .collect();
    let mut rng = super::sim::Rng::new(0x5eed);
    for _ in 0..3000 {
        let a = &seeds[rng.below(seeds.len() as u64) as usize];
        let mut d = a.clone();
        match rng.below(4) {
            0 if d.len() > 1 => d.truncate(rng.below(d.len() as u64) as usize),
            1 => {
                for _ in 0..=rng.below(4) {
                    let i = rng.below(d.len() as u64) as usize;
                    d[i] ^= 1 << rng.below(8);
                }
            }
            2 => {
                let i = rng.below(d.len() as u64) as usize;
                d[i] = rng.next() as u8;
            }
            _ => {
                let b = &seeds[rng.below(seeds.len() as u64) as usize];
                d.extend_from_slice(b);
            }
        }
        // Control bytes: re-seal (bit 0) on about half the records of the input.
        if rng.chance(0.5) && !d.is_empty() {
            d[0] |= 1;
        }
        fuzz_one(&d);
    }
}

#[test]
fn sync_fuzz_harness_survives_edge_inputs() {
    for d in [
        &[][..],
        &[0],
        &[1, 0],
        &[0xff, 0xff, 0xff],
        &[0; 200],
        &[0xff; 200],
    ] {
        fuzz_one(d);
    }
}

/// The peer of the harness's channel, driven for real so the seeds are what a peer sends.
fn peer() -> Settings {
    let mut s = fuzzing::settings();
    s.listen = fuzzing::PEER.parse().expect("literal");
    s.peers = vec![fuzzing::LOCAL.parse().expect("literal")];
    s
}

#[test]
#[ignore = "writes the seed corpus; run by hand after changing the format or the harness"]
fn sync_write_seed_corpus() {
    let dir = fuzz_dir().join("corpus/sync_decode");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for f in files_under(&dir) {
        std::fs::remove_file(f).expect("rm");
    }
    let t0 = Instant::now();
    let mut local = Channel::new(fuzzing::settings(), 1_000_000, t0);
    let mut remote = Channel::new(peer(), 2_000_000, t0);
    let mut all: Vec<Vec<u8>> = Vec::new();
    let mut own: Vec<Vec<u8>> = Vec::new();
    let mut now = t0;
    // A start: hellos, requests, an empty resync each way, then live data with a gap.
    for step in 0..40u32 {
        now += Duration::from_millis(4);
        for from in [0, 1] {
            let (a, b) = if from == 0 {
                (&mut local, &mut remote)
            } else {
                (&mut remote, &mut local)
            };
            while let Some(t) = a.poll_transmit(now) {
                if from == 1 {
                    all.push(t.bytes.clone());
                } else {
                    own.push(t.bytes.clone());
                }
                // Lose every fifth datagram towards the harness's channel, so NACKs appear.
                if from == 1 && all.len().is_multiple_of(5) {
                    continue;
                }
                let src = if from == 0 {
                    fuzzing::LOCAL
                } else {
                    fuzzing::PEER
                };
                for e in b.on_datagram(&t.bytes, src.parse().expect("literal"), now) {
                    if let crate::sync::Event::ResyncRequested { peer } = e {
                        let snap = (0..5)
                            .map(|n| super::sim::session(1, n))
                            .collect::<Vec<_>>();
                        let _ = b.begin_resync(peer, Box::new(snap.into_iter()), now);
                    }
                }
            }
            let _ = a.handle_timeout(now);
        }
        if step > 5 {
            for n in 0..3 {
                let _ = remote.queue(super::sim::session(1, step * 3 + n), now);
            }
        }
    }
    // A PROXY protocol connection's record (the optional PROXY state after the addresses).
    let mut proxied = super::sim::session(1, 9999);
    proxied.flags = dataplane::sync::PROXY_FLAGS;
    proxied.proxy = Some(dataplane::session::ProxyState {
        isn1: 0x1234_5679,
        len: 28,
        v2: true,
    });
    now += Duration::from_millis(4);
    let _ = remote.queue(proxied, now);
    let mut with_proxy = Vec::new();
    while let Some(t) = remote.poll_transmit(now) {
        with_proxy.push(t.bytes.clone());
    }
    assert!(!with_proxy.is_empty(), "the PROXY record was sent");
    for (i, d) in with_proxy.iter().enumerate() {
        std::fs::write(dir.join(format!("proxy-{i:03}.bin")), encode(&[(0, d)])).expect("write");
    }
    // A newer peer's records: an unknown non-critical extension (ignored) on one, an unknown
    // critical one (record skipped) on another, in an extension block (address flag bit 7).
    write_extension_seed(&dir, &with_proxy[0]);
    assert!(all.len() >= 8, "{} datagrams", all.len());
    for (i, d) in all.iter().enumerate() {
        std::fs::write(dir.join(format!("msg-{i:03}.bin")), encode(&[(0, d)])).expect("write");
    }
    // What the harness's own side sent (hellos, ACKs, NACKs): decoded, then refused as its own.
    for (i, d) in own.iter().enumerate() {
        std::fs::write(dir.join(format!("own-{i:03}.bin")), encode(&[(0, d)])).expect("write");
    }
    // The whole conversation as one input, re-sealed (so the state machine runs it all).
    let recs: Vec<(u8, &[u8])> = all.iter().map(|d| (1u8, d.as_slice())).collect();
    std::fs::write(dir.join("conversation.bin"), encode(&recs)).expect("write");
    // Damaged: truncated, flipped, stranger.
    if let Some(d) = all.iter().max_by_key(|d| d.len()) {
        std::fs::write(dir.join("truncated.bin"), encode(&[(1, &d[..d.len() / 2])])).expect("w");
        let mut x = d.clone();
        x[60] ^= 0xff;
        std::fs::write(dir.join("flipped-resealed.bin"), encode(&[(1, &x)])).expect("w");
        std::fs::write(dir.join("stranger.bin"), encode(&[(0x11, d)])).expect("w");
    }
}

/// Write `extension.bin`: `data` (a `Data` message) with its record sent twice, each with an
/// extension block, sealed with the harness's key.
fn write_extension_seed(dir: &Path, data: &[u8]) {
    use crate::sync::auth::Auth;
    use crate::sync::wire::{body_of, parse_body, parse_header, put_record, seal, Body};
    let h = parse_header(data).expect("a message");
    let Ok(Body::Data { records, .. }) = parse_body(h.kind, body_of(data)) else {
        panic!("a data message");
    };
    let mut body = body_of(data)[..crate::sync::wire::DATA_PREFIX_LEN].to_vec();
    body[8..10].copy_from_slice(&2u16.to_be_bytes());
    for block in [&[5u8, 0x01, 3, 0xaa, 0xbb, 0xcc][..], &[2, 0x81, 0]] {
        let at = body.len();
        put_record(&mut body, &records[0]).expect("valid");
        body[at + 4] |= 0x80;
        body.extend_from_slice(block);
    }
    let mut d = Vec::new();
    seal(&mut d, &h, &body, &Auth::new(&fuzzing::KEY)).expect("fits");
    std::fs::write(dir.join("extension.bin"), encode(&[(1, &d)])).expect("write");
}
