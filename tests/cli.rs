//! The `ferrovs` binary's offline commands, run as a user would run them.

use std::process::Command;

fn ferrovs(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ferrovs"))
        .args(args)
        .output()
        .expect("run ferrovs")
}

#[test]
fn check_accepts_the_example_config() {
    let out = ferrovs(&[
        "check",
        concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ferrovs.toml"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok"));
}

#[test]
fn check_reports_every_error_with_its_position_and_exits_1() {
    let dir = std::env::temp_dir().join(format!("ferrovs-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "[dpdk]\nlcores = \"0-1\"\nbogus = 1\n\n[[port]]\nname = \"p0\"\ndevice = \"net_ring0\"\n\n\
         [[service]]\nvip = \"198.18.0.10\"\nport = 80\nscheduler = \"xx\"\n",
    )
    .unwrap();
    let out = ferrovs(&["check", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let f = file.display();
    assert!(
        err.contains(&format!("{f}:3:1: dpdk.bogus: unknown key")),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{f}:12:13: service[0].scheduler: unknown scheduler \"xx\""
        )),
        "{err}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn check_of_a_missing_file_fails_cleanly() {
    let out = ferrovs(&["check", "/nonexistent/ferrovs.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/ferrovs.toml"));
}

#[test]
fn version_names_the_dpdk_release() {
    let out = ferrovs(&["version"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("DPDK 22.11"));
}

/// `ferrovs doctor`'s `tlb` check measures on huge pages (it needs 128 free, which `make deps`
/// reserves) and says ok or WARN as its own figures say: a scattered load costing more than
/// `TLB_WALK_NS` beyond a packed one means the 2 MiB pages are translated 4 KiB at a time. A
/// gateway without huge pages (`--memory-mb 0`) is not asked.
#[test]
fn doctor_reads_the_tlb_reach_over_huge_pages_and_judges_by_its_figures() {
    let out = ferrovs(&["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("] tlb "))
        .unwrap_or_else(|| panic!("no tlb line in:\n{text}"));
    assert!(
        !line.contains("not measured"),
        "the check needs 128 free 2 MiB huge pages (run `make deps`): {line}"
    );
    let ns = |after: &str| -> f64 {
        let rest = &line[line.find(after).expect(after) + after.len()..];
        let num: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        num.parse().expect("a figure")
    };
    let (spread, packed) = (ns("pages: "), ns("against "));
    assert!(
        line.contains("4096 lines scattered over 256 MiB of 2 MiB pages"),
        "{line}"
    );
    assert!(spread > 0.0 && packed > 0.0, "{line}");
    let beyond = spread - packed - control::doctor::TLB_WALK_NS;
    // The line shows one decimal: within 0.1 of the threshold either verdict is its own.
    if beyond.abs() > 0.1 {
        assert_eq!(line.starts_with("[WARN]"), beyond > 0.0, "{line}");
        assert_eq!(line.starts_with("[  ok]"), beyond < 0.0, "{line}");
    }

    let out = ferrovs(&["doctor", "--memory-mb", "0"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("] tlb "), "{text}");
}
