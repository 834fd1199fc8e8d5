//! PROXY protocol in the lab (issue 21): `lab/lab up nat|fullnat --proxy` puts services with
//! `proxy_protocol = "v1"` (port 8080) and `"v2"` (port 8081) on the VIP and VIP6, towards
//! nginx's `listen 8080 proxy_protocol` server on the real servers, which answers with
//! `$proxy_protocol_addr` in X-Client and logs it. A real nginx refuses a connection whose
//! header is missing, broken or doubled (400), so every 200 here is a header read once.
//!
//! Per lab, for v1 and v2 over IPv4 and IPv6: the client's real address in the answer and in
//! nginx's log; a 10 MB download compared byte for byte; 200 requests on one keep-alive
//! connection (the sequence translation, both ways); the first segment's carrier dropped once
//! by nftables on the real servers (the handshake's ACK; the ACK and the first data segment, whose
//! retransmission then carries the header) and the connection still answered with one header.
mod common;

use common::*;

const TAG: &str = "fvp";
/// Requests on the keep-alive connection.
const KEEPALIVE_REQUESTS: usize = 200;
/// The download's size.
const DOWNLOAD: usize = 10 << 20;

/// Deterministic bytes that no compression or repetition could fake (xorshift).
fn payload(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The URL of `vip` (IPv6 bracketed) port `port`, path `path`.
fn url(vip: &str, port: u16, path: &str) -> String {
    if vip.contains(':') {
        format!("http://[{vip}]:{port}{path}")
    } else {
        format!("http://{vip}:{port}{path}")
    }
}

impl Lab {
    /// One GET through the VIP: (status, X-Client).
    fn get(&self, u: &str) -> (String, String) {
        let out = self.run(
            "client",
            &["curl", "-sS", "-m", "20", "-o", "/dev/null", "-D", "-", u],
        );
        let status = out
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("")
            .to_owned();
        (status, x_client(&out))
    }

    /// Every real server's nginx PROXY log.
    fn proxy_logs(&self) -> String {
        ["rs1", "rs2"]
            .iter()
            .map(|h| {
                std::fs::read_to_string(self.state().join(h).join("proxy.log")).unwrap_or_default()
            })
            .collect()
    }

    /// On both real servers, drop the first `k` packets after the SYN of each connection to
    /// port 8080 (the conntrack mark counts them); 0 removes the rules.
    fn drop_first(&self, k: u32) {
        for h in ["rs1", "rs2"] {
            let _ = self.exec(h, &["nft", "delete", "table", "inet", "fvproxy"]);
            if k == 0 {
                continue;
            }
            let m = "tcp dport 8080 tcp flags & syn == 0";
            self.run(h, &["nft", "add", "table", "inet", "fvproxy"]);
            self.run(
                h,
                &[
                    "nft",
                    "add chain inet fvproxy in { type filter hook input priority 0; policy accept; }",
                ],
            );
            // Highest mark first, so one packet moves one step.
            for i in (0..k).rev() {
                let next = if i + 1 == k { 9 } else { i + 1 };
                let r = format!("{m} ct mark {i} ct mark set {next} counter drop");
                self.run(h, &["nft", &format!("add rule inet fvproxy in {r}")]);
            }
        }
    }

    /// Packets the drop rules dropped, both real servers.
    fn dropped(&self) -> u64 {
        ["rs1", "rs2"]
            .iter()
            .map(|h| {
                let out = self.run(h, &["nft", "list", "table", "inet", "fvproxy"]);
                let w: Vec<&str> = out.split_whitespace().collect();
                w.windows(2)
                    .filter(|p| p[0] == "packets")
                    .filter_map(|p| p[1].parse::<u64>().ok())
                    .sum::<u64>()
            })
            .sum()
    }

    fn proxy_inserted(&self) -> u64 {
        let m = self.metrics("gw").expect("metrics");
        per_worker(&m, "ferrovs_worker_proxy_inserted_total")
            .iter()
            .sum()
    }
}

/// The X-Client header of a response's header dump.
fn x_client(headers: &str) -> String {
    headers
        .lines()
        .find_map(|l| l.strip_prefix("X-Client: "))
        .unwrap_or("")
        .trim()
        .to_owned()
}

/// Everything the module doc lists, in `mode` with `workers` workers.
fn proxy_lab(mode: &str, workers: u32) {
    let lab = Lab::create(TAG, mode, &["--workers", &workers.to_string(), "--proxy"]);
    let data = payload(DOWNLOAD);
    for h in ["rs1", "rs2"] {
        std::fs::write(lab.state().join(h).join("www/10m.bin"), &data).expect("10m.bin");
    }
    let dl = lab.state().join("download.bin");
    let families = [
        (lab.var("VIP").to_owned(), lab.var("CLIENT").to_owned()),
        (lab.var("VIP6").to_owned(), lab.var("CLIENT6").to_owned()),
    ];
    for (vip, client) in &families {
        for port in [8080u16, 8081] {
            let what = format!("{mode} x{workers} {vip} port {port}");
            let u = url(vip, port, "/");
            // The client's own address, as the header told nginx (both real servers, rr).
            for _ in 0..2 {
                assert_eq!(lab.get(&u), ("200".to_owned(), client.clone()), "{what}");
            }

            // 10 MB, byte for byte.
            let _ = std::fs::remove_file(&dl);
            let big = url(vip, port, "/10m.bin");
            lab.run(
                "client",
                &["curl", "-sS", "-m", "60", "-o", dl.to_str().unwrap(), &big],
            );
            let got = std::fs::read(&dl).expect("download");
            assert!(
                got == data,
                "{what}: download differs ({} bytes)",
                got.len()
            );

            // Many requests on one connection.
            let urls: Vec<String> = (0..KEEPALIVE_REQUESTS)
                .map(|i| url(vip, port, &format!("/?n={i}")))
                .collect();
            let mut args = vec![
                "curl",
                "-sS",
                "-m",
                "60",
                "-D",
                "-",
                "-w",
                "CONNECTS %{num_connects}\n",
            ];
            args.extend(urls.iter().map(String::as_str));
            let out = lab.run("client", &args);
            let oks = out
                .lines()
                .filter(|l| l.starts_with("HTTP/1.1 200"))
                .count();
            let clients = out
                .lines()
                .filter_map(|l| l.strip_prefix("X-Client: "))
                .filter(|c| c.trim() == client)
                .count();
            let connects: u32 = out
                .lines()
                .filter_map(|l| l.strip_prefix("CONNECTS "))
                .filter_map(|n| n.trim().parse::<u32>().ok())
                .sum();
            assert_eq!(
                (oks, clients, connects),
                (KEEPALIVE_REQUESTS, KEEPALIVE_REQUESTS, 1),
                "{what}: keep-alive (200s, X-Client, connections)"
            );

            // The header's carriers lost: the handshake's ACK (then the first data segment
            // carries it), and the ACK and the first data segment (then the data segment's
            // retransmission carries it). Each connection still reads one header.
            for k in [1u32, 2] {
                lab.drop_first(k);
                let before = lab.proxy_inserted();
                assert_eq!(
                    lab.get(&u),
                    ("200".to_owned(), client.clone()),
                    "{what}: {k} dropped"
                );
                assert_eq!(lab.dropped(), u64::from(k), "{what}: the rules dropped {k}");
                let inserted = lab.proxy_inserted() - before;
                assert!(
                    inserted > u64::from(k),
                    "{what}: {k} dropped: {inserted} headers inserted"
                );
                lab.drop_first(0);
            }
        }
        // nginx's log names the client on every request through the header, and no request
        // failed (a missing or doubled header is a 400).
        let logs = lab.proxy_logs();
        assert!(
            logs.lines().any(|l| l.starts_with(&format!("{client} "))),
            "{logs}"
        );
    }
    let logs = lab.proxy_logs();
    let total = logs.lines().count();
    let bad: Vec<&str> = logs.lines().filter(|l| !l.ends_with(" 200")).collect();
    assert!(
        bad.is_empty(),
        "{} of {total} requests not 200: {bad:?}",
        bad.len()
    );
    let clients = [families[0].1.as_str(), families[1].1.as_str()];
    let foreign: Vec<&str> = logs
        .lines()
        .filter(|l| !clients.iter().any(|c| l.starts_with(&format!("{c} "))))
        .collect();
    assert!(
        foreign.is_empty(),
        "requests from another address: {foreign:?}"
    );
    // Per family and version: 2 + 1 + 200 + 2 requests.
    assert_eq!(total, 4 * (2 + 1 + KEEPALIVE_REQUESTS + 2), "{logs}");
    let m = lab.metrics("gw").expect("metrics");
    let no_room: u64 = m
        .lines()
        .filter(|l| l.contains("reason=\"proxy_header_no_room\""))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<u64>().ok()))
        .sum();
    assert_eq!(no_room, 0, "first segments without room for the header");
    let per = per_worker(&m, "ferrovs_worker_proxy_inserted_total");
    assert_eq!(per.len(), workers as usize, "{per:?}");
    assert!(
        per.iter().all(|&n| n > 0),
        "every worker inserted headers: {per:?}"
    );
}

#[test]
fn lab_proxy_fullnat() {
    proxy_lab("fullnat", 1);
}

#[test]
fn lab_proxy_fullnat_two_workers() {
    proxy_lab("fullnat", 2);
}

#[test]
fn lab_proxy_nat() {
    proxy_lab("nat", 1);
}
