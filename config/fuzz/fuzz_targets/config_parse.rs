//! Arbitrary bytes through the configuration parser; see `config::fuzzing` for what counts as
//! a failure. Run with `make fuzz` (or from `config/`: `RUSTC_BOOTSTRAP=1 cargo fuzz run
//! config_parse`). Crashes land in `fuzz/artifacts/config_parse/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    config::fuzzing::fuzz_one(data);
});
