//! docs/migrating.md, step by step, on the guide's own example files (docs/migrating/): each
//! step's command run through the same code the `ferrovs`/`ferrovsadm` commands run, and its
//! result checked as `ferrovs check` checks a file (`config::load`).

mod common;

use std::net::IpAddr;
use std::path::PathBuf;

use admin::import::{self, vrrp::HaOptions};
use common::MemState;
use config::{CheckKind, Config, Forward, Protocol, Scheduler, Toa};

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/migrating")
        .join(name)
}

fn read(name: &str) -> String {
    let p = path(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

/// `ferrovs check FILE` on `text`: written out and loaded as the gateway loads it.
fn check(text: &str) -> Config {
    let dir = tempfile::tempdir().expect("temp dir");
    let f = dir.path().join("ferrovs.toml");
    std::fs::write(&f, text).expect("write");
    config::load(&f).unwrap_or_else(|e| panic!("ferrovs check fails:\n{e}\n--- file ---\n{text}"))
}

/// The 1-based line of the first line of `text` that holds `needle` (comments aside).
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| !l.trim_start().starts_with(['!', '#']) && l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in the example"))
        + 1
}

/// The diagnostic lines of `stderr` that are at `line` and say `what`.
fn said(stderr: &str, file: &str, line: usize, what: &str) -> bool {
    stderr
        .lines()
        .any(|l| l.starts_with(&format!("{file}:{line}: ")) && l.contains(what))
}

// -------------------------------------------------------------------------------------------
// Part 1: kernel LVS and keepalived.

#[test]
fn part1_step2_the_base_passes_check() {
    let base = check(&read("base.toml"));
    let names: Vec<&str> = base.ports.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["wan0", "lan0"]);
}

#[test]
fn part1_step3_dr_keepalived_conf_imports_onto_the_base() {
    let base = check(&read("base.toml"));
    let text = read("lvs-dr.keepalived.conf");
    let o = import::keepalived_command("lvs-dr.keepalived.conf", &text, Some(&base), false);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let cfg = check(&o.stdout);
    let s = &cfg.services[0];
    assert_eq!(cfg.services.len(), 1);
    assert_eq!(
        (
            s.vip,
            s.port,
            s.protocol,
            s.scheduler,
            s.forward,
            s.persistence_s
        ),
        (
            ip("198.18.1.100"),
            80,
            Protocol::Tcp,
            Scheduler::Rr,
            Forward::Dr,
            Some(20)
        )
    );
    let rs: Vec<IpAddr> = s.real_servers.iter().map(|r| r.address).collect();
    assert_eq!(rs, [ip("198.18.1.11"), ip("198.18.1.12")]);
    assert_eq!(s.health_check.kind, CheckKind::Tcp);
    assert_eq!(
        (
            s.health_check.interval_s,
            s.health_check.timeout_s,
            s.health_check.retries
        ),
        (6, 3, 3)
    );
    // The VRRP half is named as not imported without --keepalived-out, at its line.
    let vrrp = line_of(&text, "vrrp_instance VI_1");
    assert!(
        said(
            &o.stderr,
            "lvs-dr.keepalived.conf",
            vrrp,
            "--keepalived-out"
        ),
        "{}",
        o.stderr
    );
}

#[test]
fn part1_step4_vrrp_half_stays_with_keepalived() {
    let base = check(&read("base.toml"));
    let text = read("lvs-dr.keepalived.conf");
    let opts = HaOptions {
        interfaces: vec![("eth0".into(), "wan0".into())],
    };
    let r =
        import::keepalived_ha_command("lvs-dr.keepalived.conf", &text, Some(&base), false, &opts);
    assert_eq!(r.outcome.code, 0, "{}", r.outcome.stderr);
    let cfg = check(&r.outcome.stdout);
    assert_eq!(cfg.ha.addresses, Some(vec![ip("198.18.1.100")]));
    let kconf = r.keepalived_conf.expect("the VRRP-only keepalived.conf");
    assert!(kconf.contains("vrrp_instance VI_1"), "{kconf}");
    assert!(
        kconf.contains("interface wan0"),
        "eth0 is the port's TAP now: {kconf}"
    );
    assert!(!kconf.contains("virtual_server 198.18.1.100"), "{kconf}");
}

