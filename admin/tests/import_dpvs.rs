//! DPVS's keepalived dialect, keyword by keyword (our own test data, written from the syntax
//! of DPVS's keepalived fork: `check_parser.c` keywords, its tutorial's examples): each
//! mapped, or warned about at its line.

mod common;

use std::net::IpAddr;

use admin::import::{keepalived, vrrp::HaOptions, Diagnostic};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

/// A base with two ports: wan0 (10.0.0.0/8) and lan0 (192.168.100.0/24).
fn base() -> config::Config {
    config::parse(
        "[[port]]\nname = \"wan0\"\ndevice = \"net_null0\"\naddresses = [\"10.0.0.254/8\"]\n\n\
         [[port]]\nname = \"lan0\"\ndevice = \"net_null1\"\naddresses = [\"192.168.100.1/24\"]\n",
        "base.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

const VS: &str =
    "virtual_server 10.0.0.100 80 {\n lb_algo rr\n lb_kind FNAT\n laddr_group_name g\n";

fn at(d: &[Diagnostic], line: usize, what: &str) -> bool {
    d.iter().any(|x| x.line == line && x.message.contains(what))
}

#[test]
fn vs_keywords_ferrovs_lacks_are_warned_at_their_line() {
    let text = format!(
        "local_address_group g {{\n 192.168.100.200 lan0\n}}\n{VS} syn_proxy\n proxy_protocol v2\n \
         daddr_group_name black\n waddr_group_name white\n real_server 192.168.100.2 80 {{\n }}\n}}\n\
         allow_address_group white {{\n 10.9.0.0-10\n}}\n"
    );
    let imp = keepalived::import(&text, &base()).unwrap_or_else(|e| panic!("{e:?}"));
    let w = &imp.warnings;
    assert!(
        at(
            w,
            8,
            "syn_proxy is not imported: ferrovs's SYN proxy needs a TCP service"
        ),
        "{w:?}"
    );
    // proxy_protocol v2 itself is imported (no warning of its own); the SYN proxy is not,
    // since the two do not combine.
    assert!(
        !w.iter().any(|d| d.message.starts_with("proxy_protocol")),
        "{w:?}"
    );
    assert_eq!(imp.config.services[0].syn_proxy, config::SynProxyMode::Off);
    // `daddr_group_name black` names no group: told, imported without it.
    assert!(
        at(
            w,
            10,
            "daddr_group_name black: no deny_address_group black is defined"
        ),
        "{w:?}"
    );
    // `waddr_group_name white` names the group defined after the service: its range.
    let allow: Vec<String> = imp.config.services[0]
        .admission
        .clients
        .allow
        .iter()
        .map(ToString::to_string)
        .collect();
    let want: Vec<String> = (0..=10).map(|i| format!("10.9.0.{i}/32")).collect();
    assert_eq!(allow, want);
    assert!(imp.config.services[0].admission.clients.deny.is_empty());
    // The service imports all the same, with the PROXY header instead of TOA.
    let s = &imp.config.services[0];
    assert_eq!(s.local_address_pool.as_deref(), Some("g"));
    assert_eq!(
        (s.proxy_protocol, s.toa),
        (config::ProxyProtocol::V2, config::Toa::Off)
    );
    // DPVS's other kinds, and a UDP service, are warned about at their line.
    let other = format!(
        "local_address_group g {{\n 192.168.100.200 lan0\n}}\n{VS} proxy_protocol v2-insecure\n}}\n\
         virtual_server 10.0.0.100 53 {{\n protocol UDP\n lb_kind NAT\n proxy_protocol v1\n}}\n"
    );
    let imp = keepalived::import(&other, &base()).unwrap_or_else(|e| panic!("{e:?}"));
    let w = &imp.warnings;
    assert!(
        at(w, 8, "proxy_protocol v2-insecure is not imported"),
        "{w:?}"
    );
    assert!(
        at(
            w,
            13,
            "proxy_protocol v1 not imported: ferrovs inserts the header only on TCP"
        ),
        "{w:?}"
    );
    assert!(imp
        .config
        .services
        .iter()
        .all(|s| s.proxy_protocol == config::ProxyProtocol::Off));
    // `proxy_protocol disable` is ferrovs's behaviour: nothing to say.
    let off = format!(
        "local_address_group g {{\n 192.168.100.200 lan0\n}}\n{VS} proxy_protocol disable\n}}\n"
    );
    let imp = keepalived::import(&off, &base()).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(
        !imp.warnings
            .iter()
            .any(|d| d.message.contains("proxy_protocol")),
        "{:?}",
        imp.warnings
    );
}

#[test]
fn local_address_group_entries_map_their_interface_to_a_port() {
    // By name: a port called like the DPVS interface; ranges expand.
    let text = format!("local_address_group g {{\n 192.168.100.200-202 lan0\n}}\n{VS}}}\n");
    let imp = keepalived::import(&text, &base()).unwrap_or_else(|e| panic!("{e:?}"));
    let pool = &imp.config.local_address_pools[0];
    assert_eq!((pool.port.as_str(), pool.addresses.len()), ("lan0", 3));
    assert!(at(
        &imp.notes,
        2,
        "interface lan0 -> ferrovs port lan0 (a port of that name)"
    ));
    // By network when no port has the interface's name.
    let text = format!("local_address_group g {{\n 192.168.100.200 dpdk0\n}}\n{VS}}}\n");
    let imp = keepalived::import(&text, &base()).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(imp.config.local_address_pools[0].port, "lan0");
    assert!(at(
        &imp.notes,
        2,
        "interface dpdk0 -> ferrovs port lan0 (its networks hold 192.168.100.200)"
    ));
    // With --keepalived-out, --interface maps it.
    let text = format!(
        "local_address_group g {{\n 192.168.100.200 dpdk0\n}}\nvrrp_instance V {{\n interface dpdk1.kni\n \
         dpdk_interface dpdk1\n virtual_router_id 9\n virtual_ipaddress {{\n 10.0.0.100\n }}\n}}\n{VS}}}\n"
    );
    let opts = HaOptions {
        interfaces: vec![
            ("dpdk0".into(), "lan0".into()),
            ("dpdk1.kni".into(), "wan0".into()),
        ],
    };
    let imp =
        keepalived::import_ha("k.conf", &text, &base(), &opts).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(
        at(
            &imp.notes,
            2,
            "interface dpdk0 -> ferrovs port lan0 (--interface)"
        ),
        "{:?}",
        imp.notes
    );
    assert!(at(&imp.notes, 6, "dpdk_interface"), "{:?}", imp.notes);
    // A group across two ports keeps the first port's addresses, and says so.
    let text =
        format!("local_address_group g {{\n 192.168.100.200 lan0\n 10.0.0.200 wan0\n}}\n{VS}}}\n");
    let imp = keepalived::import(&text, &base()).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        imp.config.local_address_pools[0].addresses,
        [ip("192.168.100.200")]
    );
    assert!(at(
        &imp.warnings,
        3,
        "10.0.0.200 skipped: it is on port wan0, the group's first address on port lan0"
    ));
}

#[test]
fn an_address_off_the_named_port_is_an_error_with_its_line() {
    let text = format!("local_address_group g {{\n 10.0.0.200 lan0\n}}\n{VS}}}\n");
    let e = keepalived::import(&text, &base()).expect_err("off the port");
    assert!(
        at(&e, 2, "local_address_group g: 10.0.0.200 is not on port lan0's networks (192.168.100.1/24); add an address on its network to port lan0"),
        "{e:?}"
    );
    // Without a base the placeholder takes it.
    let imp = keepalived::import_without_base(&text).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        imp.config.local_address_pools[0].addresses,
        [ip("10.0.0.200")]
    );
    assert_eq!(
        imp.config.ports[0].addresses[0].to_string(),
        "10.0.0.200/32"
    );
}
