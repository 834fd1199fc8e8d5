//! Fuzz corpora on disk, for the replay tests of each crate's `tests/fuzz_corpus.rs`.

use std::path::{Path, PathBuf};

/// Every regular file under `dir` (recursively), sorted; none when `dir` does not exist.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else if p.is_file() {
            out.push(p);
        }
    }
    out.sort();
    out
}
