//! Replays the committed fuzz seed corpus (`fuzz/corpus/config_parse/`) through the fuzz
//! harness, so stable CI checks what `make fuzz` checks; an ignored test replays the crash
//! reproducers a local fuzzing run left (`fuzz/artifacts/`).
use std::path::{Path, PathBuf};

use testkit::corpus::files_under;

use config::fuzzing::{fuzz_one, Outcome};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

#[test]
fn replay_seed_corpus() {
    let files = files_under(&fuzz_dir().join("corpus/config_parse"));
    assert!(files.len() >= 20, "seed corpus has {} files", files.len());
    let (mut accepted, mut refused) = (0, 0);
    for f in &files {
        let data = std::fs::read(f).unwrap();
        let r = std::panic::catch_unwind(|| fuzz_one(&data));
        match r.unwrap_or_else(|_| panic!("{} broke the parser's contract", f.display())) {
            Outcome::Accepted => accepted += 1,
            Outcome::Refused => refused += 1,
            Outcome::NotText => {}
        }
    }
    // Both oracles have work: the export round trip and the error locations.
    assert!(accepted >= 5, "only {accepted} seeds parse");
    assert!(refused >= 5, "only {refused} seeds are refused");
}

#[test]
fn harness_survives_edge_inputs() {
    for data in [
        &b""[..],
        b"\xff\xfe",
        b"[",
        b"[[service]]",
        b"a = ",
        b"\n\n\n=",
    ] {
        fuzz_one(data);
    }
}

#[test]
#[ignore = "needs fuzz/artifacts/ from a local cargo fuzz run"]
fn replay_fuzz_artifacts() {
    let files = files_under(&fuzz_dir().join("artifacts/config_parse"));
    assert!(!files.is_empty(), "no reproducers: run make fuzz first");
    for f in files {
        let data = std::fs::read(&f).unwrap();
        let r = std::panic::catch_unwind(|| fuzz_one(&data));
        assert!(r.is_ok(), "{} panicked", f.display());
    }
}
