//! Arbitrary bytes through a worker whose snapshot has every forwarding mode; see
//! `dataplane::fuzzing` for the input format and what counts as a failure.
//!
//! Run from `dataplane/`: `RUSTC_BOOTSTRAP=1 cargo fuzz run pipeline` (cargo-fuzz needs
//! nightly `-Z` flags; `RUSTC_BOOTSTRAP=1` lets stable accept them). Crashes land in
//! `fuzz/artifacts/pipeline/`, which `tests/fuzz_corpus.rs` replays.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    dataplane::fuzzing::fuzz_one(data);
});
