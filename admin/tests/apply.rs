//! Kernel semantics of the changes: messages, exit statuses, edits that reset, atomic batches,
//! and the seed guides' command sequences applied end to end.

mod common;

use admin::apply::{
    apply_all, E_DEST_EXISTS, E_NO_SCHEDULER, E_NO_SUCH_DEST, E_NO_SUCH_SERVICE, E_RANGE,
    E_SERVICE_EXISTS, E_SERVICE_NOT_DEFINED,
};
use common::{ok, run, MemState};
use config::{Forward, Scheduler};

fn args(s: &str) -> Vec<&str> {
    s.split_whitespace().collect()
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
fn kernel_errors_have_ipvs_strerror_text_and_exit_255() {
    let mut s = MemState::new(common::base());
    ok(&mut s, &args("-A -t 10.0.0.1:80"));
    ok(&mut s, &args("-a -t 10.0.0.1:80 -r 10.0.0.2"));
    refused(&mut s, "-A -t 10.0.0.1:80 -s rr", 255, E_SERVICE_EXISTS);
    // An existing service is reported before an unknown scheduler, as the kernel checks.
    refused(&mut s, "-A -t 10.0.0.1:80 -s nosuch", 255, E_SERVICE_EXISTS);
    refused(&mut s, "-A -t 10.0.0.1:81 -s nosuch", 255, E_NO_SCHEDULER);
    refused(&mut s, "-A -t 10.0.0.1:81 --pe sip", 255, E_NO_SCHEDULER);
    refused(&mut s, "-E -t 10.0.0.9:80 -s rr", 255, E_NO_SUCH_SERVICE);
    refused(&mut s, "-D -t 10.0.0.9:80", 255, E_NO_SUCH_SERVICE);
    refused(&mut s, "-D -u 10.0.0.1:80", 255, E_NO_SUCH_SERVICE);
    refused(&mut s, "-Z -t 10.0.0.9:80", 255, E_NO_SUCH_SERVICE);
    refused(
        &mut s,
        "-a -t 10.0.0.9:80 -r 10.0.0.2",
        255,
        E_SERVICE_NOT_DEFINED,
    );
    refused(
        &mut s,
        "-e -t 10.0.0.9:80 -r 10.0.0.2",
        255,
        E_SERVICE_NOT_DEFINED,
    );
    refused(
        &mut s,
        "-d -t 10.0.0.9:80 -r 10.0.0.2",
        255,
        E_SERVICE_NOT_DEFINED,
    );
    refused(&mut s, "-a -t 10.0.0.1:80 -r 10.0.0.2", 255, E_DEST_EXISTS);
    refused(&mut s, "-e -t 10.0.0.1:80 -r 10.0.0.3", 255, E_NO_SUCH_DEST);
    refused(&mut s, "-d -t 10.0.0.1:80 -r 10.0.0.3", 255, E_NO_SUCH_DEST);
    refused(
        &mut s,
        "-a -t 10.0.0.1:80 -r 10.0.0.4 -x 10 -y 20",
        255,
        E_RANGE,
    );
    refused(&mut s, "-a -t 10.0.0.1:80 -r 10.0.0.4 -y 1", 255, E_RANGE);
    // Listing one missing service exits 1, as ipvsadm's list_service.
    refused(&mut s, "-L -t 10.0.0.9:80", 1, E_NO_SUCH_SERVICE);
    // Validation by the configuration schema: ferrovs's own limits, with their reasons.
    refused(
        &mut s,
        "-a -t 10.0.0.1:80 -r 10.0.0.4 -x 10 -y 10",
        255,
        "service[0].real_server[1].l_threshold: 10 must be lower than u_threshold 10",
    );
    refused(
        &mut s,
        "-A -t 10.0.0.1:443 -p -M 255.0.255.0",
        255,
        "persistence netmask 255.0.255.0 is not contiguous: ferrovs supports prefix masks only",
    );
    refused(
        &mut s,
        "-A -t 127.0.0.1:80",
        255,
        "service[1].vip: 127.0.0.1: a loopback address cannot be a VIP",
    );
    refused(
        &mut s,
        "-A -t 10.0.0.1:81 --laddr-pool nosuch",
        255,
        "No such local address pool `nosuch' (pools are: lan-snat)",
    );
    assert_eq!(s.commits, 2);
}

/// DPVS's habit: a FullNAT real server (`-b`) on a service without a pool takes the only pool
/// there is; with several (or none) the refusal names them.
#[test]
fn fullnat_real_server_takes_the_only_pool_or_the_error_names_the_pools() {
    let mut s = MemState::new(common::base());
    ok(&mut s, &args("-A -t 10.0.0.1:80 -s rr"));
    ok(&mut s, &args("-a -t 10.0.0.1:80 -r 10.0.0.5:8080 -b"));
    let svc = &s.config.services[0];
    assert_eq!(svc.local_address_pool.as_deref(), Some("lan-snat"));
    assert_eq!(svc.real_servers[0].forward, config::Forward::FullNat);

    let mut cfg = common::base();
    let mut second = cfg.local_address_pools[0].clone();
    second.name = "lan-snat-2".into();
    second.addresses = vec!["10.255.0.2".parse().expect("ip")];
    cfg.local_address_pools.push(second);
    let mut s = MemState::new(cfg);
    ok(&mut s, &args("-A -t 10.0.0.1:80 -s rr"));
    refused(
        &mut s,
        "-a -t 10.0.0.1:80 -r 10.0.0.5 -b",
        255,
        "FullNAT needs a local address pool on the service: -E -t 10.0.0.1:80 --laddr-pool NAME \
         (pools are: lan-snat, lan-snat-2)",
    );
    let mut cfg = common::base();
    cfg.local_address_pools.clear();
    let mut s = MemState::new(cfg);
    ok(&mut s, &args("-A -t 10.0.0.1:80 -s rr"));
    refused(
        &mut s,
        "-a -t 10.0.0.1:80 -r 10.0.0.5 --fullnat",
        255,
        "FullNAT needs a local address pool on the service: -E -t 10.0.0.1:80 --laddr-pool NAME \
         (none is configured: add a [[local_address_pool]] to the configuration)",
    );
}

#[test]
fn edits_replace_every_attribute_like_the_kernel() {
    let mut s = MemState::new(common::base());
    ok(
        &mut s,
        &args("-A -t 10.0.0.1:80 -s sh -b sh-port -p 600 -M 255.255.255.0"),
    );
    ok(
        &mut s,
        &args("-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -m -w 5 -x 100 -y 10"),
    );
    let svc = &s.config.services[0];
    assert_eq!(
        (svc.scheduler, svc.persistence_s, svc.persistence_prefix_len),
        (Scheduler::Sh, Some(600), 24)
    );
    // -E without -p and -s: not persistent, wlc, no flags.
    ok(&mut s, &args("-E -t 10.0.0.1:80"));
    let svc = &s.config.services[0];
    assert_eq!(
        (svc.scheduler, svc.persistence_s, svc.persistence_prefix_len),
        (Scheduler::Wlc, None, 32)
    );
    assert!(svc.sched_flags.is_empty());
    // -e without -m means DR, whose port is forced to the virtual port: so it names :80.
    let r = run(&mut s, &args("-e -t 10.0.0.1:80 -r 10.0.0.2:8080"), "");
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (255, "No such destination\n"),
        "DR looks for port 80"
    );
    ok(&mut s, &args("-e -t 10.0.0.1:80 -r 10.0.0.2:8080 -m"));
    let rs = &s.config.services[0].real_servers[0];
    assert_eq!(
        (rs.forward, rs.weight, rs.u_threshold, rs.l_threshold),
        (Forward::Nat, 1, 0, 0)
    );
}

