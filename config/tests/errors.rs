//! Each class of error produces the exact `FILE:LINE:COL: key.path: message`.

/// A valid two-port base (lines 1-9); snippets appended to it start at line 10.
const BASE: &str = r#"[[port]]
name = "wan0"
device = "0000:03:00.0"
addresses = ["198.18.0.2/24", "2001:db8::2/64"]

[[port]]
name = "lan0"
device = "net_af_xdp0,iface=veth1"
addresses = ["198.19.0.1/24"]
"#;

/// Parse `BASE` + `extra` and return the error lines (panics when it validates).
fn errors(extra: &str) -> Vec<String> {
    let text = format!("{BASE}{extra}");
    match config::parse(&text, "ferrovs.toml") {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.to_string().lines().map(str::to_owned).collect(),
    }
}

/// Assert the exact error lines.
#[track_caller]
fn check(extra: &str, expected: &[&str]) {
    let got = errors(extra);
    assert_eq!(got, expected, "\ngot:\n{}\n", got.join("\n"));
}

#[test]
fn base_is_valid() {
    let c = config::parse(BASE, "ferrovs.toml").expect("base validates");
    assert_eq!(c.ports.len(), 2);
}

#[test]
fn weight_out_of_range() {
    check(
        r#"[[service]]
vip = "198.18.0.10"
port = 80
[[service]]
vip = "198.18.0.11"
port = 80
[[service.real_server]]
address = "198.19.0.11"
weight = 70000
"#,
        &["ferrovs.toml:18:10: service[1].real_server[0].weight: 70000 is out of range 0..=65535"],
    );
}

#[test]
fn unknown_keys_are_reported_with_position() {
    check(
        r#"[[service]]
vip = "198.18.0.10"
port = 80
sheduler = "rr"
[[service.real_server]]
address = "198.19.0.11"
wieght = 2
"#,
        &[
            "ferrovs.toml:13:1: service[0].sheduler: unknown key; expected one of: vip, port, persistence, protocol, scheduler, sched_flags, persistence_netmask, forward, local_address_pool, toa, proxy_protocol, mss_clamp, syn_proxy, sorry_server, sloppy_tcp, max_conns, max_new_per_s, max_new_burst, allow_clients, deny_clients, health_check, real_server",
            "ferrovs.toml:16:1: service[0].real_server[0].wieght: unknown key; expected one of: address, port, forward, weight, u_threshold, l_threshold, health_check",
        ],
    );
}

#[test]
fn unknown_top_level_section() {
    check(
        "[global]\nx = 1\n",
        &["ferrovs.toml:10:2: global: unknown key; expected one of: dpdk, port, local_address_pool, route, neighbour, service, timeouts, control, ha, sync, announce, admission, syn_proxy"],
    );
}

#[test]
fn wrong_types() {
    check(
        r#"[[service]]
vip = 10
port = "80"
persistence = "yes"
"#,
        &[
            "ferrovs.toml:11:7: service[0].vip: expected a string, found an integer",
            "ferrovs.toml:12:8: service[0].port: expected an integer, found a string",
            "ferrovs.toml:13:15: service[0].persistence: expected a boolean or a number of seconds, found a string",
        ],
    );
}

#[test]
fn missing_required_keys_point_at_the_table_header() {
    check(
        "[[service]]\nprotocol = \"udp\"\n",
        &[
            "ferrovs.toml:10:1: service[0].vip: missing required key",
            "ferrovs.toml:10:1: service[0].port: missing required key",
        ],
    );
}

#[test]
fn bad_addresses_and_prefixes() {
    check(
        r#"[[service]]
vip = "198.18.0.300"
port = 80
[[service.real_server]]
address = "224.0.0.1"
[[route]]
prefix = "10.0.0.0/33"
via = "198.18.0.1"
"#,
        &[
            "ferrovs.toml:11:7: service[0].vip: \"198.18.0.300\" is not an IPv4 or IPv6 address",
            "ferrovs.toml:14:11: service[0].real_server[0].address: 224.0.0.1: a multicast address is not allowed here",
            "ferrovs.toml:16:10: route[0].prefix: prefix length \"33\" is out of range 0..=32",
        ],
    );
}

#[test]
fn zero_port_needs_persistence() {
    check(
        "[[service]]\nvip = \"198.18.0.10\"\nport = 0\n",
        &["ferrovs.toml:12:8: service[0].port: port 0 is allowed only for a persistent service (ipvsadm: \"Zero port specified for non-persistent service\")"],
    );
    let ok = format!("{BASE}[[service]]\nvip = \"198.18.0.10\"\nport = 0\npersistence = true\n[[service.real_server]]\naddress = \"198.19.0.11\"\n");
    let c = config::parse(&ok, "ferrovs.toml").expect("persistent port-0 service validates");
    assert_eq!(c.services[0].persistence_s, Some(360));
    assert_eq!(c.services[0].real_servers[0].port, 0);
}

#[test]
fn dr_and_tun_cannot_change_the_port() {
    check(
        r#"[[service]]
vip = "198.18.0.10"
port = 80
[[service.real_server]]
address = "198.19.0.11"
port = 8080
[[service.real_server]]
address = "198.19.0.12"
port = 8081
forward = "tun"
[[service.real_server]]
address = "198.19.0.13"
port = 8082
forward = "nat"
"#,
        &[
            "ferrovs.toml:15:8: service[0].real_server[0].port: port 8080 differs from the service port 80: dr forwarding cannot change the port (ipvsadm forces the virtual port for -g/-i)",
            "ferrovs.toml:18:8: service[0].real_server[1].port: port 8081 differs from the service port 80: tun forwarding cannot change the port (ipvsadm forces the virtual port for -g/-i)",
        ],
    );
}

#[test]
fn duplicate_services_and_real_servers() {
    check(
        r#"[[service]]
vip = "198.18.0.10"
port = 80
[[service.real_server]]
address = "198.19.0.11"
[[service.real_server]]
address = "198.19.0.11"
port = 80
[[service]]
vip = "198.18.0.10"
port = 80
[[service]]
vip = "198.18.0.10"
port = 80
protocol = "udp"
"#,
        &[
            "ferrovs.toml:16:11: service[0].real_server[1].address: duplicate real server 198.19.0.11:80 (first defined as real_server[0])",
            "ferrovs.toml:19:7: service[1].vip: duplicate service tcp 198.18.0.10:80 (first defined as service[0])",
        ],
    );
}

#[test]
fn duplicate_port_names_devices_and_addresses() {
    check(
        r#"[[port]]
name = "wan0"
device = "03:00.0"
addresses = ["198.19.0.1/24"]
[[port]]
name = "lan1"
device = "net_af_xdp0,iface=veth9"
"#,
        &[
            "ferrovs.toml:11:8: port[2].name: duplicate port name \"wan0\" (first used by port[0])",
            "ferrovs.toml:12:10: port[2].device: device \"03:00.0\" is already used by port[0]",
            "ferrovs.toml:13:14: port[2].addresses[0]: address 198.19.0.1 is already on port[1]",
            "ferrovs.toml:16:10: port[3].device: device \"net_af_xdp0,iface=veth9\" is already used by port[1]",
        ],
    );
}

