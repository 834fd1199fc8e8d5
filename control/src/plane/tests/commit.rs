//! Commit and reload: a valid change is published and confirmed; a refused one changes nothing
//! (running configuration, ids, published generation).

use std::time::Duration;

use super::{arp_fields, with_rs2, Dataplane, Fixture, CONFIG, MAC0, MAC1};
use crate::plane::{CommitError, Limits, ReloadError};
use crate::topology::Ids;

fn backends(f: &Fixture) -> usize {
    f.shared.load().backends.iter().flatten().count()
}

#[test]
fn test_commit_valid_publishes_confirms_and_announces_new_vips() {
    let mut f = Fixture::new(Dataplane::Running(2), Limits::default());
    assert_eq!(f.ctl.generation(), 1);
    let mut new = config::parse(&with_rs2(), "t.toml").unwrap();
    let mut svc = new.services[0].clone();
    svc.vip = "198.18.0.11".parse().unwrap();
    new.services.push(svc);

    let g = f.ctl.commit(new.clone()).expect("commit");
    assert_eq!(g, 2);
    assert_eq!(f.ctl.generation(), 2);
    assert_eq!(f.shared.load().generation, 2);
    assert_eq!(f.ctl.config(), &new);
    assert_eq!(
        backends(&f),
        4,
        "2 + 2 real servers in the published snapshot"
    );
    // The new VIP is announced on both ports; the old one was announced at start, not now.
    let wire = f.wire();
    let garps: Vec<_> = wire
        .sent
        .iter()
        .filter_map(|(p, fr)| arp_fields(fr).map(|a| (*p, a)))
        .filter(|(_, a)| a.spa == a.tpa)
        .map(|(p, a)| (p, a.sha, a.spa))
        .collect();
    for (port, mac) in [(0, MAC0), (1, MAC1)] {
        assert!(garps.contains(&(port, mac, "198.18.0.11".parse().unwrap())));
        assert!(!garps.contains(&(port, mac, super::VIP)), "{garps:?}");
    }
}

#[test]
fn test_commit_boot_only_change_is_refused_and_nothing_changes() {
    let mut f = Fixture::new(Dataplane::Running(1), Limits::default());
    let before = f.ctl.config().clone();
    let new = config::parse(
        &with_rs2().replace("mbufs_per_port = 8191", "mbufs_per_port = 4095"),
        "t.toml",
    )
    .unwrap();
    let e = f.ctl.commit(new).unwrap_err();
    assert!(matches!(e, CommitError::BootOnly(_)), "{e:?}");
    assert!(
        e.to_string().contains("dpdk.mbufs_per_port: 8191 -> 4095"),
        "{e}"
    );
    assert_eq!(f.ctl.config(), &before);
    assert_eq!(f.ctl.generation(), 1);
    assert_eq!(f.shared.load().generation, 1);
    assert_eq!(backends(&f), 1);
}

#[test]
fn test_commit_refuses_id_exhaustion_and_bad_timeouts_with_nothing_changed() {
    // Room for the fixture's one real server and one more, not two more.
    let mut f = Fixture::with_ids(Dataplane::Running(1), Limits::default(), Ids::new(4, 2));
    let before = f.ctl.config().clone();
    let mut new = config::parse(&with_rs2(), "t.toml").unwrap();
    let mut rs3 = new.services[0].real_servers[1].clone();
    rs3.address = "198.19.0.13".parse().unwrap();
    new.services[0].real_servers.push(rs3);
    let e = f.ctl.commit(new).unwrap_err();
    let CommitError::Ids(ids) = &e else {
        panic!("{e:?}")
    };
    assert_eq!((ids.what, ids.wanted, ids.max), ("real servers", 3, 2));
    assert_eq!(f.ctl.config(), &before);
    assert_eq!(f.shared.load().generation, 1);

    let mut new = before.clone();
    new.timeouts.tcp_s = 40 * 86_400;
    let e = f.ctl.commit(new).unwrap_err();
    assert!(matches!(e, CommitError::Timeouts(_)), "{e:?}");
    assert_eq!(f.ctl.config(), &before);
    assert_eq!(f.ctl.generation(), 1);

    // What fits still goes in.
    let new = config::parse(&with_rs2(), "t.toml").unwrap();
    assert_eq!(f.ctl.commit(new).expect("fits"), 2);
}

