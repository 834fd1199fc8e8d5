//! What control's kernel tests share: a network namespace of their own (needs root, like the
//! lab tests) and `ip` run with its output checked.

#![allow(dead_code)] // Each test binary uses its own part.

use std::net::IpAddr;
use std::process::Command;

pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `ip ARGS`, which must succeed.
pub fn ip_cmd(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip runs");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A named network namespace (`PREFIX` + this process's id), deleted on drop.
pub struct Netns(pub String);

impl Netns {
    pub fn new(prefix: &str) -> Self {
        let name = format!("{prefix}{}", std::process::id());
        ip_cmd(&["netns", "add", &name]);
        Self(name)
    }

    /// `ip -n NS ARGS`.
    pub fn ip(&self, args: &[&str]) {
        let mut a = vec!["-n", &self.0];
        a.extend_from_slice(args);
        ip_cmd(&a);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}
