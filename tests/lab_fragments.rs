//! Fragmented UDP through the gateway in the lab (issue 17 item 4), over IPv6: the client's
//! kernel fragments 4000- and 9000-byte datagrams (MTU 1500), the gateway forwards every fragment
//! (the first finds or makes the session, the later ones follow it through the fragment
//! table), the real server's kernel reassembles and its UDP echo (lab/udp-echo.py) answers
//! with a datagram as large, fragmented again, which comes back through the gateway in NAT
//! and FullNAT (directly from the server in DR). Each reply must be the request, byte for
//! byte, after the server's name; the gateway must have dropped no fragment.
//!
//! IPv4 is not here: the lab's ports are DPDK's net_af_packet, which joins its sockets to a
//! PACKET_FANOUT group with PACKET_FANOUT_FLAG_DEFRAG, so the kernel reassembles IPv4
//! fragments before the gateway sees them (and the 2048-byte ring frame truncates the result:
//! `bad_ipv4_total_len`). The kernel's fanout defragments IPv4 only, so IPv6 fragments reach
//! the gateway as sent. IPv4 fragments are covered by dataplane/tests/fragments.rs.
//!
//! TUN (IPv4 only) is here with Don't Fragment clear: a 1500-byte datagram, and a 1900-byte
//! one that the kernel's fanout reassembles, no longer fit the 1500-byte MTU with the 20-byte
//! outer header, so the gateway sends the tunnel packet in fragments (RFC 2003 §5.1), which the
//! real server's kernel reassembles before lab/ipip-decap.py decapsulates.
//!
//! Large pings of a VIP: IPv6 `ping -s 3000` arrives in fragments, which the gateway's control
//! plane reassembles and answers in fragments; IPv4 `ping -s 1900` arrives reassembled by the
//! fanout (3000 would pass the ring's 2048-byte frame), and the worker answers it in
//! fragments.
mod common;

use common::*;

const TAG: &str = "fvg";

impl Lab {
    fn adm(&self, args: &[&str]) -> String {
        let mut cmd = vec!["ferrovsadm"];
        cmd.extend_from_slice(args);
        self.run("gw", &cmd)
    }

    fn scrape(&self) -> String {
        self.run("gw", &["curl", "-sS", "-m", "5", self.var("METRICS")])
    }

    /// A UDP service on `vip`:7 to both real servers, forwarded with `flag` (ipvsadm's).
    fn udp_service(&self, vip: &str, rs: [&str; 2], flag: &str, fullnat: bool) {
        let ep = |a: &str| {
            if a.contains(':') {
                format!("[{a}]:7")
            } else {
                format!("{a}:7")
            }
        };
        let svc = ep(vip);
        let mut a = vec!["-A", "-u", &svc, "-s", "rr"];
        if fullnat {
            a.extend_from_slice(&["--laddr-pool", "snat"]);
        }
        self.adm(&a);
        for r in rs {
            let r = ep(r);
            self.adm(&["-a", "-u", &svc, "-r", &r, flag]);
        }
    }

    /// Send `n` datagrams of `len` bytes to `vip`:7 from the client, one at a time; return the
    /// replies that were the request echoed whole, and the servers' names that answered.
    fn echo(&self, vip: &str, len: usize, n: usize) -> (usize, Vec<String>) {
        self.echo_df(vip, len, n, true)
    }

    /// [`Lab::echo`], IPv4 with Don't Fragment clear when `df` is false (`IP_PMTUDISC_DONT`).
    fn echo_df(&self, vip: &str, len: usize, n: usize, df: bool) -> (usize, Vec<String>) {
        let fam = if vip.contains(':') {
            "AF_INET6"
        } else {
            "AF_INET"
        };
        let script = format!(
            "import socket\n\
             ok = 0\n\
             names = []\n\
             for k in range({n}):\n\
             \x20   s = socket.socket(socket.{fam}, socket.SOCK_DGRAM)\n\
             \x20   s.settimeout(3)\n\
             \x20   if {no_df}:\n\
             \x20       s.setsockopt(socket.IPPROTO_IP, 10, 0)  # IP_MTU_DISCOVER, IP_PMTUDISC_DONT\n\
             \x20   d = bytes((i * 7 + k) % 251 for i in range({len}))\n\
             \x20   s.sendto(d, ('{vip}', 7))\n\
             \x20   try:\n\
             \x20       r, _ = s.recvfrom(65535)\n\
             \x20   except socket.timeout:\n\
             \x20       continue\n\
             \x20   name, _, body = r.partition(b': ')\n\
             \x20   if body == d:\n\
             \x20       ok += 1\n\
             \x20       names.append(name.decode())\n\
             print(ok, ' '.join(names))\n",
            no_df = if df { "False" } else { "True" },
        );
        let out = self.run("client", &["python3", "-c", &script]);
        let mut w = out.split_whitespace();
        let ok = w.next().and_then(|x| x.parse().ok()).expect("count");
        (ok, w.map(str::to_owned).collect())
    }
}

fn sum_of(scrape: &str, name: &str) -> u64 {
    per_worker(scrape, name).iter().sum()
}

