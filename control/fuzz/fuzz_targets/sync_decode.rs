//! Arbitrary datagrams through the session-sync decoder and a channel; see
//! `control::sync::fuzzing` for the input format and what counts as a failure.
//!
//! Run from `control/`: `RUSTC_BOOTSTRAP=1 cargo fuzz run sync_decode` (cargo-fuzz needs
//! nightly `-Z` flags; `RUSTC_BOOTSTRAP=1` lets stable accept them). The seeds are in
//! `fuzz/corpus/sync_decode/`; crashes land in `fuzz/artifacts/sync_decode/`, which the test
//! `sync::tests::fuzz::sync_fuzz_artifacts_replay` replays.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| control::sync::fuzzing::fuzz_one(data));
