//! Arbitrary bytes as one admin socket request line, decoded and applied; see
//! `admin::fuzzing` for what counts as a failure. Run with `make fuzz`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    admin::fuzzing::fuzz_request(data);
});