#[test]
fn test_commit_refuses_a_flag_of_another_scheduler_with_nothing_changed() {
    // The file and the admin commands refuse this; a configuration put together in code must
    // be refused too, not published with its flags silently dropped.
    let mut f = Fixture::new(Dataplane::Running(1), Limits::default());
    let before = f.ctl.config().clone();
    let mut new = config::parse(&with_rs2(), "t.toml").unwrap();
    new.services[0].scheduler = config::Scheduler::Rr;
    new.services[0].sched_flags = vec![config::SchedFlag::ShPort];
    let e = f.ctl.commit(new).unwrap_err();
    assert!(matches!(e, CommitError::SchedFlags(_)), "{e:?}");
    assert!(
        e.to_string()
            .contains("incompatible scheduler flag `sh-port' for scheduler `rr'"),
        "{e}"
    );
    assert_eq!(f.ctl.config(), &before);
    assert_eq!(f.shared.load().generation, 1);

    let mut new = config::parse(&with_rs2(), "t.toml").unwrap();
    new.services[0].scheduler = config::Scheduler::Sh;
    new.services[0].sched_flags = vec![config::SchedFlag::ShPort];
    assert_eq!(f.ctl.commit(new).expect("sh-port with sh"), 2);
    let snap = f.shared.load();
    let svc = snap.services.iter().flatten().next().expect("a service");
    assert_eq!(svc.scheduler.kind(), config::Scheduler::Sh);
}

#[test]
fn test_commit_reports_workers_that_do_not_confirm() {
    let limits = Limits {
        confirm_within: Duration::from_millis(50),
        ..Limits::default()
    };
    let mut f = Fixture::new(Dataplane::Stuck(2), limits);
    let new = config::parse(&with_rs2(), "t.toml").unwrap();
    let e = f.ctl.commit(new).unwrap_err();
    match &e {
        CommitError::Unconfirmed {
            behind,
            generation,
            within,
        } => {
            assert_eq!(behind, &[0, 1]);
            assert_eq!(*generation, 2);
            assert_eq!(*within, Duration::from_millis(50));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        e.to_string()
            .contains("workers [0, 1] did not take generation 2 within 50ms"),
        "{e}"
    );
}

/// Moving `[[port]]` blocks in the file is no change (ports are matched by name), and the
/// commit keeps them where the gateway started them: the snapshot numbers ports by their place
/// in the running configuration, and DPDK's ports, queues and TAPs were made in that order.
#[test]
fn test_commit_with_ports_reordered_keeps_the_started_order() {
    let mut f = Fixture::new(Dataplane::Running(1), Limits::default());
    let mut new = config::parse(&with_rs2(), "t.toml").unwrap();
    new.ports.reverse();
    assert_eq!(f.ctl.commit(new).expect("commit"), 2);
    let names: Vec<&str> = f
        .ctl
        .config()
        .ports
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["wan0", "lan0"]);
    let snap = f.shared.load();
    assert_eq!(snap.ports[0].mac, MAC0);
    assert_eq!(
        snap.ports[0].addrs4,
        ["198.18.0.2".parse::<std::net::Ipv4Addr>().unwrap()]
    );
    assert_eq!(snap.ports[1].mac, MAC1);
    assert_eq!(
        snap.ports[1].addrs4,
        ["198.19.0.1".parse::<std::net::Ipv4Addr>().unwrap()]
    );
    assert_eq!(backends(&f), 2, "the new real server is published");
}

#[test]
fn test_reload_file_valid_invalid_boot_only() {
    let mut f = Fixture::new(Dataplane::Running(1), Limits::default());
    std::fs::write(&f.path, with_rs2()).unwrap();
    assert_eq!(f.ctl.reload_file().expect("valid"), 2);
    assert_eq!(f.ctl.config().services[0].real_servers.len(), 2);
    assert_eq!(backends(&f), 2);
    let s = f.reload_stats.status(2);
    assert_eq!((s.reloads_total, s.failures_total), (1, 0));
    assert!(s.last_successful);

    // A broken file: refused with file, line, key and reason; nothing changes.
    let running = f.ctl.config().clone();
    std::fs::write(&f.path, format!("bogus = 1\n{}", with_rs2())).unwrap();
    let e = f.ctl.reload_file().unwrap_err();
    let ReloadError::Invalid { path, errors } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(path, &f.path);
    let err = errors.iter().next().expect("one error");
    assert_eq!(err.key_path, "bogus");
    assert_eq!(err.line, 1);
    let text = e.to_string();
    assert!(
        text.starts_with(&f.path.display().to_string()) && text.contains("bogus: unknown key"),
        "{text}"
    );
    assert_eq!(f.ctl.config(), &running);
    assert_eq!(f.ctl.generation(), 2);

    // A boot-only change: refused, nothing changes.
    std::fs::write(
        &f.path,
        with_rs2().replace("mbufs_per_port = 8191", "mbufs_per_port = 4095"),
    )
    .unwrap();
    let e = f.ctl.reload_file().unwrap_err();
    assert!(
        matches!(e, ReloadError::Commit(CommitError::BootOnly(_))),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("dpdk.mbufs_per_port: 8191 -> 4095"),
        "{e}"
    );
    assert_eq!(f.ctl.config(), &running);
    assert_eq!(f.ctl.generation(), 2);
    assert_eq!(f.shared.load().generation, 2);
    let s = f.reload_stats.status(2);
    assert_eq!((s.reloads_total, s.failures_total), (3, 2));
    assert!(!s.last_successful);

    // And back to the original file: a valid reload again.
    std::fs::write(&f.path, CONFIG).unwrap();
    assert_eq!(f.ctl.reload_file().expect("valid"), 3);
    assert_eq!(backends(&f), 1);
}
