//! Defaults of a minimal config, the full schema, `to_toml` round trips and `boot_only_diff`.

use std::net::{IpAddr, SocketAddr};

use config::*;

const MINIMAL: &str = r#"
[[port]]
name = "wan0"
device = "net_null0"
addresses = ["198.18.0.2/24"]

[[service]]
vip = "198.18.0.10"
port = 80

[[service.real_server]]
address = "198.18.0.11"
"#;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

#[test]
fn minimal_config_gets_ipvsadm_defaults() {
    let c = parse(MINIMAL, "min.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.dpdk.lcores, [0, 1]);
    assert_eq!(c.dpdk.main_lcore, 0);
    assert_eq!(c.dpdk.worker_lcores, [1]);
    assert!(c.dpdk.hugepages);
    assert_eq!(c.dpdk.memory_mb, None);
    assert_eq!(c.dpdk.file_prefix, "ferrovs");
    assert_eq!(c.dpdk.session_capacity, 1_048_576);
    assert_eq!(
        c.dpdk.idle,
        config::Idle::Busy,
        "workers busy-poll unless told"
    );
    let p = &c.ports[0];
    assert_eq!(
        (
            p.mtu,
            p.rx_desc,
            p.tx_desc,
            p.mac,
            p.exception_path.as_deref()
        ),
        (1500, 1024, 1024, None, None)
    );
    let s = &c.services[0];
    assert_eq!(s.protocol, Protocol::Tcp);
    assert_eq!(s.scheduler, Scheduler::Wlc);
    assert_eq!(s.forward, Forward::Dr);
    assert_eq!(s.persistence_s, None);
    assert_eq!(s.persistence_prefix_len, 32);
    assert_eq!(s.toa, Toa::Off);
    assert_eq!(s.health_check, HealthCheck::none());
    let rs = &s.real_servers[0];
    assert_eq!(
        (
            rs.port,
            rs.weight,
            rs.u_threshold,
            rs.l_threshold,
            rs.forward
        ),
        (80, 1, 0, 0, Forward::Dr)
    );
    assert_eq!(s.effective_health_check(rs).kind, CheckKind::None);
    assert_eq!(
        c.timeouts,
        Timeouts {
            tcp_s: 900,
            tcpfin_s: 120,
            udp_s: 300
        }
    );
    assert_eq!(
        c.control.metrics_listen,
        SocketAddr::from(([127, 0, 0, 1], 9173))
    );
    assert_eq!(c.control.admin_socket, "/run/ferrovs/admin.sock");
}

/// Every key set to a non-default value, IPv4 and IPv6.
const FULL: &str = r#"
[dpdk]
lcores = [0, 2, 3, 4, 8]
main_lcore = 2
worker_lcores = "3-4,8"
hugepages = false
memory_mb = 512
file_prefix = "fv1"
extra_eal_args = ["--log-level=8", "--in-memory"]
mbufs_per_port = 131071
session_capacity = 4096
persist_capacity = 2048
idle = "sleep"

[[port]]
name = "wan0"
device = "0000:03:00.0"
mtu = 9000
addresses = ["198.18.0.2/24", "2001:db8:1::2/64"]
mac = "02:AB:cd:00:00:01"
exception_path = true
rx_desc = 2048
tx_desc = 512

[[port]]
name = "lan0"
device = "net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap"
addresses = ["198.19.0.1/24", "2001:db8:2::1/64"]
exception_path = { tap = "fv-lan0" }

[[route]]
prefix = "::/0"
via = "2001:db8:1::1"

[[route]]
prefix = "10.0.0.0/8"
via = "198.19.0.254"
port = "lan0"

[[neighbour]]
address = "198.19.0.254"
mac = "02:00:00:00:01:FE"

[[neighbour]]
address = "2001:db8:1::1"
mac = "02:00:00:00:00:fe"
port = "wan0"

[[local_address_pool]]
name = "snat"
addresses = ["198.19.0.200", "2001:db8:2::200"]

[timeouts]
tcp = 0
tcpfin = 30
udp = 60

[control]
metrics_listen = "[::1]:9999"
admin_socket = "/run/fv1/admin.sock"

[sync]
enabled = true
listen = "198.18.0.2:8848"
peers = ["198.18.0.3:8848", "198.18.0.4:9000"]
key = "q83vEgABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs="
syncid = 7
max_datagram = 9000
rate = 50000
mode = "master"
expect_peers = 2

[[service]]
vip = "2001:db8:1::10"
port = 443
scheduler = "sh"
sched_flags = ["sh-port", "sh-fallback"]
persistence = 1800
persistence_netmask = 64
forward = "nat"
local_address_pool = "snat"
sorry_server = "[2001:db8:2::99]:8443"

[service.health_check]
type = "http"
path = "/ready?x=\"1\""
status = [200, 301]
host = "a.example"
digest = "0123456789ABCDEF0123456789abcdef"
port = 8080
interval = 2
timeout = 1
retries = 0
rise = 3
fall = 2
inhibit_on_failure = true
on_failure_sessions = "drop"

[[service.real_server]]
address = "2001:db8:2::11"
port = 8443
weight = 0
u_threshold = 100
l_threshold = 50

[[service.real_server]]
address = "2001:db8:2::12"
port = 8443
forward = "fullnat"
[service.real_server.health_check]
type = "none"

[[service]]
vip = "198.18.0.20"
port = 0
protocol = "udp"
scheduler = "mh"
sched_flags = ["mh-fallback"]
persistence = true
persistence_netmask = 24
forward = "tun"

[[service.real_server]]
address = "198.19.0.21"
[service.real_server.health_check]
type = "command"
command = "/usr/local/bin/check --host 198.19.0.21\tnow"

[[service]]
vip = "198.18.0.30"
port = 80
forward = "fullnat"
local_address_pool = "snat"
toa = "syn"

[[service.real_server]]
address = "198.19.0.31"
port = 8080
"#;

#[test]
fn full_config_is_normalised() {
    let c = parse(FULL, "full.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.dpdk.lcores, [0, 2, 3, 4, 8]);
    assert_eq!(c.dpdk.worker_lcores, [3, 4, 8]);
    assert_eq!(c.dpdk.idle, config::Idle::Sleep);
    assert_eq!(
        c.ports[0].mac.map(|m| m.to_string()).as_deref(),
        Some("02:ab:cd:00:00:01")
    );
    assert_eq!(c.ports[0].exception_path.as_deref(), Some("wan0"));
    assert_eq!(c.ports[1].exception_path.as_deref(), Some("fv-lan0"));
    assert_eq!(c.routes[0].port, "wan0", "port found from the next hop");
    assert_eq!(
        (
            c.neighbours[0].port.as_str(),
            c.neighbours[0].mac.to_string()
        ),
        ("lan0", "02:00:00:00:01:fe".to_owned()),
        "port found from the address, MAC normalised"
    );
    assert_eq!(c.neighbours[1].address, ip("2001:db8:1::1"));
    assert_eq!(
        c.local_address_pools[0].port, "lan0",
        "port found from the addresses"
    );
    assert_eq!(
        c.timeouts,
        Timeouts {
            tcp_s: 900,
            tcpfin_s: 30,
            udp_s: 60
        },
        "0 means the default"
    );
    let v6 = &c.services[0];
    assert_eq!(v6.persistence_prefix_len, 64);
    assert_eq!(
        v6.local_address_pool.as_deref(),
        Some("snat"),
        "a fullnat real server needs a pool"
    );
    assert_eq!(
        v6.toa,
        Toa::Ack,
        "TCP with a fullnat real server: TOA on the ACK by default"
    );
    let udp = &c.services[1];
    assert_eq!(
        (udp.persistence_s, udp.persistence_prefix_len),
        (Some(360), 24)
    );
    assert_eq!(udp.real_servers[0].port, 0);
    assert_eq!(udp.toa, Toa::Off);
    let fnat = &c.services[2];
    assert_eq!(
        (fnat.toa, fnat.local_address_pool.as_deref()),
        (Toa::Syn, Some("snat"))
    );
    let CheckKind::Http(h) = &v6.health_check.kind else {
        panic!("http check")
    };
    assert_eq!(
        h.digest.as_deref(),
        Some("0123456789abcdef0123456789abcdef")
    );
    assert_eq!(v6.real_servers[1].health_check, Some(HealthCheck::none()));
    assert_eq!(v6.health_check.on_failure_sessions, SessionsOnFailure::Drop);
    assert_eq!(
        udp.real_servers[0]
            .health_check
            .as_ref()
            .map(|h| h.on_failure_sessions),
        Some(SessionsOnFailure::Keep),
        "keep is the default"
    );
    assert_eq!(v6.real_servers[1].forward, Forward::FullNat);
    assert_eq!(v6.real_servers[0].forward, Forward::Nat);
    let s = &c.sync;
    assert!(s.enabled);
    assert_eq!(s.listen, Some("198.18.0.2:8848".parse().expect("sa")));
    assert_eq!(s.peers.len(), 2);
    assert_eq!(s.peers[1], "198.18.0.4:9000".parse().expect("sa"));
    let key = s.key.as_ref().expect("key");
    assert_eq!(key.as_bytes().len(), 32, "base64 of 32 bytes");
    assert_eq!(&key.as_bytes()[..4], &[0xab, 0xcd, 0xef, 0x12]);
    assert_eq!(
        (s.syncid, s.max_datagram, s.rate, s.mode),
        (7, 9000, 50000, SyncMode::Master)
    );
    assert_eq!((s.expect_peers, s.expected_peers()), (Some(2), 2));
}

#[test]
fn sync_defaults_and_reload_comparison() {
    let c = parse(MINIMAL, "min.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.sync, SessionSync::default());
    assert!(!c.sync.enabled);
    assert_eq!(
        (c.sync.syncid, c.sync.max_datagram, c.sync.rate, c.sync.mode),
        (0, 1400, 1_000_000, SyncMode::Both)
    );
    assert_eq!(
        c.sync.expected_peers(),
        0,
        "no group: the listed peers only"
    );
    let full = parse(FULL, "full.toml").unwrap_or_else(|e| panic!("{e}"));
    // [sync] is reloadable: not in the boot-only diff; the channel compares it itself.
    let mut other = full.clone();
    other.sync.rate = 10;
    assert!(full.boot_only_diff(&other).is_empty());
    assert!(
        !full.sync.restart_needed(&other.sync),
        "rate is applied live"
    );
    other.sync.peers.pop();
    assert!(full.boot_only_diff(&other).is_empty());
    assert!(
        full.sync.restart_needed(&other.sync),
        "a peer change restarts"
    );
}

#[test]
fn round_trip_minimal_and_full() {
    for (name, text) in [("min", MINIMAL), ("full", FULL)] {
        let c = parse(text, name).unwrap_or_else(|e| panic!("{e}"));
        let out = c.to_toml();
        let back = parse(&out, "export.toml").unwrap_or_else(|e| panic!("{e}\n---\n{out}"));
        assert_eq!(back, c, "{name} round trip\n{out}");
        assert_eq!(back.to_toml(), out, "{name}: to_toml is a fixed point");
    }
}

#[test]
fn boot_only_diff_lists_dpdk_port_and_control_changes() {
    let old = parse(FULL, "old.toml").unwrap_or_else(|e| panic!("{e}"));
    assert!(old.boot_only_diff(&old).is_empty());

    let mut new = old.clone();
    new.services.clear();
    new.routes.clear();
    new.neighbours.clear();
    new.timeouts.udp_s = 10;
    assert!(
        old.boot_only_diff(&new).is_empty(),
        "services, routes, neighbours and timeouts reload"
    );

    new.dpdk.lcores = vec![0, 1, 2];
    new.dpdk.session_capacity = 8192;
    new.dpdk.idle = config::Idle::Busy;
    new.ports[0].mtu = 1500;
    new.ports[0].addresses.push(Prefix {
        addr: ip("198.18.1.2"),
        len: 24,
    });
    new.ports.remove(1);
    new.ports.push(Port {
        name: "wan1".into(),
        device: "0000:04:00.0".into(),
        ..old.ports[0].clone()
    });
    new.control.admin_socket = "/run/x.sock".into();
    assert_eq!(
        old.boot_only_diff(&new),
        [
            "dpdk.lcores: \"0,2-4,8\" -> \"0-2\"",
            "dpdk.session_capacity: 4096 -> 8192",
            "dpdk.idle: \"sleep\" -> \"busy\"",
            "control.admin_socket: \"/run/fv1/admin.sock\" -> \"/run/x.sock\"",
            "port[wan0].mtu: 9000 -> 1500",
            "port[wan0].addresses: [\"198.18.0.2/24\", \"2001:db8:1::2/64\"] -> [\"198.18.0.2/24\", \"2001:db8:1::2/64\", \"198.18.1.2/24\"]",
            "port[lan0]: removed",
            "port[wan1]: added",
        ]
    );
}

#[test]
fn reordering_ports_is_not_a_boot_change() {
    let old = parse(FULL, "old.toml").unwrap_or_else(|e| panic!("{e}"));
    let mut new = old.clone();
    new.ports.reverse();
    assert_ne!(new, old);
    assert!(old.boot_only_diff(&new).is_empty());
    // The commit puts them back in the running order.
    new.keep_port_order(&old);
    assert_eq!(new, old);
}

#[test]
fn lcore_lists_parse_and_format() {
    assert_eq!(parse_lcore_list("0-2, 4,8-9"), Ok(vec![0, 1, 2, 4, 8, 9]));
    assert_eq!(parse_lcore_list("3,1,1"), Ok(vec![1, 3]));
    assert!(parse_lcore_list("").is_err());
    assert!(parse_lcore_list("1024").is_err());
    assert_eq!(format_lcore_list(&[0, 1, 2, 4, 8, 9]), "0-2,4,8-9");
    assert_eq!(format_lcore_list(&[]), "");
}

/// Two ports with exception paths, a VIP on each side and a FullNAT pool.
const HA: &str = r#"
[[port]]
name = "eth0"
device = "net_null0"
addresses = ["198.18.1.1/24"]
exception_path = true

[[port]]
name = "eth1"
device = "net_null1"
addresses = ["198.18.2.1/24"]
exception_path = { tap = "eth1tap" }

[[local_address_pool]]
name = "snat"
addresses = ["198.18.2.100", "198.18.2.101"]

[[service]]
vip = "198.18.1.100"
port = 80
forward = "fullnat"
local_address_pool = "snat"

[[service]]
vip = "198.18.1.100"
port = 53
protocol = "udp"

[[service]]
vip = "198.18.1.101"
port = 80
"#;

#[test]
fn ha_defaults_to_none_and_follows_nothing() {
    let c = parse(HA, "ha.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.ha, Ha::default());
    assert_eq!(c.ha.mode, HaMode::None);
    assert_eq!(
        (c.ha.garp_repeat, c.ha.garp_delay_s, c.ha.garp_refresh_s),
        (5, 5, 0),
        "keepalived's vrrp_garp_master_* defaults"
    );
    assert!(c.ha_followed().is_empty());
    assert!(
        !c.to_toml().contains("[ha]"),
        "the default is not written out"
    );
}

#[test]
fn ha_vrrp_follows_every_vip_and_local_address_unless_told() {
    let all = parse(&format!("{HA}\n[ha]\nmode = \"vrrp\"\n"), "ha.toml")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.ha.addresses, None);
    assert_eq!(
        all.ha_followed(),
        [
            ip("198.18.1.100"),
            ip("198.18.1.101"),
            ip("198.18.2.100"),
            ip("198.18.2.101")
        ],
        "sorted, each VIP once"
    );
    let some = parse(
        &format!(
            "{HA}\n[ha]\nmode = \"vrrp\"\naddresses = [\"198.18.2.100\", \"198.18.1.100\"]\n\
             garp_repeat = 1\ngarp_delay = 1\ngarp_refresh = 600\n"
        ),
        "ha.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        some.ha.addresses,
        Some(vec![ip("198.18.2.100"), ip("198.18.1.100")])
    );
    assert_eq!(some.ha_followed(), [ip("198.18.1.100"), ip("198.18.2.100")]);
    assert_eq!(
        (
            some.ha.garp_repeat,
            some.ha.garp_delay_s,
            some.ha.garp_refresh_s
        ),
        (1, 1, 600)
    );
    // Round trip, and only the mode is boot-only.
    for c in [&all, &some] {
        let out = c.to_toml();
        assert!(out.contains("\n[ha]\nmode = \"vrrp\"\n"), "{out}");
        let back = parse(&out, "export.toml").unwrap_or_else(|e| panic!("{e}\n---\n{out}"));
        assert_eq!(&back, c, "round trip\n{out}");
        assert_eq!(back.to_toml(), out);
    }
    assert!(all.boot_only_diff(&some).is_empty(), "addresses reload");
    let none = parse(HA, "ha.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(none.boot_only_diff(&all), ["ha.mode: \"none\" -> \"vrrp\""]);
}

#[test]
fn ha_may_follow_a_port_address_and_that_choice_is_boot_only() {
    let text = |list: &str| format!("{HA}\n[ha]\nmode = \"vrrp\"\naddresses = [{list}]\n");
    // NAT real servers' default gateway floats between the directors: a port address.
    let with = parse(&text("\"198.18.1.100\", \"198.18.2.1\""), "ha.toml")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(with.ha_followed(), [ip("198.18.1.100"), ip("198.18.2.1")]);
    let without = parse(&text("\"198.18.1.100\""), "ha.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        without.boot_only_diff(&with),
        ["ha.addresses (port addresses): [] -> [\"198.18.2.1\"]"]
    );
    let other_vip = parse(&text("\"198.18.1.101\", \"198.18.2.1\""), "ha.toml")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(with.boot_only_diff(&other_vip).is_empty(), "VIPs reload");
    // Both ports' addresses floating, and the `[[port]]` blocks moved: no change.
    let both =
        parse(&text("\"198.18.1.1\", \"198.18.2.1\""), "ha.toml").unwrap_or_else(|e| panic!("{e}"));
    let mut moved = both.clone();
    moved.ports.reverse();
    assert!(both.boot_only_diff(&moved).is_empty(), "ports moved");
}

/// `sloppy_tcp` defaults to on where every gateway would pick the same real server (a
/// consistent scheduler, DR or TUN, TCP), off elsewhere; the key overrides, and survives
/// `to_toml` only when written.
#[test]
fn sloppy_tcp_defaults_to_consistent_dr_and_tun_services() {
    let text = r#"
[[port]]
name = "wan0"
device = "net_null0"
addresses = ["198.18.0.2/24"]

[[service]]
vip = "198.18.0.10"
port = 80
scheduler = "mh"
[[service.real_server]]
address = "198.18.0.11"

[[service]]
vip = "198.18.0.11"
port = 80
scheduler = "sh"
forward = "tun"
[[service.real_server]]
address = "198.18.0.11"

[[service]]
vip = "198.18.0.12"
port = 80
scheduler = "dh"
[[service.real_server]]
address = "198.18.0.11"

[[service]]
vip = "198.18.0.13"
port = 80
scheduler = "mh"
sloppy_tcp = false
[[service.real_server]]
address = "198.18.0.11"

[[service]]
vip = "198.18.0.14"
port = 80
scheduler = "rr"
[[service.real_server]]
address = "198.18.0.11"

[[service]]
vip = "198.18.0.15"
port = 80
scheduler = "rr"
sloppy_tcp = false
[[service.real_server]]
address = "198.18.0.11"

[[service]]
vip = "198.18.0.16"
port = 80
scheduler = "mh"
[[service.real_server]]
address = "198.18.0.11"
port = 8080
forward = "nat"

[[service]]
vip = "198.18.0.17"
port = 53
protocol = "udp"
scheduler = "mh"
[[service.real_server]]
address = "198.18.0.11"

[[service]]
vip = "198.18.0.18"
port = 80
scheduler = "sh"
sloppy_tcp = true
[[service.real_server]]
address = "198.18.0.11"
"#;
    let c = parse(text, "sloppy.toml").unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<(Option<bool>, bool)> = c
        .services
        .iter()
        .map(|s| (s.sloppy_tcp, s.sloppy_tcp()))
        .collect();
    assert_eq!(
        got,
        [
            (None, true),
            (None, true),
            (None, true),
            (Some(false), false),
            (None, false),
            (Some(false), false),
            (None, false),
            (None, false),
            (Some(true), true),
        ]
    );
    let out = c.to_toml();
    assert_eq!(out.matches("sloppy_tcp = false").count(), 2, "{out}");
    assert_eq!(out.matches("sloppy_tcp = true").count(), 1, "{out}");
    let back = parse(&out, "emitted.toml").unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert_eq!(back.services, c.services);
}

#[test]
fn proxy_protocol_on_nat_and_fullnat_turns_toa_off_and_round_trips() {
    let text = r#"
[[port]]
name = "wan0"
device = "net_null0"
addresses = ["198.18.0.2/24", "2001:2::2/64"]

[[local_address_pool]]
name = "snat"
addresses = ["198.18.0.200", "2001:2::200"]

[[service]]
vip = "198.18.0.10"
port = 8080
forward = "fullnat"
local_address_pool = "snat"
proxy_protocol = "v1"

[[service.real_server]]
address = "198.18.0.11"

[[service]]
vip = "2001:2::10"
port = 8080
forward = "nat"
proxy_protocol = "v2"

[[service.real_server]]
address = "2001:2::11"

[[service]]
vip = "198.18.0.10"
port = 80
forward = "fullnat"
local_address_pool = "snat"

[[service.real_server]]
address = "198.18.0.11"
"#;
    let c = parse(text, "pp.toml").unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<_> = c
        .services
        .iter()
        .map(|s| (s.proxy_protocol, s.toa))
        .collect();
    assert_eq!(
        got,
        [
            (ProxyProtocol::V1, Toa::Off),
            (ProxyProtocol::V2, Toa::Off),
            (ProxyProtocol::Off, Toa::Ack),
        ],
        "TOA defaults off where the PROXY header carries the client"
    );
    let out = c.to_toml();
    assert!(out.contains("proxy_protocol = \"v1\""), "{out}");
    let back = parse(&out, "export.toml").unwrap_or_else(|e| panic!("{e}\n---\n{out}"));
    assert_eq!(back, c);
}