#[test]
fn set_timeouts_zero_keeps_the_value_and_noop_changes_commit_nothing() {
    let mut s = MemState::new(common::base());
    ok(&mut s, &args("--set 100 0 0"));
    assert_eq!(
        (
            s.config.timeouts.tcp_s,
            s.config.timeouts.tcpfin_s,
            s.config.timeouts.udp_s
        ),
        (100, 120, 300)
    );
    assert_eq!(s.commits, 1);
    ok(&mut s, &args("--set 0 0 0"));
    assert_eq!(s.commits, 1, "nothing changed, nothing committed");
}

#[test]
fn clear_zero_and_commit_refusal() {
    let mut s = MemState::new(common::base());
    ok(&mut s, &args("-A -t 10.0.0.1:80"));
    ok(&mut s, &args("-A -u 10.0.0.1:53"));
    ok(&mut s, &args("-Z"));
    ok(&mut s, &args("-Z -u 10.0.0.1:53"));
    assert_eq!(
        s.zeroed,
        [None, Some(("10.0.0.1".parse().expect("ip"), 53))]
    );
    s.refuse_commit = Some("snapshot build failed: out of memory".into());
    refused(&mut s, "-C", 255, "snapshot build failed: out of memory");
    s.refuse_commit = None;
    ok(&mut s, &args("-C"));
    assert!(s.config.services.is_empty());
}

