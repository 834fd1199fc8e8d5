//! Replays the committed fuzz seed corpora (`fuzz/corpus/{ipvsadm_grammar,admin_request}/`)
//! through the fuzz harnesses, so stable CI checks what `make fuzz` checks.
//!
//! The seeds are written by the ignored test `write_seed_corpus` (`cargo test -p admin --test
//! fuzz_corpus -- --ignored write_seed_corpus`) from the command lines below, aimed at the
//! shipped example configuration the harness applies them to.
use std::path::{Path, PathBuf};

use testkit::corpus::files_under;

use admin::fuzzing::{fuzz_ipvsadm, fuzz_request, Outcome};
use admin::ipvsadm::{self, Command, Parsed};
use admin::names::NameTables;
use admin::proto::{Envelope, Request};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Command lines as users type them: the seeds' habits, DPVS's, and ferrovs's additions, with
/// the example configuration's addresses (wan0 198.18.0.0/24, lan0 198.19.0.0/24).
const LINES: &[&str] = &[
    "-A -t 198.18.0.30:80 -s rr",
    "-A -t 198.18.0.30:80 -s wrr -p 20",
    "-A -t 198.18.0.30:80 -s sh -b sh-port",
    "-A -u 198.18.0.31:53 -s lc -o",
    "-A -f 1 -s rr",
    "-A -t [2001:db8:0:1::30]:443 -s mh -b mh-port",
    "-E -t 198.18.0.20:80 -s wrr",
    "-D -t 198.18.0.20:80",
    "-a -t 198.18.0.20:80 -r 198.19.0.23 -g -w 1",
    "-a -t 198.18.0.20:80 -r 198.19.0.23 -i",
    "-a -u 198.18.0.53:53 -r 198.19.0.41:5353 -m -w 3 -x 100 -y 50",
    "-a -t 198.18.0.10:443 -r 198.19.0.13:8443 -b",
    "-a -t 198.18.0.10:443 -r 198.19.0.13:8443 --fullnat -w 0",
    "-e -t 198.18.0.20:80 -r 198.19.0.21 -w 0",
    "-d -t 198.18.0.20:80 -r 198.19.0.22",
    "-a -t 198.18.0.20:80 -r 198.19.0.21 -g",
    "-D -t 198.18.0.99:80",
    "-e -t 198.18.0.20:80 -r 198.19.0.99 -w 5",
    "-C",
    "--set 900 120 300",
    "-L -n",
    "-Ln --stats",
    "-L -n -c",
    "-S -n",
    "-Z -t 198.18.0.20:80",
    "--start-daemon master --mcast-interface wan0 --syncid 7",
    "--stop-daemon backup",
    "--drain --wait 30",
    "--ready",
    "-h",
];

#[test]
#[ignore = "writes the seed corpora; run by hand after changing LINES or the harness"]
fn write_seed_corpus() {
    let names = NameTables::default();
    let grammar = fuzz_dir().join("corpus/ipvsadm_grammar");
    let requests = fuzz_dir().join("corpus/admin_request");
    std::fs::create_dir_all(&grammar).unwrap();
    std::fs::create_dir_all(&requests).unwrap();
    for (i, line) in LINES.iter().enumerate() {
        let mut argv = vec!["ipvsadm"];
        argv.extend(line.split_whitespace());
        let mut seed = vec![1u8];
        seed.extend(argv.join("\0").into_bytes());
        std::fs::write(grammar.join(format!("argv-{i:02}")), seed).unwrap();
        let argv: Vec<String> = argv.into_iter().map(str::to_owned).collect();
        if let Ok(Parsed::Command(Command::Apply(op))) = ipvsadm::parse(&argv, false, &names) {
            let req = Envelope::new(Request::Apply { ops: vec![op] });
            let json = serde_json::to_string(&req).unwrap();
            std::fs::write(requests.join(format!("apply-{i:02}.json")), json).unwrap();
        }
    }
    // A restore file: `ipvsadm-save` output as `-R` reads it.
    let restore = "-A -t 198.18.0.30:80 -s rr\n-a -t 198.18.0.30:80 -r 198.19.0.31:80 -m -w 1\n\
                   # a comment\n-a -t 198.18.0.30:80 -r 198.19.0.32:80 -m -w 1\n";
    let mut seed = vec![0u8];
    seed.extend(restore.as_bytes());
    std::fs::write(grammar.join("restore-00"), seed).unwrap();
    for (name, req) in [
        (
            "list",
            r#"{"version":1,"body":{"type":"list","what":"all"}}"#,
        ),
        ("reload", r#"{"version":1,"body":{"type":"reload"}}"#),
        ("old-version", r#"{"version":0,"body":{"type":"reload"}}"#),
        (
            "drain",
            r#"{"version":1,"body":{"type":"drain","drained":true}}"#,
        ),
    ] {
        std::fs::write(requests.join(format!("{name}.json")), req).unwrap();
    }
}

fn replay(dir: &str, run: fn(&[u8]) -> Outcome) -> Vec<Outcome> {
    let files = files_under(&fuzz_dir().join("corpus").join(dir));
    assert!(
        files.len() >= 10,
        "{dir}: seed corpus has {} files",
        files.len()
    );
    files
        .iter()
        .map(|f| {
            let data = std::fs::read(f).unwrap();
            std::panic::catch_unwind(|| run(&data))
                .unwrap_or_else(|_| panic!("{} broke the contract", f.display()))
        })
        .collect()
}

fn count(outcomes: &[Outcome], which: Outcome) -> usize {
    outcomes.iter().filter(|o| **o == which).count()
}

#[test]
fn replay_ipvsadm_grammar_corpus() {
    let out = replay("ipvsadm_grammar", fuzz_ipvsadm);
    // Every stage has work: applied changes (the export oracle), refused changes, listings.
    assert!(count(&out, Outcome::Applied) >= 8, "{out:?}");
    assert!(count(&out, Outcome::ChangeRefused) >= 1, "{out:?}");
    assert!(count(&out, Outcome::NotAChange) >= 5, "{out:?}");
}

#[test]
fn replay_admin_request_corpus() {
    let out = replay("admin_request", fuzz_request);
    assert!(count(&out, Outcome::Applied) >= 8, "{out:?}");
    assert!(count(&out, Outcome::Refused) >= 1, "{out:?}");
    assert!(count(&out, Outcome::ChangeRefused) >= 1, "{out:?}");
}

#[test]
fn harnesses_survive_edge_inputs() {
    for data in [
        &b""[..],
        b"\x00",
        b"\x01",
        b"\x01ipvsadm\x00-A",
        b"\xff\xfe",
        b"{",
        b"null",
    ] {
        fuzz_ipvsadm(data);
        fuzz_request(data);
    }
}
