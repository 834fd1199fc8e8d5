//! Arbitrary bytes through the ipvsadm grammar and the apply path; see `admin::fuzzing` for the
//! input format and what counts as a failure. Run with `make fuzz`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    admin::fuzzing::fuzz_ipvsadm(data);
});
