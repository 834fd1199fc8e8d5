//! `benches/run.py`'s report code, which turns a run's JSON into the summary that
//! `benches/README.md` quotes, against the committed results: `make bench` itself is not run
//! in `make test`, so this is what keeps the report code from breaking unseen.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The newest full `make bench` run, whose summary `benches/README.md` ("Where the figures
/// stand") quotes.
const GOLDEN: &str = "20261205T045935Z";

fn results_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("results")
}

fn run_py() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("run.py")
}

/// `run.py` with `args`, its results folder `out`, no plots; panics with its output on failure.
fn run(out: &Path, args: &[&str]) -> String {
    let o = Command::new("python3")
        .arg(run_py())
        .args(args)
        .env("FERROVS_BENCH_RESULTS", out)
        .env("FERROVS_BENCH_PLOTS", "0")
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "run.py {args:?}: {}\n{text}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    text
}

/// The committed result files whose names end in `suffix` (".json", "-scaling.json").
fn committed(suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(results_dir())
        .expect("benches/results")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            n.ends_with(suffix) && (suffix != ".json" || !n.ends_with("-scaling.json"))
        })
        .collect();
    v.sort();
    v
}

/// Copy `files` into `dir`; returns the copies.
fn copy_into(dir: &Path, files: &[PathBuf]) -> Vec<PathBuf> {
    files
        .iter()
        .map(|f| {
            let to = dir.join(f.file_name().expect("a file name"));
            fs::copy(f, &to).expect("copy");
            to
        })
        .collect()
}

#[test]
fn the_newest_summary_is_what_its_json_gives() {
    let dir = tempfile::tempdir().unwrap();
    // The summary reports the committed scaling rounds too.
    copy_into(dir.path(), &committed("-scaling.json"));
    let json = results_dir().join(format!("{GOLDEN}.json"));
    let copy = &copy_into(dir.path(), std::slice::from_ref(&json))[0];
    run(dir.path(), &["--report", copy.to_str().unwrap()]);
    let want = fs::read_to_string(results_dir().join(format!("{GOLDEN}.md"))).unwrap();
    let got = fs::read_to_string(dir.path().join(format!("{GOLDEN}.md"))).unwrap();
    assert_eq!(
        got, want,
        "run.py --report no longer gives the committed {GOLDEN}.md: regenerate it \
         (FERROVS_BENCH_PLOTS=0 python3 benches/run.py --report benches/results/{GOLDEN}.json) \
         if the change was meant"
    );
    // Rewriting the JSON keeps every figure: only derived fields are recomputed.
    let before: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&json).unwrap()).unwrap();
    let after: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(copy).unwrap()).unwrap();
    assert_eq!(after, before);
    // What "Where the figures stand" quotes of it.
    for quoted in [
        "190.3 / 76.5 cycles/packet = 2.49x",
        "317.5 / 161.4 cycles/packet = 1.97x",
        "326.2 / 161.0 cycles/packet = 2.03x",
        "62.7 ns/packet",
        "79.2 ns/packet",
        "3.42 M/s",
        "93.6 bytes/session",
        "57.94 / 9.63 Mpps = 6.01x",
        "36.51 / 5.16 Mpps = 7.07x",
    ] {
        assert!(got.contains(quoted), "{GOLDEN}.md lacks {quoted:?}");
    }
}

#[test]
fn every_committed_result_still_reports() {
    let dir = tempfile::tempdir().unwrap();
    let all = committed(".json");
    assert!(all.len() >= 30, "{} committed results", all.len());
    for copy in copy_into(dir.path(), &all) {
        let stem = copy.file_stem().unwrap().to_str().unwrap().to_owned();
        run(dir.path(), &["--report", copy.to_str().unwrap()]);
        let md = fs::read_to_string(dir.path().join(format!("{stem}.md"))).unwrap();
        assert!(
            md.starts_with("# ferrovs benchmark results"),
            "{stem}.md: {md:.200}"
        );
    }
}

#[test]
fn the_scaling_rounds_give_the_quoted_medians() {
    // Session 16's six rounds on the lent 16-CPU machine (benches/README.md, "Scaling, FullNAT
    // UDP, 1M sessions per worker").
    let rounds: Vec<PathBuf> = committed("-scaling.json")
        .into_iter()
        .filter(|p| {
            let n = p.file_name().unwrap().to_str().unwrap();
            ("20261204T163509Z".."20261204T163857Z").contains(&n)
        })
        .collect();
    assert_eq!(rounds.len(), 6, "{rounds:?}");
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["--scaling-rounds"];
    args.extend(rounds.iter().map(|p| p.to_str().unwrap()));
    let table = run(dir.path(), &args);
    for row in [
        "| 1 | ring | 9.63 | 7.49-10.44 | 1.00x | 215 |",
        "| 8 | ring | 57.94 | 55.70-62.32 | 6.01x | 291 |",
        "| 1 | memif | 5.16 | 4.38-5.99 | 1.00x | 388 |",
        "| 8 | memif | 36.51 | 31.67-39.70 | 7.07x | 462 |",
    ] {
        assert!(table.contains(row), "no row {row:?} in\n{table}");
    }
}
