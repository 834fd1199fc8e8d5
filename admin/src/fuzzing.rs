//! The fuzzing harnesses for what reaches the admin socket, shared by the `cargo fuzz` targets
//! (`admin/fuzz/fuzz_targets/`) and the corpus replay test (`admin/tests/fuzz_corpus.rs`), so
//! stable CI runs exactly what the fuzzer runs.
//!
//! Two ways in, two targets: the ipvsadm grammar ([`fuzz_ipvsadm`]: one command line, or a
//! restore file as `-R` reads it) and the admin protocol's request decoder ([`fuzz_request`]:
//! one JSON line as the socket reads it). What either produces is applied to the shipped
//! example configuration, as the daemon would.
//!
//! Contract: never a panic; every refusal says why (a non-empty message); and a change that is
//! accepted leaves a configuration whose TOML export reads back equal (the daemon validates,
//! exports and reloads through exactly that).

use std::sync::OnceLock;

use crate::apply::apply_all;
use crate::ipvsadm::{self, Command, Parsed};
use crate::names::NameTables;
use crate::proto::{Op, Request};

/// The configuration every change applies to: the shipped example (all four modes, a local
/// address pool, health checks).
const BASE: &str = include_str!("../../examples/ferrovs.toml");

/// How far an input got, so the corpus replay can show every stage was reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Not UTF-8, or the grammar / decoder refused it.
    Refused,
    /// Parsed into something that is not a change (a listing, `--help`...).
    NotAChange,
    /// A change the configuration refused.
    ChangeRefused,
    /// A change that applied and validated.
    Applied,
}

/// The parsed [`BASE`], parsed once: every change applies to a copy of it ([`apply_all`]
/// clones it), so no input sees another's changes, and parsing it again per input cost as much
/// as the input's own work.
fn base() -> &'static config::Config {
    static PARSED: OnceLock<config::Config> = OnceLock::new();
    PARSED.get_or_init(|| {
        config::parse(BASE, "examples/ferrovs.toml").expect("the shipped example parses")
    })
}

/// Run one ipvsadm input: with the first byte even, the rest is a restore file (`-R`); odd, a
/// command line whose words are separated by NUL bytes (`argv[0]` is the program).
///
/// # Panics
/// When the grammar or the apply path breaks the contract: each panic is a bug.
pub fn fuzz_ipvsadm(data: &[u8]) -> Outcome {
    let Some((&mode, rest)) = data.split_first() else {
        return Outcome::Refused;
    };
    let Ok(text) = core::str::from_utf8(rest) else {
        return Outcome::Refused;
    };
    let names = NameTables::default();
    let mut ops = Vec::new();
    if mode & 1 == 0 {
        for (_, argv) in ipvsadm::restore_lines(text, "ipvsadm") {
            match ipvsadm::parse(&argv, true, &names) {
                Ok(Parsed::Command(Command::Apply(op))) => ops.push(op),
                Ok(_) => {}
                Err(e) => {
                    assert!(!e.message.trim().is_empty(), "refused without a message");
                    return Outcome::Refused;
                }
            }
        }
    } else {
        let argv: Vec<String> = text.split('\0').map(str::to_owned).collect();
        match ipvsadm::parse(&argv, false, &names) {
            Ok(Parsed::Command(Command::Apply(op))) => ops.push(op),
            Ok(_) => return Outcome::NotAChange,
            Err(e) => {
                assert!(!e.message.trim().is_empty(), "refused without a message");
                return Outcome::Refused;
            }
        }
    }
    if ops.is_empty() {
        return Outcome::NotAChange;
    }
    apply_checked(&ops)
}

/// Run one admin request line as the socket server decodes it.
///
/// # Panics
/// When the decoder or the apply path breaks the contract: each panic is a bug.
pub fn fuzz_request(data: &[u8]) -> Outcome {
    let Ok(line) = core::str::from_utf8(data) else {
        return Outcome::Refused;
    };
    match crate::server::decode(line) {
        Ok(Request::Apply { ops }) => apply_checked(&ops),
        Ok(_) => Outcome::NotAChange,
        Err(e) => {
            assert!(!e.trim().is_empty(), "refused without a message");
            Outcome::Refused
        }
    }
}

fn apply_checked(ops: &[Op]) -> Outcome {
    match apply_all(base(), ops) {
        Ok(cfg) => {
            let out = cfg.to_toml();
            let back = config::parse(&out, "export.toml")
                .unwrap_or_else(|e| panic!("an applied change does not export: {e}\n---\n{out}"));
            assert!(
                back == cfg,
                "an applied change does not read back equal:\n{out}"
            );
            Outcome::Applied
        }
        Err(e) => {
            assert!(
                !e.message.trim().is_empty(),
                "change refused without a message"
            );
            Outcome::ChangeRefused
        }
    }
}
