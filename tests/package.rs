//! The Debian package (issue 20): `packaging/build-deb.sh` builds it (from the test build's
//! debug binaries, to reuse them), and the files land where the systemd unit expects them:
//! unpacked into a scratch root, every Exec path, the environment file, the configuration and
//! the man pages the unit names are there; the shipped configuration passes `ferrovs check`;
//! `systemd-analyze verify` passes on the unit and on the keepalived and BIRD drop-ins; the
//! dependencies name the DPDK runtime packages; man pages render and completions parse.
//!
//! Needs dpkg-dev, go-md2man, systemd, keepalived and bird2 (`make deps`). nextest runs it in
//! the serial lab group: it compiles, which would slow a timing-sensitive lab test beside it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// [`run`], and nothing on stderr either.
fn quiet(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && err.trim().is_empty(),
        "{cmd:?}: {}\n{err}",
        out.status
    );
}

/// The unit's `Key=` values, in order.
fn values<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .collect()
}

/// The program an `Exec*=` line runs (its special prefixes `+-@:!` dropped).
fn program(exec: &str) -> &str {
    exec.trim_start_matches(['+', '-', '@', ':', '!'])
        .split_whitespace()
        .next()
        .unwrap_or_default()
}

/// Copy a host file into the scratch root at the same path (for what the unit uses from the
/// host: /bin/kill, keepalived, bird, systemd's own units).
fn from_host(root: &Path, path: &str) {
    let to = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
    std::fs::copy(path, &to).unwrap_or_else(|e| panic!("copy {path}: {e}"));
}