/// `mode`'s service on VIP6, 4 datagrams each of 4000 and 9000 bytes: all echoed whole, both
/// servers in turn, no fragment dropped.
fn fragments(mode: &str, flag: &str) {
    let lab = Lab::create(TAG, mode, &["--workers", "1"]);
    let fullnat = mode == "fullnat";
    let vips = [(lab.var("VIP6"), [lab.var("RS1_6"), lab.var("RS2_6")])];
    for (vip, rs) in &vips {
        lab.udp_service(vip, *rs, flag, fullnat);
    }
    let mut datagrams = 0u64;
    for (vip, _) in &vips {
        for len in [4000, 9000] {
            let (ok, names) = lab.echo(vip, len, 4);
            assert_eq!(ok, 4, "{mode} {vip} {len} bytes: {ok} of 4 echoed whole");
            assert_eq!(names, ["rs1", "rs2", "rs1", "rs2"], "{mode} {vip} {len}");
            datagrams += 4;
        }
    }
    let scrape = lab.scrape();
    let drops = |r: &str| {
        let label = format!("reason=\"{r}\"");
        scrape
            .lines()
            .filter(|l| l.starts_with("ferrovs_worker_drops_total{") && l.contains(&label))
            .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<u64>().ok()))
            .sum::<u64>()
    };
    for r in [
        "fragment_no_session",
        "fragment_expired",
        "fragment_bad",
        "ipv4_fragment",
        "ipv6_fragment",
    ] {
        assert_eq!(drops(r), 0, "{mode}: {r}");
    }
    // Every request's first fragment, and in NAT and FullNAT every reply's.
    let tracked = sum_of(&scrape, "ferrovs_worker_fragments_tracked_total");
    let want = if mode == "dr" {
        datagrams
    } else {
        2 * datagrams
    };
    assert_eq!(tracked, want, "{mode}: first fragments tracked");
}

#[test]
fn lab_nat_udp_fragments_ipv6() {
    fragments("nat", "-m");
}

#[test]
fn lab_fullnat_udp_fragments_ipv6() {
    fragments("fullnat", "--fullnat");
}

#[test]
fn lab_dr_udp_fragments_ipv6() {
    fragments("dr", "-g");
}

/// TUN with Don't Fragment clear: datagrams whose tunnel packet passes the MTU arrive whole at
/// the real servers, the tunnel packet sent in fragments; nothing dropped for the MTU.
#[test]
fn lab_tun_udp_df_clear_is_sent_in_fragments() {
    let lab = Lab::create(TAG, "tun", &["--workers", "1"]);
    let vip = lab.var("VIP");
    lab.udp_service(vip, [lab.var("RS1"), lab.var("RS2")], "-i", false);
    for len in [1472, 1900] {
        let (ok, names) = lab.echo_df(vip, len, 4, false);
        assert_eq!(ok, 4, "tun {len} bytes: {ok} of 4 echoed whole");
        assert_eq!(names, ["rs1", "rs2", "rs1", "rs2"], "tun {len}");
    }
    let scrape = lab.scrape();
    assert_eq!(sum_of(&scrape, "ferrovs_worker_fragments_sent_total"), 8);
    for r in ["mtu_exceeded", "cannot_fragment", "fragment_no_buffer"] {
        assert!(
            !scrape
                .lines()
                .any(|l| l.contains(&format!("reason=\"{r}\"")) && !l.ends_with(" 0")),
            "tun: {r} drops\n{scrape}"
        );
    }
}

/// `ping -s` of the VIPs: 3 of 3 answered in both families, the IPv6 request reassembled by
/// control, the IPv4 one (whole from the fanout) answered in fragments by the worker.
#[test]
fn lab_large_pings_of_a_vip_are_answered() {
    let lab = Lab::create(TAG, "nat", &["--workers", "1"]);
    lab.udp_service(
        lab.var("VIP"),
        [lab.var("RS1"), lab.var("RS2")],
        "-m",
        false,
    );
    lab.udp_service(
        lab.var("VIP6"),
        [lab.var("RS1_6"), lab.var("RS2_6")],
        "-m",
        false,
    );
    for (flag, vip, size) in [
        ("-4", lab.var("VIP"), "1900"),
        ("-6", lab.var("VIP6"), "3000"),
    ] {
        let out = lab.run(
            "client",
            &[
                "ping", flag, "-c", "3", "-i", "0.3", "-W", "3", "-s", size, vip,
            ],
        );
        assert!(
            out.contains("3 received"),
            "ping {flag} -s {size} {vip}:\n{out}"
        );
        assert!(out.contains(&format!(
            "{} bytes from",
            size.parse::<usize>().unwrap() + 8
        )));
    }
    let scrape = lab.scrape();
    // IPv4: three replies fragmented by the worker; IPv6: by control (not a worker counter).
    assert_eq!(sum_of(&scrape, "ferrovs_worker_fragments_sent_total"), 3);
    assert_eq!(
        sum_of(&scrape, "ferrovs_worker_icmp_echo_answered_total"),
        3
    );
}
