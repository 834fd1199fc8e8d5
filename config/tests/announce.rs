//! `[announce]` (ECMP scale-out): defaults, the device each VIP's route points at, round trips,
//! reload rules and every refusal with its `FILE:LINE:COL: key.path: message`.

use std::net::IpAddr;

/// Two ports, the first with an exception-path TAP; two services (lines 1-22).
const BASE: &str = r#"[[port]]
name = "eth0"
device = "net_null0"
addresses = ["198.18.1.1/24", "2001:2:0:1::1/64"]
exception_path = { tap = "tap0" }

[[port]]
name = "eth1"
device = "net_null1"
addresses = ["198.18.2.1/24"]
exception_path = { tap = "tap1" }

[[service]]
vip = "198.18.1.100"
port = 80
[[service.real_server]]
address = "198.18.2.11"

[[service]]
vip = "198.18.3.100"
port = 80
[[service.real_server]]
address = "198.18.2.11"
"#;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

fn parse(extra: &str) -> config::Config {
    config::parse(&format!("{BASE}{extra}"), "ferrovs.toml").unwrap_or_else(|e| panic!("{e}"))
}

#[track_caller]
fn check(extra: &str, expected: &[&str]) {
    let got: Vec<String> = match config::parse(&format!("{BASE}{extra}"), "ferrovs.toml") {
        Ok(_) => panic!("expected errors for {extra}"),
        Err(e) => e.to_string().lines().map(str::to_owned).collect(),
    };
    assert_eq!(got, expected, "\ngot:\n{}\n", got.join("\n"));
}

#[test]
fn without_the_section_nothing_is_announced() {
    let c = parse("");
    assert_eq!(c.announce, None);
    assert!(c.announced_vips().is_empty());
    assert_eq!(c.announce_device(ip("198.18.1.100")), None);
}

#[test]
fn defaults_announce_every_vip_on_the_tap_of_its_port() {
    let c = parse("\n[announce]\ntable = 100\n");
    let a = c.announce.clone().expect("section");
    assert_eq!(a, config::Announce::new(100));
    assert_eq!(
        (a.rise_s, a.hold_down_s, a.drain_s, a.bird_socket.as_str()),
        (0, 3, 10, "/run/bird/bird.ctl")
    );
    assert_eq!(c.announced_vips(), [ip("198.18.1.100"), ip("198.18.3.100")]);
    assert_eq!(c.announce_device(ip("198.18.1.100")), Some("tap0"));
    assert_eq!(
        c.announce_device(ip("198.18.2.50")),
        Some("tap1"),
        "the port whose network holds it"
    );
    assert_eq!(
        c.announce_device(ip("198.18.3.100")),
        Some("tap0"),
        "on no port's network: the first TAP"
    );
}

