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