#[test]
fn lab_deb_package_installs_where_its_units_expect_and_verifies() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = run(Command::new("bash")
        .arg(root().join("packaging/build-deb.sh"))
        .args(["--profile", "debug", "--out"])
        .arg(tmp.path()));
    let deb = PathBuf::from(out.lines().last().expect("the .deb's path").trim());
    assert!(deb.is_file(), "{deb:?}");

    // Dependencies from dpkg-shlibdeps: libc and the DPDK runtime libraries' packages.
    let info = run(Command::new("dpkg-deb").arg("-f").arg(&deb).arg("Depends"));
    for pkg in ["libc6", "librte-eal23", "librte-ethdev23", "librte-mbuf23"] {
        assert!(info.contains(pkg), "Depends lacks {pkg}: {info}");
    }

    let sysroot = tmp.path().join("root");
    run(Command::new("dpkg").arg("-x").arg(&deb).arg(&sysroot));
    let at = |p: &str| sysroot.join(p.trim_start_matches('/'));
    let control = tmp.path().join("control");
    run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&control));
    let conffiles = std::fs::read_to_string(control.join("conffiles")).expect("conffiles");
    assert_eq!(
        conffiles.lines().collect::<Vec<_>>(),
        ["/etc/default/ferrovs", "/etc/ferrovs/ferrovs.toml"]
    );
    for c in conffiles.lines() {
        assert!(at(c).is_file(), "conffile {c} not in the package");
    }

    // The unit's paths: every program but the host's kill, the environment file, the default
    // configuration file, the man pages of Documentation=.
    let unit_path = at("/lib/systemd/system/ferrovs.service");
    let unit = std::fs::read_to_string(&unit_path).expect("ferrovs.service");
    let execs: Vec<&str> = ["ExecStartPre", "ExecStart", "ExecReload"]
        .iter()
        .flat_map(|k| values(&unit, k))
        .collect();
    assert!(execs.len() >= 4, "{execs:?}");
    for e in &execs {
        let p = program(e);
        if p == "/bin/kill" {
            continue;
        }
        let meta = std::fs::metadata(at(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
        assert!(
            meta.permissions().mode() & 0o111 != 0,
            "{p} is not executable"
        );
    }
    let env_file = values(&unit, "EnvironmentFile");
    assert_eq!(env_file, ["-/etc/default/ferrovs"]);
    assert!(at("/etc/default/ferrovs").is_file());
    let config = values(&unit, "Environment")
        .into_iter()
        .find_map(|v| v.strip_prefix("FERROVS_CONFIG="))
        .expect("FERROVS_CONFIG's default");
    assert!(at(config).is_file(), "{config}");
    let docs = values(&unit, "Documentation").join(" ");
    let pages: Vec<&str> = docs.split_whitespace().collect();
    assert_eq!(pages.len(), 3, "{docs}");
    for page in pages {
        let (name, section) = page
            .strip_prefix("man:")
            .and_then(|p| p.strip_suffix(')'))
            .and_then(|p| p.split_once('('))
            .unwrap_or_else(|| panic!("{page}"));
        let file = at(&format!("/usr/share/man/man{section}/{name}.{section}.gz"));
        let text = run(Command::new("man")
            .arg("-l")
            .arg(&file)
            .env("MANWIDTH", "100"));
        assert!(text.contains("NAME"), "{file:?}:\n{text}");
    }

    // The shipped configuration is valid, and the shipped binaries run.
    let ferrovs = at("/usr/sbin/ferrovs");
    run(Command::new(&ferrovs).arg("check").arg(at(config)));
    assert!(run(Command::new(&ferrovs).arg("--version")).starts_with("ferrovs "));
    let adm = run(Command::new(at("/usr/sbin/ferrovsadm")).arg("-v"));
    assert!(adm.starts_with("ferrovsadm v"), "{adm}");

    // The Grafana dashboard, as the repository has it.
    let dashboard = "usr/share/ferrovs/grafana/ferrovs.json";
    assert_eq!(
        std::fs::read(at(&format!("/{dashboard}"))).expect("the dashboard in the package"),
        std::fs::read(root().join("docs/grafana/ferrovs.json")).expect("docs/grafana"),
        "{dashboard}"
    );

    // Completions: bash parses them; zsh's are there.
    for p in ["ferrovs", "ferrovsadm"] {
        run(Command::new("bash")
            .arg("-n")
            .arg(at(&format!("/usr/share/bash-completion/completions/{p}"))));
        let zsh = at(&format!("/usr/share/zsh/vendor-completions/_{p}"));
        let z = std::fs::read_to_string(&zsh).expect("zsh completion");
        assert!(z.starts_with(&format!("#compdef {p}")), "{zsh:?}");
    }

    // systemd-analyze verify in the scratch root, with systemd's own units and the host
    // programs the units run copied in; the drop-ins join keepalived's and BIRD's units.
    for entry in std::fs::read_dir("/lib/systemd/system").expect("systemd units") {
        let entry = entry.expect("entry");
        let to = at("/lib/systemd/system").join(entry.file_name());
        if entry.file_type().expect("type").is_file() && !to.exists() {
            std::fs::copy(entry.path(), to).expect("copy unit");
        }
    }
    from_host(&sysroot, "/bin/kill");
    for unit in ["keepalived.service", "bird.service"] {
        let path = format!("/lib/systemd/system/{unit}");
        from_host(&sysroot, &path);
        let text = std::fs::read_to_string(&path).expect("host unit");
        for line in text.lines() {
            if let Some((key, exec)) = line.split_once('=') {
                if key.starts_with("Exec") && !exec.trim().is_empty() {
                    from_host(&sysroot, program(exec));
                }
            }
        }
    }
    let man_path = at("/usr/share/man");
    // Our unit's man pages are looked up in the package; keepalived's and BIRD's are theirs
    // (and a minimal Debian has no man pages installed).
    for (unit, man) in [
        ("ferrovs.service", "yes"),
        ("keepalived.service", "no"),
        ("bird.service", "no"),
    ] {
        // verify exits 0 on an unknown key or a bad dependency and only warns: no warnings.
        quiet(
            Command::new("systemd-analyze")
                .arg("verify")
                .arg(format!("--man={man}"))
                .arg(format!("--root={}", sysroot.display()))
                .arg(at("/lib/systemd/system").join(unit))
                .env("MANPATH", &man_path),
        );
    }
    for d in ["keepalived", "bird"] {
        let dropin = at(&format!("/lib/systemd/system/{d}.service.d/ferrovs.conf"));
        let text = std::fs::read_to_string(&dropin).expect("drop-in");
        assert!(
            text.contains("\nAfter=ferrovs.service\n") && text.contains("\nPartOf=ferrovs.service"),
            "{dropin:?}:\n{text}"
        );
    }
}

use std::os::unix::fs::PermissionsExt as _;