#[test]
fn restore_is_atomic() {
    let mut s = MemState::new(common::base());
    ok(&mut s, &args("-A -t 10.0.0.9:80"));
    let good = "-C\n-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 1\n";
    let r = run(&mut s, &["-R"], good);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    assert_eq!(s.config.services.len(), 1);
    assert_eq!(s.config.services[0].real_servers.len(), 1);
    // A refused line in the middle: nothing of the batch is applied.
    let before = s.config.clone();
    let r = run(
        &mut s,
        &["-R"],
        "-C\n-A -t 10.0.0.5:80\n-a -t 10.0.0.6:80 -r 10.0.0.2\n",
    );
    assert_eq!((r.code, r.stderr.as_str()), (255, "Service not defined\n"));
    assert_eq!(s.config, before);
    // A grammar error anywhere: ipvsadm's message, exit 2, nothing applied.
    let r = run(&mut s, &["-R"], "-C\n-A -t 10.0.0.5:80 -w 3\n");
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            2,
            "Illegal 'weight' option with the 'add-service' command\n"
        )
    );
    assert_eq!(s.config, before);
    let r = run(&mut s, &["-R"], "-L -n\n");
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "line 1: only changes (-A -E -D -C -a -e -d --set) can be restored\n"
    );
    let r = run(&mut s, &["-R"], "-R\n");
    assert_eq!(r.code, 255);
    // apply_all is the same contract for the library user.
    assert!(apply_all(&before, &[]).is_ok());
}

#[test]
fn seed_000_sequence() {
    let mut s = MemState::new(common::base());
    ok(&mut s, &args("-A -t 10.10.10.140:80 -s rr"));
    // The guide's second -A of the same service is refused by the kernel as well.
    refused(
        &mut s,
        "-A -t 10.10.10.140:80 -s rr -p 20",
        255,
        E_SERVICE_EXISTS,
    );
    ok(&mut s, &args("-E -t 10.10.10.140:80 -s rr -p 20"));
    ok(
        &mut s,
        &args("-a -t 10.10.10.140:80 -r 10.10.10.131 -g -w 1"),
    );
    ok(
        &mut s,
        &args("-a -t 10.10.10.140:80 -r 10.10.10.132 -g -w 1"),
    );
    assert_eq!(s.config.services[0].persistence_s, Some(20));
    refused(
        &mut s,
        "-D -t 10.10.10.140:80 -s rr -p 20",
        2,
        "Illegal 'scheduler' option with the 'delete-service' command",
    );
    ok(&mut s, &args("-d -t 10.10.10.140:80 -r 10.10.10.131"));
    ok(&mut s, &args("-d -t 10.10.10.140:80 -r 10.10.10.132"));
    ok(&mut s, &args("-D -t 10.10.10.140:80"));
    assert!(s.config.services.is_empty());
}

