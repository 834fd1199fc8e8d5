//! Arbitrary datagrams through the session-sync decoder and a channel; see
//! `control::sync::fuzzing` for the input format and what counts as a failure.
//!
//! Run from `control/`: `RUSTC_BOOTSTRAP=1 cargo fuzz run sync_decode` (cargo-fuzz needs
//! nightly `-Z` flags; `RUSTC_BOOTSTRAP=1` lets stable accept them). The seeds are in
//! `fuzz/corpus/sync_decode/`; crashes land in `fuzz/artifacts/sync_decode/`, which the test
//! `sync::tests::fuzz::sync_fuzz_artifacts_replay` replays.
//!
//! Without cargo-fuzz, on stable (what cargo-fuzz does, minus the sanitizer), from
//! `control/fuzz`:
//!
//! ```text
//! RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
//!   -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
//!   -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks" \
//!   cargo build --release --target x86_64-unknown-linux-gnu --bin sync_decode
//! mkdir -p /tmp/new && target/x86_64-unknown-linux-gnu/release/sync_decode /tmp/new \
//!   corpus/sync_decode -max_total_time=300 -max_len=4096 -artifact_prefix=artifacts/
//! ```
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| control::sync::fuzzing::fuzz_one(data));