#[test]
fn bad_device_and_port_keys() {
    check(
        r#"[[port]]
name = "9x"
device = "eth1"
mtu = 1000
addresses = ["2001:db8:1::1/64"]
mac = "01:00:5e:00:00:01"
rx_desc = 1000
exception_path = "yes"
"#,
        &[
            "ferrovs.toml:11:8: port[2].name: \"9x\" is not a valid port name: a letter, then letters, digits, _ or -, at most 15 characters",
            "ferrovs.toml:12:10: port[2].device: \"eth1\" is neither a PCI address (0000:03:00.0) nor a DPDK vdev spec (net_pcap0,iface=eth1)",
            "ferrovs.toml:13:7: port[2].mtu: 1000 is below 1280, the minimum MTU of a link with IPv6 addresses",
            "ferrovs.toml:15:7: port[2].mac: 01:00:5e:00:00:01 is a multicast MAC; a port needs a unicast MAC",
            "ferrovs.toml:16:11: port[2].rx_desc: 1000 is not a power of two",
            "ferrovs.toml:17:18: port[2].exception_path: expected a boolean or a table like { tap = \"fv-wan0\" }, found a string",
        ],
    );
}

#[test]
fn neighbours() {
    check(
        r#"[[local_address_pool]]
name = "snat"
addresses = ["198.19.0.200"]
[[neighbour]]
address = "198.19.0.21"
mac = "02:00:00:00:01:21"
port = "wan9"
[[neighbour]]
address = "198.19.0.22"
mac = "01:00:5e:00:00:01"
[[neighbour]]
address = "198.19.0.23"
mac = "00:00:00:00:00:00"
port = "wan0"
[[neighbour]]
address = "203.0.113.1"
mac = "02-00-00-00-01-24"
[[neighbour]]
address = "198.18.0.2"
mac = "02:00:00:00:01:25"
[[neighbour]]
address = "198.19.0.200"
mac = "02:00:00:00:01:26"
[[neighbour]]
address = "2001:db8::21"
mac = "02:00:00:00:01:2"
[[neighbour]]
address = "2001:db8::21"
[[neighbour]]
mac = "02:00:00:00:01:27"
"#,
        &[
            "ferrovs.toml:16:8: neighbour[0].port: unknown port \"wan9\"; ports are: wan0, lan0",
            "ferrovs.toml:19:7: neighbour[1].mac: 01:00:5e:00:00:01 is a multicast MAC; a neighbour needs a unicast MAC",
            "ferrovs.toml:21:11: neighbour[2].address: neighbour 198.19.0.23 is not on port wan0's networks (198.18.0.0/24, 2001:db8::/64)",
            "ferrovs.toml:22:7: neighbour[2].mac: the all-zero MAC is not allowed",
            "ferrovs.toml:25:11: neighbour[3].address: neighbour 203.0.113.1 is not on any port's connected networks",
            "ferrovs.toml:28:11: neighbour[4].address: 198.18.0.2 is the gateway's own address on port wan0",
            "ferrovs.toml:31:11: neighbour[5].address: 198.19.0.200 is a local address of pool snat",
            "ferrovs.toml:35:7: neighbour[6].mac: \"02:00:00:00:01:2\" is not a MAC address like 02:00:00:00:00:01",
            "ferrovs.toml:36:1: neighbour[7].mac: missing required key",
            "ferrovs.toml:37:11: neighbour[7].address: duplicate neighbour 2001:db8::21 (first in neighbour[6])",
            "ferrovs.toml:38:1: neighbour[8].address: missing required key",
        ],
    );
}

#[test]
fn routes() {
    check(
        r#"[[route]]
prefix = "10.0.0.0/8"
via = "198.18.0.1"
port = "wan9"
[[route]]
prefix = "10.1.0.1/16"
via = "198.19.0.254"
[[route]]
prefix = "10.2.0.0/16"
via = "198.19.0.254"
port = "wan0"
[[route]]
prefix = "10.3.0.0/16"
via = "203.0.113.1"
[[route]]
prefix = "10.0.0.0/8"
via = "2001:db8::1"
"#,
        &[
            "ferrovs.toml:13:8: route[0].port: unknown port \"wan9\"; ports are: wan0, lan0",
            "ferrovs.toml:15:10: route[1].prefix: 10.1.0.1/16 has host bits set; did you mean 10.1.0.0/16?",
            "ferrovs.toml:19:7: route[2].via: next hop 198.19.0.254 is not on port wan0's networks (198.18.0.0/24, 2001:db8::/64)",
            "ferrovs.toml:23:7: route[3].via: next hop 203.0.113.1 is not on any port's connected networks",
            "ferrovs.toml:25:10: route[4].prefix: duplicate route 10.0.0.0/8 (first in route[0])",
            "ferrovs.toml:26:7: route[4].via: next hop 2001:db8::1 is not in the same address family as 10.0.0.0/8",
        ],
    );
}

#[test]
fn local_address_pools() {
    check(
        r#"[[local_address_pool]]
name = "snat"
addresses = ["198.19.0.200", "203.0.113.5", "198.18.0.9"]
[[local_address_pool]]
name = "other"
addresses = ["198.18.0.200"]
port = "lan0"
[[local_address_pool]]
name = "snat"
port = "lan0"
"#,
        &[
            "ferrovs.toml:12:30: local_address_pool[0].addresses[1]: local address 203.0.113.5 is not on any port's networks; add a covering address to a [[port]]",
            "ferrovs.toml:12:45: local_address_pool[0].addresses[2]: local address 198.18.0.9 is on port wan0, but the pool's first address is on port lan0; a pool lives on one port",
            "ferrovs.toml:15:14: local_address_pool[1].addresses[0]: local address 198.18.0.200 is not on port lan0's networks (198.19.0.0/24)",
            "ferrovs.toml:17:1: local_address_pool[2].addresses: missing required key",
            "ferrovs.toml:18:8: local_address_pool[2].name: duplicate pool name \"snat\" (first used by local_address_pool[0])",
        ],
    );
}

#[test]
fn fullnat_needs_a_known_pool() {
    check(
        r#"[[local_address_pool]]
name = "snat"
addresses = ["198.19.0.200"]
[[service]]
vip = "198.18.0.10"
port = 80
forward = "fullnat"
[[service]]
vip = "198.18.0.11"
port = 80
forward = "fullnat"
local_address_pool = "nope"
[[service]]
vip = "198.18.0.12"
port = 80
local_address_pool = "snat"
toa = "syn"
[[service]]
vip = "2001:db8::10"
port = 80
local_address_pool = "snat"
[[service.real_server]]
address = "2001:db8::11"
forward = "fullnat"
"#,
        &[
            "ferrovs.toml:13:1: service[0].local_address_pool: fullnat forwarding needs a local_address_pool (the source addresses towards the real servers)",
            "ferrovs.toml:21:22: service[1].local_address_pool: unknown local address pool \"nope\"; pools are: snat",
            "ferrovs.toml:25:22: service[2].local_address_pool: local_address_pool applies only to fullnat forwarding",
            "ferrovs.toml:26:7: service[2].toa: toa applies only to TCP services with fullnat forwarding",
            "ferrovs.toml:30:22: service[3].local_address_pool: pool \"snat\" has no IPv6 address to reach real server 2001:db8::11",
        ],
    );
}

#[test]
fn schedulers_and_flags() {
    check(
        r#"[[service]]
vip = "198.18.0.10"
port = 80
scheduler = "roundrobin"
[[service]]
vip = "198.18.0.11"
port = 80
scheduler = "rr"
sched_flags = ["sh-port", "mh-fast"]
[[service]]
vip = "198.18.0.12"
port = 80
scheduler = "mh"
sched_flags = ["mh-port", "mh-port", "mh-fallback"]
"#,
        &[
            "ferrovs.toml:13:13: service[0].scheduler: unknown scheduler \"roundrobin\"; expected one of: rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh",
            "ferrovs.toml:18:16: service[1].sched_flags[0]: sh-port is valid only with scheduler \"sh\", not \"rr\" (ipvsadm: \"incompatible scheduler flag\")",
            "ferrovs.toml:18:27: service[1].sched_flags[1]: unknown scheduler flag \"mh-fast\"; expected one of: sh-fallback, sh-port, mh-fallback, mh-port",
            "ferrovs.toml:23:27: service[2].sched_flags[1]: duplicate flag mh-port",
        ],
    );
}

