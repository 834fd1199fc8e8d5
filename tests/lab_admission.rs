//! Admission control in the lab (issue 17): over-limit connections are refused and counted; a
//! denied prefix gets nothing. One NAT gateway with one worker (so a worker's share of a
//! limit is the whole limit), each limit set by a live reload of the file:
//! - `max_conns = 3`: three held connections work, the fourth is refused (`conn_limit`), and
//!   one works again once a held one has closed (RST, then CLOSE's 10 s);
//! - `max_new_per_s = 5`: a burst of 40 SYNs (hping3) gets about 5 in, the rest refused
//!   (`new_conn_rate_limit`); a connection a moment later works;
//! - `[admission] deny_clients`: a second client address in the denied prefix gets no
//!   connection (`client_denied`), the first still does.
//!
//! Timing bounds are generous (a loaded 2-CPU machine); counts come from the gateway's
//! Prometheus drops by reason.
mod common;

use std::process::{Child, Stdio};
use std::time::Duration;

use common::*;

const TAG: &str = "fva";
/// A second client address, in the prefix the last step denies.
const DENIED: &str = "198.18.1.20";

/// A held connection, killed (and reaped) when dropped.
struct Held(Child);

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The sample of `ferrovs_worker_drops_total` with `reason`, summed over workers.
fn drops(scrape: &str, reason: &str) -> u64 {
    let label = format!("reason=\"{reason}\"");
    scrape
        .lines()
        .filter(|l| l.starts_with("ferrovs_worker_drops_total{") && l.contains(&label))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<u64>().ok()))
        .sum()
}

impl Lab {
    fn scrape(&self) -> String {
        self.run("gw", &["curl", "-sS", "-m", "5", self.var("METRICS")])
    }

    fn drops(&self, reason: &str) -> u64 {
        drops(&self.scrape(), reason)
    }

    /// The HTTP status of one request to the VIP from the client (from `src`, when given),
    /// `None` when it failed (timeout: 3 s).
    fn get(&self, src: Option<&str>) -> Option<String> {
        let url = format!("http://{}/", self.var("VIP"));
        let mut cmd = vec!["curl", "-sS", "-m", "3", "-o", "/dev/null"];
        if let Some(s) = src {
            cmd.extend(["--interface", s]);
        }
        cmd.extend(["-w", "%{http_code}", &url]);
        self.try_run("client", &cmd)
            .map(|s| s.trim().to_owned())
            .filter(|s| s == "200")
    }

    /// A TCP connection to `VIP:80` from the client, held open until dropped, that ends with a
    /// reset (its session closes at once and expires after CLOSE's 10 s).
    fn hold(&self, sport: u16) -> Held {
        let target = format!("TCP:{}:80,sourceport={sport},so-linger=0", self.var("VIP"));
        let child = self
            .command(&["exec", "client", "--", "socat", "-", &target])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("socat");
        Held(child)
    }

    /// The service's ActiveConn from `ferrovsadm -L -n`.
    fn active(&self) -> Option<u64> {
        let t = self.run("gw", &["ferrovsadm", "-L", "-n"]);
        let vip = format!("{}:80", self.var("VIP"));
        // Sum the real servers' ActiveConn (the 5th column of their "  -> " rows).
        let mut in_svc = false;
        let mut sum = 0;
        for l in t.lines() {
            if l.starts_with("TCP") {
                in_svc = l.contains(&vip);
            } else if in_svc && l.trim_start().starts_with("->") {
                sum += l.split_whitespace().nth(4)?.parse::<u64>().ok()?;
            }
        }
        Some(sum)
    }

    /// Write the lab's file with `service` keys in its service and `global` appended, reload,
    /// and wait until the new generation runs.
    fn reconfigure(&self, original: &str, service: &str, global: &str) {
        let cfg = original.replacen("[[service]]\n", &format!("[[service]]\n{service}"), 1);
        std::fs::write(self.var("CONFIG"), format!("{cfg}\n{global}")).expect("write config");
        let out = self.run("gw", &["ferrovsadm", "--reload"]);
        assert!(!out.contains("refused"), "reload: {out}\n{}", self.logs());
    }
}

#[test]
fn lab_nat_admission_conn_cap_rate_and_denied_prefix() {
    let lab = Lab::create(TAG, "nat", &["--workers", "1"]);
    let original = std::fs::read_to_string(lab.var("CONFIG")).expect("config");
    lab.run(
        "client",
        &["ip", "addr", "add", &format!("{DENIED}/24"), "dev", "eth0"],
    );

    // max_conns = 3: three held connections get in (ESTABLISHED through the gateway). No
    // request before this step: a closed one lingers in TIME_WAIT, which counts (InActConn,
    // as IPVS's thresholds count it).
    lab.reconfigure(&original, "max_conns = 3\n", "");
    let held: Vec<Held> = (0..3).map(|i| lab.hold(41000 + i)).collect();
    lab.wait_for("three held connections", Duration::from_secs(20), || {
        lab.active() == Some(3)
    });
    let refused_before = lab.drops("conn_limit");
    assert_eq!(lab.get(None), None, "a fourth connection must be refused");
    let refused = lab.drops("conn_limit") - refused_before;
    assert!(refused >= 1, "the refusal is counted: {refused}");
    // One closes (RST): CLOSE still counts for 10 s, then a new connection gets in.
    drop(held.into_iter().next());
    let mut rest = Vec::new();
    lab.wait_for(
        "a connection after one closed",
        Duration::from_secs(40),
        || {
            let ok = lab.get(None).is_some();
            if !ok {
                rest.push(());
            }
            ok
        },
    );
    eprintln!(
        "max_conns: fourth refused ({refused} SYNs counted), {} tries before one got in",
        rest.len()
    );

    // max_new_per_s = 5, burst 5: 40 SYNs at 1 ms get about 5 in.
    lab.reconfigure(&original, "max_new_per_s = 5\nmax_new_burst = 5\n", "");
    std::thread::sleep(Duration::from_millis(1500));
    let before = lab.drops("new_conn_rate_limit");
    let vip = lab.var("VIP").to_owned();
    let out = lab.exec(
        "client",
        &[
            "timeout", "20", "hping3", "-q", "-S", "-p", "80", "-c", "40", "-i", "u1000", &vip,
        ],
    );
    assert!(
        text(&out).contains("40 packets transmitted"),
        "hping3: {}",
        text(&out)
    );
    std::thread::sleep(Duration::from_millis(500));
    let limited = lab.drops("new_conn_rate_limit") - before;
    eprintln!("max_new_per_s: {limited} of 40 SYNs refused");
    assert!(
        (25..=35).contains(&limited),
        "a burst of 40 SYNs at 5/s (burst 5): {limited} refused\n{}",
        lab.logs()
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        lab.get(None).as_deref(),
        Some("200"),
        "under the rate again"
    );

    // [admission] deny_clients: the second address's /28 gets nothing, the first still gets in.
    lab.reconfigure(
        &original,
        "",
        "[admission]\ndeny_clients = [\"198.18.1.16/28\"]\n",
    );
    let before = lab.drops("client_denied");
    assert_eq!(lab.get(Some(DENIED)), None, "a denied client got in");
    let denied = lab.drops("client_denied") - before;
    assert!(denied >= 1, "the denied SYNs are counted: {denied}");
    assert_eq!(lab.get(None).as_deref(), Some("200"), "{}", lab.logs());
    eprintln!("deny_clients: {denied} SYNs of the denied client counted");
}
