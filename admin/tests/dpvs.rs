//! DPVS's local-address commands: `--add-laddr`, `--del-laddr`, `--get-laddr` (grammar as
//! DPVS's ipvsadm parses them, mapped onto local address pools, listed in DPVS's format), and
//! the DPVS tutorial's command sequence applied end to end.

mod common;

use std::net::{IpAddr, SocketAddr};

use admin::ipvsadm::{parse, Command, Parsed};
use admin::proto::{ConnEntry, Op, Proto, ServiceKey};
use common::{ok, run, MemState};
use config::{Forward, Toa};

fn args(s: &str) -> Vec<&str> {
    s.split_whitespace().collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn parsed(s: &str) -> Result<Command, (u8, String)> {
    let argv: Vec<String> = std::iter::once("ipvsadm")
        .chain(s.split_whitespace())
        .map(str::to_owned)
        .collect();
    match parse(&argv, false, &common::names()) {
        Ok(Parsed::Command(c)) => Ok(c),
        Ok(other) => panic!("{s}: {other:?}"),
        Err(e) => Err((e.exit_code, e.message)),
    }
}

fn refused(state: &mut MemState, cmd: &str, code: u8, msg: &str) {
    let before = state.config.clone();
    let r = run(state, &args(cmd), "");
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (code, format!("{msg}\n").as_str()),
        "{cmd}"
    );
    assert_eq!(state.config, before, "{cmd} changed the configuration");
}

#[test]
fn laddr_commands_parse_as_dpvs_ipvsadm_does() {
    let key = ServiceKey {
        protocol: Proto::Tcp,
        vip: ip("10.0.0.100"),
        port: 80,
    };
    let want = Op::AddLaddr {
        service: key,
        address: ip("10.255.0.9"),
        port: "wan0".into(),
    };
    // Long and short spellings, options in any order, attached values.
    for line in [
        "--add-laddr -z 10.255.0.9 -t 10.0.0.100:80 -F wan0",
        "-P -t 10.0.0.100:80 -F wan0 -z 10.255.0.9",
        "--add-laddr --laddr=10.255.0.9 --tcp-service 10.0.0.100:80 --ifname wan0",
        "-P -z10.255.0.9 -t10.0.0.100:80 -Fwan0",
    ] {
        assert_eq!(parsed(line), Ok(Command::Apply(want.clone())), "{line}");
    }
    assert_eq!(
        parsed("-Q -z 2001:db8::9 -u [2001:db8::1]:53 -F wan0"),
        Ok(Command::Apply(Op::DelLaddr {
            service: ServiceKey {
                protocol: Proto::Udp,
                vip: ip("2001:db8::1"),
                port: 53,
            },
            address: ip("2001:db8::9"),
            port: "wan0".into(),
        }))
    );
    assert_eq!(parsed("-G"), Ok(Command::Laddrs(None)));
    assert_eq!(
        parsed("--get-laddr -t 10.0.0.100:80"),
        Ok(Command::Laddrs(Some(key)))
    );
    // DPVS's legality table: -z, -F and the service are compulsory on add and delete; get
    // takes nothing but a service.
    let cases: &[(&str, u8, &str)] = &[
        (
            "--add-laddr -t 10.0.0.100:80 -F wan0",
            2,
            "You need to supply the 'local-address' option for the 'add-laddr' command",
        ),
        (
            "--add-laddr -z 10.255.0.9 -t 10.0.0.100:80",
            2,
            "You need to supply the 'ifname' option for the 'add-laddr' command",
        ),
        (
            "--del-laddr -z 10.255.0.9 -F wan0",
            2,
            "You need to supply the 'service-address' option for the 'del-laddr' command",
        ),
        (
            "-G -z 10.255.0.9",
            2,
            "Illegal 'local-address' option with the 'get-laddr' command",
        ),
        (
            "-G -n",
            2,
            "Illegal 'numeric' option with the 'get-laddr' command",
        ),
        (
            "-A -t 10.0.0.100:80 -F wan0",
            2,
            "Illegal 'ifname' option with the 'add-service' command",
        ),
        (
            "-P -z nosuchhost -t 10.0.0.100:80 -F wan0",
            2,
            "illegal local address",
        ),
        ("-P -z", 255, "-z: missing argument"),
        (
            "-P -z 10.255.0.9 -z 10.255.0.8 -t 10.0.0.100:80 -F wan0",
            2,
            "multiple 'local-address' options specified",
        ),
    ];
    for (line, code, msg) in cases {
        assert_eq!(parsed(line), Err((*code, (*msg).to_owned())), "{line}");
    }
}