#[test]
fn seed_002_sequence() {
    let mut s = MemState::new(common::base());
    for c in [
        "-A -t 172.16.1.134:80 -s rr",
        "-a -t 172.16.1.134:80 -m -r 172.16.1.135:80",
        "-a -t 172.16.1.134:80 -m -r 172.16.1.136:80",
        "-E -t 172.16.1.134:80 -s wrr",
        "-e -t 172.16.1.134:80 -m -r 172.16.1.135:80 -w 2",
        "-e -t 172.16.1.134:80 -m -r 172.16.1.136:80 -w 1",
    ] {
        ok(&mut s, &args(c));
    }
    let saved = run(&mut s, &["-S", "-n"], "").stdout;
    assert_eq!(
        saved,
        "-A -t 172.16.1.134:80 -s wrr\n-a -t 172.16.1.134:80 -r 172.16.1.135:80 -m -w 2\n-a -t 172.16.1.134:80 -r 172.16.1.136:80 -m -w 1\n"
    );
    // The DR script: start, then stop.
    for c in [
        "-A -t 172.16.1.111:80 -s rr",
        "-a -t 172.16.1.111:80 -r 172.16.1.135 -g",
        "-a -t 172.16.1.111:80 -r 172.16.1.136 -g",
    ] {
        ok(&mut s, &args(c));
    }
    ok(&mut s, &["-C"]);
    assert!(s.config.services.is_empty());
    // ipvsadm-save output restores.
    let r = run(&mut s, &["-R"], &saved);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(run(&mut s, &["-S", "-n"], "").stdout, saved);
}

#[test]
fn reload_and_version_and_help() {
    let mut s = MemState::new(common::base());
    let r = run(&mut s, &["--reload"], "");
    assert_eq!((r.code, r.stdout.as_str()), (0, "reloaded: generation 7\n"));
    s.reload_result = Err("ferrovs.toml:3:1: port[0].device: changed: restart required".into());
    let r = run(&mut s, &["--reload"], "");
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            1,
            "ferrovs.toml:3:1: port[0].device: changed: restart required\n"
        )
    );
    let r = run(&mut s, &["-v"], "");
    assert!(r.stdout.starts_with("ferrovsadm v"), "{}", r.stdout);
    let r = run(&mut s, &["-h"], "");
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("Usage:\n  ipvsadm -A|E virtual-service"));
    // --daemon lists nothing: no sync daemon runs.
    let r = run(&mut s, &["-L", "--daemon"], "");
    assert_eq!((r.code, r.stdout.as_str()), (0, ""));
}

#[test]
fn ready_answers_keepalived_with_the_exit_status() {
    let mut s = MemState::new(common::base());
    let r = run(&mut s, &["--ready"], "");
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (0, "ready: 2 ports up, 1 worker running, generation 1\n", "")
    );
    s.ready = Err("port lan0: link down".into());
    let r = run(&mut s, &["--ready"], "");
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (1, "", "not ready: port lan0: link down\n"),
        "one line, non-zero: keepalived's track_script counts a failure"
    );
}

#[test]
fn ha_listing_shows_each_followed_address() {
    let mut s = MemState::new(common::base());
    let r = run(&mut s, &["-L", "--ha"], "");
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "director HA state not available from this gateway\n")
    );
    s.ha = Some(admin::proto::HaListing {
        mode: "vrrp".into(),
        synced: true,
        problem: None,
        addresses: vec![admin::proto::HaAddress {
            address: "198.18.1.100".parse().expect("ip"),
            owned: false,
            since_s: 1_700_000_000,
            tap: None,
        }],
        now_s: 1_700_000_065,
    });
    let r = run(&mut s, &["-L", "--ha", "-n"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "Director HA: mode vrrp, 1 address followed\n\
         Address                                  State      For     Since (UTC)          TAP\n\
         198.18.1.100                             not-owned  1m05s   2023-11-14 22:13:20  -\n"
    );
}