#[test]
fn address_family_mismatch() {
    check(
        r#"[[service]]
vip = "198.18.0.10"
port = 80
[[service.real_server]]
address = "2001:db8::11"
[[service.real_server]]
address = "2001:db8::12"
forward = "tun"
"#,
        &[
            "ferrovs.toml:14:11: service[0].real_server[0].address: 2001:db8::11 is not in the address family of VIP 198.18.0.10 (ipvsadm: \"Different address family is allowed only for tunneling servers\")",
            "ferrovs.toml:16:11: service[0].real_server[1].address: 2001:db8::12 is not in the address family of VIP 198.18.0.10: ipvsadm allows mixed families only for tunnelling, and ferrovs does not support mixed-family tunnels yet",
        ],
    );
}

#[test]
fn persistence_ranges() {
    check(
        r#"[[service]]
vip = "198.18.0.10"
port = 80
persistence = 0
[[service]]
vip = "198.18.0.11"
port = 80
persistence = 2678401
[[service]]
vip = "198.18.0.12"
port = 80
persistence_netmask = "255.255.255.0"
[[service]]
vip = "198.18.0.13"
port = 80
persistence = 60
persistence_netmask = "255.0.255.0"
"#,
        &[
            "ferrovs.toml:13:15: service[0].persistence: 0 is out of range 1..=2678400",
            "ferrovs.toml:17:15: service[1].persistence: 2678401 is out of range 1..=2678400",
            "ferrovs.toml:21:23: service[2].persistence_netmask: persistence_netmask needs persistence",
            "ferrovs.toml:26:23: service[3].persistence_netmask: \"255.0.255.0\" is not a contiguous IPv4 netmask like \"255.255.255.0\"",
        ],
    );
}

#[test]
fn thresholds() {
    check(
        r#"[[service]]
vip = "198.18.0.10"
port = 80
[[service.real_server]]
address = "198.19.0.11"
l_threshold = 10
[[service.real_server]]
address = "198.19.0.12"
u_threshold = 500
l_threshold = 800
[[service.real_server]]
address = "198.19.0.13"
u_threshold = -1
"#,
        &[
            "ferrovs.toml:15:15: service[0].real_server[0].l_threshold: l_threshold needs u_threshold",
            "ferrovs.toml:19:15: service[0].real_server[1].l_threshold: 800 must be lower than u_threshold 500",
            "ferrovs.toml:22:15: service[0].real_server[2].u_threshold: -1 is out of range 0..=2147483647",
        ],
    );
}

#[test]
fn timeouts_range() {
    check(
        "[timeouts]\ntcp = 2678401\nudp = -5\n",
        &[
            "ferrovs.toml:11:7: timeouts.tcp: 2678401 is out of range 0..=2678400",
            "ferrovs.toml:12:7: timeouts.udp: -5 is out of range 0..=2678400",
        ],
    );
}

#[test]
fn lcores() {
    check("[dpdk]\nlcores = \"0-a\"\n", &["ferrovs.toml:11:10: dpdk.lcores: \"0-a\" is not an lcore list: expected numbers and ranges like \"0-3,8\""]);
    check(
        "[dpdk]\nlcores = \"3-1\"\n",
        &["ferrovs.toml:11:10: dpdk.lcores: lcore range \"3-1\" is reversed"],
    );
    check("[dpdk]\nlcores = \"0\"\n", &["ferrovs.toml:11:10: dpdk.lcores: at least two lcores are needed: one main lcore and one worker"]);
    check(
        "[dpdk]\nlcores = [0, 1, 2]\nmain_lcore = 4\n",
        &["ferrovs.toml:12:14: dpdk.main_lcore: lcore 4 is not in dpdk.lcores (0-2)"],
    );
    check(
        "[dpdk]\nlcores = \"0-2\"\nmain_lcore = 1\nworker_lcores = \"1-2\"\n",
        &["ferrovs.toml:13:17: dpdk.worker_lcores: the main lcore 1 cannot also be a worker"],
    );
    check(
        "[dpdk]\nlcores = \"0-2\"\nworker_lcores = [1, 5]\n",
        &["ferrovs.toml:12:17: dpdk.worker_lcores: lcore 5 is not in dpdk.lcores (0-2)"],
    );
}

#[test]
fn dpdk_sizes_and_eal_args() {
    check(
        "[dpdk]\nlcores = \"0-8\"\nmbufs_per_port = 4096\nextra_eal_args = [\"-l0-3\", \"--file-prefix=x\", \"--log-level=8\"]\nfile_prefix = \"a b\"\n",
        &[
            "ferrovs.toml:12:18: dpdk.mbufs_per_port: 4096 mbufs cannot fill port wan0's rings: 8 worker queues x (1024 RX + 1024 TX descriptors) = 16384",
            "ferrovs.toml:12:18: dpdk.mbufs_per_port: 4096 mbufs cannot fill port lan0's rings: 8 worker queues x (1024 RX + 1024 TX descriptors) = 16384",
            "ferrovs.toml:13:19: dpdk.extra_eal_args[0]: EAL option -l is set by dpdk.lcores; set it there",
            "ferrovs.toml:13:28: dpdk.extra_eal_args[1]: EAL option --file-prefix is set by dpdk.file_prefix; set it there",
            "ferrovs.toml:14:15: dpdk.file_prefix: \"a b\" is not a valid prefix: use 1 to 64 of A-Z a-z 0-9 _ - .",
        ],
    );
}

#[test]
fn health_checks() {
    check(
        r#"[[service]]
vip = "198.18.0.10"
port = 80
[service.health_check]
type = "tcp"
path = "/x"
interval = 0
[[service.real_server]]
address = "198.19.0.11"
[service.real_server.health_check]
type = "command"
[[service.real_server]]
address = "198.19.0.12"
[service.real_server.health_check]
type = "http"
status = [200, 600]
digest = "abc"
[[service.real_server]]
address = "198.19.0.13"
[service.real_server.health_check]
type = "ping"
"#,
        &[
            "ferrovs.toml:15:8: service[0].health_check.path: path does not apply to type \"tcp\" (only to type \"http\")",
            "ferrovs.toml:16:12: service[0].health_check.interval: 0 is out of range 1..=86400",
            "ferrovs.toml:19:1: service[0].real_server[0].health_check.command: missing required key",
            "ferrovs.toml:25:16: service[0].real_server[1].health_check.status[1]: 600 is out of range 100..=599",
            "ferrovs.toml:26:10: service[0].real_server[1].health_check.digest: \"abc\" is not an MD5 digest (32 hex digits)",
            "ferrovs.toml:30:8: service[0].real_server[2].health_check.type: unknown check type \"ping\"; expected one of: tcp, http, command, none",
        ],
    );
}

#[test]
fn port_zero_real_server_needs_a_check_port() {
    check(
        r#"[[service]]
vip = "198.18.0.10"
port = 0
persistence = 600
[service.health_check]
type = "tcp"
[[service.real_server]]
address = "198.19.0.11"
"#,
        &["ferrovs.toml:16:1: service[0].real_server[0].health_check.port: a tcp check needs health_check.port when the real server port is 0"],
    );
}