/// The DPVS tutorial's two-arm FullNAT, in its order, with a local address added to a service
/// that has no pool yet: the service gets its own pool on the port, `-b` finds it.
#[test]
fn dpvs_tutorial_sequence_builds_a_fullnat_service_with_its_own_pool() {
    let mut cfg = common::base();
    cfg.local_address_pools.clear();
    let mut s = MemState::new(cfg);
    ok(&mut s, &args("-A -t 10.0.0.100:80 -s rr"));
    ok(
        &mut s,
        &args("--add-laddr -z 10.255.0.200 -t 10.0.0.100:80 -F wan0"),
    );
    ok(&mut s, &args("-a -t 10.0.0.100:80 -r 10.1.0.2 -b"));
    ok(&mut s, &args("-a -t 10.0.0.100:80 -r 10.1.0.3 -b"));
    ok(
        &mut s,
        &args("--add-laddr -z 10.255.0.201 -t 10.0.0.100:80 -F wan0"),
    );
    let svc = &s.config.services[0];
    assert_eq!(svc.local_address_pool.as_deref(), Some("tcp-10-0-0-100-80"));
    assert_eq!(svc.forward, Forward::FullNat);
    assert_eq!(svc.toa, Toa::Ack, "TCP FullNAT's default TOA");
    assert!(svc
        .real_servers
        .iter()
        .all(|r| r.forward == Forward::FullNat));
    let pool = &s.config.local_address_pools[0];
    assert_eq!(
        (
            pool.name.as_str(),
            pool.port.as_str(),
            pool.addresses.clone()
        ),
        (
            "tcp-10-0-0-100-80",
            "wan0",
            vec![ip("10.255.0.200"), ip("10.255.0.201")]
        )
    );
    // What the gateway would run: the written configuration parses back the same.
    let text = s.config.to_toml();
    assert_eq!(config::parse(&text, "t").expect("valid"), s.config);

    // DPVS's format, byte for byte (its tutorial's `ipvsadm -G`, with our CONFLICTS column).
    s.conns = vec![conn("10.0.0.100:80", Some("10.255.0.201:1032")); 2];
    s.conns
        .push(conn("10.0.0.100:80", Some("10.255.0.200:1033")));
    s.conns.push(conn("10.0.0.100:80", None));
    let r = run(&mut s, &args("-G"), "");
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    assert_eq!(
        r.stdout,
        "VIP:VPORT            TOTAL    SNAT_IP              CONFLICTS  CONNS     \n\
         10.0.0.100:80        2        \n                              \
         10.255.0.200         -          1         \n                              \
         10.255.0.201         -          2         \n"
    );

    // Delete one, then the last is refused while the real servers are FullNAT.
    ok(
        &mut s,
        &args("--del-laddr -z 10.255.0.200 -t 10.0.0.100:80 -F wan0"),
    );
    assert_eq!(
        s.config.local_address_pools[0].addresses,
        vec![ip("10.255.0.201")]
    );
    refused(
        &mut s,
        "--del-laddr -z 10.255.0.201 -t 10.0.0.100:80 -F wan0",
        255,
        "10.255.0.201 is the last local address of pool `tcp-10-0-0-100-80', which FullNAT \
         needs for TCP 10.0.0.100:80: add another first (--add-laddr), or delete the FullNAT \
         real servers",
    );
    // Without FullNAT real servers the last address goes, and the pool with it.
    ok(&mut s, &args("-e -t 10.0.0.100:80 -r 10.1.0.2 -m"));
    ok(&mut s, &args("-e -t 10.0.0.100:80 -r 10.1.0.3 -m"));
    ok(
        &mut s,
        &args("--del-laddr -z 10.255.0.201 -t 10.0.0.100:80 -F wan0"),
    );
    assert!(s.config.local_address_pools.is_empty());
    let svc = &s.config.services[0];
    assert_eq!(
        (svc.local_address_pool.as_deref(), svc.forward, svc.toa),
        (None, Forward::Dr, Toa::Off)
    );
}