/// `sloppy_tcp` has no ipvsadm flag: an edit keeps what the file says, and an edit that would
/// make the file's `sloppy_tcp = true` impossible (a non-consistent scheduler, a NAT server) is
/// refused by the validation, configuration unchanged.
#[test]
fn edits_keep_sloppy_tcp_and_refuse_what_contradicts_it() {
    let mut s = MemState::new(common::base());
    ok(&mut s, &args("-A -t 10.0.0.1:80 -s mh"));
    ok(&mut s, &args("-a -t 10.0.0.1:80 -r 10.0.0.2"));
    assert_eq!(s.config.services[0].sloppy_tcp, None);
    assert!(
        s.config.services[0].sloppy_tcp(),
        "on by default for mh and DR"
    );
    s.config.services[0].sloppy_tcp = Some(true);
    ok(&mut s, &args("-E -t 10.0.0.1:80 -s sh -b sh-port"));
    assert_eq!(s.config.services[0].sloppy_tcp, Some(true));
    refused(
        &mut s,
        "-E -t 10.0.0.1:80 -s rr",
        255,
        "service[0].sloppy_tcp: sloppy_tcp = true needs a consistent scheduler (sh, dh or mh), \
         not \"rr\": another gateway's choice for the flow cannot be known",
    );
    refused(
        &mut s,
        "-a -t 10.0.0.1:80 -r 10.0.0.3:8080 -m",
        255,
        "service[0].sloppy_tcp: sloppy_tcp = true needs dr or tun forwarding for every real \
         server and the sorry server (nat and fullnat replies must return through the gateway \
         that owns the flow)",
    );
    s.config.services[0].sloppy_tcp = Some(false);
    ok(&mut s, &args("-E -t 10.0.0.1:80 -s rr"));
    assert_eq!(s.config.services[0].sloppy_tcp, Some(false));
    assert!(!s.config.services[0].sloppy_tcp());
}

fn announce_listing() -> admin::proto::AnnounceListing {
    let vip = |v: &str, announced: bool, why: &str| admin::proto::AnnounceVip {
        vip: v.parse().expect("ip"),
        announced,
        worthy: announced,
        since_s: 1_700_000_000,
        device: Some("eth0".into()),
        transitions: 1,
        why: why.into(),
    };
    admin::proto::AnnounceListing {
        table: 100,
        drained: false,
        stopping_in_s: None,
        problem: None,
        foreign: Vec::new(),
        bird_up: true,
        bird_problem: None,
        sessions: 0,
        vips: vec![
            vip(
                "198.18.1.100",
                true,
                "2 of 2 real servers up with weight > 0",
            ),
            vip(
                "198.18.1.101",
                false,
                "none of 1 real servers up with weight > 0",
            ),
        ],
        now_s: 1_700_000_065,
    }
}

#[test]
fn announce_listing_has_a_status_line_and_a_row_per_vip() {
    let mut s = MemState::new(common::base());
    let r = run(&mut s, &["-L", "--announce"], "");
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            1,
            "nothing is announced: the configuration has no [announce] (docs/ecmp.md)\n"
        )
    );
    s.announce = Some(announce_listing());
    s.sessions_left.set(3);
    let r = run(&mut s, &["-L", "--announce"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "ECMP announce: table 100, active, 1 of 2 VIPs announced, 3 sessions\n\
         BIRD: up\n\
         VIP                                      State      For     Dev             Why\n\
         198.18.1.100                             announced  1m05s   eth0            2 of 2 real servers up with weight > 0\n\
         198.18.1.101                             withdrawn  1m05s   eth0            none of 1 real servers up with weight > 0\n"
    );
}

#[test]
fn drain_withdraws_waits_for_the_sessions_and_undrain_announces() {
    let mut s = MemState::new(common::base());
    let r = run(&mut s, &["--drain"], "");
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            255,
            "nothing is announced: the configuration has no [announce]\n"
        )
    );
    let mut l = announce_listing();
    l.bird_up = false;
    l.bird_problem = Some("no BIRD on /run/bird/bird.ctl: No such file or directory".into());
    s.announce = Some(l);
    s.sessions_left.set(2);
    // 2 sessions, then 1, then 0: the wait ends before its 30 s.
    let r = run(&mut s, &["--drain", "--wait", "30"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with(
            "ECMP announce: table 100, drained, 0 of 2 VIPs announced, 2 sessions\n\
             BIRD: down (no BIRD on /run/bird/bird.ctl: No such file or directory); forwarding \
             is not affected\n"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("198.18.1.100                             drained "),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.ends_with("drain: 0 sessions left after 2s\n"),
        "{}",
        r.stdout
    );
    let r = run(&mut s, &["--undrain"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("active, 1 of 2 VIPs announced"),
        "{}",
        r.stdout
    );
    assert_eq!(s.drains, [true, true, false]);
}
