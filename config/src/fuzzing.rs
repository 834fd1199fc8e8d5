//! The fuzzing harness for the configuration parser, shared by the `cargo fuzz` target
//! (`config/fuzz/fuzz_targets/config_parse.rs`) and the corpus replay test
//! (`config/tests/fuzz_corpus.rs`), so stable CI runs exactly what the fuzzer runs.
//!
//! Contract: [`fuzz_one`] accepts any bytes and panics only when the parser breaks a promise:
//! it panicked; it refused a file without saying why, or with an error that has no line,
//! column or message, or a line past the end of the file; or it accepted a file whose
//! [`Config::to_toml`] does not read back to the same configuration (what `ferrovs config
//! export` and every admin change rely on).

use crate::{parse, Config};

/// The file name every error must carry.
const FILE: &str = "fuzz.toml";

/// Run one input through [`parse`] and check the contract above.
///
/// # Panics
/// When the parser breaks the contract: each panic is a bug.
pub fn fuzz_one(data: &[u8]) -> Outcome {
    let Ok(text) = core::str::from_utf8(data) else {
        // TOML is UTF-8 and `load` reads the file as a string, so other bytes never get here.
        return Outcome::NotText;
    };
    match parse(text, FILE) {
        Ok(cfg) => {
            round_trip(&cfg);
            Outcome::Accepted
        }
        Err(errs) => {
            assert!(!errs.is_empty(), "refused without an error");
            let lines = text.lines().count().max(1) + 1;
            for e in errs.iter() {
                assert_eq!(e.file, FILE, "{e}");
                assert!(e.line >= 1 && e.line <= lines, "line out of the file: {e}");
                assert!(e.col >= 1, "no column: {e}");
                assert!(!e.message.trim().is_empty(), "no message: {e}");
            }
            Outcome::Refused
        }
    }
}

fn round_trip(cfg: &Config) {
    let out = cfg.to_toml();
    match parse(&out, "export.toml") {
        Ok(back) => assert!(back == *cfg, "export does not read back equal:\n{out}"),
        Err(e) => panic!("export does not read back: {e}\n---\n{out}"),
    }
}

/// What [`fuzz_one`] made of its input, so the corpus replay can show both sides were reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Not UTF-8: never parsed.
    NotText,
    /// Parsed, and its export read back equal.
    Accepted,
    /// Refused with located errors.
    Refused,
}