fn conn(vip: &str, local: Option<&str>) -> ConnEntry {
    let sa = |s: &str| s.parse::<SocketAddr>().expect("socket address");
    ConnEntry {
        protocol: Proto::Tcp,
        client: sa("10.9.0.1:40000"),
        virtual_addr: sa(vip),
        destination: sa("10.1.0.2:80"),
        state: "ESTABLISHED".into(),
        expire_s: 900,
        local: local.map(sa),
    }
}

/// The refusals, each with DPVS's text where it has one, and nothing changed.
#[test]
fn laddr_refusals_name_the_problem_and_change_nothing() {
    let mut s = MemState::new(common::base());
    ok(&mut s, &args("-A -t 10.0.0.1:80 --laddr-pool lan-snat"));
    ok(&mut s, &args("-A -u 10.0.0.1:53"));
    refused(
        &mut s,
        "--add-laddr -z 10.255.0.9 -t 10.0.0.9:80 -F wan0",
        255,
        "Service not defined",
    );
    refused(
        &mut s,
        "--add-laddr -z 10.255.0.1 -t 10.0.0.1:80 -F wan0",
        255,
        "Local address already exists",
    );
    refused(
        &mut s,
        "--add-laddr -z 10.255.0.9 -t 10.0.0.1:80 -F dpdk0",
        255,
        "No such port `dpdk0' (-F names a ferrovs port; ports are: wan0)",
    );
    refused(
        &mut s,
        "--add-laddr -z 192.168.0.9 -t 10.0.0.1:80 -F wan0",
        255,
        "local address 192.168.0.9 is not on port wan0's networks (10.0.0.254/8, \
         2001:db8::fe/32)",
    );
    refused(
        &mut s,
        "--del-laddr -z 10.255.0.9 -t 10.0.0.1:80 -F wan0",
        255,
        "No such Local address",
    );
    refused(
        &mut s,
        "--del-laddr -z 10.255.0.9 -u 10.0.0.1:53 -F wan0",
        255,
        "No such Local address",
    );
    refused(&mut s, "-G -t 10.0.0.9:80", 1, "Service not defined");
    // A shared pool: the address serves every service that names it.
    ok(&mut s, &args("-A -t 10.0.0.2:80 --laddr-pool lan-snat"));
    ok(
        &mut s,
        &args("--add-laddr -z 10.255.0.2 -t 10.0.0.1:80 -F wan0"),
    );
    let r = run(&mut s, &args("-G -t 10.0.0.2:80"), "");
    assert_eq!(
        r.stdout,
        "VIP:VPORT            TOTAL    SNAT_IP              CONFLICTS  CONNS     \n\
         10.0.0.2:80          2        \n                              \
         10.255.0.1           -          0         \n                              \
         10.255.0.2           -          0         \n"
    );
    // Every service is listed (DPVS lists them all), those without a pool with 0 addresses;
    // an IPv6 service in brackets.
    ok(&mut s, &args("-A -t [2001:db8::1]:443"));
    let r = run(&mut s, &args("--get-laddr"), "");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["VIP:VPORT", "TOTAL", "SNAT_IP", "CONFLICTS", "CONNS"]
    );
    let heads: Vec<Vec<&str>> = lines
        .iter()
        .filter(|l| !l.starts_with(' ') && !l.starts_with("VIP"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        heads,
        [
            vec!["10.0.0.1:80", "2"],
            vec!["10.0.0.1:53", "0"],
            vec!["10.0.0.2:80", "2"],
            vec!["[2001:db8::1]:443", "0"],
        ]
    );
    // No services: nothing at all, as DPVS prints.
    let mut empty = MemState::new(common::base());
    let r = run(&mut empty, &args("-G"), "");
    assert_eq!((r.code, r.stdout.as_str()), (0, ""));
}

/// `-R` takes the local-address commands too, in one atomic batch.
#[test]
fn restore_carries_laddr_commands() {
    let mut cfg = common::base();
    cfg.local_address_pools.clear();
    let mut s = MemState::new(cfg);
    let input = "-A -t 10.0.0.100:80 -s rr\n\
                 --add-laddr -z 10.255.0.200 -t 10.0.0.100:80 -F wan0\n\
                 -a -t 10.0.0.100:80 -r 10.1.0.2 -b\n";
    let r = run(&mut s, &args("-R"), input);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    assert_eq!(s.commits, 1);
    assert_eq!(
        s.config.services[0].local_address_pool.as_deref(),
        Some("tcp-10-0-0-100-80")
    );
}
