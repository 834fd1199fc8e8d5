//! `ferrovs check` on the box (issue 16, bad input): an `[announce]` table that holds routes not
//! ferrovs's is refused with FILE:LINE:COL at `announce.table`; ferrovs's own routes (proto 247)
//! and an empty table pass. Runs the binary in a network namespace of its own (root), with
//! routes added by `ip`.

use std::process::Command;

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip runs");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A named network namespace, deleted on drop.
struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

const CONFIG: &str = "[[port]]\nname = \"eth0\"\ndevice = \"net_null0\"\n\
                      addresses = [\"198.18.1.1/24\"]\nexception_path = { tap = \"eth0\" }\n\n\
                      [[service]]\nvip = \"198.18.1.100\"\nport = 80\n\
                      [[service.real_server]]\naddress = \"198.18.1.11\"\n\n\
                      [announce]\ntable = 100\n";

fn check(ns: &Netns, file: &std::path::Path) -> (Option<i32>, String, String) {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.0,
            env!("CARGO_BIN_EXE_ferrovs"),
            "check",
        ])
        .arg(file)
        .output()
        .expect("ferrovs runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_refuses_a_table_used_by_something_else() {
    let ns = Netns(format!("fvchk{}", std::process::id()));
    ip(&["netns", "add", &ns.0]);
    ip(&[
        "-n", &ns.0, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p",
    ]);
    ip(&["-n", &ns.0, "link", "set", "eth0", "up"]);
    let dir = std::env::temp_dir().join(format!("ferrovs-announce-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("gw.toml");
    std::fs::write(&file, CONFIG).expect("write");

    // Empty, then with a route of ferrovs's own: the table is free.
    let (code, out, err) = check(&ns, &file);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains(": ok ("), "{out}");
    ip(&[
        "-n",
        &ns.0,
        "route",
        "add",
        "198.18.1.100",
        "dev",
        "eth0",
        "table",
        "100",
        "proto",
        "247",
    ]);
    let (code, _, err) = check(&ns, &file);
    assert_eq!(code, Some(0), "{err}");

    // Someone else's route: refused where the table is written (line 14, column 9).
    ip(&[
        "-n",
        &ns.0,
        "route",
        "add",
        "10.9.0.0/16",
        "dev",
        "eth0",
        "table",
        "100",
        "proto",
        "static",
    ]);
    let (code, out, err) = check(&ns, &file);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        err,
        format!(
            "{}:14:9: announce.table: table 100 is used by something else on this box: 1 \
             route(s) not ferrovs's (proto 247), such as 10.9.0.0/16 proto 4; give [announce] \
             a table of its own\n",
            file.display()
        )
    );
    std::fs::remove_dir_all(dir).ok();
}