#[test]
fn every_key_round_trips() {
    let c = parse(
        "\n[announce]\ntable = 4242\nvips = [\"198.18.3.100\"]\ndevice = \"dummy0\"\n\
         rise = 5\nhold_down = 30\ndrain = 60\nbird_socket = \"/run/bird/gw.ctl\"\n",
    );
    let a = c.announce.clone().expect("section");
    assert_eq!(a.table, 4242);
    assert_eq!(a.vips, Some(vec![ip("198.18.3.100")]));
    assert_eq!(c.announced_vips(), [ip("198.18.3.100")]);
    assert_eq!(c.announce_device(ip("198.18.1.100")), Some("dummy0"));
    assert_eq!((a.rise_s, a.hold_down_s, a.drain_s), (5, 30, 60));
    assert_eq!(a.bird_socket, "/run/bird/gw.ctl");
    let again = config::parse(&c.to_toml(), "again.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again, c);
}

#[test]
fn the_table_is_boot_only_the_rest_reloadable() {
    let c = parse("\n[announce]\ntable = 100\n");
    let mut other = c.clone();
    if let Some(a) = &mut other.announce {
        a.hold_down_s = 9;
        a.vips = Some(vec![ip("198.18.1.100")]);
    }
    assert!(c.boot_only_diff(&other).is_empty());
    if let Some(a) = &mut other.announce {
        a.table = 101;
    }
    assert_eq!(
        c.boot_only_diff(&other),
        ["announce.table: Some(100) -> Some(101)"]
    );
    other.announce = None;
    assert_eq!(
        c.boot_only_diff(&other),
        ["announce.table: Some(100) -> None"]
    );
}

#[test]
fn a_vip_no_service_has_is_refused_where_it_is_written() {
    check(
        "\n[announce]\ntable = 100\nvips = [\"198.18.1.100\", \"198.18.9.9\", \"198.18.1.100\"]\n",
        &[
            "ferrovs.toml:27:25: announce.vips[1]: 198.18.9.9 is no service's VIP: only a \
             service's VIP can be announced",
            "ferrovs.toml:27:39: announce.vips[2]: duplicate VIP 198.18.1.100",
        ],
    );
    check(
        "\n[announce]\ntable = 100\nvips = []\n",
        &[
            "ferrovs.toml:27:8: announce.vips: the list is empty: leave the key out to announce \
           every service VIP",
        ],
    );
}

#[test]
fn kernel_tables_and_missing_tables_are_refused() {
    for (t, col) in [("0", 9), ("253", 9), ("254", 9), ("255", 9)] {
        check(
            &format!("\n[announce]\ntable = {t}\n"),
            &[&format!(
                "ferrovs.toml:26:{col}: announce.table: table {t} is the kernel's own (0 \
                 unspec, 253 default, 254 main, 255 local): give ferrovs a table of its own, \
                 such as 100"
            )],
        );
    }
    check(
        "\n[announce]\ntable = 4294967296\n",
        &["ferrovs.toml:26:9: announce.table: 4294967296 is out of range 0..=4294967295"],
    );
    check(
        "\n[announce]\nrise = 1\n",
        &["ferrovs.toml:25:1: announce.table: missing required key"],
    );
}

#[test]
fn bad_values_are_refused() {
    check(
        "\n[announce]\ntable = 100\ndevice = \"not a tap\"\nrise = 3601\nhold_down = -1\n\
         bird_socket = \"bird.ctl\"\nlearn = true\n",
        &[
            "ferrovs.toml:27:10: announce.device: \"not a tap\" is not a valid interface name: \
             a letter, then letters, digits, _ or -, at most 15 characters",
            "ferrovs.toml:28:8: announce.rise: 3601 is out of range 0..=3600",
            "ferrovs.toml:29:13: announce.hold_down: -1 is out of range 0..=3600",
            "ferrovs.toml:30:15: announce.bird_socket: \"bird.ctl\" is not an absolute path",
            "ferrovs.toml:31:1: announce.learn: unknown key; expected one of: table, vips, \
             device, rise, hold_down, drain, bird_socket",
        ],
    );
}

#[test]
fn without_an_exception_path_a_device_is_required() {
    let text =
        "[[port]]\nname = \"eth0\"\ndevice = \"net_null0\"\naddresses = [\"198.18.1.1/24\"]\n\n\
                [[service]]\nvip = \"198.18.1.100\"\nport = 80\n[[service.real_server]]\n\
                address = \"198.18.1.11\"\n\n[announce]\ntable = 100\n";
    let e = config::parse(text, "f.toml").expect_err("refused");
    assert_eq!(
        e.to_string(),
        "f.toml:12:1: announce.device: no [[port]] has exception_path, so the routes have no \
         TAP to point at: give device, or an exception path (BIRD speaks BGP through it)"
    );
    let ok = format!("{text}device = \"dummy0\"\n");
    let c = config::parse(&ok, "f.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.announce_device(ip("198.18.1.100")), Some("dummy0"));
}

#[test]
fn live_checks_point_at_the_key() {
    let text = format!("{BASE}\n[announce]\ntable = 100\n");
    let e = config::error_at(
        &text,
        "ferrovs.toml",
        &["announce", "table"],
        "table 100 is used".into(),
    );
    assert_eq!(
        e.to_string(),
        "ferrovs.toml:26:9: announce.table: table 100 is used"
    );
    let e = config::error_at(&text, "f.toml", &["announce", "vips"], "x".into());
    assert_eq!(e.to_string(), "f.toml: announce.vips: x");
}