#[test]
fn sorry_server() {
    check(
        r#"[[service]]
vip = "198.18.0.10"
port = 80
sorry_server = "198.19.0.99:8080"
[[service]]
vip = "198.18.0.11"
port = 80
sorry_server = "[2001:db8::9]:80"
[[service]]
vip = "198.18.0.12"
port = 80
sorry_server = "nowhere"
"#,
        &[
            "ferrovs.toml:13:16: service[0].sorry_server: port 8080 differs from the service port 80: dr forwarding cannot change the port",
            "ferrovs.toml:17:16: service[1].sorry_server: sorry server 2001:db8::9 is not in the VIP's address family",
            "ferrovs.toml:21:16: service[2].sorry_server: \"nowhere\" is not ADDRESS or ADDRESS:PORT (IPv6 as [ADDRESS]:PORT)",
        ],
    );
}

#[test]
fn control_keys() {
    check(
        "[control]\nmetrics_listen = \"localhost\"\nadmin_socket = \"admin.sock\"\n",
        &[
            "ferrovs.toml:11:18: control.metrics_listen: \"localhost\" is not ADDRESS:PORT like \"127.0.0.1:9173\"",
            "ferrovs.toml:12:16: control.admin_socket: \"admin.sock\" must be an absolute path shorter than 108 bytes",
        ],
    );
}

#[test]
fn every_error_in_a_file_is_reported_in_order() {
    let got = errors(
        r#"[dpdk]
lcores = "0-x"
[timeouts]
tcp = -1
[[service]]
vip = "198.18.0.10"
port = 80
scheduler = "bogus"
[[service.real_server]]
address = "198.19.0.11"
weight = 70000
colour = "blue"
"#,
    );
    assert_eq!(got.len(), 5, "{got:#?}");
    let positions: Vec<&str> = got
        .iter()
        .map(|l| l.split(": ").next().unwrap_or(""))
        .collect();
    assert_eq!(
        positions,
        [
            "ferrovs.toml:11:10",
            "ferrovs.toml:13:7",
            "ferrovs.toml:17:13",
            "ferrovs.toml:20:10",
            "ferrovs.toml:21:1"
        ]
    );
}

#[test]
fn no_port_at_all() {
    let e = config::parse("", "empty.toml").expect_err("a config needs a port");
    assert_eq!(
        e.to_string(),
        "empty.toml:1:1: port: at least one [[port]] is required"
    );
}