#[test]
fn part1_step3_nat_and_tun_rules_import_onto_the_base() {
    let base = check(&read("base.toml"));
    let o = import::ipvsadm_command(
        "lvs-nat.rules",
        &read("lvs-nat.rules"),
        Some(&base),
        &common::names(),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let cfg = check(&o.stdout);
    type Row = (Protocol, u16, Scheduler, Vec<(Forward, u32)>);
    let got: Vec<Row> = cfg
        .services
        .iter()
        .map(|s| {
            (
                s.protocol,
                s.port,
                s.scheduler,
                s.real_servers
                    .iter()
                    .map(|r| (r.forward, r.weight))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                Protocol::Tcp,
                80,
                Scheduler::Wrr,
                vec![(Forward::Nat, 3), (Forward::Nat, 1)]
            ),
            (
                Protocol::Udp,
                53,
                Scheduler::Rr,
                vec![(Forward::Nat, 1), (Forward::Nat, 1)]
            ),
        ]
    );
    let o = import::ipvsadm_command(
        "lvs-tun.rules",
        &read("lvs-tun.rules"),
        Some(&base),
        &common::names(),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let cfg = check(&o.stdout);
    assert!(cfg.services[0]
        .real_servers
        .iter()
        .all(|r| r.forward == Forward::Tun));
}

#[test]
fn part1_without_base_imports_too() {
    let o = import::keepalived_command(
        "lvs-dr.keepalived.conf",
        &read("lvs-dr.keepalived.conf"),
        None,
        false,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o
        .stdout
        .starts_with("# Generated by `ferrovs import` without --base"));
    assert_eq!(check(&o.stdout).services.len(), 1);
}

// -------------------------------------------------------------------------------------------
// Part 2: DPVS.

fn assert_dpvs_service(cfg: &Config) {
    assert_eq!(cfg.services.len(), 1);
    let s = &cfg.services[0];
    assert_eq!(
        (s.vip, s.port, s.scheduler, s.forward, s.toa),
        (
            ip("198.18.1.100"),
            80,
            Scheduler::Rr,
            Forward::FullNat,
            Toa::Ack
        )
    );
    assert!(s.real_servers.iter().all(|r| r.forward == Forward::FullNat));
    let pool = cfg
        .local_address_pools
        .iter()
        .find(|p| Some(&p.name) == s.local_address_pool.as_ref())
        .expect("the service's pool");
    assert_eq!(pool.addresses, [ip("198.18.2.200"), ip("198.18.2.201")]);
}

#[test]
fn part2_step2_dpvs_keepalived_conf_imports_with_each_dpvs_keyword_told() {
    let base = check(&read("dpvs-base.toml"));
    let file = "dpvs.keepalived.conf";
    let text = read(file);
    let o = import::keepalived_command(file, &text, Some(&base), false);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let cfg = check(&o.stdout);
    assert_dpvs_service(&cfg);
    // `syn_proxy` on the FNAT service: ferrovs's SYN proxy, with a random secret, noted.
    assert_eq!(cfg.services[0].syn_proxy, config::SynProxyMode::On);
    assert!(cfg.syn_proxy.secret.is_some());
    assert!(
        o.stderr.contains("a random cookie secret was made"),
        "{}",
        o.stderr
    );
    assert_eq!(cfg.local_address_pools[0].name, "laddr_g1");
    assert_eq!(cfg.local_address_pools[0].port, "dpdk0");
    assert_eq!(cfg.services[0].real_servers[0].weight, 100);
    // `daddr_group_name blk_g1`: the blacklist's address is the service's deny list.
    let deny: Vec<String> = cfg.services[0]
        .admission
        .clients
        .deny
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(deny, ["198.51.100.7/32"]);
    let e = &o.stderr;
    for (needle, what) in [
        (
            "198.18.2.200 dpdk0",
            "interface dpdk0 -> ferrovs port dpdk0 (a port of that name)",
        ),
        (
            "ipset:bad_clients",
            "deny_address_group blk_g1: ipset:bad_clients: not an address; skipped",
        ),
        ("vrrp_instance", "--keepalived-out"),
    ] {
        assert!(said(e, file, line_of(&text, needle), what), "{needle}: {e}");
    }
}

#[test]
fn part2_step2_without_base_the_placeholder_takes_the_local_addresses() {
    let file = "dpvs.keepalived.conf";
    let text = read(file);
    let o = import::keepalived_command(file, &text, None, false);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let cfg = check(&o.stdout);
    assert_dpvs_service(&cfg);
    let port0 = &cfg.ports[0];
    let addrs: Vec<String> = port0.addresses.iter().map(ToString::to_string).collect();
    assert_eq!(addrs, ["198.18.2.200/32", "198.18.2.201/32"]);
    let line = line_of(&text, "198.18.2.201 dpdk0");
    assert!(
        said(
            &o.stderr,
            file,
            line,
            "local address 198.18.2.201: placeholder port port0 takes it as 198.18.2.201/32"
        ),
        "{}",
        o.stderr
    );
}

#[test]
fn part2_step2_with_a_base_that_lacks_the_network_the_error_says_what_to_add() {
    let mut base = check(&read("dpvs-base.toml"));
    base.ports.retain(|p| p.name == "dpdk1");
    let file = "dpvs.keepalived.conf";
    let text = read(file);
    let o = import::keepalived_command(file, &text, Some(&base), false);
    assert_eq!(o.code, 1);
    let line = line_of(&text, "198.18.2.200 dpdk0");
    assert!(
        said(
            &o.stderr,
            file,
            line,
            "local_address_group laddr_g1: 198.18.2.200 (dpdk0) is on none of the base's ports' \
             networks; add an address on its network to the [[port]] facing the real servers"
        ),
        "{}",
        o.stderr
    );
}

#[test]
fn part2_step2_vrrp_half_maps_dpdk_interfaces() {
    let base = check(&read("dpvs-base.toml"));
    let file = "dpvs.keepalived.conf";
    let text = read(file);
    let r = import::keepalived_ha_command(file, &text, Some(&base), false, &HaOptions::default());
    assert_eq!(r.outcome.code, 0, "{}", r.outcome.stderr);
    let e = &r.outcome.stderr;
    assert!(
        said(
            e,
            file,
            line_of(&text, "interface dpdk1.kni"),
            "interface dpdk1.kni -> ferrovs port dpdk1"
        ),
        "{e}"
    );
    assert!(
        said(
            e,
            file,
            line_of(&text, "dpdk_interface"),
            "dpdk_interface: ferrovs owns the ports"
        ),
        "{e}"
    );
    let cfg = check(&r.outcome.stdout);
    assert_dpvs_service(&cfg);
    // The VIP and both local addresses follow VRRP.
    let followed = cfg.ha.addresses.clone().unwrap_or_default();
    for a in ["198.18.1.100", "198.18.2.200", "198.18.2.201"] {
        assert!(followed.contains(&ip(a)), "{a}: {followed:?}");
    }
    let kconf = r.keepalived_conf.expect("VRRP-only file");
    assert!(kconf.contains("# dpdk_interface dpdk1"), "{kconf}");
    assert!(
        !kconf.lines().any(|l| l.starts_with("local_address_group")),
        "ferrovs owns the local addresses: {kconf}"
    );
}

#[test]
fn part2_step3_dpvs_ipvsadm_script_restores_onto_the_base() {
    let mut s = MemState::new(check(&read("dpvs-base.toml")));
    let r = common::run(&mut s, &["-R"], &read("dpvs.rules"));
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    let cfg = check(&s.config.to_toml());
    assert_dpvs_service(&cfg);
    assert_eq!(cfg.local_address_pools[0].port, "dpdk0");
    // `-G` lists what DPVS's `ipvsadm -G` listed.
    let g = common::run(&mut s, &["-G"], "");
    let rows: Vec<Vec<&str>> = g
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [
            vec!["VIP:VPORT", "TOTAL", "SNAT_IP", "CONFLICTS", "CONNS"],
            vec!["198.18.1.100:80", "2"],
            vec!["198.18.2.200", "-", "0"],
            vec!["198.18.2.201", "-", "0"],
        ]
    );
}
