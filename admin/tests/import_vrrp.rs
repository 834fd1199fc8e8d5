//! `ferrovs import keepalived --keepalived-out`: the `[ha]` section and the VRRP-only
//! keepalived.conf, checked by Debian's keepalived (`keepalived --config-test`) in a network
//! namespace that has the TAPs ferrovs creates for its ports.
//!
//! keepalived must be installed (`scripts/deps.sh`); without it these checks are skipped, except
//! where `CI=true` or `FERROVS_REQUIRE_ALL=1`, where they fail.

use std::net::IpAddr;
use std::process::Command;

use admin::import::vrrp::HaOptions;
use admin::import::{self, HaOutcome};

fn data(name: &str) -> String {
    let p = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// Two ports like the lab's FullNAT gateway: `client` (with its TAP) and `server` (without),
/// and the local address pool on `server`.
const PAIR_BASE: &str = r#"
[[port]]
name = "client"
device = "net_null0"
addresses = ["198.18.1.1/24", "2001:2:0:1::1/64"]
exception_path = true

[[port]]
name = "server"
device = "net_null1"
addresses = ["198.18.2.1/24", "2001:2:0:2::1/64"]

[[local_address_pool]]
name = "snat"
addresses = ["198.18.2.100", "2001:2:0:2::100"]
port = "server"
"#;

fn pair_base() -> config::Config {
    config::parse(PAIR_BASE, "base.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn opts(map: &[(&str, &str)]) -> HaOptions {
    HaOptions {
        interfaces: map
            .iter()
            .map(|(i, p)| ((*i).to_owned(), (*p).to_owned()))
            .collect(),
    }
}

/// The `[ha]` table of the imported TOML, and the configuration without it. The whole output
/// must also load as a ferrovs configuration whose `[ha]` is exactly that table.
fn split_ha(stdout: &str) -> (toml::Table, config::Config) {
    let mut doc: toml::Table = stdout
        .parse()
        .unwrap_or_else(|e| panic!("not TOML: {e}\n{stdout}"));
    let ha = match doc.remove("ha") {
        Some(toml::Value::Table(t)) => t,
        other => panic!("no [ha] table: {other:?}\n{stdout}"),
    };
    let rest = toml::to_string(&doc).expect("serialise");
    let cfg = config::parse(&rest, "out.toml").unwrap_or_else(|e| panic!("{e}\n{rest}"));
    let whole = config::parse(stdout, "out.toml").unwrap_or_else(|e| panic!("{e}\n{stdout}"));
    assert_eq!(whole.ha.mode, config::HaMode::Vrrp, "{stdout}");
    assert_eq!(whole.ha.addresses.as_deref(), Some(&ha_addresses(&ha)[..]));
    assert_eq!(i64::from(whole.ha.garp_repeat), int(&ha, "garp_repeat"));
    assert_eq!(i64::from(whole.ha.garp_delay_s), int(&ha, "garp_delay"));
    assert_eq!(i64::from(whole.ha.garp_refresh_s), int(&ha, "garp_refresh"));
    (ha, cfg)
}

fn ha_addresses(ha: &toml::Table) -> Vec<IpAddr> {
    ha["addresses"]
        .as_array()
        .expect("addresses")
        .iter()
        .map(|v| v.as_str().expect("string").parse().expect("address"))
        .collect()
}

fn int(ha: &toml::Table, key: &str) -> i64 {
    ha[key]
        .as_integer()
        .unwrap_or_else(|| panic!("{key}: {ha:?}"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn ok(r: &HaOutcome) -> &str {
    assert_eq!(r.outcome.code, 0, "{}", r.outcome.stderr);
    r.keepalived_conf
        .as_deref()
        .expect("a VRRP-only keepalived.conf")
}

// ---------------------------------------------------------------------------------------------
// keepalived --config-test in a namespace with the ports' TAPs.

fn required() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
        || std::env::var("FERROVS_REQUIRE_ALL").as_deref() == Ok("1")
}

/// The PATH with the sbin directories, where Debian installs keepalived and ip.
fn path() -> String {
    format!(
        "/usr/sbin:/sbin:{}",
        std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
    )
}

/// Skip (or fail where required) when keepalived cannot run here.
fn unavailable(why: &str) -> Option<(i32, String)> {
    assert!(
        !required(),
        "keepalived --config-test is required (CI=true or FERROVS_REQUIRE_ALL=1) but {why}; \
         install Debian's keepalived (scripts/deps.sh does)"
    );
    eprintln!("{why}; keepalived --config-test skipped");
    None
}

/// Run `keepalived --config-test -f` on `conf` in a new network namespace (`unshare -rn`)
/// holding a TAP for each of `ifaces`. Returns the exit code and keepalived's output, or `None`
/// when keepalived or namespaces are not available (a failure where required).
fn config_test(conf: &str, ifaces: &[&str]) -> Option<(i32, String)> {
    let have = Command::new("keepalived")
        .arg("--version")
        .env("PATH", path())
        .output();
    if have.is_err() {
        return unavailable("keepalived is not installed");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("keepalived.conf");
    std::fs::write(&file, conf).expect("write");
    let script = format!(
        "for t in {}; do ip tuntap add \"$t\" mode tap || exit 97; done; echo ns-ready; \
         exec keepalived --config-test -f \"$1\"",
        ifaces.join(" ")
    );
    let out = Command::new("unshare")
        .args(["-rn", "sh", "-c", &script, "sh"])
        .arg(&file)
        .env("PATH", path())
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => return unavailable(&format!("unshare cannot run ({e})")),
    };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !stdout.starts_with("ns-ready") {
        return unavailable(&format!(
            "no network namespace with TAPs here (unshare -rn; ip tuntap): {stderr}"
        ));
    }
    Some((out.status.code().unwrap_or(-1), format!("{stdout}{stderr}")))
}

/// keepalived accepts `conf` (exit 0), when it can run here.
fn assert_keepalived_accepts(conf: &str, ifaces: &[&str]) {
    if let Some((rc, out)) = config_test(conf, ifaces) {
        assert_eq!(
            rc, 0,
            "keepalived --config-test refused:\n{out}\n---\n{conf}"
        );
    }
}

// ---------------------------------------------------------------------------------------------

/// Seed 001's keepalived.conf, as printed in the guide: keepalived itself refuses it (prose after
/// the values, `virtual_server` where `virtual_ipaddress` belongs). The import keeps its VRRP
/// text, comments the prose out, maps eth0 to the only port, adds the virtual server's VIP to
/// the instance; keepalived accepts the result and `[ha]` follows that VIP.
#[test]
fn seed_001_gives_ha_and_a_vrrp_conf_keepalived_accepts() {
    let text = data("keepalived_seed001.conf");
    let r = import::keepalived_ha_command("seed.conf", &text, None, false, &HaOptions::default());
    let conf = ok(&r);
    let (ha, cfg) = split_ha(&r.outcome.stdout);
    assert_eq!(ha["mode"].as_str(), Some("vrrp"));
    assert_eq!(ha_addresses(&ha), [ip("10.0.0.114")]);
    assert_eq!(
        (
            int(&ha, "garp_repeat"),
            int(&ha, "garp_delay"),
            int(&ha, "garp_refresh")
        ),
        (5, 5, 0),
        "keepalived's defaults"
    );
    assert_eq!(cfg.services.len(), 1);
    assert_eq!(cfg.services[0].vip, ip("10.0.0.114"));
    assert_eq!(
        cfg.ports[0].exception_path.as_deref(),
        Some("port0"),
        "the port VRRP runs on gets its TAP"
    );
    for want in [
        "global_defs{\nrouter_id 50 用来标示主从的区域\n} # 进行全局配置。\n",
        "vrrp_instance vrrp_name {\nstate MASTER 表示主server\ninterface port0 在eth0监控\n",
        "authentication{} # 主从互相验证配置\n# virtual_server{\n# 10.0.0.113 配置lvs的VIP(虚拟IP)\n# }\n",
        "    virtual_ipaddress {\n        10.0.0.114   # added by ferrovs import: virtual server VIP in no vrrp_instance\n    }\n} # 用来对lvs",
    ] {
        assert!(conf.contains(want), "no {want:?} in\n{conf}");
    }
    for gone in [
        "lb_algo",
        "real_server",
        "TCP_CHECK",
        "virtual_server 10.0.0.114",
    ] {
        assert!(!conf.contains(gone), "{gone} left in\n{conf}");
    }
    let err = &r.outcome.stderr;
    for want in [
        "seed.conf:6: note: interface eth0 -> ferrovs port port0, TAP port0 (the only port)",
        "seed.conf:6: note: port port0: exception_path turned on (TAP port0)",
        "seed.conf:4: note: vrrp_instance vrrp_name: 10.0.0.114 added",
        "seed.conf:10: warning: '主从互相验证配置' is not a keepalived keyword",
        "seed.conf:11: warning: virtual_server is not a vrrp_instance keyword",
    ] {
        assert!(err.contains(want), "no {want:?} in\n{err}");
    }
    assert_keepalived_accepts(conf, &["port0"]);
    // What the import fixed: keepalived refuses the seed's own VRRP sections.
    let vrrp_part: String = text.lines().take(14).map(|l| format!("{l}\n")).collect();
    if let Some((rc, out)) = config_test(&vrrp_part, &["eth0"]) {
        assert_ne!(rc, 0, "keepalived accepts the seed as printed:\n{out}");
    }
    // --strict refuses the seed's prose, as without --keepalived-out.
    let s = import::keepalived_ha_command("seed.conf", &text, None, true, &HaOptions::default());
    assert_eq!((s.outcome.code, s.keepalived_conf.is_none()), (1, true));
}

/// The master of a FullNAT pair: eth0 maps to `client` by its VIP's network and eth1 to
/// `server` by `--interface`; the IPv6 VIP no instance carries joins the instance on its side
/// (excluded: another family), the local addresses on `server` get an instance of their own in
/// a sync group with VI_1, copying its VRRP settings and tracking.
#[test]
fn fullnat_pair_moves_the_local_addresses_with_the_vip() {
    let text = data("keepalived_fullnat_pair.conf");
    let r = import::keepalived_ha_command(
        "k.conf",
        &text,
        Some(&pair_base()),
        false,
        &opts(&[("eth1", "server")]),
    );
    let conf = ok(&r);
    let (ha, cfg) = split_ha(&r.outcome.stdout);
    assert_eq!(
        ha_addresses(&ha),
        [
            ip("198.18.1.100"),
            ip("2001:2:0:1::100"),
            ip("198.18.2.100"),
            ip("2001:2:0:2::100")
        ]
    );
    assert_eq!(
        (
            int(&ha, "garp_repeat"),
            int(&ha, "garp_delay"),
            int(&ha, "garp_refresh")
        ),
        (3, 1, 60),
        "from global_defs"
    );
    let taps: Vec<Option<&str>> = cfg
        .ports
        .iter()
        .map(|p| p.exception_path.as_deref())
        .collect();
    assert_eq!(taps, [Some("client"), Some("server")]);
    assert_eq!(cfg.services.len(), 2);
    for want in [
        "! The master of a FullNAT director pair",
        "   # lvs_sync_daemon eth0 VI_1\n",
        "# keepalived --config-test passes in a user namespace: no script security to satisfy).\ntrack_file ferrovs_ready {\n    file \"/run/ferrovs/ready\"\n",
        "    interface client              # the client LAN\n",
        "    track_interface {\n        server weight -10\n    }\n",
        "        198.18.1.100/24 dev client\n    }\n    virtual_ipaddress_excluded {\n        2001:2:0:1::100   # added by ferrovs import: virtual server VIP in no vrrp_instance\n    }\n}\n",
        "vrrp_instance ferrovs_server {\n    interface server\n    virtual_router_id 51\n    state MASTER\n    priority 150\n    advert_int 1\n    authentication {",
        "    track_file {\n        ferrovs_ready\n    }\n    virtual_ipaddress {\n        198.18.2.100   # FullNAT local address, pool snat\n    }\n    virtual_ipaddress_excluded {\n        2001:2:0:2::100   # FullNAT local address, pool snat\n    }\n}\n",
        "vrrp_sync_group ferrovs_VI_1 {\n    group {\n        VI_1\n        ferrovs_server\n    }\n    sync_group_tracking_weight\n}\n",
    ] {
        assert!(conf.contains(want), "no {want:?} in\n{conf}");
    }
    // The added instance does not track its own interface (keepalived refuses that).
    let added = &conf[conf.find("vrrp_instance ferrovs_server").expect("added")..];
    assert!(!added.contains("server weight -10"), "{added}");
    assert!(!conf.contains("virtual_server"), "{conf}");
    let err = &r.outcome.stderr;
    for want in [
        "k.conf:8: note: global_defs lvs_sync_daemon: ferrovs owns the virtual servers; commented out",
        "k.conf:21: note: interface eth0 -> ferrovs port client, TAP client (its network holds the instance's addresses)",
        "k.conf:30: note: interface eth1 -> ferrovs port server, TAP server (--interface)",
        "k.conf:30: note: port server: exception_path turned on (TAP server)",
        "k.conf:19: note: vrrp_instance ferrovs_server added on port server (TAP server) for 198.18.2.100, 2001:2:0:2::100, in vrrp_sync_group ferrovs_VI_1 with VI_1",
    ] {
        assert!(err.contains(want), "no {want:?} in\n{err}");
    }
    assert_keepalived_accepts(conf, &["client", "server"]);

    // The backup box imports its own file (BACKUP, priority 100) to the same instances and
    // virtual router ids, so the two boxes pair up.
    let backup = text
        .replace("state MASTER", "state BACKUP")
        .replace("priority 150", "priority 100");
    let b = import::keepalived_ha_command(
        "b.conf",
        &backup,
        Some(&pair_base()),
        false,
        &opts(&[("eth1", "server")]),
    );
    let bconf = ok(&b);
    assert!(
        bconf.contains("vrrp_instance ferrovs_server {\n    interface server\n    virtual_router_id 51\n    state BACKUP\n    priority 100\n"),
        "{bconf}"
    );
    assert_eq!(
        ha_addresses(&split_ha(&b.outcome.stdout).0),
        ha_addresses(&ha)
    );

    // Without the mapping, eth1 (tracked only) maps to nothing: a warning with its line.
    let w = import::keepalived_ha_command(
        "k.conf",
        &text,
        Some(&pair_base()),
        false,
        &HaOptions::default(),
    );
    assert_eq!(w.outcome.code, 0);
    assert!(
        w.outcome.stderr.contains(
            "k.conf:30: warning: track_interface eth1: no ferrovs port maps to it; left as is"
        ),
        "{}",
        w.outcome.stderr
    );
}

/// `vrrp_script`, `vrrp_sync_group` and the comments above a block come through byte for byte;
/// `virtual_server_group` and `virtual_server` do not.
#[test]
fn vrrp_blocks_are_kept_verbatim() {
    let script = "# The check ferrovs answers (exit 0: ready to own).\n\
                  vrrp_script chk_ferrovs {\n    script \"/usr/local/bin/ferrovs-ready --quiet\"   ! no shell\n    interval 1\n    timeout 2\n    weight -60\n    fall 2\n}\n";
    let group = "vrrp_sync_group VG_1 {\n    group {\n        VI_1\n    }\n    notify_master \"/usr/local/bin/notify master\"\n}\n";
    let instance = "vrrp_instance VI_1 {\n    state BACKUP\n    interface client\n    virtual_router_id 7\n    priority 100\n    track_script {\n        chk_ferrovs weight -50\n    }\n    virtual_ipaddress {\n        198.18.1.100\n    }\n}\n";
    let lvs = "virtual_server_group WEB {\n    198.18.1.100 80\n}\nvirtual_server group WEB {\n    lb_algo rr\n    lb_kind DR\n    real_server 198.18.1.11 80 {\n    }\n}\n";
    let text = format!("{script}\n{group}\n{lvs}\n{instance}");
    let r = import::keepalived_ha_command(
        "k.conf",
        &text,
        Some(&pair_base()),
        false,
        &HaOptions::default(),
    );
    let conf = ok(&r);
    for block in [script, group, instance] {
        assert!(conf.contains(block), "no\n{block}in\n{conf}");
    }
    assert!(
        !conf.contains("virtual_server") && !conf.contains("real_server"),
        "{conf}"
    );
    let (ha, cfg) = split_ha(&r.outcome.stdout);
    assert_eq!(ha_addresses(&ha), [ip("198.18.1.100")]);
    assert_eq!(cfg.services[0].vip, ip("198.18.1.100"));
}

/// Without --keepalived-out the import is what it was: no `[ha]`, VRRP named in one warning
/// each, pointing at the option.
#[test]
fn without_keepalived_out_vrrp_is_only_a_warning() {
    let o = import::keepalived_command(
        "k.conf",
        &data("keepalived_fullnat_pair.conf"),
        Some(&pair_base()),
        false,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!o.stdout.contains("[ha]"), "{}", o.stdout);
    assert!(
        o.stderr.contains(
            "k.conf:19: warning: vrrp_instance VI_1: VRRP and addresses are for high availability \
             and are not imported; import with --keepalived-out FILE"
        ),
        "{}",
        o.stderr
    );
    let cfg = config::parse(&o.stdout, "out.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.ports[1].exception_path, None, "ports untouched");
}

/// The partner instance already in a `vrrp_sync_group`: the added instance joins that group.
#[test]
fn an_added_instance_joins_its_partners_sync_group() {
    let text = "vrrp_sync_group VG_1 {\n    group {\n        VI_1\n        VI_9\n    }\n}\n\
                vrrp_instance VI_1 {\n    state BACKUP\n    interface client\n    virtual_router_id 7\n    priority 100\n    virtual_ipaddress {\n        198.18.1.100\n    }\n}\n\
                vrrp_instance VI_9 {\n    state BACKUP\n    interface client\n    virtual_router_id 9\n    priority 100\n    virtual_ipaddress {\n        198.18.1.9\n    }\n}\n\
                virtual_server 198.18.1.100 80 {\n    lb_algo rr\n    lb_kind FNAT\n    laddr_group_name snat\n    real_server 198.18.2.11 80 {\n    }\n}\n";
    let r = import::keepalived_ha_command(
        "k.conf",
        text,
        Some(&pair_base()),
        false,
        &HaOptions::default(),
    );
    let conf = ok(&r);
    assert!(
        conf.contains("    group {\n        VI_1\n        VI_9\n        ferrovs_server\n    }\n"),
        "{conf}"
    );
    assert!(!conf.contains("vrrp_sync_group ferrovs_"), "{conf}");
    // VI_1's virtual router id is free on `server`.
    assert!(
        conf.contains(
            "vrrp_instance ferrovs_server {\n    interface server\n    virtual_router_id 7\n"
        ),
        "{conf}"
    );
    assert!(
        r.outcome
            .stderr
            .contains("k.conf:21: note: vrrp_instance VI_9: 198.18.1.9 is no service VIP"),
        "VI_9's address is not in the ferrovs configuration: {}",
        r.outcome.stderr
    );
    let (ha, _) = split_ha(&r.outcome.stdout);
    assert_eq!(
        ha_addresses(&ha),
        [
            ip("198.18.1.100"),
            ip("198.18.2.100"),
            ip("2001:2:0:2::100")
        ]
    );
    assert_keepalived_accepts(conf, &["client", "server"]);
}

/// Bad input: a clear error with the line, no output; or a warning where the rest is usable.
#[test]
fn bad_vrrp_input_is_refused_with_the_line() {
    let base = pair_base();
    let run = |text: &str, map: &[(&str, &str)]| {
        import::keepalived_ha_command("k.conf", text, Some(&base), false, &opts(map))
    };
    let refused = |r: &HaOutcome, want: &str| {
        assert_eq!(r.outcome.code, 1, "{}", r.outcome.stderr);
        assert!(r.outcome.stdout.is_empty() && r.keepalived_conf.is_none());
        assert!(
            r.outcome.stderr.contains(want),
            "no {want:?} in {}",
            r.outcome.stderr
        );
    };
    refused(
        &run(
            "global_defs {\n}\nvrrp_instance VI_1 {\n    virtual_router_id 1\n    virtual_ipaddress {\n        192.0.2.1\n    }\n}\n",
            &[],
        ),
        "k.conf:3: error: vrrp_instance VI_1 has no interface",
    );
    refused(
        &run(
            "vrrp_instance VI_1 {\n    interface eth7\n    virtual_router_id 1\n    virtual_ipaddress {\n        192.0.2.1\n    }\n}\n",
            &[],
        ),
        "k.conf:2: error: vrrp_instance VI_1: interface eth7: no ferrovs port maps to it (ports: client, server); name a port eth7, or pass --interface eth7=PORT",
    );
    refused(
        &run(
            "vrrp_instance VI_1 {\n    interface eth7\n}\n",
            &[("eth7", "nope")],
        ),
        "k.conf: error: --interface eth7=nope: no port nope; ports: client, server",
    );
    refused(
        &run("virtual_server 198.18.1.100 80 {\n}\n", &[]),
        "k.conf: error: no vrrp_instance",
    );
    refused(
        &run("vrrp_instance {\n}\n", &[]),
        "k.conf:1: error: vrrp_instance without a name",
    );
    // An explicit mapping resolves what no guess could.
    let r = run(
        "vrrp_instance VI_1 {\n    interface eth7\n    virtual_router_id 1\n    virtual_ipaddress {\n        192.0.2.1 dev eth9\n    }\n}\n",
        &[("eth7", "server")],
    );
    let conf = ok(&r);
    assert!(conf.contains("    interface server\n"), "{conf}");
    assert!(
        r.outcome
            .stderr
            .contains("k.conf:5: warning: dev eth9: no ferrovs port maps to it"),
        "{}",
        r.outcome.stderr
    );
    // Nothing of the ferrovs configuration follows VRRP: said once.
    assert!(
        r.outcome
            .stderr
            .contains("k.conf: warning: no address follows VRRP"),
        "{}",
        r.outcome.stderr
    );
    // Malformed files do not panic.
    for text in [
        "vrrp_instance",
        "vrrp_instance X {",
        "vrrp_instance X { interface }",
        "vrrp_instance X {\n interface client\n virtual_ipaddress {\n nonsense 1.2.3.4/99 dev\n",
        "vrrp_instance X {\n interface client\n}\n}\n}",
        "vrrp_sync_group G { group { X } }\nvrrp_instance X {\n interface client\n virtual_ipaddress { 198.18.1.100 }\n}\nvirtual_server 198.18.9.9 80 {\n lb_kind FNAT\n laddr_group_name snat\n}\n",
        "global_defs {\n vrrp_garp_master_delay x\n}\nvrrp_instance X {\n interface \"client\"\n garp_master_repeat 2\n}\nvrrp_instance Y {\n interface server\n garp_master_repeat 3\n}\n",
    ] {
        let _ = run(text, &[]);
    }
}

/// keepalived's own VRRP samples (Debian's keepalived package), imported with eth0..eth3 mapped
/// to ports lan0..lan3: every sample keepalived accepts as written is still accepted after the
/// import, with the TAPs lan0..lan3 in place of eth0..eth3.
#[test]
fn keepalived_samples_stay_valid_for_keepalived() {
    let dir = std::path::Path::new("/usr/share/doc/keepalived/samples");
    // The samples are documentation (images often leave /usr/share/doc out), so their absence
    // skips this corpus even where keepalived itself is required; the other tests need only
    // the keepalived binary.
    let Ok(entries) = std::fs::read_dir(dir) else {
        eprintln!(
            "{} not found (Debian's keepalived package ships it); skipped",
            dir.display()
        );
        return;
    };
    let base = config::parse(
        "[[port]]\nname = \"lan0\"\ndevice = \"net_null0\"\n\n[[port]]\nname = \"lan1\"\ndevice = \"net_null1\"\n\n[[port]]\nname = \"lan2\"\ndevice = \"net_null2\"\n\n[[port]]\nname = \"lan3\"\ndevice = \"net_null3\"\n",
        "base.toml",
    )
    .expect("base");
    let map = opts(&[
        ("eth0", "lan0"),
        ("eth1", "lan1"),
        ("eth2", "lan2"),
        ("eth3", "lan3"),
        ("eth0.1", "lan0"),
    ]);
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("keepalived.conf"))
        .collect();
    names.sort();
    let mut compared = 0;
    for name in names {
        let Ok(text) = std::fs::read_to_string(dir.join(&name)) else {
            continue;
        };
        if !text.contains("vrrp_instance") {
            continue;
        }
        let Some((rc, _)) = config_test(&text, &["eth0", "eth1", "eth2", "eth3", "eth0.1"]) else {
            return;
        };
        let r = import::keepalived_ha_command(&name, &text, Some(&base), false, &map);
        if rc != 0 {
            // keepalived refuses the sample as written: the import need only not panic.
            continue;
        }
        let conf = ok(&r);
        let code: Vec<&str> = conf
            .lines()
            .filter(|l| !l.trim_start().starts_with(['!', '#']))
            .collect();
        assert!(
            code.iter()
                .all(|l| !l.contains("interface eth") && !l.contains("dev eth")),
            "{name}:\n{conf}"
        );
        let (rc, out) = config_test(conf, &["lan0", "lan1", "lan2", "lan3"]).expect("ran above");
        assert_eq!(
            rc, 0,
            "{name}: keepalived refuses the import:\n{out}\n---\n{conf}"
        );
        compared += 1;
    }
    assert!(compared >= 4, "only {compared} samples compared");
}