#[test]
fn toml_syntax_errors_have_no_key_path() {
    let e = config::parse("[[port]]\nname = = \"x\"\n", "bad.toml").expect_err("syntax error");
    let first = &e.iter().next().expect("one error");
    assert_eq!((first.line, first.col, first.key_path.as_str()), (2, 8, ""));
    assert!(
        first.to_string().starts_with("bad.toml:2:8: TOML syntax: "),
        "{first}"
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    let e = config::parse(
        "# é\n[[port]]\nname = \"wan0\" ; device = \"é\"\n",
        "u.toml",
    )
    .expect_err("bad");
    assert!(e.to_string().starts_with("u.toml:3:"), "{e}");
    check(
        "[[service]]\nvip = \"198.18.0.10\"\nport = 80\nprotocol = \"été\"\n",
        &["ferrovs.toml:13:12: service[0].protocol: unknown protocol \"été\"; expected \"tcp\" or \"udp\""],
    );
}

#[test]
fn load_reports_unreadable_files() {
    let e =
        config::load(std::path::Path::new("/nonexistent/ferrovs.toml")).expect_err("missing file");
    assert_eq!(e.len(), 1);
    assert!(
        e.to_string()
            .starts_with("/nonexistent/ferrovs.toml: cannot read: "),
        "{e}"
    );
}

#[test]
fn a_table_where_an_array_of_tables_belongs() {
    check(
        "[service]\nvip = \"198.18.0.10\"\n",
        &["ferrovs.toml:10:1: service: expected an array of tables ([[service]]), found a table"],
    );
}

#[test]
fn sorry_server_port_zero() {
    check(
        "[[service]]\nvip = \"198.18.0.10\"\nport = 80\nforward = \"nat\"\nsorry_server = \"198.19.0.9:0\"\n",
        &["ferrovs.toml:14:16: service[0].sorry_server: port 0 is allowed only when the service port is 0"],
    );
}

#[test]
fn values_of_the_wrong_number_type() {
    check(
        "[[service]]\nvip = \"198.18.0.10\"\nport = 80\n[[service.real_server]]\naddress = \"198.19.0.11\"\nweight = 1.5\n[[service.real_server]]\naddress = \"198.19.0.12\"\nweight = 99999999999999999999\n",
        &[
            "ferrovs.toml:15:10: service[0].real_server[0].weight: expected an integer, found a float",
            "ferrovs.toml:18:10: service[0].real_server[1].weight: 99999999999999999999 is out of range 0..=65535",
        ],
    );
}

#[test]
fn lcore_cpus_must_match_lcores() {
    check(
        "[dpdk]\nlcores = \"0-2\"\nlcore_cpus = [0, 1]\n",
        &["ferrovs.toml:12:14: dpdk.lcore_cpus: 2 CPUs for 3 lcores (0-2): give one CPU per lcore, in lcores order"],
    );
    check(
        "[dpdk]\nlcores = \"0-2\"\nlcore_cpus = \"0,1,1\"\n",
        &["ferrovs.toml:12:14: dpdk.lcore_cpus: expected an array of CPU numbers, one per lcore, found a string"],
    );
    let c = config::parse(
        &format!("{BASE}[dpdk]\nlcores = \"0-2\"\nlcore_cpus = [0, 1, 1]\n"),
        "ferrovs.toml",
    )
    .expect("valid");
    assert_eq!(c.dpdk.lcore_cpus, [0, 1, 1]);
    let back = config::parse(&c.to_toml(), "again.toml").expect("round trip");
    assert_eq!(back.dpdk.lcore_cpus, [0, 1, 1]);
}

#[test]
fn on_failure_sessions_is_keep_or_drop_and_needs_a_check() {
    check(
        r#"[[service]]
vip = "198.18.0.10"
port = 80
[service.health_check]
type = "tcp"
on_failure_sessions = "expire"
[[service.real_server]]
address = "198.19.0.11"
[service.real_server.health_check]
type = "none"
on_failure_sessions = "drop"
"#,
        &[
            "ferrovs.toml:15:23: service[0].health_check.on_failure_sessions: unknown session policy \"expire\"; expected one of: keep, drop",
            "ferrovs.toml:20:23: service[0].real_server[0].health_check.on_failure_sessions: on_failure_sessions does not apply to type \"none\" (only to type \"tcp\" or \"http\" or \"command\")",
        ],
    );
}

#[test]
fn idle_mode_is_busy_or_sleep() {
    check(
        "[dpdk]\nidle = \"nap\"\n",
        &["ferrovs.toml:11:8: dpdk.idle: unknown idle mode \"nap\"; expected one of: busy, sleep"],
    );
    check(
        "[dpdk]\nidle = true\n",
        &["ferrovs.toml:11:8: dpdk.idle: expected a string, found a boolean"],
    );
    let c =
        config::parse(&format!("{BASE}[dpdk]\nidle = \"sleep\"\n"), "ferrovs.toml").expect("valid");
    assert_eq!(c.dpdk.idle, config::Idle::Sleep);
}

#[test]
fn ha_addresses_must_be_vips_or_local_addresses() {
    check(
        r#"[[local_address_pool]]
name = "snat"
addresses = ["198.19.0.100"]
[[service]]
vip = "198.18.0.10"
port = 80
[ha]
mode = "vrrp"
addresses = ["198.18.0.10", "198.19.0.100", "198.18.0.99", "198.18.0.10", "nope"]
garp_repeat = 500
garp_delay = -1
"#,
        &[
            "ferrovs.toml:17:8: ha.mode: mode \"vrrp\" follows the addresses keepalived puts on the exception-path TAPs, but no [[port]] has exception_path",
            "ferrovs.toml:18:45: ha.addresses[2]: 198.18.0.99 is no service VIP, local address or port address: [ha] follows only addresses this gateway answers for",
            "ferrovs.toml:18:60: ha.addresses[3]: duplicate address 198.18.0.10",
            "ferrovs.toml:18:75: ha.addresses[4]: \"nope\" is not an IPv4 or IPv6 address",
            "ferrovs.toml:19:15: ha.garp_repeat: 500 is out of range 0..=100",
            "ferrovs.toml:20:14: ha.garp_delay: -1 is out of range 0..=3600",
        ],
    );
}

#[test]
fn ha_mode_and_address_list() {
    check(
        "[ha]\nmode = \"carp\"\n",
        &["ferrovs.toml:11:8: ha.mode: \"carp\" is not an HA mode: expected \"none\" or \"vrrp\""],
    );
    check(
        "[ha]\naddresses = [\"198.18.0.10\"]\n",
        &[
            "ferrovs.toml:11:13: ha.addresses: addresses needs mode = \"vrrp\" (without HA every address is always owned)",
            "ferrovs.toml:11:14: ha.addresses[0]: 198.18.0.10 is no service VIP, local address or port address: [ha] follows only addresses this gateway answers for",
        ],
    );
    let tap = "[[port]]\nname = \"p3\"\ndevice = \"net_null3\"\nexception_path = true\n";
    check(
        &format!("{tap}[ha]\nmode = \"vrrp\"\naddresses = []\nzz = 1\n"),
        &[
            "ferrovs.toml:16:13: ha.addresses: the list is empty: leave the key out to follow every VIP and local address",
            "ferrovs.toml:17:1: ha.zz: unknown key; expected one of: mode, addresses, garp_repeat, garp_delay, garp_refresh",
        ],
    );
}

#[test]
fn sync_refuses_a_short_key_with_its_position() {
    check(
        "[sync]\nenabled = true\nlisten = \"198.18.0.2:8848\"\npeers = [\"198.18.0.3:8848\"]\nkey = \"00112233\"\n",
        &["ferrovs.toml:14:7: sync.key: the key is 4 bytes; at least 16 are required (32 random bytes are recommended: openssl rand -hex 32)"],
    );
    check(
        "[sync]\nkey = \"not hex, not base64!\"\n",
        &["ferrovs.toml:11:7: sync.key: the key is neither hex (an even number of 0-9 a-f) nor base64"],
    );
}

#[test]
fn sync_enabled_needs_listen_peers_and_key() {
    check(
        "[sync]\nenabled = true\n",
        &[
            "ferrovs.toml:11:11: sync.listen: missing: required when enabled = true",
            "ferrovs.toml:11:11: sync.peers: missing: required when enabled = true (or a multicast group)",
            "ferrovs.toml:11:11: sync.key: missing: required when enabled = true",
        ],
    );
    check(
        "[sync]\nenabled = true\nlisten = \"198.18.0.2:8848\"\npeers = []\nkey = \"000102030405060708090a0b0c0d0e0f\"\n",
        &["ferrovs.toml:13:9: sync.peers: at least one peer is required when enabled = true (or a multicast group)"],
    );
}

#[test]
fn sync_group_is_link_local_multicast_of_listen_family_and_replaces_peers() {
    // A group instead of peers is a complete section (the key is still required).
    let ok = format!(
        "{BASE}[sync]\nenabled = true\nlisten = \"198.18.0.2:8848\"\ngroup = \"224.0.0.81\"\nkey = \"000102030405060708090a0b0c0d0e0f\"\n"
    );
    let c = config::parse(&ok, "ferrovs.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.sync.group_addr(),
        Some("224.0.0.81:8848".parse().expect("literal")),
        "the group's port defaults to listen's"
    );
    assert!(c.sync.can_run());
    check(
        "[sync]\nenabled = true\nlisten = \"198.18.0.2:8848\"\ngroup = \"224.0.0.81\"\n",
        &["ferrovs.toml:11:11: sync.key: missing: required when enabled = true"],
    );
    for (group, why) in [
        ("198.18.0.9", "198.18.0.9 is not a multicast address (the kernel daemon's group is 224.0.0.81)"),
        ("239.1.1.1", "239.1.1.1 is not a link-local group (224.0.0.0/24 or ff02::/16): the exception path copies only those to the kernel, and sync peers share a link"),
        ("ff02::81", "ff02::81 is not of the listen address's family: the hellos go from listen"),
        ("eth1", "\"eth1\" is not an IP address like \"224.0.0.81\" or \"ff02::81\""),
    ] {
        let msg = format!("ferrovs.toml:12:9: sync.group: {why}");
        check(
            &format!("[sync]\nlisten = \"198.18.0.2:8848\"\ngroup = \"{group}\"\n"),
            &[msg.as_str()],
        );
    }
    check(
        "[sync]\nlisten = \"198.18.0.2:8848\"\ngroup = \"224.0.0.81\"\ngroup_port = 0\nttl = 256\n",
        &[
            "ferrovs.toml:13:14: sync.group_port: 0 is out of range 1..=65535",
            "ferrovs.toml:14:7: sync.ttl: 256 is out of range 1..=255",
        ],
    );
}

#[test]
fn sync_expect_peers_defaults_to_one_with_a_group_alone_and_must_be_reachable() {
    let parse = |sync: &str| {
        config::parse(&format!("{BASE}[sync]\n{sync}"), "ferrovs.toml")
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let group = "listen = \"198.18.0.2:8848\"\ngroup = \"224.0.0.81\"\n";
    let peers =
        "listen = \"198.18.0.2:8848\"\npeers = [\"198.18.0.3:8848\", \"198.18.0.4:8848\"]\n";
    let c = parse(group);
    assert_eq!(
        (c.sync.expect_peers, c.sync.expected_peers()),
        (None, 1),
        "a group alone: one peer"
    );
    assert_eq!(
        parse(peers).sync.expected_peers(),
        0,
        "listed peers are waited for anyway"
    );
    let both = format!("{peers}group = \"224.0.0.81\"\n");
    assert_eq!(
        parse(&both).sync.expected_peers(),
        0,
        "listed peers and a group"
    );
    let c = parse(&format!("{group}expect_peers = 0\n"));
    assert_eq!((c.sync.expect_peers, c.sync.expected_peers()), (Some(0), 0));
    let c = parse(&format!("{group}expect_peers = 16\n"));
    assert_eq!(
        c.sync.expected_peers(),
        16,
        "as many as the group can discover"
    );
    let back = config::parse(&c.to_toml(), "again.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back.sync.expect_peers, Some(16), "round trip");
    assert_eq!(
        parse(&format!("{peers}expect_peers = 2\n"))
            .sync
            .expected_peers(),
        2
    );

    check(
        &format!("[sync]\n{peers}expect_peers = 3\n"),
        &["ferrovs.toml:13:16: sync.expect_peers: 3 peers can never resync this gateway: 2 listed and no group to discover more; the ready check would never pass"],
    );
    check(
        &format!("[sync]\n{group}expect_peers = 17\n"),
        &["ferrovs.toml:13:16: sync.expect_peers: 17 peers can never resync this gateway: 0 listed and at most 16 discovered on the group; the ready check would never pass"],
    );
    check(
        &format!("[sync]\n{group}expect_peers = 49\n"),
        &["ferrovs.toml:13:16: sync.expect_peers: 49 is out of range 0..=48"],
    );
    check(
        &format!("[sync]\n{group}expect_peers = \"one\"\n"),
        &["ferrovs.toml:13:16: sync.expect_peers: expected an integer, found a string"],
    );
}

#[test]
fn sync_addresses_ranges_and_mode() {
    check(
        r#"[sync]
listen = "198.18.0.2:8848"
peers = ["198.18.0.3", "224.0.0.81:8848", "198.18.0.2:8848", "[2001:db8::3]:8848", "198.18.0.4:8848", "198.18.0.4:8848", "0.0.0.0:1"]
syncid = 256
max_datagram = 100
rate = -1
mode = "primary"
zz = 1
"#,
        &[
            "ferrovs.toml:12:10: sync.peers[0]: \"198.18.0.3\" is not ADDR:PORT like \"198.18.0.2:8848\" or \"[2001:db8::2]:8848\"",
            "ferrovs.toml:12:24: sync.peers[1]: 224.0.0.81 is multicast: peers and listen are unicast; a multicast group goes in sync.group (see docs/config.md)",
            "ferrovs.toml:12:43: sync.peers[2]: 198.18.0.2:8848 is this gateway's own listen address",
            "ferrovs.toml:12:62: sync.peers[3]: [2001:db8::3]:8848 is not of the listen address's family: one socket sends to every peer",
            "ferrovs.toml:12:103: sync.peers[5]: duplicate peer 198.18.0.4:8848",
            "ferrovs.toml:12:122: sync.peers[6]: 0.0.0.0 is unspecified: give the gateway's own address, which the peers list",
            "ferrovs.toml:13:10: sync.syncid: 256 is out of range 0..=255",
            "ferrovs.toml:14:16: sync.max_datagram: 100 is out of range 512..=65507",
            "ferrovs.toml:15:8: sync.rate: -1 is out of range 0..=100000000",
            "ferrovs.toml:16:8: sync.mode: \"primary\" is not a sync mode: expected \"master\", \"backup\" or \"both\"",
            "ferrovs.toml:17:1: sync.zz: unknown key; expected one of: enabled, listen, peers, group, group_port, ttl, key, syncid, max_datagram, rate, mode, expect_peers",
        ],
    );
}

#[test]
fn sloppy_tcp_refusals() {
    check(
        r#"[[service]]
vip = "198.18.0.10"
port = 80
protocol = "udp"
scheduler = "mh"
sloppy_tcp = true
[[service]]
vip = "198.18.0.11"
port = 80
scheduler = "rr"
sloppy_tcp = true
[[service]]
vip = "198.18.0.12"
port = 80
scheduler = "mh"
sloppy_tcp = true
[[service.real_server]]
address = "198.19.0.12"
forward = "nat"
[[service]]
vip = "198.18.0.13"
port = 80
scheduler = "sh"
sloppy_tcp = "yes"
"#,
        &[
            "ferrovs.toml:15:14: service[0].sloppy_tcp: sloppy_tcp applies only to TCP services (every UDP datagram may start a flow)",
            "ferrovs.toml:20:14: service[1].sloppy_tcp: sloppy_tcp = true needs a consistent scheduler (sh, dh or mh), not \"rr\": another gateway's choice for the flow cannot be known",
            "ferrovs.toml:25:14: service[2].sloppy_tcp: sloppy_tcp = true needs dr or tun forwarding for every real server and the sorry server (nat and fullnat replies must return through the gateway that owns the flow)",
            "ferrovs.toml:33:14: service[3].sloppy_tcp: expected a boolean, found a string",
        ],
    );
}

#[test]
fn console_keys() {
    check(
        concat!(
            "[control]\n",
            "console = \"localhost:8081\"\n",
            "console_allow = [\"10.0.0.0/33\", \"lan\"]\n",
            "console_users = [\"admin\", \"root:$1$abc$def\", \"bad name:$5$s$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA\", \"ops:$5$s$short\"]\n",
        ),
        &[
            "ferrovs.toml:11:11: control.console: \"localhost:8081\" is not ADDRESS:PORT like \"127.0.0.1:8081\"",
            "ferrovs.toml:12:18: control.console_allow[0]: prefix length \"33\" is out of range 0..=32",
            "ferrovs.toml:12:33: control.console_allow[1]: \"lan\" is not a prefix: expected ADDRESS/LENGTH, e.g. \"10.0.0.1/24\"",
            "ferrovs.toml:13:18: control.console_users[0]: expected \"NAME:HASH\" with a SHA-crypt hash (mkpasswd -m sha-256)",
            "ferrovs.toml:13:27: control.console_users[1]: password hash is not SHA-crypt ($5$ or $6$, as mkpasswd -m sha-256 writes): it starts with neither $5$ nor $6$",
            "ferrovs.toml:13:46: control.console_users[2]: user name \"bad name\" must be 1 to 64 of A-Z a-z 0-9 . _ - @",
            "ferrovs.toml:13:107: control.console_users[3]: password hash is not SHA-crypt ($5$ or $6$, as mkpasswd -m sha-256 writes): the hash part has 5 characters, not 43",
        ],
    );
    check(
        "[control]\nconsole = \"127.0.0.1:9173\"\n",
        &["ferrovs.toml:11:11: control.console: 127.0.0.1:9173 is where control.metrics_listen listens; give the console a port of its own"],
    );
    check(
        "[control]\nconsole_users = []\n",
        &["ferrovs.toml:11:17: control.console_users: set without control.console (the console is off)"],
    );
    check(
        "[control]\nconsole = \"127.0.0.1:8081\"\nconsole_allow = []\n",
        &["ferrovs.toml:12:17: control.console_allow: empty: no client could connect; leave it out for loopback only"],
    );
}

#[test]
fn console_is_off_by_default_and_round_trips() {
    let c = config::parse(BASE, "ferrovs.toml").expect("valid");
    assert_eq!(c.control.console, None, "off by default");
    let text = format!(
        "{BASE}[control]\nconsole = \"127.0.0.1:8081\"\nconsole_users = [\"admin:$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA\", \"ops:$6$rounds=5000$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1\"]\n"
    );
    let c = config::parse(&text, "ferrovs.toml").unwrap_or_else(|e| panic!("{e}"));
    let k = c.control.console.as_ref().expect("console on");
    assert_eq!(k.listen.to_string(), "127.0.0.1:8081");
    assert_eq!(
        k.allow,
        config::default_console_allow(),
        "loopback only by default"
    );
    assert_eq!(k.users.len(), 2);
    assert_eq!(k.users[1].name, "ops");
    let back = config::parse(&c.to_toml(), "again.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, c);
    let mut other = c.clone();
    other.control.console = None;
    let d = c.boot_only_diff(&other);
    assert_eq!(
        d,
        ["control.console: the web console's settings changed"],
        "boot-only, no hash printed"
    );
}

#[test]
fn admission_keys() {
    check(
        r#"[admission]
deny_clients = ["198.18.5.0/24", "10.0.0.1/8", "2001:2::/129"]
allow_clients = ["nonsense", "198.18.5.0/24"]
icmp_errors_per_s = -1
icmp_errors_burst = 0
[[service]]
vip = "198.18.0.10"
port = 80
max_conns = "ten"
max_new_per_s = 200000000
max_new_burst = 5
allow_clients = ["2001:2::/48", "2001:2::/48"]
deny_clients = "198.18.0.0/15"
"#,
        &[
            "ferrovs.toml:11:17: admission.deny_clients[0]: 198.18.5.0/24 is listed twice (first as admission.allow_clients[1])",
            "ferrovs.toml:11:34: admission.deny_clients[1]: 10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?",
            "ferrovs.toml:11:48: admission.deny_clients[2]: prefix length \"129\" is out of range 0..=128",
            "ferrovs.toml:12:18: admission.allow_clients[0]: \"nonsense\" is not a prefix: expected ADDRESS/LENGTH, e.g. \"10.0.0.1/24\"",
            "ferrovs.toml:13:21: admission.icmp_errors_per_s: -1 is out of range 0..=100000000",
            "ferrovs.toml:14:21: admission.icmp_errors_burst: 0 is out of range 1..=100000000",
            "ferrovs.toml:18:13: service[0].max_conns: expected an integer, found a string",
            "ferrovs.toml:19:17: service[0].max_new_per_s: 200000000 is out of range 0..=100000000",
            "ferrovs.toml:20:17: service[0].max_new_burst: max_new_burst needs max_new_per_s (the rate the burst belongs to)",
            "ferrovs.toml:21:33: service[0].allow_clients[1]: 2001:2::/48 is listed twice (first as service[0].allow_clients[0])",
            "ferrovs.toml:22:16: service[0].deny_clients: expected an array, found a string",
        ],
    );
}

#[test]
fn admission_keys_parse() {
    let c = config::parse(
        &format!(
            "{BASE}[admission]\ndeny_clients = [\"198.18.5.0/24\", \"2001:2:0:5::/64\"]\n\
             icmp_errors_per_s = 0\n[[service]]\nvip = \"198.18.0.10\"\nport = 80\n\
             max_conns = 3\nmax_new_per_s = 100\nmax_new_burst = 7\n\
             allow_clients = [\"198.18.0.0/15\"]\ndeny_clients = [\"198.18.9.0/24\"]\n"
        ),
        "ferrovs.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.admission.clients.deny.len(), 2);
    assert_eq!(c.admission.icmp_errors_per_s, 0);
    assert_eq!(
        c.admission.icmp_errors_burst,
        config::DEFAULT_ICMP_ERRORS_BURST
    );
    let a = &c.services[0].admission;
    assert_eq!((a.max_conns, a.max_new_per_s, a.burst()), (3, 100, 7));
    assert_eq!(a.clients.allow[0].to_string(), "198.18.0.0/15");
    // Every key survives an export (`ferrovs config export`) and a parse.
    let again = config::parse(&c.to_toml(), "again.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again, c);
    // The defaults: no limits, ICMP errors at Linux's rate.
    let d = config::parse(BASE, "ferrovs.toml").unwrap();
    assert_eq!(d.admission, config::Admission::default());
    assert_eq!(d.admission.icmp_errors_per_s, 1000);
}

#[test]
fn proxy_protocol_only_on_tcp_nat_or_fullnat_without_toa() {
    check(
        r#"[[local_address_pool]]
name = "snat"
addresses = ["198.19.0.200"]
[[service]]
vip = "198.18.0.10"
port = 53
protocol = "udp"
forward = "nat"
proxy_protocol = "v2"
[[service]]
vip = "198.18.0.11"
port = 80
proxy_protocol = "v1"
[[service.real_server]]
address = "198.19.0.11"
[[service]]
vip = "198.18.0.12"
port = 80
forward = "fullnat"
local_address_pool = "snat"
proxy_protocol = "v2"
toa = "ack"
[[service]]
vip = "198.18.0.13"
port = 80
forward = "nat"
proxy_protocol = "v3"
[[service]]
vip = "198.18.0.14"
port = 80
forward = "tun"
proxy_protocol = "v1"
"#,
        &[
            "ferrovs.toml:18:18: service[0].proxy_protocol: proxy_protocol applies only to TCP services (no UDP form is implemented)",
            "ferrovs.toml:22:18: service[1].proxy_protocol: proxy_protocol needs nat or fullnat forwarding: real server 198.19.0.11 uses dr, whose replies bypass the gateway, so their acknowledgements cannot be translated",
            "ferrovs.toml:31:7: service[2].toa: toa and proxy_protocol both carry the client address: set toa = \"off\" (the default with proxy_protocol) or proxy_protocol = \"off\"",
            "ferrovs.toml:36:18: service[3].proxy_protocol: unknown proxy_protocol \"v3\"; expected one of: off, v1, v2",
            "ferrovs.toml:41:18: service[4].proxy_protocol: proxy_protocol needs nat or fullnat forwarding, not tun",
        ],
    );
}

#[test]
fn mss_clamp_in_range_on_tcp_only() {
    check(
        r#"[[service]]
vip = "198.18.0.10"
port = 53
protocol = "udp"
mss_clamp = 1400
[[service]]
vip = "198.18.0.11"
port = 80
mss_clamp = 535
[[service]]
vip = "198.18.0.12"
port = 80
mss_clamp = 9001
[[service]]
vip = "198.18.0.13"
port = 80
mss_clamp = "auto"
"#,
        &[
            "ferrovs.toml:14:13: service[0].mss_clamp: mss_clamp applies only to TCP services (UDP has no MSS)",
            "ferrovs.toml:18:13: service[1].mss_clamp: 535 is out of range 536..=9000",
            "ferrovs.toml:22:13: service[2].mss_clamp: 9001 is out of range 536..=9000",
            "ferrovs.toml:26:13: service[3].mss_clamp: expected an integer, found a string",
        ],
    );
}

#[test]
fn mss_clamp_survives_export() {
    let toml = format!(
        "{BASE}{}",
        r#"[[service]]
vip = "198.18.0.10"
port = 80
forward = "tun"
mss_clamp = 1400
[[service.real_server]]
address = "198.19.0.10"
"#
    );
    let c = config::parse(&toml, "ferrovs.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.services.last().unwrap().mss_clamp, Some(1400));
    let again = config::parse(&c.to_toml(), "again.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again, c);
    // Off by default.
    let d = config::parse(BASE, "ferrovs.toml").unwrap();
    assert!(d.services.iter().all(|s| s.mss_clamp.is_none()));
}

#[test]
fn syn_proxy_only_on_nat_fullnat_tcp_with_a_strong_secret() {
    check(
        r#"[[service]]
vip = "198.18.0.10"
port = 53
protocol = "udp"
forward = "nat"
syn_proxy = "on"
[[service]]
vip = "198.18.0.11"
port = 80
forward = "dr"
syn_proxy = "on"
[[service]]
vip = "198.18.0.12"
port = 80
forward = "nat"
proxy_protocol = "v1"
syn_proxy = "on"
[[service]]
vip = "198.18.0.13"
port = 80
forward = "nat"
syn_proxy = "auto"
[[service]]
vip = "198.18.0.14"
port = 80
forward = "nat"
syn_proxy = "yes"
[syn_proxy]
secret = "00000000000000000000000000000001"
previous_secret = "abc"
"#,
        &[
            "ferrovs.toml:15:13: service[0].syn_proxy: syn_proxy applies only to TCP services (UDP has no handshake)",
            "ferrovs.toml:20:13: service[1].syn_proxy: syn_proxy needs nat or fullnat forwarding, not dr: the gateway must see the replies to translate their sequence numbers",
            "ferrovs.toml:26:13: service[2].syn_proxy: syn_proxy and proxy_protocol cannot be combined on one service",
            "ferrovs.toml:36:13: service[4].syn_proxy: unknown syn_proxy \"yes\"; expected one of: off, on, auto",
            "ferrovs.toml:38:10: syn_proxy.secret: the cookie secret is weak (fewer than 8 distinct bytes); use a random one: openssl rand -hex 16",
            "ferrovs.toml:39:19: syn_proxy.previous_secret: a cookie secret is 32 hex digits (128 bits; make one with: openssl rand -hex 16)",
        ],
    );
    // A service with the SYN proxy and no secret.
    check(
        r#"[[service]]
vip = "198.18.0.10"
port = 80
forward = "nat"
syn_proxy = "on"
"#,
        &["ferrovs.toml:14:13: service[0].syn_proxy: syn_proxy needs the cookie secret: add [syn_proxy] secret = \"<32 hex digits>\" (the same on every gateway of the group; openssl rand -hex 16)"],
    );
}

/// The sorry server forwards with the service's `forward`, so a service whose real servers all
/// use nat cannot take `syn_proxy` or `proxy_protocol` with a dr sorry server: its replies
/// would bypass the gateway.
#[test]
fn syn_proxy_and_proxy_protocol_need_a_sorry_server_that_sees_replies() {
    check(
        r#"[[service]]
vip = "198.18.0.10"
port = 80
forward = "dr"
syn_proxy = "on"
sorry_server = "198.19.0.99"
[[service.real_server]]
address = "198.19.0.11"
forward = "nat"
[[service]]
vip = "198.18.0.11"
port = 80
forward = "tun"
proxy_protocol = "v2"
sorry_server = "198.19.0.99"
[[service.real_server]]
address = "198.19.0.11"
forward = "nat"
[syn_proxy]
secret = "5f1c0a3e9b27d4866e0f1b2c3d4e5a69"
"#,
        &[
            "ferrovs.toml:14:13: service[0].syn_proxy: syn_proxy needs nat or fullnat forwarding, not dr (the sorry server forwards with the service's forward): the gateway must see the replies to translate their sequence numbers",
            "ferrovs.toml:23:18: service[1].proxy_protocol: proxy_protocol needs nat or fullnat forwarding, not tun (the sorry server forwards with the service's forward)",
        ],
    );
    // The same with the services forwarding nat: accepted, sorry servers included.
    let ok = r#"[[service]]
vip = "198.18.0.10"
port = 80
forward = "nat"
syn_proxy = "on"
sorry_server = "198.19.0.99"
[[service.real_server]]
address = "198.19.0.11"
[syn_proxy]
secret = "5f1c0a3e9b27d4866e0f1b2c3d4e5a69"
"#;
    let c = config::parse(&format!("{BASE}{ok}"), "ferrovs.toml").unwrap_or_else(|e| panic!("{e}"));
    assert!(c.services[0].sorry_server.is_some());
}

#[test]
fn syn_proxy_auto_levels_are_checked() {
    let svc =
        "[[service]]\nvip = \"198.18.0.10\"\nport = 80\nforward = \"nat\"\nsyn_proxy = \"auto\"\n\
               [syn_proxy]\nsecret = \"5f1c0a3e9b27d4866e0f1b2c3d4e5a69\"\n";
    // Lines: the service at 10-14, [syn_proxy] at 15, secret at 16, the keys from 17.
    check(
        &format!(
            "{svc}auto_on_syn_rate = 0\nauto_on_table_fill = 101\nauto_off_table_fill = 100\n\
             auto_hold = 0\nauto_of_syn_rate = 1\n"
        ),
        &[
            "ferrovs.toml:17:20: syn_proxy.auto_on_syn_rate: 0 is out of range 1..=100000000",
            "ferrovs.toml:18:22: syn_proxy.auto_on_table_fill: 101 is out of range 1..=100",
            "ferrovs.toml:19:23: syn_proxy.auto_off_table_fill: 100 is out of range 0..=99",
            "ferrovs.toml:20:13: syn_proxy.auto_hold: 0 is out of range 1..=3600",
            "ferrovs.toml:21:1: syn_proxy.auto_of_syn_rate: unknown key; expected one of: secret, previous_secret, auto_on_syn_rate, auto_off_syn_rate, auto_on_table_fill, auto_off_table_fill, auto_hold",
        ],
    );
    // The off levels must be below the on levels (the hysteresis band).
    check(
        &format!(
            "{svc}auto_on_syn_rate = 1000\nauto_off_syn_rate = 1000\nauto_on_table_fill = 60\n\
             auto_off_table_fill = 70\n"
        ),
        &[
            "ferrovs.toml:18:21: syn_proxy.auto_off_syn_rate: auto_off_syn_rate 1000 must be below auto_on_syn_rate 1000 (the hysteresis band)",
            "ferrovs.toml:20:23: syn_proxy.auto_off_table_fill: auto_off_table_fill 70% must be below auto_on_table_fill 60% (the hysteresis band)",
        ],
    );
    // Wrong type.
    check(
        &format!("{svc}auto_hold = \"10s\"\n"),
        &["ferrovs.toml:17:13: syn_proxy.auto_hold: expected an integer, found a string"],
    );
    // `auto` is refused where `on` is.
    check(
        "[[service]]\nvip = \"198.18.0.10\"\nport = 53\nprotocol = \"udp\"\nforward = \"nat\"\n\
         syn_proxy = \"auto\"\n[syn_proxy]\nsecret = \"5f1c0a3e9b27d4866e0f1b2c3d4e5a69\"\n",
        &["ferrovs.toml:15:13: service[0].syn_proxy: syn_proxy applies only to TCP services (UDP has no handshake)"],
    );
    // Good: the defaults, then given levels; an on level alone moves the off level with it.
    let c =
        config::parse(&format!("{BASE}{svc}"), "ferrovs.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.services[0].syn_proxy, config::SynProxyMode::Auto);
    assert_eq!(c.syn_proxy.auto, config::SynProxyAuto::default());
    assert_eq!(
        (c.syn_proxy.auto.on_syn_rate, c.syn_proxy.auto.off_syn_rate),
        (10_000, 5_000)
    );
    let c = config::parse(
        &format!("{BASE}{svc}auto_on_syn_rate = 2000\nauto_on_table_fill = 40\nauto_hold = 5\n"),
        "ferrovs.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let a = c.syn_proxy.auto;
    assert_eq!(
        (
            a.on_syn_rate,
            a.off_syn_rate,
            a.on_table_fill,
            a.off_table_fill,
            a.hold_s
        ),
        (2000, 1000, 40, 15, 5)
    );
    let c = config::parse(
        &format!(
            "{BASE}{svc}auto_on_syn_rate = 2000\nauto_off_syn_rate = 0\nauto_off_table_fill = 10\n"
        ),
        "ferrovs.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (
            c.syn_proxy.auto.off_syn_rate,
            c.syn_proxy.auto.off_table_fill
        ),
        (0, 10)
    );
    // The levels survive export.
    let again = config::parse(&c.to_toml(), "again.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again, c);
}

#[test]
fn syn_proxy_survives_export_and_the_redacted_text_hides_the_secret() {
    let secret = "5f1c0a3e9b27d4866e0f1b2c3d4e5a69";
    let prev = "0123456789abcdef0123456789abcdef";
    let toml = format!(
        "{BASE}[[service]]\nvip = \"198.18.0.10\"\nport = 80\nforward = \"nat\"\nsyn_proxy = \"on\"\n\
         [[service.real_server]]\naddress = \"198.19.0.10\"\n\
         [syn_proxy]\nsecret = \"{secret}\"\nprevious_secret = \"{prev}\"\n"
    );
    let c = config::parse(&toml, "ferrovs.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.services[0].syn_proxy, config::SynProxyMode::On);
    let again = config::parse(&c.to_toml(), "again.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again, c);
    let shown = c.to_toml_redacted();
    assert!(!shown.contains(secret) && !shown.contains(prev), "{shown}");
    assert!(shown.contains("secret = \"<redacted>\""), "{shown}");
    let logged = format!("{c:?}");
    assert!(
        !logged.contains(secret) && !logged.contains("95, 28"),
        "{logged}"
    );
}
